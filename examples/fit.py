"""The one-line training loop: ``Estimator(...).fit(train_data, val_data, epochs)``.

    python examples/fit.py
    HYBRIDNET_EXAMPLE_QUICK=1 python examples/fit.py   # the tests' reduced size

Keras-style training with ``gluon.contrib.estimator`` (MXNet 1.x API): the
Estimator runs the forward/backward/step loop, updates the metrics, shows a
progress bar per epoch on a terminal (batches, loss, accuracy, samples/s), logs
each epoch, validates on the test set, saves a checkpoint every epoch and stops
early when validation accuracy stops improving. Then the best checkpoint is
loaded into a fresh net and evaluated.

Data: real MNIST when its files are in $HYBRIDNET_HOME/datasets/mnist (or
--data-root, or --download); otherwise an offline stand-in of the same shape,
and the first line of output says which.
"""
import os
import sys
import tempfile

sys.path.insert(0, os.path.dirname(os.path.abspath(__file__)))

import hybridnet as mx  # noqa: E402
from hybridnet import gluon  # noqa: E402
from hybridnet.gluon import nn  # noqa: E402
from hybridnet.gluon.contrib.estimator import (CheckpointHandler,  # noqa: E402
                                               EarlyStoppingHandler, Estimator)

from _common import accuracy, load, loader, parse_args  # noqa: E402


def build_net():
    net = nn.HybridSequential()
    net.add(nn.Dense(128, activation="relu"), nn.Dense(64, activation="relu"), nn.Dense(10))
    return net


def main():
    args = parse_args("Train an MLP with Estimator.fit.", epochs=5, chart=False)
    _, train_xy, test_xy = load(args, flat=True)
    train_data = loader(train_xy, args.batch_size, shuffle=True)
    val_data = loader(test_xy, 1000, shuffle=False)

    mx.random.seed(0)
    net = build_net()
    net.initialize(mx.init.Xavier())
    net.hybridize()
    loss = gluon.loss.SoftmaxCrossEntropyLoss()
    trainer = gluon.Trainer(net.collect_params(), "sgd", {"learning_rate": 0.1,
                                                          "momentum": 0.9})
    est = Estimator(net, loss, train_metrics=[mx.metric.Accuracy(), mx.metric.Loss()],
                    trainer=trainer)

    # Handlers must watch the estimator's own metric objects.
    val_acc = est.val_metrics[0]           # 'validation accuracy'
    model_dir = tempfile.mkdtemp(prefix="hybridnet_fit_")
    handlers = [CheckpointHandler(model_dir, model_prefix="mlp", monitor=val_acc,
                                  save_best=True, max_checkpoints=2),
                EarlyStoppingHandler(monitor=val_acc, patience=2, mode="max")]
    est.fit(train_data, val_data=val_data, epochs=args.epochs, event_handlers=handlers)

    print(f"checkpoints in {model_dir}: {sorted(os.listdir(model_dir))}")
    best = build_net()
    best.load_parameters(os.path.join(model_dir, "mlp-best.params"))
    print(f"best checkpoint reloaded into a fresh net: test accuracy "
          f"{accuracy(best, test_xy):.4f}")


if __name__ == "__main__":
    main()
