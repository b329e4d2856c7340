"""Parameters: named, lazily-shaped weights of a Block.

A dimension given as 0 is unknown until the first forward: the owning layer's
``infer_shape`` fills it in, then the initializer passed to ``initialize()``
runs (deferred initialization, explicit and required, as in Gluon).
"""
import re
import warnings
from collections import OrderedDict

import numpy as np

from .._state import STATE
from ..base import DeferredInitError, HybridnetValueError, ShapeError, normalize_dtype
from ..context import cpu
from ..ndarray import io as nd_io
from ..ndarray.ndarray import NDArray, wrap

__all__ = ["Parameter", "Constant", "ParameterDict", "DeferredInitializationError"]

DeferredInitializationError = DeferredInitError  # Gluon 1.x name


def _norm_shape(shape):
    if shape is None:
        return None
    if isinstance(shape, (int, np.integer)):
        shape = (shape,)
    return tuple(0 if (s is None or s < 0) else int(s) for s in shape)


def _known(shape):
    return shape is not None and all(s > 0 for s in shape)


class Parameter:
    """A weight of a Block, with its gradient buffer and optimizer hints.

    Parameters
    ----------
    name : str
        Short name (``weight``); the structural name (``0.weight``) comes from
        the Block tree and is what ``collect_params`` and files use.
    shape : tuple of int, optional
        0 marks a dimension inferred on the first forward.
    init : Initializer or str, optional
        Overrides the initializer given to ``Block.initialize`` for this parameter.
    grad_req : {'write', 'add', 'null'}
    lr_mult, wd_mult : float
        Multipliers the optimizer applies to the learning rate and weight decay.
    """

    def __init__(self, name="weight", grad_req="write", shape=None, dtype=np.float32,
                 lr_mult=1.0, wd_mult=1.0, init=None, allow_deferred_init=True,
                 differentiable=True, stype="default", grad_stype="default"):
        self._name = name
        self._structural_name = None
        self._shape = _norm_shape(shape)
        self.dtype = normalize_dtype(dtype).type
        self.lr_mult = lr_mult
        self.wd_mult = wd_mult
        self.init = init
        self.allow_deferred_init = allow_deferred_init
        self._differentiable = differentiable
        if grad_req not in ("write", "add", "null"):
            raise HybridnetValueError(f"Parameter {name}: grad_req must be 'write', 'add' or "
                                      f"'null', got {grad_req!r}")
        self._grad_req = grad_req if differentiable else "null"
        self._data = None
        self._deferred_init = None   # (init, ctx, default_init) waiting for the shape
        self._ctx = None

    # ---- naming / repr ---------------------------------------------------------------
    @property
    def name(self):
        return self._structural_name or self._name

    def __repr__(self):
        shape = "x".join(str(s) if s else "?" for s in self._shape) if self._shape else "?"
        return (f"Parameter {self.name} (shape=({', '.join(str(s) for s in self._shape or ())}), "
                f"dtype={np.dtype(self.dtype).name})") if shape else ""

    # ---- shape / dtype ------------------------------------------------------------------
    @property
    def shape(self):
        return self._shape

    @shape.setter
    def shape(self, new_shape):
        new_shape = _norm_shape(new_shape)
        if self._shape is not None and self._data is not None and new_shape != self._shape:
            raise ShapeError(f"Parameter {self.name}: cannot change the shape of an initialized "
                             f"parameter from {self._shape} to {new_shape}")
        if self._shape is not None and (len(self._shape) != len(new_shape) or any(
                o and n and o != n for o, n in zip(self._shape, new_shape))):
            raise ShapeError(
                f"Parameter {self.name}: the input implies shape {new_shape}, which disagrees "
                f"with its declared shape {self._shape} (0 = unknown). Check the layer's "
                "in_units/in_channels against the data you feed it")
        self._shape = new_shape

    @property
    def grad_req(self):
        return self._grad_req

    @grad_req.setter
    def grad_req(self, req):
        if req not in ("write", "add", "null"):
            raise HybridnetValueError(f"Parameter {self.name}: grad_req must be 'write', 'add' "
                                      f"or 'null', got {req!r}")
        if not self._differentiable:
            req = "null"
        self._grad_req = req
        if self._data is not None:
            self._data.attach_grad(req)

    @property
    def differentiable(self):
        return self._differentiable

    # ---- initialization -----------------------------------------------------------------
    def initialize(self, init=None, ctx=None, default_init=None, force_reinit=False):
        """Initialize now, or once the shape is known (deferred) if it has unknown dims."""
        if self._data is not None and not force_reinit:
            warnings.warn(f"Parameter {self.name} is already initialized, ignoring. "
                          "Set force_reinit=True to re-initialize.", stacklevel=2)
            return
        if default_init is None:
            from ..initializer import Uniform
            default_init = Uniform()
        ctx = ctx[0] if isinstance(ctx, (list, tuple)) else ctx
        self._deferred_init = (init, ctx or cpu(), default_init)
        if _known(self._shape):
            self._finish_deferred_init()
        elif not self.allow_deferred_init:
            raise DeferredInitError(
                f"Parameter {self.name} has unknown shape {self._shape} and deferred "
                "initialization is not allowed for it; give it a full shape")

    def _finish_deferred_init(self):
        """Run the pending initializer now that the shape is known."""
        from .. import initializer
        init, ctx, default_init = self._deferred_init
        if not _known(self._shape):
            raise DeferredInitError(
                f"Parameter {self.name}: cannot initialize with unknown shape {self._shape}")
        arr = wrap(np.zeros(self._shape, self.dtype), ctx)
        init = init if init is not None else self.init
        desc = initializer.InitDesc(self.name, {"__init__": init} if init is not None else {})
        initializer.create(default_init)(desc, arr)
        self._deferred_init = None
        self._init_impl(arr, ctx)

    def _init_impl(self, arr, ctx=None):
        self._ctx = ctx or arr.context
        self._data = arr
        arr.attach_grad(self._grad_req)
        if arr._grad is not None:
            arr._fresh_grad = False

    @property
    def is_initialized(self):
        return self._data is not None

    def _check_initialized(self):
        if self._data is not None:
            return
        if self._deferred_init is not None:
            raise DeferredInitError(
                f"Parameter '{self.name}' has not been initialized yet because initialization "
                f"was deferred (shape {self._shape} has unknown dims). It is initialized on the "
                "block's first forward; call the block on data first, or give full shapes "
                "(e.g. in_units=...)")
        raise DeferredInitError(
            f"Parameter '{self.name}' has not been initialized. Call .initialize() on the "
            "block (e.g. net.initialize()) before running it, or load_parameters()")

    # ---- access ------------------------------------------------------------------------
    def data(self, ctx=None):
        """The parameter's value (an NDArray that autograd treats as a variable)."""
        if STATE.tracer is not None:
            return STATE.tracer.parameter(self)
        if self._data is None:
            self._check_initialized()
        return self._data

    def list_data(self):
        return [self.data()]

    def grad(self, ctx=None):
        if self._data is None:
            self._check_initialized()
        if self._data._grad is None:
            raise HybridnetValueError(f"Parameter '{self.name}' has no gradient because its "
                                      "grad_req is 'null'")
        return self._data._grad

    def list_grad(self):
        return [self.grad()]

    def list_ctx(self):
        if self._data is None:
            if self._deferred_init is not None:
                return [self._deferred_init[1]]
            self._check_initialized()
        return [self._ctx]

    def set_data(self, data):
        """Replace the value (shape must match; an uninitialized parameter takes it as is)."""
        arr = data if isinstance(data, NDArray) else wrap(np.asarray(data, self.dtype))
        if self._data is None:
            self.shape = arr.shape
            self._deferred_init = None
            self._init_impl(wrap(np.array(arr._data, dtype=self.dtype)), arr.context)
            return
        if arr.shape != self._data.shape:
            raise ShapeError(f"Parameter {self.name}.set_data: shape {arr.shape} != parameter "
                             f"shape {self._data.shape}")
        self._data._data[...] = arr._data

    def zero_grad(self):
        if self._data is not None and self._data._grad is not None:
            self._data._grad._data[...] = 0

    def reset_ctx(self, ctx):
        ctx = ctx[0] if isinstance(ctx, (list, tuple)) else ctx
        if self._data is not None:
            self._ctx = ctx
            self._data._ctx = ctx
        elif self._deferred_init is not None:
            i, _, d = self._deferred_init
            self._deferred_init = (i, ctx, d)

    def cast(self, dtype):
        self.dtype = normalize_dtype(dtype).type
        if self._data is not None:
            self._init_impl(wrap(self._data._data.astype(self.dtype)), self._ctx)

    def var(self):
        from .. import symbol
        return symbol.var(self.name, shape=self._shape, dtype=self.dtype)


