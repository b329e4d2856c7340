"""Optimizers against NumPy transcriptions of MXNet 1.x's update formulas (float64)."""
import math
import warnings

import numpy as np
import pytest

import hybridnet as mx
from hybridnet import autograd, nd
from hybridnet.base import HybridnetValueError, ShapeError
from hybridnet.optimizer.base import flat_state


# ---- NumPy references: one function per optimizer, state kept in a dict -----------------
def _clip(g, c):
    return g if c is None else np.clip(g, -c, c)


def ref_sgd(w, g, s, lr, wd, rs, c, t, momentum=0.0, **_):
    g = _clip(rs * g, c)
    if momentum == 0:
        return w - lr * (g + wd * w)
    s["m"] = momentum * s.get("m", 0) - lr * wd * w - lr * g
    return w + s["m"]


def ref_nag(w, g, s, lr, wd, rs, c, t, momentum=0.0, **_):
    # the documented MXNet formula; its state is -lr times ours, identical for a fixed lr
    g = _clip(rs * g, c)
    if momentum == 0:
        return w - lr * (g + wd * w)
    s["m"] = momentum * s.get("m", 0) + g + wd * w
    return w - lr * (g + wd * w + momentum * s["m"])


def ref_signum(w, g, s, lr, wd, rs, c, t, momentum=0.9, wd_lh=0.0, **_):
    if momentum == 0:
        return (1 - lr * wd) * w - lr * np.sign(g)
    s["m"] = momentum * s.get("m", 0) + (1 - momentum) * (_clip(rs * g, c) + wd * w)
    return (1 - lr * wd_lh) * w - lr * np.sign(s["m"])


def _adam_moments(s, g, b1, b2):
    s["m"] = b1 * s.get("m", 0) + (1 - b1) * g
    s["v"] = b2 * s.get("v", 0) + (1 - b2) * g * g
    return s["m"], s["v"]


def ref_adam(w, g, s, lr, wd, rs, c, t, beta1=0.9, beta2=0.999, epsilon=1e-8, **_):
    m, v = _adam_moments(s, _clip(rs * g + wd * w, c), beta1, beta2)
    lr_t = lr * math.sqrt(1 - beta2 ** t) / (1 - beta1 ** t)
    return w - lr_t * m / (np.sqrt(v) + epsilon)


def ref_adamw(w, g, s, lr, wd, rs, c, t, beta1=0.9, beta2=0.999, epsilon=1e-6,
              correct_bias=True, **_):
    m, v = _adam_moments(s, _clip(rs * g, c), beta1, beta2)
    lr_t = lr * math.sqrt(1 - beta2 ** t) / (1 - beta1 ** t) if correct_bias else lr
    return w - lr_t * (m / (np.sqrt(v) + epsilon) + wd * w)


def ref_adamax(w, g, s, lr, wd, rs, c, t, beta1=0.9, beta2=0.999, **_):
    g = _clip(rs * g + wd * w, c)
    s["m"] = beta1 * s.get("m", 0) + (1 - beta1) * g
    s["u"] = np.maximum(beta2 * s.get("u", 0), np.abs(g))
    return w - lr / (1 - beta1 ** t) * s["m"] / s["u"]


def ref_nadam(w, g, s, lr, wd, rs, c, t, beta1=0.9, beta2=0.999, epsilon=1e-8,
              schedule_decay=0.004, **_):
    g = _clip(rs * g + wd * w, c)
    mu_t = beta1 * (1 - 0.5 * 0.96 ** (t * schedule_decay))
    mu_t1 = beta1 * (1 - 0.5 * 0.96 ** ((t + 1) * schedule_decay))
    s["sched"] = s.get("sched", 1.0) * mu_t
    m, v = _adam_moments(s, g, beta1, beta2)
    m_bar = (1 - mu_t) * g / (1 - s["sched"]) + mu_t1 * m / (1 - s["sched"] * mu_t1)
    return w - lr * m_bar / (np.sqrt(v / (1 - beta2 ** t)) + epsilon)


