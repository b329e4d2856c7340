"""NumPy references for the training benchmarks (bench_training.py): what a step costs
without a framework, and what a second thread buys this machine's GEMMs."""
import statistics
import time

import numpy as np


def _gemm_floor_fn(batches):
    """The MLP step's float32 GEMMs alone (forward 2, backward 3; no input gradient)."""
    rng = np.random.default_rng(0)
    w1 = rng.standard_normal((256, 784), dtype=np.float32)
    w2 = rng.standard_normal((10, 256), dtype=np.float32)
    bufs = {}

    def epoch(steps=None):
        for x, _ in (batches if steps is None else steps):
            x = x.reshape(len(x), -1)
            n = len(x)
            if n not in bufs:
                bufs[n] = (np.empty((n, 256), np.float32), np.empty((n, 10), np.float32),
                           np.empty((10, 256), np.float32), np.empty((n, 256), np.float32),
                           np.empty((256, 784), np.float32))
            h, o, dw2, dh, dw1 = bufs[n]
            np.dot(x, w1.T, out=h)
            np.dot(h, w2.T, out=o)
            np.dot(o.T, h, out=dw2)
            np.dot(o, w2, out=dh)
            np.dot(dh.T, x, out=dw1)
        return 0.0
    epoch(batches[:1])
    return epoch


def _numpy_step_fn(batches, lr):
    """The whole MLP training step written by hand in NumPy, preallocated, no framework:
    forward, softmax cross-entropy, backward, SGD. What a Python-driven step costs at
    best with NumPy's kernels (the GEMM floor is the five GEMMs alone)."""
    rng = np.random.default_rng(0)
    w1 = (rng.standard_normal((256, 784)) * 0.05).astype(np.float32)
    w2 = (rng.standard_normal((10, 256)) * 0.05).astype(np.float32)
    b1, b2 = np.zeros(256, np.float32), np.zeros(10, np.float32)
    dw1, dw2 = np.empty_like(w1), np.empty_like(w2)
    bufs = {}

    def epoch(steps=None):
        loss = 0.0
        for x, y in (batches if steps is None else steps):
            n = len(x)
            if n not in bufs:
                bufs[n] = (np.empty((n, 256), np.float32), np.empty((n, 10), np.float32),
                           np.empty((n, 256), np.float32), np.arange(n))
            h, o, dh, rows = bufs[n]
            np.dot(x, w1.T, out=h)
            h += b1
            np.maximum(h, 0, out=h)
            np.dot(h, w2.T, out=o)
            o += b2
            o -= o.max(axis=1, keepdims=True)
            np.exp(o, out=o)
            o /= o.sum(axis=1, keepdims=True)
            label = y.astype(np.intp)
            loss = -np.log(o[rows, label]).mean()
            o[rows, label] -= 1.0
            o *= 1.0 / n                     # d(mean loss)/d logits
            np.dot(o.T, h, out=dw2)
            db2 = o.sum(axis=0)
            np.dot(o, w2, out=dh)
            dh *= h > 0
            np.dot(dh.T, x, out=dw1)
            db1 = dh.sum(axis=0)
            for w, g in ((w1, dw1), (b1, db1), (w2, dw2), (b2, db2)):
                g *= lr
                w -= g
        return float(loss)
    epoch(batches[:1])
    return epoch


def gemm_threads(repeats=7, calls=40):
    """us per GEMM with 1 and 2 BLAS threads, and per GEMM when two threads run
    one-thread GEMMs side by side (so 2x faster would be perfect scaling)."""
    import threading

    import hybridnet  # noqa: F401  (pins NumPy's BLAS to one thread)
    from threadpoolctl import threadpool_limits
    rng = np.random.default_rng(0)
    a = rng.standard_normal((128, 784), dtype=np.float32)
    b = rng.standard_normal((784, 256), dtype=np.float32)
    outs = [np.empty((128, 256), np.float32) for _ in range(2)]

    def gemms(k=0, n=calls):
        for _ in range(n):
            np.dot(a, b, out=outs[k])

    def one():
        gemms()

    def two_blas():
        with threadpool_limits(limits=2, user_api="blas"):
            gemms()

    def side_by_side():
        ts = [threading.Thread(target=gemms, args=(k, calls // 2)) for k in range(2)]
        for t in ts:
            t.start()
        for t in ts:
            t.join()
    # two_blas_threads last, with a pause after it: OpenBLAS's second thread keeps
    # spinning for a while after its call, which would take the core from the others.
    fns = {"one_blas_thread": one, "two_threads_side_by_side": side_by_side,
           "two_blas_threads": two_blas}
    samples = {k: [] for k in fns}
    for _ in range(repeats):
        for name, fn in fns.items():
            t = time.perf_counter()
            fn()
            samples[name].append((time.perf_counter() - t) / calls * 1e6)
            time.sleep(0.3 if name == "two_blas_threads" else 0.02)
    base = statistics.median(samples["one_blas_thread"])
    for name, s in samples.items():
        med = statistics.median(s)
        yield {"measure": "gemm_threads", "variant": name, "unit": "us per GEMM",
               "median": round(med, 1), "min": round(min(s), 1), "repeats": repeats,
               "shape": "128x784 @ 784x256 f32", "speedup_vs_one_thread": round(base / med, 2)}
