"""The compiled optimizer update's step plan (hybridnet.jit.update._StepPlan): reused
step after step, and left for the general path whenever something it relies on
changed (new parameter arrays, a structural hyper-parameter, a subset of parameters)
— always giving the eager optimizer's weights."""
import numpy as np

import hybridnet as mx
from hybridnet import autograd, gluon, nd
from hybridnet.gluon import nn


def _setup(hybridize, **opt):
    mx.random.seed(0)
    net = nn.HybridSequential()
    net.add(nn.Dense(6, activation="relu", in_units=5), nn.Dense(3, in_units=6))
    net.initialize(mx.init.Xavier())
    if hybridize:
        net.hybridize()
    trainer = gluon.Trainer(net.collect_params(), "sgd", dict(learning_rate=0.1, **opt))
    return net, trainer


def _step(net, trainer, x, y, **kw):
    loss_fn = gluon.loss.SoftmaxCrossEntropyLoss()
    with autograd.record():
        loss = loss_fn(net(x), y)
    loss.backward()
    trainer.step(x.shape[0], **kw)


def _params(net):
    return [p.data().asnumpy().copy() for p in net.collect_params().values()]


def _both(script, **opt):
    """Run ``script(net, trainer, step)`` eagerly and hybridized; parameters after it."""
    rng = np.random.default_rng(0)
    x = nd.array(rng.standard_normal((8, 5)).astype(np.float32))
    y = nd.array(rng.integers(0, 3, 8).astype(np.float32))
    out = []
    for hyb in (False, True):
        net, trainer = _setup(hyb, **opt)
        script(net, trainer, lambda **kw: _step(net, trainer, x, y, **kw))
        out.append((_params(net), trainer))
    (e, _), (h, trainer) = out
    for a, b in zip(e, h):
        np.testing.assert_allclose(a, b, rtol=1e-5, atol=1e-6)
    return trainer


def test_plan_is_built_once_and_reused():
    seen = []

    def script(net, trainer, step):
        for _ in range(5):
            step()
            cache = trainer._fused_cache
            seen.append(None if cache is None else cache.plan)
    trainer = _both(script, momentum=0.9, wd=1e-3)
    plans = seen[5:]                    # the hybridized run's plans
    assert plans[0] is not None and all(p is plans[0] for p in plans)
    assert len(trainer._fused_cache) == 1


def test_new_parameter_arrays_leave_the_plan():
    def script(net, trainer, step):
        step()
        step()
        arrays = [p.data()._data for p in net.collect_params().values()]
        mx.random.seed(5)                            # new arrays (set_data writes in place)
        net.initialize(mx.init.Uniform(0.3), force_reinit=True)
        assert all(p.data()._data is not a for p, a in zip(net.collect_params().values(),
                                                           arrays))
        step()
        step()
    _both(script, momentum=0.9)


def test_structural_hyper_change_leaves_the_plan():
    def script(net, trainer, step):
        step()
        step()
        trainer.optimizer.clip_gradient = 0.01       # None -> a number: another graph
        step()
        trainer.optimizer.clip_gradient = None
        step()
    trainer = _both(script)
    assert len(trainer._fused_cache) == 2            # one graph per structure, reused


def test_scheduler_and_lr_mult_reach_the_planned_step():
    def script(net, trainer, step):
        step()
        step()
        trainer.set_learning_rate(0.05)
        list(net.collect_params().values())[0].lr_mult = 3.0
        step()
        step()
    _both(script)


def test_stale_subset_leaves_the_plan():
    rng = np.random.default_rng(1)
    x = nd.array(rng.standard_normal((4, 5)).astype(np.float32))

    def script(net, trainer, step):
        step()
        step()
        # only the first layer gets a gradient this time
        with autograd.record():
            loss = net[0](x).sum()
        loss.backward()
        trainer.step(4, ignore_stale_grad=True)
        step()
    _both(script)