def ref_lamb(w, g, s, lr, wd, rs, c, t, beta1=0.9, beta2=0.999, epsilon=1e-6,
             lower_bound=None, upper_bound=None, bias_correction=True, **_):
    m, v = _adam_moments(s, _clip(rs * g, c), beta1, beta2)
    if bias_correction:
        m, v = m / (1 - beta1 ** t), v / (1 - beta2 ** t)
    upd = m / (np.sqrt(v) + epsilon) + wd * w
    r1 = np.linalg.norm(w)
    r1 = max(r1, lower_bound) if lower_bound else r1
    r1 = min(r1, upper_bound) if upper_bound else r1
    r2 = np.linalg.norm(upd)
    ratio = r1 / r2 if r1 > 0 and r2 > 0 else 1.0
    return w - lr * ratio * upd


def ref_rmsprop(w, g, s, lr, wd, rs, c, t, gamma1=0.9, gamma2=0.9, epsilon=1e-8,
                centered=False, clip_weights=None, **_):
    g = _clip(rs * g + wd * w, c)
    s["n"] = (1 - gamma1) * g * g + gamma1 * s.get("n", 0)
    if not centered:
        w = w - lr * g / np.sqrt(s["n"] + epsilon)
    else:
        s["g"] = (1 - gamma1) * g + gamma1 * s.get("g", 0)
        s["d"] = gamma2 * s.get("d", 0) - lr * g / np.sqrt(s["n"] - s["g"] ** 2 + epsilon)
        w = w + s["d"]
    return _clip(w, clip_weights)


def ref_adagrad(w, g, s, lr, wd, rs, c, t, eps=1e-7, **_):
    g = _clip(rs * g, c)
    s["h"] = s.get("h", 0) + g * g
    return w - lr * (g / np.sqrt(s["h"] + eps) + wd * w)


def ref_adadelta(w, g, s, lr, wd, rs, c, t, rho=0.9, epsilon=1e-5, **_):
    g = _clip(rs * g, c)
    s["ag"] = rho * s.get("ag", 0) + (1 - rho) * g * g
    d = np.sqrt(s.get("ad", 0) + epsilon) / np.sqrt(s["ag"] + epsilon) * g
    s["ad"] = rho * s.get("ad", 0) + (1 - rho) * d * d
    return w - (d + wd * w)


def ref_ftrl(w, g, s, lr, wd, rs, c, t, lamda1=0.01, beta=1.0, **_):
    g = _clip(rs * g, c)
    n = s.get("n", 0)
    s["z"] = s.get("z", 0) + g - (np.sqrt(n + g * g) - np.sqrt(n)) * w / lr
    s["n"] = n + g * g
    z = s["z"]
    return (np.sign(z) * lamda1 - z) / ((beta + np.sqrt(s["n"])) / lr + wd) * (np.abs(z) > lamda1)


REFS = {"sgd": ref_sgd, "nag": ref_nag, "signum": ref_signum, "adam": ref_adam,
        "adamw": ref_adamw, "adamax": ref_adamax, "nadam": ref_nadam, "lamb": ref_lamb,
        "rmsprop": ref_rmsprop, "adagrad": ref_adagrad, "adadelta": ref_adadelta,
        "ftrl": ref_ftrl}
DEFAULT_LR = {"adam": 0.001, "adamw": 0.001, "adamax": 0.002, "nadam": 0.001, "lamb": 0.001,
              "rmsprop": 0.001, "signum": 0.01, "ftrl": 0.1}
COMMON = [{}, {"wd": 0.1}, {"rescale_grad": 0.5, "clip_gradient": 0.3},
          {"wd": 0.05, "rescale_grad": 2.0, "clip_gradient": 0.5, "learning_rate": 0.05}]
EXTRA = {"sgd": [{"momentum": 0.9}], "nag": [{"momentum": 0.9}],
         "signum": [{"momentum": 0.0}, {"wd_lh": 0.1}], "adam": [{"beta1": 0.8, "epsilon": 1e-3}],
         "adamw": [{"correct_bias": False}], "adamax": [{"beta2": 0.9}],
         "nadam": [{"schedule_decay": 0.1}],
         "lamb": [{"lower_bound": 0.1, "upper_bound": 0.5}, {"bias_correction": False}],
         "rmsprop": [{"centered": True}, {"centered": True, "clip_weights": 0.5},
                     {"clip_weights": 0.4}],
         "adagrad": [{"eps": 1e-3}], "adadelta": [{"rho": 0.8}],
         "ftrl": [{"lamda1": 0.1, "beta": 0.5}]}
