"""Gluon's Trainer: applies an Optimizer to a set of Parameters after backward."""
import numbers
import os

import numpy as np

from .. import autograd
from .._state import STATE
from ..base import AutogradError, HybridnetValueError
from ..ndarray.ndarray import NDArray
from ..optimizer.base import Optimizer, flat_state
from .parameter import Parameter

__all__ = ["Trainer", "StaleGradientError"]


class StaleGradientError(AutogradError, UserWarning):
    """A Parameter's gradient was not refreshed by backward since the last step.

    Also a ``UserWarning`` because MXNet raises that class for this case.
    """


def _param_list(params):
    if isinstance(params, dict):          # ParameterDict too; MXNet sorts the names
        params = [params[k] for k in sorted(params)]
    if isinstance(params, Parameter):
        params = [params]
    if not isinstance(params, (list, tuple)):
        raise HybridnetValueError(
            "Trainer: the first argument must be a ParameterDict (net.collect_params()), a "
            f"dict or a list of Parameters, got {type(params).__name__}")
    out, seen = [], set()
    for p in params:
        if not isinstance(p, Parameter):
            raise HybridnetValueError(
                "Trainer: the first argument must hold only Parameters (pass "
                f"net.collect_params()), got an element of type {type(p).__name__}")
        if id(p) not in seen:               # a shared Parameter is updated once
            seen.add(id(p))
            out.append(p)
    return out


