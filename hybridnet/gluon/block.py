"""Block and HybridBlock: the base of every layer and model.

Children and Parameters register on attribute assignment; parameter names are
structural (``features.1.bias``). Deferred shapes are filled on the first call
by the layer's ``infer_shape``. Gluon 1.x code keeps working: ``name_scope()``
is accepted, ``hybrid_forward(F, x, **params)`` is called with ``F = nd``,
``params.get(...)`` creates parameters and ``params=`` shares them.
"""
import contextlib
import re
import warnings
from collections import OrderedDict

from .. import ndarray as nd
from .._state import STATE
from ..base import DeferredInitError, HybridnetValueError, ShapeError
from ..jit.plain_call import MISS
from .parameter import Parameter, ParameterDict, _known, init_error

__all__ = ["Block", "HybridBlock", "SymbolBlock"]


class Block:
    """Base class for all layers and models.

    Subclass it, create children/Parameters in ``__init__`` and write ``forward``::

        class Net(gluon.Block):
            def __init__(self):
                super().__init__()
                self.dense = nn.Dense(10)
            def forward(self, x):
                return self.dense(x)

    Parameters
    ----------
    prefix : str, optional
        Gluon 1.x name prefix; only used for ``name`` (parameter names are structural).
    params : ParameterDict or dict, optional
        Parameters to share (Gluon 1.x): a child Parameter or Block assigned under a
        name found in ``params`` (``weight``, or ``dense.weight`` for a child ``dense``)
        uses the shared Parameter instead of its own.
    """

    def __init__(self, prefix=None, params=None):
        object.__setattr__(self, "_children", OrderedDict())
        object.__setattr__(self, "_reg_params", OrderedDict())
        self._prefix = prefix or ""
        self._shared_params = params
        self._forward_hooks = OrderedDict()
        self._forward_pre_hooks = OrderedDict()
        self._params_ready = False

    # ---- registration ---------------------------------------------------------------
    def __setattr__(self, name, value):
        if "_children" not in self.__dict__:
            if isinstance(value, (Block, Parameter)):
                raise HybridnetValueError(
                    f"{type(self).__name__}: assign children/parameters only after calling "
                    "super().__init__() in __init__")
            object.__setattr__(self, name, value)
            return
        children, params = self._children, self._reg_params
        if isinstance(value, Block):
            params.pop(name, None)
            children[name] = self._share_into_child(name, value)
        elif isinstance(value, Parameter):
            children.pop(name, None)
            value = self._shared_param(name, value)
            for k in [k for k, q in params.items() if q is value and k != name]:
                del params[k]     # `self.w = self.params.get('weight')`: one name, the attribute
            params[name] = value
            self._params_ready = False
        else:
            children.pop(name, None)
            if params.pop(name, None) is not None:
                self._params_ready = False
            if isinstance(value, (list, tuple, dict)) and any(
                    isinstance(v, Block) for v in (value.values() if isinstance(value, dict)
                                                   else value)):
                warnings.warn(
                    f"{type(self).__name__}.{name} is a {type(value).__name__} holding Blocks; "
                    "they are not registered (their parameters are not collected). Use "
                    "nn.Sequential / register_child() instead", stacklevel=2)
        object.__setattr__(self, name, value)

    def __delattr__(self, name):
        self._children.pop(name, None)
        self._reg_params.pop(name, None)
        object.__delattr__(self, name)

    def _shared_param(self, name, value):
        shared = self._shared_params
        if shared is None or name not in shared or shared[name] is value:
            return value
        p = shared[name]
        if value.shape is not None:
            p.shape = value.shape      # raises if the declared shapes disagree
        return p

    def _share_into_child(self, name, block):
        shared = self._shared_params
        if shared:
            pre = name + "."
            sub = {k[len(pre):]: p for k, p in shared.items() if k.startswith(pre)}
            if sub:
                block.share_parameters(sub)
        return block

    def register_child(self, block, name=None):
        """Register ``block`` as a child (named by position when ``name`` is None)."""
        if not isinstance(block, Block):
            raise HybridnetValueError(f"{type(self).__name__}.register_child: expected a Block, "
                                      f"got {type(block).__name__}")
        name = str(len(self._children)) if name is None else name
        self._children[name] = self._share_into_child(name, block)
        return block

    def share_parameters(self, shared):
        """Use the Parameters in ``shared`` (structural name -> Parameter) in this block.

        Names are relative to this block (``dense.weight``), as ``collect_params`` gives them.
        """
        if not isinstance(shared, dict):
            raise HybridnetValueError(f"share_parameters: expected a dict of name -> Parameter, "
                                      f"got {type(shared).__name__}")
        for key, p in shared.items():
            *path, leaf = key.split(".")
            block = self
            for part in path:
                block = block._children.get(part)
                if block is None:
                    break
            if block is None or leaf not in block._reg_params:
                warnings.warn(f"share_parameters: {type(self).__name__} has no parameter {key!r}",
                              stacklevel=2)
                continue
            if block._reg_params[leaf] is not p:
                if p.shape is not None and block._reg_params[leaf].shape is not None:
                    p.shape = block._reg_params[leaf].shape
                setattr(block, leaf, p)
        return self

    def register_forward_hook(self, hook):
        """Call ``hook(block, inputs, outputs)`` after each forward; returns a handle with
        ``detach()`` (also usable as a context manager)."""
        return _HookHandle(self._forward_hooks, hook)

    def register_forward_pre_hook(self, hook):
        """Call ``hook(block, inputs)`` before each forward; returns a removable handle."""
        return _HookHandle(self._forward_pre_hooks, hook)

    @property
    def params(self):
        """This block's own parameters (Gluon 1.x; ``params.get(name, shape=...)`` creates one)."""
        pd = ParameterDict(self._prefix, shared=self._shared_params, owner=self)
        for k, v in self._reg_params.items():
            OrderedDict.__setitem__(pd, k, v)
        return pd

    @property
    def prefix(self):
        return self._prefix

    @property
    def name(self):
        return self._prefix.rstrip("_") or type(self).__name__.lower()

    def name_scope(self):
        """Accepted for Gluon 1.x code; names are structural, so this does nothing."""
        return contextlib.nullcontext()

    # ---- parameters -----------------------------------------------------------------
    def _collect_params_with_prefix(self, prefix=""):
        if prefix:
            prefix += "."
        out = OrderedDict()
        for k, p in self._reg_params.items():
            out[prefix + k] = p
        for k, child in self._children.items():
            out.update(child._collect_params_with_prefix(prefix + k))
        return out

    def collect_params(self, select=None):
        """ParameterDict of this block and all descendants, keyed by structural name.

        Parameters
        ----------
        select : str, optional
            A regular expression matched (``re.match``) against the names, e.g.
            ``net.collect_params('.*weight|.*bias')`` or ``'features\\.0\\..*'``.

        A shared Parameter appears once, under its first name.
        """
        ret = ParameterDict(self._prefix)
        seen = set()
        pattern = re.compile(select) if select is not None else None
        for name, p in self._collect_params_with_prefix().items():
            if id(p) in seen:
                continue
            seen.add(id(p))
            p._set_structural_name(name)
            if pattern is None or pattern.match(name):
                OrderedDict.__setitem__(ret, name, p)
        return ret

    def initialize(self, init=None, ctx=None, verbose=False, force_reinit=False):
        """Initialize all parameters (those with unknown dims wait for the first forward).

        Parameters
        ----------
        init : Initializer or str, optional
            Default ``init.Uniform()`` (scale 0.07) for weights; biases 0, BatchNorm
            gamma 1 / beta 0. A parameter's own ``init`` takes precedence.
        ctx : Context or list of Context, optional
        force_reinit : bool
            Re-initialize parameters that already have values.
        """
        self.collect_params().initialize(init, ctx, verbose, force_reinit)

    def zero_grad(self):
        self.collect_params().zero_grad()

    def reset_ctx(self, ctx):
        self.collect_params().reset_ctx(ctx)

    def cast(self, dtype):
        """Cast every parameter (and later inputs' expectations) to ``dtype``."""
        for child in self._children.values():
            child.cast(dtype)
        for p in self._reg_params.values():
            p.cast(dtype)

    def apply(self, fn):
        """Call ``fn(block)`` on every descendant, then on this block; returns self."""
        for child in self._children.values():
            child.apply(fn)
        fn(self)
        return self

    def save_parameters(self, filename, deduplicate=False):
        """Save parameter values to ``filename`` under structural names.

        The file is written atomically in ``nd.save`` format (no pickle). With
        ``deduplicate=True`` a shared parameter is stored once, under its first name.
        """
        from ._params_io import save_params
        named, seen = OrderedDict(), set()
        for name, p in self._collect_params_with_prefix().items():
            if deduplicate and id(p) in seen:
                continue
            seen.add(id(p))
            named[name] = p
        save_params(filename, named)

    def load_parameters(self, filename, ctx=None, allow_missing=False, ignore_extra=False,
                        cast_dtype=False, dtype_source="current"):
        """Load values saved by ``save_parameters``; works on a net that never ran.

        Parameters
        ----------
        filename : str
        ctx : Context, optional
            Where to place the values (default: where each parameter is, or cpu()).
        allow_missing : bool
            Do not fail when the file lacks some of the net's parameters.
        ignore_extra : bool
            Do not fail when the file holds parameters the net does not have.
        cast_dtype : bool
            Cast values whose dtype differs from the parameter's (else an error).
        dtype_source : {'current', 'saved'}
            With ``cast_dtype``: keep the net's dtype or take the file's.
        """
        from ._params_io import load_file, load_into
        loaded = load_file(filename)
        load_into(self._collect_params_with_prefix(), loaded, repr(str(filename)), ctx,
                  allow_missing, ignore_extra, cast_dtype, dtype_source)

    save_params = save_parameters
    load_params = load_parameters

    # ---- calling ------------------------------------------------------------------
    def __call__(self, *args, **kwargs):
        if self._forward_pre_hooks:
            for hook in list(self._forward_pre_hooks.values()):
                hook(self, args)
        out = self._call_forward(args, kwargs)
        if self._forward_hooks:
            for hook in list(self._forward_hooks.values()):
                hook(self, args, out)
        return out

    def _call_forward(self, args, kwargs):
        """``forward`` after first-call shape inference, without hooks."""
        try:
            if not self._params_ready:
                self._prepare_params(args)
            return self.forward(*args, **kwargs)
        except (DeferredInitError, ShapeError) as e:
            self._rename_error(e)
            raise

    def _rename_error(self, e):
        """Re-render a parameter error with the name relative to this (outer) block."""
        p = getattr(e, "param", None)
        if p is None:
            return
        for name, q in self._collect_params_with_prefix().items():
            if q is p:
                p._set_structural_name(name)
                e.args = (e.template.format(name=name, shape=p._shape),)
                return

    def _prepare_params(self, args):
        """First call: infer shapes from the inputs, then run deferred initializers."""
        params = list(self._reg_params.values())
        for p in params:
            if p._data is None and p._deferred_init is None:
                p._check_initialized()          # "call .initialize()"
        if type(self).infer_shape is not Block.infer_shape:
            # Also run when shapes are known: checks the input against loaded weights.
            self.infer_shape(*args)
        else:
            for p in params:
                if not _known(p.shape):
                    raise init_error(
                        p, f"Parameter '{{name}}' of {type(self).__name__} has unknown shape "
                        f"{{shape}} (0 = unknown) and {type(self).__name__} has no "
                        "infer_shape(*inputs) to fill it; give the parameter a full shape or "
                        "implement infer_shape")
        for p in params:
            if p._data is None:
                p._finish_deferred_init()
        self._params_ready = True

    def infer_shape(self, *args):
        """Fill unknown parameter dims from the first inputs (layers override this).

        Set them with ``self.weight.shape = (units, x.shape[1])``; called once, on the
        first forward, before deferred initializers run.
        """

    def forward(self, *args):
        raise NotImplementedError(f"{type(self).__name__} must implement forward()")

    def hybridize(self, active=True, **kwargs):
        """Hybridize every HybridBlock below this block."""
        for child in self._children.values():
            child.hybridize(active, **kwargs)

    # ---- printing -------------------------------------------------------------------
    def __repr__(self):
        modstr = "\n".join(f"  ({k}): {_indent(repr(c), 2)}" for k, c in self._children.items())
        return f"{type(self).__name__}(\n{modstr}\n)"

    def summary(self, *inputs):
        """Print each layer's output shape and parameter count for one forward of ``inputs``
        (MXNet's table: layers in call order, then totals)."""
        from ._summary import summary
        summary(self, inputs)