CASES = [(n, dict(c)) for n in REFS for c in COMMON]
CASES += [(n, dict(c, **e)) for n, es in EXTRA.items() for e in es for c in COMMON[::2]]


def _data(seed, steps=4, shape=(3, 4)):
    r = np.random.RandomState(seed)
    return r.randn(*shape), [r.randn(*shape) for _ in range(steps)]


def _run_ref(name, kw, w, grads, lrs, wd_mult=1.0):
    hp = dict(kw)
    wd = hp.pop("wd", 0.0) * wd_mult
    rs, c = hp.pop("rescale_grad", 1.0), hp.pop("clip_gradient", None)
    hp.pop("learning_rate", None)
    s = {}
    for t, (g, lr) in enumerate(zip(grads, lrs), 1):
        w = REFS[name](w, g, s, lr, wd, rs, c, t, **hp)
    return w


@pytest.mark.parametrize("name,kw", CASES, ids=[f"{n}-{sorted(k.items())}" for n, k in CASES])
def test_update_matches_numpy_formula(name, kw):
    w0, grads = _data(len(name) + len(kw))
    opt = mx.optimizer.create(name, **kw)
    w = nd.array(w0)
    state = opt.create_state(0, w)
    for g in grads:
        opt.update(0, w, nd.array(g), state)
    lr = kw.get("learning_rate", DEFAULT_LR.get(name, 0.01))
    ref = _run_ref(name, kw, w0, grads, [lr] * len(grads))
    np.testing.assert_allclose(w.asnumpy(), ref, rtol=2e-5, atol=2e-6)
    assert opt.num_update == len(grads) and opt._index_update_count[0] == len(grads)


class _P:
    def __init__(self, lr_mult, wd_mult):
        self.lr_mult, self.wd_mult = lr_mult, wd_mult


@pytest.mark.parametrize("name", sorted(REFS))
def test_param_dict_mults_and_scheduler(name):
    """lr from an lr_scheduler at each num_update, scaled by lr_mult; wd by wd_mult."""
    w0, grads = _data(7, steps=5)
    sched = mx.lr_scheduler.FactorScheduler(step=2, factor=0.5, base_lr=0.08)
    opt = mx.optimizer.create(name, learning_rate=0.08, lr_scheduler=sched, wd=0.1,
                              rescale_grad=0.7, param_dict={3: _P(0.5, 2.0)})
    w = nd.array(w0)
    state = opt.create_state(3, w)
    lrs = []
    for g in grads:
        opt.update(3, w, nd.array(g), state)
        lrs.append(opt.learning_rate * 0.5)
    assert lrs == [0.04, 0.04, 0.02, 0.02, 0.01]   # FactorScheduler at num_update 1..5
    ref = _run_ref(name, {"wd": 0.1, "rescale_grad": 0.7}, w0, grads, lrs, wd_mult=2.0)
    np.testing.assert_allclose(w.asnumpy(), ref, rtol=2e-5, atol=2e-6)


def test_lr_mult_wd_mult_by_index_and_name():
    opt = mx.optimizer.SGD(learning_rate=0.1, wd=0.01,
                           param_idx2name={0: "fc_weight", 1: "fc_bias", 2: "0.weight"})
    assert opt._get_wd(0) == 0.01 and opt._get_wd(1) == 0.0 and opt._get_wd(2) == 0.01
    opt.set_lr_mult({0: 2.0, "fc_bias": 3.0})
    opt.set_wd_mult({"fc_bias": 5.0})
    assert opt._get_lr(0) == pytest.approx(0.2) and opt._get_lr(1) == pytest.approx(0.3)
    assert opt._get_wd(1) == pytest.approx(0.05) and opt._get_lr(7) == pytest.approx(0.1)
    opt.param_dict = {0: _P(0.5, 0.0)}   # param_dict wins over the mult tables
    assert opt._get_lr(0) == pytest.approx(0.05) and opt._get_wd(0) == 0.0


def test_update_counts_begin_num_update_and_learning_rate():
    opt = mx.optimizer.SGD(learning_rate=0.3, begin_num_update=10)
    w = nd.ones((2,))
    opt.update(0, w, nd.ones((2,)), None)
    opt.update(0, w, nd.ones((2,)), None)
    opt.update(1, w, nd.ones((2,)), None)
    assert opt._index_update_count == {0: 12, 1: 11} and opt.num_update == 12
    assert opt.learning_rate == 0.3
    opt.set_learning_rate(0.01)
    assert opt.learning_rate == 0.01 and opt.lr == 0.01


