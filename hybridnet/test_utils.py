"""Helpers for testing ops and layers against references (used by the project's tests)."""
import numpy as np

from .ndarray.ndarray import NDArray

__all__ = ["assert_almost_equal", "check_numeric_gradient", "numeric_grad", "default_context",
           "same"]


def _np(x):
    return x.asnumpy() if isinstance(x, NDArray) else np.asarray(x)


def default_context():
    from .context import cpu
    return cpu()


def same(a, b):
    return np.array_equal(_np(a), _np(b))


def assert_almost_equal(a, b, rtol=1e-5, atol=1e-6, names=("a", "b"), equal_nan=False):
    """Assert ``a`` and ``b`` (NDArrays or NumPy) are close; the message shows the worst element."""
    a, b = _np(a), _np(b)
    if a.shape != b.shape:
        raise AssertionError(f"shape mismatch: {names[0]} {a.shape} vs {names[1]} {b.shape}")
    if np.allclose(a, b, rtol=rtol, atol=atol, equal_nan=equal_nan):
        return
    err = np.abs(a.astype(np.float64) - b) - atol - rtol * np.abs(b)
    idx = np.unravel_index(np.nanargmax(err), a.shape) if a.ndim else ()
    raise AssertionError(
        f"not almost equal (rtol={rtol}, atol={atol}): worst at {idx}: {names[0]}={a[idx]!r} "
        f"{names[1]}={b[idx]!r}; max abs diff {np.nanmax(np.abs(a.astype(np.float64) - b)):.3g}")


def numeric_grad(f, inputs, eps=1e-6):
    """Central-difference gradients of scalar ``f(*numpy_arrays)`` w.r.t. each input (float64)."""
    inputs = [np.array(x, dtype=np.float64) for x in inputs]
    grads = []
    for x in inputs:
        g = np.zeros_like(x)
        flat, gflat = x.reshape(-1), g.reshape(-1)
        for i in range(flat.size):
            old = flat[i]
            flat[i] = old + eps
            fp = float(f(*inputs))
            flat[i] = old - eps
            fm = float(f(*inputs))
            flat[i] = old
            gflat[i] = (fp - fm) / (2 * eps)
        grads.append(g)
    return grads


def check_numeric_gradient(fn, inputs, head_grad_seed=0, rtol=1e-5, atol=1e-7, eps=1e-6,
                           grad_inputs=None):
    """Compare autograd gradients of ``fn`` with central differences, all in float64.

    ``fn`` maps NDArrays to one NDArray; the scalar checked is ``sum(fn(*x) * w)`` with a
    fixed random ``w`` so every output element matters. ``grad_inputs`` selects which
    inputs (indices) to differentiate; the others (labels, indices) are held fixed.
    """
    from . import autograd
    from .ndarray.ndarray import wrap
    inputs = [np.array(_np(x), dtype=np.float64) if np.issubdtype(_np(x).dtype, np.floating)
              else _np(x) for x in inputs]
    which = list(range(len(inputs))) if grad_inputs is None else list(grad_inputs)
    probe = fn(*[wrap(x.copy()) for x in inputs])
    w = np.random.default_rng(head_grad_seed).uniform(0.5, 1.5, probe.shape)

    def scalar(*xs):
        return float((_np(fn(*[wrap(np.asarray(x)) for x in xs])) * w).sum())
    arrays = [wrap(x.copy()) for x in inputs]
    for i in which:
        arrays[i].attach_grad()
    with autograd.record():
        out = fn(*arrays)
    out.backward(wrap(w.astype(out._data.dtype)))
    for i in which:
        def partial(xi, i=i):
            xs = list(inputs)
            xs[i] = xi
            return scalar(*xs)
        (num,) = numeric_grad(partial, [inputs[i]], eps)
        assert_almost_equal(arrays[i].grad, num, rtol=rtol, atol=atol,
                            names=(f"autograd grad of input {i}", "numeric grad"))
