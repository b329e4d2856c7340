"""Training and inference speed: hybridnet eager vs hybridized vs PyTorch eager.

Measures (DESIGN.md section 6; issues 3 and 5):
- ``mlp_epoch`` / ``lenet_epoch``: one training epoch of MLP 784-256-10 and of
  LeNet (conv 6@3x3 pad 1, pool 2, conv 16@5x5, pool 2, fc 120, 84, 10) on
  60,000 MNIST-shaped float32 images held in memory, batch 128, SGD lr 0.1,
  timing the training loop only; variants eager, hybridized, torch_eager and
  torch_eager_1thread (when torch imports; hybridnet pins BLAS to one thread) and,
  for the MLP, numpy_gemm_floor (the step's five float32 GEMMs alone) and
  numpy_handwritten_step (the whole step written by hand in NumPy). Variants
  are interleaved, one epoch each per repeat, with a pause between them.
- ``mlp_cold_start``: ``hybridize()`` + first training step in a fresh process with
  an empty kernel cache (cold), then again with the cache filled (warm); torch eager's
  first step for comparison.
- ``mlp_infer_batch1``: MLP inference on one image, us per call.
- ``one_op_block``: a HybridBlock whose forward is one relu, us per call.
- ``gemm_threads``: what a second thread buys this machine on the MLP's big GEMM
  (128x784 @ 784x256 float32): one BLAS thread, two BLAS threads, and two Python
  threads each running one-thread GEMMs at once (throughput). It is why hybridnet
  pins BLAS to one thread (DESIGN.md section 5b) and what bounds the PyTorch ratio.

    python benchmarks/run.py training                       # full size
    HYBRIDNET_BENCH_QUICK=1 python benchmarks/run.py training   # reduced sizes
    python benchmarks/bench_training.py --quick             # same, without run.py's header
    python benchmarks/bench_training.py --chart run.jsonl chart.png   # chart a run's output

Reduced sizes (quick, or HYBRIDNET_BENCH_MLP_IMAGES / HYBRIDNET_BENCH_LENET_IMAGES)
time fewer images and report the time scaled to 60,000 images ("extrapolated": true).
"""
import json
import os
import statistics
import subprocess
import sys
import tempfile
import time
import timeit
from pathlib import Path

import numpy as np

ROOT = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(Path(__file__).resolve().parent))
from numpy_refs import _gemm_floor_fn, _numpy_step_fn, gemm_threads  # noqa: E402
EPOCH_IMAGES, BATCH, LR = 60000, 128, 0.1


def _quick():
    return os.environ.get("HYBRIDNET_BENCH_QUICK", "").strip().lower() in ("1", "true", "yes")


def _sizes():
    q = _quick()
    return {"mlp_images": int(os.environ.get("HYBRIDNET_BENCH_MLP_IMAGES",
                                             12800 if q else EPOCH_IMAGES)),
            "lenet_images": int(os.environ.get("HYBRIDNET_BENCH_LENET_IMAGES",
                                               3200 if q else EPOCH_IMAGES)),
            "repeats": int(os.environ.get("HYBRIDNET_BENCH_REPEATS", 2 if q else 3)),
            # MLP epochs take ~1 s and this machine is noisy: more repeats for a stable median
            "mlp_repeats": int(os.environ.get("HYBRIDNET_BENCH_REPEATS", 2 if q else 7))}


def _torch():
    try:
        import torch
        return torch
    except ImportError:
        return None


# ---- models --------------------------------------------------------------------------
def hn_mlp():
    from hybridnet.gluon import nn
    net = nn.HybridSequential()
    net.add(nn.Dense(256, activation="relu", in_units=784), nn.Dense(10, in_units=256))
    return net


def hn_lenet():
    from hybridnet.gluon import nn
    net = nn.HybridSequential()
    net.add(nn.Conv2D(6, 3, padding=1, activation="relu", in_channels=1), nn.MaxPool2D(2),
            nn.Conv2D(16, 5, activation="relu", in_channels=6), nn.MaxPool2D(2), nn.Flatten(),
            nn.Dense(120, activation="relu", in_units=400),
            nn.Dense(84, activation="relu", in_units=120), nn.Dense(10, in_units=84))
    return net


