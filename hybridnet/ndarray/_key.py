"""Hashable indexing keys: ``x[key]`` becomes the ``getitem`` op with a ``_Key`` attr.

Slices and NumPy index arrays are not hashable, and graph attributes must be
(the JIT caches and compares them), so keys are canonicalised here.
"""
import numpy as np

__all__ = ["_Key", "_canon_key", "_numpy_key"]

class _Key:
    """A hashable indexing key (slices and NumPy index arrays are not hashable)."""
    __slots__ = ("items",)

    def __init__(self, items):
        self.items = items

    def __eq__(self, other):
        return isinstance(other, _Key) and _key_sig(self.items) == _key_sig(other.items)

    def __hash__(self):
        return hash(_key_sig(self.items))

    def __repr__(self):
        return f"[{', '.join(_fmt_key(k) for k in self.items)}]"


def _key_sig(items):
    out = []
    for k in items:
        if isinstance(k, slice):
            out.append(("s", k.start, k.stop, k.step))
        elif isinstance(k, np.ndarray):
            out.append(("a", k.shape, k.dtype.str, k.tobytes()))
        else:
            out.append(k)
    return tuple(out)


def _fmt_key(k):
    if isinstance(k, slice):
        return (f"{'' if k.start is None else k.start}:{'' if k.stop is None else k.stop}"
                f"{'' if k.step is None else ':' + str(k.step)}")
    if k is Ellipsis:
        return "..."
    if k is None:
        return "None"
    if isinstance(k, np.ndarray):
        return f"array{list(k.shape)}"
    return str(k)


def _canon_key(key):
    from .ndarray import NDArray   # ndarray imports this module at its end
    if isinstance(key, _Key):
        return key
    items = key if isinstance(key, tuple) else (key,)
    out = []
    for k in items:
        if isinstance(k, NDArray):
            k = k._data
            if not np.issubdtype(k.dtype, np.integer) and k.dtype != np.bool_:
                k = k.astype(np.int64)
        elif isinstance(k, (list, np.ndarray)):
            k = np.asarray(k)
            if k.dtype.kind == "f":
                k = k.astype(np.int64)
        elif isinstance(k, (np.integer,)):
            k = int(k)
        elif isinstance(k, slice) and any(v is not None and type(v) is not int
                                          for v in (k.start, k.stop, k.step)):
            # plain-int bounds keep the key hashable data (np.int64 / NDArray bounds)
            k = slice(*(None if v is None else int(v.__index__())
                        for v in (k.start, k.stop, k.step)))
        out.append(k)
    return _Key(tuple(out))


def _numpy_key(key):
    items = key.items
    return items[0] if len(items) == 1 else tuple(items)
