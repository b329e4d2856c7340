"""Regression, probability and custom metrics of ``hybridnet.metric`` (see metric.py)."""
import math

import numpy

from .base import HybridnetValueError, ShapeError
from .metric import EvalMetric, _as_list, _np, alias, check_label_shapes, register


def _same_size(name, label, pred):
    """Labels and predictions as arrays of the prediction's shape (1-D -> column)."""
    if label.size != pred.size:
        raise ShapeError(f"{name}: label shape {label.shape} does not match prediction shape "
                         f"{pred.shape}")
    if pred.ndim == 1:
        pred = pred.reshape(-1, 1)
    return label.reshape(pred.shape), pred


class _Regression(EvalMetric):
    def __init__(self, name, output_names=None, label_names=None):
        super().__init__(name, output_names=output_names, label_names=label_names,
                         has_global_stats=True)

    def update(self, labels, preds):
        for label, pred in self._pairs(labels, preds):
            label, pred = _same_size(self.name, label, pred)
            self._add(float(self._batch(label.astype(numpy.float64) - pred)), 1)


@register
class MAE(_Regression):
    """Mean absolute error, averaged over batches (each batch counts once, as in MXNet)."""

    def __init__(self, name="mae", output_names=None, label_names=None):
        super().__init__(name, output_names, label_names)

    @staticmethod
    def _batch(diff):
        return numpy.abs(diff).mean()


@register
class MSE(_Regression):
    """Mean squared error, averaged over batches."""

    def __init__(self, name="mse", output_names=None, label_names=None):
        super().__init__(name, output_names, label_names)

    @staticmethod
    def _batch(diff):
        return (diff ** 2.0).mean()


@register
class RMSE(_Regression):
    """Root mean squared error of each batch, averaged over batches."""

    def __init__(self, name="rmse", output_names=None, label_names=None):
        super().__init__(name, output_names, label_names)

    @staticmethod
    def _batch(diff):
        return numpy.sqrt((diff ** 2.0).mean())


def _picked(name, label, pred):
    """``pred[i, label[i]]`` for (batch, classes) predictions."""
    label = label.ravel()
    if pred.ndim != 2 or pred.shape[0] != label.shape[0]:
        raise ShapeError(f"{name}: predictions must be (batch, classes) with one row per label; "
                         f"got shape {pred.shape} for {label.shape[0]} labels")
    idx = label.astype(numpy.int64)
    if idx.size and (idx.min() < 0 or idx.max() >= pred.shape[1]):
        raise HybridnetValueError(f"{name}: labels must be class indices in [0, "
                                  f"{pred.shape[1]}), got values {idx.min()}..{idx.max()}")
    return pred[numpy.arange(label.shape[0]), idx]


@register
@alias("ce")
class CrossEntropy(EvalMetric):
    """Mean of ``-log(p[label] + eps)`` over samples; preds are probabilities."""

    def __init__(self, eps=1e-12, name="cross-entropy", output_names=None, label_names=None):
        super().__init__(name, eps=eps, output_names=output_names, label_names=label_names,
                         has_global_stats=True)
        self.eps = eps

    def update(self, labels, preds):
        for label, pred in self._pairs(labels, preds):
            prob = _picked(self.name, label, pred)
            self._add(float((-numpy.log(prob + self.eps)).sum()), prob.shape[0])


@register
@alias("nll_loss")
class NegativeLogLikelihood(CrossEntropy):
    """Negative log-likelihood; the same formula as CrossEntropy, named 'nll-loss'."""

    def __init__(self, eps=1e-12, name="nll-loss", output_names=None, label_names=None):
        super().__init__(eps, name, output_names, label_names)


@register
class Perplexity(EvalMetric):
    """``exp(-mean(log p[label]))`` over all non-ignored tokens.

    Parameters
    ----------
    ignore_label : int or None
        Label value to skip (e.g. padding).
    axis : int, default -1
        The class axis of the predictions.
    """

    def __init__(self, ignore_label=None, axis=-1, name="perplexity", output_names=None,
                 label_names=None):
        super().__init__(name, ignore_label=ignore_label, output_names=output_names,
                         label_names=label_names, has_global_stats=True)
        self.ignore_label = ignore_label
        self.axis = axis

    def update(self, labels, preds):
        loss, num = 0.0, 0
        for label, pred in self._pairs(labels, preds):
            pred = numpy.moveaxis(pred, self.axis, -1)
            if label.size * pred.shape[-1] != pred.size:
                raise ShapeError(f"{self.name}: label shape {label.shape} does not match "
                                 f"prediction shape {pred.shape} (one label per prediction row "
                                 "along the class axis)")
            label = label.ravel()
            prob = _picked(self.name, label, pred.reshape(-1, pred.shape[-1]))
            if self.ignore_label is not None:
                ignore = (label == self.ignore_label).astype(prob.dtype)
                num -= int(ignore.sum())
                prob = prob * (1 - ignore) + ignore
            loss -= float(numpy.log(numpy.maximum(1e-10, prob)).sum())
            num += prob.size
        self._add(loss, num)

    def get(self):
        if self.num_inst == 0:
            return (self.name, float("nan"))
        return (self.name, math.exp(self.sum_metric / self.num_inst))

    def get_global(self):
        if self.global_num_inst == 0:
            return (self.name, float("nan"))
        return (self.name, math.exp(self.global_sum_metric / self.global_num_inst))


