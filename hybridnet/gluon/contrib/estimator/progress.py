"""A tqdm progress bar per epoch: batches, loss, metrics and samples/s (hybridnet addition;
MXNet's Estimator only logs)."""
import os
import shutil
import sys
import time

from .event_handler import BatchEnd, EpochBegin, EpochEnd, TrainBegin, TrainEnd

__all__ = ["ProgressBarHandler"]


def _env_flag():
    """HYBRIDNET_PROGRESS=0 hides the bar, =1 forces it even when not on a terminal."""
    v = os.environ.get("HYBRIDNET_PROGRESS", "").strip().lower()
    if v in ("0", "false", "no", "off"):
        return True
    if v in ("1", "true", "yes", "on"):
        return False
    return None


class ProgressBarHandler(TrainBegin, EpochBegin, BatchEnd, EpochEnd, TrainEnd):
    """Show one progress bar per training epoch.

    Parameters
    ----------
    metrics : list of EvalMetric, optional
        Shown on the bar; default the estimator's training metrics.
    file : file object, default sys.stderr
    disable : bool or None, default None
        None shows the bar only on a terminal (tqdm's rule); ``HYBRIDNET_PROGRESS=0/1``
        overrides it.
    refresh_s : float, default 0.2
        Minimum seconds between updates of the metric text (reading metrics costs time).
    priority : float, default -1500
        Closes the bar before validation (-1000) and logging (+inf) print their lines;
        during an epoch it shows the metrics as of the previous batch.
    """

    def __init__(self, metrics=None, file=None, disable=None, refresh_s=0.2, priority=-1500):
        self.metrics, self.file, self.refresh_s, self.priority = metrics, file, refresh_s, priority
        env = _env_flag()
        self.disable = env if env is not None else disable
        self._bar, self._epoch, self._samples = None, 0, 0
        self._t0 = self._last = 0.0

    def _total(self, estimator):
        try:
            n = len(estimator.train_data)
        except TypeError:
            n = None
        if estimator.max_batch:
            done = getattr(self, "_batches_done", 0)
            n = min(n, estimator.max_batch - done) if n else estimator.max_batch - done
        return n

    def train_begin(self, estimator, *args, **kwargs):
        self._epoch, self._batches_done = 0, 0
        if self.metrics is None:
            self.metrics = estimator.train_metrics

    def epoch_begin(self, estimator, *args, **kwargs):
        from tqdm.auto import tqdm
        desc = f"Epoch {self._epoch}"
        if estimator.max_epoch:
            desc = f"Epoch {self._epoch + 1}/{estimator.max_epoch}"
        # a pty that reports a 0x0 size makes tqdm hide the bar; shutil falls back to 80x24
        size = shutil.get_terminal_size()
        self._bar = tqdm(total=self._total(estimator), desc=desc, unit="batch",
                         file=self.file or sys.stderr, disable=self.disable, leave=True,
                         ncols=size.columns or 100, nrows=size.lines or 24)
        self._samples, self._t0, self._last = 0, time.perf_counter(), 0.0

    def _postfix(self):
        items = {}
        for m in self.metrics or []:
            name, value = m.get()
            for n, v in (zip(name, value) if isinstance(name, list) else [(name, value)]):
                if v == v:     # NaN before the first update: leave it out
                    items[n.replace("training ", "")] = f"{v:.4g}"
        dt = time.perf_counter() - self._t0
        items["samples/s"] = f"{self._samples / dt:,.0f}" if dt > 0 else "-"
        return items

    def batch_end(self, estimator, *args, **kwargs):
        self._batches_done += 1
        batch = kwargs.get("batch")
        try:
            self._samples += batch[0].shape[0]
        except (TypeError, IndexError, AttributeError):
            pass
        if self._bar is None or self._bar.disable:
            return False
        now = time.perf_counter()
        if now - self._last >= self.refresh_s:
            self._last = now
            self._bar.set_postfix(self._postfix(), refresh=False)
        self._bar.update(1)
        return False

    def epoch_end(self, estimator, *args, **kwargs):
        if self._bar is not None:
            if not self._bar.disable:
                self._bar.set_postfix(self._postfix(), refresh=False)
            self._bar.close()
            self._bar = None
        self._epoch += 1
        return False

    def train_end(self, estimator, *args, **kwargs):
        if self._bar is not None:   # stopped mid-epoch (max batches or a handler)
            self._bar.close()
            self._bar = None
