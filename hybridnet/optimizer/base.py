"""The Optimizer base class, the registry, and the step-rule convention.

Step rules
----------
Each optimizer writes its math ONCE, as a pure static method::

    new_weight, *new_states = Opt.rule(weight, grad, *states, **hyper)

``weight``, ``grad`` and ``states`` are NDArrays and the rule uses only hybridnet
ops and operators, never ``asnumpy()``, so the same function runs eagerly or on
traced values (the JIT fuses and compiles it). ``hyper`` comes from
``opt.hyper(index)``, called once per step after ``opt._update_count(index)``:

* int/float values (``lr``, ``wd``, ``rescale_grad``, ``beta1`` ...) are
  per-step scalars; a tracer may pass them as 1-element NDArrays (graph
  inputs), so rules only combine them with operators, never branch on them;
* ``None``/``bool`` values (``clip_gradient=None``, ``centered``) choose the
  rule's structure and are compile-time constants.

``states`` is the optimizer state flattened: ``None`` -> (), an NDArray ->
(state,), a tuple -> the tuple. ``update()`` runs the rule and writes the
results into ``weight`` and the states in place. A tracer does the same::

    opt._update_count(i)
    hp = opt.hyper(i)                          # floats -> graph inputs, None/bool -> static
    new_w, *new_states = type(opt).rule(w, g, *flat_state(state), **hp)

(``hyper`` is idempotent for a given update count; multi-precision states are
``(weight32, *states)`` and the rule runs on ``weight32``.)

Eager fast path: an optimizer may also define ``rule_inplace(weight, grad, *states,
**hyper)``, the same math on NumPy arrays, writing the new weight and states into
``weight`` and ``states`` in place with as few NumPy passes as it can. ``update()``
uses it instead of running ``rule`` op by op (tests check the two agree). It is
only used when it is defined by the class that defines ``rule``, so a subclass
that overrides ``rule`` alone falls back to its rule.
"""
import json
import math
import warnings

import numpy as np

from .._state import STATE
from ..base import HybridnetValueError, ShapeError
from ..ndarray.ndarray import NDArray, invoke
from ..ops.registry import OPS

__all__ = ["Optimizer", "register", "create", "Updater", "get_updater", "flat_state"]


# ---- helpers for rules: work on NDArrays (eager or traced) and float-or-NDArray scalars ---
def _is_num(x, v):
    """True when ``x`` is the plain Python number ``v`` (lets the eager path skip no-op math)."""
    return type(x) in (float, int) and x == v


def scale(x, s):
    """``x * s``; skipped when ``s`` is the Python number 1."""
    return x if _is_num(s, 1) else x * s


def clip(x, bound):
    """Clip ``x`` to [-bound, bound]; ``bound=None`` means no clipping."""
    if bound is None:
        return x
    if isinstance(bound, NDArray):
        return invoke(OPS["minimum"], (invoke(OPS["maximum"], (x, -bound)), bound))
    return invoke(OPS["clip"], (x,), {"a_min": -float(bound), "a_max": float(bound)})


def sqrt(x):
    return invoke(OPS["sqrt"], (x,))


def square(x):
    return invoke(OPS["square"], (x,))


def sign(x):
    return invoke(OPS["sign"], (x,))


def maximum(x, y):
    from .. import ndarray as nd
    return nd.maximum(x, y)


def l2norm(x):
    """The L2 norm of all of ``x`` as a shape-(1,) NDArray."""
    return sqrt(invoke(OPS["sum"], (square(x),)))


def flat_state(state):
    """The tuple of NDArrays inside an optimizer state (None, an NDArray or a tuple)."""
    if state is None:
        return ()
    if isinstance(state, NDArray):
        return (state,)
    return tuple(state)


_UNSET = object()
_PLAIN = {}


def _plain_lr_wd(cls):
    """True when ``cls`` keeps Optimizer's lr/wd lookups (``hyper`` may inline them)."""
    ok = _PLAIN.get(cls)
    if ok is None:
        ok = _PLAIN[cls] = all(getattr(cls, m) is getattr(Optimizer, m) for m in
                               ("_get_lr", "_get_lrs", "_get_wd", "_get_wds", "_clip"))
    return ok


def _assign(dst, src):
    if dst._data.shape != src._data.shape:
        raise ShapeError(f"optimizer: step rule produced shape {src.shape} for an array of shape "
                         f"{dst.shape}")
    dst._data[...] = src._data


