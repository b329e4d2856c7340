"""Parameters: named, lazily-shaped weights of a Block.

A dimension given as 0 is unknown until the first forward: the owning layer's
``infer_shape`` fills it in, then the initializer passed to ``initialize()``
runs (deferred initialization, explicit and required, as in Gluon).
"""
import warnings

import numpy as np

from .._state import STATE
from ..base import DeferredInitError, HybridnetValueError, ShapeError, normalize_dtype
from ..context import cpu
from ..ndarray.ndarray import NDArray, wrap

__all__ = ["Parameter", "Constant", "ParameterDict", "DeferredInitializationError"]

DeferredInitializationError = DeferredInitError  # Gluon 1.x name

# Names the initializer dispatches on by suffix (weight -> init, bias -> 0, gamma -> 1 ...).
# A parameter with any other name and no init of its own gets the default initializer's
# weight rule, as in Gluon 1.x (which always passed the default as the parameter's init).
_SUFFIXES = ("weight", "bias", "gamma", "beta", "running_mean", "running_var", "moving_mean",
             "moving_var", "moving_inv_var", "moving_avg", "min", "max")

_UNINIT = ("Parameter '{name}' has not been initialized. Call .initialize() on the block "
           "(e.g. net.initialize()) before running it, or load its values with "
           "load_parameters()")
_DEFERRED = ("Parameter '{name}' has not been initialized yet because initialization was "
             "deferred: its shape {shape} has unknown dims (0), inferred on the block's first "
             "forward. Pass one batch of data through the network first (net(x)), or give "
             "full shapes (e.g. in_units=..., in_channels=...)")


def _norm_shape(shape):
    if shape is None:
        return None
    if isinstance(shape, (int, np.integer)):
        shape = (shape,)
    return tuple(0 if (s is None or s < 0) else int(s) for s in shape)


def _known(shape):
    return shape is not None and all(s > 0 for s in shape)


def _shape_str(shape):
    return "(" + ", ".join(str(s) for s in shape) + ("," if len(shape) == 1 else "") + ")"


def init_error(param, template, name=None, cls=DeferredInitError):
    """An error about ``param``; Blocks re-render ``template`` with the structural name."""
    name = name or param.name
    e = cls(template.format(name=name, shape=param._shape))
    e.param, e.template = param, template
    return e


