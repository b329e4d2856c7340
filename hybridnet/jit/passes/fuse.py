"""Elementwise fusion: elementwise nodes over one iteration shape -> one node.

A node joins the group of one of its producers when its output has the group's
shape (inputs may broadcast) and it does not depend on the group through a
node outside it (that would make a cycle). Size-1 scalar arithmetic (a learning
rate times a weight decay ...) joins any consumer's group: it is loop-invariant
and LLVM hoists it. A lone node stays a call of its NumPy rule unless it is plain
float arithmetic (``_cheap``: relu, add, a comparison ...), which is a one-member
group. Afterwards the groups and the remaining nodes are put back
in a topological order that keeps the original order where it can. The fused
node carries its members as a sub-graph (``node.sub``), which the interpreter
runs as is and the code generator renders as one loop.
"""
import re

import numpy as np

from ..ir import Graph, Node
from ...ops.math32 import use_math32
from ...ops.registry import OPS

__all__ = ["fuse_elementwise", "fusable"]


# Math calls NumPy runs as SIMD loops while Numba's are scalar libm calls, per dtype
# (measured on (128, 256) arrays, AVX2: float32 sin/cos 1.3-2x, float64 tanh 1.2-1.4x,
# cbrt 1.1-1.3x slower inside a loop). A node calling one stays out of fused groups, so
# its NumPy rule runs it and the group splits around it. Float32 exp/tanh/log/log1p are
# not here: the code generator renders them with vectorisable helpers (ops/math32.py).
_NUMPY_FASTER = {np.dtype(np.float32): re.compile(r"(?<![\w.])np\.(sin|cos|cbrt)\("),
                 np.dtype(np.float64): re.compile(r"(?<![\w.])np\.(tanh|cbrt)\(")}


def _expr(n):
    """The node's scalar expression as the code generator renders it (float32 exp, tanh
    and log through the helpers)."""
    op = OPS[n.op]
    expr = op.expr if isinstance(op.expr, str) else op.expr[0]
    if all(v.dtype == np.float32 for v in list(n.inputs) + n.outputs):
        expr = use_math32(expr)
    return expr


def fusable(n):
    """Can node ``n`` be rendered inside a fused elementwise loop (and is it worth it)?"""
    if n.sub is not None or len(n.outputs) != 1:
        return False
    op = OPS.get(n.op)
    if op is None or op.kind != "elementwise" or op.expr is None or op.random:
        return False
    expr = op.expr if isinstance(op.expr, str) else op.expr[0]
    if "special." in expr or re.search(r"\bscipy\b", expr):
        return False
    if any(v.dtype.kind not in "fiub" for v in list(n.inputs) + n.outputs):
        return False
    slow = _NUMPY_FASTER.get(n.outputs[0].dtype)
    return slow is None or slow.search(_expr(n)) is None


def _cheap(n):
    """A lone float node whose loop beats its NumPy rule: plain arithmetic, comparisons,
    max/min/abs (NumPy's maximum against a scalar, i.e. relu, ran 4-5x slower than the
    loop here; one kernel call also costs less than a ufunc call on a few elements),
    and float32 exp/tanh/log/sigmoid through the vectorisable helpers (2-3x faster than
    NumPy). Other calls into math libraries stay NumPy's: its SIMD loops beat Numba's
    scalar libm calls 3-7x on large arrays."""
    expr = _expr(n)
    # float16 too stays NumPy's: Numba has no float16 loops (the graph would fall back).
    return (all(v.dtype in (np.float32, np.float64) for v in list(n.inputs) + n.outputs)
            and "**" not in expr and not re.search(r"\b(np|math|special)\.", expr))


def _scalar(n):
    return all(v.size == 1 for v in n.inputs) and n.outputs[0].size == 1


_BROADCASTS = ("broadcast_to", "broadcast_like", "broadcast_axes")


def _read_through_broadcasts(graph):
    """Elementwise loops broadcast their inputs themselves, so a fusable node reading
    ``broadcast_to(x)`` reads ``x`` instead when the broadcast shapes still give its
    output shape; a broadcast nothing reads any more is dropped (it would otherwise be
    materialised as a full copy: a loss gradient's (N,1) -> (N,C))."""
    producer = {id(v): n for n in graph.nodes for v in n.outputs}
    nodes, changed = [], False
    for n in graph.nodes:
        if fusable(n):
            ins = list(n.inputs)
            for i, v in enumerate(ins):
                p = producer.get(id(v))
                if p is None or p.op not in _BROADCASTS or p.sub is not None:
                    continue
                x = p.inputs[0]
                trial = ins[:i] + [x] + ins[i + 1:]
                if x.dtype == v.dtype and x.ndim <= v.ndim and \
                        np.broadcast_shapes(*[u.shape for u in trial]) == n.outputs[0].shape:
                    ins, changed = trial, True
            if changed:
                n = n.with_inputs(ins)
        nodes.append(n)
    if not changed:
        return graph
    read = {id(v) for n in nodes for v in n.inputs} | {id(v) for v in graph.outputs}
    nodes = [n for n in nodes if n.op not in _BROADCASTS or id(n.outputs[0]) in read]
    return Graph(list(graph.inputs), nodes, list(graph.outputs), dict(graph.constants))


