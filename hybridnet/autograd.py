"""Imperative autograd, MXNet-style: record a tape, then ``backward()``.

    x.attach_grad()
    with autograd.record():
        y = (x * x).sum()
    y.backward()          # x.grad == 2 * x

Gradients of every op come from its registry ``vjp`` rule, the same rule the
JIT applies to traced graphs.
"""
import numpy as np

from ._state import STATE
from ._tape import TapeNode, parent_of
from .base import AutogradError, HybridnetValueError, ShapeError
from .ndarray.ndarray import NDArray, wrap, _record
from .ops.registry import OPS

_ADD = OPS["add"].forward      # sums gradients (as NDArray + does, on NumPy arrays)

__all__ = ["record", "pause", "train_mode", "predict_mode", "is_recording", "is_training",
           "set_recording", "set_training", "backward", "grad", "mark_variables", "Function"]


class _Scope:
    __slots__ = ("_rec", "_train", "_old")

    def __init__(self, recording, training):
        self._rec, self._train = recording, training

    def __enter__(self):
        self._old = (STATE.recording, STATE.training)
        if self._rec is not None:
            STATE.recording = self._rec
        if self._train is not None:
            STATE.training = self._train
        return self

    def __exit__(self, *exc):
        STATE.recording, STATE.training = self._old


def record(train_mode=True):
    """Record ops for differentiation; ``train_mode`` also turns on Dropout/BatchNorm training."""
    return _Scope(True, train_mode)


def pause(train_mode=False):
    """Stop recording inside a ``record()`` block."""
    return _Scope(False, train_mode)


def train_mode():
    return _Scope(None, True)


def predict_mode():
    return _Scope(None, False)


def is_recording():
    return STATE.recording


def is_training():
    return STATE.training


def set_recording(is_recording):
    old, STATE.recording = STATE.recording, bool(is_recording)
    return old


def set_training(train_mode):
    old, STATE.training = STATE.training, bool(train_mode)
    return old


def mark_variables(variables, gradients, grad_reqs="write"):
    """Mark arrays as variables whose gradients are written into ``gradients``."""
    if isinstance(variables, NDArray):
        variables, gradients = [variables], [gradients]
    if isinstance(grad_reqs, str):
        grad_reqs = [grad_reqs] * len(variables)
    for v, g, req in zip(variables, gradients, grad_reqs):
        v.attach_grad(req)
        if g is not None and req != "null":
            if g.shape != v.shape:
                raise ShapeError(f"mark_variables: gradient shape {g.shape} != variable shape "
                                 f"{v.shape}")
            v._grad = g


# ---- backward ---------------------------------------------------------------------------
def _topo_order(heads):
    """Nodes reachable from ``heads``, each after every node that consumes it.

    A node is created after the nodes it reads (its parents), so sorting the reachable
    nodes by decreasing creation number (``seq``) is such an order.
    """
    nodes = {}
    stack = [h._node for h in heads if h._node is not None]
    while stack:
        node = stack.pop()
        if node.seq in nodes:
            continue
        nodes[node.seq] = node
        for p in node.parents:
            if p is not None and p[0] is not None:
                stack.append(p[0])
    return [nodes[k] for k in sorted(nodes, reverse=True)]


def _accumulate(store, key, g):
    old = store.get(key)
    store[key] = g if old is None else old + g


