"""gluon.utils: split_data, split_and_load, clip_global_norm."""
import numpy as np
import pytest

import hybridnet as mx
from hybridnet import autograd, gluon, nd
from hybridnet.base import HybridnetError, ShapeError
from hybridnet.gluon.utils import clip_global_norm, split_and_load, split_data


def test_split_data_even_uneven_and_axis():
    x = nd.arange(24).reshape((6, 4))
    parts = split_data(x, 3)
    assert [p.shape for p in parts] == [(2, 4)] * 3
    np.testing.assert_array_equal(np.concatenate([p.asnumpy() for p in parts]), x.asnumpy())
    parts = split_data(nd.arange(7), 3, even_split=False)
    assert [p.asnumpy().tolist() for p in parts] == [[0, 1, 2], [3, 4], [5, 6]]
    parts = split_data(x, 2, batch_axis=1)
    np.testing.assert_array_equal(parts[1].asnumpy(), x.asnumpy()[:, 2:])
    parts = split_data(x, 4, batch_axis=-1)
    assert [p.shape for p in parts] == [(6, 1)] * 4


def test_split_data_errors():
    x = nd.zeros((5, 2))
    with pytest.raises(ShapeError, match=r"shape \(5, 2\) cannot be evenly split into 2 slices "
                                         r"along axis 0.*even_split=False"):
        split_data(x, 2)
    with pytest.raises(ShapeError, match="into 6 non-empty slices"):
        split_data(x, 6, even_split=False)
    with pytest.raises(ShapeError, match="batch_axis 2 is out of range"):
        split_data(x, 1, batch_axis=2)
    with pytest.raises(HybridnetError, match="num_slice must be a positive int"):
        split_data(x, 0)


def test_split_and_load_contexts_and_numpy_input():
    ctxs = [mx.cpu(0), mx.cpu(1)]
    parts = split_and_load(np.arange(8, dtype=np.float64).reshape(4, 2), ctxs)
    assert [p.context for p in parts] == ctxs
    assert all(p.dtype == np.float32 for p in parts)          # nd.array's default dtype
    np.testing.assert_array_equal(parts[1].asnumpy(), [[4, 5], [6, 7]])
    (one,) = split_and_load(nd.ones((3, 2)), [mx.cpu()])
    assert one.shape == (3, 2)
    with pytest.raises(HybridnetError, match="ctx_list is empty"):
        split_and_load(nd.ones(2), [])


def test_split_and_load_keeps_autograd_through_slices():
    x = nd.arange(6).reshape((3, 2))
    x.attach_grad()
    with autograd.record():
        a, b = split_data(x, 3, even_split=False)[:2]
        y = (a * 2).sum() + (b * 3).sum()
    y.backward()
    np.testing.assert_array_equal(x.grad.asnumpy(), [[2, 2], [3, 3], [0, 0]])


def test_clip_global_norm_matches_numpy():
    rng = np.random.default_rng(0)
    raw = [rng.standard_normal(s).astype(np.float32) for s in ((3, 4), (5,))]
    arrays = [nd.array(a) for a in raw]
    total = np.sqrt(sum((a.astype(np.float64) ** 2).sum() for a in raw))
    norm = clip_global_norm(arrays, 1.0)
    assert isinstance(norm, float) and norm == pytest.approx(total, rel=1e-6)
    for a, r in zip(arrays, raw):
        np.testing.assert_allclose(a.asnumpy(), r / (total + 1e-8), rtol=1e-6)
    new_total = np.sqrt(sum((a.asnumpy().astype(np.float64) ** 2).sum() for a in arrays))
    assert new_total == pytest.approx(1.0, rel=1e-5)


def test_clip_global_norm_below_max_is_untouched_and_ndarray_return():
    a = nd.array([3.0, 4.0])
    norm = clip_global_norm([a], 10.0, check_isfinite=False)
    assert isinstance(norm, nd.NDArray) and norm.shape == (1,)
    assert norm.asscalar() == pytest.approx(5.0)
    np.testing.assert_array_equal(a.asnumpy(), [3, 4])


def test_clip_global_norm_warns_on_nan_and_rejects_bad_input():
    with pytest.warns(UserWarning, match="nan or inf is detected"):
        clip_global_norm([nd.array([np.nan, 1.0])], 1.0)
    with pytest.raises(HybridnetError, match="arrays is empty"):
        clip_global_norm([], 1.0)
    with pytest.raises(HybridnetError, match="expected NDArrays, got ndarray"):
        clip_global_norm([np.ones(2)], 1.0)


def test_clip_gradients_of_a_net():
    net = gluon.nn.Dense(3, in_units=4)
    net.initialize(mx.init.Constant(1.0))
    with autograd.record():
        loss = (net(nd.ones((2, 4))) * 10).sum()
    loss.backward()
    grads = [p.grad() for p in net.collect_params().values()]
    norm = clip_global_norm(grads, 0.5)
    assert norm > 0.5
    assert np.sqrt(sum((g.asnumpy() ** 2).sum() for g in grads)) == pytest.approx(0.5, rel=1e-5)