class Optimizer:
    """Base class of all optimizers (MXNet 1.x ``mxnet.optimizer.Optimizer``).

    Parameters
    ----------
    learning_rate : float, optional
        The learning rate; default 0.01 when there is no ``lr_scheduler``. With a
        scheduler and an explicit value, the value overwrites the scheduler's base_lr.
    wd : float, default 0
        Weight decay (L2) coefficient.
    rescale_grad : float, default 1
        Gradients are multiplied by this first (Gluon's Trainer sets 1/batch_size).
    clip_gradient : float, optional
        Clip gradients to [-clip_gradient, clip_gradient]; None (or <= 0) disables it.
    lr_scheduler : LRScheduler, optional
        Called as ``lr_scheduler(num_update)`` to get the learning rate of each step.
    multi_precision : bool, default False
        Keep a float32 master copy of float16 weights and update that.
    param_dict : dict, optional
        index -> Parameter; its ``lr_mult`` / ``wd_mult`` scale lr and wd.
    begin_num_update : int, default 0
        The update count to start from.
    param_idx2name : dict, optional
        index -> name, for ``set_lr_mult`` / ``set_wd_mult`` by name.
    """
    opt_registry = {}
    _OPTIONS = ()  # subclass-specific constructor options, listed in error messages

    def __init__(self, rescale_grad=1.0, param_idx2name=None, wd=0.0, clip_gradient=None,
                 learning_rate=None, lr_scheduler=None, sym=None, begin_num_update=0,
                 multi_precision=False, param_dict=None, **kwargs):
        name = type(self).__name__
        if kwargs:
            valid = sorted(set(self._OPTIONS) | {
                "learning_rate", "wd", "rescale_grad", "clip_gradient", "lr_scheduler",
                "multi_precision", "param_dict", "begin_num_update", "param_idx2name"})
            raise HybridnetValueError(f"{name}: unknown option(s) {sorted(kwargs)}; valid "
                                      f"options are {valid}")
        for key, val in (("wd", wd), ("rescale_grad", rescale_grad)):
            if not isinstance(val, (int, float, np.number)) or isinstance(val, bool):
                raise HybridnetValueError(f"{name}: {key} must be a number, got {val!r}")
        if clip_gradient is not None and not isinstance(clip_gradient, (int, float, np.number)):
            raise HybridnetValueError(f"{name}: clip_gradient must be a number or None, "
                                      f"got {clip_gradient!r}")
        if learning_rate is not None and not isinstance(learning_rate, (int, float, np.number)):
            raise HybridnetValueError(f"{name}: learning_rate must be a number, "
                                      f"got {learning_rate!r}")
        self.rescale_grad = rescale_grad
        self.lr_scheduler = lr_scheduler
        if lr_scheduler is None and learning_rate is None:
            learning_rate = 0.01
        self.lr = learning_rate
        if lr_scheduler is not None and learning_rate is not None \
                and lr_scheduler.base_lr != learning_rate:
            warnings.warn(f"{name}: learning rate from lr_scheduler ({lr_scheduler.base_lr}) has "
                          f"been overwritten by learning_rate={learning_rate}", stacklevel=2)
            lr_scheduler.base_lr = learning_rate
        self.wd = wd
        self.lr_mult = {}
        self.wd_mult = {}
        self.begin_num_update = begin_num_update
        self.num_update = begin_num_update
        self._all_index_update_counts = {0: {}}
        self._index_update_count = self._all_index_update_counts[0]
        self.clip_gradient = clip_gradient
        self.multi_precision = multi_precision
        self.aggregate_num = 0
        if param_idx2name is None:
            param_idx2name = {}
        if not isinstance(param_idx2name, dict):
            raise HybridnetValueError(f"{name}: param_idx2name must be a dict index -> name")
        self.idx2name = param_idx2name.copy()
        self.sym_info = ()
        if sym is not None and hasattr(sym, "attr_dict"):
            self.sym_info = (sym.attr_dict(), sym.list_arguments())
        self.param_dict = param_dict if param_dict else {}
        self.set_lr_mult({})
        self.set_wd_mult({})

    # ---- registry -------------------------------------------------------------------
    @staticmethod
    def register(klass):
        """Class decorator: make ``klass`` creatable by its lower-cased name."""
        if not (isinstance(klass, type) and issubclass(klass, Optimizer)):
            raise HybridnetValueError(f"Optimizer.register: expected an Optimizer subclass, "
                                      f"got {klass!r}")
        name = klass.__name__.lower()
        if name in Optimizer.opt_registry and Optimizer.opt_registry[name] is not klass:
            warnings.warn(f"optimizer {name!r} ({klass.__module__}.{klass.__name__}) overrides "
                          f"{Optimizer.opt_registry[name].__module__}."
                          f"{Optimizer.opt_registry[name].__name__}", stacklevel=2)
        Optimizer.opt_registry[name] = klass
        return klass

    @staticmethod
    def create_optimizer(name, **kwargs):
        """An optimizer by (case-insensitive) name: ``create_optimizer('sgd', momentum=0.9)``."""
        if isinstance(name, Optimizer):
            return name
        if not isinstance(name, str):
            raise HybridnetValueError(f"optimizer.create: expected a name or an Optimizer, "
                                      f"got {type(name).__name__}")
        klass = Optimizer.opt_registry.get(name.lower())
        if klass is None:
            raise HybridnetValueError(f"unknown optimizer {name!r}; valid names are "
                                      f"{sorted(Optimizer.opt_registry)}")
        return klass(**kwargs)

    # ---- learning rate and weight decay ---------------------------------------------
    @property
    def learning_rate(self):
        if self.lr_scheduler is not None:
            return self.lr_scheduler(self.num_update)
        return self.lr

    def set_learning_rate(self, lr):
        """Set a new learning rate (only when there is no lr_scheduler)."""
        if self.lr_scheduler is not None:
            raise HybridnetValueError(
                "set_learning_rate: this optimizer has an lr_scheduler, which decides the "
                "learning rate; change the scheduler (e.g. its base_lr) instead")
        self.lr = lr

    def set_lr_mult(self, args_lr_mult):
        """Per-parameter learning-rate multipliers, keyed by index or name."""
        self.lr_mult = {}
        if self.sym_info:
            attr, arg_names = self.sym_info
            for n in arg_names:
                if n in attr and "__lr_mult__" in attr[n]:
                    self.lr_mult[n] = float(attr[n]["__lr_mult__"])
        self.lr_mult.update(args_lr_mult)

    def set_wd_mult(self, args_wd_mult):
        """Per-parameter weight-decay multipliers, keyed by index or name.

        Names from ``param_idx2name`` that are not weights or gammas get 0, as in MXNet.
        """
        self.wd_mult = {}
        for n in self.idx2name.values():
            if not (n.endswith(("_weight", "_gamma", ".weight", ".gamma"))
                    or n in ("weight", "gamma")):
                self.wd_mult[n] = 0.0
        if self.sym_info:
            attr, arg_names = self.sym_info
            for n in arg_names:
                if n in attr and "__wd_mult__" in attr[n]:
                    self.wd_mult[n] = float(attr[n]["__wd_mult__"])
        self.wd_mult.update(args_wd_mult)

    def _set_current_context(self, device_id):
        if device_id not in self._all_index_update_counts:
            self._all_index_update_counts[device_id] = {}
        self._index_update_count = self._all_index_update_counts[device_id]

    def _update_count(self, index):
        """Count one more update of ``index`` (an index or a list of them)."""
        if isinstance(index, (list, tuple)):
            for idx in index:
                self._update_count(idx)
            return
        counts = self._index_update_count
        n = counts.get(index, self.begin_num_update) + 1
        counts[index] = n
        if n > self.num_update:
            self.num_update = n

    def _get_lrs(self, indices):
        lr = self.lr_scheduler(self.num_update) if self.lr_scheduler is not None else self.lr
        out = []
        for index in indices:
            mult = 1.0
            if index in self.param_dict:
                mult = self.param_dict[index].lr_mult
            elif index in self.lr_mult:
                mult = self.lr_mult[index]
            elif index in self.idx2name:
                mult = self.lr_mult.get(self.idx2name[index], 1.0)
            out.append(lr * mult)
        return out

    def _get_wds(self, indices):
        out = []
        for index in indices:
            mult = 1.0
            if index in self.param_dict:
                mult = self.param_dict[index].wd_mult
            elif index in self.wd_mult:
                mult = self.wd_mult[index]
            elif index in self.idx2name:
                mult = self.wd_mult.get(self.idx2name[index], 1.0)
            out.append(self.wd * mult)
        return out

    def _get_lr(self, index):
        return self._get_lrs([index])[0]

    def _get_wd(self, index):
        return self._get_wds([index])[0]

    def _clip(self):
        c = self.clip_gradient
        return float(c) if c is not None and c > 0 else None

    # ---- the step -----------------------------------------------------------------
    def hyper(self, index):
        """Per-step scalars for the rule (call after ``_update_count(index)``)."""
        if _plain_lr_wd(type(self)):
            # _get_lr/_get_wd for one index, inlined (the step's glue runs per parameter)
            p = self.param_dict.get(index)
            lr = self.lr_scheduler(self.num_update) if self.lr_scheduler is not None else self.lr
            lr_mult = wd_mult = 1.0
            if p is not None:
                lr_mult, wd_mult = p.lr_mult, p.wd_mult
            else:
                name = self.idx2name.get(index)
                if index in self.lr_mult:
                    lr_mult = self.lr_mult[index]
                elif name is not None:
                    lr_mult = self.lr_mult.get(name, 1.0)
                if index in self.wd_mult:
                    wd_mult = self.wd_mult[index]
                elif name is not None:
                    wd_mult = self.wd_mult.get(name, 1.0)
            c = self.clip_gradient
            return {"lr": float(lr * lr_mult), "wd": float(self.wd * wd_mult),
                    "rescale_grad": float(self.rescale_grad),
                    "clip_gradient": float(c) if c is not None and c > 0 else None}
        return {"lr": float(self._get_lr(index)), "wd": float(self._get_wd(index)),
                "rescale_grad": float(self.rescale_grad), "clip_gradient": self._clip()}

    @staticmethod
    def rule(weight, grad, *states, **hyper):
        """``(new_weight, *new_states)``; see the module docstring."""
        raise NotImplementedError("this optimizer defines no step rule; override update()")

    def create_state(self, index, weight):
        """The state of one weight: None, an NDArray or a tuple of NDArrays."""
        return None

    def create_state_multi_precision(self, index, weight):
        """Like ``create_state``; for float16 weights with ``multi_precision`` the state is
        ``(weight32, *states)`` with a float32 master copy first."""
        if self.multi_precision and weight.dtype == np.float16:
            w32 = weight.astype(np.float32)
            return (w32,) + flat_state(self.create_state(index, w32))
        if weight.dtype == np.float16:
            warnings.warn("Accumulating with float16 in the optimizer can lead to poor accuracy "
                          "or slow convergence; consider multi_precision=True", stacklevel=2)
        return self.create_state(index, weight)

    def _check(self, index, weight, grad):
        if not isinstance(weight, NDArray) or not isinstance(grad, NDArray):
            raise HybridnetValueError(f"{type(self).__name__}.update: weight and grad must be "
                                      f"NDArrays, got {type(weight).__name__} and "
                                      f"{type(grad).__name__}")
        if weight.shape != grad.shape:
            raise ShapeError(f"{type(self).__name__}.update (index {index!r}): weight shape "
                             f"{weight.shape} != grad shape {grad.shape}")

    @classmethod
    def _inplace_rule(cls):
        """``cls.rule_inplace`` when the class defining ``rule`` also defines it, else None."""
        fn = cls.__dict__.get("_inplace_cache", _UNSET)
        if fn is _UNSET:
            fn = None
            for k in cls.__mro__:
                if "rule" in k.__dict__:
                    fn = cls.rule_inplace if "rule_inplace" in k.__dict__ else None
                    break
            cls._inplace_cache = fn
        return fn

    rule_inplace = None

    def _step(self, index, weight, grad, states):
        hp = self.hyper(index)
        fast = self._inplace_rule()
        if fast is not None and STATE.tracer is None:
            fast(weight._data, grad._data, *[s._data for s in states], **hp)
            return
        if STATE.recording:  # an update is never part of the recorded graph
            STATE.recording = False
            try:
                outs = self.rule(weight, grad, *states, **hp)
            finally:
                STATE.recording = True
        else:
            outs = self.rule(weight, grad, *states, **hp)
        _assign(weight, outs[0])
        for s, o in zip(states, outs[1:]):
            _assign(s, o)

    def update(self, index, weight, grad, state):
        """Update ``weight`` (and ``state``) in place from ``grad``."""
        self._check(index, weight, grad)
        self._update_count(index)
        self._step(index, weight, grad, flat_state(state))

    def update_multi_precision(self, index, weight, grad, state):
        """``update``, through the float32 master copy when the state holds one."""
        if self.multi_precision and weight.dtype == np.float16:
            self._check(index, weight, grad)
            w32, states = state[0], tuple(state[1:])
            self._update_count(index)
            self._step(index, w32, grad.astype(np.float32), states)
            weight._data[...] = w32._data.astype(np.float16)
        else:
            self.update(index, weight, grad, state)

    def __repr__(self):
        return f"{type(self).__name__}(learning_rate={self.learning_rate}, wd={self.wd})"


