"""Tracing by swapping the interpreter.

While a ``Tracer`` is installed as ``hybridnet._state.STATE.tracer``, every op
call (``invoke``) is handed to it: it appends a ``Node`` and returns an
NDArray whose ``_data`` is the symbolic ``Value`` (so ``x.shape`` stays a
concrete tuple). Arrays that come from outside the trace are never baked in:

* parameters (``Parameter.data()``) become graph inputs read at each call;
* other concrete NDArrays the forward closes over become *captured* inputs,
  also read at each call;
* arrays created inside the forward (``nd.zeros`` ...) are constants.

Python code that needs a traced value (``asnumpy``, ``asscalar``, ``bool``)
raises ``GraphBreak`` naming the user's file:line; the caller then runs that
call eagerly (or raises, in strict mode).
"""
import os
import sys

import numpy as np

from .._state import STATE
from ..base import HybridnetError
from ..ndarray.ndarray import NDArray, wrap
from .ir import Graph, Node, Value

__all__ = ["Tracer", "GraphBreak", "trace_function", "user_location"]

_PKG_DIR = os.path.dirname(os.path.dirname(os.path.abspath(__file__)))


class GraphBreak(HybridnetError):
    """Code in a traced forward that cannot become part of a graph."""

    def __init__(self, reason, loc):
        super().__init__(f"{loc}: {reason}")
        self.reason, self.loc = reason, loc


def user_location():
    """``file:line`` of the innermost frame outside the hybridnet package."""
    f = sys._getframe(1)
    while f is not None:
        fname = f.f_code.co_filename
        if not os.path.abspath(fname).startswith(_PKG_DIR + os.sep):
            return f"{os.path.basename(fname)}:{f.f_lineno}"
        f = f.f_back
    return "<hybridnet>"


class Tracer:
    """Records op calls into a ``Graph``."""

    def __init__(self):
        self.graph = Graph()
        self._next = 0
        self.captured = []        # (Value, NDArray) read at each call
        self._captured_ids = {}   # id(NDArray) -> Value
        self.params = []          # (Value, Parameter)
        self._param_ids = {}      # id(Parameter) -> traced NDArray
        self.aux_updates = []     # (Parameter, Value): new value written after each call
        self._saved = None

    # ---- values -----------------------------------------------------------------
    def new_value(self, shape, dtype):
        v = Value(self._next, shape, dtype)
        self._next += 1
        return v

    def _traced(self, value, ctx=None):
        out = NDArray.__new__(NDArray)
        out._data = value
        out._ctx = ctx
        out._grad = None
        out._grad_req = "null"
        out._node = None
        out._oidx = 0
        out._var = False
        return out

    def add_input(self, shape, dtype, name=None):
        v = self.new_value(shape, dtype)
        v.name = name
        self.graph.inputs.append(v)
        return v

    def input(self, arr, name=None):
        """A traced NDArray standing for the graph input ``arr``."""
        return self._traced(self.add_input(arr.shape, arr._data.dtype, name), arr._ctx)

    def value_of(self, x):
        d = x._data
        if isinstance(d, Value):
            return d
        key = id(x)
        v = self._captured_ids.get(key)
        if v is None:
            v = self.add_input(d.shape, d.dtype, name="captured")
            self._captured_ids[key] = v
            self.captured.append((v, x))
        return v

    # ---- the interpreter protocol (called from ndarray/autograd/gluon) ---------
    def invoke(self, op, inputs, attrs):
        vals = [self.value_of(x) for x in inputs]
        types = op.infer([v.shape for v in vals], [v.dtype for v in vals], attrs)
        outs = [self.new_value(s, d) for s, d in types]
        self.graph.nodes.append(Node(op.name, vals, outs, dict(attrs), user_location()))
        ctx = inputs[0]._ctx if inputs else None
        res = tuple(self._traced(v, ctx) for v in outs)
        return res[0] if len(res) == 1 else res   # split(num_outputs=1) too, as eager

    def constant(self, arr):
        v = self.new_value(arr.shape, arr._data.dtype)
        self.graph.constants[v] = arr._data
        return self._traced(v, arr._ctx)

    def parameter(self, param):
        t = self._param_ids.get(id(param))
        if t is None:
            if param._data is None:
                param._check_initialized()
            v = self.add_input(param._data.shape, param._data._data.dtype, name=param.name)
            self.params.append((v, param))
            t = self._traced(v, param._data._ctx)
            self._param_ids[id(param)] = t
        return t

    def read_value(self, x, what):
        raise GraphBreak(f"{what} reads the value of a traced array, which is not known "
                         "while hybridize() traces the forward", user_location())

    def inplace(self, target, result):
        return self._write(target, None, result)

    def setitem(self, target, key, value):
        return self._write(target, key, value)

    def _write(self, target, key, value):
        tv = target._data
        # An auxiliary parameter (running statistics) written whole: a state update.
        for v, p in self.params:
            if v is tv or self._param_ids.get(id(p)) is target:
                full = key is None or key == slice(None) or key is Ellipsis
                if p.grad_req == "null" and full and isinstance(value, NDArray):
                    self.aux_updates.append((p, self.value_of(value)))
                    return target
                raise GraphBreak(f"in-place write to parameter {p.name} inside a hybridized "
                                 "forward", user_location())
        if not isinstance(tv, Value) or tv in self.graph.inputs:
            raise GraphBreak("in-place write to an input of the hybridized block",
                             user_location())
        if key is None:
            if value.shape != target.shape:
                raise GraphBreak("in-place op changes the shape", user_location())
            target._data = self.value_of(value)
            return target
        raise GraphBreak("slice assignment inside a hybridized forward", user_location())

    def custom_function(self, fn, inputs):
        raise GraphBreak(f"custom autograd.Function {type(fn).__name__} inside a hybridized "
                         "forward", user_location())

    # ---- scope ------------------------------------------------------------------
    def __enter__(self):
        self._saved = STATE.tracer
        STATE.tracer = self
        return self

    def __exit__(self, *exc):
        STATE.tracer = self._saved


def trace_function(fn, example_args, names=None):
    """Trace ``fn(*NDArrays)`` into a Graph (inputs: the args, then parameters, then captures).

    Returns ``(graph, tracer, structure)`` where ``structure`` says whether ``fn``
    returned one array or a tuple.
    """
    tracer = Tracer()
    traced_args = [tracer.input(a, name=(names[i] if names else f"input{i}"))
                   for i, a in enumerate(example_args)]
    with tracer:
        out = fn(*traced_args)
    single = isinstance(out, NDArray)
    outs = (out,) if single else tuple(out)
    for o in outs:
        if not isinstance(o, NDArray):
            raise HybridnetError(f"hybridized forward must return NDArrays, got "
                                 f"{type(o).__name__}")
    g = tracer.graph
    g.outputs = [tracer.value_of(o) for o in outs]
    g.outputs += [v for _, v in tracer.aux_updates]
    return g, tracer, single