def torch_mlp(torch):
    tn = torch.nn
    return tn.Sequential(tn.Linear(784, 256), tn.ReLU(), tn.Linear(256, 10))


def torch_lenet(torch):
    tn = torch.nn
    return tn.Sequential(tn.Conv2d(1, 6, 3, padding=1), tn.ReLU(), tn.MaxPool2d(2),
                         tn.Conv2d(6, 16, 5), tn.ReLU(), tn.MaxPool2d(2), tn.Flatten(),
                         tn.Linear(400, 120), tn.ReLU(), tn.Linear(120, 84), tn.ReLU(),
                         tn.Linear(84, 10))


# ---- one epoch per variant -------------------------------------------------------------
def _data(n, shape, seed=0):
    rng = np.random.default_rng(seed)
    x = rng.standard_normal((n,) + shape, dtype=np.float32)
    y = rng.integers(0, 10, n).astype(np.float32)
    return [(x[i:i + BATCH], y[i:i + BATCH]) for i in range(0, n, BATCH)]


def _hn_epoch_fn(build, batches, hybridize):
    import hybridnet as mx
    from hybridnet import autograd, gluon, nd
    mx.random.seed(0)
    net = build()
    net.initialize(mx.init.Xavier())
    if hybridize:
        net.hybridize()
    loss_fn = gluon.loss.SoftmaxCrossEntropyLoss()
    trainer = gluon.Trainer(net.collect_params(), "sgd", {"learning_rate": LR})
    data = [(nd.array(x), nd.array(y)) for x, y in batches]

    def epoch(steps=None):
        for x, y in (data if steps is None else steps):
            with autograd.record():
                loss = loss_fn(net(x), y)
            loss.backward()
            trainer.step(x.shape[0])
        nd.waitall()
        return float(loss.mean().asscalar())
    # warm up on the first and the (possibly ragged) last batch shape: compiles both
    epoch([data[0], data[-1]])
    return epoch


def _torch_epoch_fn(torch, build, batches):
    torch.manual_seed(0)
    net = build(torch)
    opt = torch.optim.SGD(net.parameters(), lr=LR)
    loss_fn = torch.nn.CrossEntropyLoss()
    data = [(torch.from_numpy(x.copy()), torch.from_numpy(y).long()) for x, y in batches]

    def epoch(steps=None):
        for x, y in (data if steps is None else steps):
            opt.zero_grad(set_to_none=True)
            loss = loss_fn(net(x), y)
            loss.backward()
            opt.step()
        return float(loss.detach())
    epoch([data[0], data[-1]])
    return epoch


def _one_thread(torch, fn):
    """Run ``fn`` with torch on one intra-op thread, as hybridnet pins its BLAS: on 2
    busy cores, 2-thread GEMMs can collapse (DESIGN.md section 5b)."""
    def epoch(steps=None):
        n = torch.get_num_threads()
        torch.set_num_threads(1)
        try:
            return fn(steps)
        finally:
            torch.set_num_threads(n)
    return epoch


def _epochs(measure, variants, n_images, repeats, pause_s=0.5):
    """Interleave one epoch of each variant per repeat; yield a row per variant."""
    samples = {k: [] for k in variants}
    losses = {}
    for _ in range(repeats):
        for name, fn in variants.items():
            t = time.perf_counter()
            losses[name] = fn()
            samples[name].append(time.perf_counter() - t)
            time.sleep(pause_s)
    scale = EPOCH_IMAGES / n_images
    ref = statistics.median(samples["torch_eager"]) if "torch_eager" in samples else None
    for name, s in samples.items():
        med = statistics.median(s) * scale
        row = {"measure": measure, "variant": name, "unit": "s per epoch (60,000 images)",
               "median": round(med, 3), "min": round(min(s) * scale, 3),
               "repeats": repeats, "images_timed": n_images, "batch": BATCH,
               "extrapolated": n_images != EPOCH_IMAGES, "last_loss": round(losses[name], 4)}
        if ref:
            row["x_torch_eager"] = round(med / (ref * scale), 2)
        yield row


