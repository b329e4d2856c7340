"""Autograd semantics (MXNet 1.x): grad_req, retain_graph, head gradients, scopes and
flags, autograd.grad (incl. higher order), mark_variables, detach, custom Functions."""
import numpy as np
import pytest
from hypothesis import given, settings
from hypothesis.extra import numpy as hnp

from hybridnet import autograd, nd
from hybridnet.base import AutogradError, HybridnetError, ShapeError
from hybridnet.test_utils import assert_almost_equal, check_numeric_gradient


def _var(values, grad_req="write"):
    x = nd.array(values)
    x.attach_grad(grad_req)
    return x


# ---- grad_req ------------------------------------------------------------------------------
def test_write_overwrites_and_add_accumulates():
    xw, xa = _var([1.0, 2.0, 3.0]), _var([1.0, 2.0, 3.0], "add")
    for _ in range(3):
        with autograd.record():
            yw, ya = (xw * xw).sum(), (xa * xa).sum()
        yw.backward()
        ya.backward()
    assert_almost_equal(xw.grad, [2, 4, 6])
    assert_almost_equal(xa.grad, [6, 12, 18])


def test_grad_req_null_and_attach_grad_zeroes():
    x = _var([1.0, 2.0], "null")
    assert x.grad is None and x.grad_req == "null"
    y = _var([1.0, 2.0])
    assert y.grad_req == "write"
    assert_almost_equal(y.grad, [0, 0])
    with autograd.record():
        z = (x * y).sum()
    z.backward()
    assert x.grad is None
    assert_almost_equal(y.grad, [1, 2])
    with pytest.raises(ValueError, match="grad_req must be 'write', 'add' or 'null'"):
        y.attach_grad("sometimes")


# ---- retain_graph --------------------------------------------------------------------------
def test_second_backward_needs_retain_graph():
    x = _var([1.0, 2.0])
    with autograd.record():
        y = (x * x * 3).sum()
    y.backward()
    with pytest.raises(AutogradError, match=r"already freed.*retain_graph=True"):
        y.backward()


def test_retain_graph_allows_a_second_backward():
    x = _var([1.0, 2.0], "add")
    with autograd.record():
        y = (x * x * 3).sum()
    y.backward(retain_graph=True)
    y.backward()
    assert_almost_equal(x.grad, 2 * 6 * np.array([1.0, 2.0]))


# ---- head gradients ------------------------------------------------------------------------
def test_head_gradient_scales_the_vjp():
    x = _var([1.0, 2.0, 3.0])
    with autograd.record():
        y = x * x
    y.backward(nd.array([1.0, 0.5, -2.0]))
    assert_almost_equal(x.grad, 2 * np.array([1, 2, 3]) * [1.0, 0.5, -2.0])


def test_default_head_gradient_is_ones_and_multiple_heads_add():
    x = _var([1.0, 2.0])
    with autograd.record():
        y1, y2 = x * 2, x * x
    autograd.backward([y1, y2], [None, nd.array([1.0, 10.0])])
    assert_almost_equal(x.grad, [2 + 2, 2 + 40])


def test_head_gradient_shape_mismatch():
    x = _var([1.0, 2.0])
    with autograd.record():
        y = x * 2
    with pytest.raises(ShapeError, match=r"head gradient shape \(3,\) != output shape \(2,\)"):
        y.backward(nd.ones(3))


# ---- scopes and flags ----------------------------------------------------------------------
def test_flags_in_nested_scopes():
    state = lambda: (autograd.is_recording(), autograd.is_training())  # noqa: E731
    assert state() == (False, False)
    with autograd.record():
        assert state() == (True, True)
        with autograd.pause():
            assert state() == (False, False)
            with autograd.train_mode():
                assert state() == (False, True)
            assert state() == (False, False)
        with autograd.predict_mode():
            assert state() == (True, False)
        with autograd.record(train_mode=False):     # nested record
            assert state() == (True, False)
        with autograd.pause(train_mode=True):
            assert state() == (False, True)
        assert state() == (True, True)
    with autograd.record(train_mode=False):
        assert state() == (True, False)
    with autograd.train_mode():
        assert state() == (False, True)
    assert state() == (False, False)


