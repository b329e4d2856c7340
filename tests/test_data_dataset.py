"""Datasets, samplers, default batchify and the single-process DataLoader."""
import numpy as np
import pytest

import hybridnet as mx
from hybridnet import gluon, nd
from hybridnet.base import HybridnetValueError, ShapeError
from hybridnet.gluon.data import (ArrayDataset, BatchSampler, DataLoader, RandomSampler,
                                  SequentialSampler, SimpleDataset, default_batchify_fn)
from hybridnet.gluon.data._batchify import get_batch
from hybridnet.gluon.data.vision import transforms as T


def _np(x):
    return x.asnumpy() if isinstance(x, nd.NDArray) else np.asarray(x)


def _images(n=23, h=5, w=4, c=3, seed=0):
    rng = np.random.default_rng(seed)
    return (rng.integers(0, 256, (n, h, w, c), dtype=np.uint8),
            rng.integers(0, 10, n).astype(np.int32))


# ---- datasets ------------------------------------------------------------------------
def test_array_dataset_items_and_lengths():
    x, y = _images()
    ds = ArrayDataset(nd.array(x, dtype="uint8"), y, list(range(23)))
    assert len(ds) == 23
    img, lbl, k = ds[4]
    assert isinstance(img, nd.NDArray) and img.shape == (5, 4, 3) and img.dtype == np.uint8
    np.testing.assert_array_equal(img.asnumpy(), x[4])
    assert lbl == y[4] and k == 4
    single = ArrayDataset(x)
    np.testing.assert_array_equal(single[2], x[2])
    # Gluon keeps 1-D NDArrays as NumPy so samples are scalars
    assert np.isscalar(ArrayDataset(nd.arange(5))[3])


def test_array_dataset_length_mismatch_message():
    with pytest.raises(ShapeError, match="array 0 has length 3 while array 1 has 2"):
        ArrayDataset(np.zeros(3), np.zeros(2))
    with pytest.raises(HybridnetValueError, match="at least one array"):
        ArrayDataset()


def test_transform_lazy_and_eager_and_transform_first():
    x, y = _images(6)
    ds = ArrayDataset(x, y)
    calls = []

    def f(img, lbl):
        calls.append(1)
        return img.sum(), lbl * 2

    lazy = ds.transform(f)
    assert not calls and len(lazy) == 6
    assert lazy[1] == (x[1].sum(), y[1] * 2)
    eager = ds.transform(f, lazy=False)
    assert isinstance(eager, SimpleDataset) and len(calls) == 7 and eager[5][1] == y[5] * 2
    tf = ds.transform_first(lambda img: img[0, 0, 0])
    assert tf[2] == (x[2, 0, 0, 0], y[2])
    # non-tuple samples go through fn whole
    assert SimpleDataset([1, 2, 3]).transform(lambda v: v * 10)[2] == 30
    assert SimpleDataset([1, 2, 3]).transform_first(lambda v: v + 1)[0] == 2


def test_filter_take_shard_sample():
    ds = SimpleDataset(list(range(10)))
    assert list(ds.filter(lambda v: v % 3 == 0)) == [0, 3, 6, 9]
    assert list(ds.take(4)) == [0, 1, 2, 3] and len(ds.take(None)) == 10
    shards = [list(ds.shard(3, i)) for i in range(3)]
    assert shards == [[0, 1, 2, 3], [4, 5, 6], [7, 8, 9]]
    assert list(ds.sample(BatchSampler(SequentialSampler(4), 4).__iter__().__next__())) \
        == [0, 1, 2, 3]
    with pytest.raises(HybridnetValueError, match="index 3 must be in"):
        ds.shard(3, 3)


# ---- samplers ------------------------------------------------------------------------
@pytest.mark.parametrize("mode,expect", [
    ("keep", [[0, 1, 2], [3, 4, 5], [6, 7, 8], [9]]),
    ("discard", [[0, 1, 2], [3, 4, 5], [6, 7, 8]]),
])
def test_batch_sampler_keep_discard(mode, expect):
    bs = BatchSampler(SequentialSampler(10), 3, mode)
    assert list(bs) == expect and len(bs) == len(expect)


def test_batch_sampler_rollover_carries_remainder():
    bs = BatchSampler(SequentialSampler(10), 4, "rollover")
    assert len(bs) == 2
    assert list(bs) == [[0, 1, 2, 3], [4, 5, 6, 7]]
    assert len(bs) == 3  # 2 carried over + 10 new = 12 -> 3 batches
    assert list(bs) == [[8, 9, 0, 1], [2, 3, 4, 5], [6, 7, 8, 9]]
    assert len(bs) == 2