def test_scheduler_base_lr_overwritten_by_explicit_learning_rate():
    sched = mx.lr_scheduler.FactorScheduler(step=10, base_lr=0.5)
    with pytest.warns(UserWarning, match="overwritten by learning_rate=0.2"):
        opt = mx.optimizer.SGD(learning_rate=0.2, lr_scheduler=sched)
    assert sched.base_lr == 0.2 and opt.learning_rate == 0.2
    sched2 = mx.lr_scheduler.FactorScheduler(step=10, base_lr=0.5)
    assert mx.optimizer.SGD(lr_scheduler=sched2).learning_rate == 0.5  # no lr given: kept


def test_states_structure():
    w = nd.zeros((2, 3))
    assert mx.optimizer.SGD().create_state(0, w) is None
    assert isinstance(mx.optimizer.SGD(momentum=0.9).create_state(0, w), nd.NDArray)
    assert isinstance(mx.optimizer.AdaGrad().create_state(0, w), nd.NDArray)
    adam = mx.optimizer.Adam().create_state(0, w)
    assert isinstance(adam, tuple) and len(adam) == 2
    assert len(mx.optimizer.RMSProp(centered=True).create_state(0, w)) == 3
    assert len(flat_state(mx.optimizer.RMSProp().create_state(0, w))) == 1
    assert all(s.dtype == np.float32 and s.shape == (2, 3) for s in adam)


def _hyper_as_arrays(hp):
    """Per-step scalars as 1-element NDArrays (how a tracer feeds them as graph inputs)."""
    return {k: nd.array([v], dtype="float32") if type(v) in (int, float) else v
            for k, v in hp.items()}


@pytest.mark.parametrize("name,kw", [("sgd", {"momentum": 0.9}), ("sgd", {}),
                                     ("nag", {"momentum": 0.9}), ("signum", {}),
                                     ("adam", {}), ("adamw", {}), ("adamax", {}), ("nadam", {}),
                                     ("lamb", {"lower_bound": 0.1}), ("rmsprop", {}),
                                     ("rmsprop", {"centered": True, "clip_weights": 2.0}),
                                     ("adagrad", {}), ("adadelta", {}), ("ftrl", {})])
def test_rule_accepts_array_hyperparameters(name, kw):
    """The pure step rule gives the same result with scalars as floats or as NDArrays."""
    w0, (g0,) = _data(3, steps=1)
    opt = mx.optimizer.create(name, wd=0.1, rescale_grad=0.5, clip_gradient=0.8, **kw)
    w, g = nd.array(w0), nd.array(g0)
    states = flat_state(opt.create_state(0, w))
    opt._update_count(0)
    hp = opt.hyper(0)
    ref = opt.rule(w, g, *states, **hp)
    out = opt.rule(w, g, *states, **_hyper_as_arrays(hp))
    assert len(out) == len(ref) == 1 + len(states)
    for a, b in zip(out, ref):
        np.testing.assert_allclose(a.asnumpy(), b.asnumpy(), rtol=1e-6, atol=1e-7)
    np.testing.assert_array_equal(w.asnumpy(), np.float32(w0))   # the rule is pure


def test_multi_precision_float16():
    w0, grads = _data(11)
    opt = mx.optimizer.SGD(learning_rate=0.1, momentum=0.9, multi_precision=True)
    w16 = nd.array(w0, dtype="float16")
    state = opt.create_state_multi_precision(0, w16)
    assert state[0].dtype == np.float32 and len(state) == 2
    for g in grads:
        opt.update_multi_precision(0, w16, nd.array(g, dtype="float16"), state)
    ref = _run_ref("sgd", {"momentum": 0.9}, np.float16(w0).astype(np.float64),
                   [np.float16(g).astype(np.float64) for g in grads], [0.1] * len(grads))
    np.testing.assert_allclose(state[0].asnumpy(), ref, rtol=1e-5, atol=1e-5)
    assert w16.dtype == np.float16
    np.testing.assert_array_equal(w16.asnumpy(), state[0].asnumpy().astype(np.float16))


