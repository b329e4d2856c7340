"""Losses with Gluon's semantics: ``loss(pred, label, sample_weight=None)`` returns one value
per sample (the mean over every axis but ``batch_axis``), scaled by ``weight`` and
multiplied by ``sample_weight`` (broadcast against the elementwise loss) first.
"""
import numpy as np

from .. import ndarray as nd
from .._state import STATE
from ..base import HybridnetValueError, ShapeError
from ..ndarray.ndarray import NDArray, invoke
from ..ops.registry import OPS
from .block import HybridBlock

__all__ = ["Loss", "L1Loss", "L2Loss", "SoftmaxCrossEntropyLoss", "SoftmaxCELoss",
           "SigmoidBinaryCrossEntropyLoss", "SigmoidBCELoss", "KLDivLoss", "HuberLoss",
           "HingeLoss", "SquaredHingeLoss", "LogisticLoss", "TripletLoss", "PoissonNLLLoss",
           "CosineEmbeddingLoss", "SDMLLoss", "CTCLoss"]


class Loss(HybridBlock):
    """Base class of losses.

    Parameters
    ----------
    weight : float or None
        Global scale of the loss.
    batch_axis : int, default 0
        The axis that indexes samples; the result keeps only this axis.
    """

    def __init__(self, weight, batch_axis, **kwargs):
        super().__init__(**kwargs)
        if weight is not None and not isinstance(weight, (int, float, np.number)):
            raise HybridnetValueError(f"{type(self).__name__}: weight must be a number or None, "
                                      f"got {type(weight).__name__}")
        self._weight = weight
        self._batch_axis = batch_axis

    def __repr__(self):
        return f"{type(self).__name__}(batch_axis={self._batch_axis}, w={self._weight})"

    # ---- helpers shared by the losses ------------------------------------------------
    def _like(self, label, pred, what="label"):
        """``label`` reshaped to ``pred``'s shape (Gluon's _reshape_like), with a clear error."""
        label = _as_nd(label, pred)
        if label.shape == pred.shape:
            return label
        if label.size != pred.size:
            raise ShapeError(
                f"{type(self).__name__}: {what} of shape {tuple(label.shape)} ({label.size} "
                f"elements) does not match pred of shape {tuple(pred.shape)} ({pred.size} "
                f"elements); they must have the same number of elements")
        return nd.reshape(label, shape=pred.shape)

    def _weighting(self, loss, sample_weight=None, weight=None):
        weight = self._weight if weight is None else weight
        if sample_weight is not None:
            sample_weight = _as_nd(sample_weight, loss)
            try:
                np.broadcast_shapes(loss.shape, sample_weight.shape)
            except ValueError:
                raise ShapeError(
                    f"{type(self).__name__}: sample_weight of shape "
                    f"{tuple(sample_weight.shape)} does not broadcast to the elementwise loss "
                    f"of shape {tuple(loss.shape)}; e.g. use shape "
                    f"{(loss.shape[0],) + (1,) * (loss.ndim - 1)} to weigh each sample") from None
            loss = loss * sample_weight
        if weight is not None:
            loss = loss * weight
        return loss

    def _batch_reduce(self, loss, reduce="mean"):
        """Mean (or sum) over all axes but ``batch_axis`` (Gluon's ``exclude=True``)."""
        if loss.ndim <= 1:
            return loss
        b = self._batch_axis % loss.ndim
        axes = tuple(i for i in range(loss.ndim) if i != b)
        return nd.mean(loss, axis=axes) if reduce == "mean" else nd.sum(loss, axis=axes)


def _as_nd(x, like):
    if isinstance(x, NDArray):
        return x
    return nd.array(np.asarray(x), dtype=like.dtype)


