"""Learning-rate schedules (``hybridnet.lr_scheduler``), as in MXNet 1.x.

A scheduler is called with the optimizer's ``num_update`` (the largest number
of updates applied to any weight) and returns the learning rate::

    sched = FactorScheduler(step=100, factor=0.5, base_lr=0.1)
    trainer = gluon.Trainer(params, 'sgd', {'lr_scheduler': sched})

Every scheduler supports a warmup: for ``num_update < warmup_steps`` the rate
rises linearly from ``warmup_begin_lr`` to ``base_lr`` (``warmup_mode='linear'``)
or stays at ``warmup_begin_lr`` (``'constant'``).

Factor and MultiFactor schedulers are stateful like MXNet's: they lower
``base_lr`` as ``num_update`` passes each step, and never raise it again.
"""
import logging
from math import cos, pi

from .base import HybridnetValueError

__all__ = ["LRScheduler", "FactorScheduler", "MultiFactorScheduler", "PolyScheduler",
           "CosineScheduler"]


def _check_int(sched, name, value, minimum):
    if isinstance(value, bool) or not isinstance(value, int):
        raise HybridnetValueError(f"{sched}: {name} must be an int, got {value!r}")
    if value < minimum:
        raise HybridnetValueError(f"{sched}: {name} must be >= {minimum}, got {value}")


class LRScheduler:
    """Base class: ``sched(num_update) -> learning rate``.

    Parameters
    ----------
    base_lr : float, default 0.01
        The learning rate after warmup.
    warmup_steps : int, default 0
        Number of warmup updates.
    warmup_begin_lr : float, default 0
        The learning rate at update 0 of the warmup.
    warmup_mode : {'linear', 'constant'}, default 'linear'
    """

    def __init__(self, base_lr=0.01, warmup_steps=0, warmup_begin_lr=0, warmup_mode="linear"):
        name = type(self).__name__
        self.base_lr = base_lr
        _check_int(name, "warmup_steps", warmup_steps, 0)
        self.warmup_steps = warmup_steps
        self.warmup_final_lr = base_lr
        self.warmup_begin_lr = warmup_begin_lr
        if warmup_begin_lr > base_lr:
            raise HybridnetValueError(f"{name}: warmup_begin_lr ({warmup_begin_lr}) must not "
                                      f"exceed base_lr ({base_lr}); warmup increases the rate")
        if warmup_mode not in ("linear", "constant"):
            raise HybridnetValueError(f"{name}: warmup_mode must be 'linear' or 'constant', "
                                      f"got {warmup_mode!r}")
        self.warmup_mode = warmup_mode

    def get_warmup_lr(self, num_update):
        """The learning rate at update ``num_update`` (< warmup_steps) of the warmup."""
        if num_update >= self.warmup_steps:
            raise HybridnetValueError(f"{type(self).__name__}.get_warmup_lr: update "
                                      f"{num_update} is past the {self.warmup_steps} warmup steps")
        if self.warmup_mode == "linear":
            increase = ((self.warmup_final_lr - self.warmup_begin_lr)
                        * float(num_update) / float(self.warmup_steps))
            return self.warmup_begin_lr + increase
        return self.warmup_begin_lr

    def __call__(self, num_update):
        raise NotImplementedError(f"{type(self).__name__} must override __call__(num_update)")

    def __repr__(self):
        return f"{type(self).__name__}(base_lr={self.base_lr})"


class FactorScheduler(LRScheduler):
    """Multiply the rate by ``factor`` every ``step`` updates: at update n (after warmup)
    the rate is ``max(base_lr * factor ** floor((n - 1) / step), stop_factor_lr)``.

    Parameters
    ----------
    step : int
        Updates between two reductions (>= 1).
    factor : float, default 1
        The multiplier (<= 1).
    stop_factor_lr : float, default 1e-8
        The rate never goes below this.
    """

    def __init__(self, step, factor=1, stop_factor_lr=1e-8, base_lr=0.01, warmup_steps=0,
                 warmup_begin_lr=0, warmup_mode="linear"):
        super().__init__(base_lr, warmup_steps, warmup_begin_lr, warmup_mode)
        if not isinstance(step, (int, float)) or step < 1:
            raise HybridnetValueError(f"FactorScheduler: step must be >= 1 update, got {step!r}")
        if factor > 1.0:
            raise HybridnetValueError(f"FactorScheduler: factor must be <= 1 so the rate "
                                      f"decreases, got {factor}")
        self.step = step
        self.factor = factor
        self.stop_factor_lr = stop_factor_lr
        self.count = 0

    def __call__(self, num_update):
        if num_update < self.warmup_steps:
            return self.get_warmup_lr(num_update)
        # while, not if: resuming training may jump several steps at once
        while num_update > self.count + self.step:
            self.count += self.step
            self.base_lr *= self.factor
            if self.base_lr < self.stop_factor_lr:
                self.base_lr = self.stop_factor_lr
                logging.info("Update[%d]: now learning rate arrived at %0.5e, will not change "
                             "in the future", num_update, self.base_lr)
            else:
                logging.info("Update[%d]: Change learning rate to %0.5e", num_update,
                             self.base_lr)
        return self.base_lr


