"""Row fusion: softmax / log-softmax / cross-entropy patterns -> one row op each.

Runs before elementwise fusion (which would otherwise split these patterns into a
reduction and separate loops). Each rewrite replaces the pattern's *last* node by
one fused op (``ops/nn_rows.py``, a Numba row kernel each) that defines the same
output value; the nodes it made dead are dropped.

Forward, softmax cross-entropy with class labels::

    %2 = log_softmax %0                      %5, %6 = _softmax_xent %0 %1
    %3 = pick %2 %1 keepdims=True      ->    (%6 replaces %2 after this point:
    %4 = negative %3                          the residual the backward reads)
    %5 = mean %4 axis=(1)      (a reduction over size-1 axes, or a reshape)

Backward (log_softmax's VJP ``g - exp(out) * sum(g)``), with ``g`` the gradient of a
``pick``: ``sum(_pick_grad(h, idx)) == h`` (one non-zero per row), so::

    %3 = reshape %0                          %7 = _xent_grad %0 %1 %2
    %4 = negative %3                   ->    (= %0 * (exp(%1) - one_hot(%2)))
    %5 = _pick_grad %4 %2
    %6 = sum %5 axis=-1 keepdims=True
    %7 = subtract %5 (multiply (exp %1) %6)

Dense labels ``y``: ``sum(log_softmax(x) * y, axis)`` [-> negative] [-> size-1 reduce]
becomes ``_dense_xent``, and the VJP whose ``g`` is ``broadcast_to(h) * y`` (``h`` one
value per row, through ``negative``/``reshape``) becomes ``_dense_xent_grad``.

Any other ``g - exp(L) * sum(g, axis, keepdims=True)`` becomes ``_log_softmax_grad``,
and softmax's VJP ``g*y - y * sum(g*y, axis, keepdims=True)`` becomes ``_softmax_grad``.
A ``multiply_scalar`` that alone consumes a gradient (the temperature's ``1/T``) is
folded into the op's ``scale``.
"""
from ...ops.reduce import reduce_axes
from ..ir import Graph, Node, Value
from .dce import dce

__all__ = ["rows"]

_REDUCE = ("sum", "mean", "max", "min", "prod")


class _Ctx:
    def __init__(self, graph):
        self.producer = {id(v): n for n in graph.nodes for v in n.outputs}
        self.users = {}
        for n in graph.nodes:
            for v in n.inputs:
                self.users.setdefault(id(v), []).append(n)
        self.outputs = {id(v) for v in graph.outputs}

    def prod(self, v, op):
        """The node producing ``v`` if its op is ``op`` (a name or a tuple of names)."""
        n = self.producer.get(id(v))
        if n is None or (n.op != op if isinstance(op, str) else n.op not in op):
            return None
        return n

    def sole_user(self, v):
        """The only node reading ``v`` (None if several, none, or ``v`` is a graph output)."""
        users = self.users.get(id(v), [])
        if len(users) != 1 or id(v) in self.outputs:
            return None
        return users[0]


def _axis(n, ndim, default=-1):
    return n.attrs.get("axis", default) % ndim


def _single_axis(n, shape):
    """The one axis a keepdims reduction node ``n`` reduces, else None."""
    if not n.attrs.get("keepdims"):
        return None
    axes = reduce_axes(n.op, shape, n.attrs.get("axis"), n.attrs.get("exclude", False))
    if axes is None or len(axes) != 1:
        return None
    return axes[0]


def _lanes(shape, ax, keepdims):
    if keepdims:
        return tuple(shape[:ax]) + (1,) + tuple(shape[ax + 1:])
    return tuple(shape[:ax]) + tuple(shape[ax + 1:]) or (1,)


def _is_size1_reduce(n):
    """A reduction (or reshape) that only drops/keeps size-1 axes: the values pass through."""
    if n.op == "reshape":
        return True
    if n.op not in _REDUCE:
        return False
    x = n.inputs[0]
    axes = reduce_axes(n.op, x.shape, n.attrs.get("axis"), n.attrs.get("exclude", False))
    axes = range(x.ndim) if axes is None else axes
    return all(x.shape[a] == 1 for a in axes)


