"""A hybridized backward writes weight gradients straight into the parameters' .grad
buffers (no copy); these cases must still give exactly the eager gradients."""
import numpy as np

import hybridnet as mx
from hybridnet import autograd, nd
from hybridnet.gluon import nn


def _net(hybridize):
    mx.random.seed(3)
    net = nn.HybridSequential()
    net.add(nn.Dense(5, activation="tanh", in_units=4), nn.Dense(3, in_units=5))
    net.initialize(mx.init.Xavier())
    if hybridize:
        net.hybridize()
    return net


X1 = nd.array(np.linspace(-1, 1, 8).reshape(2, 4))
X2 = nd.array(np.linspace(2, -1, 12).reshape(3, 4))


def _grads(net):
    return {k: p.grad().asnumpy().copy() for k, p in net.collect_params().items()}


def _check(loss_fn):
    out = {}
    for hyb in (False, True):
        net = _net(hyb)
        for _ in range(2):                  # the second run reuses the compiled graphs
            with autograd.record():
                loss = loss_fn(net)
            loss.backward()
        out[hyb] = _grads(net)
    for k in out[False]:
        np.testing.assert_allclose(out[True][k], out[False][k], rtol=1e-5, atol=1e-6)
    return out[True]


def test_one_call_gradients_match_eager_and_land_in_the_same_buffer():
    net = _net(True)
    w = net[0].weight
    buf = w.grad()
    with autograd.record():
        loss = net(X1).sum()
    loss.backward()
    assert w.grad() is buf                  # written in place, as MXNet does
    _check(lambda n: n(X1).sum())


def test_two_calls_of_one_block_sum_their_gradients():
    # both compiled backwards want to write weight grads into the same buffer
    _check(lambda n: n(X1).sum() + (n(X2) * 2).sum())


def test_parameter_also_used_eagerly_outside_the_block():
    _check(lambda n: n(X1).sum() + (n[0].weight.data() ** 2).sum())


def test_autograd_grad_does_not_touch_grad_buffers():
    net = _net(True)
    x = X1.copy()
    x.attach_grad()
    with autograd.record():
        net(x)                              # compile once
    w = net[0].weight
    w.grad()[:] = 7.0
    with autograd.record():
        loss = net(x).sum()
    (gx,) = [autograd.grad(loss, [x])[0]]
    assert gx.shape == x.shape
    assert np.all(w.grad().asnumpy() == 7.0)


def test_grad_req_add_accumulates():
    outs = {}
    for hyb in (False, True):
        net = _net(hyb)
        net.collect_params().setattr("grad_req", "add")
        for _ in range(3):
            with autograd.record():
                loss = net(X1).sum()
            loss.backward()
        outs[hyb] = _grads(net)
    for k in outs[False]:
        np.testing.assert_allclose(outs[True][k], outs[False][k], rtol=1e-5, atol=1e-6)


def test_a_graph_reading_the_grad_buffer_is_not_written_under_it():
    # The loss reads W's .grad buffer G as data: d/dW [sum(W*G) + sum(x W^T + b)] is
    # G + (column sums of x) per row, so a backward writing W's gradient into G
    # before the other branch's VJP has read G gives a wrong answer.
    x_np = np.linspace(-1, 1, 2 * 64).reshape(2, 64)
    want = 0.5 + np.tile(x_np.sum(0), (128, 1))
    for hyb in (False, True):
        net = nn.HybridSequential()
        net.add(nn.Dense(128, in_units=64))        # 32 KB weight: large enough to write
        net.initialize(mx.init.Xavier())
        if hyb:
            net.hybridize()
            with autograd.record():
                net(nd.array(x_np))                 # compile first
        w = net[0].weight
        w.grad()[:] = 0.5
        with autograd.record():
            # (the block's tape node comes last, so its backward runs first)
            loss = (w.data() * w.grad()).sum() + net(nd.array(x_np)).sum()
        loss.backward()
        np.testing.assert_allclose(w.grad().asnumpy(), want, rtol=1e-5, atol=1e-5)


def test_large_weight_gradient_is_written_by_the_compiled_backward():
    import hybridnet.jit.cached as cached
    seen = []
    orig = cached._Train.backward

    def spy(self, feeds, dests):
        out = orig(self, feeds, dests)
        seen.append(any(d is not None and any(o is d for o in out) for d in (dests or [])))
        return out
    net = nn.HybridSequential()
    net.add(nn.Dense(128, in_units=64))
    net.initialize()
    net.hybridize()
    x = nd.ones((2, 64))
    cached._Train.backward = spy
    try:
        for _ in range(2):
            with autograd.record():
                loss = net(x).sum()
            loss.backward()
    finally:
        cached._Train.backward = orig
    assert seen and all(seen)