def _run_backward(heads, head_grads, retain_graph, create_graph, train_mode):
    """Propagate gradients from ``heads``; returns ``{id(leaf): (leaf, gradient)}`` with
    NDArray gradients under ``create_graph``, NumPy arrays otherwise."""
    for h in heads:
        if not isinstance(h, NDArray):
            raise AutogradError(f"backward: heads must be NDArrays, got {type(h).__name__}")
        if h._node is None:
            raise AutogradError(
                "backward: this array was not computed under autograd.record() from an array "
                "with attach_grad(), so there is no graph to differentiate. Call x.attach_grad() "
                "and compute the output inside `with autograd.record():`")
        if h._node.freed:
            raise AutogradError(
                "backward: the graph of this array was already freed by an earlier backward(); "
                "pass retain_graph=True to the first backward() to run it twice")
    if head_grads is None:
        head_grads = [None] * len(heads)
    if len(head_grads) != len(heads):
        raise HybridnetValueError(f"backward: got {len(heads)} heads but {len(head_grads)} "
                                  "head gradients")
    node_grads = {}
    for h, hg in zip(heads, head_grads):
        if hg is None:
            hg = wrap(np.ones(h._data.shape, h._data.dtype), h._ctx)
        elif not isinstance(hg, NDArray):
            hg = wrap(np.asarray(hg, dtype=h._data.dtype), h._ctx)
        if hg.shape != h.shape:
            raise ShapeError(f"backward: head gradient shape {hg.shape} != output shape {h.shape}")
        _accumulate(node_grads, (h._node, h._oidx), hg)    # keyed like tape parents
    order = _topo_order(heads)
    old = (STATE.recording, STATE.training)
    STATE.recording, STATE.training = bool(create_graph), bool(train_mode)
    try:
        if create_graph:
            return _graph_backward(order, node_grads, retain_graph)
        return _plain_backward(order, {k: g._data for k, g in node_grads.items()},
                               retain_graph, STATE.grad_dest)
    finally:
        STATE.recording, STATE.training = old


def _free(node):
    node.freed = True
    if node.custom is not None:
        release = getattr(node.custom, "release", None)
        if release is not None:    # a hybridized block frees its saved buffers
            release()
    node.in_data = node.out_data = None


def _freed_error():
    return AutogradError("backward: part of the graph was freed by an earlier backward(); "
                         "use retain_graph=True")


def _shape_error(node, g_shape, x_shape):
    return AutogradError(f"internal: vjp of {node!r} gave gradient shape {g_shape} for an "
                         f"input of shape {x_shape}")


def _plain_backward(order, node_grads, retain_graph, claimed):
    """The backward loop without create_graph, on NumPy arrays: ops with a ``vjp_np`` run
    it directly; others get their inputs wrapped. With ``claimed`` (a set, from
    ``backward()``) VJPs may write variables' gradients into their .grad buffers."""
    leaf_grads = {}
    pop = node_grads.pop
    read = [None]     # buffers the graph reads, computed on first use (never written into)
    for node in order:
        if node.freed:
            raise _freed_error()
        out_data, in_data, parents = node.out_data, node.in_data, node.parents
        if len(out_data) == 1:
            g = pop((node, 0), None)
            if g is None:
                g = np.zeros_like(out_data[0])
            out = out_data[0]
        else:           # (vjp_np gets None for an output no gradient reached)
            g = tuple([pop((node, i), None) for i in range(len(out_data))])
            out = out_data
        op = node.op
        fast = op.vjp_np if node.custom is None else None
        if fast is None and type(g) is tuple and any(gi is None for gi in g):
            g = tuple([np.zeros_like(d) if gi is None else gi for gi, d in zip(g, out_data)])
        if fast is not None:
            dest = None
            if op.vjp_np_dest and claimed is not None:
                dest = _grad_dests(parents, claimed, read, order, node_grads)
            # (parents: None or a (node, index) pair, so bool() says "needs a gradient")
            in_grads = fast(g, in_data, out, tuple(map(bool, parents)), dest,
                            **node.attrs)
        elif node.custom is not None and getattr(node.custom, "takes_grad_dests", False):
            # A hybridized block: NumPy gradients in and out; its compiled backward
            # writes weight gradients into the .grad buffers granted here.
            dest = None if claimed is None else \
                _grad_dests(parents, claimed, read, order, node_grads)
            in_grads = node.custom.backward_np((g,) if type(g) is not tuple else g, dest)
        else:
            ins = [wrap(d) for d in in_data]
            gs = [wrap(g)] if type(g) is not tuple else [wrap(a) for a in g]
            if node.custom is not None:
                in_grads = node.custom._backward_from_tape(gs)
            else:
                attrs = node.attrs
                if op.vjp_needs:
                    attrs = dict(attrs, needs_grad=tuple(map(bool, parents)))
                outs = [wrap(d) for d in out_data]
                if len(gs) == 1:
                    in_grads = op.vjp(gs[0], ins, outs[0], **attrs)
                else:
                    in_grads = op.vjp(tuple(gs), ins, tuple(outs), **attrs)
            if type(in_grads) is not tuple and type(in_grads) is not list:
                in_grads = (in_grads,)
            in_grads = [None if ig is None else ig._data if isinstance(ig, NDArray)
                        else np.asarray(ig, dtype=x.dtype) for ig, x in zip(in_grads, in_data)]
        for parent, ig, x in zip(parents, in_grads, in_data):
            if parent is None or ig is None:
                continue
            if ig.shape != x.shape:
                raise _shape_error(node, ig.shape, x.shape)
            if parent[0] is None:
                leaf = parent[1]
                prev = leaf_grads.get(id(leaf))
                leaf_grads[id(leaf)] = (leaf, ig if prev is None else _ADD(prev[1], ig))
            else:               # parent is the (node, output index) key itself
                prev = node_grads.get(parent)
                node_grads[parent] = ig if prev is None else _ADD(prev, ig)
        if not retain_graph:
            _free(node)
    return leaf_grads


