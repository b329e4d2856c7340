"""End-to-end training: a small MLP and a small CNN learn synthetic tasks with
SoftmaxCrossEntropyLoss + Trainer (loss falls >= 10x, accuracy >= 95%)."""
import numpy as np

import hybridnet as mx
from hybridnet import autograd, gluon, nd
from hybridnet.gluon import nn


def _clusters(n=512, d=8, k=4, sample_seed=0):
    """k well-separated Gaussian clusters in d dimensions (fixed centers)."""
    centers = np.random.default_rng(123).standard_normal((k, d)) * 2.5
    rng = np.random.default_rng(sample_seed)
    y = rng.integers(0, k, n)
    x = centers[y] + rng.standard_normal((n, d)) * 0.7
    return x.astype(np.float32), y.astype(np.float32)


def _bars(n=384, size=8, seed=0):
    """8x8 images with one bright bar: horizontal (0), vertical (1) or diagonal (2),
    at a random position, plus noise."""
    rng = np.random.default_rng(seed)
    y = rng.integers(0, 3, n)
    x = rng.normal(0, 0.3, (n, 1, size, size))
    for i, c in enumerate(y):
        r = rng.integers(1, size - 1)
        if c == 0:
            x[i, 0, r, 1:size - 1] += 1.0
        elif c == 1:
            x[i, 0, 1:size - 1, r] += 1.0
        else:
            s = rng.integers(-2, 3)
            for j in range(size):
                if 0 <= j + s < size:
                    x[i, 0, j, j + s] += 1.0
    return x.astype(np.float32), y.astype(np.float32)


def _mean_loss(net, loss_fn, x, y):
    return float(loss_fn(net(nd.array(x)), nd.array(y)).mean().asscalar())


def _accuracy(net, x, y):
    pred = net(nd.array(x)).asnumpy().argmax(axis=1)
    return float((pred == y).mean())


def _train(net, trainer, x, y, epochs, batch_size, seed=0):
    loss_fn = gluon.loss.SoftmaxCrossEntropyLoss()
    rng = np.random.default_rng(seed)
    first = _mean_loss(net, loss_fn, x, y)
    for _ in range(epochs):
        order = rng.permutation(len(x))
        for s in range(0, len(x), batch_size):
            idx = order[s:s + batch_size]
            data, label = nd.array(x[idx]), nd.array(y[idx])
            with autograd.record():
                loss = loss_fn(net(data), label)
            loss.backward()
            trainer.step(len(idx))
    return first, _mean_loss(net, loss_fn, x, y)


def test_mlp_learns_clusters_with_sgd():
    mx.random.seed(0)
    x, y = _clusters()
    net = nn.Sequential()
    net.add(nn.Dense(32, activation="relu"), nn.Dense(4))
    net.initialize(mx.init.Xavier())
    trainer = gluon.Trainer(net.collect_params(), "sgd", {"learning_rate": 0.1,
                                                          "momentum": 0.9})
    first, last = _train(net, trainer, x, y, epochs=15, batch_size=32)
    print(f"loss {first:.3f} -> {last:.4f}")
    assert last * 10 <= first, (first, last)
    assert _accuracy(net, x, y) >= 0.95
    xt, yt = _clusters(n=256, sample_seed=1)
    assert _accuracy(net, xt, yt) >= 0.95        # generalizes to fresh samples


def test_cnn_learns_bar_orientation_with_adam():
    mx.random.seed(0)
    x, y = _bars()
    net = nn.HybridSequential()
    net.add(nn.Conv2D(8, kernel_size=3, padding=1, activation="relu"),
            nn.MaxPool2D(pool_size=2),
            nn.Flatten(),
            nn.Dense(3))
    net.initialize(mx.init.Xavier())
    trainer = gluon.Trainer(net.collect_params(), "adam", {"learning_rate": 0.01})
    first, last = _train(net, trainer, x, y, epochs=12, batch_size=32)
    print(f"loss {first:.3f} -> {last:.4f}")
    assert last * 10 <= first, (first, last)
    assert _accuracy(net, x, y) >= 0.95
    xt, yt = _bars(n=192, seed=1)
    assert _accuracy(net, xt, yt) >= 0.95
