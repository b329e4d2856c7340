"""A custom ``autograd.Function`` inside a model: sign() with a straight-through gradient.

    python examples/custom_function.py
    HYBRIDNET_EXAMPLE_QUICK=1 python examples/custom_function.py   # the tests' reduced size

``sign(x)`` has a zero gradient almost everywhere, so a network with sign
activations cannot learn through plain autograd. The straight-through estimator
(Bengio et al. 2013; used by binarized networks) pretends the forward was the
identity inside [-1, 1]: backward passes the gradient where |x| <= 1 and blocks
it outside. ``autograd.Function`` lets us write exactly that: ``forward`` and
``backward`` by hand, with ``save_for_backward`` to keep ``x``.

The model is Dense(256) -> BatchNorm -> SignSTE -> Dense(10): its hidden units
are binary (+1/-1). We check the gradient on a few numbers, train it on MNIST,
and then hybridize it: the Dense and BatchNorm layers compile, while the custom
Function (Python code hybridize() cannot see into) stays eager between them.
"""
import os
import sys
import time

sys.path.insert(0, os.path.dirname(os.path.abspath(__file__)))

import hybridnet as mx  # noqa: E402
from hybridnet import autograd, gluon, nd  # noqa: E402
from hybridnet.gluon import nn  # noqa: E402

from _common import accuracy, load, loader, parse_args  # noqa: E402


class SignSTE(autograd.Function):
    """y = sign(x); dy/dx = 1 where |x| <= 1, else 0 (straight-through estimator)."""

    def forward(self, x):
        self.save_for_backward(x)
        return nd.sign(x)

    def backward(self, dy):
        (x,) = self.saved_tensors
        return dy * (nd.abs(x) <= 1)


class BinaryMLP(gluon.Block):
    """A plain Block: its HybridBlock children compile under hybridize(), the Function
    between them runs eagerly."""

    def __init__(self):
        super().__init__()
        self.hidden = nn.Dense(256)
        self.norm = nn.BatchNorm()
        self.out = nn.Dense(10)

    def forward(self, x):
        h = self.norm(self.hidden(x))
        return self.out(SignSTE()(h))     # a fresh Function object per call, as in MXNet


def check_gradient():
    x = nd.array([-2.0, -0.5, 0.0, 0.3, 1.0, 1.5])
    x.attach_grad()
    with autograd.record():
        y = SignSTE()(x)
    y.backward()
    fmt = lambda a: "[" + ", ".join(f"{v:g}" for v in a.asnumpy()) + "]"  # noqa: E731
    print(f"SignSTE forward:  x = {fmt(x)} -> sign(x) = {fmt(y)}")
    print(f"SignSTE backward: dy/dx = {fmt(x.grad)} (1 inside [-1, 1], else 0)")


def train(net, train_loader, epochs, tag):
    loss_fn = gluon.loss.SoftmaxCrossEntropyLoss()
    trainer = gluon.Trainer(net.collect_params(), "adam", {"learning_rate": 0.003})
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
        print(f"[{tag}] epoch {epoch + 1}, avg loss {total / count:.4f}, "
              f"time {time.perf_counter() - tic:.2f} s")


def main():
    args = parse_args("A custom autograd.Function (sign with a straight-through gradient) "
                      "inside a model.", epochs=2, limit=20000, test_limit=5000, chart=False)
    check_gradient()
    _, train_xy, test_xy = load(args, flat=True)
    train_loader = loader(train_xy, args.batch_size, shuffle=True)
    mx.random.seed(0)
    net = BinaryMLP()
    net.initialize(mx.init.Xavier())
    train(net, train_loader, args.epochs, "eager")
    print(f"[eager] test accuracy {accuracy(net, test_xy):.4f} (hidden units are +1/-1)")
    net.hybridize()                   # Dense/BatchNorm compile; SignSTE stays Python
    train(net, train_loader, 1, "hybridized children")
    print(f"[hybridized children] test accuracy {accuracy(net, test_xy):.4f}")


if __name__ == "__main__":
    main()
