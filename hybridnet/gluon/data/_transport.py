"""Moving batches and errors between DataLoader worker processes and the parent.

Each in-flight batch owns a *slot*: an anonymous shared memory mapping
created before the workers fork, so every process sees the same pages. The
parent writes the batch's sample indices at the start of the slot, the
worker writes the batch's arrays after them, and only a small description
(offsets, dtypes, shapes) crosses the pipe. The parent copies the arrays out
when the message arrives, so the slot is free for the next batch right away.
Arrays that do not fit (or hold Python objects) are pickled through the pipe
instead, which is also the fallback when shared mappings are unavailable.
"""
import math
import mmap
import pickle
import traceback

import numpy as np

from ...base import HybridnetError
from ...ndarray.ndarray import NDArray, wrap

# Virtual size of a slot; only the pages a batch touches are ever backed by memory.
SLOT_BYTES = 64 << 20


class DataLoaderError(HybridnetError, RuntimeError):
    """A DataLoader worker died, timed out, or raised an error that could not be rebuilt."""


def new_slot():
    """A shared anonymous mapping (None where the platform refuses one)."""
    flags = mmap.MAP_SHARED | getattr(mmap, "MAP_NORESERVE", 0)
    try:
        return mmap.mmap(-1, SLOT_BYTES, flags=flags)
    except (OSError, ValueError, TypeError, AttributeError):
        return None


def _align(n):
    return (n + 63) & ~63


def put_indices(slot, indices):
    """Store the batch's indices in ``slot``; returns what the task message carries."""
    idx = np.asarray(indices, dtype=np.int64).reshape(-1)
    if slot is None or idx.nbytes > len(slot) // 2:
        return list(indices)
    np.frombuffer(slot, np.int64, idx.size, 0)[:] = idx
    return idx.size


def get_indices(slot, spec):
    if isinstance(spec, list):
        return spec, 0
    return np.frombuffer(slot, np.int64, spec, 0).tolist(), _align(8 * spec)


class _ND:
    """An array leaf in transit: in the slot at ``off``, or pickled inline in ``a``."""
    __slots__ = ("a", "off", "dtype", "shape", "nd")

    def __init__(self, a, off, dtype, shape, nd):
        self.a, self.off, self.dtype, self.shape, self.nd = a, off, dtype, shape, nd

    def __reduce__(self):
        return _ND, (self.a, self.off, self.dtype, self.shape, self.nd)


class Packer:
    """Replaces the arrays of a batch by ``_ND`` leaves, copying them into ``slot``."""

    def __init__(self, slot, start):
        self.slot, self.pos = slot, start

    def _leaf(self, arr, nd):
        n = arr.nbytes
        if self.slot is None or arr.dtype.hasobject or self.pos + n > len(self.slot):
            return _ND(arr, -1, None, None, nd)
        off = self.pos
        np.copyto(np.frombuffer(self.slot, arr.dtype, arr.size, off).reshape(arr.shape), arr)
        self.pos = _align(off + n)
        return _ND(None, off, arr.dtype.str, arr.shape, nd)

    def pack(self, obj):
        if isinstance(obj, NDArray):
            return self._leaf(obj._data, True)
        if type(obj) is np.ndarray:
            return self._leaf(obj, False)
        if type(obj) is list:
            return [self.pack(o) for o in obj]
        if type(obj) is tuple:
            return tuple(self.pack(o) for o in obj)
        if type(obj) is dict:
            return {k: self.pack(v) for k, v in obj.items()}
        return obj


def unpack(obj, slot):
    """Rebuild a packed batch, copying its arrays out of ``slot``."""
    if type(obj) is _ND:
        if obj.off < 0:
            a = obj.a
        else:
            count = math.prod(obj.shape)
            a = np.frombuffer(slot, np.dtype(obj.dtype), count, obj.off).reshape(obj.shape).copy()
        return wrap(a) if obj.nd else a
    if type(obj) is list:
        return [unpack(o, slot) for o in obj]
    if type(obj) is tuple:
        return tuple(unpack(o, slot) for o in obj)
    if type(obj) is dict:
        return {k: unpack(v, slot) for k, v in obj.items()}
    return obj


def describe(exc, context="loading"):
    """What the parent needs to re-raise ``exc``: its type (if picklable) and traceback text."""
    etype = type(exc)
    try:
        pickle.loads(pickle.dumps(etype))
    except Exception:
        etype = None
    text = "".join(traceback.format_exception(type(exc), exc, exc.__traceback__))
    return etype, type(exc).__name__, context, text


def rebuild(err, idx):
    """The exception to raise in the parent: the worker's type, its traceback in the message."""
    etype, name, context, text = err
    msg = (f"Caught {name} in a DataLoader worker process while {context} batch {idx}.\n"
           f"Original traceback:\n{text}")
    try:
        exc = etype(msg) if etype is not None else None
    except Exception:
        exc = None
    return exc if isinstance(exc, BaseException) else DataLoaderError(msg)
