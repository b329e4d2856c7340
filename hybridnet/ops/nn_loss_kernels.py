"""Numba kernels for the eager fused softmax cross-entropy (``ops/nn_loss.py``).

Imported on the first eager call (so ``import hybridnet`` compiles nothing);
compiled once per dtype and kept in Numba's on-disk cache. The arithmetic
follows the NumPy rule step by step in the data's dtype (row max,
``exp(x - max)``, row sum, ``log(sum) - (x[label] - max)``, ``exp / sum``); only
``exp``/``log`` come from the C library instead of NumPy's own loops (an ulp
apart at most). Labels are clipped as ``pick`` mode 'clip' does: truncated
toward zero, below 0 (or NaN) -> 0, above C-1 -> C-1.
"""
import numba
import numpy as np

__all__ = ["ce_forward", "ce_backward"]


@numba.njit(inline="always")
def _label(v, c):
    if not v >= 0:           # negative or NaN
        return 0
    if v >= c - 1:
        return c - 1
    return int(v)


@numba.njit(cache=True, error_model="numpy", nogil=True)
def ce_forward(x, label, loss, prob):
    """loss[i] = -log softmax(x[i])[label[i]]; prob = softmax(x, axis=1)."""
    n, c = x.shape
    for i in range(n):
        m = x[i, 0]
        for j in range(1, c):
            if x[i, j] > m or x[i, j] != x[i, j]:     # NaN wins, as in np.max
                m = x[i, j]
        prob[i, 0] = 0
        s = prob[i, 0]                 # a zero of the data's dtype (sums as NumPy does)
        for j in range(c):
            e = np.exp(x[i, j] - m)
            prob[i, j] = e
            s += e
        k = _label(label[i], c)
        loss[i] = np.log(s) - (x[i, k] - m)
        for j in range(c):
            prob[i, j] /= s


@numba.njit(cache=True, error_model="numpy", nogil=True)
def ce_backward(grad, prob, label, out):
    """out = (prob - one_hot(label)) * grad[:, None]."""
    n, c = prob.shape
    for i in range(n):
        g = grad[i]
        for j in range(c):
            out[i, j] = prob[i, j] * g
        k = _label(label[i], c)
        out[i, k] -= g
