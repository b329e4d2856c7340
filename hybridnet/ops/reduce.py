"""Reductions (sum, mean, max, argmax, norm ...) and their inverse, broadcasting.

Full reductions return shape (1,) like MXNet 1.x, so ``x.sum().asscalar()``
and ``x.sum()[0]`` both work. ``axis`` is an int, a tuple or None (all axes);
``exclude=True`` reduces over every axis *not* listed (MXNet).

Gradient of max/min: the output gradient is split evenly among the elements
that attain the extreme (so the gradients of a slice sum to ``g``). MXNet 1.x
instead gives every tied element the full ``g``; without ties both agree.
"""
import numpy as np

from ..base import ShapeError
from . import _eager_kernels as eager
from ._util import call, same_dtype
from .registry import Op, register


def _as_1d(r):
    r = np.asarray(r)
    return r.reshape(1) if r.ndim == 0 else r


def reduce_axes(name, shape, axis, exclude=False):
    """Validated, sorted tuple of non-negative axes to reduce (None = all axes)."""
    ndim = len(shape)
    if axis is None:      # all axes, with or without exclude (as MXNet)
        return None
    axes = (axis,) if isinstance(axis, (int, np.integer)) else tuple(axis)
    out = []
    for a in axes:
        if not -ndim <= a < ndim:
            raise ShapeError(f"{name}: axis {a} is out of range for an input of shape "
                             f"{tuple(shape)} ({ndim} dims); pass an axis in [-{ndim}, {ndim})")
        if a % ndim in out:
            raise ShapeError(f"{name}: axis {a} is repeated in axis={axis}")
        out.append(a % ndim)
    if exclude:
        return tuple(i for i in range(ndim) if i not in out)
    return tuple(sorted(out))


def _keep_shape(shape, axes):
    """Shape of the reduction with keepdims=True (for broadcasting the gradient back)."""
    if axes is None:
        return (1,) * len(shape)
    return tuple(1 if i in axes else s for i, s in enumerate(shape))


def _expand(g, x, axes):
    """Output gradient reshaped to keepdims form and broadcast to the input's shape."""
    return call("broadcast_to", g.reshape(_keep_shape(x.shape, axes)), shape=x.shape)


def _count(shape, axes):
    return int(np.prod(shape if axes is None else [shape[a] for a in axes]))


def _reduction(name, np_fn, vjp_fn, doc, own_dtype=True, kernel=None):
    """Register reduction ``name(data, axis=None, keepdims=False, exclude=False)``.

    ``own_dtype``: pass ``dtype=data.dtype`` to NumPy so int32 sums stay int32
    (NumPy would widen them to int64); mean/max/min keep the dtype by themselves.
    """
    def forward(data, axis=None, keepdims=False, exclude=False):
        axes = reduce_axes(name, data.shape, axis, exclude)
        if axes == ():
            return data.copy()
        kw = {"dtype": data.dtype} if own_dtype else {}
        return _as_1d(same_dtype(np_fn(data, axis=axes, keepdims=keepdims, **kw), data))

    def vjp(g, ins, out, axis=None, keepdims=False, exclude=False):
        x = ins[0]
        axes = reduce_axes(name, x.shape, axis, exclude)
        if axes == ():
            return (g,)
        return (vjp_fn(g, x, out, axes),)
    forward.__name__ = name
    forward.__doc__ = doc + """

    Parameters
    ----------
    data : NDArray
    axis : int, tuple of int or None
        Axes to reduce; None reduces all (the result then has shape (1,)).
    keepdims : bool
        Keep reduced axes with size 1.
    exclude : bool
        Reduce over the axes *not* in ``axis``.
    """
    register(Op(name, "reduce", forward, vjp, kernel=kernel))


def _sum_vjp(g, x, out, axes):
    return _expand(g, x, axes)


def _mean_vjp(g, x, out, axes):
    return _expand(g, x, axes) / float(_count(x.shape, axes))


def _extreme_vjp(g, x, out, axes):
    # Split g evenly among the elements equal to the extreme (see module docstring).
    keep = _keep_shape(x.shape, axes)
    hit = x == out.reshape(keep)
    n = call("sum", hit, axis=axes, keepdims=True)
    return hit * (g.reshape(keep) / n)


def _prod_grad(x, axes):
    """d prod / d x without dividing by zero: the product of the other elements."""
    keep = _keep_shape(x.shape, axes)
    is0 = x == 0
    n0 = call("sum", is0, axis=axes, keepdims=True)
    x_nz = x + is0                                          # zeros -> 1
    p_nz = call("prod", x_nz, axis=axes, keepdims=True)     # product of the nonzeros
    no_zero = call("broadcast_to", n0 == 0, shape=x.shape)
    # No zero in the slice: prod / x. Exactly one zero: that element gets the
    # product of the rest, the others 0. Two or more zeros: all 0.
    one_zero = is0 * (n0 == 1)
    return call("where", no_zero, p_nz / x_nz, one_zero * p_nz), keep


