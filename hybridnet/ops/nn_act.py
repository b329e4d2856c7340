"""Activation, LeakyReLU (leaky, prelu, elu, selu, gelu, rrelu) and Dropout.

Each LeakyReLU variant is its own elementwise op with a scalar ``expr`` and a
derivative op (so its VJP is ``g * derivative(x)``, one fused loop). prelu and
rrelu share ``_leaky_apply(data, slope)`` whose slope array broadcasts.
Dropout draws its mask with the random op ``_dropout_mask`` (hybridnet's
generator, so ``hybridnet.random.seed`` reproduces it; a random op so a traced
graph draws a fresh mask per run) and applies it with ``_dropout_apply``.
"""
import numpy as np

from .. import random as _random
from ..base import HybridnetValueError, ShapeError
from ._util import call, elementwise_rule, same_dtype, special, unbroadcast
from .nn_common import channel_shape, check_kwargs, check_nd, finish, is_training
from .registry import OPS, Op, frontend, register

SELU_ALPHA = 1.6732632423543772848170429916717
SELU_LAMBDA = 1.0507009873554804934193349852946
_SQRT1_2 = float(np.sqrt(0.5))
_INV_SQRT_2PI = float(1.0 / np.sqrt(2.0 * np.pi))


def _same_rule(shapes, dtypes, **attrs):
    return [(tuple(shapes[0]), np.dtype(dtypes[0]))]


def _activation(name, fn, dfn, expr, dexpr, doc):
    """Register elementwise ``name(data, slope)`` and its derivative op ``name + '_grad'``."""
    def forward(data, slope=0.25):
        return same_dtype(fn(data, slope), data)

    def deriv(data, slope=0.25):
        return same_dtype(dfn(data, slope), data)
    forward.__name__, forward.__doc__ = name, doc
    deriv.__name__, deriv.__doc__ = name + "_grad", f"Derivative of {name}."
    register(Op(name, "elementwise", forward,
                lambda g, ins, out, slope=0.25: (g * call(name + "_grad", ins[0], slope=slope),),
                _same_rule, expr=expr))
    register(Op(name + "_grad", "elementwise", deriv, None, _same_rule, expr=dexpr))


def _neg_expm1(x):
    return np.expm1(np.minimum(x, 0))     # no overflow warnings from the unused branch


_activation("_leaky_relu", lambda x, s: np.where(x > 0, x, x * x.dtype.type(s)),
            lambda x, s: np.where(x > 0, 1.0, s),
            "({0} if {0} > 0 else {slope} * {0})", "(1.0 if {0} > 0 else {slope})",
            "Leaky ReLU: ``x`` where ``x > 0``, else ``slope * x``.")
_activation("_elu", lambda x, s: np.where(x > 0, x, s * _neg_expm1(x)),
            lambda x, s: np.where(x > 0, 1.0, s * np.exp(np.minimum(x, 0))),
            "({0} if {0} > 0 else {slope} * np.expm1({0}))",
            "(1.0 if {0} > 0 else {slope} * np.exp({0}))",
            "ELU: ``x`` where ``x > 0``, else ``slope * (exp(x) - 1)``.")
_activation("_selu", lambda x, s: SELU_LAMBDA * np.where(x > 0, x, SELU_ALPHA * _neg_expm1(x)),
            lambda x, s: SELU_LAMBDA * np.where(x > 0, 1.0, SELU_ALPHA * np.exp(np.minimum(x, 0))),
            f"({SELU_LAMBDA!r} * ({{0}} if {{0}} > 0 else {SELU_ALPHA!r} * np.expm1({{0}})))",
            f"({SELU_LAMBDA!r} * (1.0 if {{0}} > 0 else {SELU_ALPHA!r} * np.exp({{0}})))",
            "SELU: ``lambda * (x if x > 0 else alpha * (exp(x) - 1))`` (fixed constants).")
