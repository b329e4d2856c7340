"""The op registry: every operator is defined exactly once, here.

An ``Op`` holds all of an operator's rules side by side (JAX's ``lax`` style):

* ``forward(*arrays, **attrs)`` — the NumPy implementation used by eager mode
  and by the JIT's reference interpreter. Its parameter names are the public
  argument names of ``nd.<name>`` (``data``, ``lhs``, ``axis`` ...).
* ``vjp(g, inputs, out, **attrs[, needs_grad])`` — the gradient, written with hybridnet ops
  so the same rule runs eagerly and, on traced values, emits backward IR.
  ``g``/``out`` are single arrays for one-output ops, tuples otherwise; it
  returns one gradient (or None) per array input.
* ``vjp_np(g, inputs, out, needs, dest, **attrs)`` — optional, for hot ops: the same
  gradient on NumPy arrays, used by plain eager backward (no ``create_graph``, not
  traced) to skip per-op dispatch and wrapping (``g`` holds None for an output of a
  multi-output op that no gradient reached). ``needs`` says per input whether a
  gradient is wanted (it may return None for the others); with ``vjp_np_dest=True``, ``dest``
  is None or per input a buffer (a variable's own ``.grad``) the gradient may be
  written into and returned. Tests check it against ``vjp``.
* ``shape_rule(shapes, dtypes, **attrs) -> [(shape, dtype), ...]`` — used by
  tracing and the IR verifier; when absent it is derived by running
  ``forward`` on zero arrays of the given shapes.
* ``kind`` — ``elementwise | reduce | matmul | movement | opaque``; drives fusion.
* ``num_outputs`` — an int, or a callable ``attrs -> int`` when the count depends on
  the attrs (``split``); ``op.n_outputs(attrs)`` resolves it. A forward with one
  output returns a bare array, with several a tuple.
* ``expr`` — for elementwise ops, a scalar expression template over ``{0}``,
  ``{1}`` ... and attrs (``{scalar}``) that the code generator renders.
* ``kernel`` — for other ops, an optional kernel builder ``kernel(node) -> source``
  of a Numba function ``kernel(in0, ..., out0, ...)`` over C-contiguous N-D arrays
  (or None when that node's shapes/attrs are not handled); the JIT then calls it
  instead of the NumPy forward.
"""
import inspect

import numpy as np

from ..base import HybridnetError, ShapeError

__all__ = ["Op", "register", "get_op", "all_ops", "OPS", "FRONTENDS", "frontend"]

OPS = {}
# Hand-written public functions for ops whose user signature differs from the
# forward (optional array inputs such as ``bias``, MXNet aux-state updates):
# ``nd.<name>`` is taken from here instead of being generated.
FRONTENDS = {}
KINDS = ("elementwise", "reduce", "matmul", "movement", "opaque")


class Op:
    __slots__ = ("name", "kind", "forward", "vjp", "shape_rule", "expr", "num_outputs",
                 "variadic", "arg_names", "attr_defaults", "canon", "differentiable",
                 "random", "doc", "nondiff_args", "kernel", "vjp_needs", "vjp_np",
                 "vjp_np_dest")

    def __init__(self, name, kind, forward, vjp=None, shape_rule=None, expr=None,
                 num_outputs=1, canon=None, differentiable=True, random=False,
                 nondiff_args=(), kernel=None, vjp_np=None, vjp_np_dest=False):
        if kind not in KINDS:
            raise ValueError(f"op {name}: kind must be one of {KINDS}, got {kind!r}")
        self.name, self.kind, self.forward, self.vjp = name, kind, forward, vjp
        self.shape_rule, self.expr, self.num_outputs = shape_rule, expr, num_outputs
        self.canon = canon              # attrs -> attrs (normalise lists to tuples ...)
        self.differentiable = differentiable and vjp is not None
        self.random = random            # draws from hybridnet.random's generator
        self.nondiff_args = frozenset(nondiff_args)  # e.g. labels, indices
        self.kernel = kernel            # codegen hint for non-elementwise ops
        # A vjp with a ``needs_grad`` keyword is told which inputs need a gradient
        # (a tuple of bools) and may return None for the others (skips GEMMs).
        self.vjp_needs = vjp is not None and "needs_grad" in inspect.signature(vjp).parameters
        self.vjp_np = vjp_np            # plain eager backward: the vjp on NumPy arrays
        self.vjp_np_dest = vjp_np_dest  # ... which may write into variables' .grad buffers
        self.doc = forward.__doc__
        # Public signature comes from the NumPy forward's parameters.
        params = list(inspect.signature(forward).parameters.values())
        self.variadic = any(p.kind == p.VAR_POSITIONAL for p in params)
        self.arg_names = tuple(p.name for p in params
                               if p.default is p.empty and p.kind == p.POSITIONAL_OR_KEYWORD)
        self.attr_defaults = {p.name: p.default for p in params
                              if p.default is not p.empty and p.kind != p.VAR_POSITIONAL}

    def n_outputs(self, attrs):
        """Number of outputs of this op called with ``attrs``."""
        n = self.num_outputs
        return n(attrs) if callable(n) else n

    def infer(self, shapes, dtypes, attrs):
        """Output ``[(shape, dtype), ...]`` for inputs of these shapes/dtypes."""
        if self.shape_rule is not None:
            return self.shape_rule(shapes, dtypes, **attrs)
        arrays = [np.zeros(s, d) for s, d in zip(shapes, dtypes)]
        res = self.call_forward(arrays, attrs)
        res = res if isinstance(res, tuple) else (res,)
        return [(r.shape, r.dtype) for r in res]

    def call_forward(self, arrays, attrs):
        """Run the NumPy forward; turn NumPy's errors into a hybridnet error naming the op."""
        try:
            return self.forward(*arrays, **attrs)
        except HybridnetError:
            raise
        except (ValueError, IndexError, TypeError, np.exceptions.AxisError) as e:
            raise self.error(arrays, attrs, e) from None

    def error(self, arrays, attrs, exc):
        shapes = ", ".join(f"{tuple(np.shape(a))}:{getattr(a, 'dtype', type(a).__name__)}"
                           for a in arrays)
        shown = {k: v for k, v in attrs.items() if v is not None}
        msg = (f"{self.name}: cannot apply to inputs with shapes {shapes}"
               f"{' and ' + str(shown) if shown else ''}: {exc}")
        if isinstance(exc, np.exceptions.AxisError):
            msg += "; pass an axis in [-ndim, ndim)"
        elif "broadcast" in str(exc):
            msg += ("; operands must have equal shapes or shapes that broadcast "
                    "(trailing dims equal or 1)")
        return ShapeError(msg)

    def __repr__(self):
        return f"<Op {self.name} ({self.kind})>"


def register(op):
    if op.name in OPS:
        raise HybridnetError(f"op {op.name!r} is registered twice; each op is defined once")
    OPS[op.name] = op
    return op


def frontend(name):
    """Decorator: register ``fn`` as the public ``nd.<name>`` function."""
    def deco(fn):
        if name in FRONTENDS:
            raise HybridnetError(f"frontend {name!r} is registered twice")
        FRONTENDS[name] = fn
        fn.__module__ = "hybridnet.nd"
        return fn
    return deco


def get_op(name):
    try:
        return OPS[name]
    except KeyError:
        raise HybridnetError(f"unknown op {name!r}") from None


def all_ops():
    return dict(OPS)
