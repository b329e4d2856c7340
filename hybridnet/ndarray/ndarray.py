"""NDArray: a NumPy array plus context, gradient and a link into the autograd tape.

Every op call goes through ``invoke``: it runs the registry's NumPy forward
(or hands the call to the active tracer while hybridize() traces) and, under
``autograd.record()``, appends one ``TapeNode``. Operators (``+``, ``*`` ...)
call ``invoke`` directly so a tiny eager op costs a few microseconds.
"""
import operator

import numpy as np

from .._state import STATE
from .._tape import TapeNode, parent_of
from ..base import (AutogradError, HybridnetError, HybridnetValueError, ShapeError,
                    normalize_dtype)
from ..context import Context, check_device, cpu, current_context
from ..ops.registry import OPS

__all__ = ["NDArray", "invoke", "wrap", "as_ndarray"]

_CPU = cpu()
_ndarray = np.ndarray
_get_data = operator.attrgetter("_data")
_EMPTY = {}
_new = object.__new__


def wrap(data, ctx=None):
    """Wrap a NumPy array (no copy) as an untracked NDArray."""
    if type(data) is not _ndarray:
        data = np.asarray(data)
    o = NDArray.__new__(NDArray)
    o._data = data
    o._ctx = ctx or _CPU
    o._grad = None
    o._grad_req = "null"
    o._node = None
    o._oidx = 0
    o._var = False
    return o


def invoke(op, inputs, attrs=_EMPTY):
    """Run ``op`` on NDArray ``inputs``: eagerly, traced, and/or recorded on the tape."""
    st = STATE
    if st.tracer is not None:
        return st.tracer.invoke(op, inputs, attrs)
    try:
        # most calls have no attrs: skip the ** unpacking (part of the ~1 us per-op budget);
        # map(attrgetter) instead of a list comprehension (a function call in Python 3.11)
        res = (op.forward(*map(_get_data, inputs), **attrs) if attrs
               else op.forward(*map(_get_data, inputs)))
    except HybridnetError:
        raise
    except (ValueError, IndexError, TypeError) as e:
        raise op.error([x._data for x in inputs], attrs, e) from None
    ctx = inputs[0]._ctx if inputs else _CPU
    # (ops whose output count depends on attrs, like split, return a bare array for one)
    if op.num_outputs == 1 or type(res) is not tuple:
        out = wrap(res, ctx)
        if st.recording and op.differentiable:
            for x in inputs:
                if x._node is not None or x._var:
                    _record(op, inputs, attrs, (out,))
                    break
        return out
    outs = tuple([wrap(r, ctx) for r in res])
    if st.recording and op.differentiable:
        for x in inputs:
            if x._node is not None or x._var:
                _record(op, inputs, attrs, outs)
                break
    return outs


def _parent(x):
    return (x._node, x._oidx) if x._node is not None else (None, x) if x._var else None


def _record(op, inputs, attrs, outs, custom=None):
    node = TapeNode(op, attrs, tuple(map(_get_data, inputs)), tuple(map(_parent, inputs)),
                    tuple(map(_get_data, outs)), custom)
    for i, o in enumerate(outs):
        o._node = node
        o._oidx = i
    return node


def as_ndarray(x, dtype=None, ctx=None):
    """NDArray from an NDArray, NumPy array, list or number."""
    if isinstance(x, NDArray):
        return x
    dt = normalize_dtype(dtype) if dtype is not None else None
    if dt is None:
        dt = x.dtype if isinstance(x, np.ndarray) else np.float32
    return wrap(np.array(x, dtype=dt), ctx)


def _invoke2(op, a, b):
    """``invoke(op, (a, b))`` for a one-output op without attrs: the operators' fast path.

    Same semantics as ``invoke``, with the per-call allocations (lists, tuples,
    ``**attrs``, helper calls) written out, since ``a + b`` on tiny arrays is
    dominated by this Python overhead.
    """
    st = STATE
    if st.tracer is not None:
        return st.tracer.invoke(op, (a, b), _EMPTY)
    ad, bd = a._data, b._data
    try:
        res = op.forward(ad, bd)
    except HybridnetError:
        raise
    except (ValueError, IndexError, TypeError) as e:
        raise op.error([ad, bd], _EMPTY, e) from None
    if type(res) is not _ndarray:
        res = np.asarray(res)
    o = _new(NDArray)
    o._data = res
    o._ctx = a._ctx
    o._grad = None
    o._grad_req = "null"
    o._node = None
    o._oidx = 0
    o._var = False
    if st.recording and op.differentiable and (a._node is not None or a._var
                                               or b._node is not None or b._var):
        o._node = TapeNode(op, _EMPTY, (ad, bd), (parent_of(a), parent_of(b)), (res,))
    return o