def test_scopes_restore_flags_after_an_exception():
    with pytest.raises(KeyError):
        with autograd.record():
            with autograd.predict_mode():
                raise KeyError("boom")
    assert not autograd.is_recording() and not autograd.is_training()


def test_set_recording_and_set_training_return_the_old_value():
    assert autograd.set_recording(True) is False
    assert autograd.set_training(True) is False
    assert autograd.is_recording() and autograd.is_training()
    assert autograd.set_recording(False) is True
    assert autograd.set_training(False) is True


def test_pause_stops_recording():
    x = _var([1.0, 2.0])
    with autograd.record():
        y = x * 3
        with autograd.pause():
            c = x * 100                       # a constant: no gradient through it
        z = (y + c).sum()
    z.backward()
    assert_almost_equal(x.grad, [3, 3])
    with pytest.raises(AutogradError, match="not computed under autograd.record"):
        c.backward()


def test_nested_record_records_once():
    x = _var([2.0])
    with autograd.record():
        a = x * x
        with autograd.record():
            b = a * x
    b.backward()
    assert_almost_equal(x.grad, [12.0])


def test_backward_on_unrecorded_array():
    for arr in (nd.ones(3), _var([1.0])):
        with pytest.raises(AutogradError, match=r"not computed under autograd\.record\(\).*"
                                                r"attach_grad\(\)") as e:
            arr.backward()
        assert isinstance(e.value, HybridnetError) and isinstance(e.value, RuntimeError)
    x = _var([1.0])
    y = x * 2                                 # attach_grad but computed outside record()
    with pytest.raises(AutogradError, match="not computed under autograd.record"):
        y.backward()


# ---- gradient values -----------------------------------------------------------------------
def test_leaf_used_twice_accumulates():
    x = _var([1.0, -2.0, 3.0])
    with autograd.record():
        y = (x * x + x * 3 + x).sum()
    y.backward()
    assert_almost_equal(x.grad, 2 * np.array([1.0, -2.0, 3.0]) + 4)


def test_shared_intermediate_accumulates():
    x = _var([1.0, 2.0])
    with autograd.record():
        h = x * x
        y = (h * 2 + h * h).sum()             # h feeds two consumers
    y.backward()
    xv = np.array([1.0, 2.0])
    assert_almost_equal(x.grad, 2 * 2 * xv + 4 * xv ** 3)


@settings(max_examples=25, deadline=None)
@given(shapes=hnp.mutually_broadcastable_shapes(num_shapes=2, min_dims=0, max_dims=3,
                                                max_side=3))
def test_gradient_through_broadcasting_reduces_to_input_shape(shapes):
    s0, s1 = shapes.input_shapes
    rng = np.random.default_rng(0)
    a_np, b_np = rng.uniform(-1, 1, s0), rng.uniform(-1, 1, s1)
    a, b = _var(a_np), _var(b_np)
    w = rng.uniform(0.5, 1.5, shapes.result_shape)
    with autograd.record():
        y = a * b + a
    y.backward(nd.array(w))
    assert a.grad.shape == s0 and b.grad.shape == s1
    bb = np.broadcast_to(b_np, shapes.result_shape)
    ab = np.broadcast_to(a_np, shapes.result_shape)
    assert_almost_equal(a.grad, _unbroadcast(w * (bb + 1), s0), rtol=1e-4, atol=1e-5)
    assert_almost_equal(b.grad, _unbroadcast(w * ab, s1), rtol=1e-4, atol=1e-5)


def _unbroadcast(g, shape):
    g = g.sum(axis=tuple(range(g.ndim - len(shape))))
    return g.sum(axis=tuple(i for i, s in enumerate(shape) if s == 1), keepdims=True)


def test_broadcasting_gradients_match_finite_differences():
    rng = np.random.default_rng(1)
    check_numeric_gradient(lambda a, b: a * b - b / (a * a + 1),
                           [rng.uniform(-1, 1, (2, 1, 3)), rng.uniform(-1, 1, (4, 1))])


