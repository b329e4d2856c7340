"""Plain eager backward writes variables' gradients straight into their own .grad
buffers (autograd._grad_dests): only where that is safe, never twice, sums kept."""
import numpy as np
import pytest

from hybridnet import autograd, nd


def _fc_case(seed=0):
    r = np.random.default_rng(seed)
    x = nd.array(r.standard_normal((5, 4)))
    w = nd.array(r.standard_normal((3, 4)))
    b = nd.array(r.standard_normal(3))
    hg = r.standard_normal((5, 3)).astype(np.float32)
    return x, w, b, hg


@pytest.fixture
def small_dests(monkeypatch):
    """Let gradients of any size be written into .grad buffers; record what was."""
    from hybridnet import autograd as ag
    monkeypatch.setattr(ag, "_DEST_MIN_BYTES", 0)
    written = []
    orig = ag._grad_dests

    def spy(*a):
        d = orig(*a)
        written.extend(x for x in (d or ()) if x is not None)
        return d
    monkeypatch.setattr(ag, "_grad_dests", spy)
    return written


def test_fc_weight_gradient_lands_in_the_grad_buffer(small_dests):
    x, w, b, hg = _fc_case()
    w.attach_grad()
    b.attach_grad()
    bufs = (w.grad._data, b.grad._data)
    for _ in range(2):
        del small_dests[:]
        with autograd.record():
            y = nd.FullyConnected(x, w, b, num_hidden=3)
        y.backward(nd.array(hg))
        assert w.grad._data is bufs[0] and b.grad._data is bufs[1]
        assert len(small_dests) == 2 and small_dests[0] is bufs[0] and small_dests[1] is bufs[1]
        np.testing.assert_allclose(w.grad.asnumpy(), hg.T @ x.asnumpy(), rtol=1e-5)
        np.testing.assert_allclose(b.grad.asnumpy(), hg.sum(0), rtol=1e-5)


def _backward_vs_grad(make, variables, head):
    """``backward()`` (which may write into .grad buffers) against ``autograd.grad``."""
    with autograd.record():
        out = make()
    want = [g.asnumpy() for g in autograd.grad(out, variables, head)]
    with autograd.record():
        out = make()
    out.backward(head)
    for v, g in zip(variables, want):
        np.testing.assert_allclose(v.grad.asnumpy(), g, rtol=1e-5, atol=1e-6)


def test_grad_buffers_with_a_shared_weight_and_graphs_that_read_the_buffer(small_dests):
    x, w, b, hg = _fc_case(1)
    w.attach_grad()
    b.attach_grad()

    def shared():                     # one weight, two layers: contributions are summed
        h = nd.FullyConnected(x, w, b, num_hidden=3)
        return nd.FullyConnected(nd.tanh(h) @ nd.ones((3, 4)), w, b, num_hidden=3) * h
    _backward_vs_grad(shared, [w, b], nd.array(hg))
    # the graph reads the gradient buffer itself (an input, a view, the head gradient):
    # it must not be overwritten before those reads
    u = nd.array(np.random.default_rng(3).standard_normal((3, 4)))
    u.attach_grad()

    def reads():                      # u's gradient reads w.grad (w's layer runs first)
        w.grad[:] = 0.5
        b.grad[:] = 0.25
        v = u * w.grad + b.grad.reshape((3, 1))[:, :1]
        return nd.FullyConnected(v, w, b, num_hidden=3)
    _backward_vs_grad(reads, [w, b, u], nd.array(hg[:3]))
    x2 = nd.array(np.ones((3, 4), np.float32))
    x2.attach_grad()
    x2.grad[:] = 2.0
    with autograd.record():
        y = nd.FullyConnected(x2.grad * 1, x2, no_bias=True, num_hidden=3)
    y.backward(x2.grad[:, :3])
    np.testing.assert_allclose(x2.grad.asnumpy(), np.full((3, 4), 12.0))


def test_large_gradients_only_are_written_in_place():
    from hybridnet import autograd as ag
    x = nd.array(np.ones((4, 128), np.float32))
    big, small = nd.array(np.ones((64, 128), np.float32)), nd.array(np.ones((2, 128),
                                                                            np.float32))
    for w in (big, small):
        w.attach_grad()
    with autograd.record():
        y = nd.FullyConnected(x, big, no_bias=True, num_hidden=64).sum() + \
            nd.FullyConnected(x, small, no_bias=True, num_hidden=2).sum()
    seen = []
    orig = ag._grad_dests
    ag._grad_dests = lambda *a: (lambda d: (seen.append(d), d)[1])(orig(*a))
    try:
        y.backward()
    finally:
        ag._grad_dests = orig
    assert big.grad._data.nbytes >= ag._DEST_MIN_BYTES > small.grad._data.nbytes
    dests = [x for d in seen if d for x in d if x is not None]
    assert len(dests) == 1 and dests[0] is big.grad._data
    np.testing.assert_allclose(big.grad.asnumpy(), np.full((64, 128), 4.0))
    np.testing.assert_allclose(small.grad.asnumpy(), np.full((2, 128), 4.0))


def test_grad_buffers_add_req_accumulates():
    x, w, b, hg = _fc_case(2)
    w.attach_grad("add")
    for _ in range(2):
        with autograd.record():
            y = nd.FullyConnected(x, w, no_bias=True, num_hidden=3)
        y.backward(nd.array(hg))
    np.testing.assert_allclose(w.grad.asnumpy(), 2 * hg.T @ x.asnumpy(), rtol=1e-5)
