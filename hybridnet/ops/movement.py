"""Shape ops: copy, cast, reshape (MXNet codes), flatten, transpose, squeeze, tile, pad ...

Indexing/slicing ops live in ``indexing.py``; concat/stack/split in ``join.py``.
Every VJP here is itself a movement op (reshape, transpose, sum, slice ...), so the
same rule traces into backward IR. Results that NumPy would return as a strided
view (transpose, flip) are made contiguous: MXNet copies there, and compiled
kernels want C-contiguous inputs. Reshape stays a view, like MXNet's.
"""
import math

import numpy as np

from ..base import HybridnetValueError, ShapeError
from ._util import call
from .registry import Op, register


def _same_shape_rule(shapes, dtypes, **attrs):
    return [(tuple(shapes[0]), np.dtype(dtypes[0]))]


def _copy(data):
    """A copy of ``data``."""
    return data.copy()


register(Op("copy", "elementwise", _copy, lambda g, ins, out: (g,), _same_shape_rule,
            expr="{0}"))


def _cast(data, dtype="float32"):
    """``data`` converted to ``dtype``."""
    return data.astype(dtype)


register(Op("cast", "elementwise", _cast,
            lambda g, ins, out, dtype: (call("cast", g, dtype=np.dtype(ins[0].dtype).name),),
            lambda shapes, dtypes, dtype="float32": [(tuple(shapes[0]), np.dtype(dtype))],
            expr="{0}"))


# ---- reshape ------------------------------------------------------------------------------
def _shape_tuple(shape):
    return (int(shape),) if isinstance(shape, (int, np.integer)) else tuple(int(s) for s in shape)


def _reshape_tokens(shape):
    """Group MXNet codes: ``-4, d1, d2`` becomes one token ``(-4, d1, d2)``."""
    toks, i = [], 0
    while i < len(shape):
        s = shape[i]
        if s == -4:
            if i + 2 >= len(shape):
                raise ShapeError(f"reshape: code -4 in {shape} must be followed by the two dims "
                                 "to split into, e.g. (-4, 2, -1)")
            toks.append((-4, shape[i + 1], shape[i + 2]))
            i += 3
            continue
        if s < -4:
            raise ShapeError(f"reshape: invalid code {s} in target shape {shape}; use a "
                             "positive size or one of the codes 0, -1, -2, -3, -4")
        toks.append(s)
        i += 1
    return toks


def reshape_target(in_shape, shape, reverse=False):
    """Resolve MXNet reshape codes into a concrete shape.

    ``0`` copies the matching input dim, ``-1`` infers one dim from the size, ``-2``
    copies all remaining input dims, ``-3`` merges the next two input dims, ``-4 a b``
    splits the next input dim into ``a x b`` (one of them may be -1). With
    ``reverse=True`` the codes are matched from the right.
    """
    in_shape, shape = tuple(in_shape), _shape_tuple(shape)
    toks = _reshape_tokens(shape)
    src = list(in_shape)
    if reverse:
        toks = [(-4, t[2], t[1]) if isinstance(t, tuple) else t for t in reversed(toks)]
        src.reverse()

    def need(j, code, n=1):
        if j + n > len(src):
            raise ShapeError(f"reshape: code {code} in {shape} refers to input dim {j + n - 1} "
                             f"but the input shape {in_shape} has only {len(src)} dims")
    out, infer, j = [], None, 0
    for t in toks:
        if isinstance(t, tuple):
            need(j, -4)
            d0, d1, d2 = src[j], t[1], t[2]
            j += 1
            if d1 == -1 and d2 == -1:
                raise ShapeError(f"reshape: -4 in {shape} cannot split into (-1, -1); give one size")
            if d1 == -1:
                d1 = d0 // d2 if d2 > 0 else -1
            elif d2 == -1:
                d2 = d0 // d1 if d1 > 0 else -1
            if d1 * d2 != d0 or d1 <= 0:
                raise ShapeError(f"reshape: -4 in {shape} cannot split input dim {d0} of shape "
                                 f"{in_shape} into {t[1]} x {t[2]}")
            out += [d1, d2]
        elif t == 0:
            need(j, 0)
            out.append(src[j])
            j += 1
        elif t == -1:
            if infer is not None:
                raise ShapeError(f"reshape: more than one -1 in target shape {shape}; "
                                 "only one dim can be inferred")
            infer = len(out)
            out.append(1)
            j += 1
        elif t == -2:
            out += src[j:]
            j = len(src)
        elif t == -3:
            need(j, -3, 2)
            out.append(src[j] * src[j + 1])
            j += 2
        else:
            out.append(t)
            j += 1
    size = math.prod(in_shape)
    known = math.prod(out)
    if infer is not None:
        if known == 0 or size % known:
            raise ShapeError(f"reshape: cannot reshape array of shape {in_shape} (size {size}) "
                             f"into {shape}: the known dims (product {known}) do not divide "
                             "the size")
        out[infer] = size // known
    elif known != size:
        raise ShapeError(f"reshape: cannot reshape array of shape {in_shape} (size {size}) into "
                         f"{shape} (size {known}); the sizes must match (use -1 to infer one dim)")
    if reverse:
        out.reverse()
    return tuple(out)


