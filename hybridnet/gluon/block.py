"""Block and HybridBlock: the base of every layer and model.

Children and Parameters register on attribute assignment; parameter names are
structural (``features.1.bias``). Deferred shapes are filled on the first call
by the layer's ``infer_shape``. Gluon 1.x code keeps working: ``name_scope()``
is accepted, ``hybrid_forward(F, x, **params)`` is called with ``F = nd``.
"""
import contextlib
import re
from collections import OrderedDict

import numpy as np

from .. import ndarray as nd
from ..base import DeferredInitError, HybridnetValueError
from ..ndarray.ndarray import NDArray
from .parameter import Parameter, ParameterDict, _known, load_into

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
            children[name] = value
        elif isinstance(value, Parameter):
            children.pop(name, None)
            params[name] = value
            self._params_ready = False
        else:
            if name in children and value is None:
                del children[name]
            elif name in params and value is None:
                del params[name]
        object.__setattr__(self, name, value)

    def __delattr__(self, name):
        self._children.pop(name, None)
        self._reg_params.pop(name, None)
        object.__delattr__(self, name)

    def register_child(self, block, name=None):
        """Register ``block`` as a child (named by position when ``name`` is None)."""
        name = str(len(self._children)) if name is None else name
        self._children[name] = block
        return block

    def register_forward_hook(self, hook):
        """Call ``hook(block, inputs, outputs)`` after each forward; returns a removable handle."""
        return _HookHandle(self._forward_hooks, hook)

    def register_forward_pre_hook(self, hook):
        return _HookHandle(self._forward_pre_hooks, hook)

    @property
    def params(self):
        """This block's own parameters (Gluon 1.x; ``params.get`` creates one)."""
        pd = ParameterDict(self._prefix, owner=self)
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

        ``select`` is a regular expression (or several joined by ``|``) matched against
        the names, e.g. ``net.collect_params('.*weight')``.
        """
        ret = ParameterDict(self._prefix)
        seen = set()
        pattern = re.compile(select) if select is not None else None
        for name, p in self._collect_params_with_prefix().items():
            if id(p) in seen:      # shared parameters appear once, under their first name
                continue
            seen.add(id(p))
            if p._structural_name is None:
                p._structural_name = name
            if pattern is None or pattern.match(name):
                OrderedDict.__setitem__(ret, name, p)
        return ret

    def initialize(self, init=None, ctx=None, verbose=False, force_reinit=False):
        """Initialize all parameters (shapes with unknown dims wait for the first forward)."""
        self.collect_params().initialize(init, ctx, verbose, force_reinit)

    def zero_grad(self):
        self.collect_params().zero_grad()

    def reset_ctx(self, ctx):
        self.collect_params().reset_ctx(ctx)

    def cast(self, dtype):
        for child in self._children.values():
            child.cast(dtype)
        for p in self._reg_params.values():
            p.cast(dtype)

    def apply(self, fn):
        """Call ``fn(block)`` on every descendant, then on this block."""
        for child in self._children.values():
            child.apply(fn)
        fn(self)
        return self

    def save_parameters(self, filename, deduplicate=False):
        """Save parameters to ``filename`` (structural names; atomic write; no pickle)."""
        params = self._collect_params_with_prefix()
        arrays, seen = {}, {}
        for name, p in params.items():
            if deduplicate and id(p) in seen:
                continue
            seen[id(p)] = name
            if p._data is None:
                p._check_initialized()
            arrays[name] = p._data
        nd.save(filename, arrays)

    def load_parameters(self, filename, ctx=None, allow_missing=False, ignore_extra=False,
                        cast_dtype=False, dtype_source="current"):
        """Load parameters saved by ``save_parameters`` (works on a net that never ran)."""
        loaded = nd.load(filename)
        if not isinstance(loaded, dict):
            raise HybridnetValueError(f"load_parameters: {filename} holds a list of arrays, "
                                      "not named parameters; it was not written by "
                                      "save_parameters")
        params = self._collect_params_with_prefix()
        load_into(params, loaded, repr(str(filename)), ctx, allow_missing, ignore_extra,
                  cast_dtype, dtype_source)

    save_params = save_parameters
    load_params = load_parameters

    # ---- calling ------------------------------------------------------------------
    def __call__(self, *args, **kwargs):
        for hook in list(self._forward_pre_hooks.values()):
            hook(self, args)
        if not self._params_ready:
            self._prepare_params(args)
        out = self.forward(*args, **kwargs)
        for hook in list(self._forward_hooks.values()):
            hook(self, args, out)
        return out

    def _prepare_params(self, args):
        """First call: infer unknown shapes from the inputs and run deferred initializers."""
        params = self._reg_params.values()
        if any(not _known(p.shape) for p in params):
            if type(self).infer_shape is Block.infer_shape:
                bad = [p.name for p in params if not _known(p.shape)]
                raise DeferredInitError(
                    f"{type(self).__name__}: parameters {bad} have unknown dims (0) and this "
                    "block has no infer_shape(*inputs) to fill them; give full shapes or "
                    "implement infer_shape")
            if any(p._data is None and p._deferred_init is None for p in params):
                p = next(p for p in params if p._data is None and p._deferred_init is None)
                p._check_initialized()
            self.infer_shape(*args)
        for p in params:
            if p._data is None and p._deferred_init is not None:
                p._finish_deferred_init()
        if all(p._data is not None for p in params):
            self._params_ready = True

    def _all_params_ready(self):
        return all(p._data is not None for p in self.collect_params().values())

    def infer_shape(self, *args):
        """Fill unknown parameter dims from the first inputs (layers override this)."""

    def forward(self, *args):
        raise NotImplementedError(f"{type(self).__name__} must implement forward()")

    def hybridize(self, active=True, **kwargs):
        """Hybridize every HybridBlock below this block."""
        for child in self._children.values():
            child.hybridize(active, **kwargs)

    # ---- printing -------------------------------------------------------------------
    def __repr__(self):
        s = f"{type(self).__name__}("
        if not self._children:
            return s + ")"
        lines = [f"  ({k}): " + _indent(repr(c), 2) for k, c in self._children.items()]
        return s + "\n" + "\n".join(lines) + "\n)"

    def summary(self, *inputs):
        """Print each layer's output shape and parameter count for one forward of ``inputs``."""
        rows, hooks, seen = [], [], set()

        def shapes_of(out):
            if isinstance(out, NDArray):
                return str(list(out.shape))
            if isinstance(out, (list, tuple)):
                return ", ".join(shapes_of(o) for o in out)
            return str(type(out).__name__)

        def hook(block, args, out):
            n = 0
            for p in block._reg_params.values():
                if id(p) not in seen and p._shape is not None:
                    seen.add(id(p))
                    n += int(np.prod(p._shape))
            rows.append((f"{type(block).__name__}-{len(rows) + 1}", shapes_of(out), n))

        def add_hooks(b):
            if b is not self:
                hooks.append(b.register_forward_hook(hook))
        self.apply(add_hooks)
        try:
            rows.append(("Input", shapes_of(list(inputs) if len(inputs) > 1 else inputs[0]), 0))
            self(*inputs)
        finally:
            for h in hooks:
                h.detach()
        total = sum(int(np.prod(p.shape)) for p in self.collect_params().values())
        trainable = sum(int(np.prod(p.shape)) for p in self.collect_params().values()
                        if p.grad_req != "null")
        w = max(24, max(len(r[0]) for r in rows) + 2)
        line = "-" * (w + 50)
        print(line)
        print(f"{'Layer (type)':>{w}}{'Output Shape':>30}{'Param #':>20}")
        print("=" * (w + 50))
        for name, shape, n in rows:
            print(f"{name:>{w}}{shape:>30}{n:>20}")
        print("=" * (w + 50))
        print(f"Parameters in forward computation graph, duplicate included\n"
              f"   Total params: {total}\n   Trainable params: {trainable}\n"
              f"   Non-trainable params: {total - trainable}")
        print(line)


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
    block's own parameters arrive as keyword arguments.
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

    def __call__(self, *args, **kwargs):
        if self._active:
            from ._hybrid import call_hybridized
            return call_hybridized(self, args, kwargs)
        return super().__call__(*args, **kwargs)

    def forward(self, x, *args):
        if type(self).hybrid_forward is HybridBlock.hybrid_forward:
            raise NotImplementedError(
                f"{type(self).__name__} must implement forward(self, x, ...) or Gluon 1.x "
                "hybrid_forward(self, F, x, ...)")
        params = {k: p.data() for k, p in self._reg_params.items()}
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
