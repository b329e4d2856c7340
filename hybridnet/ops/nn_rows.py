"""Fused row ops that the JIT's ``rows`` pass (``jit/passes/rows.py``) builds from
softmax / log-softmax / cross-entropy patterns. Internal: users never call them.

A *row* is the 1-D lane along ``axis``; every op here works row by row, so the code
generator (``nn_rows_kernels.py``) runs each as one Numba loop over rows.

* ``_softmax_xent(data, index)`` -> ``(scale * logp[index], logp)`` with
  ``logp = log_softmax(data / T, axis)``: the forward of softmax cross-entropy
  (``log_softmax -> pick -> negative``) in one pass; ``logp`` is the residual the
  backward reads.
* ``_xent_grad(grad, logp, index)`` = ``scale * grad * (exp(logp) - one_hot(index))``:
  its backward (``_pick_grad -> sum -> exp * ...`` collapsed). ``grad`` holds one value
  per row (any shape of that size: the rows' order).
* ``_dense_xent(data, label)`` -> ``(scale * sum(logp * label, axis), logp)`` and
  ``_dense_xent_grad(grad, logp, label)`` = ``scale * grad * (exp(logp) * sum(label) - label)``:
  the same pair for dense (probability) labels.
* ``_log_softmax_grad(grad, out)`` = ``scale * (grad - exp(out) * sum(grad, axis))``
  and ``_softmax_grad(grad, out)`` = ``scale * out * (grad - sum(grad * out, axis))``:
  the VJPs of log_softmax / softmax as single row ops.
* ``_normalize_grad(grad, data, gamma, mean, var)`` -> ``(d_data, d_gamma, d_beta)``: the
  whole backward of ``_normalize`` (LayerNorm, BatchNorm in training, InstanceNorm) as one
  op; ``_normalize``'s VJP emits it, so eager and compiled backward share it.

Each has a NumPy forward (the reference interpreter's rule) and a VJP written with
hybridnet ops, like every other op.
"""
import numpy as np

from ._util import call
from .indexing import _fix_index
from .nn_common import channel_shape
from .nn_softmax import _log_softmax
from .registry import Op, register


def row_layout(shape, axis):
    """``(A, K, B)``: ``shape`` viewed as A outer x K along ``axis`` x B inner."""
    ax = axis % len(shape)
    a = int(np.prod(shape[:ax], dtype=np.int64))
    b = int(np.prod(shape[ax + 1:], dtype=np.int64))
    return a, int(shape[ax]), b


def _lanes(shape, axis, keepdims):
    ax = axis % len(shape)
    keep = tuple(shape[:ax]) + (1,) + tuple(shape[ax + 1:])
    return keep if keepdims else (tuple(shape[:ax]) + tuple(shape[ax + 1:]) or (1,))


def _one_hot_rows(shape, index, axis, mode):
    """0/1 array of ``shape`` marking ``index`` (one per row) along ``axis``."""
    a, k, b = row_layout(shape, axis)
    idx = _fix_index(np.asarray(index).reshape(a, 1, b), k, mode, "pick")
    oh = np.zeros((a, k, b), bool)
    np.put_along_axis(oh, idx, True, axis=1)
    return oh.reshape(shape)


def _per_row(grad, shape, axis):
    """``grad`` (one value per row) as an array broadcasting along ``axis``."""
    return grad.reshape(_lanes(shape, axis, True))


# ---- _softmax_xent ------------------------------------------------------------------------
def _softmax_xent(data, index, axis=-1, keepdims=False, mode="clip", temperature=None,
                  scale=-1.0):
    """``(scale * logp[index], logp)``, ``logp = log_softmax(data, axis, temperature)``."""
    logp = _log_softmax(data, axis, temperature)
    a, k, b = row_layout(data.shape, axis)
    idx = _fix_index(np.asarray(index).reshape(a, 1, b), k, mode, "pick")
    picked = np.take_along_axis(logp.reshape(a, k, b), idx, axis=1)
    loss = (picked * data.dtype.type(scale)).reshape(_lanes(data.shape, axis, keepdims))
    return loss.astype(data.dtype, copy=False), logp