def _indent(s, n):
    return s.replace("\n", "\n" + " " * n)


class _HookHandle:
    _next = 0

    def __init__(self, registry, hook):
        _HookHandle._next += 1
        self._id = _HookHandle._next
        self._registry = registry
        registry[self._id] = hook

    def detach(self):
        self._registry.pop(self._id, None)

    def __enter__(self):
        return self

    def __exit__(self, *exc):
        self.detach()


class HybridBlock(Block):
    """A Block whose forward can be traced and compiled by ``hybridize()``.

    Write ``forward(self, x)`` with hybridnet ops, or Gluon 1.x
    ``hybrid_forward(self, F, x, **params)`` where ``F`` is ``hybridnet.nd`` and the
    block's own parameters arrive as keyword arguments (NDArrays) named like the
    attributes they were assigned to.
    """

    def __init__(self, prefix=None, params=None):
        super().__init__(prefix, params)
        self._active = False
        self._hybrid_flags = {}
        self._cached = None          # the JIT's per-block cache (hybridnet.gluon._hybrid)

    def hybridize(self, active=True, static_alloc=False, static_shape=False,
                  backend=None, strict=False, **kwargs):
        """Trace ``forward`` into a graph and run it compiled (``active=False``: eager again).

        ``static_alloc``/``static_shape`` are accepted for Gluon 1.x code; hybridnet always
        plans buffers once per input signature. ``strict=True`` makes every graph break
        (code that cannot be traced) an error instead of a warning.
        """
        self._active = bool(active)
        self._hybrid_flags = dict(static_alloc=static_alloc, static_shape=static_shape,
                                  strict=strict, **kwargs)
        self._cached = None
        super().hybridize(active, static_alloc=static_alloc, static_shape=static_shape,
                          strict=strict, **kwargs)

    def cast(self, dtype):
        self._cached = None
        super().cast(dtype)

    def __call__(self, *args, **kwargs):
        if self._active:
            cg = self._cached
            if self._forward_hooks or self._forward_pre_hooks:
                cg = None                       # hooks run around the compiled call
            if cg is not None and STATE.tracer is None:
                fast = cg.fast_call             # the last plain predict call's runner
                if fast is not None and not kwargs:
                    out = fast(args)
                    if out is not MISS:
                        return out
                    cg.fast_call = None         # another kind of call (training ...)
                return cg(*args, **kwargs)      # compiled graph: the hot path
            from ._hybrid import call_hybridized
            return call_hybridized(self, args, kwargs)
        if self._forward_pre_hooks or self._forward_hooks or not self._params_ready:
            return super().__call__(*args, **kwargs)
        try:                                    # Block.__call__ without hooks, inlined
            return self.forward(*args, **kwargs)
        except (DeferredInitError, ShapeError) as e:
            self._rename_error(e)
            raise

    def forward(self, x, *args, **kwargs):
        if type(self).hybrid_forward is HybridBlock.hybrid_forward:
            raise NotImplementedError(
                f"{type(self).__name__} must implement forward(self, x, ...) or Gluon 1.x "
                "hybrid_forward(self, F, x, ...)")
        params = {k: p.data() for k, p in self._reg_params.items()}
        params.update(kwargs)
        return self.hybrid_forward(nd, x, *args, **params)

    def hybrid_forward(self, F, x, *args, **kwargs):
        raise NotImplementedError

    def export(self, path, epoch=0, remove_amp_cast=True):
        raise NotImplementedError("HybridBlock.export is not implemented yet (planned over the "
                                  "JIT's IR); use save_parameters to keep the weights")


class SymbolBlock(HybridBlock):
    """Construct a block from a symbol graph (``SymbolBlock.imports``): not available yet."""

    def __init__(self, outputs, inputs, params=None):
        raise NotImplementedError("SymbolBlock needs hybridnet.sym, which is not implemented yet")

    @staticmethod
    def imports(symbol_file, input_names, param_file=None, ctx=None):
        raise NotImplementedError("SymbolBlock.imports needs hybridnet.sym, which is not "
                                  "implemented yet")
