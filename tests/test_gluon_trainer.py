"""Trainer: rescaling, stale gradients, grad_req, lr/wd multipliers, schedulers, states.

Updates are checked against NumPy transcriptions of the documented formulas.
"""
import numpy as np
import pytest

import hybridnet as mx
from hybridnet import autograd, gluon, nd
from hybridnet.base import DeferredInitError, HybridnetError, HybridnetIOError
from hybridnet.optimizer.base import flat_state


def _params(seed=0, shapes=((3, 4), (4,)), names=("a.weight", "a.bias")):
    rng = np.random.default_rng(seed)
    pd = gluon.ParameterDict()
    for n, s in zip(names, shapes):
        p = pd.get(n, shape=s)
        p.initialize()
        p.set_data(rng.standard_normal(s).astype(np.float32))
    return pd


def _coefs(pd, seed=1):
    rng = np.random.default_rng(seed)
    return {k: rng.uniform(0.5, 1.5, p.shape).astype(np.float32) for k, p in pd.items()}


def _backward(pd, coefs, use=None):
    """loss = sum_k sum(c_k * w_k^2) / 2, so grad_k = c_k * w_k."""
    use = list(pd) if use is None else use
    with autograd.record():
        loss = sum(((pd[k].data() ** 2) * nd.array(coefs[k])).sum() for k in use) * 0.5
    loss.backward()


def _np(pd):
    return {k: p.data().asnumpy().astype(np.float64) for k, p in pd.items()}


def _close(pd, ref, rtol=1e-5, atol=1e-6):
    for k, p in pd.items():
        np.testing.assert_allclose(p.data().asnumpy(), ref[k], rtol=rtol, atol=atol, err_msg=k)


# ---- the step ------------------------------------------------------------------------
def test_step_rescales_by_one_over_batch_size():
    pd = _params()
    c = _coefs(pd)
    w0 = _np(pd)
    tr = gluon.Trainer(pd, "sgd", {"learning_rate": 0.1})
    _backward(pd, c)
    tr.step(4)
    _close(pd, {k: w0[k] - 0.1 * (c[k] * w0[k]) / 4 for k in pd})
    assert tr.optimizer.rescale_grad == pytest.approx(0.25)


def test_sgd_momentum_wd_lr_mult_wd_mult_three_steps_match_numpy():
    pd = _params()
    pd["a.weight"].lr_mult = 0.5
    pd["a.bias"].wd_mult = 0.0
    c = _coefs(pd)
    lr, mom, wd, bs = 0.2, 0.9, 0.01, 2
    tr = gluon.Trainer(pd, "sgd", {"learning_rate": lr, "momentum": mom, "wd": wd})
    w = _np(pd)
    m = {k: np.zeros_like(v) for k, v in w.items()}
    for _ in range(3):
        _backward(pd, c)
        tr.step(bs)
        for k, p in pd.items():
            g = c[k] * w[k] / bs
            lr_k, wd_k = lr * p.lr_mult, wd * p.wd_mult
            m[k] = mom * m[k] - lr_k * wd_k * w[k] - lr_k * g
            w[k] = w[k] + m[k]
    _close(pd, w)


def test_eager_step_updates_in_place_and_leaves_gradients_alone():
    """The eager SGD step runs rule_inplace on the parameter's own buffers."""
    for opts in ({"learning_rate": 0.2}, {"learning_rate": 0.2, "momentum": 0.9, "wd": 0.01,
                                          "clip_gradient": 0.5}):
        pd = _params()
        c = _coefs(pd)
        tr = gluon.Trainer(pd, "sgd", opts)
        bufs = {k: p.data()._data for k, p in pd.items()}
        ref = gluon.Trainer(_params(), "sgd", dict(opts))     # op-by-op rule, same start
        ref_opt = ref.optimizer
        w = {k: nd.array(v) for k, v in _np(pd).items()}
        states = {}
        for _ in range(3):
            _backward(pd, c)
            grads = {k: p.grad().asnumpy().copy() for k, p in pd.items()}
            tr.step(2)
            for k, p in pd.items():
                np.testing.assert_array_equal(p.grad().asnumpy(), grads[k])   # not modified
                assert p.data()._data is bufs[k]
            ref_opt.rescale_grad = 0.5
            for i, k in enumerate(sorted(pd)):
                ref_opt._update_count(i)
                st = states[k] if k in states else flat_state(ref_opt.create_state(i, w[k]))
                outs = type(ref_opt).rule(w[k], nd.array(grads[k].astype(np.float64)), *st,
                                          **ref_opt.hyper(i))
                w[k], states[k] = outs[0], tuple(outs[1:])
        _close(pd, {k: v.asnumpy() for k, v in w.items()})