class Trainer:
    """Applies an Optimizer on a set of Parameters. Call ``step`` after ``backward``.

    Parameters
    ----------
    params : ParameterDict, dict or list of Parameter
        What to update, usually ``net.collect_params()`` (a dict is taken in sorted
        key order, as in MXNet; the position is the optimizer's parameter index).
    optimizer : str or Optimizer
        A name (``'sgd'``, ``'adam'`` ...) or an instance (then ``optimizer_params``
        must be empty). Each Parameter's ``lr_mult``/``wd_mult`` scale its lr and wd.
    optimizer_params : dict, optional
        Options for a named optimizer, e.g. ``{'learning_rate': 0.1, 'momentum': 0.9,
        'wd': 1e-4, 'lr_scheduler': ...}``.
    kvstore, compression_params, update_on_kvstore
        Accepted for MXNet compatibility. hybridnet updates on one device, like MXNet
        does with one context (no kvstore), so ``allreduce_grads`` does nothing.

    Examples
    --------
    >>> trainer = gluon.Trainer(net.collect_params(), 'sgd', {'learning_rate': 0.1})
    >>> with autograd.record():
    ...     loss = loss_fn(net(x), y)
    >>> loss.backward()
    >>> trainer.step(x.shape[0])      # gradients are scaled by 1/batch_size
    """

    def __init__(self, params, optimizer, optimizer_params=None, kvstore="device",
                 compression_params=None, update_on_kvstore=None):
        self._params = _param_list(params)
        self._kvstore_type = kvstore
        self._compression_params = compression_params
        self._update_on_kvstore = update_on_kvstore
        self._init_optimizer(optimizer, optimizer_params)
        self._scale = self._optimizer.rescale_grad
        self._states = {}            # param index -> optimizer state
        self._plain_cache = {}       # optimizer class -> uses Optimizer's update machinery
        self._fused_cache = None     # compiled optimizer updates (hybridnet.jit.update)
        self._jit_owned_sets = set()  # index tuples with a hybridized parameter among them

    def _init_optimizer(self, optimizer, optimizer_params):
        from .. import optimizer as opt
        param_dict = {i: p for i, p in enumerate(self._params)}
        if isinstance(optimizer, opt.Optimizer):
            if optimizer_params:
                raise HybridnetValueError(
                    "Trainer: optimizer_params must be None when optimizer is an Optimizer "
                    f"instance ({type(optimizer).__name__}); set the options on the instance")
            self._optimizer = optimizer
            # Not a copy: later changes to a Parameter's lr_mult/wd_mult take effect.
            optimizer.param_dict = param_dict
        elif isinstance(optimizer, str):
            if optimizer_params is not None and not isinstance(optimizer_params, dict):
                raise HybridnetValueError("Trainer: optimizer_params must be a dict, got "
                                          f"{type(optimizer_params).__name__}")
            self._optimizer = opt.create(optimizer, param_dict=param_dict,
                                         **(optimizer_params or {}))
        else:
            raise HybridnetValueError("Trainer: optimizer must be a name such as 'sgd' or an "
                                      f"Optimizer instance, got {type(optimizer).__name__}")

    # ---- properties -------------------------------------------------------------------
    @property
    def optimizer(self):
        """The Optimizer instance."""
        return self._optimizer

    @property
    def learning_rate(self):
        """The current learning rate (the scheduler's value when there is one)."""
        return self._optimizer.learning_rate

    def set_learning_rate(self, lr):
        """Set the learning rate of the optimizer (without an lr_scheduler)."""
        self._optimizer.set_learning_rate(lr)

    # ---- the step ---------------------------------------------------------------------
    def step(self, batch_size, ignore_stale_grad=False):
        """One optimization step: gradients are scaled by ``1/batch_size``.

        Parameters
        ----------
        batch_size : int or float
            Usually the number of samples the loss was summed over.
        ignore_stale_grad : bool
            Skip (instead of failing on) parameters whose gradient was not refreshed by
            a backward since the last step.
        """
        self._set_scale(batch_size)
        self.allreduce_grads()
        self._update(ignore_stale_grad)

    def allreduce_grads(self):
        """Sum gradients over devices (nothing to do on one device); then call ``update``."""

    def update(self, batch_size, ignore_stale_grad=False):
        """The update half of ``step`` (after ``allreduce_grads``)."""
        self._set_scale(batch_size)
        self._update(ignore_stale_grad)

    def _set_scale(self, batch_size):
        if isinstance(batch_size, bool) or not isinstance(batch_size, numbers.Real) \
                or not batch_size > 0:
            raise HybridnetValueError(f"Trainer.step: batch_size must be a positive number "
                                      f"(the samples in the batch), got {batch_size!r}")
        self._optimizer.rescale_grad = self._scale / batch_size

    def _update(self, ignore_stale_grad=False):
        todo, stale = [], []
        for i, p in enumerate(self._params):
            if p._grad_req == "null":
                continue
            w = p._data
            if w is None:
                w = p.data()          # raises: not initialized
            if getattr(w, "_fresh_grad", False):
                todo.append((i, w))
            elif not ignore_stale_grad:
                stale.append((p, w))
        if stale and not todo:
            raise StaleGradientError(
                "Trainer.step: no Parameter has a gradient from backward() since the last step "
                "(or ever). Compute the loss inside `with autograd.record():`, call "
                "loss.backward(), then trainer.step(batch_size)")
        if stale:
            p, w = stale[0]
            raise StaleGradientError(
                f"Gradient of Parameter `{p.name}` on context {w.context} has not been updated "
                "by backward since last `step`. This could mean a bug in your model that made "
                "it only use a subset of the Parameters (Blocks) for this iteration. If you are "
                "intentionally only using a subset, call step with ignore_stale_grad=True to "
                "suppress this warning and skip updating of Parameters with stale gradient")
        opt = self._optimizer
        states = self._states
        if any(i not in states for i, _ in todo):
            with autograd.pause():
                for i, w in todo:
                    if i not in states:
                        states[i] = opt.create_state_multi_precision(i, w)
        if self._use_fused_update(todo):
            from ..jit.update import UpdateCache, fused_update
            if self._fused_cache is None:
                self._fused_cache = UpdateCache()
            fused_update(self._fused_cache, opt,
                         [(i, w, w._grad, flat_state(states[i])) for i, w in todo])
            for _, w in todo:
                w._fresh_grad = False
            return
        fast = self._inplace_update(todo)
        if fast is not None:
            # Optimizer.update's steps, inlined: check, count, hyper, in-place NumPy rule
            # (records nothing: no autograd.pause() needed)
            for i, w in todo:
                g = w._grad
                if g._data.shape != w._data.shape:
                    opt._check(i, w, g)            # raises
                opt._update_count(i)
                st = states[i]
                fast(w._data, g._data,
                     *(() if st is None else (st._data,) if type(st) is NDArray
                       else [s._data for s in st]), **opt.hyper(i))
                w._fresh_grad = False
            return
        with autograd.pause():
            for i, w in todo:
                opt.update_multi_precision(i, w, w._grad, states[i])
                w._fresh_grad = False

    def _plain_optimizer(self):
        """True when the optimizer's class keeps Optimizer's update machinery (so its step
        is ``rule`` alone and may run compiled or in place)."""
        kind = type(self._optimizer)
        ok = self._plain_cache.get(kind)
        if ok is None:
            ok = self._plain_cache[kind] = (
                kind.rule is not Optimizer.rule and kind.update is Optimizer.update
                and kind._step is Optimizer._step
                and kind.update_multi_precision is Optimizer.update_multi_precision)
        return ok

    def _use_fused_update(self, todo):
        """Compile the update when a hybridized backward produced these gradients."""
        key = tuple([i for i, _ in todo])
        if key not in self._jit_owned_sets:      # (a parameter never stops being jit-owned)
            if not any(getattr(self._params[i], "_jit_owned", False) for i in key):
                return False
            self._jit_owned_sets.add(key)
        if os.environ.get("HYBRIDNET_FUSED_UPDATE", "1") == "0" or not self._plain_optimizer():
            return False
        opt = self._optimizer
        return not (opt.multi_precision and any(w.dtype == np.float16 for _, w in todo))

    def _inplace_update(self, todo):
        """The optimizer's ``rule_inplace`` when the eager step may use it directly, else None."""
        opt = self._optimizer
        if not self._plain_optimizer() or STATE.tracer is not None:
            return None
        if opt.multi_precision and any(w._data.dtype == np.float16 for _, w in todo):
            return None
        return type(opt)._inplace_rule()

    # ---- states -------------------------------------------------------------------------
    def save_states(self, fname):
        """Save optimizer states and counters to ``fname`` (atomic; no pickle).

        Format: ``b"HYBTRv1\\0"``, a u64 header length, a JSON header (optimizer class,
        number of parameters, the optimizer's and lr_scheduler's scalar attributes such
        as ``lr`` and ``num_update``, per-index update counts, and the layout of each
        parameter's state), then an ``nd.save`` payload holding the state arrays. The
        full description is in :mod:`hybridnet.gluon._trainer_io`. Loading restores
        the optimizer's scalar attributes too (as MXNet, which pickles the optimizer).
        """
        from ._trainer_io import save_states
        save_states(self, fname)

    def load_states(self, fname):
        """Load states written by ``save_states``; training continues exactly where the
        saved trainer stopped (update counts, learning rate, scheduler position)."""
        from ._trainer_io import load_states
        load_states(self, fname)
