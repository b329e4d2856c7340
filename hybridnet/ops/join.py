"""Joining and splitting: concat, stack, split (multi-output)."""
import numpy as np

from ..base import HybridnetValueError, ShapeError
from ._util import call
from .registry import Op, register


def _axis(ax, ndim, op, shapes):
    if not isinstance(ax, (int, np.integer)) or not -ndim <= ax < ndim:
        raise ShapeError(f"{op}: axis {ax!r} is out of range for inputs of shape "
                         f"{', '.join(map(str, shapes))}; pass an axis in [{-ndim}, {ndim})")
    return int(ax) % ndim


def _concat(*data, dim=1):
    """Join arrays along axis ``dim`` (all other dims must match)."""
    if not data:
        raise HybridnetValueError("concat: pass at least one array")
    shapes = [d.shape for d in data]
    ax = _axis(dim, data[0].ndim, "concat", shapes)
    for s in shapes:
        if len(s) != len(shapes[0]) or s[:ax] + s[ax + 1:] != shapes[0][:ax] + shapes[0][ax + 1:]:
            raise ShapeError(f"concat: input shapes {', '.join(map(str, shapes))} differ outside "
                             f"the concat axis dim={dim}; all dims but that one must match")
    return np.concatenate(data, axis=ax)


def _concat_vjp(g, ins, out, dim=1):
    ax = dim % ins[0].ndim
    grads, start = [], 0
    for x in ins:
        n = x.shape[ax]
        grads.append(call("slice_axis", g, axis=ax, begin=start, end=start + n))
        start += n
    return tuple(grads)


def _concat_rule(shapes, dtypes, dim=1):
    ax = _axis(dim, len(shapes[0]), "concat", shapes)
    out = list(shapes[0])
    out[ax] = sum(s[ax] for s in shapes)
    return [(tuple(out), np.result_type(*dtypes))]


register(Op("concat", "movement", _concat, _concat_vjp, _concat_rule))


def _stack(*data, axis=0):
    """Join same-shaped arrays along a new axis ``axis``."""
    if not data:
        raise HybridnetValueError("stack: pass at least one array")
    shapes = [d.shape for d in data]
    if any(s != shapes[0] for s in shapes):
        raise ShapeError(f"stack: all inputs must have the same shape, got "
                         f"{', '.join(map(str, shapes))}")
    return np.stack(data, axis=_axis(axis, data[0].ndim + 1, "stack", shapes))


def _stack_vjp(g, ins, out, axis=0):
    ax = axis % (ins[0].ndim + 1)
    return tuple(call("slice_axis", g, axis=ax, begin=i, end=i + 1).reshape(x.shape)
                 for i, x in enumerate(ins))


register(Op("stack", "movement", _stack, _stack_vjp))


def _split_check(shape, num_outputs, axis):
    if not isinstance(num_outputs, (int, np.integer)) or num_outputs < 1:
        raise HybridnetValueError(f"split: num_outputs must be a positive int, got {num_outputs!r}")
    ax = _axis(axis, len(shape), "split", [shape])
    if shape[ax] % num_outputs:
        raise ShapeError(f"split: axis {axis} of the input of shape {shape} has size {shape[ax]}, "
                         f"which num_outputs={num_outputs} does not divide; pick a divisor or "
                         "slice with slice_axis")
    return ax


def _split(data, num_outputs=None, axis=1, squeeze_axis=False):
    """Split into ``num_outputs`` equal parts along ``axis`` (MXNet ``SliceChannel``).

    Returns a tuple of arrays (a single array when ``num_outputs`` is 1, like MXNet).
    With ``squeeze_axis=True`` the split axis (then of size 1) is removed.
    """
    ax = _split_check(data.shape, num_outputs, axis)
    parts = np.split(data, num_outputs, axis=ax)
    if squeeze_axis:
        if data.shape[ax] != num_outputs:
            raise ShapeError(f"split: squeeze_axis=True needs axis {axis} of size num_outputs="
                             f"{num_outputs}, but the input shape is {data.shape}")
        parts = [p.reshape(p.shape[:ax] + p.shape[ax + 1:]) for p in parts]
    parts = tuple(np.ascontiguousarray(p) for p in parts)
    return parts[0] if num_outputs == 1 else parts


def _split_vjp(g, ins, out, num_outputs=None, axis=1, squeeze_axis=False):
    gs = g if isinstance(g, tuple) else (g,)
    ax = axis % ins[0].ndim
    if squeeze_axis:
        gs = tuple(call("expand_dims", x, axis=ax) for x in gs)
    return (call("concat", *gs, dim=ax),)


def _split_rule(shapes, dtypes, num_outputs=None, axis=1, squeeze_axis=False):
    shape = tuple(shapes[0])
    ax = _split_check(shape, num_outputs, axis)
    part = list(shape)
    part[ax] //= num_outputs
    if squeeze_axis:
        del part[ax]
    return [(tuple(part), np.dtype(dtypes[0]))] * num_outputs


# The number of outputs depends on the attrs: num_outputs is a callable of them.
register(Op("split", "movement", _split, _split_vjp, _split_rule,
            num_outputs=lambda attrs: attrs.get("num_outputs") or 1))
