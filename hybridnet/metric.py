"""Evaluation metrics (``hybridnet.metric``), following MXNet 1.x ``mxnet.metric``.

    acc = hybridnet.metric.Accuracy()
    acc.update(labels=label, preds=output)    # NDArrays, NumPy arrays or lists of them
    name, value = acc.get()

Each metric accumulates ``sum_metric`` and ``num_inst`` (and global copies that
``reset_local`` keeps); ``get()`` returns ``(name, sum_metric / num_inst)``, NaN
before the first update.
"""
import math
from collections import OrderedDict

import numpy

from .base import HybridnetValueError, ShapeError
from .ndarray.ndarray import NDArray

__all__ = ["EvalMetric", "CompositeEvalMetric", "Accuracy", "TopKAccuracy", "F1", "MCC", "MAE",
           "MSE", "RMSE", "CrossEntropy", "NegativeLogLikelihood", "Perplexity",
           "PearsonCorrelation", "Loss", "Torch", "Caffe", "CustomMetric", "np", "create",
           "register", "alias", "check_label_shapes"]

_REGISTRY = {}


def register(klass):
    """Class decorator: make ``klass`` creatable by its lower-cased name."""
    _REGISTRY[klass.__name__.lower()] = klass
    return klass


def alias(*names):
    """Class decorator: extra names for ``create``."""
    def deco(klass):
        for n in names:
            _REGISTRY[n.lower()] = klass
        return klass
    return deco


def create(metric, *args, **kwargs):
    """A metric from a name (``'acc'``), an instance, a class, a function
    ``f(label, pred)`` (-> :class:`CustomMetric`) or a list of these (-> composite)."""
    if isinstance(metric, EvalMetric):
        return metric
    if isinstance(metric, type) and issubclass(metric, EvalMetric):
        return metric(*args, **kwargs)
    if callable(metric):
        return CustomMetric(metric, *args, **kwargs)
    if isinstance(metric, (list, tuple)):
        composite = CompositeEvalMetric()
        for child in metric:
            composite.add(create(child, *args, **kwargs))
        return composite
    if not isinstance(metric, str):
        raise HybridnetValueError(f"metric.create: expected a metric name, EvalMetric, function "
                                  f"or list, got {type(metric).__name__}")
    klass = _REGISTRY.get(metric.lower())
    if klass is None:
        raise HybridnetValueError(f"unknown metric {metric!r}; valid names are "
                                  f"{sorted(_REGISTRY)}")
    return klass(*args, **kwargs)


def _np(x):
    if isinstance(x, NDArray):
        return x.asnumpy()
    return numpy.asarray(x)


def _as_list(x):
    if isinstance(x, (NDArray, numpy.ndarray)):
        return [x]
    if isinstance(x, (list, tuple)):
        return list(x)
    return [numpy.asarray(x)]


def check_label_shapes(labels, preds, wrap=False, shape=False, name="metric"):
    """Raise a ShapeError when the number (or, with ``shape``, the shapes) of labels and
    predictions differ; with ``wrap``, return both as lists."""
    if shape:
        ls, ps = tuple(numpy.shape(labels)), tuple(numpy.shape(preds))
        if ls != ps:
            raise ShapeError(f"{name}: label shape {ls} does not match prediction shape {ps}")
    else:
        ls, ps = len(labels), len(preds)
        if ls != ps:
            raise ShapeError(f"{name}: got {ls} labels but {ps} predictions; pass one "
                             "prediction per label")
    if wrap:
        return _as_list(labels), _as_list(preds)
    return labels, preds


