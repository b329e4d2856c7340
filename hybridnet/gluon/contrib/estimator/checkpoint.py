"""CheckpointHandler and EarlyStoppingHandler (MXNet 1.x semantics).

Checkpoints are ``<model_dir>/<prefix>-epoch<E>batch<B>.params`` (``save_parameters``
format: load them with ``net.load_parameters``) plus ``.states`` (``trainer.save_states``);
``<prefix>-best.params/.states`` hold the best model when ``save_best=True``. Both
formats are hybridnet's own (no pickle) and every file is written atomically.
"""
import math
import os
import re
import warnings

from ....base import HybridnetIOError, HybridnetValueError
from ....metric import CompositeEvalMetric, EvalMetric
from .event_handler import BatchEnd, EpochEnd, TrainBegin, TrainEnd

__all__ = ["CheckpointHandler", "EarlyStoppingHandler"]


def _monitor_op(monitor, mode, who):
    """'max' for accuracy/F1-like metrics, 'min' otherwise (``mode='auto'``)."""
    if mode not in ("auto", "min", "max"):
        warnings.warn(f"{who}: mode {mode!r} is unknown (use 'auto', 'min' or 'max'); "
                      "falling back to 'auto'", RuntimeWarning, stacklevel=3)
        mode = "auto"
    if mode == "auto":
        name = monitor.get()[0].lower()
        mode = "max" if ("acc" in name or "f1" in name) else "min"
    return (lambda a, b: a > b) if mode == "max" else (lambda a, b: a < b), mode


