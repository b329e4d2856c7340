"""Connectionist Temporal Classification loss (Graves et al., 2006) composed of registered ops.

The forward (alpha) recursion runs in log space over the extended label sequence
``blank, l1, blank, l2, ..., blank``; autograd differentiates it, so no separate beta
recursion is needed. The blank is the last class (MXNet's ``blank_label='last'``) and
label value -1 is padding.
"""
import numpy as np

from .. import ndarray as nd

__all__ = ["ctc_loss"]

_NEG = -1e30   # log(0) stand-in: finite so that gradients stay finite


def _logsumexp3(a, b, c):
    m = nd.maximum(nd.maximum(a, b), c)
    return nd.log(nd.exp(a - m) + nd.exp(b - m) + nd.exp(c - m)) + m


def _shift(x, k, neg):
    """Shift (N, S) right by ``k`` along axis 1, filling with ``neg``."""
    s = x.shape[1]
    if k >= s:
        return neg
    return nd.concat(nd.slice_axis(neg, axis=1, begin=0, end=k),
                     nd.slice_axis(x, axis=1, begin=0, end=s - k), dim=1)


def ctc_loss(pred, label, pred_lengths=None, label_lengths=None):
    """Negative log-likelihood of ``label`` under ``pred``, one value per sample.

    Parameters
    ----------
    pred : NDArray (T, N, C)
        Unnormalized scores; class C-1 is the blank.
    label : NDArray (N, L)
        Class indices in [0, C-2], padded with -1 (unless ``label_lengths`` is given).
    pred_lengths, label_lengths : NDArray (N,), optional
    """
    t_len, n, c = pred.shape
    blank = float(c - 1)
    dt = np.dtype(pred.dtype).name
    logp = nd.log_softmax(pred, axis=2)
    label = nd.cast(label, dtype=dt)
    if label_lengths is None:
        lab_len = nd.sum(label >= 0, axis=1)
    else:
        lab_len = nd.cast(label_lengths, dtype=dt)
        pos = nd.array(np.arange(label.shape[1], dtype=dt).reshape(1, -1), dtype=dt)
        label = nd.where(pos < nd.reshape(lab_len, shape=(-1, 1)), label, label * 0 - 1)
    blanks = label * 0 + blank
    lab = nd.where(label >= 0, label, blanks)
    ext = nd.reshape(nd.stack(blanks, lab, axis=2), shape=(n, -1))
    ext = nd.concat(ext, nd.slice_axis(blanks, axis=1, begin=0, end=1), dim=1)   # (N, S)
    s = ext.shape[1]
    neg = nd.full((n, s), _NEG, dtype=dt)
    skip = (ext != blank) * (ext != _shift(ext, 2, neg))                         # (N, S)
    # Emission log-probabilities of every extended symbol at every step: (N, S, T).
    emit = nd.batch_dot(nd.one_hot(ext, depth=c, dtype=dt), nd.swapaxes(logp, 0, 1),
                        transpose_b=True)
    steps = nd.split(emit, num_outputs=t_len, axis=2, squeeze_axis=True) if t_len > 1 \
        else [nd.reshape(emit, shape=(n, s))]
    first = nd.array((np.arange(s) < 2).reshape(1, -1).astype(dt), dtype=dt)
    alpha = nd.where(nd.broadcast_to(first, shape=(n, s)), steps[0], neg)
    plen = None if pred_lengths is None else nd.reshape(nd.cast(pred_lengths, dtype=dt),
                                                         shape=(-1, 1))
    for t in range(1, t_len):
        a2 = nd.where(skip, _shift(alpha, 2, neg), neg)
        new = _logsumexp3(alpha, _shift(alpha, 1, neg), a2) + steps[t]
        alpha = new if plen is None else \
            nd.where(nd.broadcast_to(plen > t, shape=(n, s)), new, alpha)
    last = nd.pick(alpha, lab_len * 2, axis=1)
    prev = nd.where(lab_len > 0, nd.pick(alpha, nd.maximum(lab_len * 2 - 1, 0), axis=1),
                    nd.full((n,), _NEG, dtype=dt))
    m = nd.maximum(last, prev)
    return -(nd.log(nd.exp(last - m) + nd.exp(prev - m)) + m)
