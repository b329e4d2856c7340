"""Helpers shared by op definitions: calling other ops from VJP rules, broadcasting."""
import numpy as np

from .registry import OPS


def call(name, *inputs, **attrs):
    """Invoke op ``name`` on NDArray inputs (eagerly, recorded or traced, as the caller is)."""
    return _nd.invoke(OPS[name], inputs, attrs)


class _LazyNDArrayModule:
    """``hybridnet.ndarray.ndarray`` (it imports this package: bound on first use)."""

    def __getattr__(self, name):
        from ..ndarray import ndarray
        globals()["_nd"] = ndarray
        return getattr(ndarray, name)


_nd = _LazyNDArrayModule()


def unbroadcast(g, shape):
    """Sum gradient ``g`` down to ``shape`` (undoing broadcasting in the forward)."""
    if g.shape == tuple(shape):
        return g
    return call("sum_to", g, shape=tuple(shape))


def broadcast_shapes(*shapes):
    return np.broadcast_shapes(*shapes)


def elementwise_rule(shapes, dtypes, **attrs):
    """Shape/dtype rule of an elementwise op: broadcast shapes, first input's dtype."""
    return [(tuple(np.broadcast_shapes(*shapes)), np.dtype(dtypes[0]))]


def same_dtype(result, like):
    """Keep MXNet's rule that elementwise results have the input dtype."""
    if result.dtype != like.dtype:
        return result.astype(like.dtype)
    return result


def norm_axis(axis):
    """Normalise an axis argument to None, an int or a tuple of ints (hashable attrs)."""
    if axis is None or isinstance(axis, int):
        return axis
    if isinstance(axis, (list, tuple)):
        return tuple(int(a) for a in axis) if len(axis) else None
    return int(axis)


class _LazySpecial:
    """``scipy.special`` imported on first call (importing it costs ~0.4 s)."""

    def __getattr__(self, name):
        def fn(*args, **kwargs):
            from scipy import special as _special
            return getattr(_special, name)(*args, **kwargs)
        fn.__name__ = name
        return fn


special = _LazySpecial()
