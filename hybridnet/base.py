"""Errors and dtype helpers shared by every hybridnet module.

Every user-facing error is a ``HybridnetError``; the concrete classes also
derive from the matching built-in so ``except ValueError`` keeps working.
"""
import numpy as np

__all__ = ["HybridnetError", "MXNetError", "ShapeError", "DTypeError", "HybridnetIOError",
           "AutogradError", "DeferredInitError", "DeviceError", "normalize_dtype", "dtype_name"]


class HybridnetError(Exception):
    """Base class of every error raised by hybridnet."""


MXNetError = HybridnetError  # Gluon 1.x code catches mx.base.MXNetError


class ShapeError(HybridnetError, ValueError):
    """Shapes that do not fit the op (mismatch, bad axis, bad reshape)."""


class DTypeError(HybridnetError, TypeError):
    """An unknown or unsupported dtype."""


class HybridnetIOError(HybridnetError, IOError):
    """A missing, truncated or corrupt file."""


class AutogradError(HybridnetError, RuntimeError):
    """Misuse of autograd, e.g. backward() on an array that was not recorded."""


class DeferredInitError(HybridnetError, RuntimeError):
    """A parameter used before it was initialized."""


class DeviceError(HybridnetError, RuntimeError):
    """A device that does not exist here (e.g. ``gpu(0)`` on a machine without CUDA)."""


class HybridnetValueError(HybridnetError, ValueError):
    """A bad argument value."""


_DTYPE_ALIASES = {
    "float32": np.float32, "float64": np.float64, "float16": np.float16,
    "int8": np.int8, "uint8": np.uint8, "int32": np.int32, "int64": np.int64,
    "int16": np.int16, "bool": np.bool_, "float": np.float32, "double": np.float64,
    "int": np.int32, "half": np.float16,
}
_ALLOWED = {np.dtype(v) for v in _DTYPE_ALIASES.values()}


def normalize_dtype(dtype, default=np.float32):
    """Return a ``np.dtype`` for a dtype given as a string, NumPy type or None."""
    if dtype is None:
        return np.dtype(default)
    if isinstance(dtype, str) and dtype in _DTYPE_ALIASES:
        return np.dtype(_DTYPE_ALIASES[dtype])
    try:
        dt = np.dtype(dtype)
    except (TypeError, ValueError):
        dt = None
    if dt is None or dt not in _ALLOWED:
        raise DTypeError(
            f"unknown dtype {dtype!r}; use one of {sorted(_DTYPE_ALIASES)} "
            "(e.g. dtype='float32')")
    return dt


def dtype_name(dtype):
    return np.dtype(dtype).name