def test_optimizer_overriding_update_is_called_by_step():
    calls = []

    class Logged(mx.optimizer.SGD):
        def update(self, index, weight, grad, state):
            calls.append(index)
            super().update(index, weight, grad, state)

    pd = _params()
    tr = gluon.Trainer(pd, Logged(learning_rate=0.1))
    _backward(pd, _coefs(pd))
    tr.step(1)
    assert calls == [0, 1]


def test_adam_three_steps_match_numpy():
    pd = _params(seed=3)
    c = _coefs(pd)
    lr, b1, b2, eps = 0.01, 0.9, 0.999, 1e-8
    tr = gluon.Trainer(pd, "adam", {"learning_rate": lr})
    w = _np(pd)
    m = {k: np.zeros_like(v) for k, v in w.items()}
    v = {k: np.zeros_like(x) for k, x in w.items()}
    for t in range(1, 4):
        _backward(pd, c)
        tr.step(3)
        for k in pd:
            g = c[k] * w[k] / 3
            m[k] = b1 * m[k] + (1 - b1) * g
            v[k] = b2 * v[k] + (1 - b2) * g * g
            lr_t = lr * np.sqrt(1 - b2 ** t) / (1 - b1 ** t)
            w[k] = w[k] - lr_t * m[k] / (np.sqrt(v[k]) + eps)
    _close(pd, w)


def test_allreduce_grads_then_update_equals_step():
    results = []
    for split in (False, True):
        pd = _params()
        c = _coefs(pd)
        tr = gluon.Trainer(pd, "sgd", {"learning_rate": 0.1, "momentum": 0.5})
        for _ in range(2):
            _backward(pd, c)
            if split:
                tr.allreduce_grads()
                tr.update(5)
            else:
                tr.step(5)
        results.append(_np(pd))
    for k in results[0]:
        np.testing.assert_array_equal(results[0][k], results[1][k])


def test_grad_req_add_accumulates_and_null_is_skipped():
    pd = _params()
    pd["a.weight"].grad_req = "add"
    pd["a.bias"].grad_req = "null"
    c = _coefs(pd)
    w0 = _np(pd)
    tr = gluon.Trainer(pd, "sgd", {"learning_rate": 0.1})
    _backward(pd, c, use=["a.weight"])
    _backward(pd, c, use=["a.weight"])
    np.testing.assert_allclose(pd["a.weight"].grad().asnumpy(), 2 * c["a.weight"] * w0["a.weight"],
                               rtol=1e-6)
    tr.step(1)
    _close(pd, {"a.weight": w0["a.weight"] - 0.1 * 2 * c["a.weight"] * w0["a.weight"],
                "a.bias": w0["a.bias"]})
    pd.zero_grad()
    assert not pd["a.weight"].grad().asnumpy().any()


def test_stale_gradient_error_and_ignore_stale_grad():
    pd = _params()
    c = _coefs(pd)
    w0 = _np(pd)
    tr = gluon.Trainer(pd, "sgd", {"learning_rate": 0.1})
    _backward(pd, c, use=["a.weight"])
    msg = (r"Gradient of Parameter `a\.bias` on context cpu\(0\) has not been updated by "
           r"backward since last `step`\. This could mean a bug in your model that made it "
           r"only use a subset of the Parameters \(Blocks\) for this iteration\. If you are "
           r"intentionally only using a subset, call step with ignore_stale_grad=True to "
           r"suppress this warning and skip updating of Parameters with stale gradient")
    with pytest.raises(gluon.trainer.StaleGradientError, match=msg):
        tr.step(1)
    with pytest.raises(UserWarning, match="has not been updated"):   # MXNet's class, too
        tr.step(1)
    _close(pd, w0)                                     # a failed step changes nothing
    tr.step(1, ignore_stale_grad=True)
    _close(pd, {"a.weight": w0["a.weight"] * (1 - 0.1 * c["a.weight"]), "a.bias": w0["a.bias"]})
    with pytest.raises(HybridnetError, match=r"no Parameter has a gradient from backward\(\) "
                                             r"since the last step"):
        tr.step(1)
    tr.step(1, ignore_stale_grad=True)                 # nothing fresh: nothing happens
    _close(pd, {"a.weight": w0["a.weight"] * (1 - 0.1 * c["a.weight"]), "a.bias": w0["a.bias"]})