def fuse_elementwise(graph, min_size=2):
    graph = _read_through_broadcasts(graph)
    producer = {}                       # id(value) -> node
    for n in graph.nodes:
        for v in n.outputs:
            producer[id(v)] = n
    parent = []                         # union-find over group ids (merged groups)
    groups = []                         # [shape, [members]]
    group_raw = {}                      # id(node) -> raw group id
    deps = {}                           # id(value) -> raw group ids it depends on

    def find(g):
        while parent[g] != g:
            parent[g] = parent[parent[g]]
            g = parent[g]
        return g

    def group_of_node(n):
        g = group_raw.get(id(n)) if n is not None else None
        return None if g is None else find(g)

    def depends_on(u, g):
        return any(find(x) == g for x in deps.get(id(u), ()))

    def outside_inputs(gs):
        for m in (m for g in gs for m in groups[g][1]):
            for u in m.inputs:
                if group_of_node(producer.get(id(u))) not in gs:
                    yield u

    for n in graph.nodes:
        in_deps = set().union(*[deps.get(id(v), ()) for v in n.inputs]) if n.inputs else set()
        target = None
        if fusable(n):
            shape = n.outputs[0].shape
            cands = []
            for v in n.inputs:
                g = group_of_node(producer.get(id(v)))
                if g is not None and groups[g][0] == shape and g not in cands:
                    cands.append(g)
            for g in cands:
                # Joining g is safe unless an input from outside g already depends on g.
                if all(group_of_node(producer.get(id(u))) == g or not depends_on(u, g)
                       for u in n.inputs):
                    if target is None:
                        target = g
                    elif all(not depends_on(u, t) for u in outside_inputs({target, g})
                             for t in (target, g)):
                        parent[g] = target               # merge g into target
                        groups[target][1].extend(groups[g][1])
                        groups[g][1] = []
            if target is None:
                target = len(groups)
                groups.append([shape, []])
                parent.append(target)
            groups[target][1].append(n)
            group_raw[id(n)] = target
        own = in_deps | ({target} if target is not None else set())
        for v in n.outputs:
            deps[id(v)] = own
    group_of = {k: find(g) for k, g in group_raw.items()}
    for members in (g[1] for g in groups):
        members.sort(key=_position(graph))
    _inline_scalars(groups, group_of, producer, graph)
    return _rebuild(graph, groups, group_of, min_size)


def _position(graph):
    pos = {id(n): i for i, n in enumerate(graph.nodes)}
    return lambda n: pos[id(n)]


def _inline_scalars(groups, group_of, producer, graph):
    """Scalar-only single-node groups feeding exactly one group are absorbed into it."""
    consumers = {}
    for n in graph.nodes:
        for v in n.inputs:
            consumers.setdefault(id(v), []).append(n)
    for gi, (shape, members) in enumerate(groups):
        if len(members) != 1 or not _scalar(members[0]) or id(members[0].outputs[0]) in \
                {id(v) for v in graph.outputs}:
            continue
        users = consumers.get(id(members[0].outputs[0]), [])
        targets = {group_of.get(id(u)) for u in users}
        if len(targets) != 1 or None in targets:
            continue
        (t,) = targets
        if t == gi or len(groups[t][1]) < 1:
            continue
        # Its inputs must not depend on the target group (they are size-1 inputs, usually
        # graph inputs or other scalars); keep it simple: only graph inputs/constants.
        if any(id(v) in {id(o) for m in groups[t][1] for o in m.outputs}
               or producer.get(id(v)) is not None for v in members[0].inputs):
            continue
        groups[t][1].insert(0, members[0])
        group_of[id(members[0])] = t
        members.clear()


def _rebuild(graph, groups, group_of, min_size):
    outputs_ids = {id(v) for v in graph.outputs}
    used = {}
    for n in graph.nodes:
        for v in n.inputs:
            used.setdefault(id(v), []).append(n)
    fused_nodes = {}
    for gi, (shape, members) in enumerate(groups):
        if len(members) >= min_size or (len(members) == 1 and _cheap(members[0])):
            fused_nodes[gi] = _make_group(members, used, outputs_ids, group_of, gi)
        else:
            for m in members:
                group_of.pop(id(m), None)
    # Topological order over units (fused nodes or single nodes), stable w.r.t. the original.
    units, unit_of, seen = [], {}, set()
    for n in graph.nodes:
        gi = group_of.get(id(n))
        unit = fused_nodes[gi] if gi is not None else n
        if id(unit) not in seen:
            seen.add(id(unit))
            units.append(unit)
        for v in n.outputs:
            unit_of[id(v)] = unit
    order, done, visiting = [], set(), set()

    def visit(u):
        if id(u) in done:
            return
        visiting.add(id(u))
        for v in u.inputs:
            p = unit_of.get(id(v))
            if p is not None and p is not u and id(p) not in done:
                if id(p) in visiting:
                    raise AssertionError("fusion created a cycle")
                visit(p)
        visiting.discard(id(u))
        done.add(id(u))
        order.append(u)
    for u in units:
        visit(u)
    return Graph(list(graph.inputs), order, list(graph.outputs), dict(graph.constants))


def _make_group(members, used, outputs_ids, group_of, gi):
    produced = {id(o) for m in members for o in m.outputs}
    ext_inputs, seen = [], set()
    for m in members:
        for v in m.inputs:
            if id(v) not in produced and id(v) not in seen:
                seen.add(id(v))
                ext_inputs.append(v)
    outs = [m.outputs[0] for m in members
            if id(m.outputs[0]) in outputs_ids
            or any(group_of.get(id(u)) != gi for u in used.get(id(m.outputs[0]), []))]
    sub = Graph(list(ext_inputs), list(members), list(outs), {})
    return Node("fused_elementwise", list(ext_inputs), list(outs), {},
                loc=", ".join(sorted({m.loc for m in members if m.loc})), sub=sub)
