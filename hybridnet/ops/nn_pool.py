"""Pooling (max / avg / sum, 1-D to 3-D, 'valid' or 'full' (ceil) convention, global).

``_pooling`` is the op; its VJP is ``_pool_max_grad`` (gradient to the first
arg-max of each window, like MXNet) or ``_pool_avg_grad`` (the adjoint of the
linear avg/sum pooling, whose own VJP is ``_pooling`` again). 2-D float32/float64
pooling runs Numba kernels (``nn_pool_kernels``, ``nn_pool_avg_kernels``), eagerly
and hybridized; other shapes the NumPy rules here.
"""
import numpy as np

from ..base import HybridnetValueError, ShapeError
from . import _eager_kernels as eager
from ._util import call
from .nn_common import check_kwargs, check_layout, check_nd, check_spatial, finish, tup
from .registry import Op, frontend, register

POOL_TYPES = ("max", "avg", "sum")
_KERNEL_DTYPES = (np.float32, np.float64)    # Numba has no float16
CONVENTIONS = ("valid", "full")


def _geometry(shape, kernel, stride, pad, convention):
    """Output spatial size and the extra end padding 'full' (ceil) mode needs."""
    out, extra = [], []
    for n, k, s, p in zip(shape[2:], kernel, stride, pad):
        span = n + 2 * p - k
        o = (span // s if convention == "valid" else -(-span // s)) + 1
        if span < 0 or o <= 0:
            raise ShapeError(f"Pooling: kernel {tuple(kernel)} is larger than the input "
                             f"{tuple(shape[2:])} padded by {tuple(pad)} (data {tuple(shape)}); "
                             "use a smaller kernel, padding, or global_pool=True")
        out.append(o)
        extra.append(max(0, (o - 1) * s + k - (n + 2 * p)))
    return tuple(out), tuple(extra)


def _pad(x, pad, extra, fill):
    """``x`` padded by ``pad`` on both sides and ``extra`` more at the end of each dim."""
    if any(pad) or any(extra):
        x = np.pad(x, ((0, 0), (0, 0)) + tuple((p, p + e) for p, e in zip(pad, extra)),
                   constant_values=fill)
    return x


def _taps(kernel, stride, out):
    """Per kernel tap, the strided slice of the padded input that it reads for every output.

    Pooling runs as one vectorised pass per tap (K passes over output-sized arrays),
    which is much faster than reducing over a 6-D window view.
    """
    for tap in np.ndindex(*kernel):
        yield (slice(None), slice(None)) + tuple(slice(t, t + s * (o - 1) + 1, s)
                                                 for t, s, o in zip(tap, stride, out))


def _divisor(shape, out, kernel, stride, pad, count_include_pad, dtype):
    """Per-output window sizes for avg pooling, by MXNet's rule (padding counted, overhang not)."""
    div = np.ones((), dtype)
    for n, o, k, s, p in zip(shape[2:], out, kernel, stride, pad):
        start = np.arange(o) * s - p
        end = np.minimum(start + k, n + p)
        size = end - start if count_include_pad else (np.minimum(end, n) -
                                                      np.maximum(start, 0))
        div = np.multiply.outer(div, np.maximum(size, 1).astype(dtype))
    return div


def _is_global(shape, kernel, pad):
    """One window covering the whole unpadded input: reduce directly instead of per tap."""
    return tuple(kernel) == tuple(shape[2:]) and not any(pad)


def _lowest(dtype):
    """The max of a window of only padding (possible in 'full' mode): the lowest finite
    value, like MXNet, not -inf."""
    return np.finfo(dtype).min if dtype.kind == "f" else np.iinfo(dtype).min


def _max_pad(dtype):
    """Max-pool padding: -inf, so a window of -inf and padding gives -inf as one of -inf
    alone does (windows of only padding are set to ``_lowest`` afterwards)."""
    return -np.inf if dtype.kind == "f" else np.iinfo(dtype).min


def _only_padding(shape, out, kernel, stride, pad):
    """Boolean mask over the output's spatial dims: windows that hold no input element."""
    mask = np.zeros(out, bool)
    for d, (n, o, k, s, p) in enumerate(zip(shape[2:], out, kernel, stride, pad)):
        start = np.arange(o) * s                   # in padded coordinates
        miss = (start >= n + p) | (start + k <= p)
        mask |= miss.reshape((-1,) + (1,) * (len(out) - 1 - d))
    return mask


def _check(pool_type, convention):
    if pool_type not in POOL_TYPES:
        raise HybridnetValueError(f"Pooling: pool_type={pool_type!r} is not supported; use one "
                                  f"of {POOL_TYPES}")
    if convention not in CONVENTIONS:
        raise HybridnetValueError(f"Pooling: pooling_convention={convention!r} is not "
                                  f"supported; use one of {CONVENTIONS}")


def _pooling(data, kernel=(), pool_type="max", stride=(), pad=(), pooling_convention="valid",
             count_include_pad=True):
    """Pool windows of ``kernel`` over the spatial dims of channels-first ``data``."""
    _check(pool_type, pooling_convention)
    out, extra = _geometry(data.shape, kernel, stride, pad, pooling_convention)
    is_max = pool_type == "max"
    if data.ndim == 4 and data.dtype in _KERNEL_DTYPES:
        y = eager.run("_pooling", _pool_kernel, (data,), data.shape[:2] + out, data.dtype,
                      dict(kernel=tuple(kernel), pool_type=pool_type, stride=tuple(stride),
                           pad=tuple(pad), pooling_convention=pooling_convention,
                           count_include_pad=count_include_pad))
        if y is not None:
            return y
    if _is_global(data.shape, kernel, pad):
        flat = data.reshape(data.shape[:2] + (-1,))
        r = flat.max(-1) if is_max else flat.sum(-1, dtype=data.dtype)
        r = r.reshape(data.shape[:2] + (1,) * len(kernel))
        return r / data.dtype.type(flat.shape[-1]) if pool_type == "avg" else r
    xp = _pad(data, pad, extra, _max_pad(data.dtype) if is_max else 0)
    r = None
    for sl in _taps(kernel, stride, out):
        if r is None:
            r = xp[sl].copy()
        elif is_max:
            np.maximum(r, xp[sl], out=r)
        else:
            r += xp[sl]
    if is_max and (any(extra) or any(pad)):
        empty = _only_padding(data.shape, out, kernel, stride, pad)
        if empty.any():
            r[..., empty] = _lowest(data.dtype)
    if pool_type == "avg":
        r /= _divisor(data.shape, out, kernel, stride, pad, count_include_pad, data.dtype)
    return r


def _pooling_rule(shapes, dtypes, kernel=(), pool_type="max", stride=(), pad=(),
                  pooling_convention="valid", count_include_pad=True):
    _check(pool_type, pooling_convention)
    out, _ = _geometry(shapes[0], kernel, stride, pad, pooling_convention)
    return [(tuple(shapes[0][:2]) + out, np.dtype(dtypes[0]))]


def _pooling_vjp(g, ins, out, **attrs):
    x = ins[0]
    if attrs["pool_type"] == "max":
        return (call("_pool_max_grad", g, x, **{k: v for k, v in attrs.items()
                                                  if k != "count_include_pad" and
                                                  k != "pool_type"}),)
    return (call("_pool_avg_grad", g, in_size=tuple(x.shape[2:]), **attrs),)


def _pool_kernel(node):
    if node.attrs.get("pool_type") == "max":
        return _kernels().max_pool_kernel(node)
    from . import nn_pool_avg_kernels
    return nn_pool_avg_kernels.avg_pool_kernel(node)


def _avg_grad_kernel(node):
    from . import nn_pool_avg_kernels
    return nn_pool_avg_kernels.avg_pool_grad_kernel(node)


register(Op("_pooling", "opaque", _pooling, _pooling_vjp, _pooling_rule, kernel=_pool_kernel))


def _pool_max_grad(grad, data, kernel=(), stride=(), pad=(), pooling_convention="valid"):
    """Gradient of max pooling: each output's gradient goes to its window's (first) arg-max."""
    out, extra = _geometry(data.shape, kernel, stride, pad, pooling_convention)
    if data.ndim == 4 and data.dtype in _KERNEL_DTYPES and grad.dtype == data.dtype:
        dx = eager.run("_pool_max_grad", lambda node: _kernels().max_pool_grad_kernel(node),
                       (grad, data), data.shape, data.dtype,
                       dict(kernel=tuple(kernel), stride=tuple(stride), pad=tuple(pad),
                            pooling_convention=pooling_convention))
        if dx is not None:
            return dx
    if _is_global(data.shape, kernel, pad):
        flat = data.reshape(data.shape[:2] + (-1,))
        dx = np.zeros(flat.shape, grad.dtype)
        np.put_along_axis(dx, flat.argmax(-1)[..., None], grad.reshape(flat.shape[:2] + (1,)),
                          axis=-1)
        return dx.reshape(data.shape)
    xp = _pad(data, pad, extra, _lowest(data.dtype))
    taps = list(_taps(kernel, stride, out))
    best = xp[taps[0]].copy()
    arg = np.zeros(best.shape, np.int32)
    for i, sl in enumerate(taps[1:], 1):
        v = xp[sl]
        np.putmask(arg, v > best, i)   # strictly greater: ties keep the first tap (MXNet)
        np.maximum(best, v, out=best)
    dx = np.zeros(xp.shape, grad.dtype)
    for i, sl in enumerate(taps):
        dx[sl] += grad * (arg == i)    # (faster than ufunc where= on strided views)
    crop = tuple(slice(p, p + s) for p, s in zip(pad, data.shape[2:]))
    return np.ascontiguousarray(dx[(slice(None),) * 2 + crop])


register(Op("_pool_max_grad", "opaque", _pool_max_grad, None,
            lambda shapes, dtypes, **a: [(tuple(shapes[1]), np.dtype(dtypes[0]))],
            kernel=lambda node, epilogue=None: _kernels().max_pool_grad_kernel(node,
                                                                            epilogue)))


def _kernels():
    from . import nn_pool_kernels
    return nn_pool_kernels


def _pool_avg_grad(grad, in_size=(), kernel=(), pool_type="avg", stride=(), pad=(),
                   pooling_convention="valid", count_include_pad=True):
    """Adjoint of avg/sum pooling: spread each output gradient over its window."""
    shape = tuple(grad.shape[:2]) + tuple(in_size)
    out, extra = _geometry(shape, kernel, stride, pad, pooling_convention)
    if grad.ndim == 4 and grad.dtype in _KERNEL_DTYPES:
        dx = eager.run("_pool_avg_grad", _avg_grad_kernel, (grad,), shape, grad.dtype,
                       dict(in_size=tuple(in_size), kernel=tuple(kernel), pool_type=pool_type,
                            stride=tuple(stride), pad=tuple(pad),
                            pooling_convention=pooling_convention,
                            count_include_pad=count_include_pad))
        if dx is not None:
            return dx
    if pool_type == "avg":
        grad = grad / _divisor(shape, out, kernel, stride, pad, count_include_pad, grad.dtype)
    padded = tuple(s + 2 * p + e for s, p, e in zip(in_size, pad, extra))
    dx = np.zeros(tuple(grad.shape[:2]) + padded, grad.dtype)
    for sl in _taps(kernel, stride, out):
        dx[sl] += grad
    return np.ascontiguousarray(dx[(slice(None),) * 2 + tuple(slice(p, p + s)
                                                              for p, s in zip(pad, in_size))])


def _pool_avg_grad_vjp(g, ins, out, in_size=(), **attrs):
    return (call("_pooling", g, **attrs),)


register(Op("_pool_avg_grad", "opaque", _pool_avg_grad, _pool_avg_grad_vjp,
            lambda shapes, dtypes, in_size=(), **a: [(tuple(shapes[0][:2]) + tuple(in_size),
                                                       np.dtype(dtypes[0]))],
            kernel=_avg_grad_kernel))


@frontend("Pooling")
def Pooling(data=None, kernel=(), pool_type="max", global_pool=False, stride=(), pad=(),
            pooling_convention="valid", count_include_pad=None, layout=None, out=None,
            p_value=None, **kwargs):
    """Max / average / sum pooling over the spatial dims of ``(N, C, *spatial)`` data.

    Parameters
    ----------
    data : NDArray
        ``(N, C, W)``, ``(N, C, H, W)`` or ``(N, C, D, H, W)``.
    kernel : int or tuple
        Window size per spatial dim (ignored with ``global_pool=True``).
    pool_type : {'max', 'avg', 'sum'}
    global_pool : bool
        Pool over the whole spatial extent (output ``(N, C, 1, ...)``).
    stride, pad : int or tuple
        Default 1 and 0; padding is symmetric and never wins a max.
    pooling_convention : {'valid', 'full'}
        ``'full'`` rounds the output size up (ceil mode).
    count_include_pad : bool
        For avg: count padded positions in the divisor (default True, like MXNet).

    Returns
    -------
    NDArray
        ``(N, C, *out)``; ``out = floor_or_ceil((in + 2*pad - kernel) / stride) + 1``.
    """
    check_kwargs("Pooling", kwargs)
    check_nd("Pooling", data=data)
    check_spatial("Pooling", data.shape)
    check_layout("Pooling", layout, data.ndim)
    _check(pool_type, pooling_convention)
    n = data.ndim - 2
    if global_pool:
        k, s, p, conv = tuple(data.shape[2:]), (1,) * n, (0,) * n, "valid"
    else:
        k = tup(kernel, n, "kernel", "Pooling")
        s, p = tup(stride, n, "stride", "Pooling", 1), tup(pad, n, "pad", "Pooling", 0)
        conv = pooling_convention
        if pool_type == "max" and any(pp >= kk for pp, kk in zip(p, k)):
            raise HybridnetValueError(f"Pooling: pad={p} must be smaller than kernel={k} for "
                                      "max pooling (a window of only padding has no maximum)")
    res = call("_pooling", data, kernel=k, pool_type=pool_type, stride=s, pad=p,
               pooling_convention=conv,
               count_include_pad=True if count_include_pad is None else bool(count_include_pad))
    return finish(res, out)
