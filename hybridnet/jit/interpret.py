"""The reference interpreter: runs any graph with the registry's NumPy rules.

It is the living spec of the IR: every pass and every generated kernel is
tested against it.
"""
import numpy as np

from ..ops.registry import OPS

__all__ = ["interpret"]


def interpret(graph, feeds):
    """Evaluate ``graph`` on NumPy arrays ``feeds`` (one per graph input); returns a list."""
    if len(feeds) != len(graph.inputs):
        raise ValueError(f"interpret: graph has {len(graph.inputs)} inputs, got {len(feeds)}")
    env = {id(v): np.asarray(a) for v, a in zip(graph.inputs, feeds)}
    for v, arr in graph.constants.items():
        env[id(v)] = arr
    for n in graph.nodes:
        args = [env[id(v)] for v in n.inputs]
        if n.sub is not None:
            res = interpret(n.sub, args)
        else:
            res = OPS[n.op].forward(*args, **n.attrs)
            res = list(res) if isinstance(res, tuple) else [res]
        for v, r in zip(n.outputs, res):
            r = np.asarray(r)
            if r.dtype != v.dtype:
                r = r.astype(v.dtype)
            env[id(v)] = r
    return [env[id(v)] for v in graph.outputs]
