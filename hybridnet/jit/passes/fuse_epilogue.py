"""Kernel epilogue fusion: an op with its own kernel + the elementwise group reading it.

When the result of an op whose kernel builder takes an ``epilogue`` argument
(``kernel(node, epilogue=None)``: 2-D convolution, the tiled max-pooling gradient) is read only
by one elementwise group (or one lone elementwise node) whose outputs all have the
result's shape, the two become one ``fused_kernel`` node: the builder renders the
group into its output stores (``codegen/epilogue.py``), so a convolution's bias add
and relu, or a pooling gradient's relu mask, cost no pass over memory of their own.
The sub-graph is the op followed by the group's members, so the reference
interpreter runs it as is. Nothing is fused when the builder has no kernel for the
shapes (it returns None).

The same pass first pairs an op with a per-channel sum of its first input (the conv
bias gradient, a sum of the output gradient the weight gradient reads anyway): one
``fused_kernel`` with both outputs, the sums computed while the kernel copies its input.
"""
import inspect

from ...ops.registry import OPS
from ..ir import Graph, Node
from .fuse_matmul import _as_group

__all__ = ["fuse_epilogue", "takes_epilogue"]


def takes_epilogue(op):
    """Does ``op``'s kernel builder accept an ``epilogue`` argument?"""
    if op is None or op.kernel is None:
        return False
    try:
        return "epilogue" in inspect.signature(op.kernel).parameters
    except (TypeError, ValueError):
        return False


def _candidate(n, group, y):
    """The fused node for op ``n`` and consumer ``group``, or None if they do not fit."""
    if (group.op != "fused_elementwise" or not group.outputs
            or any(v.shape != y.shape for v in group.outputs)):
        return None
    ext = []
    for v in group.inputs:
        if v is y or any(v is u for u in n.inputs) or any(v is u for u in ext):
            continue
        if not 1 <= v.ndim <= y.ndim:
            return None
        ext.append(v)
    if any(not 1 <= v.ndim <= y.ndim for v in n.inputs
           if any(v is u for m in group.sub.nodes for u in m.inputs)):
        return None
    inputs = list(n.inputs) + ext
    loc = ", ".join(sorted({p for x in (n.loc, group.loc) if x for p in x.split(", ")}))
    return Node("fused_kernel", inputs, list(group.outputs), dict(n.attrs), loc,
                Graph(list(inputs), [n] + list(group.sub.nodes), list(group.outputs), {}))


def fuse_epilogue(graph):
    graph = _fuse_channel_sums(graph)
    from ..codegen.epilogue import Epilogue
    consumers = {}
    for n in graph.nodes:
        for v in n.inputs:
            consumers.setdefault(id(v), []).append(n)
    outputs = {id(v) for v in graph.outputs}
    absorbed, replace = set(), {}
    for n in graph.nodes:
        if n.sub is not None or len(n.outputs) != 1 or not takes_epilogue(OPS.get(n.op)):
            continue
        y = n.outputs[0]
        users = consumers.get(id(y), [])
        if id(y) in outputs or len(users) != 1 or id(users[0]) in replace:
            continue
        fused = _candidate(n, _as_group(users[0]), y)
        if fused is None or OPS[n.op].kernel(n, Epilogue(fused)) is None:
            continue
        absorbed.add(id(n))
        replace[id(users[0])] = fused
    if not replace:
        return graph
    nodes = [replace.get(id(n), n) for n in graph.nodes if id(n) not in absorbed]
    return Graph(list(graph.inputs), nodes, list(graph.outputs), dict(graph.constants))


def _fuse_channel_sums(graph):
    """An op and a sum of its first input over every axis but the channels (the conv
    weight and bias gradients from one output gradient) -> one ``fused_kernel`` with
    both outputs, at the earlier one's place (both read only the op's inputs), when the
    op's builder takes that (``Epilogue.kind == "channel_sum"``)."""
    from ..codegen.epilogue import Epilogue, is_channel_sum
    consumers = {}
    for n in graph.nodes:
        for v in n.inputs:
            consumers.setdefault(id(v), []).append(n)
    taken, replace, absorbed = set(), {}, set()
    pos = {id(n): i for i, n in enumerate(graph.nodes)}
    for n in graph.nodes:
        if (n.sub is not None or len(n.outputs) != 1 or not n.inputs
                or not takes_epilogue(OPS.get(n.op))):
            continue
        sums = [s for s in consumers.get(id(n.inputs[0]), [])
                if s is not n and id(s) not in taken and is_channel_sum(s, n.inputs[0])]
        if not sums:
            continue
        s = sums[0]
        loc = ", ".join(sorted({p for x in (n.loc, s.loc) if x for p in x.split(", ")}))
        outs = [n.outputs[0], s.outputs[0]]
        fused = Node("fused_kernel", list(n.inputs), outs, dict(n.attrs), loc,
                     Graph(list(n.inputs), [n, s], outs, {}))
        if OPS[n.op].kernel(n, Epilogue(fused)) is None:
            continue
        taken.add(id(s))
        first, second = (n, s) if pos[id(n)] < pos[id(s)] else (s, n)
        replace[id(first)] = fused
        absorbed.add(id(second))
    if not replace:
        return graph
    nodes = [replace.get(id(n), n) for n in graph.nodes if id(n) not in absorbed]
    return Graph(list(graph.inputs), nodes, list(graph.outputs), dict(graph.constants))