def _prod_vjp(g, x, out, axes):
    d, keep = _prod_grad(x, axes)
    return d * g.reshape(keep)


def _nansum_vjp(g, x, out, axes):
    return _expand(g, x, axes) * (x == x)          # x == x is 0 exactly at NaN


def _nanprod_vjp(g, x, out, axes):
    ok = x == x
    d, keep = _prod_grad(call("where", ok, x, ok * 0 + 1), axes)   # NaN -> 1
    return d * ok * g.reshape(keep)


def _kernel(which):
    """The JIT's Numba kernel builder ``reduce_kernels.<which>`` (imported on use)."""
    def build(node):
        from . import reduce_kernels
        return getattr(reduce_kernels, which)(node)
    return build


_reduction("sum", np.sum, _sum_vjp, "Sum of ``data`` over ``axis``.",
           kernel=_kernel("sum_kernel"))
_reduction("mean", np.mean, _mean_vjp, "Mean of ``data`` over ``axis``.", own_dtype=False,
           kernel=_kernel("mean_kernel"))
_reduction("max", np.max, _extreme_vjp, "Maximum of ``data`` over ``axis``.", own_dtype=False)
_reduction("min", np.min, _extreme_vjp, "Minimum of ``data`` over ``axis``.", own_dtype=False)
_reduction("prod", np.prod, _prod_vjp, "Product of ``data`` over ``axis``.")
_reduction("nansum", np.nansum, _nansum_vjp,
           "Sum of ``data`` over ``axis``, treating NaN as 0.")
_reduction("nanprod", np.nanprod, _nanprod_vjp,
           "Product of ``data`` over ``axis``, treating NaN as 1.")


# ---- argmax / argmin ------------------------------------------------------------------------
def _arg_reduction(name, np_fn):
    def forward(data, axis=None, keepdims=False):
        if axis is not None and not isinstance(axis, (int, np.integer)):
            raise ShapeError(f"{name}: axis must be an int or None, got {axis!r}")
        if axis is not None:
            reduce_axes(name, data.shape, axis)
        r = np_fn(data, axis=axis, keepdims=keepdims)
        # MXNet returns the indices as floats in the input dtype.
        return _as_1d(r.astype(data.dtype))
    forward.__name__ = name
    forward.__doc__ = (f"Index of the {name[3:]}imum along ``axis`` (flattened when None), "
                       "as a float in the input dtype (MXNet); the first on ties. "
                       "Not differentiable.")
    register(Op(name, "reduce", forward))


_arg_reduction("argmax", np.argmax)
_arg_reduction("argmin", np.argmin)


# ---- norm -------------------------------------------------------------------------------------
def _norm(data, ord=2, axis=None, keepdims=False, out_dtype=None):
    """L1 (``ord=1``) or L2 (``ord=2``) norm of ``data`` over ``axis`` (all elements if None).

    With a tuple of axes the elements over those axes are treated as one vector
    (Frobenius norm for two axes), as MXNet does.
    """
    if ord not in (1, 2):
        raise ShapeError(f"norm: ord must be 1 or 2, got {ord!r}")
    axes = reduce_axes("norm", data.shape, axis)
    if ord == 1:
        r = np.sum(np.abs(data), axis=axes, keepdims=keepdims)
    else:
        r = np.sqrt(np.sum(np.square(data), axis=axes, keepdims=keepdims))
    r = _as_1d(same_dtype(r, data))
    return r.astype(out_dtype) if out_dtype is not None else r


def _norm_vjp(g, ins, out, ord=2, axis=None, keepdims=False, out_dtype=None):
    x = ins[0]
    axes = reduce_axes("norm", x.shape, axis)
    ge = _expand(g, x, axes)
    if ord == 1:
        return (ge * call("sign", x),)
    n = out.reshape(_keep_shape(x.shape, axes))
    return (ge * x / (n + (n == 0)),)       # a zero vector gets the subgradient 0


register(Op("norm", "reduce", _norm, _norm_vjp))


# ---- broadcasting and its inverse -----------------------------------------------------------
_EAGER_KERNEL_SIZE = 1 << 14    # below this NumPy's call costs less than the kernel's


