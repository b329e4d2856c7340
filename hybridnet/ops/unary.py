"""Unary elementwise math (exp, log, relu, sigmoid ...), each with its VJP and scalar expr.

Every op keeps the input dtype (MXNet 1.x). VJPs are written with hybridnet ops
(``g * y`` etc.) and use the forward output ``y`` where that is cheaper than
recomputing from ``x`` (exp, sigmoid, tanh, sqrt ...). Piecewise-constant ops
(floor, sign, round ...) have a zero gradient, like MXNet.
"""
import numpy as np

from ._util import call, same_dtype, special
from .registry import Op, register

_LN2 = float(np.log(2.0))
_LN10 = float(np.log(10.0))
_2_SQRTPI = float(2.0 / np.sqrt(np.pi))


def _unary_rule(shapes, dtypes, **attrs):
    return [(tuple(shapes[0]), np.dtype(dtypes[0]))]


def unary(name, fn, expr, vjp=None, differentiable=True, doc=None, vjp_np=None):
    """Register a unary elementwise op whose result keeps the input dtype.

    ``vjp(g, x, y)`` gets the output gradient, the input and the forward output;
    ``vjp_np`` is the registry's optional NumPy form (see ``registry.Op``).
    """
    def forward(data):
        return same_dtype(fn(data), data)
    forward.__name__ = name
    forward.__doc__ = doc or f"Elementwise {name} of ``data`` (result keeps the input dtype)."
    register(Op(name, "elementwise", forward,
                (lambda g, ins, out: (vjp(g, ins[0], out),)) if vjp else None,
                _unary_rule, expr=expr, differentiable=differentiable and vjp is not None,
                vjp_np=vjp_np))


def _zero(g, x, y):
    # Piecewise-constant ops: MXNet defines their gradient as 0 everywhere.
    return g * 0


# ---- rounding and sign ------------------------------------------------------------------------
def _round_half_away(x):
    # MXNet round: halves go away from zero (round(2.5) = 3, round(-2.5) = -3).
    return np.copysign(np.floor(np.abs(x) + 0.5), x)


def _rint_half_down(x):
    # MXNet rint: halves go to the floor (rint(1.5) = 1, rint(-1.5) = -2).
    f = np.floor(x)
    return np.where(x - f <= 0.5, f, f + 1)


unary("negative", np.negative, "(-{0})", lambda g, x, y: -g)
unary("abs", np.abs, "abs({0})", lambda g, x, y: g * call("sign", x))
unary("sign", np.sign, "np.sign({0})", _zero)
unary("floor", np.floor, "np.floor({0})", _zero)
unary("ceil", np.ceil, "np.ceil({0})", _zero)
unary("round", _round_half_away, "np.copysign(np.floor(abs({0}) + 0.5), {0})", _zero,
      doc="Round to the nearest integer; halves round away from zero (MXNet ``round``).")
unary("rint", _rint_half_down,
      "(np.floor({0}) if {0} - np.floor({0}) <= 0.5 else np.floor({0}) + 1.0)", _zero,
      doc="Round to the nearest integer; ``n.5`` rounds to ``n`` (MXNet ``rint``).")
unary("trunc", np.trunc, "np.trunc({0})", _zero)
unary("fix", np.trunc, "np.trunc({0})", _zero,
      doc="Round towards zero (MXNet ``fix``, same as ``trunc``).")

# ---- exponentials and logarithms ------------------------------------------------------------
unary("exp", np.exp, "np.exp({0})", lambda g, x, y: g * y)
unary("expm1", np.expm1, "np.expm1({0})", lambda g, x, y: g * (y + 1.0))
unary("log", np.log, "np.log({0})", lambda g, x, y: g / x)
unary("log1p", np.log1p, "np.log1p({0})", lambda g, x, y: g / (x + 1.0))
unary("log2", np.log2, "np.log2({0})", lambda g, x, y: g / (x * _LN2))
unary("log10", np.log10, "np.log10({0})", lambda g, x, y: g / (x * _LN10))

# ---- powers and roots --------------------------------------------------------------------------
unary("sqrt", np.sqrt, "np.sqrt({0})", lambda g, x, y: g * 0.5 / y)
unary("rsqrt", lambda x: 1.0 / np.sqrt(x), "(1.0 / np.sqrt({0}))",
      lambda g, x, y: g * -0.5 * y * y * y,
      doc="Elementwise ``1 / sqrt(data)``.")
unary("cbrt", np.cbrt, "np.cbrt({0})", lambda g, x, y: g / (3.0 * y * y))
unary("rcbrt", lambda x: 1.0 / np.cbrt(x), "(1.0 / np.cbrt({0}))",
      lambda g, x, y: g * (-1.0 / 3.0) * y / x,
      doc="Elementwise ``1 / cbrt(data)``.")
unary("square", np.square, "({0} * {0})", lambda g, x, y: g * 2.0 * x)
unary("reciprocal", np.reciprocal, "(1.0 / {0})", lambda g, x, y: -g * y * y)

# ---- trigonometric and hyperbolic ---------------------------------------------------------
unary("sin", np.sin, "np.sin({0})", lambda g, x, y: g * call("cos", x))
unary("cos", np.cos, "np.cos({0})", lambda g, x, y: -g * call("sin", x))
unary("tan", np.tan, "np.tan({0})", lambda g, x, y: g * (y * y + 1.0))
unary("arcsin", np.arcsin, "np.arcsin({0})",
      lambda g, x, y: g * call("rsqrt", 1.0 - x * x))