def mlp_epoch(n_images, repeats):
    batches = _data(n_images, (784,))
    variants = {"eager": _hn_epoch_fn(hn_mlp, batches, False),
                "hybridized": _hn_epoch_fn(hn_mlp, batches, True)}
    torch = _torch()
    if torch is not None:
        variants["torch_eager"] = _torch_epoch_fn(torch, torch_mlp, batches)
        variants["torch_eager_1thread"] = _one_thread(
            torch, _torch_epoch_fn(torch, torch_mlp, batches))
    variants["numpy_gemm_floor"] = _gemm_floor_fn(batches)
    variants["numpy_handwritten_step"] = _numpy_step_fn(batches, LR)
    rows = list(_epochs("mlp_epoch", variants, n_images, repeats))
    floor = next(r["median"] for r in rows if r["variant"] == "numpy_gemm_floor")
    eager = next(r["median"] for r in rows if r["variant"] == "eager")
    for r in rows:
        r["x_gemm_floor"] = round(r["median"] / floor, 2)
        if r["variant"] == "hybridized":
            r["speedup_vs_eager"] = round(eager / r["median"], 2)
    return rows


def lenet_epoch(n_images, repeats):
    batches = _data(n_images, (1, 28, 28))
    variants = {"eager": _hn_epoch_fn(hn_lenet, batches, False),
                "hybridized": _hn_epoch_fn(hn_lenet, batches, True)}
    torch = _torch()
    if torch is not None:
        variants["torch_eager"] = _torch_epoch_fn(torch, torch_lenet, batches)
        variants["torch_eager_1thread"] = _one_thread(
            torch, _torch_epoch_fn(torch, torch_lenet, batches))
    rows = list(_epochs("lenet_epoch", variants, n_images, repeats))
    eager = next(r["median"] for r in rows if r["variant"] == "eager")
    for r in rows:
        if r["variant"] == "hybridized":
            r["speedup_vs_eager"] = round(eager / r["median"], 2)
    return rows


# ---- cold start in a fresh process --------------------------------------------------------
_COLD = r"""
import json, sys, time
t0 = time.perf_counter()
sys.path.insert(0, sys.argv[1])
import numpy as np
if sys.argv[2] == "torch":
    import torch
    t1 = time.perf_counter()
    net = torch.nn.Sequential(torch.nn.Linear(784, 256), torch.nn.ReLU(), torch.nn.Linear(256, 10))
    opt = torch.optim.SGD(net.parameters(), lr=0.1)
    x, y = torch.randn(128, 784), torch.randint(0, 10, (128,))
    t2 = time.perf_counter()
    loss = torch.nn.functional.cross_entropy(net(x), y); loss.backward(); opt.step()
    t3 = time.perf_counter()
    print(json.dumps({"import_s": t1 - t0, "first_step_s": t3 - t2}))
    sys.exit()
import hybridnet as mx
from hybridnet import autograd, gluon, nd
t1 = time.perf_counter()
from bench_training import hn_mlp
net = hn_mlp(); net.initialize()
loss_fn = gluon.loss.SoftmaxCrossEntropyLoss()
trainer = gluon.Trainer(net.collect_params(), "sgd", {"learning_rate": 0.1})
x = nd.array(np.random.rand(128, 784).astype(np.float32)); y = nd.array(np.arange(128) % 10)
t2 = time.perf_counter()
net.hybridize()
with autograd.record():
    loss = loss_fn(net(x), y)
loss.backward(); trainer.step(128); nd.waitall()
t3 = time.perf_counter()
print(json.dumps({"import_s": t1 - t0, "first_step_s": t3 - t2, "jit": mx.jit.stats()}))
"""


def _fresh_process(home, kind="hybridnet"):
    env = dict(os.environ, HYBRIDNET_HOME=home, NUMBA_CACHE_DIR=os.path.join(home, "numba"))
    out = subprocess.run([sys.executable, "-c", _COLD, str(Path(__file__).parent), kind],
                         env=env, capture_output=True, text=True, timeout=600,
                         cwd=str(ROOT), check=False)
    if out.returncode != 0:
        raise RuntimeError(f"cold-start subprocess failed: {out.stderr[-2000:]}")
    return json.loads(out.stdout.strip().splitlines()[-1])


