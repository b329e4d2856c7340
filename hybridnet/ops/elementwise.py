"""Elementwise arithmetic: binary ops, their scalar forms, comparisons, and
elementwise ops with attributes (clip, where, smooth_l1, add_n).

Binary ops broadcast; the VJP sums the gradient back to each input's shape.
Each binary op ``X`` has a scalar form ``X_scalar(data, scalar, reverse)`` used
for ``x + 2`` / ``2 - x`` (the scalar stays an attribute of the node; it is cast
to the array's dtype first, like MXNet, so an int32 array stays int32). The
scalar form's ``expr`` is a pair ``(array <op> scalar, scalar <op> array)``.

Dtypes: equal input dtypes give that dtype (MXNet). Mixed dtypes, which MXNet
1.x rejects, are promoted: float beats int (int32 + float32 -> float32), else
NumPy's promotion. Comparisons return 0/1 in that dtype.
"""
import numpy as np

from ..base import HybridnetValueError, ShapeError
from ._util import call, same_dtype, unbroadcast
from .registry import Op, frontend, register


def result_dtype(a, b):
    """Dtype of a binary op on dtypes ``a`` and ``b`` (see the module docstring)."""
    a, b = np.dtype(a), np.dtype(b)
    if a == b:
        return a
    fa, fb = a.kind == "f", b.kind == "f"
    if fa != fb:
        return a if fa else b
    return np.promote_types(a, b)


def _binary_rule(shapes, dtypes, **attrs):
    try:
        shape = tuple(np.broadcast_shapes(*shapes))
    except ValueError:
        raise ShapeError(f"operands with shapes {' and '.join(map(str, shapes))} do not "
                         "broadcast (trailing dims must be equal or 1)") from None
    return [(shape, result_dtype(*dtypes))]


def _scalar_rule(shapes, dtypes, **attrs):
    return [(tuple(shapes[0]), np.dtype(dtypes[0]))]


def _like(gx, x):
    """Gradient in the input's dtype (differs only for mixed-dtype inputs)."""
    if gx is not None and gx.dtype != x.dtype:
        return call("cast", gx, dtype=np.dtype(x.dtype).name)
    return gx


def _binary(name, fn, expr, vjp_l=None, vjp_r=None, comparison=False, vjp_s=None):
    """Register ``name`` (array, array) and ``name_scalar`` (array, scalar) forms.

    ``vjp_l(g, a, b, out)`` / ``vjp_r(...)`` are the gradients w.r.t. lhs / rhs;
    in the scalar form one of ``a``, ``b`` is the Python float. ``vjp_s(g, x, s,
    out, reverse)`` overrides the scalar form's gradient where it differs.
    """
    def forward(lhs, rhs):
        r = fn(lhs, rhs)
        dt = lhs.dtype
        if dt is rhs.dtype and r.dtype is dt:   # the common case, checked cheaply
            return r
        dt = dt if dt == rhs.dtype else result_dtype(dt, rhs.dtype)
        return r if r.dtype == dt else r.astype(dt)

    def forward_s(data, scalar=0.0, reverse=False):
        dt = data.dtype
        # A Python float is already cast to a float array's dtype (NumPy 2 weak scalars);
        # skip building a NumPy scalar there, it costs as much as the tiny op itself.
        s = scalar if dt.kind == "f" else dt.type(scalar)
        r = fn(s, data) if reverse else fn(data, s)
        return r if r.dtype is dt else same_dtype(r, data)

    if comparison:
        vjp = vjp_scalar = None
    else:
        def vjp(g, ins, out):
            a, b = ins
            return (_like(unbroadcast(vjp_l(g, a, b, out), a.shape), a),
                    _like(unbroadcast(vjp_r(g, a, b, out), b.shape), b))

        def vjp_scalar(g, ins, out, scalar=0.0, reverse=False):
            x = ins[0]
            if vjp_s is not None:
                return (vjp_s(g, x, scalar, out, reverse),)
            if reverse:
                return (vjp_r(g, scalar, x, out),)
            return (vjp_l(g, x, scalar, out),)
    forward.__name__ = name
    forward.__doc__ = (f"Elementwise ``{name}`` of ``lhs`` and ``rhs`` with broadcasting"
                       + (" (0/1 in the input dtype)." if comparison else "."))
    forward_s.__name__ = name + "_scalar"
    forward_s.__doc__ = (f"``{name}(data, scalar)``, or ``{name}(scalar, data)`` when "
                         "``reverse``; the scalar is cast to ``data``'s dtype.")
    register(Op(name, "elementwise", forward, vjp, _binary_rule, expr=expr,
                differentiable=not comparison))
    sexpr = expr.replace("{1}", "{scalar}")
    rexpr = expr.replace("{0}", "{scalar}").replace("{1}", "{0}")
    register(Op(name + "_scalar", "elementwise", forward_s, vjp_scalar, _scalar_rule,
                expr=(sexpr, rexpr), differentiable=not comparison))


