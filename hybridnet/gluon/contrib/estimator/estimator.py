"""The Estimator: Keras-style ``fit`` / ``evaluate`` for a Gluon net (MXNet 1.x semantics)."""
import copy
import logging
import sys
import warnings

from ....base import HybridnetError, HybridnetValueError
from ....context import Context, cpu, gpu, num_gpus
from ....metric import Loss as MetricLoss
from ...loss import Loss as GluonLoss
from ...trainer import Trainer
from .batch_processor import BatchProcessor
from .event_handler import (BatchBegin, BatchEnd, EpochBegin, EpochEnd, GradientUpdateHandler,
                            LoggingHandler, MetricHandler, StoppingHandler, TrainBegin, TrainEnd,
                            ValidationHandler, _check_event_handlers)
from .progress import ProgressBarHandler
from .utils import _check_handler_metric_ref, _check_metrics, _suggest_metric_for_loss

__all__ = ["Estimator"]


class Estimator:
    """Train and evaluate ``net`` with ``loss`` in one call: ``est.fit(train_data, epochs=3)``.

    Parameters
    ----------
    net : gluon.Block
        The model (initialized here with ``initializer`` if it is not yet).
    loss : gluon.loss.Loss
    train_metrics : EvalMetric or list of EvalMetric, optional
        Default: Accuracy for SoftmaxCrossEntropyLoss, plus a ``metric.Loss`` named after
        the loss. Names get a ``'training '`` prefix.
    val_metrics : EvalMetric or list of EvalMetric, optional
        Default: copies of the training metrics, prefixed ``'validation '``.
    initializer : Initializer, optional
        Used only when ``net`` is not initialized yet.
    trainer : gluon.Trainer, optional
        Default: SGD with learning rate 0.001 (with a warning), as in MXNet.
    context : Context or list of Context, optional
        Default ``gpu(0)`` when a GPU is present, else ``cpu()``.
    val_net, val_loss : optional
        A separate net / loss for validation (default: ``net`` / ``loss``).
    batch_processor : BatchProcessor, optional
        Supplies ``fit_batch`` and ``evaluate_batch``.

    Examples
    --------
    >>> est = Estimator(net, gluon.loss.SoftmaxCrossEntropyLoss(),
    ...                 train_metrics=mx.metric.Accuracy(), trainer=trainer)
    >>> est.fit(train_loader, val_data=test_loader, epochs=3)

    ``est.logger`` (a ``logging.Logger`` writing to stdout) receives every log line.
    """

    def __init__(self, net, loss, train_metrics=None, val_metrics=None, initializer=None,
                 trainer=None, context=None, val_net=None, val_loss=None,
                 batch_processor=None):
        self.net = net
        self.loss = self._check_loss(loss)
        self._train_metrics = _check_metrics(train_metrics)
        self._val_metrics = _check_metrics(val_metrics)
        self._add_default_training_metrics()
        self._add_validation_metrics()
        self.val_loss = self.loss if val_loss is None else self._check_loss(val_loss)
        self.val_net = self.net if val_net is None else val_net
        self.logger = logging.Logger(name="Estimator", level=logging.INFO)
        self.logger.addHandler(logging.StreamHandler(sys.stdout))
        self.context = self._check_context(context)
        self._initialize(initializer)
        self.trainer = self._check_trainer(trainer)
        self.batch_processor = self._check_batch_processor(batch_processor)
        self.max_epoch = self.max_batch = None
        self.batch_axis = 0
        self.train_data = None

    # ---- argument checks ----------------------------------------------------------------
    @staticmethod
    def _check_loss(loss):
        if not isinstance(loss, GluonLoss):
            raise HybridnetValueError(f"Estimator: loss must be a gluon.loss.Loss (e.g. "
                                      f"gluon.loss.SoftmaxCrossEntropyLoss()), got {loss!r}")
        return loss

    @staticmethod
    def _check_context(context):
        if not context:
            return [gpu(0)] if num_gpus() > 0 else [cpu()]
        if isinstance(context, Context):
            context = [context]
        if not (isinstance(context, (list, tuple)) and context
                and all(isinstance(c, Context) for c in context)):
            raise HybridnetValueError(f"Estimator: context must be a Context or a list of "
                                      f"them, e.g. mx.cpu(), got {context!r}")
        for c in context:
            if c.device_type == "gpu" and c.device_id >= num_gpus():
                raise HybridnetValueError(f"Estimator: {c} is not available ({num_gpus()} GPUs "
                                          "found); use mx.cpu()")
        return list(context)

    @staticmethod
    def _check_batch_processor(batch_processor):
        if batch_processor is None:
            return BatchProcessor()
        if not (callable(getattr(batch_processor, "fit_batch", None))
                and callable(getattr(batch_processor, "evaluate_batch", None))):
            raise HybridnetValueError("Estimator: a custom batch_processor must have "
                                      "fit_batch() and evaluate_batch() methods")
        return batch_processor

    def _is_initialized(self):
        for p in self.net.collect_params().values():
            try:
                p.list_ctx()
            except (HybridnetError, RuntimeError):
                return False
        return True

    def _initialize(self, initializer):
        if not self._is_initialized():
            # leaves already-initialized parameters alone (no force_reinit)
            with warnings.catch_warnings():
                warnings.filterwarnings("ignore", message=".*already initialized")
                self.net.initialize(init=initializer, ctx=self.context)
        elif initializer is not None:
            warnings.warn("Estimator: the net is already initialized, so initializer is "
                          "ignored; use net.initialize(init, force_reinit=True) to "
                          "re-initialize", stacklevel=3)

    def _check_trainer(self, trainer):
        if trainer is None:
            warnings.warn("Estimator: no trainer given, using SGD with learning rate 0.001",
                          stacklevel=3)
            return Trainer(self.net.collect_params(), "sgd", {"learning_rate": 0.001})
        if not isinstance(trainer, Trainer):
            raise HybridnetValueError(f"Estimator: trainer must be a gluon.Trainer, got "
                                      f"{trainer!r}")
        return trainer

    # ---- metrics ------------------------------------------------------------------------
    def _add_default_training_metrics(self):
        if not self._train_metrics:
            suggested = _suggest_metric_for_loss(self.loss)
            if suggested is not None:
                self._train_metrics = [suggested]
            self._train_metrics.append(MetricLoss(type(self.loss).__name__))
        for metric in self._train_metrics:
            metric.name = "training " + metric.name   # handlers tell train/val apart by name

    def _add_validation_metrics(self):
        if not self._val_metrics:
            self._val_metrics = [copy.deepcopy(m) for m in self._train_metrics]
        for metric in self._val_metrics:
            if "training" in metric.name:
                metric.name = metric.name.replace("training", "validation")
            else:
                metric.name = "validation " + metric.name

    @property
    def train_metrics(self):
        return self._train_metrics

    @property
    def val_metrics(self):
        return self._val_metrics

    # ---- one batch ----------------------------------------------------------------------
    def fit_batch(self, train_batch, batch_axis=0):
        """Forward + backward on one batch; returns ``(data, label, pred, loss)``."""
        return self.batch_processor.fit_batch(self, train_batch, batch_axis)

    def evaluate_batch(self, val_batch, batch_axis=0):
        """Forward on one validation batch; returns ``(data, label, pred, loss)``."""
        return self.batch_processor.evaluate_batch(self, val_batch, batch_axis)

    # ---- evaluate / fit -----------------------------------------------------------------
    @staticmethod
    def _check_data(data, what):
        if not hasattr(data, "__iter__") and not hasattr(data, "__getitem__"):
            raise HybridnetValueError(f"Estimator: {what} must be an iterable of (data, label) "
                                      f"batches such as a gluon.data.DataLoader, got {data!r}")

    def evaluate(self, val_data, batch_axis=0, event_handlers=None):
        """Run ``val_data`` through ``val_net`` and update ``val_metrics``.

        A MetricHandler and a LoggingHandler for the validation metrics are added unless
        given.

        Returns
        -------
        list of (name, value)
            ``metric.get()`` of every validation metric (MXNet returns None; the values
            are also in ``est.val_metrics``).
        """
        self._check_data(val_data, "val_data")
        for metric in self.val_metrics:
            metric.reset()
        handlers = self._prepare_default_validation_handlers(event_handlers)
        _, epoch_begin, batch_begin, batch_end, epoch_end, _ = self._categorize(handlers)
        for h in epoch_begin:
            h.epoch_begin(self)
        for batch in val_data:
            for h in batch_begin:
                h.batch_begin(self, batch=batch)
            _, label, pred, loss = self.evaluate_batch(batch, batch_axis)
            for h in batch_end:
                h.batch_end(self, batch=batch, pred=pred, label=label, loss=loss)
        for h in epoch_end:
            h.epoch_end(self)
        return [m.get() for m in self.val_metrics]

    def fit(self, train_data, val_data=None, epochs=None, event_handlers=None, batches=None,
            batch_axis=0):
        """Train for ``epochs`` epochs or ``batches`` batches (exactly one of them).

        Parameters
        ----------
        train_data : iterable of (data, label) batches, e.g. a DataLoader
        val_data : iterable, optional
            Evaluated after every epoch (a ValidationHandler is added).
        epochs, batches : int
        event_handlers : EventHandler or list of EventHandler
            Added to the defaults: StoppingHandler, GradientUpdateHandler, MetricHandler,
            ValidationHandler (with ``val_data``), LoggingHandler and ProgressBarHandler,
            each only when one of its kind is not given.
        batch_axis : int, default 0
        """
        self._check_data(train_data, "train_data")
        if (not epochs) == (not batches):
            raise HybridnetValueError("Estimator.fit: give exactly one of epochs=<int> or "
                                      f"batches=<int> (got epochs={epochs}, batches={batches})")
        self.max_epoch, self.max_batch, self.batch_axis = epochs, batches, batch_axis
        self.train_data = train_data
        handlers = self._prepare_default_handlers(val_data, event_handlers)
        train_begin, epoch_begin, batch_begin, batch_end, epoch_end, train_end = \
            self._categorize(handlers)
        for h in train_begin:
            h.train_begin(self)
        while True:
            for h in epoch_begin:
                h.epoch_begin(self)
            for batch in train_data:
                for h in batch_begin:
                    h.batch_begin(self, batch=batch)
                _, label, pred, loss = self.fit_batch(batch, batch_axis)
                # every handler sees the batch, even when an earlier one asks to stop
                stop = [h.batch_end(self, batch=batch, pred=pred, label=label, loss=loss)
                        for h in batch_end]
                if any(stop):
                    break
            stop = [h.epoch_end(self) for h in epoch_end]
            if any(stop):
                break
        for h in train_end:
            h.train_end(self)

    # ---- handler bookkeeping ------------------------------------------------------------
    def _prepare_default_handlers(self, val_data, event_handlers):
        handlers = _check_event_handlers(event_handlers)
        added = [StoppingHandler(self.max_epoch, self.max_batch)]

        def missing(cls):
            return not any(isinstance(h, cls) for h in handlers)
        if missing(GradientUpdateHandler):
            added.append(GradientUpdateHandler())
        if missing(MetricHandler):
            added.append(MetricHandler(metrics=self.train_metrics))
        if missing(ValidationHandler) and val_data is not None:
            added.append(ValidationHandler(val_data=val_data, eval_fn=self.evaluate))
        if missing(LoggingHandler):
            added.append(LoggingHandler(metrics=self.train_metrics))
        if missing(ProgressBarHandler):
            added.append(ProgressBarHandler())
        mixing = handlers and added
        handlers.extend(added)
        if mixing:   # user handlers must watch the metrics the default handlers update
            known = self.train_metrics + self.val_metrics
            for h in handlers:
                _check_handler_metric_ref(h, known)
        handlers.sort(key=lambda h: getattr(h, "priority", 0))   # stable: ties keep order
        return handlers

    def _prepare_default_validation_handlers(self, event_handlers):
        handlers = _check_event_handlers(event_handlers)
        added = []
        if not any(isinstance(h, MetricHandler) for h in handlers):
            added.append(MetricHandler(metrics=self.val_metrics))
        if not any(isinstance(h, LoggingHandler) for h in handlers):
            added.append(LoggingHandler(metrics=self.val_metrics))
        mixing = handlers and added
        handlers.extend(added)
        if mixing:
            for h in handlers:
                _check_handler_metric_ref(h, self.val_metrics)
        handlers.sort(key=lambda h: getattr(h, "priority", 0))
        return handlers

    @staticmethod
    def _categorize(handlers):
        """Six lists, so that hooks a handler does not implement are never called."""
        kinds = (TrainBegin, EpochBegin, BatchBegin, BatchEnd, EpochEnd, TrainEnd)
        return tuple([h for h in handlers if isinstance(h, k)] for k in kinds)