def mlp_cold_start():
    """hybridize() + first training step (forward, backward, SGD update), seconds."""
    with tempfile.TemporaryDirectory(prefix="hybridnet_cold_") as home:
        cold = _fresh_process(home)
        warm = _fresh_process(home)
    note = ("import_s is 'import hybridnet' (which imports Numba, see hybridnet/_numba_boot.py); "
            "value is hybridize() + the first step after it")
    yield {"measure": "mlp_cold_start", "variant": "hybridized_cold_cache", "unit": "s",
           "value": round(cold["first_step_s"], 3), "import_s": round(cold["import_s"], 3),
           "jit": cold.get("jit"), "note": note, "target_s": 2.0,
           "meets_target": cold["first_step_s"] <= 2.0}
    yield {"measure": "mlp_cold_start", "variant": "hybridized_warm_cache", "unit": "s",
           "value": round(warm["first_step_s"], 3), "import_s": round(warm["import_s"], 3),
           "jit": warm.get("jit"), "note": note, "target_s": 0.5,
           "meets_target": warm["first_step_s"] <= 0.5}
    if _torch() is not None:
        with tempfile.TemporaryDirectory(prefix="hybridnet_cold_") as home:
            t = _fresh_process(home, "torch")
        yield {"measure": "mlp_cold_start", "variant": "torch_eager", "unit": "s",
               "value": round(t["first_step_s"], 3), "import_s": round(t["import_s"], 3)}


# ---- per-call latency ---------------------------------------------------------------------
def _per_call_us(fns, repeats=15, pause_s=0.02, budget_s=0.05):
    """{name: [us per call]} with variants interleaved inside every repeat."""
    numbers = {}
    for name, fn in fns.items():
        fn()
        n = max(10, int(budget_s / max(timeit.timeit(fn, number=10) / 10, 1e-9)))
        numbers[name] = n
    samples = {k: [] for k in fns}
    for _ in range(repeats):
        for name, fn in fns.items():
            samples[name].append(timeit.timeit(fn, number=numbers[name]) / numbers[name] * 1e6)
        time.sleep(pause_s)
    return samples


def _latency_rows(measure, samples, extra=None, ref="torch_eager"):
    base = statistics.median(samples[ref]) if ref in samples else None
    for name, s in samples.items():
        med = statistics.median(s)
        row = {"measure": measure, "variant": name, "unit": "us per call",
               "median": round(med, 2), "min": round(min(s), 2), "repeats": len(s),
               **(extra or {})}
        if base:
            row["x_" + ref] = round(med / base, 2)
        yield row


def mlp_infer_batch1():
    import hybridnet as mx
    from hybridnet import nd
    x_np = np.random.default_rng(0).standard_normal((1, 784), dtype=np.float32)
    fns = {}
    for tag in ("eager", "hybridized"):
        mx.random.seed(0)
        net = hn_mlp()
        net.initialize(mx.init.Xavier())
        if tag == "hybridized":
            net.hybridize()
        x = nd.array(x_np)
        fns[tag] = (lambda net=net, x=x: net(x))
    # The floor: the two matrix-vector products alone (NumPy's BLAS, preallocated
    # outputs); streaming W1's 800 KB dominates every variant.
    rng = np.random.default_rng(1)
    w1 = rng.standard_normal((256, 784), dtype=np.float32)
    w2 = rng.standard_normal((10, 256), dtype=np.float32)
    h, o = np.empty((1, 256), np.float32), np.empty((1, 10), np.float32)

    def gemv_floor():
        np.dot(x_np, w1.T, out=h)
        np.dot(h, w2.T, out=o)
    fns["numpy_gemv_floor"] = gemv_floor
    torch = _torch()
    if torch is not None:
        tnet = torch_mlp(torch).eval()
        tx = torch.from_numpy(x_np.copy())

        def t_eager():
            with torch.no_grad():
                return tnet(tx)
        fns["torch_eager"] = t_eager
        with torch.no_grad():
            traced = torch.jit.trace(tnet, tx)
        fns["torch_jit_trace"] = lambda: traced(tx)
    samples = _per_call_us(fns)
    rows = list(_latency_rows("mlp_infer_batch1", samples))
    for r in rows:
        if r["variant"] == "hybridized":
            r["target_us"], r["meets_target"] = 15.0, r["median"] <= 15.0
    return rows