class L2Loss(Loss):
    """``L = 0.5 * (label - pred)^2`` (times ``weight``, default 1), mean over non-batch axes."""

    def __init__(self, weight=1.0, batch_axis=0, **kwargs):
        super().__init__(weight, batch_axis, **kwargs)

    def forward(self, pred, label, sample_weight=None):
        label = self._like(label, pred)
        loss = nd.square(label - pred)
        loss = self._weighting(loss, sample_weight, (self._weight if self._weight is not None
                                                     else 1.0) / 2)
        return self._batch_reduce(loss)


class L1Loss(Loss):
    """``L = |label - pred|``, mean over non-batch axes."""

    def __init__(self, weight=None, batch_axis=0, **kwargs):
        super().__init__(weight, batch_axis, **kwargs)

    def forward(self, pred, label, sample_weight=None):
        label = self._like(label, pred)
        loss = self._weighting(nd.abs(label - pred), sample_weight)
        return self._batch_reduce(loss)


class SigmoidBinaryCrossEntropyLoss(Loss):
    """Binary cross-entropy: ``-(label * log(p) * pos_weight + (1 - label) * log(1 - p))``.

    Parameters
    ----------
    from_sigmoid : bool, default False
        False: ``pred`` are logits and ``p = sigmoid(pred)`` is folded into a numerically
        stable formula. True: ``pred`` are probabilities.
    weight : float or None
    batch_axis : int, default 0

    Call: ``loss(pred, label, sample_weight=None, pos_weight=None)``; ``pos_weight``
    broadcasts against ``pred`` (e.g. (1, num_classes)).
    """

    def __init__(self, from_sigmoid=False, weight=None, batch_axis=0, **kwargs):
        super().__init__(weight, batch_axis, **kwargs)
        self._from_sigmoid = from_sigmoid

    def forward(self, pred, label, sample_weight=None, pos_weight=None):
        label = self._like(label, pred)
        if pos_weight is not None:
            pos_weight = _as_nd(pos_weight, pred)
        if not self._from_sigmoid:
            # max(x, 0) - x*z + log(1 + exp(-|x|)): never overflows.
            soft = nd.Activation(-nd.abs(pred), act_type="softrelu")
            if pos_weight is None:
                loss = nd.relu(pred) - pred * label + soft
            else:
                log_weight = 1 + (pos_weight - 1) * label
                loss = pred - pred * label + log_weight * (soft + nd.relu(-pred))
        else:
            eps = 1e-12
            pos = nd.log(pred + eps) * label
            if pos_weight is not None:
                pos = pos * pos_weight
            loss = -(pos + nd.log(1.0 - pred + eps) * (1.0 - label))
        return self._batch_reduce(self._weighting(loss, sample_weight))


SigmoidBCELoss = SigmoidBinaryCrossEntropyLoss


class SoftmaxCrossEntropyLoss(Loss):
    """Softmax cross-entropy: ``-log softmax(pred)[label]``, or ``-sum(label * log p)`` for
    dense labels.

    Parameters
    ----------
    axis : int, default -1
        The class axis.
    sparse_label : bool, default True
        True: ``label`` holds class indices with ``pred``'s shape minus ``axis``.
        False: ``label`` is a distribution with ``pred``'s shape.
    from_logits : bool, default False
        True: ``pred`` already holds log-probabilities (e.g. from log_softmax).
    weight : float or None
    batch_axis : int, default 0
    """

    def __init__(self, axis=-1, sparse_label=True, from_logits=False, weight=None,
                 batch_axis=0, **kwargs):
        super().__init__(weight, batch_axis, **kwargs)
        self._axis = axis
        self._sparse_label = sparse_label
        self._from_logits = from_logits

    def forward(self, pred, label, sample_weight=None):
        if (STATE.tracer is None and sample_weight is None and self._sparse_label
                and not self._from_logits and type(pred) is NDArray and pred.ndim == 2
                and self._axis % 2 == 1 and self._batch_axis % 2 == 0):
            # Eager (N, C) logits: one fused op with the composite's values (below).
            label = _as_nd(label, pred)
            n = pred.shape[0]
            if label.shape != (n,) and label.size == n:
                label = nd.reshape(label, shape=(n,))
            if label.shape == (n,):
                loss = invoke(_CE_LOSS, (pred, label))[0]
                return loss if self._weight is None else loss * self._weight
        if not self._from_logits:
            pred = nd.log_softmax(pred, axis=self._axis)
        label = _as_nd(label, pred)
        if self._sparse_label:
            axis = self._axis % pred.ndim
            want = pred.shape[:axis] + pred.shape[axis + 1:]
            if label.shape != want and label.size == int(np.prod(want)):
                label = nd.reshape(label, shape=want)
            elif label.shape != want:
                raise ShapeError(
                    f"SoftmaxCrossEntropyLoss: with sparse_label=True the label must hold one "
                    f"class index per sample, shape {want} for pred of shape "
                    f"{tuple(pred.shape)}, got {tuple(label.shape)}. For one-hot or "
                    "probability labels pass sparse_label=False")
            loss = -nd.pick(pred, label, axis=self._axis, keepdims=True)
        else:
            label = self._like(label, pred)
            loss = -nd.sum(pred * label, axis=self._axis, keepdims=True)
        return self._batch_reduce(self._weighting(loss, sample_weight))