def test_float16_without_multi_precision_warns():
    with pytest.warns(UserWarning, match="multi_precision=True"):
        mx.optimizer.SGD().create_state_multi_precision(0, nd.zeros((2,), dtype="float16"))


def test_updater_creates_states_and_updates():
    opt = mx.optimizer.Adam(learning_rate=0.1)
    upd = mx.optimizer.get_updater(opt)
    w, g = nd.array([1.0, -2.0]), nd.array([0.5, 0.5])
    upd(0, g, w)
    upd([0, 1], [g, g], [w, nd.array([3.0, 3.0])])
    assert set(upd.states) == {0, 1} and opt._index_update_count == {0: 2, 1: 1}
    # Adam's first step moves each coordinate by ~lr * sign(g)
    np.testing.assert_allclose(upd.states[1][0].asnumpy(), [0.05, 0.05], rtol=1e-6)


def test_update_inside_record_is_not_recorded():
    w = nd.array([1.0, 2.0])
    w.attach_grad()
    opt = mx.optimizer.SGD(learning_rate=0.5, momentum=0.5)
    state = opt.create_state(0, w)
    with autograd.record():
        opt.update(0, w, nd.array([1.0, 1.0]), state)
        assert autograd.is_recording()
    np.testing.assert_allclose(w.asnumpy(), [0.5, 1.5])
    assert w._node is None


def test_update_writes_in_place():
    """State and weight are written in place: other references see the new values."""
    opt = mx.optimizer.SGD(learning_rate=1.0, momentum=0.5)
    w = nd.array([1.0, 1.0])
    alias = w
    state = opt.create_state(0, w)
    opt.update(0, w, nd.array([1.0, 2.0]), state)
    np.testing.assert_allclose(alias.asnumpy(), [0.0, -1.0])
    np.testing.assert_allclose(state.asnumpy(), [-1.0, -2.0])


def test_create_by_name_and_registry():
    assert isinstance(mx.optimizer.create("SGD"), mx.optimizer.SGD)
    assert isinstance(mx.optimizer.Optimizer.create_optimizer("adam"), mx.optimizer.Adam)
    assert mx.optimizer.Adam().learning_rate == 0.001
    assert mx.optimizer.SGD().learning_rate == 0.01

    @mx.optimizer.register
    class MyTestOpt(mx.optimizer.SGD):
        pass
    assert isinstance(mx.optimizer.create("mytestopt"), MyTestOpt)
    del mx.optimizer.Optimizer.opt_registry["mytestopt"]


def test_errors():
    with pytest.raises(HybridnetValueError, match=r"unknown optimizer 'sgdd'.*'adam'.*'sgd'"):
        mx.optimizer.create("sgdd")
    with pytest.raises(HybridnetValueError, match=r"SGD: unknown option\(s\) \['beta1'\].*momentum"):
        mx.optimizer.create("sgd", beta1=0.9)
    with pytest.raises(HybridnetValueError, match="wd must be a number"):
        mx.optimizer.SGD(wd="0.1")
    with pytest.raises(HybridnetValueError, match="clip_gradient must be a number or None"):
        mx.optimizer.SGD(clip_gradient="x")
    with pytest.raises(HybridnetValueError, match="learning_rate must be a number"):
        mx.optimizer.SGD(learning_rate=[0.1])
    with pytest.raises(HybridnetValueError, match="expected a name or an Optimizer"):
        mx.optimizer.create(3)
    opt = mx.optimizer.SGD()
    with pytest.raises(ShapeError, match=r"weight shape \(2, 3\) != grad shape \(3, 2\)"):
        opt.update(0, nd.zeros((2, 3)), nd.zeros((3, 2)), None)
    with pytest.raises(HybridnetValueError, match="must be NDArrays"):
        opt.update(0, np.zeros(2), nd.zeros(2), None)
    with warnings.catch_warnings():
        warnings.simplefilter("ignore")
        sched_opt = mx.optimizer.SGD(learning_rate=0.1,
                                     lr_scheduler=mx.lr_scheduler.FactorScheduler(2))
    with pytest.raises(HybridnetValueError, match="has an lr_scheduler"):
        sched_opt.set_learning_rate(0.5)
    with pytest.raises(HybridnetValueError, match="param_idx2name must be a dict"):
        mx.optimizer.SGD(param_idx2name=[1])
    with pytest.raises(HybridnetValueError, match="expected an Optimizer subclass"):
        mx.optimizer.register(int)