def one_op_block():
    import hybridnet as mx
    from hybridnet import gluon, nd

    class Relu(gluon.HybridBlock):
        def forward(self, x):
            return nd.relu(x)

    rows = []
    for shape in ((10,), (128, 256)):
        x = nd.array(np.random.default_rng(0).standard_normal(shape, dtype=np.float32))
        eager, hyb = Relu(), Relu()
        hyb.hybridize()
        fns = {"eager": lambda: eager(x), "hybridized": lambda: hyb(x)}
        samples = _per_call_us(fns)
        rows += list(_latency_rows("one_op_block", samples, {"op": "relu", "shape": shape},
                                   ref="eager"))
    del mx
    return rows


def run():
    """Yield every measure as a dict (see the module docstring)."""
    s = _sizes()
    torch = _torch()
    info = {"torch_threads": torch.get_num_threads() if torch is not None else None}
    for row in mlp_epoch(s["mlp_images"], s["mlp_repeats"]):
        yield {**row, **info}
    for row in lenet_epoch(s["lenet_images"], s["repeats"]):
        yield {**row, **info}
    yield from mlp_cold_start()
    yield from mlp_infer_batch1()
    yield from one_op_block()
    yield from gemm_threads()


def chart(jsonl, png):
    """Bar chart of the epoch measures in a run.py output file (needs matplotlib)."""
    import matplotlib
    matplotlib.use("Agg")
    import matplotlib.pyplot as plt
    rows = [json.loads(line) for line in open(jsonl) if line.strip()]
    head = next((r for r in rows if r.get("header")), {})
    order = ["eager", "hybridized", "torch_eager", "torch_eager_1thread", "numpy_gemm_floor"]
    fig, axes = plt.subplots(1, 2, figsize=(9, 3.6))
    for ax, measure, title in zip(axes, ("mlp_epoch", "lenet_epoch"),
                                  ("MLP 784-256-10", "LeNet")):
        got = {r["variant"]: r for r in rows if r.get("measure") == measure}
        names = [v for v in order if v in got]
        meds = [got[v]["median"] for v in names]
        bars = ax.bar(range(len(names)), meds, color=["C0", "C1", "C2", "C2", "C7"][:len(names)])
        for i, v in enumerate(names):
            if v == "torch_eager_1thread":
                bars[i].set_hatch("//")
        mins = [got[v]["min"] for v in names]
        ax.scatter(range(len(names)), mins, marker="_", s=300, color="k", zorder=3,
                   label="min of repeats")
        ax.bar_label(bars, labels=[f"{m:.2f}\nmin {n:.2f}" for m, n in zip(meds, mins)],
                     fontsize=7)
        second = sorted(meds)[-2] if len(meds) > 1 else meds[0]
        top = max(meds) * 1.22 if max(meds) < 3 * second else second * 1.6
        ax.set_ylim(0, top)    # an outlier (a collapsed run) is clipped, its label says so
        for b, m in zip(bars, meds):
            if m > top:
                ax.annotate(f"{m:.1f}\n(clipped)", (b.get_x() + b.get_width() / 2, top * 0.8),
                            ha="center", fontsize=7, color="w", weight="bold")
        ax.legend(fontsize=7, loc="upper right")
        ax.set_xticks(range(len(names)))
        ax.set_xticklabels([n.replace("_", "\n", 1) for n in names], fontsize=8)
        extra = " (extrapolated)" if any(got[v].get("extrapolated") for v in names) else ""
        ax.set_title(f"{title}: s per epoch, median of repeats{extra}", fontsize=9)
    fig.suptitle(f"hybridnet training, 60,000 images, batch 128 - {head.get('cpu_model')}, "
                 f"{head.get('cpu_cores')} cores, {str(head.get('time', ''))[:10]}", fontsize=9)
    fig.tight_layout()
    fig.savefig(png, dpi=100)
    plt.close(fig)


if __name__ == "__main__":
    if "--chart" in sys.argv[1:]:      # --chart RUN.jsonl OUT.png
        i = sys.argv.index("--chart")
        chart(sys.argv[i + 1], sys.argv[i + 2])
        sys.exit()
    if "--quick" in sys.argv[1:]:
        os.environ["HYBRIDNET_BENCH_QUICK"] = "1"
    sys.path.insert(0, str(ROOT))
    for r in run():
        print(json.dumps(r, default=str), flush=True)