SoftmaxCELoss = SoftmaxCrossEntropyLoss
_CE_LOSS = OPS["_softmax_ce_loss"]


class KLDivLoss(Loss):
    """Kullback-Leibler divergence ``sum(label * (log(label) - pred))`` over non-batch axes.

    Parameters
    ----------
    from_logits : bool, default True
        True: ``pred`` holds log-probabilities; False: ``log_softmax(pred, axis)`` is taken.
    axis : int, default -1
    weight : float or None
    batch_axis : int, default 0

    As in Gluon, the result is the *sum* (not the mean) over non-batch axes.
    """

    def __init__(self, from_logits=True, axis=-1, weight=None, batch_axis=0, **kwargs):
        super().__init__(weight, batch_axis, **kwargs)
        self._from_logits = from_logits
        self._axis = axis

    def forward(self, pred, label, sample_weight=None):
        if not self._from_logits:
            pred = nd.log_softmax(pred, axis=self._axis)
        label = self._like(label, pred)
        loss = label * (nd.log(label + 1e-12) - pred)
        return self._batch_reduce(self._weighting(loss, sample_weight), reduce="sum")


class HuberLoss(Loss):
    """Smooth L1: ``0.5/rho * d^2`` where ``|d| <= rho``, else ``|d| - 0.5*rho``; d = label - pred.

    Parameters
    ----------
    rho : float, default 1
    """

    def __init__(self, rho=1, weight=None, batch_axis=0, **kwargs):
        super().__init__(weight, batch_axis, **kwargs)
        self._rho = rho

    def forward(self, pred, label, sample_weight=None):
        label = self._like(label, pred)
        d = nd.abs(label - pred)
        loss = nd.where(d > self._rho, d - 0.5 * self._rho, (0.5 / self._rho) * nd.square(d))
        return self._batch_reduce(self._weighting(loss, sample_weight))


class HingeLoss(Loss):
    """``max(0, margin - pred * label)`` with labels in {-1, 1}."""

    def __init__(self, margin=1, weight=None, batch_axis=0, **kwargs):
        super().__init__(weight, batch_axis, **kwargs)
        self._margin = margin

    def forward(self, pred, label, sample_weight=None):
        label = self._like(label, pred)
        loss = nd.relu(self._margin - pred * label)
        return self._batch_reduce(self._weighting(loss, sample_weight))


class SquaredHingeLoss(Loss):
    """``max(0, margin - pred * label)^2`` with labels in {-1, 1}."""

    def __init__(self, margin=1, weight=None, batch_axis=0, **kwargs):
        super().__init__(weight, batch_axis, **kwargs)
        self._margin = margin

    def forward(self, pred, label, sample_weight=None):
        label = self._like(label, pred)
        loss = nd.square(nd.relu(self._margin - pred * label))
        return self._batch_reduce(self._weighting(loss, sample_weight))