def _softmax_xent_rule(shapes, dtypes, axis=-1, keepdims=False, **attrs):
    dt = np.dtype(dtypes[0])
    return [(_lanes(tuple(shapes[0]), axis, keepdims), dt), (tuple(shapes[0]), dt)]


def _softmax_xent_vjp(g, ins, out, axis=-1, keepdims=False, mode="clip", temperature=None,
                      scale=-1.0):
    gl, glp = g
    logp = out[1]
    inv_t = 1.0 if temperature is None else 1.0 / temperature
    dx = call("_xent_grad", gl, logp, ins[1], axis=axis, mode=mode, scale=-scale * inv_t)
    dx = dx + call("_log_softmax_grad", glp, logp, axis=axis, scale=inv_t)
    return dx, None


register(Op("_softmax_xent", "opaque", _softmax_xent, _softmax_xent_vjp, _softmax_xent_rule,
            num_outputs=2, nondiff_args=("index",),
            kernel=lambda node: _kernels().softmax_xent_kernel(node)))


# ---- _xent_grad ---------------------------------------------------------------------------
def _xent_grad(grad, logp, index, axis=-1, mode="clip", scale=1.0):
    """``scale * grad * (exp(logp) - one_hot(index, axis))``; ``grad`` one value per row."""
    g = _per_row(grad, logp.shape, axis)
    oh = _one_hot_rows(logp.shape, index, axis, mode)
    dx = (g * logp.dtype.type(scale)) * (np.exp(logp) - oh.astype(logp.dtype))
    return dx.astype(logp.dtype, copy=False)


def _xent_grad_rule(shapes, dtypes, **attrs):
    return [(tuple(shapes[1]), np.dtype(dtypes[1]))]


def _xent_grad_vjp(u, ins, out, axis=-1, mode="clip", scale=1.0):
    grad, logp, index = ins
    g = grad.reshape(_lanes(logp.shape, axis, True))
    e = call("exp", logp)
    dgrad = (call("sum", u * e, axis=axis, keepdims=True)
             - call("pick", u, index, axis=axis, keepdims=True, mode=mode)) * scale
    return dgrad.reshape(grad.shape), u * g * e * scale, None


register(Op("_xent_grad", "opaque", _xent_grad, _xent_grad_vjp, _xent_grad_rule,
            nondiff_args=("index",), kernel=lambda node: _kernels().xent_grad_kernel(node)))


def _same2(shapes, dtypes, **attrs):
    return [(tuple(shapes[1]), np.dtype(dtypes[1]))]


# ---- _dense_xent / _dense_xent_grad --------------------------------------------------------
def _dense_xent(data, label, axis=-1, keepdims=False, temperature=None, scale=-1.0):
    """``(scale * sum(logp * label, axis), logp)``, ``logp = log_softmax(data, axis, T)``."""
    logp = _log_softmax(data, axis, temperature)
    loss = (logp * label).sum(axis=axis, keepdims=True) * data.dtype.type(scale)
    return loss.reshape(_lanes(data.shape, axis, keepdims)).astype(data.dtype, copy=False), logp


def _dense_xent_rule(shapes, dtypes, axis=-1, keepdims=False, **attrs):
    dt = np.dtype(dtypes[0])
    return [(_lanes(tuple(shapes[0]), axis, keepdims), dt), (tuple(shapes[0]), dt)]


def _dense_xent_vjp(g, ins, out, axis=-1, keepdims=False, temperature=None, scale=-1.0):
    gl, glp = g
    logp, label = out[1], ins[1]
    inv_t = 1.0 if temperature is None else 1.0 / temperature
    dx = call("_dense_xent_grad", gl, logp, label, axis=axis, scale=-scale * inv_t)
    dx = dx + call("_log_softmax_grad", glp, logp, axis=axis, scale=inv_t)
    dlabel = logp * (gl.reshape(_lanes(logp.shape, axis, True)) * scale)
    return dx, dlabel


register(Op("_dense_xent", "opaque", _dense_xent, _dense_xent_vjp, _dense_xent_rule,
            num_outputs=2, kernel=lambda node: _kernels().dense_xent_kernel(node)))