class CheckpointHandler(TrainBegin, BatchEnd, EpochEnd):
    """Save parameters and trainer states every ``epoch_period`` epochs / ``batch_period``
    batches, keep the last ``max_checkpoints``, optionally the best by ``monitor``, and
    optionally resume from the newest checkpoint in ``model_dir``.

    Parameters
    ----------
    model_dir : str
        Folder for the files (created if missing).
    model_prefix : str, default 'model'
    monitor : EvalMetric, optional
        One of ``estimator.train_metrics`` / ``val_metrics``; needed by ``save_best``.
    verbose : int, default 0
        1 logs every save.
    save_best : bool, default False
    mode : {'auto', 'min', 'max'}
        How ``monitor`` improves; 'auto' maximises accuracy/F1 and minimises the rest.
    epoch_period : int or None, default 1
    batch_period : int or None, default None
    max_checkpoints : int, default 5
        Older periodic checkpoints are deleted (the best one is not counted).
    resume_from_checkpoint : bool, default False
        Load the newest checkpoint and train only the remaining epochs / batches.
    """

    def __init__(self, model_dir, model_prefix="model", monitor=None, verbose=0,
                 save_best=False, mode="auto", epoch_period=1, batch_period=None,
                 max_checkpoints=5, resume_from_checkpoint=False):
        if save_best and not isinstance(monitor, EvalMetric):
            raise HybridnetValueError(
                "CheckpointHandler: save_best=True needs monitor=<one of the metric objects "
                "in estimator.train_metrics or estimator.val_metrics>")
        os.makedirs(model_dir, exist_ok=True)
        self.model_dir, self.model_prefix = model_dir, model_prefix
        self.monitor, self.verbose, self.save_best = monitor, verbose, save_best
        self.epoch_period, self.batch_period = epoch_period, batch_period
        self.max_checkpoints = max_checkpoints
        self.resume_from_checkpoint = resume_from_checkpoint
        self.current_batch = self.current_epoch = 0
        self.trained_epoch = self.trained_batch = -1
        self.saved_checkpoints = []
        if save_best:
            self.monitor_op, mode = _monitor_op(monitor, mode, "CheckpointHandler")
            self.best = -math.inf if mode == "max" else math.inf
            self._best_init = self.best

    def train_begin(self, estimator, *args, **kwargs):
        self.current_batch = self.current_epoch = 0
        if self.save_best:
            self.best = self._best_init
        if self.resume_from_checkpoint:
            by_batches = bool(estimator.max_batch)
            if by_batches != bool(self.batch_period) or by_batches == bool(self.epoch_period):
                raise HybridnetValueError(
                    "CheckpointHandler: to resume from a checkpoint, save by the same kind of "
                    "period you train by: fit(epochs=...) needs epoch_period set and "
                    "batch_period=None; fit(batches=...) needs batch_period set and "
                    "epoch_period=None")
            self._resume(estimator)

    def batch_end(self, estimator, *args, **kwargs):
        if self.current_batch == 0 and self.verbose > 0:
            estimator.logger.info("CheckpointHandler: saving parameters and trainer states "
                                  "(the architecture is code: rebuild the net, then "
                                  "load_parameters)")
        if self.batch_period and (self.current_batch + 1) % self.batch_period == 0:
            self._save_checkpoint(estimator)
        self.current_batch += 1

    def epoch_end(self, estimator, *args, **kwargs):
        if self.epoch_period and (self.current_epoch + 1) % self.epoch_period == 0:
            self._save_checkpoint(estimator)
        self.current_epoch += 1

    def _save_checkpoint(self, estimator):
        epoch, batch = self.current_epoch, self.current_batch
        if self.resume_from_checkpoint and self.trained_epoch >= 0:
            # continue the numbering of the run we resumed from
            epoch += self.trained_epoch + 1
            batch += self.trained_batch + (0 if estimator.max_epoch else 1)
        prefix = f"{self.model_prefix}-epoch{epoch}batch{batch}"
        self._save(estimator, prefix)
        if self.verbose > 0:
            estimator.logger.info("[Epoch %d] CheckpointHandler: trained total %d batches, "
                                  "saving model at %s with prefix: %s", self.current_epoch,
                                  self.current_batch + 1, self.model_dir, prefix)
        if self.save_best:
            name, value = self.monitor.get()
            if isinstance(value, float) and math.isnan(value):
                warnings.warn(f"CheckpointHandler: skipping save_best because {name} has no "
                              "value yet; pass one of estimator.train_metrics / val_metrics as "
                              "monitor", RuntimeWarning, stacklevel=2)
            elif self.monitor_op(value, self.best):
                if self.verbose > 0:
                    estimator.logger.info("[Epoch %d] CheckpointHandler: %s improved from "
                                          "%.5f to %.5f, updating best model at %s",
                                          self.current_epoch, name, self.best, value,
                                          self.model_dir)
                self.best = value
                self._save(estimator, self.model_prefix + "-best")

    def _save(self, estimator, prefix):
        base = os.path.join(self.model_dir, prefix)
        estimator.net.save_parameters(base + ".params")
        estimator.trainer.save_states(base + ".states")
        if prefix.endswith("-best"):
            return
        self.saved_checkpoints.append(prefix)
        while len(self.saved_checkpoints) > self.max_checkpoints:
            old = self.saved_checkpoints.pop(0)
            for ext in (".params", ".states"):
                path = os.path.join(self.model_dir, old + ext)
                if os.path.exists(path):
                    os.remove(path)

    def _checkpoints(self):
        """[(epoch, batch, prefix)] of this prefix's periodic checkpoints in model_dir."""
        pat = re.compile(re.escape(self.model_prefix) + r"-epoch(\d+)batch(\d+)\.params$")
        found = []
        for fname in os.listdir(self.model_dir):
            m = pat.match(fname)
            if m:
                found.append((int(m.group(1)), int(m.group(2)), fname[:-len(".params")]))
        return sorted(found)

    def _resume(self, estimator):
        found = self._checkpoints()
        if not found:
            what = (f"{estimator.max_batch} batches" if estimator.max_batch
                    else f"{estimator.max_epoch} epochs")
            estimator.logger.info("CheckpointHandler: no checkpoint found in %s, training from "
                                  "scratch for %s", self.model_dir, what)
            return
        self.saved_checkpoints = [p for _, _, p in found]
        self.trained_epoch, self.trained_batch, prefix = found[-1]
        if estimator.max_epoch:
            if self.trained_epoch >= estimator.max_epoch - 1:
                raise HybridnetValueError(
                    f"CheckpointHandler: {prefix} already reached {estimator.max_epoch} epochs; "
                    "pass resume_from_checkpoint=False to train from scratch, or more epochs")
            estimator.max_epoch -= self.trained_epoch + 1
            left = f"{estimator.max_epoch} epochs"
        else:
            if self.trained_batch >= estimator.max_batch - 1:
                raise HybridnetValueError(
                    f"CheckpointHandler: {prefix} already reached {estimator.max_batch} "
                    "batches; pass resume_from_checkpoint=False to train from scratch, or "
                    "more batches")
            estimator.max_batch -= self.trained_batch + 1
            left = f"{estimator.max_batch} batches"
        base = os.path.join(self.model_dir, prefix)
        if not os.path.exists(base + ".states"):
            raise HybridnetIOError(f"CheckpointHandler: {base}.params has no matching "
                                   f"{base}.states; both are needed to resume")
        estimator.net.load_parameters(base + ".params", ctx=estimator.context)
        estimator.trainer.load_states(base + ".states")
        estimator.logger.warning("CheckpointHandler: resumed from epoch %d batch %d, continue "
                                 "to train for %s", self.trained_epoch, self.trained_batch, left)


