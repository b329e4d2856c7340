"""Weight initializers (``hybridnet.init``), following MXNet 1.x ``mxnet.initializer``.

An initializer is called as ``init(desc, arr)``: ``desc`` is the parameter's
name (a ``str`` or an :class:`InitDesc`) and ``arr`` the NDArray it fills in
place. Which rule runs depends on the name, as in MXNet::

    *weight                                -> the initializer's own weight rule
    *bias, *beta, *running_mean, *moving_mean, *min -> zeros
    *gamma, *running_var, *moving_var, *max         -> ones

so ``Uniform()`` applied to a whole net gives U(-0.07, 0.07) weights, zero
biases and BatchNorm gamma 1 / beta 0. An :class:`InitDesc` whose
``attrs['__init__']`` names an initializer (a Gluon ``Parameter(init=...)``)
bypasses the name rules: that initializer's weight rule fills the array.

Every random draw comes from ``hybridnet.random.generator()``, so
``hybridnet.random.seed(n)`` makes initialization reproducible.
"""
import json

import numpy as np

from . import random as _random
from .base import HybridnetValueError, ShapeError
from .ndarray.ndarray import NDArray

__all__ = ["InitDesc", "Initializer", "register", "alias", "create", "Zero", "One", "Constant",
           "Uniform", "Normal", "Xavier", "MSRAPrelu", "Orthogonal", "Bilinear", "LSTMBias",
           "Mixed", "Load"]

_REGISTRY = {}


def register(klass):
    """Class decorator: make ``klass`` creatable by its lower-cased name (``create('xavier')``)."""
    if not (isinstance(klass, type) and issubclass(klass, Initializer)):
        raise HybridnetValueError(f"init.register: expected an Initializer subclass, got {klass!r}")
    _REGISTRY[klass.__name__.lower()] = klass
    return klass


def alias(*names):
    """Class decorator: extra names for ``create`` (``@alias('zeros')``)."""
    def deco(klass):
        for n in names:
            _REGISTRY[n.lower()] = klass
        return klass
    return deco


def create(init, *args, **kwargs):
    """An initializer from an instance, a registered name, or a ``dumps()`` JSON string.

    >>> create('xavier', magnitude=2)          # doctest: +SKIP
    >>> create('["normal", {"sigma": 0.5}]')   # doctest: +SKIP
    """
    if isinstance(init, Initializer):
        if args or kwargs:
            raise HybridnetValueError(f"init.create: extra arguments given with the initializer "
                                      f"instance {init!r}; pass either an instance or a name")
        return init
    if isinstance(init, dict):
        return create(**init)
    if not isinstance(init, str):
        raise HybridnetValueError(f"init.create: expected an Initializer, a name or a JSON string, "
                                  f"got {type(init).__name__} {init!r}")
    if init.startswith("["):
        name, kw = json.loads(init)
        return create(name, **kw)
    if init.startswith("{"):
        return create(**json.loads(init))
    klass = _REGISTRY.get(init.lower())
    if klass is None:
        raise HybridnetValueError(f"unknown initializer {init!r}; valid names are "
                                  f"{sorted(_REGISTRY)} (or pass an Initializer instance)")
    return klass(*args, **kwargs)


class InitDesc(str):
    """A parameter name plus attributes, passed as ``desc`` to an initializer.

    Parameters
    ----------
    name : str
        The parameter's name.
    attrs : dict, optional
        ``attrs['__init__']`` (an Initializer or a name) overrides the name rules.
    global_init : Initializer, optional
        The initializer of the whole net (set on first use).
    """

    def __new__(cls, name, attrs=None, global_init=None):
        ret = super().__new__(cls, name)
        ret.attrs = attrs or {}
        ret.global_init = global_init
        return ret


# Name suffix -> method; checked in this order (MXNet's legacy dispatch, plus Gluon's
# BatchNorm names running_mean / running_var).
_SUFFIX_RULES = (("bias", "_init_bias"), ("gamma", "_init_gamma"), ("beta", "_init_beta"),
                 ("weight", "_init_weight"), ("running_mean", "_init_zero"),
                 ("moving_mean", "_init_zero"), ("running_var", "_init_one"),
                 ("moving_var", "_init_one"), ("moving_inv_var", "_init_zero"),
                 ("moving_avg", "_init_zero"), ("min", "_init_zero"), ("max", "_init_one"))


def _fill(arr, value):
    """Write ``value`` (array or number) into ``arr`` in place, keeping its dtype."""
    if isinstance(arr, NDArray):
        arr._data[...] = value
    elif isinstance(arr, np.ndarray):
        arr[...] = value
    else:
        raise HybridnetValueError(f"initializer: expected an NDArray to fill, got "
                                  f"{type(arr).__name__}")