def _fold_scale(ctx, v, scale):
    """(value, scale, last node): absorb a lone ``multiply_scalar`` reading ``v``."""
    u = ctx.sole_user(v)
    if (u is not None and u.op == "multiply_scalar" and not u.attrs.get("reverse")
            and isinstance(u.attrs.get("scalar"), (int, float))
            and u.outputs[0].shape == v.shape and u.outputs[0].dtype == v.dtype):
        return u.outputs[0], scale * float(u.attrs["scalar"]), u
    return v, scale, None


def _loss_tail(ctx, loss, x, ax, keepdims):
    """Absorb ``negative`` and a size-1 reduction after a per-row loss value:
    (last node or None, loss value, scale, keepdims)."""
    last, scale = None, 1.0
    u = ctx.sole_user(loss)
    if u is not None and u.op == "negative":
        last, loss, scale = u, u.outputs[0], -1.0
    u = ctx.sole_user(loss)
    if u is not None and _is_size1_reduce(u) and u.outputs[0].dtype == loss.dtype:
        shape = u.outputs[0].shape
        for kd in (False, True):
            if shape == _lanes(x.shape, ax, kd):
                last, loss, keepdims = u, u.outputs[0], kd
                break
    return last, loss, scale, keepdims


def _match_dense_xent(ctx, sm):
    """sum(multiply(log_softmax(x), y), axis, keepdims=True) [-> negative] [-> size-1
    reduce]: (last node, fused node, {old logp value: new logp value})."""
    mul = ctx.prod(sm.inputs[0], "multiply")
    if mul is None:
        return None
    for a, y in (mul.inputs, mul.inputs[::-1]):
        lsm = ctx.prod(a, "log_softmax")
        if lsm is None:
            continue
        x = lsm.inputs[0]
        nd = x.ndim
        ax = _single_axis(sm, x.shape)
        if (x.dtype.kind != "f" or ax is None or _axis(lsm, nd) != ax
                or y.shape != x.shape or y.dtype != x.dtype
                or sm.outputs[0].dtype != x.dtype):
            continue
        last, loss, scale, keepdims = _loss_tail(ctx, sm.outputs[0], x, ax, True)
        logp = Value(-1, x.shape, x.dtype)
        attrs = {"axis": ax, "keepdims": keepdims, "temperature": lsm.attrs.get("temperature"),
                 "scale": scale}
        node = Node("_dense_xent", [x, y], [loss, logp], attrs, sm.loc)
        return last or sm, node, {id(lsm.outputs[0]): logp}
    return None


def _per_row_source(ctx, h, scale, dtype):
    """``h`` read through ``negative`` (flips ``scale``) and row-order-keeping reshapes."""
    neg = ctx.prod(h, "negative")
    if neg is not None:
        h, scale = neg.inputs[0], -scale
    while True:
        r = ctx.prod(h, "reshape")
        if r is None or r.inputs[0].size != h.size or r.inputs[0].dtype != h.dtype:
            break
        h = r.inputs[0]
    return (h, scale) if h.dtype == dtype else (None, scale)


def _match_xent(ctx, p):
    """pick(log_softmax(x), idx) [-> negative] [-> size-1 reduce]: (last node, fused node,
    {old logp value: new logp value})."""
    lsm = ctx.prod(p.inputs[0], "log_softmax")
    if lsm is None:
        return None
    x, idx = lsm.inputs[0], p.inputs[1]
    nd = x.ndim
    if x.dtype.kind != "f" or _axis(lsm, nd) != _axis(p, nd):
        return None
    ax = _axis(p, nd)
    last, loss, scale, keepdims = _loss_tail(ctx, p.outputs[0], x, ax,
                                             bool(p.attrs.get("keepdims", False)))
    last = last or p
    logp = Value(-1, x.shape, x.dtype)
    attrs = {"axis": p.attrs.get("axis", -1), "keepdims": keepdims,
             "mode": p.attrs.get("mode", "clip"), "temperature": lsm.attrs.get("temperature"),
             "scale": scale}
    node = Node("_softmax_xent", [x, idx], [loss, logp], attrs, p.loc)
    return last, node, {id(lsm.outputs[0]): logp}


