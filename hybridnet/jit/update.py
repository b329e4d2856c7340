"""The optimizer step, traced and compiled once for all parameters.

Each optimizer writes its math once as ``rule(weight, grad, *states, **hyper)``
(hybridnet/optimizer/base.py). Here the rules of every parameter of a Trainer
are traced into ONE graph whose per-step numbers — learning rate (after the
scheduler, lr_mult and bias correction), weight decay, ``rescale_grad =
1/batch_size``, momentum — are graph *inputs*, never constants, so a schedule
or a ragged last batch never recompiles. ``None``/``bool`` hyper-parameters
(``clip_gradient=None``, ``centered``) shape the graph and are part of its key.
"""
from operator import itemgetter

import numpy as np

from .._state import STATE
from ..ndarray.ndarray import wrap
from .codegen import compile_graph
from .passes import optimize
from .runtime import STATS
from .trace import GraphBreak, trace_function

__all__ = ["FusedUpdate", "UpdateCache", "fused_update"]


_SPLITS = {}    # (keys, value types) -> (numeric keys, structural keys): same every step


def _split_hyper(hp):
    """(sorted numeric keys, sorted (key, value) of the rest) of one step's hyper dict."""
    sig = (tuple(hp), tuple(map(type, hp.values())))
    split = _SPLITS.get(sig)
    if split is None:
        numeric = tuple(sorted(k for k, v in hp.items()
                               if isinstance(v, (int, float, np.number))
                               and not isinstance(v, bool)))
        split = _SPLITS[sig] = (numeric, tuple(sorted(k for k in hp if k not in numeric)))
    numeric, rest = split
    return numeric, tuple([(k, hp[k]) for k in rest])


class FusedUpdate:
    """A compiled update for one optimizer rule over a fixed list of parameter shapes."""

    def __init__(self, rule, layout):
        self.rule = rule
        self.layout = layout     # per param: (shape, dtype, n_states, numeric keys, structural)
        self.compile_count = 0
        self.exe = None
        self.run = None          # the bare driver once the first call has compiled
        self.eager_reason = None
        # One reusable (1,)-array per per-step scalar, each a view into one flat array
        # per dtype that a step fills with one assignment; never reallocated.
        self.scalars, self.flat = [], {}
        for _, dtype, _, numeric, _ in layout:
            flat = self.flat.setdefault(np.dtype(dtype), [])
            self.scalars.append([(flat, len(flat) + i) for i in range(len(numeric))])
            flat.extend([None] * len(numeric))
        self.flat = {dt: np.zeros(len(v), dt) for dt, v in self.flat.items()}
        self.scalars = [[self.flat[np.dtype(dtype)][i:i + 1] for _, i in bufs]
                        for bufs, (_, dtype, _, _, _) in zip(self.scalars, layout)]
        self._order = [(np.dtype(dtype), numeric) for _, dtype, _, numeric, _ in layout]

    def _build(self, arrays):
        layout, rule = self.layout, self.rule

        def fn(*xs):
            it = iter(xs)
            outs = []
            for shape, dtype, n_states, numeric, structural in layout:
                w, g = next(it), next(it)
                states = [next(it) for _ in range(n_states)]
                hp = dict(structural)
                for k in numeric:
                    hp[k] = next(it)
                res = rule(w, g, *states, **hp)
                outs.extend(res)
            return tuple(outs)
        graph, _, _ = trace_function(fn, [wrap(a) for a in arrays])
        # New weights/states may be written straight into the old buffers.
        donate, pos, out = {}, 0, 0
        for _, _, n_states, numeric, _ in layout:
            donate[out] = pos                               # weight
            for k in range(n_states):
                donate[out + 1 + k] = pos + 2 + k           # states
            out += 1 + n_states
            pos += 2 + n_states + len(numeric)
        self.exe = compile_graph(optimize(graph), donate)
        self.compile_count += 1
        STATS["compile_count"] += 1

    def __call__(self, items, hypers):
        """``items``: per param ``(index, weight, grad, states)``, ``hypers`` its step's
        hyper-parameters; updates weights and states in place."""
        arrays, targets = [], []
        values = {dt: [] for dt in self.flat}
        for (_, w, g, states), hp, (dt, numeric), bufs in zip(items, hypers, self._order,
                                                             self.scalars):
            arrays += [w._data, g._data]
            targets.append(w)
            if states:
                arrays += [s._data for s in states]
                targets += states
            values[dt] += [hp[k] for k in numeric]
            arrays += bufs
        for dt, flat in self.flat.items():
            flat[:] = values[dt]
        if self.exe is None:
            old = STATE.recording
            STATE.recording = False
            try:
                self._build(arrays)
            finally:
                STATE.recording = old
        outs = self.exe(arrays)
        if self.run is None:
            self.run = getattr(self.exe, "direct", None) or self.exe
        for t, o in zip(targets, outs):
            if o is not t._data:
                t._data[...] = o


