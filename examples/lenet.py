"""The classic LeNet on MNIST, trained eagerly and then hybridized.

    python examples/lenet.py                        # 2 epochs each on 20,000 images
    python examples/lenet.py --epochs 1 --limit 0   # one epoch on all 60,000
    HYBRIDNET_EXAMPLE_QUICK=1 python examples/lenet.py   # the tests' reduced size

Model (DESIGN.md section 6): conv 6@3x3 pad 1 (relu), maxpool 2, conv 16@5x5
(relu), maxpool 2, dense 120 (relu), 84 (relu), 10; SoftmaxCrossEntropyLoss,
SGD lr 0.1, batch 128. As in mnist_mlp.py, the same loop runs eagerly and then
after ``net.hybridize()`` from the same initial weights, printing each epoch's
average loss and time, both test accuracies, the epoch-time ratio, and a chart.

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
    net.add(nn.Conv2D(channels=6, kernel_size=3, padding=1, activation="relu"),
            nn.MaxPool2D(pool_size=2, strides=2),
            nn.Conv2D(channels=16, kernel_size=5, activation="relu"),
            nn.MaxPool2D(pool_size=2, strides=2),
            nn.Flatten(),
            nn.Dense(120, activation="relu"),
            nn.Dense(84, activation="relu"),
            nn.Dense(10))
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
    args = parse_args("Train LeNet on MNIST eagerly and hybridized.", epochs=2, limit=20000)
    _, train_xy, test_xy = load(args, flat=False)
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
    chart(args, "lenet", "LeNet on MNIST: epoch time",
          results["eager"]["times"], results["hybridized"]["times"])


if __name__ == "__main__":
    main()