@pytest.mark.parametrize("mode", ["keep", "discard", "rollover"])
def test_batch_sampler_fast_and_generic_paths_agree(mode):
    class Plain:  # a user sampler: no index-list shortcut
        def __iter__(self):
            return iter(range(11))

        def __len__(self):
            return 11

    fast, slow = BatchSampler(SequentialSampler(11), 4, mode), BatchSampler(Plain(), 4, mode)
    for _ in range(3):
        assert len(fast) == len(slow)
        assert list(fast) == list(slow)


def test_batch_sampler_errors():
    with pytest.raises(HybridnetValueError, match="last_batch must be one of"):
        BatchSampler(SequentialSampler(3), 2, "drop")
    with pytest.raises(HybridnetValueError, match="batch_size must be a positive"):
        BatchSampler(SequentialSampler(3), 0)


def test_random_sampler_is_a_seeded_permutation():
    mx.random.seed(7)
    a = list(RandomSampler(50))
    b = list(RandomSampler(50))
    mx.random.seed(7)
    assert list(RandomSampler(50)) == a and a != b
    assert sorted(a) == list(range(50))


# ---- batchify ------------------------------------------------------------------------
def test_default_batchify_follows_gluon_dtypes():
    out = default_batchify_fn([(nd.ones((2, 2)), np.int32(3), 1, 0.5) for _ in range(4)])
    assert isinstance(out, list) and len(out) == 4
    assert out[0].shape == (4, 2, 2) and out[0].dtype == np.float32
    assert out[1].dtype == np.int32 and out[1].shape == (4,)
    assert out[2].dtype == np.int64  # np.asarray of Python ints, as Gluon 1.x
    assert out[3].dtype == np.float64
    arr = default_batchify_fn([np.full((3,), i, np.uint8) for i in range(5)])
    assert arr.dtype == np.uint8 and arr.shape == (5, 3)
    np.testing.assert_array_equal(arr.asnumpy()[:, 0], np.arange(5))


def _generic(ds, idx):
    return default_batchify_fn([ds[i] for i in idx])


def _assert_same(a, b):
    if isinstance(a, list):
        assert isinstance(b, list) and len(a) == len(b)
        for u, v in zip(a, b):
            _assert_same(u, v)
        return
    assert isinstance(a, nd.NDArray) and isinstance(b, nd.NDArray)
    assert a.dtype == b.dtype and a.shape == b.shape
    np.testing.assert_array_equal(a.asnumpy(), b.asnumpy())  # bitwise


@pytest.mark.parametrize("make", [
    lambda x, y: ArrayDataset(x, y),
    lambda x, y: ArrayDataset(nd.array(x, dtype="uint8"), nd.array(y, dtype="int32")),
    lambda x, y: ArrayDataset(x, y).transform_first(T.ToTensor()),
    lambda x, y: ArrayDataset(x, y).transform_first(
        T.Compose([T.ToTensor(), T.Normalize((0.1, 0.2, 0.3), (0.5, 0.6, 0.7))])),
    lambda x, y: ArrayDataset(x, y).transform_first(
        T.Compose([T.Cast("float32"), T.Compose([T.ToTensor(), T.Normalize(0.13, 0.31)])])),
    lambda x, y: ArrayDataset(x, y).transform_first(
        T.Compose([T.CenterCrop((3, 3)), T.ToTensor(), T.Normalize(0.13, 0.31)])),
    lambda x, y: ArrayDataset(x).transform(T.Compose([T.ToTensor(), T.Cast("float64")])),
    lambda x, y: ArrayDataset(x, y).take(15).transform_first(T.ToTensor()),
    lambda x, y: SimpleDataset(x),
])
def test_batch_fast_path_equals_per_sample_path(make):
    x, y = _images()
    ds = make(x, y)
    idx = [3, 0, 7, 7, 12, 1]
    _assert_same(get_batch(ds, idx), _generic(ds, idx))
    assert ds._get_batch(idx) is not NotImplemented  # the fast path really ran


def test_subclassed_transform_is_not_batched():
    class Plus1(T.ToTensor):
        def forward(self, x):
            return super().forward(x) + 1

    x, y = _images(4)
    ds = ArrayDataset(x, y).transform_first(Plus1())
    assert ds._get_batch([0, 1]) is NotImplemented
    _assert_same(get_batch(ds, [0, 1, 2]), _generic(ds, [0, 1, 2]))