unary("arccos", np.arccos, "np.arccos({0})",
      lambda g, x, y: -g * call("rsqrt", 1.0 - x * x))
unary("arctan", np.arctan, "np.arctan({0})", lambda g, x, y: g / (x * x + 1.0))
unary("sinh", np.sinh, "np.sinh({0})", lambda g, x, y: g * call("cosh", x))
unary("cosh", np.cosh, "np.cosh({0})", lambda g, x, y: g * call("sinh", x))
unary("tanh", np.tanh, "np.tanh({0})", lambda g, x, y: g * (1.0 - y * y))
unary("arcsinh", np.arcsinh, "np.arcsinh({0})",
      lambda g, x, y: g * call("rsqrt", x * x + 1.0))
unary("arccosh", np.arccosh, "np.arccosh({0})",
      lambda g, x, y: g * call("rsqrt", x * x - 1.0))
unary("arctanh", np.arctanh, "np.arctanh({0})", lambda g, x, y: g / (1.0 - x * x))
unary("degrees", np.degrees, "np.degrees({0})", lambda g, x, y: g * float(180.0 / np.pi))
unary("radians", np.radians, "np.radians({0})", lambda g, x, y: g * float(np.pi / 180.0))


# ---- activations ------------------------------------------------------------------------------
def _relu(x):
    return np.maximum(x, 0)


unary("relu", _relu, "max({0}, 0.0)", lambda g, x, y: g * (y > 0),
      vjp_np=lambda g, ins, out, needs, dest: (np.multiply(g, out > 0),),
      doc="Rectified linear unit ``max(data, 0)``; gradient ``g * (data > 0)``.")
unary("sigmoid", special.expit, "(1.0 / (1.0 + np.exp(-{0})))",
      lambda g, x, y: g * y * (1.0 - y),
      doc="Logistic sigmoid ``1 / (1 + exp(-data))`` (no overflow for large ``|data|``).")
unary("softrelu", lambda x: np.logaddexp(0, x),
      "(max({0}, 0.0) + np.log1p(np.exp(-abs({0}))))",
      lambda g, x, y: g * call("sigmoid", x),
      doc="Softplus ``log(1 + exp(data))``, computed without overflow.")
unary("softsign", lambda x: x / (1 + np.abs(x)), "({0} / (1.0 + abs({0})))",
      lambda g, x, y: g / call("square", call("abs", x) + 1.0),
      doc="Softsign ``data / (1 + |data|)``.")
unary("erf", special.erf, "math.erf({0})",
      lambda g, x, y: g * _2_SQRTPI * call("exp", -(x * x)),
      doc="Gauss error function (elementwise).")
unary("erfinv", special.erfinv, "special.erfinv({0})",
      lambda g, x, y: g * float(np.sqrt(np.pi) / 2) * call("exp", y * y),
      doc="Inverse error function (elementwise), defined on (-1, 1).")
unary("logical_not", lambda x: x == 0, "(1.0 if {0} == 0 else 0.0)", None,
      doc="1 where ``data`` is 0, else 0, in the input dtype (not differentiable).")
unary("log_sigmoid", lambda x: -np.logaddexp(0, -x),
      "(min({0}, 0.0) - np.log1p(np.exp(-abs({0}))))",
      lambda g, x, y: g * call("sigmoid", -x),
      doc="``log(sigmoid(data))``, computed without overflow.")
unary("mish", lambda x: x * np.tanh(np.logaddexp(0, x)),
      "({0} * np.tanh(max({0}, 0.0) + np.log1p(np.exp(-abs({0})))))",
      lambda g, x, y: g * _mish_grad(x),
      doc="Mish activation ``data * tanh(softrelu(data))``.")


def _mish_grad(x):
    t = call("tanh", call("softrelu", x))
    return t + x * (1.0 - t * t) * call("sigmoid", x)


def _hard_sigmoid(data, alpha=0.2, beta=0.5):
    """``clip(alpha * data + beta, 0, 1)`` (MXNet ``hard_sigmoid``); gradient ``alpha`` inside."""
    t = data.dtype.type
    return same_dtype(np.clip(t(alpha) * data + t(beta), 0, 1), data)


def _hard_sigmoid_vjp(g, ins, out, alpha=0.2, beta=0.5):
    z = ins[0] * alpha + beta
    return (g * ((z > 0) * (z < 1)) * alpha,)


register(Op("hard_sigmoid", "elementwise", _hard_sigmoid, _hard_sigmoid_vjp, _unary_rule,
            expr="min(max({alpha} * {0} + {beta}, 0.0), 1.0)"))

# ---- special functions -------------------------------------------------------------------------
unary("digamma", special.psi, "special.psi({0})", None,
      doc="Digamma function ``d/dx log(gamma(x))`` (not differentiable here).")
unary("gamma", special.gamma, "math.gamma({0})",
      lambda g, x, y: g * y * call("digamma", x), doc="Gamma function (elementwise).")
unary("gammaln", special.gammaln, "math.lgamma({0})",
      lambda g, x, y: g * call("digamma", x), doc="``log(|gamma(data)|)`` (elementwise).")

# ---- gradient blocking -------------------------------------------------------------------------
unary("stop_gradient", lambda x: x.copy(), "{0}", _zero,
      doc="Identity in the forward pass; no gradient flows back (MXNet ``BlockGrad``).")
