"""Gluon utilities: splitting batches over devices, global gradient-norm clipping."""
import math
import warnings

import numpy as np

from ..base import HybridnetValueError, ShapeError
from ..ndarray.creation import array
from ..ndarray.ndarray import NDArray, wrap

__all__ = ["split_data", "split_and_load", "clip_global_norm"]


def split_data(data, num_slice, batch_axis=0, even_split=True):
    """Split ``data`` into ``num_slice`` slices along ``batch_axis``.

    Parameters
    ----------
    data : NDArray
    num_slice : int
    batch_axis : int, default 0
    even_split : bool, default True
        Require the axis length to be a multiple of ``num_slice``; with False the
        first slices get one extra element each.

    Returns
    -------
    list of NDArray
    """
    if not isinstance(num_slice, int) or num_slice < 1:
        raise HybridnetValueError(f"split_data: num_slice must be a positive int, got "
                                  f"{num_slice!r}")
    if not -data.ndim <= batch_axis < data.ndim:
        raise ShapeError(f"split_data: batch_axis {batch_axis} is out of range for data of shape "
                         f"{data.shape}")
    batch_axis %= data.ndim
    size = data.shape[batch_axis]
    if even_split and size % num_slice != 0:
        raise ShapeError(
            f"split_data: data with shape {data.shape} cannot be evenly split into {num_slice} "
            f"slices along axis {batch_axis}. Use a batch size that's a multiple of {num_slice} "
            "or set even_split=False to allow uneven partitioning of data.")
    if size < num_slice:
        raise ShapeError(f"split_data: cannot split {size} samples (axis {batch_axis} of shape "
                         f"{data.shape}) into {num_slice} non-empty slices; use a larger batch "
                         "or fewer devices")
    each, extras = divmod(size, num_slice)
    bounds = np.cumsum([0] + [each + 1] * extras + [each] * (num_slice - extras))
    lead = (slice(None),) * batch_axis
    return [data[lead + (slice(int(bounds[i]), int(bounds[i + 1])),)]
            for i in range(num_slice)]


def split_and_load(data, ctx_list, batch_axis=0, even_split=True):
    """Split ``data`` along ``batch_axis`` and put slice i on ``ctx_list[i]``.

    ``data`` may be an NDArray or anything ``nd.array`` accepts (a NumPy array ...).
    Returns a list of NDArrays, one per context.
    """
    from ..context import Context
    if isinstance(ctx_list, Context):
        ctx_list = [ctx_list]
    if not ctx_list:
        raise HybridnetValueError("split_and_load: ctx_list is empty; pass e.g. [mx.cpu()]")
    if not isinstance(data, NDArray):
        data = array(data, ctx=ctx_list[0])
    if len(ctx_list) == 1:
        return [data.as_in_context(ctx_list[0])]
    slices = split_data(data, len(ctx_list), batch_axis, even_split)
    return [s.as_in_context(ctx) for s, ctx in zip(slices, ctx_list)]


def clip_global_norm(arrays, max_norm, check_isfinite=True):
    """Rescale ``arrays`` in place so that the L2 norm of all of them together is at most
    ``max_norm``.

    Parameters
    ----------
    arrays : list of NDArray
        Usually gradients: ``[p.grad() for p in net.collect_params().values()]``.
    max_norm : float
    check_isfinite : bool, default True
        Warn when the norm is NaN or inf (the result is then undefined).

    Returns
    -------
    float or NDArray
        The total norm before clipping (a float when ``check_isfinite``, else a
        shape-(1,) NDArray, as in MXNet).
    """
    if not arrays:
        raise HybridnetValueError("clip_global_norm: arrays is empty; pass a list of NDArrays")
    for a in arrays:
        if not isinstance(a, NDArray):
            raise HybridnetValueError(f"clip_global_norm: expected NDArrays, got "
                                      f"{type(a).__name__}")
    # Sum of squares in float64: the norm of many float32 arrays keeps its precision.
    total = math.sqrt(sum(float(np.dot(a._data.ravel().astype(np.float64),
                                       a._data.ravel().astype(np.float64))) for a in arrays))
    if check_isfinite and not math.isfinite(total):
        warnings.warn(UserWarning("nan or inf is detected. Clipping results will be undefined."),
                      stacklevel=2)
    scale = max_norm / (total + 1e-8)
    if scale < 1.0:
        for a in arrays:
            a._data *= a._data.dtype.type(scale)
    if check_isfinite:
        return total
    return wrap(np.array([total], dtype=arrays[0]._data.dtype), arrays[0].context)
