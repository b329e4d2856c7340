"""The eager fused softmax cross-entropy's Numba kernels against the NumPy rule
(the composite's arithmetic): values, edge rows (NaN, inf), label clipping,
dtypes, and the NumPy fallback for layouts the kernels do not take."""
import numpy as np
import pytest

from hybridnet.ops import nn_loss
from hybridnet.ops.nn_loss_kernels import ce_backward, ce_forward


def _reference(x, label):
    n, c = x.shape
    z = x - x.max(axis=1, keepdims=True)
    e = np.exp(z)
    s = e.sum(axis=1, keepdims=True)
    idx = np.clip(np.nan_to_num(label, nan=-1).astype(np.int64), 0, c - 1)
    loss = np.log(s).reshape(n) - z[np.arange(n), idx]
    return loss.astype(x.dtype), (e / s).astype(x.dtype), idx


@pytest.mark.parametrize("dtype", [np.float32, np.float64])
@pytest.mark.parametrize("c", [1, 3, 10, 17])
def test_forward_and_backward_match_numpy(dtype, c):
    rng = np.random.default_rng(c)
    x = (rng.standard_normal((7, c)) * 5).astype(dtype)
    label = np.array([0, c - 1, 2.7, -3, 1e9, np.nan, c + 4], dtype=np.float32)
    loss, prob = np.empty(7, dtype), np.empty((7, c), dtype)
    ce_forward(x, label, loss, prob)
    ref_loss, ref_prob, idx = _reference(x, label)
    tol = 8 * np.finfo(dtype).eps
    np.testing.assert_allclose(loss, ref_loss, rtol=tol, atol=tol)
    np.testing.assert_allclose(prob, ref_prob, rtol=tol, atol=tol)
    g = rng.standard_normal(7).astype(dtype)
    d = np.empty((7, c), dtype)
    ce_backward(g, prob, label, d)
    ref_d = prob * g[:, None]
    ref_d[np.arange(7), idx] -= g
    np.testing.assert_allclose(d, ref_d, rtol=tol, atol=tol)


def test_integer_labels_and_nonfinite_rows():
    x = np.array([[1.0, np.nan, 0.0], [np.inf, 1.0, 0.0], [-np.inf, 0.0, 1.0],
                  [0.0, 0.0, 0.0]], np.float32)
    label = np.array([0, 1, 0, 2], np.int64)
    loss, prob = np.empty(4, np.float32), np.empty((4, 3), np.float32)
    ce_forward(x, label, loss, prob)
    with np.errstate(invalid="ignore"):
        ref_loss, ref_prob, _ = _reference(x, label)
    np.testing.assert_array_equal(np.isnan(loss), np.isnan(ref_loss))
    np.testing.assert_allclose(loss, ref_loss, rtol=1e-6)        # NaN == NaN here
    np.testing.assert_allclose(prob, ref_prob, rtol=1e-6)
    assert np.isnan(loss[:2]).all() and loss[2] == np.float32(np.inf)


def test_op_uses_numpy_for_other_layouts_and_dtypes():
    rng = np.random.default_rng(0)
    base = rng.standard_normal((5, 8)).astype(np.float32)
    label = np.array([0, 1, 2, 3, 3.0])
    strided = base[:, ::2]                       # not C-contiguous: the NumPy rule
    half = base[:, :4].astype(np.float16)        # float16: the NumPy rule
    for x in (strided, half, np.ascontiguousarray(strided)):
        loss, prob = nn_loss._softmax_ce_loss(x, label)
        ref_loss, ref_prob, _ = _reference(x, label)
        assert loss.dtype == x.dtype and prob.dtype == x.dtype
        tol = 1e-3 if x.dtype == np.float16 else 1e-6
        np.testing.assert_allclose(loss, ref_loss, rtol=tol)
        np.testing.assert_allclose(prob, ref_prob, rtol=tol)


def test_op_switches_to_the_kernels_after_warm_calls(monkeypatch):
    rng = np.random.default_rng(2)
    x = rng.standard_normal((6, 4)).astype(np.float32)
    label = np.array([0, 1, 2, 3, 3, 0], np.float32)
    monkeypatch.setattr(nn_loss, "WARM_CALLS", 3)
    monkeypatch.setattr(nn_loss, "_CALLS", [0])
    used = []
    real = nn_loss._kernels()
    monkeypatch.setattr(nn_loss, "_kernels", lambda: (used.append(1), real)[1])
    ref_loss, ref_prob, _ = _reference(x, label)
    for call in range(5):
        loss, prob = nn_loss._softmax_ce_loss(x, label)
        assert len(used) == max(0, call - 2)        # NumPy for the first 3 calls
        if call < 3:                                # the NumPy rule: the composite exactly
            np.testing.assert_array_equal(loss, ref_loss)
        np.testing.assert_allclose(loss, ref_loss, rtol=4e-7)
        np.testing.assert_allclose(prob, ref_prob, rtol=4e-7)
