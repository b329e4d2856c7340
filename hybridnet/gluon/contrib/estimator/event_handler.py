"""Event handlers of the Estimator (MXNet 1.x ``gluon.contrib.estimator`` semantics).

A handler is any object deriving from one or more of the six hook classes
(:class:`TrainBegin`, :class:`EpochBegin`, :class:`BatchBegin`, :class:`BatchEnd`,
:class:`EpochEnd`, :class:`TrainEnd`). ``fit`` calls, in this order::

    train_begin
    for each epoch:
        epoch_begin
        for each batch: batch_begin, (forward + backward), batch_end
        epoch_end
    train_end

Within one event, handlers run in ascending ``priority`` (default 0):
GradientUpdateHandler -2000, ProgressBarHandler -1500, MetricHandler and
ValidationHandler -1000, user handlers 0, LoggingHandler last (+inf). A ``batch_end``
or ``epoch_end`` returning True stops training (after the current batch / epoch).
"""
import time

from ....base import HybridnetValueError
from ....metric import Loss as MetricLoss
from .utils import _check_metrics

__all__ = ["EventHandler", "TrainBegin", "TrainEnd", "EpochBegin", "EpochEnd", "BatchBegin",
           "BatchEnd", "StoppingHandler", "MetricHandler", "ValidationHandler",
           "LoggingHandler", "GradientUpdateHandler"]


class EventHandler:
    """Base of every handler (the hook classes below derive from it)."""


def _check_event_handlers(handlers):
    if isinstance(handlers, EventHandler):
        return [handlers]
    handlers = list(handlers or [])
    bad = [h for h in handlers if not isinstance(h, EventHandler)]
    if bad:
        raise HybridnetValueError(
            f"Estimator: event_handlers must be an EventHandler or a list of them, got "
            f"{bad[0]!r}; derive your handler from TrainBegin/EpochBegin/BatchBegin/"
            "BatchEnd/EpochEnd/TrainEnd")
    return handlers


class TrainBegin(EventHandler):
    def train_begin(self, estimator, *args, **kwargs):
        pass


class TrainEnd(EventHandler):
    def train_end(self, estimator, *args, **kwargs):
        pass


class EpochBegin(EventHandler):
    def epoch_begin(self, estimator, *args, **kwargs):
        pass


class EpochEnd(EventHandler):
    def epoch_end(self, estimator, *args, **kwargs):
        """Return True to stop training."""
        return False


class BatchBegin(EventHandler):
    def batch_begin(self, estimator, *args, **kwargs):
        pass


class BatchEnd(EventHandler):
    def batch_end(self, estimator, *args, **kwargs):
        """Called with ``batch``, ``pred``, ``label``, ``loss``; return True to stop."""
        return False


class StoppingHandler(TrainBegin, BatchEnd, EpochEnd):
    """Stop after ``max_epoch`` epochs or ``max_batch`` batches (always added by ``fit``)."""

    def __init__(self, max_epoch=None, max_batch=None):
        self.max_epoch, self.max_batch = max_epoch, max_batch
        self.current_batch = self.current_epoch = 0
        self.stop_training = False

    def train_begin(self, estimator, *args, **kwargs):
        self.max_epoch, self.max_batch = estimator.max_epoch, estimator.max_batch
        self.current_batch = self.current_epoch = 0
        self.stop_training = False

    def batch_end(self, estimator, *args, **kwargs):
        self.current_batch += 1
        if self.current_batch == self.max_batch:
            self.stop_training = True
        return self.stop_training

    def epoch_end(self, estimator, *args, **kwargs):
        self.current_epoch += 1
        if self.current_epoch == self.max_epoch:
            self.stop_training = True
        return self.stop_training


class MetricHandler(EpochBegin, BatchEnd):
    """Reset ``metrics`` at epoch begin; update them with each batch's labels and
    predictions (a ``metric.Loss`` gets the loss values instead)."""

    def __init__(self, metrics, priority=-1000):
        self.metrics = _check_metrics(metrics)
        self.priority = priority    # before anyone who reads the metrics

    def epoch_begin(self, estimator, *args, **kwargs):
        for metric in self.metrics:
            metric.reset()

    def batch_end(self, estimator, *args, **kwargs):
        pred, label, loss = kwargs["pred"], kwargs["label"], kwargs["loss"]
        for metric in self.metrics:
            if isinstance(metric, MetricLoss):
                metric.update(0, loss)
            else:
                metric.update(label, pred)


class GradientUpdateHandler(BatchEnd):
    """``trainer.step(batch_size)`` after each batch's backward (batch size = the
    number of loss values, summed over devices)."""

    def __init__(self, priority=-2000):
        self.priority = priority    # parameters update before metrics/validation read them

    def batch_end(self, estimator, *args, **kwargs):
        loss = kwargs["loss"]
        loss = loss if isinstance(loss, (list, tuple)) else [loss]
        estimator.trainer.step(sum(l.shape[0] for l in loss))