def _graph_backward(order, node_grads, retain_graph):
    """The backward loop with create_graph: VJPs run as recorded ops on NDArrays."""
    leaf_grads = {}
    pop = node_grads.pop
    for node in order:
        if node.freed:
            raise _freed_error()
        out_data = node.out_data
        gs = [pop((node, i), None) for i in range(len(out_data))]
        for i, g in enumerate(gs):
            if g is None:
                gs[i] = wrap(np.zeros_like(out_data[i]))
        ins = _rewrap_inputs(node)
        outs = [wrap(d) for d in out_data]
        # VJPs that use the output (exp: g * out) must differentiate through it too.
        for i, o in enumerate(outs):
            o._node, o._oidx = node, i
        parents = node.parents
        if node.custom is not None:
            in_grads = node.custom._backward_from_tape(gs)
        else:
            op = node.op
            attrs = node.attrs
            if op.vjp_needs:
                attrs = dict(attrs, needs_grad=tuple(map(bool, parents)))
            if len(gs) == 1:
                in_grads = op.vjp(gs[0], ins, outs[0], **attrs)
            else:
                in_grads = op.vjp(tuple(gs), ins, tuple(outs), **attrs)
        if type(in_grads) is not tuple and type(in_grads) is not list:
            in_grads = (in_grads,)
        for parent, ig, x in zip(parents, in_grads, ins):
            if parent is None or ig is None:
                continue
            if not isinstance(ig, NDArray):
                ig = wrap(np.asarray(ig, dtype=x._data.dtype))
            if ig._data.shape != x._data.shape:
                raise _shape_error(node, ig.shape, x.shape)
            if parent[0] is None:
                leaf = parent[1]
                prev = leaf_grads.get(id(leaf))
                leaf_grads[id(leaf)] = (leaf, ig if prev is None else prev[1] + ig)
            else:
                prev = node_grads.get(parent)
                node_grads[parent] = ig if prev is None else prev + ig
        if not retain_graph:
            _free(node)
    return leaf_grads


def _owner(a):
    """The array owning ``a``'s memory (views share their base's owner)."""
    return a if a.base is None else a.base


def _read_buffers(order, node_grads):
    """ids of the memory owners of every array the rest of the backward may read."""
    arrays = list(node_grads.values())
    for n in order:
        if n.in_data is not None:           # None: already run and freed
            arrays += n.in_data
            arrays += n.out_data
    return {id(a) if a.base is None else id(a.base) for a in arrays if type(a) is np.ndarray}


_DEST_MIN_BYTES = 1 << 15    # smaller gradients are copied: cheaper than the checks


def _grad_dests(parents, claimed, read, order, node_grads):
    """Per input, the variable's own .grad buffer its VJP may write into, or None;
    ``read`` is a one-element list caching ``_read_buffers`` (computed when needed).

    Only a variable with grad_req 'write' whose C-contiguous buffer (of at least
    ``_DEST_MIN_BYTES``) no other writer of this backward has claimed (a second
    contribution is summed into a new array and copied at the end, as usual) and
    that the graph never reads."""
    dests, found = [None] * len(parents), False
    for k, p in enumerate(parents):
        if p is None or p[0] is not None:
            continue
        leaf = p[1]
        gr = leaf._grad
        if gr is None or leaf._grad_req != "write" or id(leaf) in claimed:
            continue
        d = gr._data
        if type(d) is not np.ndarray or d.nbytes < _DEST_MIN_BYTES or not d.flags.c_contiguous:
            continue
        if read[0] is None:
            read[0] = _read_buffers(order, node_grads)
        if id(_owner(d)) not in read[0]:
            claimed.add(id(leaf))
            dests[k], found = d, True
    return tuple(dests) if found else None