def _dense_xent_grad(grad, logp, label, axis=-1, scale=1.0):
    """``scale * grad * (exp(logp) * sum(label, axis) - label)``; ``grad`` one value per row."""
    g = _per_row(grad, logp.shape, axis) * logp.dtype.type(scale)
    dx = g * (np.exp(logp) * label.sum(axis=axis, keepdims=True) - label)
    return dx.astype(logp.dtype, copy=False)


def _dense_xent_grad_vjp(u, ins, out, axis=-1, scale=1.0):
    grad, logp, label = ins
    g = grad.reshape(_lanes(logp.shape, axis, True))
    e = call("exp", logp)
    s = call("sum", label, axis=axis, keepdims=True)
    dgrad = call("sum", u * (e * s - label), axis=axis, keepdims=True) * scale
    dlabel = (call("sum", u * e, axis=axis, keepdims=True) - u) * (g * scale)
    return dgrad.reshape(grad.shape), u * e * (g * s * scale), dlabel


register(Op("_dense_xent_grad", "opaque", _dense_xent_grad, _dense_xent_grad_vjp, _same2,
            kernel=lambda node: _kernels().dense_xent_grad_kernel(node)))


# ---- _log_softmax_grad / _softmax_grad ----------------------------------------------------
def _log_softmax_grad(grad, out, axis=-1, scale=1.0):
    """``scale * (grad - exp(out) * sum(grad, axis))``: log_softmax's VJP, ``out`` its output."""
    dx = grad - np.exp(out) * grad.sum(axis=axis, keepdims=True)
    if scale != 1.0:
        dx = dx * out.dtype.type(scale)
    return dx.astype(out.dtype, copy=False)


def _log_softmax_grad_vjp(u, ins, out, axis=-1, scale=1.0):
    grad, o = ins
    e = call("exp", o)
    dgrad = (u - call("sum", u * e, axis=axis, keepdims=True)) * scale
    dout = u * e * call("sum", grad, axis=axis, keepdims=True) * (-scale)
    return dgrad, dout


def _softmax_grad(grad, out, axis=-1, scale=1.0):
    """``scale * out * (grad - sum(grad * out, axis))``: softmax's VJP, ``out`` its output."""
    dx = out * (grad - (grad * out).sum(axis=axis, keepdims=True))
    if scale != 1.0:
        dx = dx * out.dtype.type(scale)
    return dx.astype(out.dtype, copy=False)


def _softmax_grad_vjp(u, ins, out, axis=-1, scale=1.0):
    grad, o = ins
    su = call("sum", u * o, axis=axis, keepdims=True)
    sg = call("sum", grad * o, axis=axis, keepdims=True)
    dgrad = o * (u - su) * scale
    dout = (u * (grad - sg) - grad * su) * scale
    return dgrad, dout


register(Op("_log_softmax_grad", "opaque", _log_softmax_grad, _log_softmax_grad_vjp, _same2,
            kernel=lambda node: _kernels().log_softmax_grad_kernel(node)))
register(Op("_softmax_grad", "opaque", _softmax_grad, _softmax_grad_vjp, _same2,
            kernel=lambda node: _kernels().softmax_grad_kernel(node)))


# ---- _normalize_grad ----------------------------------------------------------------------
def norm_axes(axes, ndim):
    """``axes`` (an int or a sequence) as a sorted tuple of non-negative axes."""
    axes = (axes,) if isinstance(axes, (int, np.integer)) else tuple(axes)
    return tuple(sorted(int(a) % ndim for a in axes))


def _norm_parts(shape, axes, ch_axis):
    """(statistics axes, group size, channel axis, the other axes, gamma's broadcast shape)."""
    nd = len(shape)
    axes = norm_axes(axes, nd)
    ch = ch_axis % nd
    m = float(np.prod([shape[a] for a in axes]))
    return axes, m, ch, tuple(d for d in range(nd) if d != ch), \
        channel_shape(nd, ch, shape[ch])