# ---- autograd.grad -------------------------------------------------------------------------
def test_grad_returns_gradients_without_touching_dot_grad():
    x, y = _var([1.0, 2.0]), _var([3.0, 4.0])
    with autograd.record():
        z = (x * y).sum()
    gx, gy = autograd.grad(z, [x, y])
    assert_almost_equal(gx, [3, 4])
    assert_almost_equal(gy, [1, 2])
    assert_almost_equal(x.grad, [0, 0])


def test_grad_of_unused_variable_is_zero():
    x, y = _var([1.0, 2.0]), _var([3.0])
    with autograd.record():
        z = (x * 2).sum()
    assert_almost_equal(autograd.grad(z, [y])[0], [0])


def test_grad_needs_variables():
    x = nd.array([1.0])
    y = _var([1.0])
    with autograd.record():
        z = y * 2
    with pytest.raises(AutogradError, match="attach_grad"):
        autograd.grad(z, [x])


def test_second_derivative_with_create_graph():
    xv = np.array([-1.0, 0.5, 2.0])
    x = _var(xv)
    with autograd.record():
        y = x ** 3
        dy = autograd.grad(y, x, create_graph=True)      # 3x^2, itself differentiable
    assert_almost_equal(dy, 3 * xv ** 2, rtol=1e-5)
    dy.backward()
    assert_almost_equal(x.grad, 6 * xv, rtol=1e-5)


def test_second_derivative_through_ops_that_reuse_their_output():
    # exp's and divide's VJPs use the forward output; create_graph must track it.
    xv = np.array([0.0, 1.0, 2.0])
    x = _var(xv)
    with autograd.record():
        y = nd.exp(x) + 1 / (x + 1)
        dy = autograd.grad(y, x, create_graph=True)
    dy.backward()
    assert_almost_equal(x.grad, np.exp(xv) + 2 / (xv + 1) ** 3, rtol=1e-5)


# ---- mark_variables, detach, in-place -----------------------------------------------------
def test_mark_variables_writes_into_given_buffers():
    x, y = nd.array([1.0, 2.0]), nd.array([3.0])
    gx, gy = nd.zeros(2), nd.ones(1)
    autograd.mark_variables([x, y], [gx, gy], grad_reqs=["write", "add"])
    with autograd.record():
        z = (x * y).sum()
    z.backward()
    assert x.grad is gx and y.grad is gy
    assert_almost_equal(gx, [3, 3])
    assert_almost_equal(gy, [1 + 3])
    with pytest.raises(ShapeError, match=r"mark_variables.*\(3,\).*\(2,\)"):
        autograd.mark_variables(x, nd.zeros(3))


def test_detach_stops_gradient():
    x = _var([1.0, 2.0])
    with autograd.record():
        y = (x.detach() * x).sum()
    y.backward()
    assert_almost_equal(x.grad, [1, 2])        # only the non-detached factor


def test_inplace_on_recorded_array_is_an_error():
    x = _var([1.0, 2.0])
    with autograd.record():
        y = x * 2
        with pytest.raises(AutogradError, match=r"in-place.*recorded graph.*y = x \+ 1"):
            y += 1
        with pytest.raises(AutogradError, match="in-place"):
            x *= 2
        with pytest.raises(AutogradError, match=r"slice assignment.*recorded graph"):
            y[0] = 5
    assert_almost_equal(y, [2, 4])
    x += 1                                     # outside record(): an ordinary update
    assert_almost_equal(x, [2, 3])


# ---- custom Function -----------------------------------------------------------------------
class STESign(autograd.Function):
    """sign(x) forward; straight-through gradient, passed only where |x| <= 1."""

    def forward(self, x):
        self.save_for_backward(x)
        return nd.sign(x)

    def backward(self, dy):
        (x,) = self.saved_tensors
        return dy * (nd.abs(x) <= 1)


def test_straight_through_sign_function():
    xv = np.array([-2.0, -1.0, -0.5, 0.0, 0.5, 1.0, 3.0])
    w = np.arange(1.0, 8.0)
    x = _var(xv)
    with autograd.record():
        y = STESign()(x)
        z = (y * nd.array(w)).sum()
    z.backward()
    assert_almost_equal(y, np.sign(xv))
    assert_almost_equal(x.grad, [0, 2, 3, 4, 5, 6, 0])   # w where |x| <= 1, else 0