def test_step_before_any_backward_is_a_clear_error():
    net = gluon.nn.Dense(2, in_units=3)
    net.initialize()
    tr = gluon.Trainer(net.collect_params(), "sgd")
    with pytest.raises(HybridnetError, match=r"no Parameter has a gradient.*call "
                                             r"loss\.backward\(\), then trainer\.step"):
        tr.step(1)


def test_step_with_never_run_deferred_net_names_parameter():
    net = gluon.nn.Dense(2)
    net.initialize()
    tr = gluon.Trainer(net.collect_params(), "sgd")
    with pytest.raises(DeferredInitError, match=r"'bias'.*deferred|'weight'.*deferred"):
        tr.step(1)


# ---- learning rate ---------------------------------------------------------------------
def test_learning_rate_and_set_learning_rate():
    pd = _params()
    c = _coefs(pd)
    tr = gluon.Trainer(pd, "sgd", {"learning_rate": 0.1})
    assert tr.learning_rate == 0.1
    tr.set_learning_rate(0.05)
    assert tr.learning_rate == 0.05
    w0 = _np(pd)
    _backward(pd, c)
    tr.step(1)
    _close(pd, {k: w0[k] * (1 - 0.05 * c[k]) for k in pd})


def test_lr_scheduler_via_optimizer_params():
    pd = _params()
    c = _coefs(pd)
    sched = mx.lr_scheduler.FactorScheduler(step=1, factor=0.5, base_lr=0.2)
    tr = gluon.Trainer(pd, "sgd", {"lr_scheduler": sched})
    w = _np(pd)
    for lr in (0.2, 0.1, 0.05):
        _backward(pd, c)
        tr.step(1)
        w = {k: w[k] * (1 - lr * c[k]) for k in pd}
        assert tr.learning_rate == pytest.approx(lr)
    _close(pd, w)
    with pytest.raises(HybridnetError, match="lr_scheduler"):
        tr.set_learning_rate(1.0)


def test_optimizer_instance_gets_param_dict_for_lr_mult():
    pd = _params()
    pd["a.bias"].lr_mult = 0.0
    c = _coefs(pd)
    w0 = _np(pd)
    tr = gluon.Trainer(pd, mx.optimizer.SGD(learning_rate=0.1))
    _backward(pd, c)
    tr.step(1)
    _close(pd, {"a.weight": w0["a.weight"] * (1 - 0.1 * c["a.weight"]), "a.bias": w0["a.bias"]})


def test_list_of_params_and_shared_param_updated_once():
    pd = _params()
    p = pd["a.weight"]
    c = _coefs(pd)
    w0 = p.data().asnumpy().copy()
    tr = gluon.Trainer([p, p], "sgd", {"learning_rate": 0.1})
    _backward(pd, c, use=["a.weight"])
    tr.step(1)
    np.testing.assert_allclose(p.data().asnumpy(), w0 * (1 - 0.1 * c["a.weight"]), rtol=1e-6)


