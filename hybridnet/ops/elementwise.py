"""Elementwise arithmetic: binary ops, their scalar forms, comparisons.

Binary ops broadcast; the VJP sums the gradient back to each input's shape.
Each binary op ``X`` has a scalar form ``X_scalar(data, scalar, reverse)`` used
for ``x + 2`` / ``2 - x`` (the scalar stays an attribute of the node).
"""
import numpy as np

from ._util import call, elementwise_rule, same_dtype, unbroadcast
from .registry import Op, register


def _scalar_rule(shapes, dtypes, **attrs):
    return [(tuple(shapes[0]), np.dtype(dtypes[0]))]


def _binary(name, fn, expr, vjp_l, vjp_r, comparison=False):
    """Register ``name`` (array, array) and ``name_scalar`` (array, scalar) forms."""
    if comparison:
        def forward(lhs, rhs):
            return fn(lhs, rhs).astype(np.result_type(lhs, rhs))

        def forward_s(data, scalar=0.0, reverse=False):
            return (fn(scalar, data) if reverse else fn(data, scalar)).astype(data.dtype)

        def vjp(g, ins, out):
            return (None, None)

        def vjp_s(g, ins, out, scalar, reverse):
            return (None,)
    else:
        def forward(lhs, rhs):
            return fn(lhs, rhs)

        def forward_s(data, scalar=0.0, reverse=False):
            s = data.dtype.type(scalar)
            return same_dtype(fn(s, data) if reverse else fn(data, s), data)

        def vjp(g, ins, out):
            a, b = ins
            return (unbroadcast(vjp_l(g, a, b, out), a.shape),
                    unbroadcast(vjp_r(g, a, b, out), b.shape))

        def vjp_s(g, ins, out, scalar, reverse):
            x = ins[0]
            if reverse:
                return (vjp_r(g, scalar, x, out),)
            return (vjp_l(g, x, scalar, out),)
    forward.__name__ = name
    forward_s.__name__ = name + "_scalar"
    register(Op(name, "elementwise", forward, vjp, elementwise_rule, expr=expr,
                differentiable=not comparison))
    sexpr = expr.replace("{1}", "{scalar}")
    rexpr = expr.replace("{0}", "{scalar}").replace("{1}", "{0}")
    register(Op(name + "_scalar", "elementwise", forward_s, vjp_s, _scalar_rule,
                expr=(sexpr, rexpr), differentiable=not comparison))


_binary("add", np.add, "({0} + {1})", lambda g, a, b, o: g, lambda g, a, b, o: g)
_binary("subtract", np.subtract, "({0} - {1})", lambda g, a, b, o: g, lambda g, a, b, o: -g)
_binary("multiply", np.multiply, "({0} * {1})", lambda g, a, b, o: g * b, lambda g, a, b, o: g * a)
_binary("divide", np.divide, "({0} / {1})",
        lambda g, a, b, o: g / b, lambda g, a, b, o: -g * o / b)
_binary("power", np.power, "({0} ** {1})",
        lambda g, a, b, o: g * b * a ** (b - 1),
        lambda g, a, b, o: g * o * call("log", a) if not isinstance(a, (int, float))
        else g * o * float(np.log(a)))
_binary("maximum", np.maximum, "max({0}, {1})",
        lambda g, a, b, o: g * (a >= b), lambda g, a, b, o: g * (a < b))
_binary("minimum", np.minimum, "min({0}, {1})",
        lambda g, a, b, o: g * (a <= b), lambda g, a, b, o: g * (a > b))
_binary("modulo", np.mod, "np.mod({0}, {1})",
        lambda g, a, b, o: g, lambda g, a, b, o: -g * call("floor", a / b))
_binary("floor_divide", np.floor_divide, "np.floor_divide({0}, {1})",
        lambda g, a, b, o: g * 0, lambda g, a, b, o: g * 0)

for _name, _fn, _sym in [("equal", np.equal, "=="), ("not_equal", np.not_equal, "!="),
                         ("greater", np.greater, ">"), ("greater_equal", np.greater_equal, ">="),
                         ("lesser", np.less, "<"), ("lesser_equal", np.less_equal, "<=")]:
    _binary(_name, _fn, "float({0} " + _sym + " {1})", None, None, comparison=True)