class Constant(Parameter):
    """A parameter that never changes (grad_req 'null'): ``Constant(value)``."""

    def __init__(self, value, name="const"):
        value = value if isinstance(value, NDArray) else wrap(np.asarray(value, np.float32))
        super().__init__(name, grad_req="null", shape=value.shape, dtype=value.dtype,
                         init=None, differentiable=False)
        self._value = value
        self._init_impl(wrap(value._data.copy()), value.context)

    def initialize(self, init=None, ctx=None, default_init=None, force_reinit=False):
        return None


class ParameterDict(OrderedDict):
    """Name -> Parameter, as returned by ``Block.collect_params()``."""

    def __init__(self, prefix="", shared=None, owner=None):
        super().__init__()
        self._prefix = prefix
        self._owner = owner

    @property
    def prefix(self):
        return self._prefix

    def __repr__(self):
        body = "\n".join(f"  {v!r}" for v in self.values())
        return f"ParameterDict (\n{body}\n)"

    def get(self, name, **kwargs):
        """Gluon 1.x: return parameter ``name``, creating (and registering) it if missing."""
        if name in self:
            p = self[name]
            for k, v in kwargs.items():
                if k == "shape":
                    p.shape = v
            return p
        p = Parameter(name, **kwargs)
        self[name] = p
        if self._owner is not None:
            self._owner._reg_params[name] = p
        return p

    def get_constant(self, name, value=None):
        if name in self:
            return self[name]
        c = Constant(value, name)
        self[name] = c
        if self._owner is not None:
            self._owner._reg_params[name] = c
        return c

    def update(self, other):
        for k, v in other.items():
            if k in self and self[k] is not v:
                raise HybridnetValueError(f"ParameterDict.update: duplicate name {k!r}")
            self[k] = v

    def initialize(self, init=None, ctx=None, verbose=False, force_reinit=False):
        if init is None:
            from ..initializer import Uniform
            init = Uniform()
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
        pat = re.compile(pattern)
        out = ParameterDict(self._prefix)
        for k, v in self.items():
            if pat.match(k):
                out[k] = v
        return out

    def save(self, filename, strip_prefix=""):
        arrays = {}
        for k, v in self.items():
            if v._data is None:
                v._check_initialized()
            name = k[len(strip_prefix):] if strip_prefix and k.startswith(strip_prefix) else k
            arrays[name] = v._data
        nd_io.save(filename, arrays)

    def load(self, filename, ctx=None, allow_missing=False, ignore_extra=False,
             restore_prefix="", cast_dtype=False, dtype_source="current"):
        loaded = nd_io.load(filename)
        if not isinstance(loaded, dict):
            raise HybridnetValueError(f"{filename}: expected a dict of named arrays, found a list")
        loaded = {restore_prefix + k: v for k, v in loaded.items()}
        load_into(self, loaded, str(filename), ctx, allow_missing, ignore_extra, cast_dtype,
                  dtype_source)