register = Optimizer.register
create = Optimizer.create_optimizer


class Updater:
    """Applies an optimizer to (index, grad, weight) triples, creating states on first use."""

    def __init__(self, optimizer):
        self.optimizer = optimizer
        self.states = {}
        self.states_synced = {}

    def __call__(self, index, grad, weight):
        if isinstance(index, (list, tuple)):
            for i, g, w in zip(index, grad, weight):
                self(i, g, w)
            return
        if index not in self.states:
            self.states[index] = self.optimizer.create_state_multi_precision(index, weight)
            self.states_synced[index] = True
        elif not self.states_synced[index]:
            self.states[index] = self.sync_state_context(self.states[index], weight.context)
            self.states_synced[index] = True
        self.optimizer.update_multi_precision(index, weight, grad, self.states[index])

    def sync_state_context(self, state, context):
        if isinstance(state, NDArray):
            return state.as_in_context(context)
        if isinstance(state, (tuple, list)):
            return type(state)(self.sync_state_context(s, context) for s in state)
        return state

    def get_states(self, dump_optimizer=False):
        """The states as bytes (hybridnet's array format, never pickle).

        Each state is stored under the key ``json([index, kind, k])`` with kind
        ``none`` / ``nd`` / ``tuple``; indices must be ints or strings.
        """
        if dump_optimizer:
            raise HybridnetValueError("Updater.get_states: dump_optimizer=True is not supported "
                                      "(optimizers are not pickled); save the optimizer's "
                                      "settings yourself and pass dump_optimizer=False")
        from ..ndarray.io import encode_arrays
        from ..ndarray.ndarray import wrap
        out = {}
        for index, state in self.states.items():
            if not isinstance(index, (int, str)):
                raise HybridnetValueError(f"Updater.get_states: index {index!r} must be an int "
                                          "or a str")
            if state is None:
                out[json.dumps([index, "none", 0])] = wrap(np.zeros(0, np.float32))
            elif isinstance(state, NDArray):
                out[json.dumps([index, "nd", 0])] = state
            else:
                for k, s in enumerate(state):
                    out[json.dumps([index, "tuple", k])] = s
        return encode_arrays(out)

    def set_states(self, states):
        """Restore states from ``get_states()`` bytes."""
        from ..ndarray.io import decode_arrays
        from ..ndarray.ndarray import wrap
        arrays = decode_arrays(states, "optimizer states")
        if not isinstance(arrays, dict):
            raise HybridnetValueError("Updater.set_states: the bytes do not hold optimizer "
                                      "states (expected a dict of arrays from get_states())")
        restored, parts = {}, {}
        for key, arr in arrays.items():
            try:
                index, kind, k = json.loads(key)
            except (ValueError, TypeError):
                raise HybridnetValueError(f"Updater.set_states: unexpected entry {key!r}; the "
                                          "bytes were not written by Updater.get_states") from None
            if kind == "none":
                restored[index] = None
            elif kind == "nd":
                restored[index] = wrap(arr)
            else:
                parts.setdefault(index, {})[k] = wrap(arr)
        for index, d in parts.items():
            restored[index] = tuple(d[k] for k in sorted(d))
        self.states = restored
        self.states_synced = dict.fromkeys(restored, False)


def get_updater(optimizer):
    """An :class:`Updater` for ``optimizer``."""
    return Updater(optimizer)


def bias_correction(beta1, beta2, t):
    """Adam's step-size factor sqrt(1 - beta2^t) / (1 - beta1^t)."""
    return math.sqrt(1.0 - beta2 ** t) / (1.0 - beta1 ** t)