class EvalMetric:
    """Base class of metrics.

    Parameters
    ----------
    name : str
        Shown by ``get()``.
    output_names, label_names : list of str, optional
        Which outputs / labels ``update_dict`` uses (all by default).
    """

    def __init__(self, name, output_names=None, label_names=None, **kwargs):
        self.name = str(name)
        self.output_names = output_names
        self.label_names = label_names
        self._has_global_stats = kwargs.pop("has_global_stats", False)
        self._kwargs = kwargs
        self.reset()

    def __str__(self):
        return f"EvalMetric: {dict(self.get_name_value())}"

    def get_config(self):
        """Constructor arguments as a dict (``create(**config)`` rebuilds it)."""
        config = self._kwargs.copy()
        config.update({"metric": self.__class__.__name__, "name": self.name,
                       "output_names": self.output_names, "label_names": self.label_names})
        return config

    def _pairs(self, labels, preds):
        labels, preds = _as_list(labels), _as_list(preds)
        if len(labels) != len(preds):
            raise ShapeError(f"{self.name}: got {len(labels)} label arrays but {len(preds)} "
                             "prediction arrays; pass one prediction per label")
        return [(_np(lab), _np(p)) for lab, p in zip(labels, preds)]

    def _add(self, value, num):
        self.sum_metric += value
        self.global_sum_metric += value
        self.num_inst += num
        self.global_num_inst += num

    def update_dict(self, label, pred):
        """Update from dicts name -> array, selecting ``label_names`` / ``output_names``."""
        pred = ([pred[n] for n in self.output_names] if self.output_names is not None
                else list(pred.values()))
        label = ([label[n] for n in self.label_names] if self.label_names is not None
                 else list(label.values()))
        self.update(label, pred)

    def update(self, labels, preds):
        """Accumulate the metric over a batch of ``labels`` and ``preds``."""
        raise NotImplementedError(f"{type(self).__name__} must override update(labels, preds)")

    def reset(self):
        """Clear local and global statistics."""
        self.num_inst = 0
        self.sum_metric = 0.0
        self.global_num_inst = 0
        self.global_sum_metric = 0.0

    def reset_local(self):
        """Clear the local statistics only."""
        self.num_inst = 0
        self.sum_metric = 0.0

    def get(self):
        """``(name, value)``; value is NaN before any update."""
        if self.num_inst == 0:
            return (self.name, float("nan"))
        return (self.name, self.sum_metric / self.num_inst)

    def get_global(self):
        if not self._has_global_stats:
            return self.get()
        if self.global_num_inst == 0:
            return (self.name, float("nan"))
        return (self.name, self.global_sum_metric / self.global_num_inst)

    def get_name_value(self):
        """``[(name, value), ...]``."""
        name, value = self.get()
        return list(zip(name if isinstance(name, list) else [name],
                        value if isinstance(value, list) else [value]))

    def get_global_name_value(self):
        name, value = self.get_global()
        return list(zip(name if isinstance(name, list) else [name],
                        value if isinstance(value, list) else [value]))


@register
@alias("composite")
class CompositeEvalMetric(EvalMetric):
    """Several metrics updated together; ``get()`` returns lists of names and values."""

    def __init__(self, metrics=None, name="composite", output_names=None, label_names=None):
        super().__init__(name, output_names=output_names, label_names=label_names,
                         has_global_stats=True)
        self.metrics = [create(m) for m in (metrics or [])]

    def add(self, metric):
        self.metrics.append(create(metric))

    def get_metric(self, index):
        if not -len(self.metrics) <= index < len(self.metrics):
            raise HybridnetValueError(f"CompositeEvalMetric: metric index {index} is out of "
                                      f"range [0, {len(self.metrics)})")
        return self.metrics[index]

    def update_dict(self, labels, preds):
        if self.label_names is not None:
            labels = OrderedDict([i for i in labels.items() if i[0] in self.label_names])
        if self.output_names is not None:
            preds = OrderedDict([i for i in preds.items() if i[0] in self.output_names])
        for metric in self.metrics:
            metric.update_dict(labels, preds)

    def update(self, labels, preds):
        for metric in self.metrics:
            metric.update(labels, preds)

    def reset(self):
        for metric in getattr(self, "metrics", []):
            metric.reset()

    def reset_local(self):
        for metric in self.metrics:
            metric.reset_local()

    def _collect(self, getter):
        names, values = [], []
        for metric in self.metrics:
            name, value = getter(metric)
            names.extend(name if isinstance(name, list) else [name])
            values.extend(value if isinstance(value, list) else [value])
        return (names, values)

    def get(self):
        return self._collect(lambda m: m.get())

    def get_global(self):
        return self._collect(lambda m: m.get_global())

    def get_config(self):
        config = super().get_config()
        config.update({"metrics": [m.get_config() for m in self.metrics]})
        return config


