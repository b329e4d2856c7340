"""Plumbing shared by the examples: arguments, data loaders, accuracy, the chart.

The examples keep the model and the training loop in their own file (that is
what they teach); everything else lives here.
"""
import argparse
import os
import statistics

import numpy as np

import hybridnet as mx
from hybridnet import gluon

from _data import as_float, load_mnist

QUICK_ENV = "HYBRIDNET_EXAMPLE_QUICK"


def quick():
    """True when HYBRIDNET_EXAMPLE_QUICK=1: the reduced size the tests use."""
    return os.environ.get(QUICK_ENV, "").strip().lower() in ("1", "true", "yes")


def parse_args(description, epochs, limit=None, test_limit=None, chart=True):
    """Common arguments. With HYBRIDNET_EXAMPLE_QUICK=1 the defaults shrink to 1 epoch
    on 2,000 training / 500 test images."""
    if quick():
        epochs, limit, test_limit = 1, 2000, 500
    p = argparse.ArgumentParser(description=description)
    p.add_argument("--epochs", type=int, default=epochs, help=f"epochs (default {epochs})")
    p.add_argument("--limit", type=int, default=limit,
                   help="use only the first N training images (default: all)")
    p.add_argument("--test-limit", type=int, default=test_limit,
                   help="use only the first N test images (default: all)")
    p.add_argument("--batch-size", type=int, default=128)
    p.add_argument("--data-root", default=None,
                   help="folder with the MNIST IDX files (default $HYBRIDNET_HOME/datasets/mnist)")
    p.add_argument("--download", action="store_true",
                   help="download MNIST when missing (needs the network)")
    if chart:
        p.add_argument("--out-dir", default=os.path.dirname(os.path.abspath(__file__)),
                       help="where to write the PNG chart (default: next to the example)")
        p.add_argument("--no-chart", action="store_true", help="do not write the chart")
    args = p.parse_args()
    if args.limit == 0:
        args.limit = None
    return args


def load(args, flat):
    """(data, train (X, y), test (X, y)) with X normalised float32 and y float32 labels.
    Prints which data source was used."""
    data = load_mnist(args.limit, args.test_limit, root=args.data_root, download=args.download)
    print(f"data: {data.source}")
    print(f"      {len(data.train_labels)} training and {len(data.test_labels)} test images")
    train = (as_float(data.train_images, flat), data.train_labels.astype(np.float32))
    test = (as_float(data.test_images, flat), data.test_labels.astype(np.float32))
    return data, train, test


def loader(xy, batch_size, shuffle):
    """A Gluon DataLoader over arrays held in memory."""
    return gluon.data.DataLoader(gluon.data.ArrayDataset(*xy), batch_size=batch_size,
                                 shuffle=shuffle)


def accuracy(net, xy, batch_size=1000):
    """Top-1 accuracy of ``net`` on (X, y) in prediction mode."""
    metric = mx.metric.Accuracy()
    for data, label in loader(xy, batch_size, shuffle=False):
        metric.update([label], [net(data)])
    return metric.get()[1]


def steady(times):
    """Median epoch time, leaving out the first epoch when there are more (it pays
    for tracing/compiling in the hybridized run)."""
    return statistics.median(times[1:] if len(times) > 1 else times)


def compare(eager, hybrid):
    """Print the eager / hybridized epoch-time ratio."""
    e, h = steady(eager["times"]), steady(hybrid["times"])
    which = "median of epochs 2+" if len(hybrid["times"]) > 1 else "one epoch, incl. compile"
    print(f"epoch time ({which}): eager {e:.2f} s, hybridized {h:.2f} s -> "
          f"eager/hybridized ratio {e / h:.2f} (>1 means hybridize() made training faster)")
    print(f"first training step: eager {eager['first_step']*1e3:.0f} ms, hybridized "
          f"{hybrid['first_step']*1e3:.0f} ms (tracing + compiling, or loading the kernel "
          "cache)")


def chart(args, name, title, eager_times, hybrid_times):
    """Write ``<out-dir>/<name>_epoch_times.png`` (eager vs hybridized), if matplotlib is
    importable; otherwise say that the chart was skipped."""
    if args.no_chart:
        print("chart: skipped (--no-chart)")
        return None
    try:
        import matplotlib
        matplotlib.use("Agg")
        import matplotlib.pyplot as plt
    except ImportError:
        print("chart: skipped, matplotlib is not installed "
              "(pip install -e '.[examples]' or pip install matplotlib)")
        return None
    epochs = np.arange(1, len(eager_times) + 1)
    fig, ax = plt.subplots(figsize=(6, 3.5))
    w = 0.38
    ax.bar(epochs - w / 2, eager_times, w, label="eager")
    ax.bar(epochs + w / 2, hybrid_times, w, label="hybridized")
    ax.set_xlabel("epoch")
    ax.set_ylabel("seconds")
    ax.set_xticks(epochs)
    ax.set_xlim(0.4, len(epochs) + 0.6)
    ax.set_title(title)
    ax.legend()
    fig.tight_layout()
    os.makedirs(args.out_dir, exist_ok=True)
    path = os.path.join(args.out_dir, f"{name}_epoch_times.png")
    fig.savefig(path, dpi=100)
    plt.close(fig)
    print(f"chart: wrote {path}")
    return path