class Parameter:
    """A weight of a Block, with its gradient buffer and optimizer hints.

    Parameters
    ----------
    name : str
        Short name (``weight``); the structural name (``0.weight``) comes from
        the Block tree and is what ``collect_params`` and files use.
    grad_req : {'write', 'add', 'null'}
        How backward stores the gradient: overwrite, accumulate (zero it yourself
        with ``zero_grad``), or not at all (a constant).
    shape : int or tuple of int, optional
        0 marks a dimension inferred on the first forward.
    dtype : str or numpy dtype, default float32
    lr_mult, wd_mult : float
        Multipliers the optimizer applies to the learning rate and weight decay.
    init : Initializer or str, optional
        Overrides the initializer given to ``Block.initialize`` for this parameter.
    allow_deferred_init : bool
        Whether ``initialize()`` may wait for the shape (default True).

    Examples
    --------
    >>> w = Parameter('weight', shape=(4, 0))   # 0: filled in by the layer's infer_shape
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
        """The structural name (``features.0.weight``) once a Block collected it, else the
        short name given at construction."""
        return self._structural_name or self._name

    def _set_structural_name(self, name):
        # The outermost collection wins (``net.collect_params()`` after ``net.dense...``).
        old = self._structural_name
        if old is None or name.count(".") > old.count("."):
            self._structural_name = name

    def __repr__(self):
        shape = _shape_str(self._shape) if self._shape is not None else "None"
        return f"Parameter {self.name} (shape={shape}, dtype={np.dtype(self.dtype).name})"

    # ---- shape / dtype ------------------------------------------------------------------
    @property
    def shape(self):
        return self._shape

    @shape.setter
    def shape(self, new_shape):
        new_shape = _norm_shape(new_shape)
        old = self._shape
        if old is None or old == new_shape:
            if self._data is None:
                self._shape = new_shape
            return
        if len(old) != len(new_shape) or any(o and n and o != n for o, n in zip(old, new_shape)):
            where = ("its loaded/initialized value has" if self._data is not None
                     else "it was declared with")
            raise init_error(
                self, f"Parameter '{{name}}': the input implies shape {_shape_str(new_shape)}, "
                f"but {where} shape {_shape_str(old)} (0 = unknown). Check the layer's "
                "in_units/in_channels (or the loaded parameter file) against the data you feed "
                "it", cls=ShapeError)
        if self._data is None:
            # Fill unknown dims only; known dims stay as declared.
            self._shape = tuple(o or n for o, n in zip(old, new_shape))

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
            if req != "null":
                self._data._fresh_grad = False

    @property
    def differentiable(self):
        return self._differentiable

    # ---- initialization -----------------------------------------------------------------
    def initialize(self, init=None, ctx=None, default_init=None, force_reinit=False):
        """Initialize now, or once the shape is known (deferred) if it has unknown dims.

        Parameters
        ----------
        init : Initializer or str, optional
            Used for this parameter; else its own ``init``; else ``default_init``
            dispatched on the name's suffix (weights random, biases 0, gamma 1, beta 0).
        ctx : Context or list of Context, optional
            Where the value lives (the first of a list); default cpu().
        default_init : Initializer, default ``init.Uniform()``
        force_reinit : bool
            Re-initialize a parameter that already has a value.
        """
        if self._data is not None and not force_reinit:
            warnings.warn(f"Parameter '{self.name}' is already initialized, ignoring. "
                          "Set force_reinit=True to re-initialize.", stacklevel=2)
            return
        if default_init is None:
            from ..initializer import Uniform
            default_init = Uniform()
        ctx = ctx[0] if isinstance(ctx, (list, tuple)) else ctx
        if self._data is not None and self._ctx is not None and ctx is None:
            ctx = self._ctx
        self._deferred_init = (init, ctx or cpu(), default_init)
        if _known(self._shape):
            self._finish_deferred_init()
        elif not self.allow_deferred_init:
            self._deferred_init = None
            raise DeferredInitError(
                f"Cannot initialize Parameter '{self.name}' because it has unknown shape "
                f"{_shape_str(self._shape or ())} and allow_deferred_init=False; give it a full "
                "shape")

    def _finish_deferred_init(self):
        """Run the pending initializer now that the shape is known."""
        from .. import autograd, initializer
        init, ctx, default_init = self._deferred_init
        if not _known(self._shape):
            raise init_error(self, "Parameter '{name}': cannot initialize with unknown shape "
                             "{shape}; its block's infer_shape did not fill every dim")
        arr = wrap(np.zeros(self._shape, self.dtype), ctx)
        init = init if init is not None else self.init
        if init is None and not self.name.endswith(_SUFFIXES):
            init = default_init
        desc = initializer.InitDesc(self.name, {"__init__": init} if init is not None else {})
        with autograd.pause():
            initializer.create(default_init)(desc, arr)
        self._deferred_init = None
        self._init_impl(arr, ctx)

    def _init_impl(self, arr, ctx=None):
        self._ctx = ctx or arr.context
        arr._ctx = self._ctx
        self._data = arr
        arr.attach_grad(self._grad_req)
        if arr._grad is not None:
            arr._fresh_grad = False

    @property
    def is_initialized(self):
        return self._data is not None

    def _check_initialized(self, name=None):
        if self._data is not None:
            return
        if self._deferred_init is not None:
            raise init_error(self, _DEFERRED, name)
        raise init_error(self, _UNINIT, name)

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
        """The gradient buffer written by ``backward`` (per ``grad_req``)."""
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
            ctx = self._deferred_init[1] if self._deferred_init is not None else arr.context
            self._deferred_init = None
            self._init_impl(wrap(np.array(arr._data, dtype=self.dtype)), ctx)
            return
        if arr.shape != self._data.shape:
            raise ShapeError(f"Parameter '{self.name}'.set_data: shape {arr.shape} != parameter "
                             f"shape {self._data.shape}")
        self._data._data[...] = arr._data

    def zero_grad(self):
        """Set the gradient buffer to 0 (needed between steps with grad_req='add')."""
        if self._data is not None and self._data._grad is not None:
            self._data._grad._data[...] = 0

    def reset_ctx(self, ctx):
        ctx = ctx[0] if isinstance(ctx, (list, tuple)) else ctx
        if self._data is not None:
            self._ctx = ctx
            self._data._ctx = ctx
            if self._data._grad is not None:
                self._data._grad._ctx = ctx
        elif self._deferred_init is not None:
            i, _, d = self._deferred_init
            self._deferred_init = (i, ctx, d)

    def cast(self, dtype):
        """Change the dtype of the value (and gradient buffer) in place of the old one."""
        self.dtype = normalize_dtype(dtype).type
        if self._data is not None:
            self._init_impl(wrap(self._data._data.astype(self.dtype)), self._ctx)

    def var(self):
        from .. import symbol
        return symbol.var(self.name, shape=self._shape, dtype=self.dtype)


class Constant(Parameter):
    """A parameter that never changes (grad_req 'null'): ``Constant(value)``."""

    def __init__(self, value, name="const"):
        if isinstance(value, str):   # Gluon 1.x order: Constant(name, value)
            name, value = value, name
        value = value if isinstance(value, NDArray) else wrap(np.asarray(value, np.float32))
        super().__init__(name, grad_req="null", shape=value.shape, dtype=value.dtype,
                         init=None, differentiable=False)
        self._value = value
        self._init_impl(wrap(value._data.copy()), value.context)

    def initialize(self, init=None, ctx=None, default_init=None, force_reinit=False):
        return None


from ._paramdict import ParameterDict  # noqa: E402  (it needs Parameter)
