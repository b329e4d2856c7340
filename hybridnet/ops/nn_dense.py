"""FullyConnected (Dense) and Embedding.

``FullyConnected`` is one ``matmul``-kind op whose inputs are ``(data, weight)``
or ``(data, weight, bias)``: the compiler sees the GEMM and its bias epilogue as
one node. Its VJP is three more GEMM/reduce ops, so backward fuses the same way.
"""
import math

import numpy as np

from ..base import ShapeError
from ._util import call
from .nn_common import check_kwargs, check_nd, finish
from .registry import Op, frontend, register


def _fc_shapes(dshape, wshape, bshape, num_hidden, flatten):
    """Validate FullyConnected shapes; return (rows, in_units, out_shape)."""
    if len(wshape) != 2:
        raise ShapeError(f"FullyConnected: weight must be 2-D (num_hidden, in_units), got shape "
                         f"{tuple(wshape)}")
    if len(dshape) == 0:
        raise ShapeError("FullyConnected: data must have at least 1 dim, got a 0-d array")
    if flatten:
        rows, k = dshape[0], math.prod(dshape[1:])
    else:
        k = dshape[-1]
        rows = math.prod(dshape[:-1])
    h = wshape[0]
    if wshape[1] != k:
        how = ("flattens to" if flatten else "has last dim")
        raise ShapeError(
            f"FullyConnected: data of shape {tuple(dshape)} {how} {k} input features but the "
            f"weight of shape {tuple(wshape)} expects {wshape[1]}; create the Dense layer with "
            f"in_units={k} (or in_units=0 to infer it), or reshape the data"
            + ("" if flatten else " (flatten=False applies the layer to the last axis)"))
    if num_hidden and num_hidden != h:
        raise ShapeError(f"FullyConnected: num_hidden={num_hidden} but the weight of shape "
                         f"{tuple(wshape)} has {h} rows; make them agree")
    if bshape is not None and tuple(bshape) != (h,):
        raise ShapeError(f"FullyConnected: bias must have shape ({h},) to match the weight "
                         f"{tuple(wshape)}, got {tuple(bshape)}")
    out = (dshape[0], h) if flatten else tuple(dshape[:-1]) + (h,)
    return rows, k, out


def _fully_connected(*data, num_hidden=0, flatten=True):
    """``dot(data, weight.T) + bias``; inputs ``(data, weight[, bias])``."""
    x, w = data[0], data[1]
    b = data[2] if len(data) > 2 else None
    xs, ws = x.shape, w.shape
    if len(xs) == 2 and len(ws) == 2 and xs[1] == ws[1] and (b is None or b.shape == ws[:1]) \
            and (not num_hidden or num_hidden == ws[0]):
        y = np.dot(x, w.T)          # the common 2-D case, shapes checked inline
        if b is not None:
            y += b
        return y
    rows, k, out_shape = _fc_shapes(xs, ws, None if b is None else b.shape, num_hidden, flatten)
    y = np.dot(x.reshape(rows, k), w.T)
    if b is not None:
        y += b
    return y.reshape(out_shape)


def _fc_rule(shapes, dtypes, num_hidden=0, flatten=True):
    _, _, out = _fc_shapes(shapes[0], shapes[1], shapes[2] if len(shapes) > 2 else None,
                           num_hidden, flatten)
    return [(out, np.result_type(*dtypes))]


def _fc_vjp(g, ins, out, num_hidden=0, flatten=True, needs_grad=None):
    x, w = ins[0], ins[1]
    need = needs_grad or (True,) * len(ins)
    rows, k, _ = _fc_shapes(x.shape, w.shape, None, num_hidden, flatten)
    g2 = g.reshape((rows, w.shape[0]))
    x2 = x.reshape((rows, k))
    # The data gradient is a full GEMM: skip it for the network's input.
    grads = [call("dot", g2, w).reshape(x.shape) if need[0] else None,
             call("dot", g2, x2, transpose_a=True) if need[1] else None]
    if len(ins) > 2:
        grads.append(call("sum", g2, axis=0) if need[2] else None)
    return tuple(grads)


def _fc_vjp_np(g, ins, out, needs, dest, num_hidden=0, flatten=True):
    """``_fc_vjp`` on NumPy arrays (plain eager backward): the same GEMMs, the weight and
    bias gradients written into their ``.grad`` buffers when ``dest`` has them."""
    x, w = ins[0], ins[1]
    k = w.shape[1]                  # (shapes were checked by the forward)
    rows = x.shape[0] if flatten else math.prod(x.shape[:-1])
    g2 = g.reshape(rows, w.shape[0])
    dest = dest or (None, None, None)
    gx = np.dot(g2, w).reshape(x.shape) if needs[0] else None
    gw = None
    if needs[1]:
        x2 = x.reshape(rows, k)
        d = dest[1]
        if d is not None and d.shape == w.shape and d.dtype == np.result_type(g2, x2):
            gw = np.dot(g2.T, x2, out=d)
        else:
            gw = np.dot(g2.T, x2)
    if len(ins) == 2:
        return gx, gw
    gb = None
    if needs[2]:
        d = dest[2]
        if d is not None and d.shape == (g2.shape[1],) and d.dtype == g2.dtype:
            gb = np.add.reduce(g2, axis=0, dtype=g2.dtype, out=d)
        else:
            gb = np.add.reduce(g2, axis=0, dtype=g2.dtype)
    return gx, gw, gb


