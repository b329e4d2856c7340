"""Indexing ops: x[key], slice, slice_axis, slice_like, take, pick, one_hot, gather_nd, diag.

Gradients of gathers are scatter-adds (``_scatter_add``, ``_take_grad`` ...): private
ops whose own VJP is the matching gather, so second-order and traced backward
graphs work. Index arrays are inputs that get no gradient (``nondiff_args``).
"""
import numpy as np

from ..base import HybridnetValueError, ShapeError
from ._util import call
from .nn_rows_kernels import pick_grad_kernel, pick_kernel
from .registry import Op, register

_BASIC = (slice, int, type(None), type(Ellipsis))


def _key():
    from ..ndarray.ndarray import _Key  # ndarray imports ops: import lazily
    return _Key


def _np_index(key):
    items = key.items
    return items[0] if len(items) == 1 else tuple(items)


def _getitem(data, key=None):
    """``data[key]`` with NumPy's basic and advanced indexing (``key`` is a hashable ``_Key``).

    Like MXNet 1.x, a result that would be 0-d has shape (1,), and a contiguous basic
    slice (``x[1]``, ``x[2:5]``) shares memory with ``data``.
    """
    try:
        r = data[_np_index(key)]
    except IndexError as e:
        raise ShapeError(f"indexing an array of shape {data.shape} with {key!r}: {e}") from None
    if not isinstance(r, np.ndarray) or r.ndim == 0:
        return np.asarray(r).reshape(1)
    return r if r.flags.c_contiguous else np.ascontiguousarray(r)


register(Op("getitem", "movement", _getitem,
            lambda g, ins, out, key=None: (call("_scatter_add", g, shape=ins[0].shape, key=key),)))


def _indexed_shape(shape, idx):
    """Shape of ``zeros(shape)[idx]`` without allocating ``shape``."""
    return np.broadcast_to(np.zeros((), np.int8), shape)[idx].shape


def _scatter_add(data, shape=(), key=None):
    """Zeros of ``shape`` with ``data`` added at ``key`` (repeated indices accumulate).

    The gradient of ``getitem``: ``out[key] += data``.
    """
    out = np.zeros(shape, data.dtype)
    idx = _np_index(key)
    if all(isinstance(k, _BASIC) for k in key.items):
        view = out[idx]     # basic indexing: a view, no repeated elements
        if isinstance(view, np.ndarray) and view.ndim:
            view += data.reshape(view.shape)
        else:
            out[idx] += data.reshape(())
        return out
    items = []
    for k in (idx if isinstance(idx, tuple) else (idx,)):
        # np.add.at wants integer index arrays; a boolean mask is its nonzero() positions.
        items.extend(np.nonzero(k) if isinstance(k, np.ndarray) and k.dtype == np.bool_ else (k,))
    idx = tuple(items)
    np.add.at(out, idx, data.reshape(_indexed_shape(shape, idx)))
    return out


register(Op("_scatter_add", "opaque", _scatter_add,
            lambda g, ins, out, shape=(), key=None: (call("getitem", g, key=key),)))


# ---- slice / slice_axis / slice_like ------------------------------------------------------
def _slice_range(n, b, e, s, i, shape, op):
    """One axis of MXNet's slice: bounds-checked (begin, stop, step) -> Python slice."""
    if s == 0:
        raise ShapeError(f"{op}: step[{i}] cannot be 0")
    if n == 0:
        return slice(None)
    b0, e0 = b, e
    b = (n - 1 if s < 0 else 0) if b is None else int(b)
    if b < 0:
        b += n
    if not 0 <= b < n:
        raise ShapeError(f"{op}: begin[{i}]={b0} is out of range for axis {i} of size {n} "
                         f"(input shape {shape}); pass a begin in [{-n}, {n})")
    if e is None:
        e = -1 if s < 0 else n          # -1: run through index 0 with a negative step
    else:
        e = int(e) + (n if int(e) < 0 else 0)
        if not 0 <= e <= n:
            raise ShapeError(f"{op}: end[{i}]={e0} is out of range for axis {i} of size {n} "
                             f"(input shape {shape}); pass an end in [{-n}, {n}] or None")
    if (s > 0 and b >= e) or (s < 0 and e >= b):
        raise ShapeError(f"{op}: begin[{i}]={b0}, end[{i}]={e0}, step={s} select nothing on axis "
                         f"{i} of size {n} (input shape {shape}); empty slices are not supported")
    return slice(b, None if e < 0 else e, s)