def _reshape(data, shape=(), reverse=False):
    """``data`` with a new shape (a view when possible, like MXNet).

    ``shape`` may hold MXNet's codes: 0 keeps the input dim, -1 infers one dim,
    -2 copies the remaining dims, -3 merges two dims, -4 splits one into the next two.
    Example: shape (2, 3, 4) with ``shape=(0, -1)`` gives (2, 12); ``(-3, 4)`` gives (6, 4).
    """
    return data.reshape(reshape_target(data.shape, shape, reverse))


def _canon_reshape(attrs):
    attrs["shape"] = _shape_tuple(attrs["shape"])
    return attrs


register(Op("reshape", "movement", _reshape,
            lambda g, ins, out, shape=(), reverse=False: (g.reshape(ins[0].shape),),
            lambda shapes, dtypes, shape=(), reverse=False: [
                (reshape_target(shapes[0], shape, reverse), np.dtype(dtypes[0]))],
            canon=_canon_reshape))


def _reshape_like(lhs, rhs):
    """``lhs`` reshaped to the shape of ``rhs`` (same size); no gradient flows to ``rhs``."""
    if lhs.size != rhs.size:
        raise ShapeError(f"reshape_like: lhs of shape {lhs.shape} (size {lhs.size}) cannot take "
                         f"the shape {rhs.shape} of rhs (size {rhs.size}); sizes must match")
    return lhs.reshape(rhs.shape)


register(Op("reshape_like", "movement", _reshape_like,
            lambda g, ins, out: (g.reshape(ins[0].shape), None), nondiff_args=("rhs",)))


def _flatten(data):
    """Collapse all axes but the first: (N, d1, d2, ...) -> (N, d1*d2*...); (N,) -> (N, 1)."""
    if data.ndim == 0:
        return data.reshape(1, 1)
    return data.reshape(data.shape[0], -1) if data.shape[0] else data.reshape(0, int(
        np.prod(data.shape[1:])))


register(Op("flatten", "movement", _flatten,
            lambda g, ins, out: (g.reshape(ins[0].shape),)))


# ---- axis permutations --------------------------------------------------------------------
def _axis(ax, ndim, op, shape, extra=0):
    """Normalise one axis into [0, ndim+extra) or raise a ShapeError naming the op."""
    n = ndim + extra
    if not isinstance(ax, (int, np.integer)) or not -n <= ax < n:
        raise ShapeError(f"{op}: axis {ax!r} is out of range for an input of shape {shape}; "
                         f"pass an axis in [{-n}, {n})")
    return int(ax) % n


def _perm(axes, ndim, shape):
    if axes is None or axes == ():
        return tuple(range(ndim))[::-1]
    axes = (axes,) if isinstance(axes, int) else tuple(axes)
    norm = tuple(_axis(a, ndim, "transpose", shape) for a in axes)
    if len(norm) != ndim or sorted(norm) != list(range(ndim)):
        raise ShapeError(f"transpose: axes {axes} are not a permutation of the {ndim} axes of an "
                         f"input of shape {shape}; pass each of 0..{ndim - 1} once")
    return norm


