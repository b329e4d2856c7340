"""Reductions (sum, mean, max ...) and their inverse, broadcasting.

Full reductions return shape (1,) like MXNet 1.x, so ``x.sum().asscalar()``
and ``x.sum()[0]`` both work.
"""
import numpy as np

from ._util import call
from .registry import Op, register


def _as_1d(r):
    r = np.asarray(r)
    return r.reshape(1) if r.ndim == 0 else r


def _keep_shape(shape, axis):
    """Shape of the reduction with keepdims=True (for broadcasting the gradient back)."""
    nd = len(shape)
    if axis is None:
        return (1,) * nd
    axes = (axis,) if isinstance(axis, int) else axis
    axes = {a % nd for a in axes}
    return tuple(1 if i in axes else s for i, s in enumerate(shape))


def _sum(data, axis=None, keepdims=False):
    """Sum over ``axis`` (all axes when None)."""
    return _as_1d(np.sum(data, axis=axis, keepdims=keepdims, dtype=data.dtype))


def _sum_vjp(g, ins, out, axis=None, keepdims=False):
    x = ins[0]
    return (call("broadcast_to", g.reshape(_keep_shape(x.shape, axis)), shape=x.shape),)


register(Op("sum", "reduce", _sum, _sum_vjp))


def _sum_to(data, shape=()):
    """Sum ``data`` down to ``shape`` (the inverse of broadcasting ``shape`` to data.shape)."""
    lead = data.ndim - len(shape)
    axes = tuple(range(lead)) + tuple(lead + i for i, s in enumerate(shape)
                                      if s == 1 and data.shape[lead + i] != 1)
    r = np.sum(data, axis=axes, keepdims=True, dtype=data.dtype) if axes else data
    return r.reshape(shape)


def _sum_to_vjp(g, ins, out, shape=()):
    return (call("broadcast_to", g, shape=ins[0].shape),)


register(Op("sum_to", "reduce", _sum_to, _sum_to_vjp))


def _broadcast_to(data, shape=()):
    """Broadcast ``data`` to ``shape``; a 0 in ``shape`` keeps that input dim (MXNet)."""
    shape = tuple(d if s == 0 else s for s, d in
                  zip(shape, (1,) * (len(shape) - data.ndim) + data.shape))
    return np.ascontiguousarray(np.broadcast_to(data, shape))


def _broadcast_to_vjp(g, ins, out, shape=()):
    return (call("sum_to", g, shape=ins[0].shape),)


register(Op("broadcast_to", "movement", _broadcast_to, _broadcast_to_vjp))
