"""hybridnet.random: seeding makes every draw reproducible; distributions, shapes, dtypes."""
import numpy as np
import pytest

import hybridnet as mx
from hybridnet import nd
from hybridnet.base import DeviceError


def _draws():
    return [nd.random.uniform(-1, 2, shape=(3, 4)), nd.random.normal(1, 2, shape=(5,)),
            nd.random.randint(0, 100, shape=(2, 3)),
            nd.random.shuffle(nd.arange(20).reshape((10, 2))),
            mx.random.uniform(shape=2), nd.random.randn(2, 2)]


def test_seed_makes_every_random_op_reproducible():
    mx.random.seed(42)
    first = [a.asnumpy() for a in _draws()]
    mx.random.seed(42)
    again = [a.asnumpy() for a in _draws()]
    for a, b in zip(first, again):
        np.testing.assert_array_equal(a, b)
    mx.random.seed(43)
    other = [a.asnumpy() for a in _draws()]
    assert not np.array_equal(first[0], other[0])
    assert not np.array_equal(first[1], other[1])


def test_consecutive_draws_differ():
    mx.random.seed(0)
    assert not np.array_equal(nd.random.uniform(shape=8).asnumpy(),
                              nd.random.uniform(shape=8).asnumpy())


def test_uniform_distribution():
    mx.random.seed(1)
    x = nd.random.uniform(2.0, 5.0, shape=(200, 100)).asnumpy()
    assert x.min() >= 2.0 and x.max() < 5.0
    assert abs(x.mean() - 3.5) < 0.03                      # std of the mean ~ 0.006
    assert abs(x.std() - 3 / np.sqrt(12)) < 0.02


def test_normal_distribution():
    mx.random.seed(2)
    x = nd.random.normal(loc=-1.0, scale=3.0, shape=(200, 100)).asnumpy()
    assert abs(x.mean() + 1.0) < 0.1                       # std of the mean ~ 0.02
    assert abs(x.std() - 3.0) < 0.06


def test_randint_distribution():
    mx.random.seed(3)
    x = nd.random.randint(-3, 4, shape=(20000,)).asnumpy()
    assert x.min() == -3 and x.max() == 3                  # high is exclusive
    counts = np.bincount(x + 3)
    assert counts.shape == (7,) and np.all(np.abs(counts / 20000 - 1 / 7) < 0.015)


def test_shuffle_permutes_rows_and_leaves_input():
    mx.random.seed(4)
    data = np.arange(30, dtype=np.float32).reshape(10, 3)
    src = nd.array(data)
    out = nd.random.shuffle(src)
    assert out.shape == (10, 3) and out.dtype == np.float32
    got = out.asnumpy()
    assert not np.array_equal(got, data)
    np.testing.assert_array_equal(got[np.argsort(got[:, 0])], data)  # rows kept whole
    np.testing.assert_array_equal(src.asnumpy(), data)


def test_shapes_and_dtypes():
    cases = [(nd.random.uniform(), (1,), np.float32),      # MXNet: no shape -> (1,)
             (nd.random.uniform(shape=5), (5,), np.float32),
             (nd.random.uniform(0, 1, shape=(2, 3), dtype="float64"), (2, 3), np.float64),
             (nd.random.normal(shape=(4, 1)), (4, 1), np.float32),
             (nd.random.normal(0, 1, (2,), dtype="float16"), (2,), np.float16),
             (nd.random.randint(0, 5, shape=(3,)), (3,), np.int32),
             (nd.random.randint(0, 5, shape=(3,), dtype="int64"), (3,), np.int64),
             (nd.random.randn(2, 3), (2, 3), np.float32)]
    for arr, shape, dtype in cases:
        assert isinstance(arr, nd.NDArray)
        assert arr.shape == shape and arr.dtype == dtype and arr.context == mx.cpu()


def test_out_argument_fills_in_place():
    out = nd.zeros((4, 4))
    res = nd.random.uniform(1, 2, out=out)
    assert res is out
    assert (out.asnumpy() >= 1).all()


def test_random_on_a_missing_gpu(monkeypatch):
    monkeypatch.setattr(mx.context, "_NUM_GPUS", [0])
    with pytest.raises(DeviceError, match=r"hybridnet.random: gpu\(0\) is not available"):
        nd.random.uniform(shape=2, ctx=mx.gpu(0))


def test_ndarray_parameters_draw_per_element():
    mx.random.seed(5)
    low, high = nd.array([0.0, 10.0]), nd.array([1.0, 10.5])
    u = nd.random.uniform(low, high, shape=(1000,))
    assert u.shape == (2, 1000) and u.dtype == np.float32
    un = u.asnumpy()
    assert (un[0] >= 0).all() and (un[0] < 1).all() and (un[1] >= 10).all() and (un[1] < 10.5).all()
    n = nd.random.normal(nd.array([[-5.0], [5.0]]), nd.array([[0.1], [0.1]]))
    assert n.shape == (2, 1)
    np.testing.assert_allclose(n.asnumpy(), [[-5], [5]], atol=0.6)
    with pytest.raises(ValueError, match=r"random.normal: .*\(2,\) and \(3,\)"):
        nd.random.normal(nd.zeros(2), nd.ones(3))
