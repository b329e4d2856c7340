"""Shared eager-vs-hybridized check for Gluon blocks (MXNet's ``check_layer_forward``,
extended to training).

``check_hybrid(block, inputs)`` runs the same block, from the same parameter values,
eagerly and hybridized and requires, in train mode (``autograd.record(train_mode=True)``)
and predict mode (``autograd.record(train_mode=False)`` and plain calls):

* equal outputs, input gradients and parameter gradients (float32 tolerance), for
  random head gradients (so every backward path carries a distinct signal);
* equal parameters — running statistics included — after 3 ``Trainer.step`` calls of
  SGD with momentum (the hybridized run uses the compiled update);
* that the hybridized run really ran compiled graphs: at least one trace, no graph
  break, no interpreter fallback, no hybridize warning.

Random layers (Dropout) see ``hybridnet.random.seed`` before every call, so eager and
compiled draws give the same masks.
"""
import warnings

import numpy as np

import hybridnet as mx
from hybridnet import autograd, gluon, jit, nd
from hybridnet.jit.runtime import STATS

RTOL, ATOL = 1e-4, 1e-5
STEPS = 3


def flat(out):
    """Nested tuples/lists of NDArrays (RNN ``(out, [h, c])``) -> a flat list."""
    if isinstance(out, nd.NDArray):
        return [out]
    res = []
    for o in out:
        res += flat(o)
    return res


def _fresh(v):
    """A new NDArray for every array (also inside lists: RNN states); others as they are."""
    if isinstance(v, np.ndarray):
        return nd.array(v, dtype=v.dtype)
    if type(v) in (list, tuple):
        return type(v)(_fresh(x) for x in v)
    return v


def _arrays(key, v):
    """(key, NDArray) pairs of an input; arrays inside a list get keys (key, j)."""
    if isinstance(v, nd.NDArray):
        return [(key, v)]
    if type(v) in (list, tuple):
        return [kv for j, x in enumerate(v) for kv in _arrays((key, j), x)]
    return []


def _np(x):
    return None if x is None else x.asnumpy().copy()


def _call(block, inputs, kwargs):
    # One call site for every call: traced nodes are tagged with the caller's file:line,
    # which is part of each kernel's source, so train- and predict-mode graphs of a
    # mode-independent block share their compiled kernels.
    return flat(block(*inputs, **kwargs))


def _run(block, inputs, kwargs, train, no_grad, seed, batch_size):
    """3 recorded steps (+ Trainer.step) and a plain call; returns everything observed."""
    params = block.collect_params()
    trainable = [p for p in params.values() if p.grad_req != "null"]
    trainer = gluon.Trainer(params, "sgd", {"learning_rate": 0.1, "momentum": 0.9}) \
        if trainable else None
    steps = []
    for s in range(STEPS):
        xs = [_fresh(v) for v in inputs]
        kw = {k: _fresh(v) for k, v in kwargs.items()}
        arrays = [kv for i, x in enumerate(xs) for kv in _arrays(i, x)]
        arrays += [kv for k, x in kw.items() for kv in _arrays(k, x)]
        for i, x in arrays:
            if i not in no_grad:
                x.attach_grad()
        mx.random.seed(seed + s)
        with autograd.record(train_mode=train):
            outs = _call(block, xs, kw)
            # sum(out * random head) is a head gradient that also works when an output
            # is an input itself (Dropout in predict mode is the identity).
            rng = np.random.default_rng(seed + 10 * s)
            total = None
            for o in outs:
                h = (o * nd.array(rng.uniform(0.5, 1.5, o.shape), dtype=o.dtype)).sum()
                total = h if total is None else total + h
        total.backward()
        steps.append(([_np(o) for o in outs],
                      {i: _np(x.grad) for i, x in arrays if i not in no_grad},
                      {k: _np(p.grad()) for k, p in params.items() if p.grad_req != "null"}))
        if trainer is not None:
            trainer.step(batch_size)
    mx.random.seed(seed + 99)
    plain = [_np(o) for o in _call(block, [_fresh(v) for v in inputs],
                                   {k: _fresh(v) for k, v in kwargs.items()})]
    after = {k: _np(p.data()) for k, p in params.items()}
    return steps, plain, after


