"""Unary elementwise math (exp, log, relu, sigmoid ...), each with its VJP and scalar expr."""
import numpy as np

from ._util import call, same_dtype
from .registry import Op, register


def _unary_rule(shapes, dtypes, **attrs):
    return [(tuple(shapes[0]), np.dtype(dtypes[0]))]


def unary(name, fn, expr, vjp=None, differentiable=True):
    """Register a unary elementwise op whose result keeps the input dtype."""
    def forward(data):
        return same_dtype(fn(data), data)
    forward.__name__ = name
    register(Op(name, "elementwise", forward,
                (lambda g, ins, out: (vjp(g, ins[0], out),)) if vjp else None,
                _unary_rule, expr=expr, differentiable=differentiable and vjp is not None))


unary("negative", np.negative, "(-{0})", lambda g, x, y: -g)
unary("abs", np.abs, "abs({0})", lambda g, x, y: g * call("sign", x))
unary("sign", np.sign, "np.sign({0})", lambda g, x, y: g * 0)
unary("floor", np.floor, "np.floor({0})", lambda g, x, y: g * 0)
unary("exp", np.exp, "np.exp({0})", lambda g, x, y: g * y)
unary("log", np.log, "np.log({0})", lambda g, x, y: g / x)
