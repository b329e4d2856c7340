"""Batchify functions for ``DataLoader(batchify_fn=...)`` (Gluon 1.6+ ``gluon.data.batchify``).

    >>> fn = Tuple(Stack(), Pad(pad_val=-1, ret_length=True))
    >>> data, (tokens, lengths) = fn([(x1, s1), (x2, s2)])  # doctest: +SKIP
"""
import numpy as np

from ...base import HybridnetValueError, ShapeError, normalize_dtype
from ...ndarray.ndarray import NDArray, wrap

__all__ = ["Stack", "Pad", "Tuple", "List"]


def _arr(x):
    return x._data if isinstance(x, NDArray) else np.asarray(x)


class Stack:
    """Stack samples (arrays or numbers) along a new first axis into one NDArray.

    Parameters
    ----------
    dtype : str or numpy.dtype, optional
        Output dtype (default: that of the samples).
    """

    def __init__(self, dtype=None):
        self._dtype = dtype

    def __call__(self, data):
        arrs = [_arr(d) for d in data]
        shapes = {a.shape for a in arrs}
        if len(shapes) > 1:
            raise ShapeError(f"batchify.Stack: samples have different shapes {sorted(shapes)}; "
                             "use batchify.Pad for variable-length samples")
        out = np.stack(arrs)
        return wrap(out if self._dtype is None else out.astype(normalize_dtype(self._dtype)))


class Pad:
    """Pad samples along ``axis`` to the longest one, then stack them.

    Parameters
    ----------
    axis : int, default 0
        The axis (of each sample) that varies in length.
    pad_val : number, default 0
    ret_length : bool, default False
        Also return the original lengths (int32 NDArray).
    dtype : str or numpy.dtype, optional
        Output dtype (default: that of the first sample).
    round_to : int, optional
        Round the padded length up to a multiple of this.
    """

    def __init__(self, axis=0, pad_val=0, ret_length=False, dtype=None, round_to=None):
        if not isinstance(axis, int):
            raise HybridnetValueError(f"batchify.Pad: axis must be an int, got {axis!r}")
        self._axis, self._pad_val = axis, 0 if pad_val is None else pad_val
        self._ret_length, self._dtype, self._round_to = ret_length, dtype, round_to

    def __call__(self, data):
        arrs = [_arr(d) for d in data]
        ndim = arrs[0].ndim
        if not -ndim <= self._axis < ndim or any(a.ndim != ndim for a in arrs):
            raise ShapeError(f"batchify.Pad: axis {self._axis} does not fit samples of shapes "
                             f"{[a.shape for a in arrs][:4]}")
        ax = self._axis % ndim
        lengths = np.array([a.shape[ax] for a in arrs], dtype=np.int32)
        size = int(lengths.max()) if len(lengths) else 0
        if self._round_to:
            size = -(-size // self._round_to) * self._round_to
        shape = list(arrs[0].shape)
        shape[ax] = size
        dt = normalize_dtype(self._dtype) if self._dtype is not None else arrs[0].dtype
        out = np.full((len(arrs),) + tuple(shape), self._pad_val, dtype=dt)
        for i, a in enumerate(arrs):
            if a.shape[:ax] + a.shape[ax + 1:] != tuple(shape[:ax] + shape[ax + 1:]):
                raise ShapeError(f"batchify.Pad: sample {i} has shape {a.shape}; only axis "
                                 f"{self._axis} may differ from {tuple(arrs[0].shape)}")
            index = [i] + [slice(None)] * ndim
            index[ax + 1] = slice(0, a.shape[ax])
            out[tuple(index)] = a
        if self._ret_length:
            return wrap(out), wrap(lengths)
        return wrap(out)


class Tuple:
    """Apply one batchify function per field of tuple samples; returns a tuple.

    ``Tuple(Stack(), Pad())`` or ``Tuple([Stack(), Pad()])``.
    """

    def __init__(self, fn, *args):
        self._fns = list(fn) if isinstance(fn, (list, tuple)) and not args else [fn, *args]

    def __call__(self, data):
        if len(data[0]) != len(self._fns):
            raise ShapeError(f"batchify.Tuple: samples have {len(data[0])} fields but "
                             f"{len(self._fns)} batchify functions were given")
        return tuple(fn([d[i] for d in data]) for i, fn in enumerate(self._fns))


class List:
    """Keep the samples as a plain list (no stacking)."""

    def __call__(self, data):
        return list(data)