def _sum_to(data, shape=()):
    """Sum ``data`` down to ``shape`` (the inverse of broadcasting ``shape`` to data.shape)."""
    lead = data.ndim - len(shape)
    axes = tuple(range(lead)) + tuple(lead + i for i, s in enumerate(shape)
                                      if s == 1 and data.shape[lead + i] != 1)
    if axes and axes[-1] == data.ndim - 1 and data.size >= _EAGER_KERNEL_SIZE and \
            data.dtype in (np.float32, np.float64):
        # A conv bias gradient (axes 0, 2, 3): NumPy's strided reduce took 0.5 ms on LeNet's
        # (128, 6, 28, 28); the JIT's kernel sums each contiguous run in float64.
        r = eager.run("sum_to", _kernel("sum_to_kernel"), (data,), tuple(shape), data.dtype,
                      {"shape": tuple(shape)})
        if r is not None:
            return r
    r = np.sum(data, axis=axes, keepdims=True, dtype=data.dtype) if axes else data
    return r.reshape(shape)


def _sum_to_vjp(g, ins, out, shape=()):
    return (call("broadcast_to", g, shape=ins[0].shape),)


register(Op("sum_to", "reduce", _sum_to, _sum_to_vjp, kernel=_kernel("sum_to_kernel")))


def _broadcast_to(data, shape=()):
    """Broadcast ``data`` to ``shape``; a 0 in ``shape`` keeps that input dim (MXNet)."""
    shape = tuple(d if s == 0 else s for s, d in
                  zip(shape, (1,) * (len(shape) - data.ndim) + data.shape))
    return np.ascontiguousarray(np.broadcast_to(data, shape))


def _broadcast_to_vjp(g, ins, out, shape=()):
    return (call("sum_to", g, shape=ins[0].shape),)


register(Op("broadcast_to", "movement", _broadcast_to, _broadcast_to_vjp))


def _broadcast_axes(data, axis=(), size=()):
    """Broadcast the size-1 axes ``axis`` of ``data`` to sizes ``size`` (MXNet ``broadcast_axis``)."""
    axes = (axis,) if isinstance(axis, (int, np.integer)) else tuple(axis or ())
    sizes = (size,) if isinstance(size, (int, np.integer)) else tuple(size)
    if len(axes) != len(sizes):
        raise ShapeError(f"broadcast_axes: axis={axis} and size={size} must have the same "
                         "length")
    shape = list(data.shape)
    for a, s in zip(axes, sizes):
        if not -data.ndim <= a < data.ndim:
            raise ShapeError(f"broadcast_axes: axis {a} is out of range for an input of shape "
                             f"{data.shape}; pass an axis in [-{data.ndim}, {data.ndim})")
        if shape[a] != 1:
            raise ShapeError(f"broadcast_axes: axis {a} of the input shape {data.shape} has size "
                             f"{shape[a]}; only size-1 axes can be broadcast")
        shape[a] = int(s)
    return np.ascontiguousarray(np.broadcast_to(data, tuple(shape)))


def _broadcast_axes_vjp(g, ins, out, axis=(), size=()):
    return (call("sum_to", g, shape=ins[0].shape),)


register(Op("broadcast_axes", "movement", _broadcast_axes, _broadcast_axes_vjp))


def _broadcast_like(lhs, rhs, lhs_axes=None, rhs_axes=None):
    """Broadcast ``lhs`` to the shape of ``rhs`` (or only ``lhs_axes`` to ``rhs``'s ``rhs_axes``)."""
    if lhs_axes is None and rhs_axes is None:
        target = rhs.shape
    else:
        la = (lhs_axes,) if isinstance(lhs_axes, int) else tuple(lhs_axes or ())
        ra = (rhs_axes,) if isinstance(rhs_axes, int) else tuple(rhs_axes or ())
        if len(la) != len(ra):
            raise ShapeError(f"broadcast_like: lhs_axes={lhs_axes} and rhs_axes={rhs_axes} "
                             "must have the same length")
        target = list(lhs.shape)
        for a, b in zip(la, ra):
            target[a] = rhs.shape[b]
        target = tuple(target)
    try:
        return np.ascontiguousarray(np.broadcast_to(lhs, target))
    except ValueError:
        raise ShapeError(f"broadcast_like: cannot broadcast lhs of shape {lhs.shape} to "
                         f"{target} (rhs shape {rhs.shape}); the axes that differ must have "
                         "size 1 in lhs") from None


def _broadcast_like_vjp(g, ins, out, lhs_axes=None, rhs_axes=None):
    return (call("sum_to", g, shape=ins[0].shape), None)


register(Op("broadcast_like", "movement", _broadcast_like, _broadcast_like_vjp,
            nondiff_args=("rhs",)))

# sort / argsort / topk live in their own module (registered on import).
from . import ordering  # noqa: E402,F401
