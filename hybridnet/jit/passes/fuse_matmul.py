"""Matmul + epilogue fusion: a GEMM and the elementwise group that consumes it -> one node.

``dot`` (2-D) and ``_fully_connected`` become ``fused_matmul`` nodes; when the
GEMM's result is read only by one fused elementwise group of the same shape
(bias, activation, scale, residual add ...), that group is absorbed, so the
code generator emits ``np.dot(A, B, out)`` (BLAS) followed by one epilogue loop
in the same Numba function. The sub-graph is the GEMM node followed by the
group's members, so the reference interpreter still runs it as is.
"""
from ..ir import Graph, Node
from .fuse import fusable

__all__ = ["fuse_matmul", "matmul_eligible"]


def matmul_eligible(n):
    if n.sub is not None or n.op not in ("dot", "_fully_connected"):
        return False
    vals = list(n.inputs) + list(n.outputs)
    dt = vals[0].dtype
    if dt.kind != "f" or any(v.dtype != dt for v in vals):
        return False
    if n.op == "dot":
        return all(v.ndim == 2 for v in n.inputs)
    return n.inputs[1].ndim == 2 and (len(n.inputs) < 3 or n.inputs[2].ndim == 1)


def _as_group(n):
    """A lone fusable elementwise node (the elementwise pass leaves single nodes alone)
    as a one-member group, so a GEMM can absorb e.g. the ``relu`` after a Dense."""
    if n.op == "fused_elementwise" or not fusable(n):
        return n
    return Node("fused_elementwise", list(n.inputs), list(n.outputs), {}, n.loc,
                Graph(list(dict.fromkeys(n.inputs)), [n], list(n.outputs), {}))


def fuse_matmul(graph):
    consumers = {}
    for n in graph.nodes:
        for v in n.inputs:
            consumers.setdefault(id(v), []).append(n)
    outputs = {id(v) for v in graph.outputs}
    absorbed, replace = set(), {}
    for n in graph.nodes:
        if not matmul_eligible(n):
            continue
        y = n.outputs[0]
        users = consumers.get(id(y), [])
        if len(users) == 1:
            group = _as_group(users[0])
            if group is not users[0]:
                replace_key = id(users[0])
                users = [group]
            else:
                replace_key = id(group)
        epi = None
        # An epilogue is absorbed once: when several GEMMs feed one group (summed weight
        # gradients of an unrolled RNN), a second absorption would drop the first GEMM.
        if (len(users) == 1 and id(y) not in outputs and users[0].op == "fused_elementwise"
                and replace_key not in replace
                and users[0].outputs and users[0].outputs[0].shape == y.shape
                and all(v.shape == y.shape for v in users[0].outputs)
                and users[0].inputs.count(y) == 1):
            epi = users[0]
        if epi is None:
            fused = Node("fused_matmul", list(n.inputs), list(n.outputs), dict(n.attrs), n.loc,
                         Graph(list(n.inputs), [n], list(n.outputs), {}))
            fused.attrs["matmul"] = n.op
            replace[id(n)] = fused
            continue
        ext = [v for v in epi.inputs if v is not y]
        inputs = list(n.inputs) + [v for v in ext if v not in n.inputs]
        sub = Graph(list(inputs), [n] + list(epi.sub.nodes), list(epi.outputs), {})
        fused = Node("fused_matmul", inputs, list(epi.outputs), dict(n.attrs),
                     # each file:line once (as fuse.py): the loc is part of the kernel's
                     # source, so "a:1, a:1" vs "a:1" would compile one kernel twice
                     ", ".join(sorted({p for x in (n.loc, epi.loc) if x
                                       for p in x.split(", ")})), sub)
        fused.attrs["matmul"] = n.op
        absorbed.add(id(n))
        replace[replace_key] = fused
    nodes = [replace.get(id(n), n) for n in graph.nodes if id(n) not in absorbed]
    return Graph(list(graph.inputs), nodes, list(graph.outputs), dict(graph.constants))