def _invoke1(op, a, attrs):
    """``invoke(op, (a,), attrs)`` for a one-output op (the scalar operators' fast path)."""
    st = STATE
    if st.tracer is not None:
        return st.tracer.invoke(op, (a,), attrs)
    ad = a._data
    try:
        res = op.forward(ad, **attrs)
    except HybridnetError:
        raise
    except (ValueError, IndexError, TypeError) as e:
        raise op.error([ad], attrs, e) from None
    if type(res) is not _ndarray:
        res = np.asarray(res)
    o = _new(NDArray)
    o._data = res
    o._ctx = a._ctx
    o._grad = None
    o._grad_req = "null"
    o._node = None
    o._oidx = 0
    o._var = False
    if st.recording and op.differentiable and (a._node is not None or a._var):
        o._node = TapeNode(op, attrs, (ad,), (parent_of(a),), (res,))
    return o


def _binary(op, sop, lhs, rhs, reverse=False):
    """Dispatch ``lhs <op> rhs`` where ``rhs`` may be an NDArray, NumPy array or number."""
    if type(rhs) is NDArray:
        return _invoke2(op, rhs, lhs) if reverse else _invoke2(op, lhs, rhs)
    if isinstance(rhs, NDArray):
        return invoke(op, (rhs, lhs) if reverse else (lhs, rhs))
    if isinstance(rhs, (int, float, bool, np.number, np.bool_)):
        return _invoke1(sop, lhs, {"scalar": float(rhs), "reverse": reverse})
    if isinstance(rhs, (np.ndarray, list, tuple)):
        rhs = wrap(np.asarray(rhs, dtype=lhs.dtype), lhs._ctx)
        return invoke(op, (rhs, lhs) if reverse else (lhs, rhs))
    return NotImplemented


