"""Helpers shared by the nn layers: tuple arguments, shape checks with layer-named errors."""
from ...base import HybridnetValueError, ShapeError

__all__ = ["as_tuple", "set_shape", "feature_mismatch"]


def as_tuple(value, n, what, layer):
    """``3`` -> ``(3, 3)``; a list/tuple of length ``n`` -> tuple; anything else is an error."""
    if isinstance(value, (int,)) and not isinstance(value, bool):
        return (int(value),) * n
    try:
        out = tuple(int(v) for v in value)
    except TypeError:
        raise HybridnetValueError(f"{layer}: {what} must be an int or a tuple of {n} ints, got "
                                  f"{value!r}") from None
    if len(out) != n:
        raise HybridnetValueError(f"{layer}: {what} must be an int or a tuple of {n} ints, got "
                                  f"{value!r} ({len(out)} values)")
    return out


def set_shape(layer, param, shape, hint):
    """Set a deferred parameter's shape; a conflict becomes an error naming ``layer``.

    ``hint`` says what to change (e.g. "pass in_units=... or feed (N, 784) inputs").
    """
    try:
        param.shape = shape
    except ShapeError:
        raise ShapeError(
            f"{layer!r}: the input implies {param._name} shape {tuple(shape)} but the layer "
            f"holds {param._name} shape {param.shape}. {hint}") from None


def feature_mismatch(layer, what, expected, actual, x_shape, hint):
    """The ShapeError for an input whose feature size disagrees with the layer's weight."""
    return ShapeError(
        f"{layer!r}: input of shape {tuple(x_shape)} has {what} {actual}, but the layer "
        f"expects {what} {expected} (from its weight). {hint}")