# ---- constructor errors ------------------------------------------------------------------
def test_constructor_errors():
    pd = _params()
    with pytest.raises(HybridnetError, match="optimizer_params must be None when optimizer is "
                                             "an Optimizer instance"):
        gluon.Trainer(pd, mx.optimizer.SGD(), {"learning_rate": 0.1})
    with pytest.raises(HybridnetError, match=r"ParameterDict \(net\.collect_params\(\)\).*got int"):
        gluon.Trainer(3, "sgd")
    with pytest.raises(HybridnetError, match="only Parameters.*got an element of type str"):
        gluon.Trainer(["w"], "sgd")
    with pytest.raises(HybridnetError, match=r"unknown optimizer 'sgdd'; valid names are \[.*'sgd'"):
        gluon.Trainer(pd, "sgdd")
    with pytest.raises(HybridnetError, match="optimizer must be a name"):
        gluon.Trainer(pd, 42)
    tr = gluon.Trainer(pd, "sgd")
    for bad in (0, -2, "8", True):
        with pytest.raises(HybridnetError, match="batch_size must be a positive number"):
            tr.step(bad)


# ---- states ------------------------------------------------------------------------------
def _run(tr, pd, c, n):
    for _ in range(n):
        _backward(pd, c)
        tr.step(2)


@pytest.mark.parametrize("opt,params", [
    ("adam", {"learning_rate": 0.05}),
    ("sgd", {"learning_rate": 0.1, "momentum": 0.9, "wd": 0.01}),
])
def test_save_load_states_continues_identically(tmp_path, opt, params):
    def make():
        pd = _params(seed=5)
        sched = mx.lr_scheduler.FactorScheduler(step=2, factor=0.5, base_lr=params["learning_rate"])
        return pd, gluon.Trainer(pd, opt, dict(params, lr_scheduler=sched))

    pd, tr = make()
    c = _coefs(pd)
    _run(tr, pd, c, 3)
    f = str(tmp_path / "trainer.states")
    tr.save_states(f)
    with open(f, "rb") as fh:
        assert fh.read(8) == b"HYBTRv1\0"
    saved, lr_at_save = _np(pd), tr.learning_rate
    _run(tr, pd, c, 3)
    expect = _np(pd)

    pd2, tr2 = make()
    for k, p in pd2.items():
        p.set_data(saved[k].astype(np.float32))
    tr2.load_states(f)
    assert tr2.optimizer.num_update == 3
    assert tr2.learning_rate == lr_at_save
    _run(tr2, pd2, c, 3)
    for k in pd:
        np.testing.assert_array_equal(pd2[k].data().asnumpy(), expect[k])


def test_load_states_errors(tmp_path):
    pd = _params()
    c = _coefs(pd)
    tr = gluon.Trainer(pd, "adam")
    _run(tr, pd, c, 1)
    f = tmp_path / "t.states"
    tr.save_states(str(f))
    with pytest.raises(HybridnetError, match=r"holds states of optimizer 'Adam' but this "
                                             r"Trainer uses SGD"):
        gluon.Trainer(pd, "sgd").load_states(str(f))
    with pytest.raises(HybridnetError, match="holds states for 2 parameters but this Trainer "
                                             "has 1"):
        gluon.Trainer([pd["a.weight"]], "adam").load_states(str(f))
    other = _params(shapes=((2, 2), (4,)))
    with pytest.raises(HybridnetError, match=r"saved state of parameter .* has layout"):
        gluon.Trainer(other, "adam").load_states(str(f))
    with pytest.raises(HybridnetIOError, match="no such file"):
        tr.load_states(str(tmp_path / "nope"))
    data = f.read_bytes()
    (tmp_path / "cut").write_bytes(data[:-5])
    with pytest.raises(HybridnetIOError, match="truncated or corrupt"):
        tr.load_states(str(tmp_path / "cut"))
    (tmp_path / "magic").write_bytes(b"\x80\x04pickle" + data[8:])
    with pytest.raises(HybridnetIOError, match="bad magic header"):
        tr.load_states(str(tmp_path / "magic"))
    (tmp_path / "hlen").write_bytes(data[:8] + (10 ** 9).to_bytes(8, "little") + data[16:])
    with pytest.raises(HybridnetIOError, match="header length"):
        tr.load_states(str(tmp_path / "hlen"))
    (tmp_path / "json").write_bytes(data[:16] + b"{" * (len(data) - 16))
    with pytest.raises(HybridnetIOError, match="unreadable JSON header|truncated or corrupt"):
        tr.load_states(str(tmp_path / "json"))