# ---- classification -------------------------------------------------------------------
@register
@alias("acc")
class Accuracy(EvalMetric):
    """Fraction of correct predictions. ``preds`` are class scores (argmax over ``axis``
    is taken when their shape differs from the labels') or already class indices."""

    def __init__(self, axis=1, name="accuracy", output_names=None, label_names=None):
        super().__init__(name, axis=axis, output_names=output_names, label_names=label_names,
                         has_global_stats=True)
        self.axis = axis

    def update(self, labels, preds):
        for label, pred in self._pairs(labels, preds):
            if pred.shape != label.shape:
                if pred.ndim == 0 or not -pred.ndim <= self.axis < pred.ndim:
                    raise ShapeError(f"{self.name}: cannot take argmax over axis {self.axis} of "
                                     f"predictions with shape {pred.shape} (labels {label.shape})")
                pred = numpy.argmax(pred, axis=self.axis)
            pred = pred.astype("int32").ravel()
            label = label.astype("int32").ravel()
            if pred.size != label.size:
                raise ShapeError(f"{self.name}: {label.size} labels but {pred.size} predicted "
                                 f"classes (label shape {label.shape}, prediction shape "
                                 f"{pred.shape} after argmax over axis {self.axis})")
            self._add(int((pred == label).sum()), pred.size)


@register
@alias("top_k_accuracy", "top_k_acc")
class TopKAccuracy(EvalMetric):
    """Fraction of samples whose label is among the ``top_k`` highest-scored classes."""

    def __init__(self, top_k=1, name="top_k_accuracy", output_names=None, label_names=None):
        super().__init__(name, top_k=top_k, output_names=output_names, label_names=label_names,
                         has_global_stats=True)
        if top_k <= 1:
            raise HybridnetValueError(f"TopKAccuracy: top_k must be > 1, got {top_k}; use "
                                      "Accuracy for top-1")
        self.top_k = top_k
        self.name += f"_{top_k}"

    def update(self, labels, preds):
        for label, pred in self._pairs(labels, preds):
            if pred.ndim > 2:
                raise ShapeError(f"{self.name}: predictions must be (batch, classes), got "
                                 f"shape {pred.shape}")
            label = label.astype("int32").ravel()
            if pred.shape[0] != label.size:
                raise ShapeError(f"{self.name}: {label.size} labels but {pred.shape[0]} "
                                 f"prediction rows (shape {pred.shape})")
            if pred.ndim == 1:
                correct = (pred.astype("int32") == label).sum()
            else:
                k = min(self.top_k, pred.shape[1])
                top = numpy.argsort(pred.astype("float32"), axis=1, kind="stable")[:, -k:]
                correct = (top == label[:, None]).any(axis=1).sum()
            self._add(int(correct), pred.shape[0])