class LogisticLoss(Loss):
    """``log(1 + exp(-pred * label))`` for labels in {-1, 1} (``label_format='signed'``)
    or {0, 1} (``'binary'``), computed stably."""

    def __init__(self, weight=None, batch_axis=0, label_format="signed", **kwargs):
        super().__init__(weight, batch_axis, **kwargs)
        if label_format not in ("signed", "binary"):
            raise HybridnetValueError(f"LogisticLoss: label_format must be 'signed' or "
                                      f"'binary', got {label_format!r}")
        self._label_format = label_format

    def forward(self, pred, label, sample_weight=None):
        label = self._like(label, pred)
        if self._label_format == "signed":
            label = (label + 1.0) / 2.0
        loss = nd.relu(pred) - pred * label + nd.Activation(-nd.abs(pred), act_type="softrelu")
        return self._batch_reduce(self._weighting(loss, sample_weight))


class TripletLoss(Loss):
    """``max(0, |pos - pred|^2 - |neg - pred|^2 + margin)`` summed over non-batch axes.

    Call: ``loss(pred, positive, negative)``.
    """

    def __init__(self, margin=1, weight=None, batch_axis=0, **kwargs):
        super().__init__(weight, batch_axis, **kwargs)
        self._margin = margin

    def forward(self, pred, positive, negative, sample_weight=None):
        positive = self._like(positive, pred, "positive")
        negative = self._like(negative, pred, "negative")
        loss = self._batch_reduce(nd.square(positive - pred) - nd.square(negative - pred),
                                  reduce="sum")
        loss = nd.relu(loss + self._margin)
        return self._weighting(loss, sample_weight)


class PoissonNLLLoss(Loss):
    """Poisson negative log-likelihood, averaged over all elements (a scalar, as Gluon).

    ``from_logits=True``: ``exp(pred) - target * pred``; else ``pred - target * log(pred + eps)``.
    ``compute_full`` adds Stirling's approximation of ``log(target!)`` for targets > 1.
    """

    def __init__(self, weight=None, from_logits=True, batch_axis=0, compute_full=False,
                 **kwargs):
        super().__init__(weight, batch_axis, **kwargs)
        self._from_logits = from_logits
        self._compute_full = compute_full

    def forward(self, pred, target, sample_weight=None, epsilon=1e-08):
        target = self._like(target, pred, "target")
        if self._from_logits:
            loss = nd.exp(pred) - target * pred
        else:
            loss = pred - target * nd.log(pred + epsilon)
        if self._compute_full:
            safe = nd.maximum(target, 1.0)   # the term is masked to 0 where target <= 1
            stirling = safe * nd.log(safe) - safe + 0.5 * nd.log(2 * np.pi * safe)
            loss = loss + stirling * (target > 1)
        return nd.mean(self._weighting(loss, sample_weight))


class CosineEmbeddingLoss(Loss):
    """``1 - cos(x1, x2)`` for label 1, ``max(0, cos(x1, x2) - margin)`` for label -1.

    Call: ``loss(input1, input2, label, sample_weight=None)`` with inputs (N, D) and label
    (N,). Returns shape (N,) (Gluon 1.x returns (N, 1); the values are the same).
    """

    def __init__(self, weight=None, batch_axis=0, margin=0, **kwargs):
        super().__init__(weight, batch_axis, **kwargs)
        self._margin = margin

    def forward(self, input1, input2, label, sample_weight=None):
        input1 = self._like(input1, input2, "input1")
        label = nd.reshape(_as_nd(label, input2), shape=(-1, 1))
        x_norm = nd.reshape(nd.norm(input1, axis=-1), shape=(-1, 1))
        y_norm = nd.reshape(nd.norm(input2, axis=-1), shape=(-1, 1))
        dot = nd.reshape(nd.sum(input1 * input2, axis=-1), shape=(-1, 1))
        cos = dot / nd.maximum(x_norm * y_norm, 1e-12)
        pos = (1 - cos) * (label == 1)
        neg = nd.relu((cos - self._margin) * (label == -1))
        loss = self._weighting(pos + neg, sample_weight)
        return nd.reshape(loss, shape=(-1,)) if loss.ndim == 2 and loss.shape[1] == 1 else \
            self._batch_reduce(loss)