class UpdateCache(dict):
    """A Trainer's compiled updates (layout key -> FusedUpdate), plus the step plan of the
    most recent call: what stays the same from one step to the next, checked cheaply."""
    plan = None


class _StepPlan:
    """One step's decisions, reused while the parameters, their gradient and state
    buffers, and the structure of the hyper-parameters stay the same.

    A step then costs: count + ``hyper(index)`` per parameter (the optimizer's own
    per-step numbers: scheduler, lr_mult, bias correction), one check per parameter
    that nothing structural changed, one assignment of all scalars, one driver call.
    """

    def __init__(self, opt_type, fu, items, hypers):
        self.opt_type, self.fu = opt_type, fu
        self.buffers = [(w._data, g._data, tuple([s._data for s in st]))
                        for _, w, g, st in items]
        self.hsigs = []
        for hp, (_, _, _, numeric, structural) in zip(hypers, fu.layout):
            self.hsigs.append((tuple(hp), tuple(map(type, hp.values())), structural,
                               itemgetter(*numeric) if numeric else None, len(numeric)))
        (self.flat,) = fu.flat.values()
        arrays, targets = [], []
        for (_, w, g, states), bufs in zip(items, fu.scalars):
            arrays += [w._data, g._data]
            targets.append(w)
            if states:
                arrays += [s._data for s in states]
                targets += states
            arrays += bufs
        self.arrays, self.targets = arrays, targets

    def values(self, items, hypers):
        """The step's scalars in the compiled graph's order, or None when anything the
        plan relies on changed (then the caller takes the general path)."""
        if len(items) != len(self.buffers):
            return None
        values = []
        for (index, w, g, states), hp, (d, gd, sd), (keys, types, structural, get, n) \
                in zip(items, hypers, self.buffers, self.hsigs):
            if w._data is not d or g._data is not gd or tuple(hp) != keys \
                    or tuple(map(type, hp.values())) != types:
                return None
            for k, v in structural:
                if hp[k] != v:
                    return None
            if sd:
                if len(states) != len(sd) or any(s._data is not b for s, b in zip(states, sd)):
                    return None
            elif states:
                return None
            if n == 1:
                values.append(get(hp))
            elif n:
                values += get(hp)
        return values

    def run(self, values):
        self.flat[:] = values
        outs = self.fu.run(self.arrays)
        for t, o in zip(self.targets, outs):
            if o is not t._data:
                t._data[...] = o


def fused_update(cache, optimizer, items):
    """Run ``optimizer``'s rule for ``items`` = [(index, weight, grad, states)] compiled.

    ``cache`` is an UpdateCache owned by the caller (the Trainer). A rule that cannot
    be traced is applied eagerly (once known, every step).
    """
    count, hyper = optimizer._update_count, optimizer.hyper
    hypers = []
    for it in items:
        count(it[0])
        hypers.append(hyper(it[0]))
    plan = getattr(cache, "plan", None)
    if plan is not None and plan.opt_type is type(optimizer):
        values = plan.values(items, hypers)
        if values is not None:
            plan.run(values)
            return True
    return _general_update(cache, optimizer, items, hypers)


def _general_update(cache, optimizer, items, hypers):
    old = STATE.recording
    STATE.recording = False      # tracing the rule, or applying it eagerly, records nothing
    try:
        return _update_general(cache, optimizer, items, hypers)
    finally:
        STATE.recording = old


def _update_general(cache, optimizer, items, hypers):
    rule = type(optimizer).rule
    layout = []
    for (index, w, g, states), hp in zip(items, hypers):
        numeric, structural = _split_hyper(hp)
        d = w._data
        layout.append((d.shape, d.dtype, len(states), numeric, structural))
    layout = tuple(layout)
    key = (type(optimizer), layout)
    fu = cache.get(key)
    if fu is None:
        fu = cache[key] = FusedUpdate(rule, layout)
    if fu.eager_reason is None:
        try:
            fu(items, hypers)
            if isinstance(cache, UpdateCache) and len(fu.flat) == 1 and fu.run is not None:
                cache.plan = _StepPlan(type(optimizer), fu, items, hypers)
            return True
        except GraphBreak as e:
            fu.eager_reason = str(e)
    # Not traceable: apply the same rule eagerly (counts were already advanced).
    for (index, w, g, states), hp in zip(items, hypers):
        outs = rule(w, g, *states, **hp)
        for t, o in zip([w] + list(states), outs):
            t._data[...] = o._data
    return True
