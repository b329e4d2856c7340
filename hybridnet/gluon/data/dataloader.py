"""DataLoader: mini-batches from a Dataset, optionally loaded by worker processes."""
import multiprocessing as mp

from ...base import HybridnetValueError
from . import sampler as _sampler
from ._batchify import default_batchify_fn, default_mp_batchify_fn, get_batch
from ._transport import DataLoaderError
from ._worker import ProcessIter, ThreadIter

__all__ = ["DataLoader", "DataLoaderError", "default_batchify_fn", "default_mp_batchify_fn"]


class DataLoader:
    """Loads data from a dataset and returns mini-batches of data.

    Parameters
    ----------
    dataset : Dataset
        Source dataset (NumPy arrays and NDArrays work directly too).
    batch_size : int
        Size of mini-batch.
    shuffle : bool, default False
        Whether to shuffle the samples (a new order each epoch, drawn from
        ``hybridnet.random``).
    sampler : Sampler, optional
        The sampler to use. Either specify sampler or shuffle, not both.
    last_batch : {'keep', 'discard', 'rollover'}, default 'keep'
        What to do with the last batch when ``batch_size`` does not divide
        ``len(dataset)``: keep it smaller, discard it, or roll its samples
        over into the next epoch.
    batch_sampler : Sampler, optional
        A sampler that yields lists of indices. Do not specify ``batch_size``,
        ``shuffle``, ``sampler`` and ``last_batch`` with it.
    batchify_fn : callable, optional
        Merges a list of samples into a batch; default ``default_batchify_fn``
        (stacks NDArrays/NumPy arrays/numbers, collates tuples field-wise).
    num_workers : int, default 0
        Worker processes (or threads with ``thread_pool=True``) that load and
        transform batches in parallel. Batches still come out in order.
    pin_memory : bool, default False
        Accepted for compatibility (there is no pinned host memory on CPU).
    pin_device_id : int, default 0
        Accepted for compatibility.
    prefetch : int, optional
        Batches in flight with workers (default ``2 * num_workers``).
    thread_pool : bool, default False
        Use threads instead of processes (no fork; transforms share the GIL).
    timeout : float, default 120
        Seconds to wait for one batch from the workers before raising.

    Examples
    --------
    >>> train = gluon.data.vision.MNIST(train=True).transform_first(
    ...     transforms.Compose([transforms.ToTensor(), transforms.Normalize(0.13, 0.31)]))
    >>> for data, label in gluon.data.DataLoader(train, batch_size=128, shuffle=True,
    ...                                          num_workers=4):
    ...     pass  # data: (128, 1, 28, 28) float32, label: (128,) int32
    """

    def __init__(self, dataset, batch_size=None, shuffle=False, sampler=None, last_batch=None,
                 batch_sampler=None, batchify_fn=None, num_workers=0, pin_memory=False,
                 pin_device_id=0, prefetch=None, thread_pool=False, timeout=120,
                 try_nopython=None):
        self._dataset = dataset
        self._pin_memory = pin_memory
        if batch_sampler is None:
            if batch_size is None:
                raise HybridnetValueError("DataLoader: batch_size must be specified unless "
                                          "batch_sampler is specified")
            if sampler is None:
                sampler = (_sampler.RandomSampler if shuffle
                           else _sampler.SequentialSampler)(len(dataset))
            elif shuffle:
                raise HybridnetValueError("DataLoader: shuffle must not be specified if "
                                          "sampler is specified (the sampler sets the order)")
            batch_sampler = _sampler.BatchSampler(sampler, batch_size, last_batch or "keep")
        elif batch_size is not None or shuffle or sampler is not None or \
                last_batch is not None:
            raise HybridnetValueError("DataLoader: batch_size, shuffle, sampler and last_batch "
                                      "must not be specified if batch_sampler is specified")
        self._batch_sampler = batch_sampler
        self._num_workers = max(0, int(num_workers))
        self._prefetch = max(0, int(prefetch) if prefetch is not None
                             else 2 * self._num_workers)
        self._thread_pool = thread_pool
        self._timeout = float(timeout)
        self._batchify_fn = default_batchify_fn if batchify_fn in (
            None, default_mp_batchify_fn) else batchify_fn

    def _in_flight(self):
        return max(1, self._prefetch)

    def _fetch(self, indices):
        """One batch: runs here, in a worker thread, or in a worker process."""
        if self._batchify_fn is default_batchify_fn:
            return get_batch(self._dataset, indices)
        return self._batchify_fn([self._dataset[i] for i in indices])

    def _same_process_iter(self):
        fetch = self._fetch
        for indices in self._batch_sampler:
            yield fetch(indices)

    def __iter__(self):
        # A daemonic process (e.g. inside another loader's worker) may not start children.
        if self._num_workers == 0 or (not self._thread_pool
                                      and mp.current_process().daemon):
            return self._same_process_iter()
        if self._thread_pool:
            return ThreadIter(self)
        return ProcessIter(self)

    def __len__(self):
        return len(self._batch_sampler)
