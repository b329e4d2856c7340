"""Fused per-sample losses for the eager path of ``gluon.loss``.

``_softmax_ce_loss(data, label)`` is ``-pick(log_softmax(data, axis=1), label)``
for ``data`` (N, C) and ``label`` (N,) in one op: the eager
``SoftmaxCrossEntropyLoss`` runs it instead of four ops (and their ten backward
ops). Its forward is the same arithmetic as the composite: float32/float64
C-contiguous data runs one Numba kernel each way once the op has been called
``WARM_CALLS`` times in the process (``nn_loss_kernels.py``;
``exp``/``log`` from the C library, an ulp from NumPy's at most), anything
else the NumPy rule below, whose values are identical to the composite's.
Labels are handled like ``pick``'s default ``mode='clip'`` (floats truncate,
out-of-range labels clip to ``0..C-1``). It also returns ``softmax(data,
axis=1)``, which its backward reuses.

Traced code (hybridize) keeps using the composite ops, which the JIT fuses into
row kernels. Plain eager backward runs the NumPy ``vjp_np``; the ``vjp`` is
written with the composite's differentiable ops (``create_graph=True``), so
higher-order gradients stay correct.
"""
import numpy as np

from ..base import ShapeError
from ._util import call
from .registry import Op, register


def _ce_check(shape, lshape):
    if len(shape) != 2 or tuple(lshape) != (shape[0],):
        raise ShapeError(f"_softmax_ce_loss: expected data (N, C) and label (N,), got data "
                         f"{tuple(shape)} and label {tuple(lshape)}")


def _labels(label, c):
    """Class indices: truncated to integers and clipped to 0..c-1 (``pick`` mode 'clip')."""
    idx = label.astype(np.intp)        # a new array: clipped in place
    np.minimum(idx, c - 1, out=idx)
    np.maximum(idx, 0, out=idx)
    return idx


_KERNEL_DTYPES = (np.dtype(np.float32), np.dtype(np.float64))


_LOADED = []


def _kernels():
    """The Numba kernels (``ops/nn_loss_kernels.py``), imported on first use."""
    if not _LOADED:
        from . import nn_loss_kernels
        _LOADED.append(nn_loss_kernels)
    return _LOADED[0]


# Tiered: the first calls in a process take the NumPy rule, so a script that computes
# a loss a few times never waits for a compile (0.3-0.4 s each way with an empty
# kernel cache, more than all its NumPy calls would cost); a training loop switches
# to the kernels after WARM_CALLS calls (loaded from the disk cache after the first run).
WARM_CALLS = 8
_CALLS = [0]


def _use_kernel(data, label):
    if not (type(data) is np.ndarray and data.dtype in _KERNEL_DTYPES and data.size
            and data.flags.c_contiguous and type(label) is np.ndarray
            and label.dtype.kind in "fiu"):
        return False
    if _CALLS[0] < WARM_CALLS:
        _CALLS[0] += 1
        return False
    return True


def _softmax_ce_loss(data, label):
    """``(loss, prob)``: per-sample ``-log(softmax(data, axis=1)[i, label[i]])`` (N,) and
    ``softmax(data, axis=1)`` (N, C)."""
    _ce_check(data.shape, label.shape)
    n, c = data.shape
    if _use_kernel(data, label):
        loss, prob = np.empty(n, data.dtype), np.empty((n, c), data.dtype)
        _kernels().ce_forward(data, label, loss, prob)
        return loss, prob
    z = data - data.max(axis=1, keepdims=True)
    e = np.exp(z)
    s = e.sum(axis=1, keepdims=True)
    # -(z - log(s))[label] of the composite, written as log(s) - z (the same value in IEEE)
    loss = np.log(s).reshape(n) - z[np.arange(n), _labels(label, c)]
    e /= s
    return loss.astype(data.dtype, copy=False), e.astype(data.dtype, copy=False)


def _softmax_ce_loss_rule(shapes, dtypes):
    _ce_check(shapes[0], shapes[1])
    dt = np.dtype(dtypes[0])
    return [((shapes[0][0],), dt), (tuple(shapes[0]), dt)]


def _softmax_ce_loss_vjp(g, ins, out):
    x, label = ins
    g_loss, g_prob = g
    prob = out[1]
    n = x.shape[0]
    dx = prob * g_loss.reshape((n, 1)) + call("_pick_grad", -g_loss, label, axis=-1,
                                              mode="clip", shape=x.shape)
    gp = g_prob * prob        # softmax's vjp for the probability output
    return dx + gp - prob * call("sum", gp, axis=-1, keepdims=True), None


def _softmax_ce_loss_vjp_np(g, ins, out, needs, dest):
    # plain eager backward: (softmax(x) - one_hot(label)) * g, in NumPy
    g_loss, g_prob = g
    prob = out[1]
    if g_loss is None:
        g_loss = np.zeros(prob.shape[:1], prob.dtype)
    return _softmax_ce_loss_grad(g_loss, prob, ins[1], g_prob), None


register(Op("_softmax_ce_loss", "opaque", _softmax_ce_loss, _softmax_ce_loss_vjp,
            _softmax_ce_loss_rule, num_outputs=2, nondiff_args=("label",),
            vjp_np=_softmax_ce_loss_vjp_np))


def _softmax_ce_loss_grad(grad, prob, label, grad_prob=None):
    """The input gradient of ``_softmax_ce_loss`` from its output gradients:
    ``(prob - one_hot(label)) * grad[:, None]`` plus softmax's gradient for ``grad_prob``
    (None: no gradient for the probabilities)."""
    _ce_check(prob.shape, label.shape)
    n, c = prob.shape
    if (_use_kernel(prob, label) and type(grad) is np.ndarray and grad.dtype == prob.dtype
            and (grad_prob is None or not grad_prob.any())):
        d = np.empty((n, c), prob.dtype)
        _kernels().ce_backward(grad, prob, label, d)
        return d
    d = prob * grad.reshape(n, 1)
    d[np.arange(n), _labels(label, c)] -= grad
    if grad_prob is not None and grad_prob.any():
        gp = grad_prob * prob
        d += gp
        d -= prob * gp.sum(axis=1, keepdims=True)
    return d