def test_function_composes_with_recorded_ops():
    xv = np.array([-3.0, -0.5, 0.25, 2.0])
    x = _var(xv)
    with autograd.record():
        y = STESign()(x * 2) * x              # d/dx = sign(2x) + x * 2 * [|2x| <= 1]
    y.backward()
    assert_almost_equal(x.grad, np.sign(2 * xv) + xv * 2 * (np.abs(2 * xv) <= 1))


class MulAdd(autograd.Function):
    """(a * b, a + b): two inputs, two outputs."""

    def forward(self, a, b):
        self.save_for_backward(a, b)
        return a * b, a + b

    def backward(self, g_prod, g_sum):
        a, b = self.saved_tensors
        return g_prod * b + g_sum, g_prod * a + g_sum


def test_multi_input_multi_output_function():
    av, bv = np.array([1.0, 2.0]), np.array([3.0, -4.0])
    a, b = _var(av), _var(bv)
    with autograd.record():
        p, s = MulAdd()(a, b)
        z = (p * 2 + s * 3).sum()
    z.backward()
    assert_almost_equal(p, av * bv)
    assert_almost_equal(s, av + bv)
    assert_almost_equal(a.grad, 2 * bv + 3)
    assert_almost_equal(b.grad, 2 * av + 3)
    with autograd.record():
        p, s = MulAdd()(a, b)
        z = p.sum()                           # one output unused: its gradient is zero
    z.backward()
    assert_almost_equal(a.grad, bv)
    assert_almost_equal(b.grad, av)


def test_function_outside_record_just_runs_forward():
    p, s = MulAdd()(nd.array([2.0]), nd.array([5.0]))
    assert_almost_equal(p, [10])
    assert_almost_equal(s, [7])


def test_function_backward_must_return_one_gradient_per_input():
    class Bad(autograd.Function):
        def forward(self, a, b):
            return a + b

        def backward(self, g):
            return g

    a, b = _var([1.0]), _var([2.0])
    with autograd.record():
        y = Bad()(a, b)
    with pytest.raises(AutogradError, match=r"Bad\.backward returned 1 gradients for 2 inputs"):
        y.backward()


def test_comparisons_are_not_recorded_and_masks_are_constants():
    xv = np.array([-1.0, 0.5, 2.0])
    x = _var(xv)
    with autograd.record():
        mask = x > 0
        y = (x * mask * 3 + (x >= 1)).sum()
    with pytest.raises(AutogradError, match="not computed under autograd.record"):
        mask.backward()
    y.backward()
    assert_almost_equal(x.grad, 3 * (xv > 0))


def test_vjp_skips_gradients_nobody_needs(monkeypatch):
    """FullyConnected's data gradient (a full GEMM) is not computed for a plain input."""
    from hybridnet.ops.registry import OPS
    x = nd.ones((4, 3))
    w = nd.ones((2, 3))
    w.attach_grad()
    # plain eager backward runs the GEMMs on NumPy directly: count np.dot
    with autograd.record():
        y = nd.FullyConnected(x, w, no_bias=True, num_hidden=2)
    np_calls = []
    np_dot = np.dot
    monkeypatch.setattr(np, "dot", lambda a, b, *r, **k: (np_calls.append((a.shape, b.shape)),
                                                          np_dot(a, b, *r, **k))[1])
    y.backward()
    monkeypatch.setattr(np, "dot", np_dot)
    assert np_calls == [((2, 4), (4, 3))]                         # only dW = g^T x
    np.testing.assert_allclose(w.grad.asnumpy(), np.full((2, 3), 4.0))
    # with create_graph the vjp runs as ops: count the dot op
    calls = []
    op = OPS["dot"]
    orig = op.forward
    monkeypatch.setattr(op, "forward", lambda *a, **k: (calls.append(k), orig(*a, **k))[1])
    with autograd.record():
        y = nd.FullyConnected(x, w, no_bias=True, num_hidden=2)
    (gw,) = autograd.grad(y, [w], create_graph=True)
    assert len(calls) == 1 and calls[0].get("transpose_a")      # only dW = g^T x
    np.testing.assert_allclose(gw.asnumpy(), np.full((2, 3), 4.0))