@register
@alias("pearsonr")
class PearsonCorrelation(EvalMetric):
    """Pearson correlation of predictions and labels; ``average='macro'`` averages per-batch
    coefficients, ``'micro'`` computes one coefficient over everything seen."""

    def __init__(self, name="pearsonr", output_names=None, label_names=None, average="macro"):
        if average not in ("macro", "micro"):
            raise HybridnetValueError(f"PearsonCorrelation: average must be 'macro' or 'micro', "
                                      f"got {average!r}")
        self.average = average
        super().__init__(name, output_names=output_names, label_names=label_names,
                         has_global_stats=True)

    def reset(self):
        super().reset()
        self._n, self._sum_l, self._sum_p = 0, 0.0, 0.0
        self._sum_ll, self._sum_pp, self._sum_lp = 0.0, 0.0, 0.0

    def update(self, labels, preds):
        for label, pred in self._pairs(labels, preds):
            check_label_shapes(label, pred, shape=True, name=self.name)
            label = label.ravel().astype(numpy.float64)
            pred = pred.ravel().astype(numpy.float64)
            if self.average == "macro":
                self._add(float(numpy.corrcoef(pred, label)[0, 1]), 1)
            else:
                self._add(0.0, 1)
                self._n += label.size
                self._sum_l += label.sum()
                self._sum_p += pred.sum()
                self._sum_ll += (label * label).sum()
                self._sum_pp += (pred * pred).sum()
                self._sum_lp += (label * pred).sum()

    def get(self):
        if self.num_inst == 0:
            return (self.name, float("nan"))
        if self.average == "macro":
            return (self.name, self.sum_metric / self.num_inst)
        n = self._n
        cov = self._sum_lp - self._sum_l * self._sum_p / n
        var_l = self._sum_ll - self._sum_l ** 2 / n
        var_p = self._sum_pp - self._sum_p ** 2 / n
        return (self.name, cov / math.sqrt(var_l * var_p))


@register
class Loss(EvalMetric):
    """Mean of loss values: ``update(_, losses)`` adds their sum and their count."""

    def __init__(self, name="loss", output_names=None, label_names=None):
        super().__init__(name, output_names=output_names, label_names=label_names,
                         has_global_stats=True)

    def update(self, _, preds):
        for pred in _as_list(preds):
            pred = _np(pred)
            self._add(float(pred.sum()), pred.size)


@register
class Torch(Loss):
    """Dummy metric for torch criterions (a Loss named 'torch')."""

    def __init__(self, name="torch", output_names=None, label_names=None):
        super().__init__(name, output_names, label_names)


@register
class Caffe(Loss):
    """Dummy metric for caffe criterions (a Loss named 'caffe')."""

    def __init__(self, name="caffe", output_names=None, label_names=None):
        super().__init__(name, output_names, label_names)


@register
class CustomMetric(EvalMetric):
    """A metric from ``feval(label, pred)`` on NumPy arrays, returning a value (counted
    once) or a tuple ``(sum_metric, num_inst)``.

    Parameters
    ----------
    feval : callable
    name : str, optional
        Defaults to the function's name.
    allow_extra_outputs : bool, default False
        Allow more predictions than labels (extra ones are ignored).
    """

    def __init__(self, feval, name=None, allow_extra_outputs=False, output_names=None,
                 label_names=None):
        if not callable(feval):
            raise HybridnetValueError(f"CustomMetric: feval must be callable, got {feval!r}")
        if name is None:
            name = getattr(feval, "__name__", "custom")
            if "<" in name:
                name = f"custom({name})"
        super().__init__(name, feval=feval, allow_extra_outputs=allow_extra_outputs,
                         output_names=output_names, label_names=label_names,
                         has_global_stats=True)
        self._feval = feval
        self._allow_extra_outputs = allow_extra_outputs

    def update(self, labels, preds):
        if self._allow_extra_outputs:
            pairs = [(_np(lab), _np(p)) for lab, p in zip(_as_list(labels), _as_list(preds))]
        else:
            pairs = self._pairs(labels, preds)
        for label, pred in pairs:
            reval = self._feval(label, pred)
            if isinstance(reval, tuple):
                self._add(reval[0], reval[1])
            else:
                self._add(reval, 1)

    def get_config(self):
        raise HybridnetValueError("CustomMetric cannot be serialized (it wraps a Python "
                                  "function); recreate it with metric.create(feval)")


def np(numpy_feval, name=None, allow_extra_outputs=False):
    """A :class:`CustomMetric` from a function of NumPy ``(label, pred)``."""
    def feval(label, pred):
        return numpy_feval(label, pred)
    feval.__name__ = numpy_feval.__name__
    return CustomMetric(feval, name, allow_extra_outputs)
