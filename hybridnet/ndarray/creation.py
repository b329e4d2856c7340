"""Array creation: array, zeros, ones, full, empty, arange, linspace, eye, *_like."""
import numpy as np

from .._state import STATE
from ..base import HybridnetValueError, normalize_dtype
from ..context import check_device, current_context
from .ndarray import NDArray, wrap

__all__ = ["array", "zeros", "ones", "full", "empty", "arange", "linspace", "eye",
           "zeros_like", "ones_like", "full_like"]


def _shape(shape):
    if isinstance(shape, (int, np.integer)):
        return (int(shape),)
    return tuple(int(s) for s in shape)


def _made(data, ctx):
    """Wrap a new constant; while tracing, the tracer turns it into a graph constant."""
    if ctx is None:
        ctx = current_context()
    if ctx.device_type == "gpu":
        check_device(ctx, f"creating an array on {ctx}")
    out = wrap(data, ctx)
    if STATE.tracer is not None:
        return STATE.tracer.constant(out)
    return out


def array(source_array, ctx=None, dtype=None):
    """A new NDArray holding a copy of ``source_array``.

    Parameters
    ----------
    source_array : NDArray, numpy.ndarray, (nested) list or number
    ctx : Context, optional
    dtype : str or numpy dtype, optional
        Like MXNet 1.x: the source's dtype when ``source_array`` is an NDArray,
        otherwise ``float32`` -- a NumPy float64 or int64 array becomes float32
        unless ``dtype`` says otherwise (``nd.array(a, dtype=a.dtype)`` keeps it).
    """
    if isinstance(source_array, NDArray):
        src = source_array.asnumpy()
        dt = normalize_dtype(dtype, default=src.dtype)
    else:
        src = source_array
        dt = normalize_dtype(dtype)
    return _made(np.array(src, dtype=dt), ctx)


def _extra(fn, kwargs, res):
    """MXNet's optional ``out=`` (fill an existing array) and ``stype``; refuse the rest."""
    out = kwargs.pop("out", None)
    kwargs.pop("name", None)
    stype = kwargs.pop("stype", None)
    if stype not in (None, "default"):
        raise HybridnetValueError(f"nd.{fn}: stype={stype!r} is not supported (sparse "
                                  "storage); only dense 'default' arrays exist in hybridnet")
    if kwargs:
        raise HybridnetValueError(f"nd.{fn}: unexpected arguments {sorted(kwargs)}")
    if out is None:
        return res
    out[:] = res
    return out


def zeros(shape, ctx=None, dtype=None, **kwargs):
    """Zeros of ``shape`` (float32 unless ``dtype`` says)."""
    return _extra("zeros", kwargs, _made(np.zeros(_shape(shape), normalize_dtype(dtype)), ctx))


def ones(shape, ctx=None, dtype=None, **kwargs):
    """Ones of ``shape`` (float32 unless ``dtype`` says)."""
    return _extra("ones", kwargs, _made(np.ones(_shape(shape), normalize_dtype(dtype)), ctx))


def full(shape, val, ctx=None, dtype=None, **kwargs):
    """``shape`` filled with ``val`` (float32 unless ``dtype`` says)."""
    return _extra("full", kwargs,
                  _made(np.full(_shape(shape), val, normalize_dtype(dtype)), ctx))


def empty(shape, ctx=None, dtype=None):
    return _made(np.zeros(_shape(shape), normalize_dtype(dtype)), ctx)


def arange(start, stop=None, step=1.0, repeat=1, infer_range=None, ctx=None, dtype=None,
           **kwargs):
    """Evenly spaced values in [start, stop) (MXNet: float32 by default; ``repeat`` each).

    ``infer_range`` is accepted for MXNet's signature and has no effect.
    """
    a = np.arange(start, stop, step, dtype=normalize_dtype(dtype))
    if repeat > 1:
        a = np.repeat(a, repeat)
    return _made(a, ctx)


def linspace(start, stop, num, endpoint=True, ctx=None, dtype=None):
    return _made(np.linspace(start, stop, num, endpoint=endpoint,
                             dtype=normalize_dtype(dtype)), ctx)


def eye(N, M=0, k=0, ctx=None, dtype=None):
    return _made(np.eye(N, M or None, k, dtype=normalize_dtype(dtype)), ctx)


def zeros_like(data, **kwargs):
    return _made(np.zeros(data.shape, data._data.dtype if isinstance(data, NDArray)
                           else data.dtype), getattr(data, "_ctx", None))


def ones_like(data, **kwargs):
    return _made(np.ones(data.shape, data._data.dtype if isinstance(data, NDArray)
                          else data.dtype), getattr(data, "_ctx", None))


def full_like(data, fill_value, **kwargs):
    return _made(np.full(data.shape, fill_value, data._data.dtype), data._ctx)
