"""The guarded plain predict call (CachedGraph.fast_call, tried first by
HybridBlock.__call__): everything the entry is specialised on is re-checked, and
whatever changed between calls (mode, shapes, dtypes, recording, parameters, hooks,
hybridize(active=False)) gives the same answer as eager execution."""
import numpy as np
import pytest

import hybridnet as mx
from hybridnet import autograd, gluon, nd
from hybridnet.gluon import nn
from hybridnet.jit.runtime import STATS


def _mlp(seed=0):
    mx.random.seed(seed)
    net = nn.HybridSequential()
    net.add(nn.Dense(7, activation="relu", in_units=5), nn.Dropout(0.5), nn.Dense(3, in_units=7))
    net.initialize(mx.init.Xavier())
    return net


def _pair():
    eager, hyb = _mlp(), _mlp()
    for p, q in zip(eager.collect_params().values(), hyb.collect_params().values()):
        q.set_data(p.data().asnumpy())
    hyb.hybridize()
    return eager, hyb


def _x(*shape, seed=1, dtype=np.float32):
    return nd.array(np.random.default_rng(seed).standard_normal(shape), dtype=dtype)


def _same(a, b):
    np.testing.assert_allclose(a.asnumpy(), b.asnumpy(), rtol=1e-5, atol=1e-6)


def test_warm_predict_calls_match_eager_and_trace_once():
    eager, hyb = _pair()
    x = _x(1, 5)
    for _ in range(4):
        _same(hyb(x), eager(x))
    assert hyb._cached.fast_call is not None and hyb._cached.trace_count == 1


def test_shape_and_dtype_changes_between_warm_calls():
    eager, hyb = _pair()
    for x in [_x(1, 5), _x(3, 5), _x(1, 5, seed=2), _x(3, 5, seed=3), _x(1, 5)]:
        _same(hyb(x), eager(x))
    assert hyb._cached.trace_count == 2
    x64 = _x(1, 5, dtype=np.float64)
    out = hyb(x64)
    assert out.dtype == eager(x64).dtype
    _same(out, eager(x64))
    _same(hyb(_x(1, 5)), eager(_x(1, 5)))


def test_train_mode_and_recording_after_warm_predict_calls():
    eager, hyb = _pair()
    x = _x(2, 5)
    hyb(x), hyb(x)
    with autograd.train_mode():          # Dropout active: same seed, same mask as eager
        mx.random.seed(5)
        a = hyb(x)
        mx.random.seed(5)
        b = eager(x)
    _same(a, b)
    x.attach_grad()
    mx.random.seed(9)
    with autograd.record():              # train mode: Dropout draws its mask again
        y = hyb(x)
    y.backward()
    g = x.grad.asnumpy().copy()
    mx.random.seed(9)
    with autograd.record():
        y = eager(x)
    y.backward()
    np.testing.assert_allclose(g, x.grad.asnumpy(), rtol=1e-5, atol=1e-6)
    _same(hyb(x), eager(x))              # predict again after training-mode calls


def test_parameter_changes_are_seen_by_warm_calls(tmp_path):
    eager, hyb = _pair()
    x = _x(1, 5)
    hyb(x), hyb(x)
    for p, q in zip(eager.collect_params().values(), hyb.collect_params().values()):
        v = np.random.default_rng(7).standard_normal(p.shape).astype(np.float32)
        p.set_data(v)
        q.set_data(v)
    _same(hyb(x), eager(x))
    eager.initialize(mx.init.Uniform(), force_reinit=True)
    eager.save_parameters(str(tmp_path / "w.params"))
    hyb.load_parameters(str(tmp_path / "w.params"))
    _same(hyb(x), eager(x))
    hyb.initialize(mx.init.Zero(), force_reinit=True)
    assert np.all(hyb(x).asnumpy() == 0)


def test_hooks_and_deactivation_after_warm_calls():
    eager, hyb = _pair()
    x = _x(1, 5)
    hyb(x), hyb(x)
    seen = []
    h = hyb.register_forward_hook(lambda b, a, o: seen.append(o.shape))
    _same(hyb(x), eager(x))
    assert seen == [(1, 3)]
    h.detach()
    hyb.hybridize(active=False)
    calls = STATS["trace_count"]
    _same(hyb(x), eager(x))
    assert STATS["trace_count"] == calls


def test_outputs_held_by_the_caller_are_not_overwritten():
    _, hyb = _pair()
    xs = [_x(1, 5, seed=s) for s in range(5)]
    held = [hyb(x) for x in xs]
    want = [hyb(x).asnumpy() for x in xs]
    for h, w in zip(held, want):
        np.testing.assert_array_equal(h.asnumpy(), w)


def test_non_ndarray_and_keyword_arguments_take_the_general_path():
    class Scale(gluon.HybridBlock):
        def forward(self, x, k=2.0):
            return nd.relu(x) * k
    net = Scale()
    net.hybridize()
    x = _x(4)
    net(x), net(x)
    _same(net(x, 3.0), nd.relu(x) * 3.0)
    _same(net(x, k=4.0), nd.relu(x) * 4.0)
    _same(net(x), nd.relu(x) * 2.0)
    with pytest.raises(TypeError):       # three arguments: not the entry's; forward's error
        net(x, x, x)


@pytest.mark.parametrize("shape", [(10,), (128, 256), (0,), ()])
def test_one_op_block_eager_vs_hybridized(shape):
    class Relu(gluon.HybridBlock):
        def forward(self, x):
            return nd.relu(x)
    net = Relu()
    net.hybridize()
    x = _x(*shape)
    for _ in range(3):
        np.testing.assert_array_equal(net(x).asnumpy(), np.maximum(x.asnumpy(), 0))
    x.attach_grad()
    with autograd.record():
        y = net(x)
    y.backward()
    np.testing.assert_array_equal(x.grad.asnumpy(), (x.asnumpy() > 0).astype(np.float32))


def test_a_training_call_drops_the_guarded_call_and_a_predict_call_restores_it():
    # The guard runs first on every call while it is set: after a training step it is
    # dropped (not re-checked on every step), and the next predict call sets it again.
    eager, hyb = _pair()
    x = _x(4, 5)
    hyb(x)
    hyb(x)
    cg = hyb._cached
    assert cg.fast_call is not None
    with autograd.record(train_mode=False):      # recorded (no Dropout: comparable)
        out = hyb(x)
    assert cg.fast_call is None
    with autograd.record(train_mode=False):
        ref = eager(x)
    _same(out, ref)
    _same(hyb(x), eager(x))
    assert cg.fast_call is not None