def _slice_key(shape, begin, end, step):
    if begin is None or end is None:
        raise HybridnetValueError("slice: pass begin and end, e.g. begin=(0, 1), end=(2, None)")
    begin, end = tuple(begin), tuple(end)
    step = tuple(step) if step else (None,) * len(begin)
    if len(begin) != len(end) or len(step) != len(begin) or len(begin) > len(shape):
        raise ShapeError(f"slice: begin {begin}, end {end} and step {step} must have the same "
                         f"length, at most the {len(shape)} dims of the input shape {shape}")
    return tuple(_slice_range(shape[i], b, e, 1 if s is None else int(s), i, shape, "slice")
                 for i, (b, e, s) in enumerate(zip(begin, end, step)))


def _slice(data, begin=None, end=None, step=()):
    """``data[begin[0]:end[0]:step[0], begin[1]:end[1]:step[1], ...]`` (MXNet ``slice``).

    ``None`` entries take the default for that axis; missing trailing axes are kept whole.
    """
    return np.ascontiguousarray(data[_slice_key(data.shape, begin, end, step)])


def _slice_vjp(g, ins, out, begin=None, end=None, step=()):
    key = _key()(_slice_key(ins[0].shape, begin, end, step))
    return (call("_scatter_add", g, shape=ins[0].shape, key=key),)


register(Op("slice", "movement", _slice, _slice_vjp))


def _slice_axis_key(shape, axis, begin, end):
    if axis is None:
        raise HybridnetValueError("slice_axis: pass the axis to slice, e.g. axis=1")
    n = len(shape)
    if not -n <= axis < n:
        raise ShapeError(f"slice_axis: axis {axis} is out of range for an input of shape {shape}")
    ax = axis % n
    return (slice(None),) * ax + (_slice_range(shape[ax], begin, end, 1, ax, shape, "slice_axis"),)


def _slice_axis(data, axis=None, begin=0, end=None):
    """Elements ``begin:end`` along ``axis`` (negative indices count from the end; end None = all)."""
    return np.ascontiguousarray(data[_slice_axis_key(data.shape, axis, begin, end)])


def _slice_axis_vjp(g, ins, out, axis=None, begin=0, end=None):
    key = _key()(_slice_axis_key(ins[0].shape, axis, begin, end))
    return (call("_scatter_add", g, shape=ins[0].shape, key=key),)


register(Op("slice_axis", "movement", _slice_axis, _slice_axis_vjp))


def _slice_like_key(shape, like, axes):
    if len(like) != len(shape):
        raise ShapeError(f"slice_like: data of shape {shape} and shape_like of shape {like} must "
                         "have the same number of dims")
    axes = range(len(shape)) if not axes else [a % len(shape) for a in
                                                 ((axes,) if isinstance(axes, int) else axes)]
    key = [slice(None)] * len(shape)
    for a in axes:
        if like[a] > shape[a]:
            raise ShapeError(f"slice_like: shape_like {like} is larger than data {shape} on axis {a}")
        key[a] = slice(0, like[a])
    return tuple(key)


def _slice_like(data, shape_like, axes=()):
    """``data`` cut (from the start) to the shape of ``shape_like`` along ``axes`` (all if ())."""
    return np.ascontiguousarray(data[_slice_like_key(data.shape, shape_like.shape, axes)])


def _slice_like_vjp(g, ins, out, axes=()):
    key = _key()(_slice_like_key(ins[0].shape, ins[1].shape, axes))
    return (call("_scatter_add", g, shape=ins[0].shape, key=key), None)