_activation("_gelu", lambda x, s: 0.5 * x * (1.0 + special.erf(x * _SQRT1_2)),
            lambda x, s: (0.5 * (1.0 + special.erf(x * _SQRT1_2))
                          + x * np.exp(-0.5 * x * x) * _INV_SQRT_2PI),
            f"(0.5 * {{0}} * (1.0 + math.erf({{0}} * {_SQRT1_2!r})))",
            f"(0.5 * (1.0 + math.erf({{0}} * {_SQRT1_2!r})) + {{0}} * np.exp(-0.5 * {{0}} * {{0}})"
            f" * {_INV_SQRT_2PI!r})",
            "GELU, erf form: ``0.5 * x * (1 + erf(x / sqrt(2)))``.")


def _leaky_apply(data, slope):
    """``data`` where positive, else ``slope * data`` (``slope`` broadcasts to ``data``)."""
    r = np.where(data > 0, data, slope * data)
    if r.shape != data.shape:
        raise ShapeError(f"LeakyReLU: slope of shape {slope.shape} does not broadcast to data "
                         f"{data.shape}")
    return same_dtype(r, data)


def _leaky_apply_vjp(g, ins, out):
    x, slope = ins
    pos = x > 0
    neg = 1.0 - pos
    return g * (pos + neg * slope), unbroadcast(g * neg * x, slope.shape)


register(Op("_leaky_apply", "elementwise", _leaky_apply, _leaky_apply_vjp, elementwise_rule,
            expr="({0} if {0} > 0 else {1} * {0})"))


def _rrelu_slopes(data, lower_bound=0.125, upper_bound=0.334):
    """Random slopes ~ U[lower_bound, upper_bound) of data's shape (RReLU in training)."""
    return _random.generator().uniform(lower_bound, upper_bound, data.shape).astype(data.dtype)


register(Op("_rrelu_slopes", "opaque", _rrelu_slopes, None, _same_rule, random=True))

LEAKY_TYPES = ("leaky", "prelu", "elu", "selu", "gelu", "rrelu")


@frontend("LeakyReLU")
def LeakyReLU(data=None, gamma=None, act_type="leaky", slope=0.25, lower_bound=0.125,
              upper_bound=0.334, out=None, **kwargs):
    """Leaky-ReLU family, MXNet-style.

    Parameters
    ----------
    data : NDArray
    gamma : NDArray, optional
        prelu only: learned slopes, shape ``(C,)`` along axis 1 (or ``(1,)`` shared).
    act_type : {'leaky', 'prelu', 'elu', 'selu', 'gelu', 'rrelu'}
        ``leaky``: ``x if x > 0 else slope*x``; ``elu``: ``slope*(exp(x)-1)`` for ``x <= 0``;
        ``selu``: scaled ELU with fixed constants; ``gelu``: ``0.5*x*(1+erf(x/sqrt(2)))``;
        ``rrelu``: random slope in ``[lower_bound, upper_bound)`` while training, their mean
        otherwise.
    slope : float
        For ``leaky`` and ``elu``.
    """
    check_kwargs("LeakyReLU", kwargs)
    check_nd("LeakyReLU", data=data)
    if act_type not in LEAKY_TYPES:
        raise HybridnetValueError(f"LeakyReLU: unknown act_type {act_type!r}; use one of "
                                  f"{LEAKY_TYPES}")
    if act_type == "prelu":
        check_nd("LeakyReLU", gamma=gamma)
        c = data.shape[1] if data.ndim > 1 else data.shape[0]
        if gamma.shape not in ((c,), (1,)):
            raise ShapeError(f"LeakyReLU(prelu): gamma has shape {gamma.shape} but data "
                             f"{data.shape} has {c} channels on axis 1; gamma must have shape "
                             f"({c},) or (1,): create PReLU with in_channels={c}")
        if gamma.shape != (1,) and data.ndim > 1:
            gamma = gamma.reshape(channel_shape(data.ndim, 1, c))
        res = call("_leaky_apply", data, gamma)
    elif act_type == "rrelu":
        if is_training():
            slopes = call("_rrelu_slopes", data, lower_bound=float(lower_bound),
                          upper_bound=float(upper_bound))
            res = call("_leaky_apply", data, slopes)
        else:
            res = call("_leaky_relu", data, slope=(float(lower_bound) + float(upper_bound)) / 2)
    else:
        name = "_leaky_relu" if act_type == "leaky" else "_" + act_type
        res = call(name, data, **({"slope": float(slope)} if act_type in ("leaky", "elu")
                                  else {}))
    return finish(res, out)