class NDArray:
    """An n-dimensional array on a device, MXNet-compatible.

    Create one with ``hybridnet.nd.array``, ``zeros``, ``ones`` ...; convert back
    with ``asnumpy()``. Arithmetic broadcasts; comparisons return 0/1 in the
    input dtype; a size-1 array converts to a Python number with ``asscalar()``.
    """
    __slots__ = ("_data", "_ctx", "_grad", "_grad_req", "_node", "_oidx", "_var", "_fresh_grad",
                 "__weakref__")
    __array_priority__ = 1000.0  # numpy_scalar * NDArray -> NDArray.__rmul__

    def __init__(self, data, ctx=None, dtype=None):
        arr = as_ndarray(data, dtype)
        self._data = arr._data
        self._ctx = ctx or current_context()
        self._grad = None
        self._grad_req = "null"
        self._node = None
        self._oidx = 0
        self._var = False

    # ---- properties -------------------------------------------------------------
    @property
    def shape(self):
        return self._data.shape

    @property
    def dtype(self):
        return self._data.dtype.type

    @property
    def size(self):
        return self._data.size

    @property
    def ndim(self):
        return self._data.ndim

    @property
    def context(self):
        return self._ctx

    ctx = context

    @property
    def stype(self):
        return "default"

    @property
    def grad(self):
        return self._grad

    @property
    def grad_req(self):
        return self._grad_req

    @property
    def T(self):
        return self.transpose()

    @property
    def handle(self):
        return self._data

    # ---- conversion ---------------------------------------------------------------
    def asnumpy(self):
        """A NumPy copy of the data."""
        if STATE.tracer is not None:
            return STATE.tracer.read_value(self, "asnumpy()")
        return self._data.copy()

    def asscalar(self):
        """The value of a size-1 array as a Python number."""
        if STATE.tracer is not None:
            return STATE.tracer.read_value(self, "asscalar()").item()
        if self._data.size != 1:
            raise ShapeError(f"asscalar: the array has shape {self.shape} (size {self.size}); "
                             "only a size-1 array converts to a scalar. Index or reduce it first, "
                             "e.g. x.sum().asscalar()")
        return self._data.item()

    def item(self):
        return self.asscalar()

    def tolist(self):
        return self.asnumpy().tolist()

    def __array__(self, dtype=None, copy=None):
        a = self.asnumpy()
        return a if dtype is None else a.astype(dtype)

    def __bool__(self):
        if STATE.tracer is not None:
            return bool(STATE.tracer.read_value(self, "bool()"))
        if self._data.size != 1:
            raise HybridnetValueError(
                f"the truth value of an NDArray of shape {self.shape} is ambiguous; "
                "use (x != 0).sum() or compare elementwise")
        return bool(self._data.item())

    def __float__(self):
        return float(self.asscalar())

    def __int__(self):
        return int(self.asscalar())

    def __index__(self):
        if not np.issubdtype(self._data.dtype, np.integer):
            raise TypeError("only integer NDArrays can be used as an index")
        return int(self.asscalar())

    def __len__(self):
        if self.ndim == 0:
            raise TypeError("len() of a 0-d NDArray")
        return self.shape[0]

    def __iter__(self):
        for i in range(len(self)):
            yield self[i]

    def astype(self, dtype, copy=True):
        dt = normalize_dtype(dtype)
        if not copy and dt == self._data.dtype:
            return self
        return invoke(OPS["cast"], (self,), {"dtype": dt.name})

    def copy(self):
        return invoke(OPS["copy"], (self,))

    def copyto(self, other):
        """Copy into NDArray ``other`` (same shape) or to a new array on Context ``other``."""
        if isinstance(other, Context):
            return self.as_in_context(other) if other != self._ctx else self.copy()
        if not isinstance(other, NDArray):
            raise TypeError(f"copyto: expected an NDArray or Context, got {type(other).__name__}")
        if other.shape != self.shape:
            raise ShapeError(f"copyto: source shape {self.shape} != destination shape "
                             f"{other.shape}; reshape one of them first")
        other._data[...] = self._data
        return other

    def as_in_context(self, context):
        if context == self._ctx:
            return self
        check_device(context, f"as_in_context({context})")
        out = wrap(self._data.copy(), context)
        return out

    as_in_ctx = as_in_context

    def wait_to_read(self):
        return None

    def wait_to_write(self):
        return None

    def asnd(self):
        return self

    # ---- autograd -----------------------------------------------------------------
    def attach_grad(self, grad_req="write", stype=None):
        """Allocate ``self.grad`` (zeros) and mark this array as a variable to differentiate."""
        if grad_req not in ("write", "add", "null"):
            raise HybridnetValueError(f"attach_grad: grad_req must be 'write', 'add' or 'null', "
                                      f"got {grad_req!r}")
        self._grad_req = grad_req
        self._var = grad_req != "null"
        self._node = None
        self._grad = wrap(np.zeros_like(self._data), self._ctx) if self._var else None

    def backward(self, out_grad=None, retain_graph=False, train_mode=True):
        from .. import autograd
        autograd.backward([self], [out_grad] if out_grad is not None else None,
                          retain_graph=retain_graph, train_mode=train_mode)

    def detach(self):
        return wrap(self._data, self._ctx)

    # ---- printing -----------------------------------------------------------------
    def __repr__(self):
        if STATE.tracer is not None and not isinstance(self._data, np.ndarray):
            return f"<traced NDArray {'x'.join(map(str, self.shape))}>"
        shape = "x".join(str(s) for s in self.shape) if self.shape else "scalar"
        with np.printoptions(precision=8, threshold=1000, edgeitems=3):
            body = str(self._data)
        return f"\n{body}\n<NDArray {shape} @{self._ctx}>"

    __str__ = __repr__

    # ---- arithmetic ---------------------------------------------------------------
    def __add__(self, o): return _binary(_OPS.add, _OPS.add_scalar, self, o)
    def __radd__(self, o): return _binary(_OPS.add, _OPS.add_scalar, self, o, True)
    def __sub__(self, o): return _binary(_OPS.subtract, _OPS.subtract_scalar, self, o)
    def __rsub__(self, o): return _binary(_OPS.subtract, _OPS.subtract_scalar, self, o, True)
    def __mul__(self, o): return _binary(_OPS.multiply, _OPS.multiply_scalar, self, o)
    def __rmul__(self, o): return _binary(_OPS.multiply, _OPS.multiply_scalar, self, o, True)
    def __truediv__(self, o): return _binary(_OPS.divide, _OPS.divide_scalar, self, o)
    def __rtruediv__(self, o): return _binary(_OPS.divide, _OPS.divide_scalar, self, o, True)
    def __floordiv__(self, o): return _binary(_OPS.floor_divide, _OPS.floor_divide_scalar, self, o)
    def __rfloordiv__(self, o):
        return _binary(_OPS.floor_divide, _OPS.floor_divide_scalar, self, o, True)
    def __mod__(self, o): return _binary(_OPS.modulo, _OPS.modulo_scalar, self, o)
    def __rmod__(self, o): return _binary(_OPS.modulo, _OPS.modulo_scalar, self, o, True)
    def __pow__(self, o): return _binary(_OPS.power, _OPS.power_scalar, self, o)
    def __rpow__(self, o): return _binary(_OPS.power, _OPS.power_scalar, self, o, True)
    def __eq__(self, o): return _binary(_OPS.equal, _OPS.equal_scalar, self, o)
    def __ne__(self, o): return _binary(_OPS.not_equal, _OPS.not_equal_scalar, self, o)
    def __lt__(self, o): return _binary(_OPS.lesser, _OPS.lesser_scalar, self, o)
    def __le__(self, o): return _binary(_OPS.lesser_equal, _OPS.lesser_equal_scalar, self, o)
    def __gt__(self, o): return _binary(_OPS.greater, _OPS.greater_scalar, self, o)
    def __ge__(self, o): return _binary(_OPS.greater_equal, _OPS.greater_equal_scalar, self, o)
    def __neg__(self): return invoke(_OPS.negative, (self,))
    def __pos__(self): return self
    def __abs__(self): return invoke(_OPS.abs, (self,))
    # a NumPy/list operand takes this array's dtype, as in the arithmetic operators
    def __matmul__(self, o): return invoke(_OPS.dot, (self, as_ndarray(o, self._data.dtype)))
    def __rmatmul__(self, o): return invoke(_OPS.dot, (as_ndarray(o, self._data.dtype), self))

    __hash__ = object.__hash__

    # In-place ops write into this array's own buffer, like MXNet.
    def _inplace(self, res):
        if res is NotImplemented:
            return res
        if STATE.tracer is not None:
            return STATE.tracer.inplace(self, res)
        if STATE.recording and (self._node is not None or self._var):
            raise AutogradError(
                "in-place operations (+=, -=, x[:]=, ...) are not supported on an array that "
                "is part of a recorded graph; write y = x + 1 instead of x += 1")
        if res.shape != self.shape:
            raise ShapeError(f"in-place op: the result has shape {res.shape} but the target "
                             f"has shape {self.shape}; broadcasting cannot grow the target")
        self._data[...] = res._data
        return self

    def __iadd__(self, o): return self._inplace(self.__add__(o))
    def __isub__(self, o): return self._inplace(self.__sub__(o))
    def __imul__(self, o): return self._inplace(self.__mul__(o))
    def __itruediv__(self, o): return self._inplace(self.__truediv__(o))
    def __ifloordiv__(self, o): return self._inplace(self.__floordiv__(o))
    def __imod__(self, o): return self._inplace(self.__mod__(o))
    def __ipow__(self, o): return self._inplace(self.__pow__(o))

    # ---- indexing -----------------------------------------------------------------
    def __getitem__(self, key):
        return invoke(_OPS.getitem, (self,), {"key": _canon_key(key)})

    def __setitem__(self, key, value):
        if STATE.tracer is not None:
            return STATE.tracer.setitem(self, key, value)
        if STATE.recording and (self._node is not None or self._var):
            raise AutogradError(
                "slice assignment x[...] = v is not supported on an array that is part of a "
                "recorded graph; build the new array out of place (e.g. with nd.where)")
        value = value._data if isinstance(value, NDArray) else value
        key = _numpy_key(_canon_key(key))
        try:
            self._data[key] = value
        except (ValueError, IndexError) as e:
            raise ShapeError(f"slice assignment into an array of shape {self.shape} with key "
                             f"{key!r}: {e}") from None


class _OpTable:
    """Attribute access to registered ops, resolved once (``_OPS.add``)."""

    def __getattr__(self, name):
        op = OPS[name]
        setattr(self, name, op)
        return op


_OPS = _OpTable()


from ._key import _Key, _canon_key, _numpy_key  # noqa: E402,F401  (indexing keys; re-exported)
