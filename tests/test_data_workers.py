"""DataLoader with worker processes/threads: same batches, errors, clean shutdown, Numba."""
import os
import subprocess
import sys
import textwrap
import time

import numpy as np
import pytest

import hybridnet as mx
from hybridnet import nd
from hybridnet.gluon.data import ArrayDataset, DataLoader, Dataset, SimpleDataset
from hybridnet.gluon.data.dataloader import DataLoaderError
from hybridnet.gluon.data.vision import transforms as T

ROOT = os.path.dirname(os.path.dirname(os.path.abspath(__file__)))


def _data(n=37):
    rng = np.random.default_rng(1)
    return (rng.integers(0, 256, (n, 6, 5, 3), dtype=np.uint8),
            rng.integers(0, 10, n).astype(np.int32))


def _flat(batches):
    out = []
    for b in batches:
        for f in (b if isinstance(b, list) else [b]):
            out.append((f.dtype, f.shape, f.asnumpy().tobytes()))
    return out


class PerSample(Dataset):
    """A dataset without the batch fast path (exercises per-sample reads in workers)."""

    def __init__(self, x, y):
        self.x, self.y = x, y

    def __len__(self):
        return len(self.x)

    def __getitem__(self, i):
        return nd.array(self.x[i], dtype="uint8"), int(self.y[i])


_TF = T.Compose([T.ToTensor(), T.Normalize((0.1, 0.2, 0.3), (0.3, 0.2, 0.1))])


@pytest.mark.parametrize("mode", ["keep", "discard", "rollover"])
@pytest.mark.parametrize("fast", [True, False])
def test_workers_yield_the_same_batches(mode, fast):
    x, y = _data()
    ds = (ArrayDataset(x, y) if fast else PerSample(x, y)).transform_first(_TF)
    ref = DataLoader(ds, batch_size=5, last_batch=mode)
    par = DataLoader(ds, batch_size=5, last_batch=mode, num_workers=2)
    for _ in range(2):  # rollover carries samples from epoch 1 into epoch 2
        assert len(ref) == len(par)
        a, b = list(ref), list(par)
        assert len(a) == len(b) == len(ref) if mode != "rollover" else len(a) == len(b)
        assert _flat(a) == _flat(b)


def test_shuffled_order_matches_single_process_under_the_same_seed():
    x, y = _data()
    ds = ArrayDataset(x, y).transform_first(_TF)
    mx.random.seed(5)
    a = _flat(DataLoader(ds, batch_size=4, shuffle=True))
    mx.random.seed(5)
    b = _flat(DataLoader(ds, batch_size=4, shuffle=True, num_workers=2))
    assert a == b


def test_len_for_every_mode_with_workers():
    ds = SimpleDataset(list(range(10)))
    for mode, n in (("keep", 4), ("discard", 3), ("rollover", 3)):
        loader = DataLoader(ds, batch_size=3, last_batch=mode, num_workers=2)
        assert len(loader) == n and len(list(loader)) == n


def test_thread_pool_and_prefetch_variants():
    x, y = _data(20)
    ds = ArrayDataset(x, y).transform_first(_TF)
    ref = _flat(DataLoader(ds, batch_size=3))
    assert _flat(DataLoader(ds, batch_size=3, num_workers=2, thread_pool=True)) == ref
    assert _flat(DataLoader(ds, batch_size=3, num_workers=3, prefetch=0)) == ref
    assert _flat(DataLoader(ds, batch_size=3, num_workers=1, prefetch=7)) == ref


@pytest.mark.parametrize("slot", ["small", "none"])
def test_batches_too_big_for_shared_slots_travel_through_the_pipe(monkeypatch, slot):
    from hybridnet.gluon.data import _transport, _worker
    if slot == "small":
        monkeypatch.setattr(_transport, "SLOT_BYTES", 4096)  # indices fit, images do not
    else:
        monkeypatch.setattr(_worker, "new_slot", lambda: None)
    x, y = _data(20)
    ds = ArrayDataset(x, y).transform_first(_TF)
    assert _flat(DataLoader(ds, batch_size=6, num_workers=2)) == _flat(DataLoader(ds, 6))