def _transpose(data, axes=None):
    """Permute the axes (reverse them when ``axes`` is None or ())."""
    return np.ascontiguousarray(np.transpose(data, _perm(axes, data.ndim, data.shape)))


def _transpose_vjp(g, ins, out, axes=None):
    perm = _perm(axes, ins[0].ndim, ins[0].shape)
    return (call("transpose", g, axes=tuple(int(i) for i in np.argsort(perm))),)


register(Op("transpose", "movement", _transpose, _transpose_vjp))


def _swapaxes(data, dim1=0, dim2=0):
    """Interchange axes ``dim1`` and ``dim2``."""
    a = _axis(dim1, data.ndim, "swapaxes", data.shape)
    b = _axis(dim2, data.ndim, "swapaxes", data.shape)
    return np.ascontiguousarray(np.swapaxes(data, a, b))


register(Op("swapaxes", "movement", _swapaxes,
            lambda g, ins, out, dim1=0, dim2=0: (call("swapaxes", g, dim1=dim1, dim2=dim2),)))


def _expand_dims(data, axis=None):
    """Insert a size-1 axis at ``axis`` (in [-ndim-1, ndim])."""
    if axis is None:
        raise HybridnetValueError("expand_dims: pass the position of the new axis, e.g. axis=0")
    return np.expand_dims(data, _axis(axis, data.ndim, "expand_dims", data.shape, extra=1))


register(Op("expand_dims", "movement", _expand_dims,
            lambda g, ins, out, axis=None: (g.reshape(ins[0].shape),)))


def _squeeze(data, axis=None):
    """Remove size-1 axes (only ``axis`` when given); at least one axis is kept, like MXNet."""
    if axis is None:
        shape = tuple(s for s in data.shape if s != 1)
    else:
        axes = (axis,) if isinstance(axis, int) else axis
        axes = {_axis(a, data.ndim, "squeeze", data.shape) for a in axes}
        for a in axes:
            if data.shape[a] != 1:
                raise ShapeError(f"squeeze: axis {a} of an input of shape {data.shape} has size "
                                 f"{data.shape[a]}, not 1; only size-1 axes can be squeezed")
        shape = tuple(s for i, s in enumerate(data.shape) if i not in axes)
    return data.reshape(shape or (1,))


register(Op("squeeze", "movement", _squeeze,
            lambda g, ins, out, axis=None: (g.reshape(ins[0].shape),)))


def _flip_axes(axis, data):
    if axis is None:
        raise HybridnetValueError("reverse/flip: pass the axis (or axes) to reverse, e.g. axis=0")
    axes = (axis,) if isinstance(axis, int) else tuple(axis)
    return tuple(_axis(a, data.ndim, "reverse", data.shape) for a in axes)


def _reverse(data, axis=None):
    """Reverse the order of elements along ``axis`` (alias ``flip``)."""
    return np.ascontiguousarray(np.flip(data, _flip_axes(axis, data)))


register(Op("reverse", "movement", _reverse,
            lambda g, ins, out, axis=None: (call("reverse", g, axis=axis),)))


# ---- tile / repeat ------------------------------------------------------------------------
def _reps(reps, op):
    if reps is None:
        raise HybridnetValueError(f"{op}: pass the number of repetitions, e.g. reps=(2, 1)")
    reps = (reps,) if isinstance(reps, (int, np.integer)) else tuple(reps)
    if any(int(r) < 0 for r in reps):
        raise ShapeError(f"{op}: repetitions must be >= 0, got {reps}")
    return tuple(int(r) for r in reps)


def _tile(data, reps=None):
    """Repeat the whole array ``reps[i]`` times along each axis (NumPy's tile)."""
    return np.tile(data, _reps(reps, "tile"))


def _tile_vjp(g, ins, out, reps=None):
    shape = ins[0].shape
    reps = _reps(reps, "tile")
    n = max(len(reps), len(shape))
    reps = (1,) * (n - len(reps)) + reps
    dims = (1,) * (n - len(shape)) + tuple(shape)
    # out axis i is (reps[i], dims[i]) interleaved: sum the repetition axes away.
    inter = tuple(v for r, d in zip(reps, dims) for v in (r, d))
    gs = call("sum", g.reshape(inter), axis=tuple(range(0, 2 * n, 2)))
    return (gs.reshape(shape),)