register(Op("slice_like", "movement", _slice_like, _slice_like_vjp, nondiff_args=("shape_like",)))


# ---- take / pick / one_hot ----------------------------------------------------------------
def _fix_index(idx, n, mode, op):
    """Integer positions (floats truncate, like MXNet) with out-of-range handled by ``mode``."""
    idx = np.asarray(idx).astype(np.int64)
    if mode == "clip":
        return np.clip(idx, 0, n - 1)
    if mode == "wrap":
        return np.mod(idx, n)
    if mode == "raise":
        if idx.size and (idx.min() < -n or idx.max() >= n):
            raise ShapeError(f"{op}: an index is out of range [{-n}, {n}) (min {idx.min()}, max "
                             f"{idx.max()}); use mode='clip' or 'wrap' or fix the indices")
        return idx
    raise HybridnetValueError(f"{op}: mode must be 'clip', 'wrap' or 'raise', got {mode!r}")


def _take(a, indices, axis=0, mode="clip"):
    """Elements of ``a`` at ``indices`` along ``axis``; out shape a.shape[:axis] + indices.shape +
    a.shape[axis+1:]. ``mode`` 'clip' (default) or 'wrap' handles out-of-range indices."""
    if not -a.ndim <= axis < a.ndim:
        raise ShapeError(f"take: axis {axis} is out of range for an input of shape {a.shape}")
    return np.take(a, _fix_index(indices, a.shape[axis], mode, "take"), axis=axis)


def _take_vjp(g, ins, out, axis=0, mode="clip"):
    return (call("_take_grad", g, ins[1], axis=axis % ins[0].ndim, mode=mode,
                 shape=ins[0].shape), None)


register(Op("take", "movement", _take, _take_vjp, nondiff_args=("indices",)))


def _take_grad(grad, indices, axis=0, mode="clip", shape=()):
    """Scatter-add ``grad`` back to an array of ``shape`` (gradient of ``take``)."""
    out = np.zeros(shape, grad.dtype)
    idx = _fix_index(indices, shape[axis], mode, "take")
    k = idx.ndim
    g = np.moveaxis(grad, list(range(axis, axis + k)), list(range(k)))
    np.add.at(np.moveaxis(out, axis, 0), idx, g)
    return out


register(Op("_take_grad", "opaque", _take_grad,
            lambda g, ins, out, axis=0, mode="clip", shape=():
            (call("take", g, ins[1], axis=axis, mode=mode), None), nondiff_args=("indices",)))


def _pick_index(shape, index, axis, mode):
    n = len(shape)
    if not -n <= axis < n:
        raise ShapeError(f"pick: axis {axis} is out of range for data of shape {shape}")
    ax = axis % n
    keep = shape[:ax] + (1,) + shape[ax + 1:]
    red = shape[:ax] + shape[ax + 1:]
    if index.shape not in (keep, red, red or (1,)):
        raise ShapeError(f"pick: index of shape {index.shape} does not fit data of shape {shape} "
                         f"with axis={axis}; it must have shape {red or (1,)} (or {keep})")
    return ax, _fix_index(index, shape[ax], mode, "pick").reshape(keep), keep, red or (1,)


def _pick(data, index, axis=-1, keepdims=False, mode="clip"):
    """``data[..., index[...], ...]`` along ``axis``: one element per lane (e.g. the score of
    each sample's label). ``index`` has data's shape without ``axis``."""
    ax, idx, keep, red = _pick_index(data.shape, index, axis, mode)
    r = np.take_along_axis(data, idx, axis=ax)
    return r if keepdims else r.reshape(red)


def _pick_vjp(g, ins, out, axis=-1, keepdims=False, mode="clip"):
    return (call("_pick_grad", g, ins[1], axis=axis, mode=mode, shape=ins[0].shape), None)


register(Op("pick", "movement", _pick, _pick_vjp, nondiff_args=("index",), kernel=pick_kernel))