# ---- single-process DataLoader -------------------------------------------------------
@pytest.mark.parametrize("mode,sizes", [("keep", [4, 4, 2]), ("discard", [4, 4]),
                                        ("rollover", [4, 4])])
def test_loader_last_batch_modes(mode, sizes):
    x, y = _images(10)
    loader = DataLoader(ArrayDataset(x, y), batch_size=4, last_batch=mode)
    assert len(loader) == len(sizes)
    batches = list(loader)
    assert [b[0].shape[0] for b in batches] == sizes
    np.testing.assert_array_equal(batches[0][1].asnumpy(), y[:4])
    if mode == "rollover":
        assert len(loader) == 3  # 2 left over + 10
        second = list(loader)
        np.testing.assert_array_equal(second[0][1].asnumpy(), np.r_[y[8:], y[:2]])


def test_loader_shuffle_covers_everything_and_is_seeded():
    x, y = _images(30)
    ds = ArrayDataset(x, np.arange(30))
    mx.random.seed(3)
    a = np.concatenate([b[1].asnumpy() for b in DataLoader(ds, 8, shuffle=True)])
    mx.random.seed(3)
    b = np.concatenate([b[1].asnumpy() for b in DataLoader(ds, 8, shuffle=True)])
    assert sorted(a) == list(range(30)) and (a == b).all() and (a != np.arange(30)).any()


def test_loader_on_plain_arrays_and_custom_batchify():
    data = np.arange(12, dtype=np.float32).reshape(6, 2)
    out = list(DataLoader(data, batch_size=4))
    assert out[0].shape == (4, 2) and out[1].shape == (2, 2)
    lens = list(DataLoader(SimpleDataset([[1], [2, 3]]), batch_size=2,
                           batchify_fn=lambda samples: [len(s) for s in samples]))
    assert lens == [[1, 2]]


def test_loader_argument_errors():
    ds = SimpleDataset(list(range(5)))
    with pytest.raises(HybridnetValueError, match="batch_size must be specified"):
        DataLoader(ds)
    with pytest.raises(HybridnetValueError, match="shuffle must not be specified"):
        DataLoader(ds, 2, shuffle=True, sampler=SequentialSampler(5))
    with pytest.raises(HybridnetValueError, match="must not be specified if batch_sampler"):
        DataLoader(ds, 2, batch_sampler=BatchSampler(SequentialSampler(5), 2))


def test_gluon_namespace():
    assert gluon.data.DataLoader is DataLoader
    assert gluon.data.vision.MNIST is gluon.data.vision.datasets.MNIST
    assert gluon.data.vision.transforms.ToTensor is T.ToTensor


def test_batchify_helpers():
    from hybridnet.gluon.data import batchify as B
    samples = [(np.full((2,), i, np.float32), np.arange(i + 1)) for i in range(3)]
    x, (tok, lens) = B.Tuple(B.Stack(), B.Pad(pad_val=-1, ret_length=True))(samples)
    np.testing.assert_array_equal(x.asnumpy(), [[0, 0], [1, 1], [2, 2]])
    np.testing.assert_array_equal(tok.asnumpy(), [[0, -1, -1], [0, 1, -1], [0, 1, 2]])
    assert lens.dtype == np.int32 and lens.asnumpy().tolist() == [1, 2, 3]
    padded = B.Pad(axis=1, round_to=4, dtype="float32")([np.ones((2, 1)), np.ones((2, 3))])
    assert padded.shape == (2, 2, 4) and padded.dtype == np.float32
    assert padded.asnumpy()[0].sum() == 2 and padded.asnumpy()[1].sum() == 6
    assert B.List()([1, 2]) == [1, 2]
    out = list(DataLoader(SimpleDataset(samples), batch_size=3,
                          batchify_fn=B.Tuple([B.Stack("float64"), B.Pad()])))
    assert out[0][0].dtype == np.float64 and out[0][1].shape == (3, 3)
    with pytest.raises(ShapeError, match="different shapes .* use batchify.Pad"):
        B.Stack()([np.ones(2), np.ones(3)])
    with pytest.raises(ShapeError, match="only axis 0 may differ"):
        B.Pad()([np.ones((2, 2)), np.ones((3, 1))])
    with pytest.raises(ShapeError, match="samples have 2 fields but 1 batchify"):
        B.Tuple(B.Stack())(samples)
