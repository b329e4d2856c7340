"""Shape and data-movement ops: reshape, transpose, indexing, cast, copy ..."""
import numpy as np

from ..base import ShapeError
from ._util import call
from .registry import Op, register


def _copy(data):
    """A copy of ``data``."""
    return data.copy()


register(Op("copy", "elementwise", _copy, lambda g, ins, out: (g,), expr="{0}"))


def _cast(data, dtype="float32"):
    """``data`` converted to ``dtype``."""
    return data.astype(dtype)


register(Op("cast", "elementwise", _cast,
            lambda g, ins, out, dtype: (call("cast", g, dtype=ins[0].dtype.__name__),),
            expr="{0}"))


def _getitem(data, key=None):
    """``data[key]``: basic and advanced indexing (key is a hashable ``_Key``)."""
    items = key.items
    r = data[items[0] if len(items) == 1 else tuple(items)]
    return np.array(r) if not isinstance(r, np.ndarray) else r


def _getitem_vjp(g, ins, out, key=None):
    return (call("_scatter_add", g, shape=ins[0].shape, key=key),)


register(Op("getitem", "movement", _getitem, _getitem_vjp))


def _scatter_add(data, shape=(), key=None):
    """Zeros of ``shape`` with ``data`` added at ``key`` (the gradient of indexing)."""
    out = np.zeros(shape, data.dtype)
    items = key.items
    np.add.at(out, items[0] if len(items) == 1 else tuple(items), data)
    return out


register(Op("_scatter_add", "opaque", _scatter_add,
            lambda g, ins, out, shape, key: (call("getitem", g, key=key),)))


def _reshape_target(in_shape, shape, reverse=False):
    """Resolve MXNet reshape codes: 0 copies the input dim, -1 infers one dim."""
    out = []
    for i, s in enumerate(shape):
        if s == 0:
            if i >= len(in_shape):
                raise ShapeError(f"reshape: code 0 at position {i} but the input has only "
                                 f"{len(in_shape)} dims (shape {in_shape})")
            out.append(in_shape[i])
        else:
            out.append(int(s))
    if out.count(-1) > 1:
        raise ShapeError(f"reshape: more than one -1 in target shape {tuple(shape)}")
    size = int(np.prod(in_shape))
    known = int(np.prod([s for s in out if s != -1]))
    if -1 in out:
        if known == 0 or size % known:
            raise ShapeError(f"reshape: cannot reshape array of shape {tuple(in_shape)} "
                             f"(size {size}) into {tuple(shape)}")
        out[out.index(-1)] = size // known
    elif known != size:
        raise ShapeError(f"reshape: cannot reshape array of shape {tuple(in_shape)} "
                         f"(size {size}) into {tuple(shape)} (size {known}); the sizes must "
                         "match (use -1 to infer one dimension)")
    return tuple(out)


def _reshape(data, shape=(), reverse=False):
    """``data`` with a new shape; 0 keeps the input dim, -1 infers it (MXNet codes)."""
    return data.reshape(_reshape_target(data.shape, shape, reverse))


register(Op("reshape", "movement", _reshape,
            lambda g, ins, out, shape, reverse=False: (g.reshape(ins[0].shape),),
            canon=None))
