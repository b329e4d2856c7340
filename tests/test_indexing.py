"""Indexing: x[key] (basic, advanced, masks), gradients, x[key] = v, slice/take/pick/one_hot."""
import numpy as np
import pytest
from hypothesis import assume, given, settings, strategies as st

from hybridnet import autograd, nd
from hybridnet.base import AutogradError, HybridnetValueError, ShapeError
from hybridnet.test_utils import assert_almost_equal, check_numeric_gradient

SETTINGS = settings(max_examples=25, deadline=None)


def rand(*shape, seed=0):
    return np.random.default_rng(seed).standard_normal(shape)


X = rand(3, 4, 5)


# ---- forward ------------------------------------------------------------------------------
@pytest.mark.parametrize("key", [
    1, -1, slice(1, 3), slice(None, None, -1), slice(0, 4, 2), (1, 2), (-1, slice(1, None), 3),
    Ellipsis, (Ellipsis, 2), (None, 1), (slice(None), None, 2), (1, Ellipsis, None),
    [0, 2], [[0, 1], [2, 2]], (slice(None), [3, 0, 3]), ([0, 2], [1, 3]),
    ([0, 2], slice(None), [4, 0]), (1, [0, 1], slice(1, 3)), np.array([2, 0]),
    X[:, 0, 0] > 0, (slice(None), X[0, :, 0] > 0),
])
def test_getitem_matches_numpy(key):
    expect = X[key]
    got = nd.array(X, dtype="float64")[key]
    assert_almost_equal(got, np.asarray(expect).reshape(got.shape))
    assert got.shape == (expect.shape or (1,))


def test_getitem_ndarray_index_and_scalar_shape():
    x = nd.array(X)
    idx = nd.array([2, 0])                      # float32 index array, like MXNet labels
    assert_almost_equal(x[idx], X[[2, 0]])
    assert_almost_equal(x[nd.array([1, 0], dtype="int32"), 1], X[[1, 0], 1])
    assert x[1, 2, 3].shape == (1,)             # MXNet 1.x: never 0-d
    assert x[1, 2, 3].asscalar() == pytest.approx(X[1, 2, 3])
    mask = nd.array(X[:, 0, 0] > 0, dtype="bool")
    assert_almost_equal(x[mask], X[X[:, 0, 0] > 0])


@SETTINGS
@given(st.lists(st.tuples(st.integers(-6, 6) | st.none(), st.integers(-6, 6) | st.none(),
                          st.sampled_from([None, 1, 2, -1, -2])), min_size=1, max_size=3))
def test_basic_slices_hypothesis(triples):
    key = tuple(slice(*t) for t in triples)
    expect = X[key]
    assume(expect.size > 0)                   # MXNet does not support empty slices
    assert_almost_equal(nd.array(X, dtype="float64")[key], expect)


def test_numpy_and_ndarray_slice_bounds():
    x = nd.arange(10)
    assert x[np.int64(2):nd.array([5], dtype="int32")].asnumpy().tolist() == [2, 3, 4]
    assert x[np.int64(2):np.int64(5)].shape == (3,)
    with pytest.raises(TypeError, match=r"only integer NDArrays"):
        x[nd.array([1.0]):]


def test_contiguous_basic_slice_is_a_view_like_mxnet():
    x = nd.zeros((3, 4))
    row = x[1]
    row[:] = 7
    assert x.asnumpy()[1].tolist() == [7] * 4


def test_index_errors():
    with pytest.raises(ShapeError, match=r"shape \(3, 4, 5\).*out of bounds"):
        nd.array(X)[5]
    with pytest.raises(ShapeError, match=r"too many indices"):
        nd.array(X)[0, 0, 0, 0]


# ---- gradients ----------------------------------------------------------------------------
@pytest.mark.parametrize("key", [
    (1, slice(0, 2)), (slice(None, None, -2), 1), (Ellipsis, 0), (None, 1),
    ([0, 1, 0], slice(1, 3)), (slice(None), [1, 1, 2]), ([0, 1], [2, 2]),
    (X[:2, :3, 0] > 0,), (1, 2, 3),
])
def test_getitem_grad(key):
    check_numeric_gradient(lambda a: a[key] * a[key], [X[:2, :3, :4]])


def test_repeated_indices_accumulate():
    x = nd.array([1.0, 2.0, 3.0])
    x.attach_grad()
    with autograd.record():
        y = x[nd.array([0, 0, 2, 0])].sum()
    y.backward()
    assert x.grad.asnumpy().tolist() == [3.0, 0.0, 1.0]