class Initializer:
    """Base class of initializers. Subclasses override ``_init_weight(name, arr)``.

    ``kwargs`` are remembered for :meth:`dumps`.
    """

    def __init__(self, **kwargs):
        self._kwargs = kwargs
        self._verbose = False
        self._print_func = None

    def set_verbosity(self, verbose=False, print_func=None):
        """Print a summary (by default the mean absolute value) of each array initialized."""
        self._verbose = verbose
        self._print_func = print_func or (lambda x: f"{float(np.abs(x).mean()):.4g}")
        return self

    def _verbose_print(self, desc, init, arr):
        if self._verbose and self._print_func is not None:
            data = arr._data if isinstance(arr, NDArray) else arr
            print(f"Initialized {desc} as {init}: {self._print_func(data)}")

    def dumps(self):
        """JSON description ``'["name", {kwargs}]'``; ``create()`` accepts it back."""
        return json.dumps([self.__class__.__name__.lower(), self._kwargs])

    def __repr__(self):
        args = ", ".join(f"{k}={v!r}" for k, v in self._kwargs.items())
        return f"{self.__class__.__name__}({args})"

    def __call__(self, desc, arr):
        """Fill ``arr`` for the parameter named ``desc`` (see the module docstring)."""
        if not isinstance(desc, str):
            raise HybridnetValueError(f"{type(self).__name__}: the first argument must be the "
                                      f"parameter name (str or InitDesc), got {desc!r}")
        if not isinstance(arr, (NDArray, np.ndarray)):
            raise HybridnetValueError(f"{type(self).__name__}: expected an NDArray to fill for "
                                      f"{desc!r}, got {type(arr).__name__}")
        if isinstance(desc, InitDesc):
            if desc.global_init is None:
                desc.global_init = self
            init = desc.attrs.get("__init__", "")
            if init:
                create(init)._init_weight(desc, arr)
                self._verbose_print(desc, init, arr)
                return
        if desc.startswith("upsampling"):
            self._init_bilinear(desc, arr)
            return
        if desc.startswith("stn_loc"):
            if desc.endswith("weight"):
                self._init_zero(desc, arr)
                return
            if desc.endswith("bias"):
                self._init_loc_bias(desc, arr)
                return
        for suffix, method in _SUFFIX_RULES:
            if desc.endswith(suffix):
                getattr(self, method)(desc, arr)
                self._verbose_print(desc, suffix, arr)
                return
        self._init_default(desc, arr)

    # ---- the rules ------------------------------------------------------------------
    def _init_weight(self, name, arr):
        raise NotImplementedError(f"{type(self).__name__} does not define a weight rule "
                                  "(override _init_weight)")

    def _init_bias(self, _, arr):
        _fill(arr, 0.0)

    def _init_gamma(self, _, arr):
        _fill(arr, 1.0)

    def _init_beta(self, _, arr):
        _fill(arr, 0.0)

    def _init_zero(self, _, arr):
        _fill(arr, 0.0)

    def _init_one(self, _, arr):
        _fill(arr, 1.0)

    def _init_bilinear(self, _, arr):
        _fill(arr, _bilinear(arr.shape))

    def _init_loc_bias(self, name, arr):
        if tuple(arr.shape) != (6,):
            raise ShapeError(f"initializer: {name!r} (a spatial-transformer loc bias) must have "
                             f"shape (6,), got {tuple(arr.shape)}")
        _fill(arr, np.array([1.0, 0, 0, 0, 1.0, 0]))

    def _init_default(self, name, _):
        raise HybridnetValueError(
            f"Unknown initialization pattern for {name!r}: the default rules cover names ending "
            "in weight, bias, gamma, beta, running_mean/var, moving_mean/var, min and max. Give "
            "the parameter an explicit initializer (Parameter(init=hybridnet.init.Zero()) or "
            "InitDesc(name, {'__init__': ...})), or use init.Mixed with a '.*' pattern")