class MultiFactorScheduler(LRScheduler):
    """Multiply the rate by ``factor`` each time ``num_update`` passes a step in ``step``:
    for step[k] < n <= step[k+1] the rate is ``base_lr * factor ** (k + 1)``.

    Parameters
    ----------
    step : list of int
        Strictly increasing update counts (each >= 1).
    factor : float, default 1
        The multiplier (<= 1).
    """

    def __init__(self, step, factor=1, base_lr=0.01, warmup_steps=0, warmup_begin_lr=0,
                 warmup_mode="linear"):
        super().__init__(base_lr, warmup_steps, warmup_begin_lr, warmup_mode)
        if not isinstance(step, (list, tuple)) or len(step) < 1:
            raise HybridnetValueError(f"MultiFactorScheduler: step must be a non-empty list of "
                                      f"update counts, got {step!r}")
        for i, s in enumerate(step):
            if i != 0 and step[i] <= step[i - 1]:
                raise HybridnetValueError(f"MultiFactorScheduler: step must be strictly "
                                          f"increasing, got {list(step)}")
            if s < 1:
                raise HybridnetValueError(f"MultiFactorScheduler: every step must be >= 1, "
                                          f"got {list(step)}")
        if factor > 1.0:
            raise HybridnetValueError(f"MultiFactorScheduler: factor must be <= 1 so the rate "
                                      f"decreases, got {factor}")
        self.step = list(step)
        self.cur_step_ind = 0
        self.factor = factor
        self.count = 0

    def __call__(self, num_update):
        if num_update < self.warmup_steps:
            return self.get_warmup_lr(num_update)
        while self.cur_step_ind <= len(self.step) - 1:
            if num_update > self.step[self.cur_step_ind]:
                self.count = self.step[self.cur_step_ind]
                self.cur_step_ind += 1
                self.base_lr *= self.factor
                logging.info("Update[%d]: Change learning rate to %0.5e", num_update,
                             self.base_lr)
            else:
                return self.base_lr
        return self.base_lr


class PolyScheduler(LRScheduler):
    """Polynomial decay to ``final_lr`` over ``max_update`` updates::

        final_lr + (base_lr - final_lr) * (1 - (n - warmup_steps) / (max_update - warmup_steps)) ** pwr

    for warmup_steps <= n <= max_update; the rate then stays at its last value.
    """

    def __init__(self, max_update, base_lr=0.01, pwr=2, final_lr=0, warmup_steps=0,
                 warmup_begin_lr=0, warmup_mode="linear"):
        super().__init__(base_lr, warmup_steps, warmup_begin_lr, warmup_mode)
        _check_int("PolyScheduler", "max_update", max_update, 1)
        if max_update <= warmup_steps:
            raise HybridnetValueError(f"PolyScheduler: max_update ({max_update}) must be larger than "
                                      f"warmup_steps ({warmup_steps})")
        self.power = pwr
        self.base_lr_orig = self.base_lr
        self.max_update = max_update
        self.final_lr = final_lr
        self.max_steps = self.max_update - self.warmup_steps

    def __call__(self, num_update):
        if num_update < self.warmup_steps:
            return self.get_warmup_lr(num_update)
        if num_update <= self.max_update:
            self.base_lr = self.final_lr + (self.base_lr_orig - self.final_lr) * pow(
                1 - float(num_update - self.warmup_steps) / float(self.max_steps), self.power)
        return self.base_lr


class CosineScheduler(LRScheduler):
    """Cosine decay to ``final_lr`` over ``max_update`` updates::

        final_lr + (base_lr - final_lr) * (1 + cos(pi * (n - warmup_steps) / (max_update - warmup_steps))) / 2

    for warmup_steps <= n <= max_update; the rate then stays at ``final_lr``.
    """

    def __init__(self, max_update, base_lr=0.01, final_lr=0, warmup_steps=0, warmup_begin_lr=0,
                 warmup_mode="linear"):
        super().__init__(base_lr, warmup_steps, warmup_begin_lr, warmup_mode)
        _check_int("CosineScheduler", "max_update", max_update, 1)
        if max_update <= warmup_steps:
            raise HybridnetValueError(f"CosineScheduler: max_update ({max_update}) must be larger than "
                                      f"warmup_steps ({warmup_steps})")
        self.base_lr_orig = base_lr
        self.max_update = max_update
        self.final_lr = final_lr
        self.max_steps = self.max_update - self.warmup_steps

    def __call__(self, num_update):
        if num_update < self.warmup_steps:
            return self.get_warmup_lr(num_update)
        if num_update <= self.max_update:
            self.base_lr = self.final_lr + (self.base_lr_orig - self.final_lr) * \
                (1 + cos(pi * (num_update - self.warmup_steps) / self.max_steps)) / 2
        return self.base_lr
