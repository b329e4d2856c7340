"""Common-subexpression elimination: one node per (op, inputs, attrs)."""
from ..ir import Graph
from ...ops.registry import OPS

__all__ = ["cse"]


def _key(n):
    try:
        attrs = tuple(sorted(n.attrs.items()))
        hash(attrs)
    except TypeError:
        return None
    return (n.op, tuple(id(v) for v in n.inputs), attrs)


def cse(graph):
    seen, replace, nodes = {}, {}, []

    def r(v):
        return replace.get(id(v), v)
    for n in graph.nodes:
        n = n.with_inputs([r(v) for v in n.inputs])
        op = OPS.get(n.op)
        k = _key(n) if (op is None or not op.random) and n.sub is None else None
        if k is not None and k in seen:
            for a, b in zip(n.outputs, seen[k].outputs):
                replace[id(a)] = b
            continue
        if k is not None:
            seen[k] = n
        nodes.append(n)
    return Graph(list(graph.inputs), nodes, [r(v) for v in graph.outputs],
                 dict(graph.constants))