def _pick_grad(grad, index, axis=-1, mode="clip", shape=()):
    """Zeros of ``shape`` with ``grad`` placed at the picked positions (gradient of ``pick``)."""
    ax, idx, keep, red = _pick_index(shape, index, axis, mode)
    out = np.zeros(shape, grad.dtype)
    np.put_along_axis(out, idx, grad.reshape(keep), axis=ax)  # one position per lane: no clash
    return out


register(Op("_pick_grad", "opaque", _pick_grad,
            lambda g, ins, out, axis=-1, mode="clip", shape=():
            (call("pick", g, ins[1], axis=axis, mode=mode).reshape(ins[0].shape), None),
            nondiff_args=("index",), kernel=pick_grad_kernel))


def _one_hot(indices, depth=None, on_value=1.0, off_value=0.0, dtype="float32"):
    """One-hot rows: shape indices.shape + (depth,); out-of-range indices give all ``off_value``."""
    if depth is None or int(depth) < 1:
        raise HybridnetValueError(f"one_hot: depth must be a positive int, got {depth!r}")
    idx = np.asarray(indices).astype(np.int64)
    hot = idx[..., None] == np.arange(int(depth))
    return np.where(hot, on_value, off_value).astype(dtype)


register(Op("one_hot", "movement", _one_hot, None))


# ---- gather_nd / diag ---------------------------------------------------------------------
def _nd_index(shape, indices):
    idx = np.asarray(indices).astype(np.int64)
    if idx.ndim == 0 or idx.shape[0] > len(shape):
        raise ShapeError(f"gather_nd: indices of shape {np.shape(indices)} must have a first dim "
                         f"<= {len(shape)} (the dims of data {shape})")
    for i in range(idx.shape[0]):
        if idx[i].size and (idx[i].min() < -shape[i] or idx[i].max() >= shape[i]):
            raise ShapeError(f"gather_nd: indices for axis {i} run outside [{-shape[i]}, "
                             f"{shape[i]}) (data shape {shape})")
    return tuple(idx)


def _gather_nd(data, indices):
    """``out[y...] = data[indices[0, y...], ..., indices[M-1, y...], ...]``; shape
    indices.shape[1:] + data.shape[M:]."""
    return np.ascontiguousarray(data[_nd_index(data.shape, indices)])


register(Op("gather_nd", "movement", _gather_nd,
            lambda g, ins, out: (call("_gather_nd_grad", g, ins[1], shape=ins[0].shape), None),
            nondiff_args=("indices",)))


def _gather_nd_grad(grad, indices, shape=()):
    """Zeros of ``shape`` with ``grad`` added at ``indices`` (gradient of ``gather_nd``)."""
    out = np.zeros(shape, grad.dtype)
    np.add.at(out, _nd_index(shape, indices), grad)
    return out


register(Op("_gather_nd_grad", "opaque", _gather_nd_grad,
            lambda g, ins, out, shape=(): (call("gather_nd", g, ins[1]), None),
            nondiff_args=("indices",)))


def _diag_positions(shape, k):
    m, n = shape
    i = np.arange(max(0, -k), min(m, n - k))
    return i, i + k


def _diag(data, k=0):
    """The k-th diagonal of a 2-D array, or a 2-D array with a 1-D input on its k-th diagonal."""
    if data.ndim not in (1, 2):
        raise ShapeError(f"diag: input must be 1-D or 2-D, got shape {data.shape}")
    if data.ndim == 2 and len(_diag_positions(data.shape, k)[0]) == 0:
        raise ShapeError(f"diag: k={k} is outside the input of shape {data.shape}")
    return np.ascontiguousarray(np.diag(data, k))


def _diag_vjp(g, ins, out, k=0):
    if ins[0].ndim == 1:
        return (call("diag", g, k=k),)
    key = _key()(_diag_positions(ins[0].shape, k))
    return (call("_scatter_add", g, shape=ins[0].shape, key=key),)


register(Op("diag", "movement", _diag, _diag_vjp))