class ValidationHandler(TrainBegin, BatchEnd, EpochEnd):
    """Run ``eval_fn(val_data=..., batch_axis=..., event_handlers=...)`` every
    ``epoch_period`` epochs and/or every ``batch_period`` batches."""

    def __init__(self, val_data, eval_fn, epoch_period=1, batch_period=None, priority=-1000,
                 event_handlers=None):
        self.val_data, self.eval_fn = val_data, eval_fn
        self.epoch_period, self.batch_period = epoch_period, batch_period
        self.current_batch = self.current_epoch = 0
        self.priority = priority    # validation metrics ready before other epoch_end hooks
        self.event_handlers = event_handlers

    def train_begin(self, estimator, *args, **kwargs):
        self.current_batch = self.current_epoch = 0

    def batch_end(self, estimator, *args, **kwargs):
        self.current_batch += 1
        if self.batch_period and self.current_batch % self.batch_period == 0:
            self.eval_fn(val_data=self.val_data, batch_axis=estimator.batch_axis,
                         event_handlers=self.event_handlers)

    def epoch_end(self, estimator, *args, **kwargs):
        self.current_epoch += 1
        if self.epoch_period and self.current_epoch % self.epoch_period == 0:
            self.eval_fn(val_data=self.val_data, batch_axis=estimator.batch_axis,
                         event_handlers=self.event_handlers)


class LoggingHandler(TrainBegin, TrainEnd, EpochBegin, EpochEnd, BatchBegin, BatchEnd):
    """Log the optimizer, epoch times and ``metrics`` through ``estimator.logger``.

    Parameters
    ----------
    log_interval : 'epoch' or int, default 'epoch'
        Log at every epoch end, or also every ``log_interval`` batches.
    metrics : list of EvalMetric
        The metrics to print (the estimator's training or validation metrics).
    priority : float, default inf
        Runs after every other handler, so it prints up-to-date values.
    """

    def __init__(self, log_interval="epoch", metrics=None, priority=float("inf")):
        if not (isinstance(log_interval, int) and not isinstance(log_interval, bool)
                and log_interval > 0) and log_interval != "epoch":
            raise HybridnetValueError(f"LoggingHandler: log_interval must be a positive int or "
                                      f"'epoch', got {log_interval!r}")
        self.metrics = _check_metrics(metrics)
        self.log_interval, self.priority = log_interval, priority
        self.batch_index = self.current_epoch = self.processed_samples = 0
        self.log_interval_time = 0.0
        self.train_start = self.epoch_start = self.batch_start = time.time()

    def _metric_text(self):
        return ", ".join(f"{n}: {v:.4f}" for n, v in (m.get() for m in self.metrics))

    def train_begin(self, estimator, *args, **kwargs):
        self.train_start = time.time()
        trainer = estimator.trainer
        estimator.logger.info("Training begin: using optimizer %s with current learning "
                              "rate %.4f", type(trainer.optimizer).__name__,
                              trainer.learning_rate)
        if estimator.max_epoch:
            estimator.logger.info("Train for %d epochs.", estimator.max_epoch)
        else:
            estimator.logger.info("Train for %d batches.", estimator.max_batch)
        self.current_epoch = self.batch_index = self.processed_samples = 0
        self.log_interval_time = 0.0

    def train_end(self, estimator, *args, **kwargs):
        msg = (f"Train finished using total {time.time() - self.train_start:.0f}s with "
               f"{self.current_epoch} epochs. ")
        estimator.logger.info((msg + self._metric_text()).rstrip(", "))

    def batch_begin(self, estimator, *args, **kwargs):
        if isinstance(self.log_interval, int):
            self.batch_start = time.time()

    def batch_end(self, estimator, *args, **kwargs):
        if isinstance(self.log_interval, int):
            self.log_interval_time += time.time() - self.batch_start
            self.processed_samples += kwargs["batch"][0].shape[0]
            if self.batch_index % self.log_interval == 0:
                estimator.logger.info(
                    "[Epoch %d][Batch %d][Samples %d] time/interval: %.3fs %s",
                    self.current_epoch, self.batch_index, self.processed_samples,
                    self.log_interval_time, self._metric_text())
                self.log_interval_time = 0.0
        self.batch_index += 1

    def _training(self):
        # the estimator prefixes its metric names with 'training ' / 'validation '
        return any(m.name.startswith("training") for m in self.metrics)

    def epoch_begin(self, estimator, *args, **kwargs):
        self.epoch_start = time.time()
        if self._training():
            estimator.logger.info("[Epoch %d] Begin, current learning rate: %.4f",
                                  self.current_epoch, estimator.trainer.learning_rate)
        else:
            estimator.logger.info("Validation Begin")

    def epoch_end(self, estimator, *args, **kwargs):
        took = time.time() - self.epoch_start
        if self._training():
            msg = f"[Epoch {self.current_epoch}] Finished in {took:.3f}s, "
        else:
            msg = f"[Validation] Finished in {took:.3f}s, "
        estimator.logger.info((msg + self._metric_text()).rstrip(", "))
        self.current_epoch += 1
        self.batch_index = 0