def _match_grad(ctx, s):
    """subtract(G, multiply(exp(L), sum(G, axis, keepdims=True))), or softmax's
    subtract(G, multiply(Y, sum(G, ...))) with G = multiply(g, Y): (last node, fused node)."""
    g, m = s.inputs
    mul = ctx.prod(m, "multiply")
    out = s.outputs[0]
    if mul is None or g.shape != out.shape or g.dtype != out.dtype or g.dtype.kind != "f":
        return None
    for a, b in (mul.inputs, mul.inputs[::-1]):
        red = ctx.prod(b, "sum")
        if red is None or red.inputs[0] is not g:
            continue
        ax = _single_axis(red, g.shape)
        if ax is None:
            continue
        e = ctx.prod(a, "exp")
        if e is not None and e.inputs[0].shape == g.shape and e.inputs[0].dtype == g.dtype:
            return _log_softmax_grad(ctx, s, g, e.inputs[0], ax)
        gy = ctx.prod(g, "multiply")
        if gy is not None and a.shape == g.shape and a.dtype == g.dtype:
            for u, y in (gy.inputs, gy.inputs[::-1]):
                if y is a and u.shape == g.shape and u.dtype == g.dtype:
                    out, scale, last = _fold_scale(ctx, s.outputs[0], 1.0)
                    node = Node("_softmax_grad", [u, a], [out], {"axis": ax, "scale": scale},
                                s.loc)
                    return last or s, node
    return None


def _log_softmax_grad(ctx, s, g, logp, ax):
    pg = ctx.prod(g, "_pick_grad")
    if pg is not None and _axis(pg, g.ndim) == ax:
        h, scale = pg.inputs[0], -1.0
        neg = ctx.prod(h, "negative")
        if neg is not None:
            h, scale = neg.inputs[0], 1.0
        while True:               # a reshape keeps the rows' order: read its input
            r = ctx.prod(h, "reshape")
            if r is None or r.inputs[0].size != h.size or r.inputs[0].dtype != h.dtype:
                break
            h = r.inputs[0]
        if h.dtype == g.dtype:
            out, scale, last = _fold_scale(ctx, s.outputs[0], scale)
            node = Node("_xent_grad", [h, logp, pg.inputs[1]], [out],
                        {"axis": ax, "mode": pg.attrs.get("mode", "clip"), "scale": scale},
                        s.loc)
            return last or s, node
    mul = ctx.prod(g, "multiply")
    lanes = _lanes(g.shape, ax, True)
    for b, y in (mul.inputs, mul.inputs[::-1]) if mul is not None else ():
        bc = ctx.prod(b, "broadcast_to")
        if bc is None or y.shape != g.shape or y.dtype != g.dtype \
                or bc.inputs[0].shape != lanes:
            continue
        h, scale = _per_row_source(ctx, bc.inputs[0], -1.0, g.dtype)
        if h is None:
            continue
        out, scale, last = _fold_scale(ctx, s.outputs[0], scale)
        node = Node("_dense_xent_grad", [h, logp, y], [out], {"axis": ax, "scale": scale},
                    s.loc)
        return last or s, node
    out, scale, last = _fold_scale(ctx, s.outputs[0], 1.0)
    node = Node("_log_softmax_grad", [g, logp], [out], {"axis": ax, "scale": scale}, s.loc)
    return last or s, node


def rows(graph):
    ctx = _Ctx(graph)
    at_last = {}            # id(last node of a pattern) -> (fused node, late value map)
    for n in graph.nodes:
        m = None
        if n.op == "pick":
            m = _match_xent(ctx, n)
        elif n.op == "sum":
            m = _match_dense_xent(ctx, n)
        elif n.op == "subtract":
            m = _match_grad(ctx, n)
            m = m and (m[0], m[1], {})
        if m is not None and id(m[0]) not in at_last:
            at_last[id(m[0])] = (m[1], m[2])
    if not at_last:
        return graph
    late = {}               # values replaced from the fused node on (its extra outputs)

    def r(v):
        return late.get(id(v), v)
    nodes = []
    for n in graph.nodes:
        hit = at_last.get(id(n))
        if hit is not None:
            fused, extra = hit
            nodes.append(fused.with_inputs([r(v) for v in fused.inputs]))
            late.update(extra)
            continue
        nodes.append(n.with_inputs([r(v) for v in n.inputs]))
    return dce(Graph(list(graph.inputs), nodes, [r(v) for v in graph.outputs],
                     dict(graph.constants)))