def _zero(g, a, b, o):
    return g * 0


def _power_rhs(g, a, b, o):
    # d(a**b)/db = a**b * log(a); ``a`` is a number in the reversed scalar form.
    if isinstance(a, (int, float)):
        return g * o * float(np.log(a)) if a > 0 else g * o * float("nan")
    return g * o * call("log", a)


def _extreme_scalar(ge):
    """maximum/minimum with a scalar: MXNet sends the gradient to the array on ties."""
    def vjp(g, x, s, out, reverse):
        return g * (x >= s) if ge else g * (x <= s)
    return vjp


_binary("add", np.add, "({0} + {1})", lambda g, a, b, o: g, lambda g, a, b, o: g)
_binary("subtract", np.subtract, "({0} - {1})", lambda g, a, b, o: g, lambda g, a, b, o: -g)
_binary("multiply", np.multiply, "({0} * {1})",
        lambda g, a, b, o: g * b, lambda g, a, b, o: g * a)
_binary("divide", np.divide, "({0} / {1})",
        lambda g, a, b, o: g / b, lambda g, a, b, o: -g * o / b)
_binary("power", np.power, "({0} ** {1})",
        lambda g, a, b, o: g * b * a ** (b - 1), _power_rhs)
# Ties: the array-array form sends the gradient to lhs (MXNet's ge/lt masks).
_binary("maximum", np.maximum, "max({0}, {1})",
        lambda g, a, b, o: g * (a >= b), lambda g, a, b, o: g * (a < b),
        vjp_s=_extreme_scalar(True))
_binary("minimum", np.minimum, "min({0}, {1})",
        lambda g, a, b, o: g * (a <= b), lambda g, a, b, o: g * (a > b),
        vjp_s=_extreme_scalar(False))
# Python-style modulo: the result has the sign of the divisor (as MXNet's mod).
_binary("modulo", np.mod, "np.mod({0}, {1})",
        lambda g, a, b, o: g, lambda g, a, b, o: -g * call("floor", a / b))
_binary("floor_divide", np.floor_divide, "np.floor_divide({0}, {1})", _zero, _zero)
_binary("hypot", np.hypot, "np.hypot({0}, {1})",
        lambda g, a, b, o: g * a / o, lambda g, a, b, o: g * b / o)

for _name, _fn, _sym in [("equal", np.equal, "=="), ("not_equal", np.not_equal, "!="),
                         ("greater", np.greater, ">"), ("greater_equal", np.greater_equal, ">="),
                         ("lesser", np.less, "<"), ("lesser_equal", np.less_equal, "<=")]:
    # (numba has no float(bool): spell 0/1 as a conditional expression)
    _binary(_name, _fn, "(1.0 if {0} " + _sym + " {1} else 0.0)", comparison=True)
for _name, _fn, _sym in [("logical_and", np.logical_and, "and"),
                         ("logical_or", np.logical_or, "or"),
                         ("logical_xor", np.logical_xor, "!=")]:
    _binary(_name, _fn, "(1.0 if ({0} != 0) " + _sym + " ({1} != 0) else 0.0)",
            comparison=True)


# ---- elementwise ops with attributes ----------------------------------------------------------
def _clip(data, a_min=None, a_max=None):
    """Clip ``data`` to ``[a_min, a_max]`` (both required, as in MXNet; cast to the dtype).

    The gradient passes where ``a_min <= data <= a_max`` and is 0 elsewhere.
    """
    if a_min is None or a_max is None:
        raise HybridnetValueError(
            f"clip: give both a_min and a_max (got a_min={a_min}, a_max={a_max}), e.g. "
            "nd.clip(x, 0, 1); for a one-sided clip use nd.maximum(x, a_min) or "
            "nd.minimum(x, a_max)")
    if a_min > a_max:
        raise HybridnetValueError(f"clip: a_min={a_min} is greater than a_max={a_max}")
    t = data.dtype.type
    return np.clip(data, t(a_min), t(a_max))


def _clip_vjp(g, ins, out, a_min=None, a_max=None):
    x = ins[0]
    return (g * ((x >= a_min) * (x <= a_max)),)


def _clip_canon(attrs):
    return {k: (None if v is None else float(v)) for k, v in attrs.items()}


