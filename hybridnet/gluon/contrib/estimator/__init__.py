"""``gluon.contrib.estimator``: ``Estimator(net, loss, ...).fit(train_data, val_data, epochs)``
with a progress bar per epoch and event handlers (MXNet 1.x API)."""
from .batch_processor import BatchProcessor  # noqa: F401
from .checkpoint import CheckpointHandler, EarlyStoppingHandler  # noqa: F401
from .estimator import Estimator  # noqa: F401
from .event_handler import (BatchBegin, BatchEnd, EpochBegin, EpochEnd, EventHandler,  # noqa: F401
                            GradientUpdateHandler, LoggingHandler, MetricHandler,
                            StoppingHandler, TrainBegin, TrainEnd, ValidationHandler)
from .progress import ProgressBarHandler  # noqa: F401

__all__ = ["Estimator", "BatchProcessor", "EventHandler", "TrainBegin", "TrainEnd",
           "EpochBegin", "EpochEnd", "BatchBegin", "BatchEnd", "StoppingHandler",
           "MetricHandler", "ValidationHandler", "LoggingHandler", "CheckpointHandler",
           "EarlyStoppingHandler", "GradientUpdateHandler", "ProgressBarHandler"]