def _normalize_grad(grad, data, gamma, mean, var, axes=(), ch_axis=1, eps=1e-5,
                    fix_gamma=False):
    """The gradients of ``_normalize`` (``d_data, d_gamma, d_beta``) from its output gradient
    ``grad`` and its saved statistics ``mean``/``var`` (kept dims). With
    ``xhat = (data - mean) / sqrt(var + eps)`` and ``a = grad * gamma`` (``grad`` if
    ``fix_gamma``), per group of ``m`` elements: ``d_data = (a - mean(a) - xhat *
    mean(a * xhat)) / sqrt(var + eps)``; ``d_gamma = sum(grad * xhat)`` (zeros if
    ``fix_gamma``), ``d_beta = sum(grad)`` over every axis but ``ch_axis``."""
    axes, m, ch, other, bshape = _norm_parts(data.shape, axes, ch_axis)
    dt = data.dtype
    inv = (var + eps) ** -0.5
    xhat = (data - mean) * inv
    dbeta = grad.sum(axis=other) if other else grad.copy()
    if fix_gamma:
        dgamma, a = np.zeros(gamma.shape, gamma.dtype), grad
    else:
        dgamma, a = (grad * xhat).sum(axis=other) if other else grad * xhat, \
            grad * gamma.reshape(bshape)
    c1 = a.sum(axis=axes, keepdims=True) * (1.0 / m)
    c2 = (a * xhat).sum(axis=axes, keepdims=True) * (1.0 / m)
    dx = (a - c1 - xhat * c2) * inv
    return (dx.astype(dt, copy=False), dgamma.reshape(gamma.shape).astype(gamma.dtype, copy=False),
            dbeta.reshape(gamma.shape).astype(gamma.dtype, copy=False))


def _normalize_grad_rule(shapes, dtypes, **attrs):
    c = (tuple(shapes[2]), np.dtype(dtypes[2]))
    return [(tuple(shapes[1]), np.dtype(dtypes[1])), c, c]


def _normalize_grad_vjp(g, ins, out, axes=(), ch_axis=1, eps=1e-5, fix_gamma=False):
    """Second order. ``mean``/``var`` are functions of ``data``: they get no gradient of
    their own, the statistics are recomputed from ``data`` with differentiable ops and
    their dependence on it is part of ``data``'s gradient (so every order is exact)."""
    u, ug, ub = g
    gy, x, gamma = ins[:3]
    axes, m, ch, other, bshape = _norm_parts(x.shape, axes, ch_axis)

    def mean(t):
        return call("sum", t, axis=axes, keepdims=True) * (1.0 / m)

    xc = x - mean(x)
    inv = (mean(xc * xc) + eps) ** -0.5
    xhat = xc * inv

    def proj(t):                  # the (symmetric) Jacobian of xhat, over inv
        return t - mean(t) - xhat * mean(t * xhat)
    gam = None if fix_gamma else gamma.reshape(bshape)
    a = gy if fix_gamma else gy * gam
    c2 = mean(a * xhat)
    ga = proj(u) * inv            # d loss / d a through d_data
    dgy = (ga if fix_gamma else ga * gam) + ub.reshape(bshape)
    gxhat = -inv * (c2 * u + mean(u * xhat) * a)     # d loss / d xhat, inv held
    if not fix_gamma:
        ugb = ug.reshape(bshape)
        dgy = dgy + ugb * xhat
        gxhat = gxhat + ugb * gy
    s = mean(u * (a - mean(a) - xhat * c2))          # d loss / d inv, over m
    dx = proj(gxhat) * inv - xhat * (s * inv * inv)
    dgamma = None
    if not fix_gamma:
        t = gy * ga
        dgamma = (call("sum", t, axis=other) if other else t).reshape(gamma.shape)
    return dgy, dx, dgamma, None, None


register(Op("_normalize_grad", "opaque", _normalize_grad, _normalize_grad_vjp,
            _normalize_grad_rule, num_outputs=3,
            kernel=lambda node: _norm_kernels().normalize_grad_kernel(node)))


def _kernels():
    from . import nn_rows_kernels
    return nn_rows_kernels


def _norm_kernels():
    from . import nn_norm_kernels
    return nn_norm_kernels