class _BinaryStats:
    """Confusion counts of a binary classifier (local and global)."""

    def __init__(self):
        self.reset_stats()

    def reset_stats(self):
        self.local_reset_stats()
        self.global_tp = self.global_fp = self.global_fn = self.global_tn = 0

    def local_reset_stats(self):
        self.tp = self.fp = self.fn = self.tn = 0

    def update(self, name, label, pred):
        label = label.astype("int32").ravel()
        if pred.ndim != 2 or pred.shape[0] != label.size:
            raise ShapeError(f"{name}: predictions must be (batch, 2) class scores with one row "
                             f"per label; got shape {pred.shape} for {label.size} labels")
        if len(numpy.unique(label)) > 2:
            raise HybridnetValueError(f"{name} currently only supports binary classification; "
                                      f"labels contain {sorted(numpy.unique(label).tolist())}")
        pt, lt = numpy.argmax(pred, axis=1) == 1, label == 1
        counts = (int((pt & lt).sum()), int((pt & ~lt).sum()), int((~pt & lt).sum()),
                  int((~pt & ~lt).sum()))
        self.tp, self.fp, self.fn, self.tn = (a + b for a, b in
                                              zip((self.tp, self.fp, self.fn, self.tn), counts))
        self.global_tp, self.global_fp, self.global_fn, self.global_tn = (
            a + b for a, b in zip((self.global_tp, self.global_fp, self.global_fn,
                                   self.global_tn), counts))

    @staticmethod
    def fscore(tp, fp, fn, tn):
        precision = tp / (tp + fp) if tp + fp > 0 else 0.0
        recall = tp / (tp + fn) if tp + fn > 0 else 0.0
        if precision + recall > 0:
            return 2 * precision * recall / (precision + recall)
        return 0.0

    @staticmethod
    def mcc(tp, fp, fn, tn):
        if tp + fp + fn + tn == 0:
            return 0.0
        denom = 1.0
        for t in (tp + fp, tp + fn, tn + fp, tn + fn):
            if t != 0:
                denom *= t
        return (tp * tn - fp * fn) / math.sqrt(denom)

    def local(self):
        return self.tp, self.fp, self.fn, self.tn

    def glob(self):
        return self.global_tp, self.global_fp, self.global_fn, self.global_tn


class _BinaryMetric(EvalMetric):
    _score = None

    def __init__(self, name, output_names=None, label_names=None, average="macro"):
        if average not in ("macro", "micro"):
            raise HybridnetValueError(f"{type(self).__name__}: average must be 'macro' or "
                                      f"'micro', got {average!r}")
        self.average = average
        self.metrics = _BinaryStats()
        super().__init__(name, output_names=output_names, label_names=label_names,
                         has_global_stats=True)

    def update(self, labels, preds):
        for label, pred in self._pairs(labels, preds):
            self.metrics.update(self.name, label, pred)
        score = type(self)._score
        if self.average == "macro":
            self.sum_metric += score(*self.metrics.local())
            self.global_sum_metric += score(*self.metrics.glob())
            self.num_inst += 1
            self.global_num_inst += 1
            self.metrics.local_reset_stats()  # macro: one score per batch
        else:
            n, gn = sum(self.metrics.local()), sum(self.metrics.glob())
            self.sum_metric, self.num_inst = score(*self.metrics.local()) * n, n
            self.global_sum_metric, self.global_num_inst = score(*self.metrics.glob()) * gn, gn

    def reset(self):
        super().reset()
        if hasattr(self, "metrics"):
            self.metrics.reset_stats()

    def reset_local(self):
        super().reset_local()
        self.metrics.local_reset_stats()


@register
class F1(_BinaryMetric):
    """F1 score of a binary classifier (preds are (batch, 2) scores).

    ``average='macro'`` averages per-batch scores; ``'micro'`` scores all batches together.
    """
    _score = staticmethod(_BinaryStats.fscore)

    def __init__(self, name="f1", output_names=None, label_names=None, average="macro"):
        super().__init__(name, output_names, label_names, average)


@register
class MCC(_BinaryMetric):
    """Matthews correlation coefficient of a binary classifier."""
    _score = staticmethod(_BinaryStats.mcc)

    def __init__(self, name="mcc", output_names=None, label_names=None, average="macro"):
        super().__init__(name, output_names, label_names, average)


from ._metric_regression import (MAE, MSE, RMSE, Caffe, CrossEntropy, CustomMetric, Loss,  # noqa
                                 NegativeLogLikelihood, PearsonCorrelation, Perplexity, Torch,
                                 np)
