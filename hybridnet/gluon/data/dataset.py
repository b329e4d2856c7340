"""Datasets: indexable collections of samples, and lazy transforms over them."""
import numpy as np

from ...base import HybridnetValueError, ShapeError
from ...ndarray.ndarray import NDArray, wrap
from ._batchify import default_batchify_fn, gather, get_batch

__all__ = ["Dataset", "SimpleDataset", "ArrayDataset"]


class Dataset:
    """Abstract dataset: implement ``__getitem__`` and ``__len__``.

    Samples are usually tuples ``(data, label)``; ``transform_first`` maps the
    first field only.
    """

    def __getitem__(self, idx):
        raise NotImplementedError

    def __len__(self):
        raise NotImplementedError

    def transform(self, fn, lazy=True):
        """A dataset whose samples are ``fn(*sample)`` (or ``fn(sample)`` for non-tuples).

        Parameters
        ----------
        fn : callable
            The transform.
        lazy : bool, default True
            Apply ``fn`` when a sample is read (True) or to every sample now
            (False, returning a ``SimpleDataset``).
        """
        trans = _LazyTransformDataset(self, fn)
        if lazy:
            return trans
        return SimpleDataset([trans[i] for i in range(len(trans))])

    def transform_first(self, fn, lazy=True):
        """Like ``transform`` but only the first field of each sample goes through ``fn``.

        Example: ``mnist.transform_first(transforms.ToTensor())`` maps the image
        and keeps the label.
        """
        return self.transform(_TransformFirstClosure(fn), lazy)

    def filter(self, fn):
        """A dataset of the samples for which ``fn(sample)`` is true."""
        return _IndexedDataset(self, [i for i in range(len(self)) if fn(self[i])])

    def take(self, count):
        """A dataset of the first ``count`` samples (all of them when ``count`` is None)."""
        n = len(self) if count is None else min(int(count), len(self))
        return _IndexedDataset(self, list(range(n)))

    def shard(self, num_shards, index):
        """The ``index``-th of ``num_shards`` contiguous, near-equal parts of the dataset."""
        if not 0 <= index < num_shards:
            raise HybridnetValueError(f"Dataset.shard: index {index} must be in "
                                      f"[0, num_shards={num_shards})")
        n = len(self)
        size, rest = divmod(n, num_shards)
        start = size * index + min(index, rest)
        return _IndexedDataset(self, list(range(start, start + size + (index < rest))))

    def sample(self, sampler):
        """A dataset of the samples at the indices ``sampler`` yields (drawn once, now)."""
        return _IndexedDataset(self, [int(i) for i in sampler])


def _item_getter(arr):
    """``arr[i]`` without the op-dispatch cost for NDArrays (a view, as MXNet returns)."""
    if isinstance(arr, NDArray):
        data, ctx = arr._data, arr._ctx
        return lambda i: wrap(data[i], ctx)
    return arr.__getitem__


class SimpleDataset(Dataset):
    """A dataset wrapping anything with ``__getitem__`` and ``__len__`` (list, array).

    Parameters
    ----------
    data : list, numpy.ndarray or NDArray
    """

    def __init__(self, data):
        self._data = data
        self._get = _item_getter(data)

    def __len__(self):
        return len(self._data)

    def __getitem__(self, idx):
        return self._get(idx)

    def _get_batch(self, indices):
        if isinstance(self._data, (np.ndarray, NDArray)):
            return gather(self._data, indices)
        return NotImplemented


