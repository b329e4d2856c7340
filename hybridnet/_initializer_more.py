"""Structured and composite initializers of ``hybridnet.init``: Orthogonal, Bilinear,
LSTMBias, Mixed, Load (see initializer.py for the calling convention)."""
import re

import numpy as np

from . import random as _random
from .base import HybridnetValueError, ShapeError
from .initializer import Initializer, _bilinear, _fill, create, register
from .ndarray.ndarray import NDArray


@register
class Orthogonal(Initializer):
    """Orthogonal matrix initialization (Saxe et al., 2013) times ``scale``.

    The weight is viewed as (shape[0], prod(shape[1:])); a random matrix of that
    shape (``rand_type`` 'uniform' on [-1, 1) or 'normal') is replaced by its
    nearest orthogonal factor from an SVD.
    """

    def __init__(self, scale=1.414, rand_type="uniform"):
        super().__init__(scale=scale, rand_type=rand_type)
        if rand_type not in ("uniform", "normal"):
            raise HybridnetValueError(f"Orthogonal: rand_type must be 'uniform' or 'normal', "
                                      f"got {rand_type!r}")
        self.scale, self.rand_type = scale, rand_type

    def _init_weight(self, name, arr):
        if len(arr.shape) < 2 or 0 in arr.shape:
            raise ShapeError(f"Orthogonal initializer needs a known shape with at least 2 dims "
                             f"for {name!r}, got {tuple(arr.shape)}")
        nout, nin = arr.shape[0], int(np.prod(arr.shape[1:]))
        gen = _random.generator()
        tmp = (gen.uniform(-1.0, 1.0, (nout, nin)) if self.rand_type == "uniform"
               else gen.normal(0.0, 1.0, (nout, nin)))
        u, _, v = np.linalg.svd(tmp, full_matrices=False)
        res = u if u.shape == tmp.shape else v
        _fill(arr, self.scale * res.reshape(arr.shape))


@register
class Bilinear(Initializer):
    """Bilinear-upsampling weights for a (de)convolution kernel (out, in, kh, kw)."""

    def _init_weight(self, _, arr):
        _fill(arr, _bilinear(arr.shape))


@register
class LSTMBias(Initializer):
    """LSTM bias: 0 everywhere except the forget gate (the 2nd of 4 gates) = ``forget_bias``."""

    def __init__(self, forget_bias=1.0):
        super().__init__(forget_bias=forget_bias)
        self.forget_bias = forget_bias

    def _init_weight(self, name, arr):
        if len(arr.shape) != 1 or arr.shape[0] % 4:
            raise ShapeError(f"LSTMBias: {name!r} must be 1-D with a length divisible by 4 "
                             f"(4 gates), got shape {tuple(arr.shape)}")
        h = arr.shape[0] // 4
        vals = np.zeros(arr.shape)
        vals[h:2 * h] = self.forget_bias
        _fill(arr, vals)


@register
class Mixed(Initializer):
    """Pick an initializer by regular expression on the parameter name (first match wins).

    >>> init = Mixed(['bias', '.*'], [Zero(), Uniform(0.1)])   # doctest: +SKIP
    """

    def __init__(self, patterns, initializers):
        if len(patterns) != len(initializers):
            raise HybridnetValueError(f"Mixed: {len(patterns)} patterns but {len(initializers)} "
                                      "initializers; give one initializer per pattern")
        inits = [create(i) for i in initializers]
        super().__init__(patterns=list(patterns), initializers=[i.dumps() for i in inits])
        self.map = list(zip([re.compile(p) for p in patterns], inits))

    def __call__(self, name, arr):
        for prog, init in self.map:
            if prog.match(name):
                init(name, arr)
                return
        raise HybridnetValueError(
            f"Mixed: parameter name {str(name)!r} matches none of the patterns "
            f"{[p.pattern for p, _ in self.map]}; add a '.*' pattern at the end with a default "
            "initializer")


@register
class Load(Initializer):
    """Initialize from saved arrays (a dict name -> NDArray, or an ``nd.save`` file name).

    Names may carry MXNet's ``arg:``/``aux:`` prefixes. Parameters not found use
    ``default_init``, or raise if it is None.
    """

    def __init__(self, param, default_init=None, verbose=False):
        if isinstance(param, str):
            from .ndarray import load
            param = load(param)
        if not isinstance(param, dict):
            raise HybridnetValueError("Load: param must be a dict name -> NDArray or the name "
                                      "of a file saved with nd.save(fname, dict)")
        self.param = {(k[4:] if k.startswith(("arg:", "aux:")) else k): v
                      for k, v in param.items()}
        self.default_init = create(default_init) if default_init is not None else None
        self.verbose = verbose
        super().__init__()

    def __call__(self, name, arr):
        if name in self.param:
            src = self.param[name]
            src = src._data if isinstance(src, NDArray) else np.asarray(src)
            if tuple(src.shape) != tuple(arr.shape):
                raise ShapeError(f"Load: parameter {str(name)!r} has shape {tuple(arr.shape)} "
                                 f"but the loaded array has shape {tuple(src.shape)}")
            _fill(arr, src)
        elif self.default_init is not None:
            self.default_init(name, arr)
        else:
            raise HybridnetValueError(f"Load: no saved value for parameter {str(name)!r} and no "
                                      "default_init; pass default_init=... to fill missing ones")
