"""Dead-code elimination: drop nodes whose outputs nothing uses, and unused constants."""
from ..ir import Graph

__all__ = ["dce"]


def dce(graph):
    live = {id(v) for v in graph.outputs}
    kept = []
    for n in reversed(graph.nodes):
        if any(id(o) in live for o in n.outputs):
            kept.append(n)
            live.update(id(v) for v in n.inputs)
    kept.reverse()
    consts = {v: a for v, a in graph.constants.items() if id(v) in live}
    return Graph(list(graph.inputs), kept, list(graph.outputs), consts)
