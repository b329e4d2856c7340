"""The IR verifier: every value defined once before use, types agree with the op rules."""
from ..base import HybridnetError
from ..ops.registry import OPS

__all__ = ["verify", "IRError"]


class IRError(HybridnetError):
    """A malformed graph (a bug in a pass or the tracer, never a user error)."""


def verify(graph, check_types=True):
    """Raise IRError if ``graph`` is malformed; returns the graph for chaining."""
    defined = set()

    def define(v, where):
        if id(v) in defined:
            raise IRError(f"value {v!r} defined twice ({where})")
        defined.add(id(v))
    for v in graph.inputs:
        define(v, "input")
    for v in graph.constants:
        define(v, "constant")
    for i, n in enumerate(graph.nodes):
        for v in n.inputs:
            if id(v) not in defined:
                raise IRError(f"node {i} ({n.op}) uses {v!r} before it is defined")
        if n.sub is not None:
            verify(n.sub, check_types)
            if len(n.sub.inputs) != len(n.inputs) or len(n.sub.outputs) != len(n.outputs):
                raise IRError(f"node {i} ({n.op}): sub-graph arity does not match the node")
        elif check_types:
            op = OPS.get(n.op)
            if op is None:
                raise IRError(f"node {i}: unknown op {n.op!r}")
            expect = op.infer([v.shape for v in n.inputs], [v.dtype for v in n.inputs], n.attrs)
            got = [(v.shape, v.dtype) for v in n.outputs]
            if [(tuple(s), d) for s, d in expect] != got:
                raise IRError(f"node {i} ({n.op}): outputs {got} but the op rule says {expect}")
        for v in n.outputs:
            define(v, f"node {i} {n.op}")
    for v in graph.outputs:
        if id(v) not in defined:
            raise IRError(f"graph output {v!r} is not defined")
    return graph
