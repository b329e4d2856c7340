"""Argument checks shared by the Estimator and its handlers (MXNet 1.x semantics)."""
from ....base import HybridnetValueError
from ....metric import Accuracy, CompositeEvalMetric, EvalMetric


def _check_metrics(metrics):
    """None, one metric, a composite or a list of metrics -> a flat list of metrics."""
    if isinstance(metrics, CompositeEvalMetric):
        return [m for child in metrics.metrics for m in _check_metrics(child)]
    if isinstance(metrics, EvalMetric):
        return [metrics]
    metrics = list(metrics or [])
    bad = [m for m in metrics if not isinstance(m, EvalMetric)]
    if bad:
        raise HybridnetValueError(
            f"Estimator: metrics must be an EvalMetric or a list of EvalMetric (e.g. "
            f"mx.metric.Accuracy()), got {bad[0]!r}; use mx.metric.create(name) for names")
    return metrics


def _suggest_metric_for_loss(loss):
    """Accuracy for a softmax cross-entropy loss (MXNet's only suggestion), else None."""
    from ...loss import SoftmaxCrossEntropyLoss
    if isinstance(loss, SoftmaxCrossEntropyLoss):
        return Accuracy()
    return None


def _check_handler_metric_ref(handler, known_metrics):
    """A handler's ``metrics`` / ``monitor`` must be the estimator's own metric objects:
    a copy would never be updated, and the handler would read stale or NaN values."""
    for attr in ("metrics", "monitor"):
        ref = getattr(handler, attr, None)
        if not ref:
            continue
        for metric in (ref if isinstance(ref, (list, tuple)) else [ref]):
            if not any(metric is k for k in known_metrics):
                raise HybridnetValueError(
                    f"{type(handler).__name__} refers to the metric {metric.name!r}, which is "
                    "not one of the estimator's metrics, so nothing would ever update it. "
                    "Use metrics from estimator.train_metrics and estimator.val_metrics "
                    "instead.")