def load_into(params, loaded, source, ctx=None, allow_missing=False, ignore_extra=False,
              cast_dtype=False, dtype_source="current"):
    """Copy ``loaded`` (name -> NDArray) into ``params`` with Gluon's checks."""
    missing = [k for k in params if k not in loaded]
    extra = [k for k in loaded if k not in params]
    if missing and not allow_missing:
        raise HybridnetValueError(
            f"load_parameters: {source} has no values for parameters {missing} of this net "
            f"(the file holds {sorted(loaded)}). Pass allow_missing=True to keep their "
            "current/initial values, or load a file saved from the same architecture")
    if extra and not ignore_extra:
        raise HybridnetValueError(
            f"load_parameters: {source} holds parameters {extra} that this net does not have "
            f"(the net has {list(params)}). Pass ignore_extra=True to skip them")
    for name, p in params.items():
        if name not in loaded:
            continue
        arr = loaded[name]
        if p._shape is not None and (len(p._shape) != arr.ndim or any(
                s and s != a for s, a in zip(p._shape, arr.shape))):
            raise ShapeError(f"load_parameters: parameter {name} has shape {p._shape} in the net "
                             f"but {arr.shape} in {source}")
        if np.dtype(arr.dtype) != np.dtype(p.dtype):
            if not cast_dtype:
                raise HybridnetValueError(
                    f"load_parameters: parameter {name} is {np.dtype(p.dtype).name} in the net "
                    f"but {np.dtype(arr.dtype).name} in {source}; pass cast_dtype=True")
            if dtype_source == "saved":
                p.dtype = arr.dtype
            else:
                arr = arr.astype(p.dtype)
        if p._data is None:
            p._shape = tuple(arr.shape)
            p._deferred_init = None
            p._init_impl(wrap(np.array(arr._data, dtype=p.dtype)), ctx or cpu())
        else:
            p._data._data[...] = arr._data