class ArrayDataset(Dataset):
    """A dataset zipping several arrays: sample ``i`` is ``(a[i], b[i], ...)``.

    With a single array, sample ``i`` is ``a[i]`` itself. Like Gluon, 1-D
    NDArrays are kept as NumPy arrays so their samples are scalars.

    Parameters
    ----------
    *args : NDArray, numpy.ndarray or list
        Arrays of equal length.
    """

    def __init__(self, *args):
        if not args:
            raise HybridnetValueError("ArrayDataset needs at least one array")
        self._length = len(args[0])
        self._data = []
        for i, data in enumerate(args):
            if len(data) != self._length:
                raise ShapeError(f"ArrayDataset: all arrays must have the same length; array 0 "
                                 f"has length {self._length} while array {i} has {len(data)}")
            if isinstance(data, NDArray) and data.ndim == 1:
                data = data.asnumpy()
            self._data.append(data)
        self._gets = [_item_getter(d) for d in self._data]

    def __len__(self):
        return self._length

    def __getitem__(self, idx):
        if len(self._gets) == 1:
            return self._gets[0](idx)
        return tuple(g(idx) for g in self._gets)

    def _get_batch(self, indices):
        fields = []
        for d, g in zip(self._data, self._gets):
            if isinstance(d, (np.ndarray, NDArray)):
                fields.append(gather(d, indices))
            else:
                fields.append(default_batchify_fn([g(i) for i in indices]))
        return fields[0] if len(fields) == 1 else fields


class _IndexedDataset(Dataset):
    """``base`` seen through a list of indices (filter, take, shard, sample)."""

    def __init__(self, base, indices):
        self._base = base
        self._indices = indices

    def __len__(self):
        return len(self._indices)

    def __getitem__(self, idx):
        return self._base[self._indices[idx]]

    def _get_batch(self, indices):
        return get_batch(self._base, [self._indices[i] for i in indices])


class _TransformFirstClosure:
    """``fn`` applied to the first field of a sample (a class so workers can pickle it)."""

    def __init__(self, fn):
        self._fn = fn

    def __call__(self, x, *args):
        if args:
            return (self._fn(x),) + args
        return self._fn(x)


def _flatten(fn):
    inner = getattr(fn, "_transforms", None)
    if inner is None or not isinstance(inner, list):
        return [fn]
    return [t for f in inner for t in _flatten(f)]


def _split_batchable(fn):
    """Split ``fn`` into a per-sample prefix and a suffix that may run on the stacked batch.

    A transform may run on the batch when its own class defines
    ``_batch_forward`` (ToTensor, Normalize, Cast): those work element- or
    channel-wise, so ``stack(t(x_i)) == t(stack(x_i))`` exactly (same float32
    operations on the same elements). Subclasses do not inherit the marker,
    so an overridden ``forward`` is always honoured.
    """
    parts = _flatten(fn)
    k = len(parts)
    while k and "_batch_forward" in type(parts[k - 1]).__dict__:
        k -= 1
    return parts[:k], parts[k:]


class _LazyTransformDataset(Dataset):
    """Samples of ``data`` mapped through ``fn`` when they are read."""

    def __init__(self, data, fn):
        self._data = data
        self._fn = fn

    def __len__(self):
        return len(self._data)

    def __getitem__(self, idx):
        item = self._data[idx]
        if isinstance(item, tuple):
            return self._fn(*item)
        return self._fn(item)

    def _get_batch(self, indices):
        first = isinstance(self._fn, _TransformFirstClosure)
        prefix, suffix = _split_batchable(self._fn._fn if first else self._fn)
        if not suffix:
            return NotImplemented
        if prefix:
            items = [self._data[i] for i in indices]
            if isinstance(items[0], tuple):
                if not first:
                    return NotImplemented  # fn(*item): let the per-sample path raise
                items = [(_chain(prefix, it[0]),) + it[1:] for it in items]
            else:
                items = [_chain(prefix, it) for it in items]
            batch = default_batchify_fn(items)
        else:
            batch = get_batch(self._data, indices)
        if isinstance(batch, list):
            if not first:
                return NotImplemented
            head = _apply_batch(suffix, batch[0])
            return NotImplemented if head is NotImplemented else [head] + batch[1:]
        return _apply_batch(suffix, batch)


def _chain(fns, x):
    for f in fns:
        x = f(x)
    return x


def _apply_batch(suffix, batch):
    for t in suffix:
        batch = t._batch_forward(batch)
        if batch is NotImplemented:
            return NotImplemented
    return batch
