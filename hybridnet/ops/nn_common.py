"""Helpers shared by the NN op modules (nn_*.py): attribute parsing and frontend plumbing.

Frontends (hand-written ``nd.<Name>`` functions) take MXNet's keyword arguments,
turn them into hashable attributes and call the registered ops through
``call``; they never touch NumPy data, so the same code runs eagerly and traced.
"""
import numpy as np

from .._state import STATE
from ..base import HybridnetValueError, ShapeError

# MXNet arguments that only tune the C++/cuDNN backends: accepted and ignored.
BACKEND_ONLY = frozenset({"workspace", "cudnn_tune", "cudnn_off", "attr", "ctx", "name"})


def tup(value, n, what, op, default=None):
    """``value`` (int, list or tuple; empty/None -> ``default``) as an ``n``-tuple of ints."""
    if value is None or (isinstance(value, (tuple, list)) and len(value) == 0):
        if default is None:
            raise HybridnetValueError(f"{op}: {what} is required, e.g. {what}=" +
                                      str((3,) * n))
        value = default
    if isinstance(value, (int, np.integer)):
        return (int(value),) * n
    value = tuple(int(v) for v in value)
    if len(value) == 1 and n > 1:
        return value * n
    if len(value) != n:
        raise HybridnetValueError(f"{op}: {what}={value} has {len(value)} entries but the data "
                                  f"has {n} spatial dims; give {n} values, e.g. {what}="
                                  f"{(value[0],) * n}")
    return value


def check_kwargs(op, kwargs):
    """Reject misspelled or unsupported arguments instead of silently ignoring them."""
    bad = [k for k in kwargs if k not in BACKEND_ONLY]
    if bad:
        raise HybridnetValueError(f"{op}: unexpected argument(s) {sorted(bad)}")


def check_nd(op, **arrays):
    """Every named argument must be an NDArray (catches a forgotten weight/bias)."""
    from ..ndarray.ndarray import NDArray
    for k, v in arrays.items():
        if not isinstance(v, NDArray):
            raise HybridnetValueError(
                f"{op}: argument {k!r} must be an NDArray, got {type(v).__name__}"
                + ("; pass it (or set no_bias=True)" if k == "bias" else ""))


def check_layout(op, layout, ndim):
    """Only channels-first layouts (NCW, NCHW, NCDHW) are implemented."""
    if layout is None:
        return
    expect = {3: "NCW", 4: "NCHW", 5: "NCDHW"}.get(ndim)
    if layout != expect:
        raise HybridnetValueError(
            f"{op}: layout {layout!r} is not supported for {ndim}-D data; hybridnet implements "
            f"the channels-first layout {expect!r} only: transpose the data to {expect} "
            f"(e.g. x.transpose((0, {ndim - 1}, " + ", ".join(str(i) for i in
                                                                 range(1, ndim - 1)) + ")))")


def check_spatial(op, shape, min_nd=3, max_nd=5):
    if not min_nd <= len(shape) <= max_nd:
        raise ShapeError(f"{op}: data must have {min_nd}..{max_nd} dims (N, C, spatial...), got "
                         f"shape {tuple(shape)}; add the batch/channel axes (e.g. "
                         "x.reshape((1, 1) + x.shape))")


def finish(res, out):
    """Honour ``out=`` like the generated nd functions."""
    if out is None:
        return res
    res.copyto(out)
    return out


def is_training():
    return STATE.training


def channel_shape(ndim, axis, size):
    """Shape that broadcasts a per-channel vector of ``size`` along ``axis``."""
    shape = [1] * ndim
    shape[axis] = size
    return tuple(shape)