class Nested(Dataset):
    def __len__(self):
        return 4

    def __getitem__(self, i):
        inner = DataLoader(SimpleDataset(list(range(i + 1))), batch_size=2, num_workers=2)
        return sum(int(b.asnumpy().sum()) for b in inner)


def test_loader_inside_a_worker_runs_in_process():
    out = np.concatenate([b.asnumpy() for b in DataLoader(Nested(), 2, num_workers=2)])
    assert out.tolist() == [0, 1, 3, 6]


def test_custom_batchify_results_cross_the_process_boundary():
    def batchify(samples):
        return {"x": np.stack([s[0] for s in samples]), "n": len(samples),
                "t": (nd.array([s[1] for s in samples]), "tag")}

    x, y = _data(7)
    out = list(DataLoader(ArrayDataset(x, y), batch_size=4, batchify_fn=batchify,
                          num_workers=2))
    assert [o["n"] for o in out] == [4, 3]
    assert isinstance(out[0]["x"], np.ndarray) and out[0]["x"].dtype == np.uint8
    np.testing.assert_array_equal(out[1]["x"], x[4:])
    assert isinstance(out[0]["t"][0], nd.NDArray) and out[0]["t"][1] == "tag"
    np.testing.assert_array_equal(out[0]["t"][0].asnumpy(), y[:4])


def _explode(img, label):
    if label == 99:
        raise KeyError("sample with label 99 is broken")
    return img, label


def test_worker_exception_reaches_the_user_with_its_traceback():
    y = np.arange(20)
    y[13] = 99
    ds = ArrayDataset(np.zeros((20, 2)), y).transform(_explode)
    got = []
    with pytest.raises(KeyError, match="sample with label 99 is broken") as info:
        for batch in DataLoader(ds, batch_size=4, num_workers=2):
            got.append(batch[1].asnumpy())
    msg = str(info.value)
    assert "DataLoader worker process" in msg and "batch 3" in msg
    assert "in _explode" in msg and "Traceback" in msg
    assert len(got) == 3  # the batches before the failing one were delivered, in order


class _Unraisable(Exception):
    def __init__(self, a, b):  # cannot be rebuilt from a message alone
        super().__init__(a, b)


def _raise_odd(i):
    raise _Unraisable(1, 2)


def test_worker_exception_that_cannot_be_rebuilt_is_still_reported():
    ds = SimpleDataset(list(range(4))).transform(_raise_odd)
    with pytest.raises(DataLoaderError, match="_Unraisable"):
        list(DataLoader(ds, batch_size=2, num_workers=1))


def test_workers_are_reaped_after_each_epoch_and_after_break():
    x, y = _data(30)
    loader = DataLoader(ArrayDataset(x, y), batch_size=2, num_workers=2)
    it = iter(loader)
    procs = it.workers
    assert len(procs) == 2 and all(p.is_alive() for p in procs)
    assert len(list(it)) == 15
    assert all(p.exitcode is not None for p in procs)  # joined: no zombies
    it = iter(loader)
    next(it)
    procs = it.workers
    del it  # an abandoned epoch shuts its workers down
    assert all(p.exitcode is not None for p in procs)
    assert sum(b[0].shape[0] for b in loader) == 30  # the loader still works afterwards


def _die(i):
    if i == 5:
        os._exit(3)
    return i


def test_dead_worker_is_reported_not_hung():
    ds = SimpleDataset(list(range(12))).transform(_die)
    t = time.monotonic()
    with pytest.raises(DataLoaderError, match=r"exited unexpectedly \(exit code 3\)"):
        list(DataLoader(ds, batch_size=2, num_workers=2, timeout=30))
    assert time.monotonic() - t < 10


def _slow(i):
    time.sleep(3 if i == 0 else 0)
    return i


def test_timeout_is_reported():
    ds = SimpleDataset([0, 1]).transform(_slow)
    with pytest.raises(DataLoaderError, match="within timeout=0.5 s"):
        list(DataLoader(ds, batch_size=1, num_workers=1, timeout=0.5))