register(Op("clip", "elementwise", _clip, _clip_vjp, _scalar_rule, canon=_clip_canon,
            expr="min(max({0}, {a_min}), {a_max})"))


def _where(condition, x, y):
    """Elements of ``x`` where ``condition`` is nonzero, else of ``y`` (NumPy broadcasting).

    No gradient flows to ``condition``. (``nd.where`` adds MXNet's 1-D row rule.)
    """
    try:
        shape = np.broadcast_shapes(condition.shape, x.shape, y.shape)
    except ValueError:
        raise ShapeError(f"where: condition {condition.shape}, x {x.shape} and y {y.shape} "
                         "do not broadcast; give x and y the same shape and a condition of "
                         "that shape or of shape (x.shape[0],)") from None
    r = np.where(condition != 0, x, y)
    dt = result_dtype(x.dtype, y.dtype)
    r = r if r.dtype == dt else r.astype(dt)
    return r if r.shape == shape else np.ascontiguousarray(np.broadcast_to(r, shape))


def _where_vjp(g, ins, out):
    cond, x, y = ins
    zero = g * 0
    return (None,
            _like(unbroadcast(call("where", cond, g, zero), x.shape), x),
            _like(unbroadcast(call("where", cond, zero, g), y.shape), y))


_WHERE = register(Op("where", "elementwise", _where, _where_vjp,
                     expr="({1} if {0} != 0 else {2})", nondiff_args=("condition",)))


@frontend("where")
def where(condition, x, y, out=None, name=None):
    """Elements of ``x`` where ``condition`` is nonzero, else of ``y``.

    Parameters
    ----------
    condition : NDArray
        Same shape as ``x``, or 1-D with one entry per row of ``x`` (MXNet 1.x:
        selects whole rows along the first axis). Shapes that broadcast with
        NumPy rules are also accepted.
    x, y : NDArray or number
        The values to choose from; the gradient flows to both, never to ``condition``.
    """
    from ..ndarray._api import _to_nd, finish
    from ..ndarray.ndarray import NDArray, invoke
    c = _to_nd(condition)
    if isinstance(x, NDArray) or not isinstance(y, NDArray):
        x = _to_nd(x)
        y = _to_nd(y, like=x)
    else:
        y = _to_nd(y)
        x = _to_nd(x, like=y)
    if c.ndim == 1 and x.ndim > 1:
        if c.shape[0] != x.shape[0]:
            raise ShapeError(f"where: a 1-D condition must have one entry per row of x: "
                             f"condition shape {c.shape}, x shape {x.shape}; give a "
                             "condition of x's shape or of shape (x.shape[0],)")
        c = c.reshape((c.shape[0],) + (1,) * (x.ndim - 1))
    return finish(invoke(_WHERE, (c, x, y)), out)


def _smooth_l1(data, scalar=1.0):
    """Smooth L1: ``0.5 * (s*x)**2`` where ``|x| < 1/s**2``, else ``|x| - 0.5/s**2`` (s = scalar)."""
    s2 = data.dtype.type(scalar * scalar)
    a = np.abs(data)
    return same_dtype(np.where(a < 1 / s2, 0.5 * s2 * data * data, a - 0.5 / s2), data)


def _smooth_l1_vjp(g, ins, out, scalar=1.0):
    x = ins[0]
    s2 = float(scalar) ** 2
    inner = call("abs", x) < 1.0 / s2
    return (g * call("where", inner, x * s2, call("sign", x)),)


register(Op("smooth_l1", "elementwise", _smooth_l1, _smooth_l1_vjp, _scalar_rule,
            expr="(0.5 * {scalar} * {scalar} * {0} * {0} if abs({0}) < 1.0 / ({scalar} * "
                 "{scalar}) else abs({0}) - 0.5 / ({scalar} * {scalar}))"))


def _add_n(*data):
    """Sum of any number of arrays of the same shape (MXNet ``add_n`` / ``ElementWiseSum``)."""
    if not data:
        raise HybridnetValueError("add_n: needs at least one array")
    shape = data[0].shape
    for i, d in enumerate(data):
        if d.shape != shape:
            raise ShapeError(f"add_n: all inputs must have the same shape; input 0 has shape "
                             f"{shape} but input {i} has shape {d.shape}")
    dt = data[0].dtype
    for d in data[1:]:
        dt = result_dtype(dt, d.dtype)
    r = data[0].astype(dt, copy=True)
    for d in data[1:]:
        r += d
    return r


register(Op("add_n", "elementwise", _add_n,
            lambda g, ins, out: tuple(_like(g, x) for x in ins),
            expr=None))
