"""Algebraic simplification: remove ops that do nothing.

* ``reshape``/``cast``/``copy``/``broadcast_to``/``sum_to`` to the same shape and dtype;
* ``x + 0``, ``x - 0``, ``x * 1``, ``x / 1``, ``x ** 1`` (scalar forms).
A removed node's output is replaced by its input everywhere (graph outputs included).

A reduction (``sum``/``mean``/``max``/``min``/``prod``) over axes that all have size 1
only drops (or keeps) those axes: it becomes a ``reshape`` (a view), or goes away when
the shape does not change (a loss's ``mean`` over its one remaining column).
"""
from ...ops.reduce import reduce_axes
from ..ir import Graph, Node

__all__ = ["simplify"]

_IDENTITY_SCALAR = {"add_scalar": 0.0, "subtract_scalar": 0.0, "multiply_scalar": 1.0,
                    "divide_scalar": 1.0, "power_scalar": 1.0}


def _is_identity(n):
    if len(n.inputs) != 1 or len(n.outputs) != 1:
        return False
    x, y = n.inputs[0], n.outputs[0]
    if x.shape != y.shape or x.dtype != y.dtype:
        return False
    if n.op in ("reshape", "cast", "copy", "broadcast_to", "sum_to"):
        return True
    ident = _IDENTITY_SCALAR.get(n.op)
    if ident is not None and n.attrs.get("scalar") == ident and not n.attrs.get("reverse"):
        return True
    return False


_REDUCE = ("sum", "mean", "max", "min", "prod")


def _size1_reduce(n):
    """A ``reshape`` node computing reduction ``n`` over size-1 axes, else None."""
    if n.op not in _REDUCE or len(n.inputs) != 1 or len(n.outputs) != 1:
        return None
    x, y = n.inputs[0], n.outputs[0]
    if x.dtype != y.dtype or x.size != y.size or x.size == 0:
        return None
    axes = reduce_axes(n.op, x.shape, n.attrs.get("axis"), n.attrs.get("exclude", False))
    if any(x.shape[a] != 1 for a in (range(x.ndim) if axes is None else axes)):
        return None
    return Node("reshape", [x], [y], {"shape": tuple(y.shape)}, n.loc)


def simplify(graph):
    replace = {}

    def r(v):
        while id(v) in replace:
            v = replace[id(v)]
        return v
    nodes = []
    for n in graph.nodes:
        n = n.with_inputs([r(v) for v in n.inputs])
        n = _size1_reduce(n) or n
        if _is_identity(n):
            replace[id(n.outputs[0])] = n.inputs[0]
            continue
        nodes.append(n)
    return Graph(list(graph.inputs), nodes, [r(v) for v in graph.outputs],
                 dict(graph.constants))