class EarlyStoppingHandler(TrainBegin, EpochEnd, TrainEnd):
    """Stop training when ``monitor`` has not improved for ``patience`` epochs.

    Parameters
    ----------
    monitor : EvalMetric
        One of ``estimator.train_metrics`` / ``val_metrics`` (not a composite).
    min_delta : float, default 0
        Smallest change that counts as an improvement.
    patience : int, default 0
        Epochs without improvement to tolerate.
    mode : {'auto', 'min', 'max'}
        'auto' maximises accuracy/F1 and minimises the rest.
    baseline : float, optional
        The value to beat from the first epoch.
    """

    def __init__(self, monitor, min_delta=0, patience=0, mode="auto", baseline=None):
        if not isinstance(monitor, EvalMetric):
            raise HybridnetValueError("EarlyStoppingHandler: monitor must be one of the metric "
                                      "objects in estimator.train_metrics or "
                                      f"estimator.val_metrics, got {monitor!r}")
        if isinstance(monitor, CompositeEvalMetric):
            raise HybridnetValueError("EarlyStoppingHandler: a CompositeEvalMetric cannot be "
                                      "monitored; pass one of its metrics instead")
        self.monitor, self.baseline = monitor, baseline
        self.patience = patience
        self.monitor_op, mode = _monitor_op(monitor, mode, "EarlyStoppingHandler")
        self.min_delta = abs(min_delta) if mode == "max" else -abs(min_delta)
        self._mode = mode
        self.wait = self.stopped_epoch = self.current_epoch = 0
        self.stop_training = False
        self.best = None

    def train_begin(self, estimator, *args, **kwargs):
        self.wait = self.stopped_epoch = self.current_epoch = 0
        self.stop_training = False
        if self.baseline is not None:
            self.best = self.baseline
        else:
            self.best = -math.inf if self._mode == "max" else math.inf

    def epoch_end(self, estimator, *args, **kwargs):
        name, value = self.monitor.get()
        if isinstance(value, float) and math.isnan(value):
            warnings.warn(f"EarlyStoppingHandler: {name} has no value; pass one of "
                          "estimator.train_metrics / val_metrics as monitor", RuntimeWarning,
                          stacklevel=2)
        elif self.monitor_op(value - self.min_delta, self.best):
            self.best, self.wait = value, 0
        else:
            self.wait += 1
            if self.wait >= self.patience:
                self.stopped_epoch, self.stop_training = self.current_epoch, True
        self.current_epoch += 1
        return self.stop_training

    def train_end(self, estimator, *args, **kwargs):
        if self.stop_training:
            estimator.logger.info("[Epoch %d]: early stopping due to %s not improving",
                                  self.stopped_epoch, self.monitor.get()[0])