register(Op("_fully_connected", "matmul", _fully_connected, _fc_vjp, _fc_rule,
            vjp_np=_fc_vjp_np, vjp_np_dest=True))


@frontend("FullyConnected")
def FullyConnected(data=None, weight=None, bias=None, num_hidden=0, no_bias=False,
                   flatten=True, out=None, **kwargs):
    """Dense layer: ``out = dot(data, weight.T) + bias``.

    Parameters
    ----------
    data : NDArray
        ``(N, d1, d2, ...)``; with ``flatten=True`` it is used as ``(N, d1*d2*...)``,
        with ``flatten=False`` the layer applies to the last axis.
    weight : NDArray
        ``(num_hidden, in_units)``.
    bias : NDArray, optional
        ``(num_hidden,)``; omitted when ``no_bias=True``.
    num_hidden : int
        Number of outputs (checked against ``weight``; 0 takes it from ``weight``).

    Returns
    -------
    NDArray
        ``(N, num_hidden)`` (flatten) or ``data.shape[:-1] + (num_hidden,)``.

    Example
    -------
    >>> nd.FullyConnected(nd.ones((2, 3)), nd.ones((4, 3)), nd.zeros(4), num_hidden=4)
    """
    check_kwargs("FullyConnected", kwargs)
    check_nd("FullyConnected", data=data, weight=weight)
    if not no_bias:
        check_nd("FullyConnected", bias=bias)
    args = (data, weight) if no_bias else (data, weight, bias)
    res = call("_fully_connected", *args, num_hidden=int(num_hidden), flatten=bool(flatten))
    return finish(res, out)


# ---- Embedding ----------------------------------------------------------------------------
def _indices(data, input_dim, op="Embedding"):
    """Integer row indices from float or int ``data``; out-of-range indices are an error."""
    idx = data if np.issubdtype(data.dtype, np.integer) else data.astype(np.int64)
    if idx.size:
        lo, hi = int(idx.min()), int(idx.max())
        if lo < 0 or hi >= input_dim:
            bad = lo if lo < 0 else hi
            raise ShapeError(f"{op}: index {bad} is out of range for input_dim={input_dim} "
                             f"(valid indices are 0..{input_dim - 1}); enlarge input_dim or "
                             "fix the token ids")
    return idx


def _check_embedding(wshape, input_dim, output_dim):
    if len(wshape) != 2:
        raise ShapeError(f"Embedding: weight must be 2-D (input_dim, output_dim), got shape "
                         f"{tuple(wshape)}")
    if (input_dim and input_dim != wshape[0]) or (output_dim and output_dim != wshape[1]):
        raise ShapeError(f"Embedding: weight shape {tuple(wshape)} does not match "
                         f"input_dim={input_dim}, output_dim={output_dim}; make them agree")


def _embedding(data, weight, input_dim=0, output_dim=0, dtype="float32", sparse_grad=False):
    """Look up rows of ``weight`` (input_dim, output_dim) at the indices in ``data``.

    The result has shape ``data.shape + (output_dim,)``; the gradient goes to
    ``weight`` only (repeated indices accumulate), never to the indices.
    """
    _check_embedding(weight.shape, input_dim, output_dim)
    return weight[_indices(data, weight.shape[0])]


def _embedding_rule(shapes, dtypes, input_dim=0, output_dim=0, dtype="float32",
                    sparse_grad=False):
    _check_embedding(shapes[1], input_dim, output_dim)
    return [(tuple(shapes[0]) + (shapes[1][1],), np.dtype(dtypes[1]))]


def _embedding_vjp(g, ins, out, input_dim=0, output_dim=0, dtype="float32", sparse_grad=False):
    data, weight = ins
    return None, call("_embedding_grad", g, data, input_dim=weight.shape[0])


register(Op("Embedding", "opaque", _embedding, _embedding_vjp, _embedding_rule,
            nondiff_args=("data",)))


def _embedding_grad(grad, data, input_dim=0):
    """Rows of ``grad`` summed into a zero ``(input_dim, output_dim)`` table at ``data``."""
    d = grad.shape[-1]
    out = np.zeros((input_dim, d), grad.dtype)
    np.add.at(out, _indices(data, input_dim).reshape(-1), grad.reshape(-1, d))
    return out


def _embedding_grad_vjp(g, ins, out, input_dim=0):
    return call("Embedding", ins[1], g, input_dim=input_dim, output_dim=g.shape[1]), None


register(Op("_embedding_grad", "opaque", _embedding_grad, _embedding_grad_vjp,
            nondiff_args=("data",)))
