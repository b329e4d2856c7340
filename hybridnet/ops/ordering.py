"""Sorting ops: sort, argsort, topk (MXNet 1.x signatures), and the gather/scatter
along an axis that their gradients use.

Indices come back as floats (``dtype='float32'`` by default) like MXNet. Ties
keep their original order (stable sort), in descending order too. ``axis=None``
sorts the flattened array. ``sort`` and ``topk(ret_typ='value')`` are
differentiable: the gradient of each selected value goes back to where it came
from.
"""
import numpy as np

from ..base import HybridnetValueError, ShapeError
from ._util import call
from .reduce import reduce_axes
from .registry import Op, frontend, register


def _order(name, data, axis, is_ascend):
    """(array sorted along ``axis``, int64 permutation); ``axis=None`` flattens first."""
    if axis is None:
        data, axis = data.reshape(-1), 0
    else:
        if not isinstance(axis, (int, np.integer)):
            raise ShapeError(f"{name}: axis must be an int or None, got {axis!r}")
        reduce_axes(name, data.shape, axis)
    if is_ascend:
        perm = np.argsort(data, axis=axis, kind="stable")
    elif data.dtype.kind in "iuf" and data.dtype.kind != "u":
        perm = np.argsort(-data, axis=axis, kind="stable")   # stable: first tie first
    else:
        perm = np.flip(np.argsort(data, axis=axis, kind="stable"), axis=axis)
    return data, axis, perm


def _sort(data, axis=-1, is_ascend=True):
    """``data`` sorted along ``axis`` (ascending unless ``is_ascend=False``)."""
    d, ax, perm = _order("sort", data, axis, is_ascend)
    return np.take_along_axis(d, perm, ax)


def _sort_vjp(g, ins, out, axis=-1, is_ascend=True):
    x = ins[0]
    xs = x.reshape((-1,)) if axis is None else x
    ax = 0 if axis is None else axis
    perm = call("argsort", xs, axis=ax, is_ascend=is_ascend, dtype="int64")
    return (call("_scatter_axis", g, perm, axis=ax, size=xs.shape[ax]).reshape(x.shape),)


register(Op("sort", "opaque", _sort, _sort_vjp))


def _argsort(data, axis=-1, is_ascend=True, dtype="float32"):
    """Indices that sort ``data`` along ``axis``, as ``dtype`` (float32 by default, MXNet)."""
    return _order("argsort", data, axis, is_ascend)[2].astype(dtype)


register(Op("argsort", "opaque", _argsort))

_RET_TYPES = ("value", "indices", "mask", "both")


def _topk(data, axis=-1, k=1, ret_typ="indices", is_ascend=False, dtype="float32"):
    """The ``k`` largest (smallest if ``is_ascend``) elements along ``axis``.

    ``ret_typ``: ``'indices'`` (as ``dtype``), ``'value'``, ``'mask'`` (1 at the
    selected positions, in data's dtype) or ``'both'`` (``[value, indices]``).
    ``k < 1`` selects all.
    """
    if ret_typ not in _RET_TYPES[:3]:
        raise HybridnetValueError(f"topk: ret_typ must be one of {_RET_TYPES}, got {ret_typ!r}")
    d, ax, perm = _order("topk", data, axis, is_ascend)
    n = d.shape[ax]
    if k > n:
        raise ShapeError(f"topk: k={k} is larger than the size {n} of axis {axis} "
                         f"(input shape {data.shape}); use k <= {n}")
    idx = perm if k < 1 else np.take(perm, np.arange(k), axis=ax)
    if ret_typ == "indices":
        return idx.astype(dtype)
    if ret_typ == "value":
        return np.take_along_axis(d, idx, ax)
    mask = np.zeros(d.shape, data.dtype)
    np.put_along_axis(mask, idx, 1, ax)
    return mask.reshape(data.shape)


def _topk_vjp(g, ins, out, axis=-1, k=1, ret_typ="indices", is_ascend=False, dtype="float32"):
    x = ins[0]
    if ret_typ != "value":
        return (x * 0,)           # indices and masks are piecewise constant
    xs = x.reshape((-1,)) if axis is None else x
    ax = 0 if axis is None else axis
    idx = call("topk", xs, axis=ax, k=k, ret_typ="indices", is_ascend=is_ascend,
               dtype="int64")
    return (call("_scatter_axis", g, idx, axis=ax, size=xs.shape[ax]).reshape(x.shape),)


_TOPK = register(Op("topk", "opaque", _topk, _topk_vjp))


@frontend("topk")
def topk(data, axis=-1, k=1, ret_typ="indices", is_ascend=False, dtype="float32", out=None,
         name=None):
    """The ``k`` largest (smallest if ``is_ascend``) elements of ``data`` along ``axis``.

    Parameters
    ----------
    data : NDArray
    axis : int or None
        Axis to select along; None flattens the input first.
    k : int
        Number of elements to select; ``k < 1`` selects all.
    ret_typ : {'indices', 'value', 'mask', 'both'}
        What to return; ``'both'`` gives ``[values, indices]``.
    is_ascend : bool
        Select the smallest instead of the largest.
    dtype : str
        Dtype of the returned indices (float32 like MXNet).
    """
    from ..ndarray._api import _to_nd, finish
    from ..ndarray.ndarray import invoke
    x = _to_nd(data)
    attrs = {"axis": axis, "k": int(k), "is_ascend": bool(is_ascend),
             "dtype": np.dtype(dtype).name}
    if ret_typ == "both":
        return [invoke(_TOPK, (x,), dict(attrs, ret_typ="value")),
                invoke(_TOPK, (x,), dict(attrs, ret_typ="indices"))]
    return finish(invoke(_TOPK, (x,), dict(attrs, ret_typ=ret_typ)), out)


# ---- gather / scatter along one axis (the gradients of sort and topk) --------------------
def _gather_axis(data, index, axis=-1):
    """``data`` picked at ``index`` along ``axis`` (NumPy ``take_along_axis``)."""
    return np.take_along_axis(data, index.astype(np.intp), axis)


register(Op("_gather_axis", "opaque", _gather_axis,
            lambda g, ins, out, axis=-1: (call("_scatter_axis", g, ins[1], axis=axis,
                                                size=ins[0].shape[axis]), None),
            nondiff_args=("index",)))


def _scatter_axis(data, index, axis=-1, size=0):
    """Zeros with ``axis`` of length ``size``, with ``data`` added at ``index`` along ``axis``."""
    shape = list(data.shape)
    shape[axis] = size
    out = np.zeros(shape, data.dtype)
    pos = list(np.indices(index.shape, sparse=True))
    pos[axis] = index.astype(np.intp)
    np.add.at(out, tuple(pos), data)
    return out


register(Op("_scatter_axis", "opaque", _scatter_axis,
            lambda g, ins, out, axis=-1, size=0: (call("_gather_axis", g, ins[1], axis=axis),
                                                  None),
            nondiff_args=("index",)))