def test_second_order_through_indexing():
    x = nd.array([1.0, 2.0, 3.0])
    x.attach_grad()
    with autograd.record():
        y = (x[[0, 0, 2]] ** 3).sum()
        (g,) = autograd.grad(y, [x], create_graph=True)
        z = g.sum()
    z.backward()
    # y = 2 x0^3 + x2^3; dy/dx = (6 x0^2, 0, 3 x2^2); d(sum)/dx = (12 x0, 0, 6 x2)
    assert_almost_equal(x.grad, [12.0, 0.0, 18.0])


# ---- setitem ------------------------------------------------------------------------------
@pytest.mark.parametrize("key,value", [
    (1, 5.0), ((slice(None), 2), 1.5), ((0, slice(1, 3)), np.array([[7.0], [8.0]])),
    (slice(None), np.arange(5.0)), ((Ellipsis, 0), np.ones((3, 1))),
    ([0, 2], -1.0), ((slice(None), [1, 3]), np.arange(6.0).reshape(3, 2, 1)),
    (X[:, :, 0] > 0, 9.0),
])
def test_setitem_matches_numpy(key, value):
    ref = X.copy()
    ref[key] = value
    x = nd.array(X, dtype="float64")
    x[key] = nd.array(value, dtype="float64") if isinstance(value, np.ndarray) else value
    assert_almost_equal(x, ref)


def test_setitem_errors():
    x = nd.zeros((2, 3))
    with pytest.raises(ShapeError, match=r"slice assignment into an array of shape \(2, 3\)"):
        x[0] = nd.ones(4)
    x.attach_grad()
    with autograd.record():
        y = x * 2
        with pytest.raises(AutogradError, match=r"slice assignment .* recorded graph"):
            y[0] = 1.0
        with pytest.raises(AutogradError, match=r"recorded graph"):
            x[:] = 0


# ---- slice / slice_axis / slice_like ------------------------------------------------------
def test_slice_forward_and_grad():
    x = nd.array(X, dtype="float64")
    assert_almost_equal(nd.slice(x, begin=(0, 1), end=(2, 3)), X[0:2, 1:3])
    assert_almost_equal(nd.slice(x, begin=(None, 3), end=(None, None), step=(2, -1)),
                        X[::2, 3::-1])
    assert_almost_equal(nd.slice(x, begin=(-1,), end=(None,), step=(-1,)), X[::-1])
    assert_almost_equal(x.slice(begin=(1, None, -1), end=(3, None, 0), step=(1, 1, -2)),
                        X[1:3, :, 4:0:-2])
    check_numeric_gradient(lambda a: nd.slice(a, begin=(1, None), end=(None, 3), step=(1, 2)),
                           [X[:, :, 0]])


def test_slice_errors():
    x = nd.zeros((3, 4))
    with pytest.raises(ShapeError, match=r"slice: begin\[0\]=3 is out of range for axis 0 of "
                                          r"size 3"):
        nd.slice(x, begin=(3,), end=(None,))
    with pytest.raises(ShapeError, match=r"slice: begin\[1\]=2, end\[1\]=2.* select nothing"):
        nd.slice(x, begin=(0, 2), end=(2, 2))
    with pytest.raises(ShapeError, match=r"end\[0\]=5 is out of range"):
        nd.slice(x, begin=(0,), end=(5,))
    with pytest.raises(ShapeError, match=r"same length"):
        nd.slice(x, begin=(0, 1), end=(2,))
    with pytest.raises(ShapeError, match=r"step\[0\] cannot be 0"):
        nd.slice(x, begin=(0,), end=(2,), step=(0,))
    with pytest.raises(HybridnetValueError, match=r"pass begin and end"):
        nd.slice(x)


def test_slice_axis_and_like():
    x = nd.array(X, dtype="float64")
    assert_almost_equal(nd.slice_axis(x, axis=1, begin=1, end=3), X[:, 1:3])
    assert_almost_equal(nd.slice_axis(x, axis=-1, begin=-2, end=None), X[..., -2:])
    check_numeric_gradient(lambda a: nd.slice_axis(a, axis=0, begin=1, end=None), [X[:, :2, 0]])
    with pytest.raises(ShapeError, match=r"slice_axis: begin\[1\]=3, end\[1\]=1"):
        nd.slice_axis(x, axis=1, begin=3, end=1)
    like = nd.zeros((2, 2, 9))
    assert_almost_equal(nd.slice_like(x, like, axes=(0, 1)), X[:2, :2])
    check_numeric_gradient(lambda a, b: nd.slice_like(a, b), [X[:, :, 0], np.zeros((2, 3))],
                           grad_inputs=[0])
    with pytest.raises(ShapeError, match=r"slice_like: shape_like .* is larger"):
        nd.slice_like(x, like)