class SDMLLoss(Loss):
    """Smoothed deep metric learning loss (Bonadiman et al., 2019) for paired batches.

    Row ``i`` of ``x1`` should match row ``i`` of ``x2``; every other row of the batch is a
    negative. With ``d_ij = |x1_i - x2_j|^2`` the loss is the KL divergence between the
    smoothed identity (``1 - smoothing_parameter`` on the diagonal) and
    ``softmax(-d_i)``, one value per row. Call: ``loss(x1, x2)``, both (N, D).
    """

    def __init__(self, smoothing_parameter=0.3, weight=1.0, batch_axis=0, **kwargs):
        super().__init__(weight, batch_axis, **kwargs)
        self.kl_loss = KLDivLoss(from_logits=True)
        self.smoothing_parameter = smoothing_parameter

    def forward(self, x1, x2):
        if x1.shape != x2.shape or x1.ndim != 2:
            raise ShapeError(f"SDMLLoss: x1 and x2 must both be (N, D) with the same shape, "
                             f"got {tuple(x1.shape)} and {tuple(x2.shape)}")
        n, s = x1.shape[0], self.smoothing_parameter
        gold = nd.eye(n, dtype=x1.dtype)
        labels = gold * (1 - s) + (1 - gold) * (s / max(n - 1, 1))
        diff = nd.expand_dims(x1, axis=1) - nd.expand_dims(x2, axis=0)
        log_p = nd.log_softmax(-nd.sum(nd.square(diff), axis=2), axis=1)
        return self._weighting(self.kl_loss(log_p, labels))


class CTCLoss(Loss):
    """Connectionist Temporal Classification loss (per sample negative log-likelihood).

    Parameters
    ----------
    layout : {'NTC', 'TNC'}, default 'NTC'
        Layout of ``pred``; the last class (index C-1) is the blank.
    label_layout : {'NT', 'TN'}, default 'NT'
    weight : float or None

    Call: ``loss(pred, label, pred_lengths=None, label_lengths=None, sample_weight=None)``.
    ``label`` holds class indices in [0, C-2] padded with -1 (or give ``label_lengths``);
    ``pred_lengths`` gives each sequence's number of valid steps. Returns shape (N,).
    """

    def __init__(self, layout="NTC", label_layout="NT", weight=None, **kwargs):
        if layout not in ("NTC", "TNC"):
            raise HybridnetValueError(f"CTCLoss: layout must be 'NTC' or 'TNC', got {layout!r}")
        if label_layout not in ("NT", "TN"):
            raise HybridnetValueError(f"CTCLoss: label_layout must be 'NT' or 'TN', got "
                                      f"{label_layout!r}")
        super().__init__(weight, label_layout.find("N"), **kwargs)
        self._layout, self._label_layout = layout, label_layout

    def forward(self, pred, label, pred_lengths=None, label_lengths=None, sample_weight=None):
        from ._ctc import ctc_loss
        if pred.ndim != 3:
            raise ShapeError(f"CTCLoss: pred must be 3-D in layout {self._layout}, got shape "
                             f"{tuple(pred.shape)}")
        if self._layout == "NTC":
            pred = nd.swapaxes(pred, 0, 1)
        label = _as_nd(label, pred)
        if self._batch_axis == 1:
            label = nd.swapaxes(label, 0, 1)
        if label.ndim != 2 or label.shape[0] != pred.shape[1]:
            raise ShapeError(f"CTCLoss: label must be (batch, label_length) in layout "
                             f"{self._label_layout} for a batch of {pred.shape[1]}, got shape "
                             f"{tuple(label.shape)}")
        loss = ctc_loss(pred, label, pred_lengths, label_lengths)
        return self._weighting(loss, sample_weight)
