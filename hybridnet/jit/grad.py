"""Autodiff on the graph: forward Graph -> backward Graph, from the same VJP rules.

The backward graph is built by running each forward node's registry ``vjp``
on traced values (in reverse order), exactly as eager autograd runs it on
NDArrays: one gradient source for both. Forward values that the backward
needs ("residuals") become backward inputs; the forward keeps them.
"""
import numpy as np

from ..ndarray.ndarray import NDArray
from ..ops.registry import OPS
from .ir import Graph
from .passes.dce import dce
from .trace import Tracer

__all__ = ["build_backward", "BackwardGraph"]


class BackwardGraph:
    """``graph`` maps (head grads..., residuals...) to the gradients of ``wrt`` inputs.

    ``residuals`` lists the forward Values fed as the trailing inputs, in order.
    """

    def __init__(self, graph, n_heads, residuals, wrt):
        self.graph, self.n_heads, self.residuals, self.wrt = graph, n_heads, residuals, wrt

    def __str__(self):
        return str(self.graph)


def build_backward(fgraph, n_outputs, wrt):
    """Backward of the first ``n_outputs`` outputs of ``fgraph`` w.r.t. inputs flagged in ``wrt``."""
    tracer = Tracer()
    heads = [tracer.add_input(v.shape, v.dtype, name=f"grad_out{i}")
             for i, v in enumerate(fgraph.outputs[:n_outputs])]
    res_inputs = {}          # id(forward Value) -> backward Value
    res_order = []           # forward Values, in backward-input order

    def res(v):
        bv = res_inputs.get(id(v))
        if bv is None:
            if v in fgraph.constants:
                bt = tracer._traced(tracer.new_value(v.shape, v.dtype))
                tracer.graph.constants[bt._data] = fgraph.constants[v]
                res_inputs[id(v)] = bt._data
                return bt
            bv = tracer.add_input(v.shape, v.dtype, name=f"saved%{v.id}")
            res_inputs[id(v)] = bv
            res_order.append(v)
        return tracer._traced(bv)

    grads = {}

    def accumulate(v, g):
        old = grads.get(id(v))
        grads[id(v)] = g if old is None else old + g

    with tracer:
        for v, h in zip(fgraph.outputs[:n_outputs], heads):
            accumulate(v, tracer._traced(h))
        for node in reversed(fgraph.nodes):
            gs = [grads.pop(id(o), None) for o in node.outputs]
            if all(g is None for g in gs):
                continue
            op = OPS[node.op]
            if not op.differentiable:
                continue
            gs = [g if g is not None else _zeros(tracer, o) for g, o in zip(gs, node.outputs)]
            ins = [res(v) for v in node.inputs]
            outs = [res(v) for v in node.outputs]
            in_grads = op.vjp(gs[0] if len(gs) == 1 else tuple(gs), ins,
                              outs[0] if len(outs) == 1 else tuple(outs), **node.attrs)
            if not isinstance(in_grads, (tuple, list)):
                in_grads = (in_grads,)
            for v, ig in zip(node.inputs, in_grads):
                if ig is None:
                    continue
                if not isinstance(ig, NDArray):
                    ig = tracer.constant(NDArray(np.asarray(ig, v.dtype)))
                accumulate(v, ig)
        outs = []
        for v, w in zip(fgraph.inputs, wrt):
            if not w:
                continue
            g = grads.get(id(v))
            outs.append(tracer.value_of(g) if g is not None else
                        tracer.value_of(_zeros(tracer, v)))
    g = tracer.graph
    g.outputs = outs
    g = dce(g)
    # Drop residual inputs the pruned graph no longer reads.
    used = {id(x) for n in g.nodes for x in n.inputs} | {id(x) for x in g.outputs}
    keep = [v for v in res_order if id(res_inputs[id(v)]) in used]
    g.inputs = heads + [res_inputs[id(v)] for v in keep]
    return BackwardGraph(g, n_outputs, keep, list(wrt))


def _zeros(tracer, v):
    from ..ndarray.ndarray import wrap
    return tracer.constant(wrap(np.zeros(v.shape, v.dtype)))