# ---- take / pick / one_hot / gather_nd / diag ---------------------------------------------
@pytest.mark.parametrize("axis", [0, 1, -1])
@pytest.mark.parametrize("mode", ["clip", "wrap"])
def test_take(axis, mode):
    a = X[:, :3, :4]
    idx = np.array([[0, 5], [-1, 2]])
    np_mode = "clip" if mode == "clip" else "wrap"
    assert_almost_equal(nd.take(nd.array(a, dtype="float64"), nd.array(idx), axis=axis, mode=mode),
                        np.take(a, idx, axis=axis, mode=np_mode))
    check_numeric_gradient(lambda x, i: nd.take(x, i, axis=axis, mode=mode), [a, idx],
                           grad_inputs=[0])


def test_take_repeated_and_raise():
    w = nd.array([[1.0, 2.0], [3.0, 4.0], [5.0, 6.0]])
    w.attach_grad()
    with autograd.record():
        y = nd.take(w, nd.array([2, 2, 0])).sum()
    y.backward()
    assert_almost_equal(w.grad, [[1, 1], [0, 0], [2, 2]])
    assert w.take(nd.array([1.7])).asnumpy().tolist() == [[3.0, 4.0]]   # floats truncate
    with pytest.raises(ShapeError, match=r"take: an index is out of range \[-3, 3\)"):
        nd.take(w, nd.array([3]), mode="raise")
    with pytest.raises(HybridnetValueError, match=r"mode must be 'clip', 'wrap' or 'raise'"):
        nd.take(w, nd.array([0]), mode="nearest")


@pytest.mark.parametrize("axis,keepdims", [(-1, False), (0, False), (1, True)])
def test_pick(axis, keepdims):
    d = rand(3, 4)
    n = d.shape[axis]
    other = d.shape[1 - (axis % 2)]
    idx = np.arange(other) % n
    shape = (1, other) if axis == 0 else (other, 1)
    ref = np.take_along_axis(d, idx.reshape(shape), axis=axis)
    idx_in = idx.reshape(shape) if keepdims else idx
    got = nd.pick(nd.array(d, dtype="float64"), nd.array(idx_in), axis=axis, keepdims=keepdims)
    assert_almost_equal(got, ref if keepdims else ref.reshape(-1))
    check_numeric_gradient(lambda x, i: nd.pick(x, i, axis=axis, keepdims=keepdims), [d, idx_in],
                           grad_inputs=[0])


def test_pick_modes_and_errors():
    d = nd.array([[1.0, 2.0, 3.0], [4.0, 5.0, 6.0]])
    assert d.pick(nd.array([5, -1])).asnumpy().tolist() == [3.0, 4.0]            # clip
    assert nd.pick(d, nd.array([4, -1]), mode="wrap").asnumpy().tolist() == [2.0, 6.0]
    with pytest.raises(ShapeError, match=r"pick: index of shape \(3,\) does not fit data of "
                                         r"shape \(2, 3\)"):
        nd.pick(d, nd.array([0, 1, 2]))


def test_one_hot():
    got = nd.one_hot(nd.array([1, 0, 3, -1]), 3, on_value=2.0, off_value=-1.0)
    ref = np.array([[-1, 2, -1], [2, -1, -1], [-1, -1, -1], [-1, -1, -1]])
    assert_almost_equal(got, ref)
    assert got.dtype == np.float32
    assert nd.one_hot(nd.array([[0, 1]]), depth=2, dtype="int32").dtype == np.int32
    assert nd.array([2, 0]).one_hot(4).shape == (2, 4)
    with pytest.raises(HybridnetValueError, match=r"one_hot: depth must be a positive int"):
        nd.one_hot(nd.array([1]))


def test_gather_nd():
    d = rand(3, 4, 2)
    idx = np.array([[0, 2, 2], [1, 3, 3]])
    assert_almost_equal(nd.gather_nd(nd.array(d, dtype="float64"), nd.array(idx)),
                        d[idx[0], idx[1]])
    check_numeric_gradient(lambda x, i: nd.gather_nd(x, i), [d, idx], grad_inputs=[0])
    with pytest.raises(ShapeError, match=r"gather_nd: indices for axis 1 run outside"):
        nd.gather_nd(nd.array(d), nd.array([[0], [4]]))


@pytest.mark.parametrize("shape,k", [((4,), 0), ((3,), 1), ((3, 4), 0), ((3, 4), 2), ((4, 3), -1)])
def test_diag(shape, k):
    d = rand(*shape)
    assert_almost_equal(nd.diag(nd.array(d, dtype="float64"), k=k), np.diag(d, k))
    check_numeric_gradient(lambda x: nd.diag(x, k=k), [d])
