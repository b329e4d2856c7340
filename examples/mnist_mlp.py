"""The classic Gluon MNIST MLP, trained eagerly and then hybridized.

    python examples/mnist_mlp.py                    # 3 epochs each on all of MNIST
    python examples/mnist_mlp.py --epochs 1 --limit 2000
    HYBRIDNET_EXAMPLE_QUICK=1 python examples/mnist_mlp.py   # the tests' reduced size

Model: Dense(256, relu) -> Dense(10), SoftmaxCrossEntropyLoss, SGD lr 0.1, batch 128.
The same program runs twice from the same initial weights: first eagerly (every op
runs as NumPy right away, recorded on the autograd tape), then after
``net.hybridize()``, which traces the forward once into a graph, fuses it and
compiles it with Numba (the backward and the SGD update too). It prints each
epoch's average loss and time, both test accuracies and the epoch-time ratio,
and writes a chart of the epoch times next to this file.

Data: real MNIST when its files are in $HYBRIDNET_HOME/datasets/mnist (or
--data-root, or --download); otherwise an offline stand-in of the same shape,
and the first line of output says which.
"""
import os
import sys
import time

sys.path.insert(0, os.path.dirname(os.path.abspath(__file__)))

import hybridnet as mx  # noqa: E402
from hybridnet import autograd, gluon  # noqa: E402
from hybridnet.gluon import nn  # noqa: E402

from _common import accuracy, chart, compare, load, loader, parse_args  # noqa: E402


def build_net():
    net = nn.HybridSequential()
    with net.name_scope():            # Gluon 1.x style; accepted, names are structural
        net.add(nn.Dense(256, activation="relu"))
        net.add(nn.Dense(10))
    return net


def train(net, train_loader, epochs, tag):
    """The plain Gluon training loop. Returns epoch times and the first step's time."""
    loss_fn = gluon.loss.SoftmaxCrossEntropyLoss()
    trainer = gluon.Trainer(net.collect_params(), "sgd", {"learning_rate": 0.1})
    times, first_step = [], None
    for epoch in range(epochs):
        total, count = 0.0, 0
        tic = time.perf_counter()
        for data, label in train_loader:
            with autograd.record():
                loss = loss_fn(net(data), label)
            loss.backward()
            trainer.step(data.shape[0])
            total += loss.sum().asscalar()
            count += data.shape[0]
            if first_step is None:
                first_step = time.perf_counter() - tic
        times.append(time.perf_counter() - tic)
        print(f"[{tag}] epoch {epoch + 1}, avg loss {total / count:.4f}, "
              f"time {times[-1]:.2f} s")
    return {"times": times, "first_step": first_step}


def main():
    args = parse_args("Train the Gluon MNIST MLP eagerly and hybridized.", epochs=3)
    _, train_xy, test_xy = load(args, flat=True)
    results = {}
    for tag in ("eager", "hybridized"):
        mx.random.seed(42)            # same initial weights and batch order for both runs
        net = build_net()
        net.initialize(mx.init.Xavier())
        if tag == "hybridized":
            net.hybridize()
        print(f"-- training {tag} --")
        results[tag] = train(net, loader(train_xy, args.batch_size, shuffle=True),
                             args.epochs, tag)
        results[tag]["accuracy"] = accuracy(net, test_xy)
        print(f"[{tag}] test accuracy {results[tag]['accuracy']:.4f}")
    compare(results["eager"], results["hybridized"])
    chart(args, "mnist_mlp", "MNIST MLP 784-256-10: epoch time",
          results["eager"]["times"], results["hybridized"]["times"])


if __name__ == "__main__":
    main()
