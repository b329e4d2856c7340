"""Elementwise fusion: runs of elementwise nodes over one iteration shape -> one node.

A group is a run of consecutive nodes (in graph order) whose ops are
elementwise with a renderable ``expr`` and whose outputs all have the group's
shape; inputs may broadcast. Keeping groups contiguous means no value outside
the group can depend on one member and feed another, so fusion never creates a
cycle. The fused node carries its members as a sub-graph (``node.sub``), which
the interpreter runs as is and the code generator renders as one loop.
"""
import re

from ..ir import Graph, Node
from ...ops.registry import OPS

__all__ = ["fuse_elementwise", "fusable"]

_ALLOWED_CALL = re.compile(r"\b(np|math)\.\w+|\b(max|min|abs|float)\(")


def fusable(n):
    """Can node ``n`` be rendered inside a fused elementwise loop?"""
    if n.sub is not None or len(n.outputs) != 1:
        return False
    op = OPS.get(n.op)
    if op is None or op.kind != "elementwise" or op.expr is None or op.random:
        return False
    expr = op.expr if isinstance(op.expr, str) else op.expr[0]
    if "special." in expr:
        return False
    if any(v.dtype.kind not in "fiub" for v in list(n.inputs) + n.outputs):
        return False
    return True


def fuse_elementwise(graph, min_size=2):
    nodes, run = [], []

    def flush():
        if len(run) >= min_size:
            nodes.append(_make_group(run, graph))
        else:
            nodes.extend(run)
        run.clear()
    for n in graph.nodes:
        if fusable(n) and (not run or n.outputs[0].shape == run[0].outputs[0].shape):
            run.append(n)
            continue
        flush()
        if fusable(n):
            run.append(n)
        else:
            nodes.append(n)
    flush()
    out = Graph(list(graph.inputs), nodes, list(graph.outputs), dict(graph.constants))
    return _fix_outputs(out)


def _make_group(members, graph):
    produced = {id(o) for m in members for o in m.outputs}
    ext_inputs, seen = [], set()
    for m in members:
        for v in m.inputs:
            if id(v) not in produced and id(v) not in seen:
                seen.add(id(v))
                ext_inputs.append(v)
    sub = Graph(list(ext_inputs), list(members), [], {})
    node = Node("fused_elementwise", list(ext_inputs), [], {},
                loc=", ".join(sorted({m.loc for m in members if m.loc})), sub=sub)
    node._members_out = [m.outputs[0] for m in members]
    return node


def _fix_outputs(graph):
    """Give each fused node the member values that anything outside it reads."""
    used_outside = {id(v) for v in graph.outputs}
    for n in graph.nodes:
        for v in n.inputs:
            used_outside.add(id(v))
    for n in graph.nodes:
        if n.op == "fused_elementwise" and not n.outputs:
            outs = [v for v in n._members_out if id(v) in used_outside]
            n.outputs = outs
            n.sub.outputs = list(outs)
    return graph
