"""Optimizers (``hybridnet.optimizer``), following MXNet 1.x ``mxnet.optimizer``.

    opt = hybridnet.optimizer.create('sgd', learning_rate=0.1, momentum=0.9)
    state = opt.create_state(0, weight)
    opt.update(0, weight, grad, state)      # in place

Each optimizer's math is one pure step rule (``Opt.rule``) fed by per-step
scalars (``opt.hyper(index)``); see :mod:`hybridnet.optimizer.base`.
"""
from .base import Optimizer, Updater, create, get_updater, register  # noqa: F401
from .sgd import NAG, SGD, Signum  # noqa: F401
from .adam import LAMB, Adam, Adamax, AdamW, Nadam  # noqa: F401
from .adaptive import AdaDelta, AdaGrad, Ftrl, RMSProp  # noqa: F401

__all__ = ["Optimizer", "Updater", "create", "get_updater", "register", "SGD", "NAG", "Signum",
           "Adam", "AdamW", "Adamax", "Nadam", "LAMB", "RMSProp", "AdaGrad", "AdaDelta", "Ftrl"]