def test_updater_states_roundtrip():
    opt = mx.optimizer.RMSProp(learning_rate=0.1, centered=True)
    upd = mx.optimizer.get_updater(opt)
    w0, w1, w2 = nd.array([1.0, 2.0]), nd.array([[3.0]]), nd.array([4.0])
    upd(0, nd.array([0.5, -0.5]), w0)
    upd("b", nd.array([[1.0]]), w1)
    upd2 = mx.optimizer.get_updater(mx.optimizer.SGD())
    upd2(0, nd.array([1.0]), w2)                         # a None state
    for u in (upd, upd2):
        fresh = mx.optimizer.get_updater(u.optimizer)
        fresh.set_states(u.get_states())
        assert fresh.states.keys() == u.states.keys()
        for k in u.states:
            a, b = flat_state(u.states[k]), flat_state(fresh.states[k])
            assert type(u.states[k]) is type(fresh.states[k]) and len(a) == len(b)
            for x, y in zip(a, b):
                np.testing.assert_array_equal(x.asnumpy(), y.asnumpy())
    fresh(0, nd.array([1.0]), w2)                        # usable after loading
    with pytest.raises(HybridnetValueError, match="dump_optimizer=True is not supported"):
        upd.get_states(dump_optimizer=True)
    with pytest.raises(mx.base.HybridnetIOError, match="not a valid hybridnet array file"):
        upd.set_states(b"garbage")


# ---- rule_inplace: the eager fast path of update() ----------------------------------------
INPLACE = [(n, dict(c, **e)) for n in ("sgd", "nag") for c in COMMON
           for e in ({}, {"momentum": 0.9})]


@pytest.mark.parametrize("dtype", ["float32", "float64"])
@pytest.mark.parametrize("name,kw", INPLACE, ids=[f"{n}-{sorted(k.items())}" for n, k in INPLACE])
def test_rule_inplace_matches_rule_over_steps(name, kw, dtype):
    """update() (rule_inplace on NumPy buffers) tracks the op-by-op rule step after step."""
    kind = type(mx.optimizer.create(name))
    assert kind._inplace_rule() is kind.rule_inplace is not None
    w0, grads = _data(3, steps=6, shape=(5, 7))
    fast, slow = mx.optimizer.create(name, **kw), mx.optimizer.create(name, **kw)
    w_fast, w_slow = nd.array(w0, dtype=dtype), nd.array(w0, dtype=dtype)
    buf = w_fast._data
    s_fast, s_slow = fast.create_state(0, w_fast), slow.create_state(0, w_slow)
    tol = dict(rtol=1e-12, atol=1e-13) if dtype == "float64" else dict(rtol=2e-6, atol=1e-6)
    for g in grads:
        fast.update(0, w_fast, nd.array(g, dtype=dtype), s_fast)
        slow._update_count(0)
        outs = kind.rule(w_slow, nd.array(g, dtype=dtype), *flat_state(s_slow),
                         **slow.hyper(0))
        w_slow = outs[0]
        s_slow = outs[1] if len(outs) > 1 else None
        np.testing.assert_allclose(w_fast.asnumpy(), w_slow.asnumpy(), **tol)
        for a, b in zip(flat_state(s_fast), flat_state(s_slow)):
            np.testing.assert_allclose(a.asnumpy(), b.asnumpy(), **tol)
    assert w_fast._data is buf and w_fast.dtype == np.dtype(dtype)      # in place


def test_subclass_overriding_rule_does_not_inherit_rule_inplace():
    class HalfStepSGD(mx.optimizer.SGD):
        @staticmethod
        def rule(weight, grad, *mom, lr, **hyper):
            return mx.optimizer.SGD.rule(weight, grad, *mom, lr=lr * 0.5, **hyper)

    assert HalfStepSGD._inplace_rule() is None and mx.optimizer.SGD._inplace_rule() is not None
    opt = HalfStepSGD(learning_rate=1.0)
    w = nd.array([1.0, 1.0])
    opt.update(0, w, nd.array([1.0, 2.0]), None)
    np.testing.assert_allclose(w.asnumpy(), [0.5, 0.0])