def _rewrap_inputs(node):
    """The node's inputs as NDArrays linked to the tape (for create_graph)."""
    ins = []
    for d, p in zip(node.in_data, node.parents):
        x = wrap(d)
        if p is not None:
            if p[0] is None:
                x = p[1]
            else:
                x._node, x._oidx = p
        ins.append(x)
    return ins


def backward(heads, head_grads=None, retain_graph=False, train_mode=True):
    """Compute gradients of ``heads`` and store them in each variable's ``.grad``."""
    if isinstance(heads, NDArray):
        heads = [heads]
        head_grads = [head_grads] if head_grads is not None and not isinstance(
            head_grads, (list, tuple)) else head_grads
    STATE.grad_dest = set()     # hybridized backwards may write into .grad buffers
    try:
        leaf_grads = _run_backward(list(heads), head_grads, retain_graph, False, train_mode)
    finally:
        STATE.grad_dest = None
    for leaf, g in leaf_grads.values():      # NumPy gradients
        req = leaf._grad_req
        if req == "write":
            if g is not leaf._grad._data:
                leaf._grad._data[...] = g
        elif req == "add":
            leaf._grad._data += g
        leaf._fresh_grad = True   # Trainer.step checks this (stale-gradient error)


def grad(heads, variables, head_grads=None, retain_graph=None, create_graph=False,
         train_mode=True):
    """Return the gradients of ``heads`` with respect to ``variables`` (not stored in .grad)."""
    single = isinstance(variables, NDArray)
    if single:
        variables = [variables]
    if isinstance(heads, NDArray):
        heads = [heads]
        if head_grads is not None and not isinstance(head_grads, (list, tuple)):
            head_grads = [head_grads]
    for v in variables:
        if not v._var:
            raise AutogradError("autograd.grad: every variable needs attach_grad() (or "
                                "mark_variables) before recording")
    if retain_graph is None:
        retain_graph = create_graph
    leaf_grads = _run_backward(list(heads), head_grads, retain_graph, create_graph, train_mode)
    out = [leaf_grads.get(id(v)) for v in variables]
    out = [wrap(np.zeros_like(v._data), v._ctx) if g is None
           else g[1] if create_graph else wrap(g[1]) for g, v in zip(out, variables)]
    return out[0] if single else out


# ---- custom functions -------------------------------------------------------------------
class Function:
    """A differentiable function with a hand-written gradient.

    Subclass and define ``forward(self, *inputs)`` and ``backward(self, *output_grads)``,
    both taking and returning NDArrays; use ``self.save_for_backward(...)`` and
    ``self.saved_tensors`` to pass values between them. Call an instance like a function.
    """

    def __init__(self):
        self._saved = ()

    def save_for_backward(self, *args):
        self._saved = args

    @property
    def saved_tensors(self):
        return self._saved

    def forward(self, *inputs):
        raise NotImplementedError

    def backward(self, *output_grads):
        raise NotImplementedError

    def __call__(self, *inputs):
        if STATE.tracer is not None:
            return STATE.tracer.custom_function(self, inputs)
        with pause(STATE.training):
            outs = self.forward(*inputs)
        single = isinstance(outs, NDArray)
        outs_t = (outs,) if single else tuple(outs)
        if STATE.recording and any(x._node is not None or x._var for x in inputs):
            outs_t = tuple(wrap(o._data, o._ctx) for o in outs_t)
            self._n_inputs = len(inputs)
            self._in_shapes = [x.shape for x in inputs]
            _record(None, inputs, {}, outs_t, custom=self)
        return outs_t[0] if single else outs_t

    def _backward_from_tape(self, gs):
        with pause(STATE.training):
            res = self.backward(*gs)
        res = (res,) if isinstance(res, NDArray) else tuple(res)
        if len(res) != self._n_inputs:
            raise AutogradError(f"{type(self).__name__}.backward returned {len(res)} gradients "
                                f"for {self._n_inputs} inputs; return one per input of forward")
        for r, s in zip(res, self._in_shapes):
            if r is not None and r.shape != s:
                raise AutogradError(f"{type(self).__name__}.backward returned a gradient of "
                                    f"shape {r.shape} for an input of shape {s}")
        return res