def _close(a, b, what, rtol, atol):
    np.testing.assert_allclose(b, a, rtol=rtol, atol=atol, err_msg=what)


def check_hybrid(block, inputs, kwargs=None, modes=("train", "predict"), no_grad=(),
                 init=None, seed=0, rtol=RTOL, atol=ATOL, expect_compiled=True,
                 batch_size=None):
    """Assert eager == hybridized for ``block(*inputs, **kwargs)``.

    Returns ``{(hybridized, mode): (steps, plain_outputs, params_after)}`` where
    ``steps`` holds per step ``(outputs, input grads, param grads)`` as NumPy arrays.

    Parameters
    ----------
    block : HybridBlock
        Freshly constructed (not yet initialized, not hybridized).
    inputs : list of np.ndarray, lists of them, or Python values
        Arrays become fresh NDArrays each call (same dtype); other values pass as is.
    kwargs : dict, optional
        Keyword inputs (the bridge runs those calls eagerly: ``expect_compiled=False``).
    no_grad : iterable
        Positions/keywords of inputs that get no gradient (indices, class labels).
    """
    kwargs = kwargs or {}
    no_grad = set(no_grad)
    mx.random.seed(seed)
    block.initialize(init or mx.init.Uniform(0.5))
    with autograd.pause():
        mx.random.seed(seed)
        block(*[_fresh(v) for v in inputs], **{k: _fresh(v) for k, v in kwargs.items()})
    start = {k: _np(p.data()) for k, p in block.collect_params().items()}
    if batch_size is None:
        first = next((v for v in inputs if isinstance(v, np.ndarray) and v.ndim), None)
        batch_size = first.shape[0] if first is not None else 1

    def restore():
        for k, p in block.collect_params().items():
            p.set_data(start[k])
            p.zero_grad()

    results = {}
    for hybrid in (False, True):
        block.hybridize(active=hybrid)
        counts = dict(STATS)
        with warnings.catch_warnings(record=True) as caught:
            warnings.simplefilter("always")
            for mode in modes:
                restore()
                results[hybrid, mode] = _run(block, inputs, kwargs, mode == "train", no_grad,
                                             seed, batch_size)
        if hybrid:
            msgs = [str(w.message) for w in caught if "hybridize" in str(w.message)]
            assert not msgs, msgs
            assert STATS["graph_breaks"] == counts["graph_breaks"], "graph break"
            assert STATS["fallbacks"] == counts["fallbacks"], "interpreter fallback"
            if expect_compiled:
                assert jit.counters(block)["trace_count"] >= 1, "the block never traced"
    for mode in modes:
        (e_steps, e_plain, e_after), (h_steps, h_plain, h_after) = \
            results[False, mode], results[True, mode]
        for s, ((eo, ex, ep), (ho, hx, hp)) in enumerate(zip(e_steps, h_steps)):
            tag = f"{mode} step {s}"
            assert len(eo) == len(ho), f"{tag}: {len(eo)} vs {len(ho)} outputs"
            for j, (a, b) in enumerate(zip(eo, ho)):
                assert a.shape == b.shape and a.dtype == b.dtype, \
                    f"{tag} output {j}: {a.shape}/{a.dtype} vs {b.shape}/{b.dtype}"
                _close(a, b, f"{tag} output {j}", rtol, atol)
            for i in ex:
                assert (ex[i] is None) == (hx[i] is None), f"{tag} grad of input {i}"
                if ex[i] is not None:
                    _close(ex[i], hx[i], f"{tag} grad of input {i}", rtol, atol)
            for k in ep:
                _close(ep[k], hp[k], f"{tag} grad of {k}", rtol, atol)
        for j, (a, b) in enumerate(zip(e_plain, h_plain)):
            _close(a, b, f"{mode}: plain call output {j}", rtol, atol)
        for k in e_after:
            _close(e_after[k], h_after[k], f"{mode}: {k} after {STEPS} steps", rtol, atol)
    return results
