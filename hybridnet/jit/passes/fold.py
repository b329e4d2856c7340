"""Constant folding: nodes whose inputs are all constants become constants.

Only small results are folded (a folded constant is stored in the graph).
"""
import numpy as np

from ..ir import Graph
from ...ops.registry import OPS

__all__ = ["fold"]
MAX_FOLD_ELEMENTS = 1 << 16


def fold(graph):
    consts = dict(graph.constants)
    by_id = {id(v): a for v, a in consts.items()}
    nodes = []
    for n in graph.nodes:
        op = OPS.get(n.op)
        if (op is not None and not op.random and n.sub is None and n.inputs
                and all(id(v) in by_id for v in n.inputs)
                and all(v.size <= MAX_FOLD_ELEMENTS for v in n.outputs)):
            res = op.forward(*[by_id[id(v)] for v in n.inputs], **n.attrs)
            res = res if isinstance(res, tuple) else (res,)
            for v, a in zip(n.outputs, res):
                a = np.asarray(a, dtype=v.dtype)
                consts[v] = a
                by_id[id(v)] = a
            continue
        nodes.append(n)
    return Graph(list(graph.inputs), nodes, list(graph.outputs), consts)