class RandomValue(Dataset):
    def __len__(self):
        return 8

    def __getitem__(self, i):
        return mx.random.uniform(shape=(1,)).asscalar()


def test_random_transforms_in_workers_are_seeded_and_distinct():
    loader = DataLoader(RandomValue(), batch_size=2, num_workers=2)
    mx.random.seed(11)
    a = np.concatenate([b.asnumpy() for b in loader])
    mx.random.seed(11)
    b = np.concatenate([b.asnumpy() for b in loader])
    c = np.concatenate([b.asnumpy() for b in loader])  # next epoch: fresh draws
    assert (a == b).all()
    assert len(set(a.tolist())) == 8 and not (a == c).all()


NUMBA_SCRIPT = textwrap.dedent("""
    import sys, numpy as np, numba
    from numba import njit, prange
    sys.path.insert(0, {root!r})
    from hybridnet.gluon.data import ArrayDataset, DataLoader
    from hybridnet.gluon.data.vision import transforms as T

    @njit(parallel=True)
    def total(a):
        s = 0.0
        for i in prange(a.shape[0]):
            s += a[i]
        return s

    try:
        assert total(np.ones(100000)) == 100000.0   # a parallel kernel ran in the parent
    except ValueError as e:                         # the requested layer is not installed
        print("NOLAYER", e)
        sys.exit(0)
    layer = numba.threading_layer()
    x = np.arange(20 * 4 * 4 * 1, dtype=np.uint8).reshape(20, 4, 4, 1)
    ds = ArrayDataset(x, np.arange(20)).transform_first(
        T.Compose([T.ToTensor(), T.Normalize(0.13, 0.31)]))
    ref = [b[0].asnumpy() for b in DataLoader(ds, batch_size=6)]
    par = [b[0].asnumpy() for b in DataLoader(ds, batch_size=6, num_workers=2)]
    assert all((u == v).all() for u, v in zip(ref, par)) and len(ref) == len(par) == 4
    print("NUMPY-WORKERS-OK", layer, flush=True)

    def kern(img, label):
        return total(np.ones(1000)), label
    out = list(DataLoader(ArrayDataset(x, np.arange(20)).transform(kern), batch_size=5,
                          num_workers=2))
    assert len(out) == 4 and float(out[0][0].asnumpy()[0]) == 1000.0
    print("KERNEL-WORKERS-OK", layer)
""")


def _run_numba(layer=None):
    # A subprocess, so its threading-layer choice cannot leak into other tests.
    env = dict(os.environ)
    env.pop("NUMBA_THREADING_LAYER", None)
    if layer:
        env["NUMBA_THREADING_LAYER"] = layer
    return subprocess.run([sys.executable, "-c", NUMBA_SCRIPT.format(root=ROOT)],
                          capture_output=True, text=True, env=env, timeout=240)


def test_workers_with_numba_parallel_kernels_default_layer():
    """hybridnet picks Numba's threading layer at import: a parallel kernel in the parent,
    then workers, then parallel kernels inside the workers all work."""
    res = _run_numba()
    assert res.returncode == 0, res.stderr[-3000:]
    assert "KERNEL-WORKERS-OK workqueue" in res.stdout


def test_workers_with_numba_gnu_openmp_layer():
    """With the GNU OpenMP layer chosen explicitly, NumPy-only workers still work after a
    parallel kernel ran in the parent; a worker that runs a parallel kernel is killed by
    libgomp, and the user gets an error naming the cause and the fix (not a hang)."""
    res = _run_numba("omp")
    if "NOLAYER" in res.stdout:  # no libgomp here: nothing to demonstrate
        assert res.returncode == 0
        return
    assert "NUMPY-WORKERS-OK omp" in res.stdout, res.stderr[-3000:]
    assert res.returncode != 0 and "KERNEL-WORKERS-OK" not in res.stdout
    assert "DataLoaderError" in res.stderr and "exited unexpectedly" in res.stderr
    assert "NUMBA_THREADING_LAYER=workqueue" in res.stderr, res.stderr[-3000:]