register(Op("tile", "movement", _tile, _tile_vjp))


def _repeat(data, repeats=None, axis=None):
    """Repeat each element ``repeats`` times along ``axis`` (flattened when None)."""
    if repeats is None or not isinstance(repeats, (int, np.integer)) or repeats < 0:
        raise HybridnetValueError(f"repeat: repeats must be an int >= 0, got {repeats!r}")
    if axis is not None:
        axis = _axis(axis, data.ndim, "repeat", data.shape)
    return np.repeat(data, int(repeats), axis=axis)


def _repeat_vjp(g, ins, out, repeats=None, axis=None):
    shape = ins[0].shape
    if axis is None:
        inter, red = (int(np.prod(shape)), repeats), 1
    else:
        ax = axis % len(shape)
        inter, red = shape[:ax + 1] + (repeats,) + shape[ax + 1:], ax + 1
    return (call("sum", g.reshape(inter), axis=red).reshape(shape),)


register(Op("repeat", "movement", _repeat, _repeat_vjp))


# ---- pad ----------------------------------------------------------------------------------
def _pad_pairs(shape, pad_width, mode):
    pw = tuple(int(p) for p in pad_width)
    if len(pw) != 2 * len(shape) or any(p < 0 for p in pw):
        raise ShapeError(f"pad: pad_width {pad_width} must hold 2 non-negative ints per axis of "
                         f"the input of shape {shape} (before/after for each axis, "
                         f"{2 * len(shape)} in all), e.g. (0, 0, 0, 0, 1, 1, 1, 1) for NCHW")
    pairs = tuple((pw[2 * i], pw[2 * i + 1]) for i in range(len(shape)))
    if mode not in ("constant", "edge", "reflect"):
        raise HybridnetValueError(f"pad: mode must be 'constant', 'edge' or 'reflect', got {mode!r}")
    if mode == "reflect":
        for (b, a), s in zip(pairs, shape):
            if max(b, a) >= s and (b or a):
                raise ShapeError(f"pad: reflect padding {max(b, a)} must be smaller than the "
                                 f"axis size {s} (input shape {shape}); use mode='edge' or "
                                 "pad less")
    return pairs


def _pad(data, mode="constant", pad_width=(), constant_value=0.0):
    """Pad ``data`` with ``mode`` 'constant', 'edge' or 'reflect'.

    ``pad_width`` lists (before, after) for every axis, flattened (MXNet layout):
    ``(0, 0, 0, 0, 1, 1, 2, 2)`` pads H by 1 and W by 2 of an NCHW array.
    """
    pairs = _pad_pairs(data.shape, pad_width, mode)
    if mode == "constant":
        return np.pad(data, pairs, mode="constant", constant_values=data.dtype.type(constant_value))
    return np.pad(data, pairs, mode=mode)


def _pad_vjp(g, ins, out, mode="constant", pad_width=(), constant_value=0.0):
    from ..ndarray.ndarray import _Key
    shape = ins[0].shape
    pairs = _pad_pairs(shape, pad_width, mode)
    if mode == "constant":
        key = tuple(slice(b, b + s) for (b, a), s in zip(pairs, shape))
        return (call("getitem", g, key=_Key(key)),)
    # edge/reflect: every output element is a copy of one input element; fold the
    # padded borders back onto their sources one axis at a time (a scatter-add).
    for ax in reversed(range(len(shape))):
        b, a = pairs[ax]
        if not (b or a):
            continue
        src = np.pad(np.arange(shape[ax]), (b, a), mode=mode)
        key = (slice(None),) * ax + (src,)
        new_shape = g.shape[:ax] + (shape[ax],) + g.shape[ax + 1:]
        g = call("_scatter_add", g, shape=new_shape, key=_Key(key))
    return (g,)


register(Op("pad", "movement", _pad, _pad_vjp))