def _bilinear(shape):
    """The bilinear-upsampling kernel of a 4-D (out, in, kh, kw) weight (MXNet / Caffe)."""
    if len(shape) != 4:
        raise ShapeError(f"Bilinear initializer needs a 4-D weight (out, in, kh, kw), got "
                         f"shape {tuple(shape)}")
    f = np.ceil(shape[3] / 2.0)
    c = (2 * f - 1 - f % 2) / (2.0 * f)
    i = np.arange(int(np.prod(shape)))
    x, y = i % shape[3], (i // shape[3]) % shape[2]
    w = (1 - np.abs(x / f - c)) * (1 - np.abs(y / f - c))
    return w.astype(np.float32).reshape(shape)


def _draw(kind, arr, a, b):
    gen = _random.generator()
    vals = gen.uniform(a, b, arr.shape) if kind == "uniform" else gen.normal(a, b, arr.shape)
    _fill(arr, vals)


@register
@alias("zeros")
class Zero(Initializer):
    """Fills the weight with 0."""

    def _init_weight(self, _, arr):
        _fill(arr, 0.0)


@register
@alias("ones")
class One(Initializer):
    """Fills the weight with 1."""

    def _init_weight(self, _, arr):
        _fill(arr, 1.0)


@register
class Constant(Initializer):
    """Fills the weight with ``value`` (a number, or an array broadcastable to the shape)."""

    def __init__(self, value):
        super().__init__(value=value)
        self.value = value

    def _init_weight(self, name, arr):
        v = self.value._data if isinstance(self.value, NDArray) else np.asarray(self.value)
        try:
            np.broadcast_to(v, arr.shape)
        except ValueError:
            raise ShapeError(f"Constant initializer for {name!r}: value of shape {v.shape} does "
                             f"not broadcast to the parameter shape {tuple(arr.shape)}") from None
        _fill(arr, v)

    def dumps(self):
        v = self.value
        if isinstance(v, NDArray):
            v = v.asnumpy()
        if isinstance(v, np.ndarray):
            v = v.tolist()
        return json.dumps(["constant", {"value": v}])


@register
class Uniform(Initializer):
    """Weights drawn from U(-scale, scale).

    Parameters
    ----------
    scale : float, default 0.07
    """

    def __init__(self, scale=0.07):
        super().__init__(scale=scale)
        self.scale = scale

    def _init_weight(self, _, arr):
        _draw("uniform", arr, -self.scale, self.scale)


@register
class Normal(Initializer):
    """Weights drawn from N(0, sigma^2).

    Parameters
    ----------
    sigma : float, default 0.01
        Standard deviation.
    """

    def __init__(self, sigma=0.01):
        super().__init__(sigma=sigma)
        self.sigma = sigma

    def _init_weight(self, _, arr):
        _draw("normal", arr, 0.0, self.sigma)


def _fans(init_name, name, shape):
    """(fan_in, fan_out) of a weight: dims 1 and 0, times the kernel size (dims 2:)."""
    shape = tuple(shape)
    if len(shape) < 2:
        raise ShapeError(f"{init_name} initializer cannot be applied to {name!r} of shape "
                         f"{shape}: it needs a weight with at least 2 dims (out, in, ...). "
                         "Give this parameter another initializer (e.g. init=Zero())")
    if any(s == 0 for s in shape):
        raise ShapeError(f"{init_name} initializer: {name!r} has unknown dims in shape {shape} "
                         "(0 = not yet inferred), so its fan-in/fan-out are unknown; initialize "
                         "after the shape is known (run a forward pass or give in_units)")
    hw = float(np.prod(shape[2:])) if len(shape) > 2 else 1.0
    return shape[1] * hw, shape[0] * hw


@register
class Xavier(Initializer):
    """Xavier/Glorot initialization: scale = sqrt(magnitude / factor).

    ``factor`` is (fan_in + fan_out) / 2 (``'avg'``), fan_in (``'in'``) or fan_out
    (``'out'``); weights are drawn from U(-scale, scale) (``rnd_type='uniform'``) or
    N(0, scale^2) (``'gaussian'``).
    """

    def __init__(self, rnd_type="uniform", factor_type="avg", magnitude=3):
        super().__init__(rnd_type=rnd_type, factor_type=factor_type, magnitude=magnitude)
        if rnd_type not in ("uniform", "gaussian"):
            raise HybridnetValueError(f"Xavier: rnd_type must be 'uniform' or 'gaussian', "
                                      f"got {rnd_type!r}")
        if factor_type not in ("avg", "in", "out"):
            raise HybridnetValueError(f"Xavier: factor_type must be 'avg', 'in' or 'out', "
                                      f"got {factor_type!r}")
        self.rnd_type, self.factor_type, self.magnitude = rnd_type, factor_type, float(magnitude)

    def _init_weight(self, name, arr):
        fan_in, fan_out = _fans(type(self).__name__, name, arr.shape)
        factor = {"avg": (fan_in + fan_out) / 2.0, "in": fan_in, "out": fan_out}[self.factor_type]
        scale = np.sqrt(self.magnitude / factor)
        if self.rnd_type == "uniform":
            _draw("uniform", arr, -scale, scale)
        else:
            _draw("normal", arr, 0.0, scale)


@register
@alias("msra")
class MSRAPrelu(Xavier):
    """He/MSRA initialization for PReLU nets: Gaussian Xavier with magnitude 2 / (1 + slope^2)."""

    def __init__(self, factor_type="avg", slope=0.25):
        super().__init__("gaussian", factor_type, 2.0 / (1 + slope ** 2))
        self._kwargs = {"factor_type": factor_type, "slope": slope}


# Structured and composite initializers live in a second file (kept small); importing them
# here registers them and makes them part of this module.
from ._initializer_more import Bilinear, LSTMBias, Load, Mixed, Orthogonal  # noqa: E402,F401