# ---- Activation ---------------------------------------------------------------------------
ACT_TYPES = ("relu", "sigmoid", "tanh", "softrelu", "softsign")


@frontend("Activation")
def Activation(data=None, act_type=None, out=None, **kwargs):
    """Elementwise activation ``act_type`` in ('relu', 'sigmoid', 'tanh', 'softrelu',
    'softsign'); ``softrelu`` is softplus ``log(1 + exp(x))``."""
    check_kwargs("Activation", kwargs)
    check_nd("Activation", data=data)
    valid = ACT_TYPES + tuple(a for a in ("log_sigmoid", "mish") if a in OPS)
    if act_type not in valid:
        raise HybridnetValueError(f"Activation: unknown act_type {act_type!r}; use one of "
                                  f"{valid}")
    return finish(call(act_type, data), out)


# ---- Dropout ------------------------------------------------------------------------------
def _mask_shape(shape, axes):
    return tuple(1 if i in axes else s for i, s in enumerate(shape))


def _dropout_mask(data, p=0.5, axes=()):
    """Keep-mask scaled by ``1/(1-p)``, shape of ``data`` with ``axes`` set to 1 (shared)."""
    keep = _random.generator().random(_mask_shape(data.shape, axes)) < 1.0 - p
    return (keep * (1.0 / (1.0 - p) if p < 1 else 0.0)).astype(data.dtype)


register(Op("_dropout_mask", "opaque", _dropout_mask, None,
            lambda shapes, dtypes, p=0.5, axes=(): [(_mask_shape(shapes[0], axes),
                                                     np.dtype(dtypes[0]))],
            random=True))


def _dropout_apply(data, mask):
    """``data * mask`` (the mask broadcasts along the shared axes)."""
    return same_dtype(data * mask, data)


register(Op("_dropout_apply", "elementwise", _dropout_apply,
            lambda g, ins, out: (g * ins[1], None), elementwise_rule, expr="({0} * {1})",
            nondiff_args=("mask",)))


@frontend("Dropout")
def Dropout(data=None, p=0.5, mode="training", axes=(), out=None, **kwargs):
    """Randomly zero elements with probability ``p`` and scale the rest by ``1/(1-p)``.

    Active while training (``autograd.is_training()``) with ``mode='training'``, always
    with ``mode='always'``; otherwise the identity. ``axes`` lists axes along which one
    mask value is shared (e.g. ``axes=(2, 3)`` drops whole feature maps).
    """
    check_kwargs("Dropout", kwargs)
    check_nd("Dropout", data=data)
    if not 0.0 <= float(p) <= 1.0:
        raise HybridnetValueError(f"Dropout: p={p} must be a probability in [0, 1]")
    if mode not in ("training", "always"):
        raise HybridnetValueError(f"Dropout: mode={mode!r}; use 'training' or 'always'")
    if float(p) == 0.0 or (mode == "training" and not is_training()):
        return finish(data, out) if out is not None else data
    if isinstance(axes, int):
        axes = (axes,)
    for a in axes:
        if not -data.ndim <= int(a) < data.ndim:
            raise ShapeError(f"Dropout: axes={tuple(axes)} out of range for data of shape "
                             f"{data.shape}")
    ax = tuple(sorted({int(a) % data.ndim for a in axes}))
    mask = call("_dropout_mask", data, p=float(p), axes=ax)
    return finish(call("_dropout_apply", data, mask), out)
