"""Training through compiled graphs: eager vs hybridized layers/models step by step,
compile counters, the compiled optimizer update."""
import numpy as np
import pytest

import hybridnet as mx
from hybridnet import autograd, gluon, jit, nd
from hybridnet.gluon import nn


def _mlp():
    net = nn.HybridSequential()
    net.add(nn.Dense(16, activation="relu"), nn.Dense(4))
    return net


def _lenet():
    net = nn.HybridSequential()
    net.add(nn.Conv2D(3, kernel_size=3, padding=1, activation="relu"), nn.MaxPool2D(2),
            nn.Conv2D(4, kernel_size=3, activation="relu"), nn.MaxPool2D(2),
            nn.Flatten(), nn.Dense(8, activation="relu"), nn.Dense(4))
    return net


def _data(shape, n=12, seed=0):
    rng = np.random.default_rng(seed)
    return nd.array(rng.standard_normal((n,) + shape)), nd.array(rng.integers(0, 4, n))


def _train(make, x, y, hybridize, optimizer="sgd", steps=3, **opt):
    mx.random.seed(0)
    net = make()
    net.initialize(mx.init.Xavier())
    loss_fn = gluon.loss.SoftmaxCrossEntropyLoss()
    if hybridize:
        net.hybridize()
        loss_fn.hybridize()
    trainer = gluon.Trainer(net.collect_params(), optimizer, dict(learning_rate=0.1, **opt))
    outs = []
    for _ in range(steps):
        x.attach_grad()
        with autograd.record():
            out = net(x)
            loss = loss_fn(out, y)
        loss.backward()
        outs.append((out.asnumpy(), loss.asnumpy(), x.grad.asnumpy().copy(),
                     {k: p.grad().asnumpy().copy() for k, p in net.collect_params().items()}))
        trainer.step(x.shape[0])
    params = {k: p.data().asnumpy() for k, p in net.collect_params().items()}
    return outs, params, net, trainer


@pytest.mark.parametrize("make,shape", [(_mlp, (10,)), (_lenet, (1, 10, 10))],
                         ids=["mlp", "lenet"])
def test_eager_and_hybridized_training_agree(make, shape):
    x, y = _data(shape)
    e_outs, e_params, _, _ = _train(make, x, y, False)
    h_outs, h_params, net, _ = _train(make, x, y, True)
    for (eo, el, ex, eg), (ho, hl, hx, hg) in zip(e_outs, h_outs):
        np.testing.assert_allclose(eo, ho, rtol=1e-4, atol=1e-5)
        np.testing.assert_allclose(el, hl, rtol=1e-4, atol=1e-5)
        np.testing.assert_allclose(ex, hx, rtol=1e-4, atol=1e-5)
        for k in eg:
            np.testing.assert_allclose(eg[k], hg[k], rtol=1e-4, atol=1e-5, err_msg=k)
    for k in e_params:
        np.testing.assert_allclose(e_params[k], h_params[k], rtol=1e-4, atol=1e-5, err_msg=k)
    assert jit.counters(net) == {"trace_count": 1, "compile_count": 1}


@pytest.mark.parametrize("optimizer,opt", [
    ("sgd", {"momentum": 0.9, "wd": 1e-3}), ("nag", {"momentum": 0.9}),
    ("adam", {"clip_gradient": 0.5}), ("adamw", {"wd": 0.01}), ("rmsprop", {"centered": True}),
    ("adagrad", {}), ("adadelta", {}), ("signum", {"momentum": 0.9})])
def test_compiled_update_matches_eager_optimizer(optimizer, opt):
    x, y = _data((10,))
    _, e_params, _, _ = _train(_mlp, x, y, False, optimizer, **opt)
    _, h_params, _, trainer = _train(_mlp, x, y, True, optimizer, **opt)
    for k in e_params:
        np.testing.assert_allclose(e_params[k], h_params[k], rtol=1e-4, atol=1e-5, err_msg=k)
    fused = list(trainer._fused_cache.values())
    assert len(fused) == 1 and fused[0].compile_count == 1 and fused[0].eager_reason is None


def test_hundred_steps_compile_once_ragged_batch_adds_one_scheduler_adds_none():
    x, y = _data((10,), n=40)
    net = _mlp()
    net.initialize()
    net.hybridize()
    loss_fn = gluon.loss.SoftmaxCrossEntropyLoss()
    sched = mx.lr_scheduler.FactorScheduler(step=10, factor=0.9, base_lr=0.1)
    trainer = gluon.Trainer(net.collect_params(), "sgd", {"lr_scheduler": sched,
                                                          "momentum": 0.9})
    lrs = []
    for step in range(100):
        bs = 32 if step % 10 else 8          # a ragged batch every 10 steps
        with autograd.record():
            loss = loss_fn(net(x[:bs]), y[:bs])
        loss.backward()
        trainer.step(bs)
        lrs.append(trainer.learning_rate)
    assert len(set(lrs)) > 5                 # the schedule really changed the rate
    assert jit.counters(net) == {"trace_count": 2, "compile_count": 2}
    fused = list(trainer._fused_cache.values())
    assert len(fused) == 1 and fused[0].compile_count == 1


def test_hybridized_training_reaches_eager_accuracy():
    rng = np.random.default_rng(0)
    xs = rng.standard_normal((256, 10)).astype(np.float32)
    labels = (xs[:, :4].argmax(axis=1)).astype(np.float32)
    x, y = nd.array(xs), nd.array(labels)
    accs = []
    for hyb in (False, True):
        mx.random.seed(1)
        net = _mlp()
        net.initialize(mx.init.Xavier())
        if hyb:
            net.hybridize()
        loss_fn = gluon.loss.SoftmaxCrossEntropyLoss()
        trainer = gluon.Trainer(net.collect_params(), "adam", {"learning_rate": 0.02})
        for _ in range(60):
            with autograd.record():
                loss = loss_fn(net(x), y)
            loss.backward()
            trainer.step(256)
        accs.append(float((net(x).argmax(axis=1) == y).mean().asscalar()))
    assert accs[0] >= 0.95 and abs(accs[0] - accs[1]) < 0.01


def test_no_runtime_allocations_after_warm_up():
    x, y = _data((10,), n=16)
    net = _mlp()
    net.initialize()
    net.hybridize()
    loss_fn = gluon.loss.SoftmaxCrossEntropyLoss()
    loss_fn.hybridize()
    trainer = gluon.Trainer(net.collect_params(), "sgd", {"learning_rate": 0.1})
    for step in range(110):
        if step == 10:
            before = jit.stats()["allocations"]
        with autograd.record():
            loss = loss_fn(net(x), y)
        loss.backward()
        trainer.step(16)
    assert jit.stats()["allocations"] == before


def test_outputs_kept_by_the_caller_are_never_overwritten():
    net = _mlp()
    net.initialize()
    net.hybridize()
    x = nd.ones((3, 10))
    kept = [net(x * i) for i in range(6)]           # more live outputs than the ring holds
    for i, out in enumerate(kept):
        np.testing.assert_allclose(out.asnumpy(), net(x * i).asnumpy(), rtol=1e-6)
