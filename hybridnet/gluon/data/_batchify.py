"""Collating samples into a batch, and the batch-level fast path.

``default_batchify_fn`` is Gluon 1.x's: NDArrays are stacked, tuples are
batched per field (a list comes back), anything else goes through
``np.asarray`` and keeps its NumPy dtype (MNIST's int32 labels stay int32,
Python ints become int64, Python floats float64).

``get_batch(dataset, indices)`` returns exactly
``default_batchify_fn([dataset[i] for i in indices])``, but lets datasets
that can do better (arrays gathered with one fancy index, transforms applied
to the whole stacked batch) skip the per-sample Python loop. A dataset opts in
with a ``_get_batch(indices)`` method that returns the batch or
``NotImplemented``.
"""
import numpy as np

from ...ndarray.ndarray import NDArray, wrap

__all__ = ["default_batchify_fn", "default_mp_batchify_fn", "get_batch"]


def default_batchify_fn(data):
    """Collate a list of samples into a batch (Gluon 1.x semantics).

    Parameters
    ----------
    data : list
        Samples: NDArrays (stacked), tuples (collated field by field into a
        list) or anything ``np.asarray`` can stack (numbers, NumPy arrays).

    Returns
    -------
    NDArray or list
    """
    first = data[0]
    if isinstance(first, NDArray):
        return wrap(np.stack([d._data for d in data]), first._ctx)
    if isinstance(first, tuple):
        return [default_batchify_fn(list(field)) for field in zip(*data)]
    return wrap(np.asarray(data))


# Workers send NumPy arrays through a pipe, so no shared-memory variant is needed.
default_mp_batchify_fn = default_batchify_fn


def _index_array(indices):
    return np.asarray(indices, dtype=np.intp)


def gather(arr, indices):
    """The default batch of ``[arr[i] for i in indices]`` for a NumPy array or NDArray."""
    if isinstance(arr, NDArray):
        return wrap(arr._data[_index_array(indices)], arr._ctx)
    return wrap(arr[_index_array(indices)])


def get_batch(dataset, indices):
    """``default_batchify_fn([dataset[i] for i in indices])``, vectorised where possible."""
    fast = getattr(dataset, "_get_batch", None)
    if fast is not None:
        out = fast(indices)
        if out is not NotImplemented:
            return out
    elif isinstance(dataset, (np.ndarray, NDArray)):
        return gather(dataset, indices)
    return default_batchify_fn([dataset[i] for i in indices])
