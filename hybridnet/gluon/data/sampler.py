"""Samplers: which dataset indices make up an epoch, and how they group into batches."""
import numpy as np

from ...base import HybridnetValueError
from ... import random as _random

__all__ = ["Sampler", "SequentialSampler", "RandomSampler", "BatchSampler", "IntervalSampler"]

_LAST_BATCH = ("keep", "discard", "rollover")


class Sampler:
    """Base class: an iterable over dataset indices with a length."""

    def __iter__(self):
        raise NotImplementedError

    def __len__(self):
        raise NotImplementedError


class SequentialSampler(Sampler):
    """Samples ``start, start + 1, ..., start + length - 1`` in order.

    Parameters
    ----------
    length : int
        Number of elements to sample.
    start : int, default 0
        The first index.
    """

    def __init__(self, length, start=0):
        self._length = int(length)
        self._start = int(start)

    def __iter__(self):
        return iter(range(self._start, self._start + self._length))

    def _index_list(self):
        return list(range(self._start, self._start + self._length))

    def __len__(self):
        return self._length


class RandomSampler(Sampler):
    """Samples ``0 .. length - 1`` in a random order (a fresh permutation per epoch).

    The permutation is drawn from ``hybridnet.random.generator()`` when the
    epoch starts, so ``hybridnet.random.seed(n)`` makes the order reproducible.

    Parameters
    ----------
    length : int
        Number of elements to sample.
    """

    def __init__(self, length):
        self._length = int(length)

    def __iter__(self):
        return iter(self._index_list())

    def _index_list(self):
        return _random.generator().permutation(self._length).tolist()

    def __len__(self):
        return self._length


class IntervalSampler(Sampler):
    """Samples ``0, k, 2k, ..., 1, k+1, ...`` (every ``interval``-th element, then the next offset).

    Parameters
    ----------
    length : int
        Length of the sequence.
    interval : int
        The step between consecutive samples.
    rollover : bool, default True
        Whether to start again from offset 1, 2, ... after reaching the end.
    """

    def __init__(self, length, interval, rollover=True):
        if not 0 < interval <= length:
            raise HybridnetValueError(f"IntervalSampler: interval {interval} must be in "
                                      f"(0, length={length}]")
        self._length, self._interval, self._rollover = int(length), int(interval), rollover

    def __iter__(self):
        offsets = range(self._interval) if self._rollover else range(1)
        for i in offsets:
            yield from range(i, self._length, self._interval)

    def __len__(self):
        return self._length if self._rollover else len(range(0, self._length, self._interval))


class BatchSampler(Sampler):
    """Groups the indices of ``sampler`` into lists of ``batch_size``.

    Parameters
    ----------
    sampler : Sampler
        The source of indices.
    batch_size : int
        Size of each batch.
    last_batch : {'keep', 'discard', 'rollover'}, default 'keep'
        What to do with the last, incomplete batch: ``keep`` yields it smaller,
        ``discard`` drops it, ``rollover`` carries its indices over to the
        start of the next epoch.

    Examples
    --------
    >>> list(BatchSampler(SequentialSampler(10), 3, 'keep'))
    [[0, 1, 2], [3, 4, 5], [6, 7, 8], [9]]
    """

    def __init__(self, sampler, batch_size, last_batch="keep"):
        if last_batch not in _LAST_BATCH:
            raise HybridnetValueError(f"BatchSampler: last_batch must be one of {_LAST_BATCH}, "
                                      f"got {last_batch!r}")
        if int(batch_size) <= 0:
            raise HybridnetValueError(f"BatchSampler: batch_size must be a positive integer, "
                                      f"got {batch_size!r}")
        self._sampler = sampler
        self._batch_size = int(batch_size)
        self._last_batch = last_batch
        self._prev = []

    def __iter__(self):
        batch, self._prev = self._prev, []
        bs = self._batch_size
        whole = getattr(self._sampler, "_index_list", None)
        if whole is not None:  # our samplers: slice the epoch's list instead of appending
            seq = batch + whole()
            n = len(seq) - len(seq) % bs
            for s in range(0, n, bs):
                yield seq[s:s + bs]
            batch = seq[n:]
            if batch and self._last_batch == "keep":
                yield batch
            elif batch and self._last_batch == "rollover":
                self._prev = batch
            return
        for i in self._sampler:
            batch.append(int(i) if isinstance(i, np.integer) else i)
            if len(batch) == bs:
                yield batch
                batch = []
        if batch:
            if self._last_batch == "keep":
                yield batch
            elif self._last_batch == "rollover":
                self._prev = batch

    def __len__(self):
        n, bs = len(self._sampler), self._batch_size
        if self._last_batch == "keep":
            return (n + bs - 1) // bs
        if self._last_batch == "discard":
            return n // bs
        return (len(self._prev) + n) // bs
