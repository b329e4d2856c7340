"""ParameterDict: the name -> Parameter mapping returned by ``Block.collect_params()``."""
import re
from collections import OrderedDict

import numpy as np

from ..base import HybridnetValueError
from .parameter import Constant, Parameter, _shape_str

__all__ = ["ParameterDict"]


class ParameterDict(OrderedDict):
    """Name -> Parameter, as returned by ``Block.collect_params()``.

    Keys are structural names (``features.0.weight``); ``initialize``,
    ``zero_grad``, ``setattr``, ``save``/``load`` act on every entry.
    """

    def __init__(self, prefix="", shared=None, owner=None):
        super().__init__()
        self._prefix = prefix
        self._shared = shared
        self._owner = owner

    @property
    def prefix(self):
        return self._prefix

    def __repr__(self):
        body = "".join(f"  Parameter {k} (shape="
                       f"{_shape_str(v.shape) if v.shape is not None else None}, "
                       f"dtype={np.dtype(v.dtype).name})\n" for k, v in self.items())
        return f"{self._prefix or 'ParameterDict'} (\n{body})"

    def get(self, name, **kwargs):
        """Gluon 1.x: return parameter ``name``, creating (and registering) it if missing.

        ``kwargs`` are Parameter arguments (``shape``, ``init``, ``dtype`` ...); for an
        existing parameter, unknown dims of ``shape`` are filled and an unset ``init``
        is set.
        """
        p = OrderedDict.get(self, name)
        if p is None:
            owner_shared = getattr(self._owner, "_shared_params", None)
            for src in (self._shared, owner_shared):
                if src is not None and name in src:
                    p = src[name]
                    break
        if p is None:
            p = Parameter(name, **kwargs)
        else:
            for k, v in kwargs.items():
                if k == "shape" and v is not None:
                    p.shape = v
                elif k == "init" and p.init is None:
                    p.init = v
        OrderedDict.__setitem__(self, name, p)
        if self._owner is not None:
            self._owner._reg_params[name] = p
            self._owner._params_ready = False
        return p

    def get_constant(self, name, value=None):
        """Gluon 1.x: return constant ``name``, creating it from ``value`` if missing."""
        if name in self:
            return self[name]
        if value is None:
            raise HybridnetValueError(f"ParameterDict.get_constant: no constant {name!r} yet; "
                                      "pass its value")
        c = Constant(value, name)
        OrderedDict.__setitem__(self, name, c)
        if self._owner is not None:
            self._owner._reg_params[name] = c
            self._owner._params_ready = False
        return c

    def update(self, other):
        for k, v in other.items():
            if k in self and self[k] is not v:
                raise HybridnetValueError(
                    f"ParameterDict.update: name {k!r} already holds a different Parameter; "
                    "rename one of them")
            self[k] = v

    def initialize(self, init=None, ctx=None, verbose=False, force_reinit=False):
        """Initialize every parameter (see ``Parameter.initialize``); ``init`` defaults to
        ``init.Uniform()`` for weights, with biases 0, gamma 1, beta 0."""
        from .. import initializer
        init = initializer.Uniform() if init is None else initializer.create(init)
        if verbose:
            init.set_verbosity(verbose=True)
        for v in self.values():
            v.initialize(None, ctx, init, force_reinit=force_reinit)

    def zero_grad(self):
        for v in self.values():
            v.zero_grad()

    def reset_ctx(self, ctx):
        for v in self.values():
            v.reset_ctx(ctx)

    def list_ctx(self):
        return sorted({c for v in self.values() for c in v.list_ctx()}, key=str)

    def setattr(self, name, value):
        """Set attribute ``name`` (e.g. 'grad_req', 'lr_mult') on every parameter."""
        for v in self.values():
            setattr(v, name, value)

    def cast(self, dtype):
        for v in self.values():
            v.cast(dtype)

    def select(self, pattern):
        """The entries whose name matches regular expression ``pattern``."""
        pat = re.compile(pattern)
        out = ParameterDict(self._prefix)
        for k, v in self.items():
            if pat.match(k):
                OrderedDict.__setitem__(out, k, v)
        return out

    def save(self, filename, strip_prefix=""):
        """Save every value to ``filename`` (``nd.save`` format; atomic)."""
        from ._params_io import save_params
        save_params(filename, {(k[len(strip_prefix):] if strip_prefix and k.startswith(
            strip_prefix) else k): v for k, v in self.items()})

    def load(self, filename, ctx=None, allow_missing=False, ignore_extra=False,
             restore_prefix="", cast_dtype=False, dtype_source="current"):
        """Load values saved by ``save`` (or ``Block.save_parameters``)."""
        from ._params_io import load_file, load_into
        loaded = {restore_prefix + k: v for k, v in load_file(filename).items()}
        load_into(self, loaded, repr(str(filename)), ctx, allow_missing, ignore_extra,
                  cast_dtype, dtype_source)
