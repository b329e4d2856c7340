"""One epoch of the classic MNIST input pipeline (issue 4).

60,000 MNIST-shaped uint8 images (synthetic, held in memory by an
ArrayDataset) go through
``transform_first(Compose([ToTensor(), Normalize(0.13, 0.31)]))`` and
``DataLoader(batch_size=128, shuffle=True)`` with ``num_workers`` 0 and 2,
consuming every batch. ``path="batched"`` is what users get (the transform runs
on whole stacked batches, see ``gluon/data/dataset.py``); ``path="per_sample"``
hides the dataset's batch hook so every image is read and transformed alone,
as a plain Gluon loop would. Variants are interleaved within each repeat with
a pause between repeats; median and minimum are reported (DESIGN.md section 5b).

Target: loading an epoch takes less time than a hybridized MLP training epoch
on the same data (DESIGN.md section 6: PyTorch eager 0.50 s, MXNet 0.94 s).
"""
import json
import statistics
import sys
import time
from pathlib import Path

import numpy as np

N, BATCH, REPEATS, PAUSE_S = 60000, 128, 3, 0.5


class _PerSample:
    """The same dataset without its batch hook: forces the per-sample path."""

    def __init__(self, ds):
        self._ds = ds

    def __len__(self):
        return len(self._ds)

    def __getitem__(self, i):
        return self._ds[i]


def _variants():
    from hybridnet.gluon.data import ArrayDataset, DataLoader
    from hybridnet.gluon.data.vision import transforms

    rng = np.random.default_rng(0)
    images = rng.integers(0, 256, (N, 28, 28, 1), dtype=np.uint8)
    labels = rng.integers(0, 10, N).astype(np.int32)
    ds = ArrayDataset(images, labels).transform_first(
        transforms.Compose([transforms.ToTensor(), transforms.Normalize(0.13, 0.31)]))
    out = {}
    for path, d in (("batched", ds), ("per_sample", _PerSample(ds))):
        for workers in (0, 2):
            out[(path, workers)] = DataLoader(d, batch_size=BATCH, shuffle=True,
                                              num_workers=workers)
    return out


def _epoch(loader):
    t = time.perf_counter()
    n = 0
    for data, label in loader:
        n += data.shape[0]
    dt = time.perf_counter() - t
    assert n == N and data.dtype == np.float32 and label.dtype == np.int32
    return dt


def run():
    """Yield one dict per (path, num_workers): seconds per epoch, median and min."""
    variants = _variants()
    times = {k: [] for k in variants}
    for k, loader in variants.items():  # warm-up: page in the data, import everything
        if k[0] == "batched":
            _epoch(loader)
    for _ in range(REPEATS):
        for k, loader in variants.items():
            times[k].append(_epoch(loader))
        time.sleep(PAUSE_S)
    for (path, workers), ts in times.items():
        yield {"bench": "data_epoch", "path": path, "num_workers": workers,
               "images": N, "batch_size": BATCH, "seconds": round(statistics.median(ts), 4),
               "min_seconds": round(min(ts), 4), "repeats": len(ts)}


if __name__ == "__main__":
    sys.path.insert(0, str(Path(__file__).resolve().parent.parent))
    for row in run():
        print(json.dumps(row), flush=True)
