"""Reductions, argmax/argmin, norm, broadcast_axes/like, sort/argsort/topk:
forward vs NumPy (hypothesis shapes and axes), gradients vs central differences
(float64), MXNet shape rules (full reduction -> (1,)), and axis errors."""
import numpy as np
import pytest
from hypothesis import given, settings, strategies as st
from hypothesis.extra import numpy as hnp

from hybridnet import autograd, nd
from hybridnet.base import HybridnetValueError, ShapeError
from hybridnet.test_utils import assert_almost_equal, check_numeric_gradient

REDUCE = {"sum": np.sum, "mean": np.mean, "max": np.max, "min": np.min, "prod": np.prod,
          "nansum": np.nansum, "nanprod": np.nanprod}


def _mx_shape(r):
    """MXNet 1.x: a full reduction gives shape (1,), not ()."""
    r = np.asarray(r)
    return r.reshape(1) if r.ndim == 0 else r


@st.composite
def _shape_axis(draw, allow_tuple=True):
    shape = draw(hnp.array_shapes(min_dims=1, max_dims=4, min_side=1, max_side=4))
    nd_ = len(shape)
    kinds = ["none", "int"] + (["tuple"] if allow_tuple else [])
    kind = draw(st.sampled_from(kinds))
    if kind == "none":
        axis = None
    elif kind == "int":
        axis = draw(st.integers(-nd_, nd_ - 1))
    else:
        pos = draw(st.lists(st.integers(0, nd_ - 1), min_size=1, max_size=nd_, unique=True))
        axis = tuple(p - nd_ if draw(st.booleans()) else p for p in pos)  # mix negative axes
    return shape, axis


@settings(max_examples=30, deadline=None)
@given(_shape_axis(), st.booleans(), st.sampled_from(sorted(REDUCE)), st.integers(0, 2 ** 16))
def test_reduce_forward(shape_axis, keepdims, name, seed):
    shape, axis = shape_axis
    x = np.random.default_rng(seed).uniform(0.5, 1.5, shape)
    if name.startswith("nan"):
        x[np.random.default_rng(seed + 1).uniform(size=shape) < 0.3] = np.nan
    ref = _mx_shape(REDUCE[name](x, axis=axis, keepdims=keepdims))
    y = getattr(nd, name)(nd.array(x, dtype="float64"), axis=axis, keepdims=keepdims)
    assert y.shape == ref.shape and y.dtype == np.float64
    assert_almost_equal(y, ref, rtol=1e-12, atol=1e-12)
    # the method spelling and a list axis agree
    m = getattr(nd.array(x, dtype="float64"), name)(
        axis=list(axis) if isinstance(axis, tuple) else axis, keepdims=keepdims)
    assert_almost_equal(m, ref, rtol=1e-12, atol=1e-12)


@settings(max_examples=25, deadline=None)
@given(_shape_axis(), st.booleans(), st.sampled_from(["sum", "mean", "max", "prod"]))
def test_reduce_exclude(shape_axis, keepdims, name):
    shape, axis = shape_axis
    x = np.random.default_rng(0).uniform(0.5, 1.5, shape)
    if axis is None:       # MXNet: no axis means all axes, exclude or not
        other = None
    else:
        given_axes = {a % len(shape) for a in ((axis,) if isinstance(axis, int) else axis)}
        other = tuple(i for i in range(len(shape)) if i not in given_axes)
    ref = x.copy() if other == () else _mx_shape(REDUCE[name](x, axis=other, keepdims=keepdims))
    y = getattr(nd, name)(nd.array(x, dtype="float64"), axis=axis, keepdims=keepdims,
                          exclude=True)
    assert y.shape == ref.shape
    assert_almost_equal(y, ref, rtol=1e-12)


def test_full_reduction_is_shape_1():
    x = nd.ones((2, 3))
    for name in REDUCE:
        assert getattr(x, name)().shape == (1,), name
    assert x.sum().asscalar() == 6 and x.sum()[0] == 6
    assert x.sum(axis=(0, 1)).shape == (1,)
    assert x.sum(keepdims=True).shape == (1, 1)
    assert nd.sum_axis(x, axis=1).shape == (2,)


def test_int32_reductions_keep_dtype():
    x = nd.array([[1, 2], [3, 5]], dtype="int32")
    assert x.sum().dtype == np.int32 and x.sum().asscalar() == 11
    assert x.prod(axis=0).asnumpy().tolist() == [3, 10]
    assert x.max(axis=1).dtype == np.int32
    assert x.mean(axis=1).dtype == np.int32 and x.mean(axis=1).asnumpy().tolist() == [1, 4]


@pytest.mark.parametrize("name", sorted(REDUCE))
@pytest.mark.parametrize("axis,keepdims", [(None, False), (1, False), (-1, True), ((0, 2), False),
                                           ((1,), True)])
def test_reduce_gradient(name, axis, keepdims):
    x = np.random.default_rng(7).uniform(0.5, 1.5, (2, 3, 2))
    check_numeric_gradient(lambda a: getattr(nd, name)(a, axis=axis, keepdims=keepdims), [x])
    check_numeric_gradient(lambda a: getattr(nd, name)(a, axis=axis, exclude=True), [x])


def test_max_min_gradient_split_evenly_among_ties():
    x = nd.array([[1.0, 3.0, 3.0], [2.0, 2.0, 2.0], [0.0, -1.0, 5.0]])
    for name, ref in [("max", [[0, .5, .5], [1 / 3] * 3, [0, 0, 1]]),
                      ("min", [[1, 0, 0], [1 / 3] * 3, [0, 1, 0]])]:
        x.attach_grad()
        with autograd.record():
            y = getattr(x, name)(axis=1)
        y.backward()
        assert_almost_equal(x.grad, np.array(ref, np.float32))
    x.attach_grad()
    with autograd.record():
        y = x.max()            # full reduction: one maximum
    y.backward()
    assert x.grad.asnumpy().sum() == 1 and x.grad.asnumpy()[2, 2] == 1


def test_mean_gradient_is_g_over_count():
    x = nd.ones((2, 5))
    x.attach_grad()
    with autograd.record():
        y = x.mean(axis=1)
    y.backward(nd.array([1.0, 10.0]))
    assert_almost_equal(x.grad, np.array([[0.2] * 5, [2.0] * 5], np.float32))


def test_prod_gradient_with_zeros():
    x = np.array([[0.0, 2.0, 3.0], [0.0, 0.0, 4.0], [1.5, 2.0, 0.5]])
    check_numeric_gradient(lambda a: nd.prod(a, axis=1), [x])
    check_numeric_gradient(lambda a: nd.prod(a, axis=0), [x[:, ::-1]])
    check_numeric_gradient(lambda a: nd.nanprod(a, axis=1), [np.array([[np.nan, 2.0, 0.0]])])


def test_nan_reductions_ignore_nan_in_gradient():
    x = nd.array([[np.nan, 2.0, 3.0]], dtype="float64")
    x.attach_grad()
    with autograd.record():
        y = nd.nansum(x) + nd.nanprod(x)
    y.backward()
    assert x.grad.asnumpy().tolist() == [[0.0, 4.0, 3.0]]


@pytest.mark.parametrize("name", sorted(REDUCE) + ["norm", "argmax", "argmin"])
def test_invalid_axis_error(name):
    x = nd.ones((2, 3))
    with pytest.raises(ShapeError, match=rf"{name}: axis 2 is out of range for an input of shape "
                                         r"\(2, 3\) \(2 dims\); pass an axis in \[-2, 2\)"):
        getattr(nd, name)(x, axis=2)
    with pytest.raises(ShapeError, match=rf"{name}: axis -3 is out of range"):
        getattr(x, name)(axis=-3)


def test_repeated_axis_error():
    with pytest.raises(ShapeError, match=r"sum: axis -1 is repeated in axis=\(1, -1\)"):
        nd.ones((2, 3)).sum(axis=(1, -1))


# ---- argmax / argmin -------------------------------------------------------------------------
@settings(max_examples=25, deadline=None)
@given(_shape_axis(allow_tuple=False), st.booleans(), st.sampled_from(["argmax", "argmin"]),
       st.sampled_from(["float32", "float64"]))
def test_argmax_argmin(shape_axis, keepdims, name, dtype):
    shape, axis = shape_axis
    # few distinct values: ties resolve to the first index, like NumPy
    x = np.random.default_rng(1).integers(0, 3, shape).astype(dtype)
    ref = _mx_shape(getattr(np, name)(x, axis=axis, keepdims=keepdims)).astype(dtype)
    y = getattr(nd, name)(nd.array(x, dtype=dtype), axis=axis, keepdims=keepdims)
    assert y.dtype == np.dtype(dtype)          # MXNet: float indices in the input dtype
    assert y.shape == ref.shape and np.array_equal(y.asnumpy(), ref)


def test_argmax_rejects_tuple_axis_and_is_not_differentiable():
    x = nd.array([[1.0, 5.0], [7.0, 2.0]])
    with pytest.raises(ShapeError, match=r"argmax: axis must be an int or None, got \(0, 1\)"):
        nd.argmax(x, axis=(0, 1))
    assert x.argmax().asnumpy().tolist() == [2.0]
    x.attach_grad()
    with autograd.record():
        y = x.argmax(axis=1) * 1.0 + x.sum(axis=1)
    y.backward()
    assert x.grad.asnumpy().tolist() == [[1, 1], [1, 1]]


# ---- norm ----------------------------------------------------------------------------------
@settings(max_examples=25, deadline=None)
@given(_shape_axis(), st.booleans(), st.sampled_from([1, 2]))
def test_norm_forward(shape_axis, keepdims, ord_):
    shape, axis = shape_axis
    x = np.random.default_rng(2).normal(size=shape)
    if ord_ == 1:
        ref = np.sum(np.abs(x), axis=axis, keepdims=keepdims)
    else:
        ref = np.sqrt(np.sum(x * x, axis=axis, keepdims=keepdims))
    y = nd.norm(nd.array(x, dtype="float64"), ord=ord_, axis=axis, keepdims=keepdims)
    assert_almost_equal(y, _mx_shape(ref), rtol=1e-12)


@pytest.mark.parametrize("ord_", [1, 2])
@pytest.mark.parametrize("axis", [None, 0, -1, (0, 1)])
def test_norm_gradient(ord_, axis):
    x = np.random.default_rng(3).uniform(0.3, 1.0, (2, 3)) * np.array([1, -1, 1])
    check_numeric_gradient(lambda a: nd.norm(a, ord=ord_, axis=axis), [x])


def test_norm_zero_vector_grad_and_errors():
    x = nd.zeros((2, 3))
    x.attach_grad()
    with autograd.record():
        y = nd.norm(x, axis=1)
    y.backward()
    assert np.all(x.grad.asnumpy() == 0)
    assert nd.norm(nd.ones((2,)), out_dtype="float64").dtype == np.float64
    with pytest.raises(ShapeError, match="norm: ord must be 1 or 2, got 3"):
        nd.norm(nd.ones((2,)), ord=3)


# ---- broadcast_axes / broadcast_like ---------------------------------------------------------
def test_broadcast_axes():
    x = np.arange(3.0).reshape(1, 3, 1)
    y = nd.broadcast_axes(nd.array(x), axis=(0, 2), size=(2, 4))
    assert_almost_equal(y, np.broadcast_to(x, (2, 3, 4)))
    assert nd.broadcast_axis(nd.array(x), axis=-1, size=5).shape == (1, 3, 5)
    assert nd.array(x).broadcast_axes(axis=0, size=2).shape == (2, 3, 1)
    check_numeric_gradient(lambda a: nd.broadcast_axes(a, axis=(0, 2), size=(2, 4)), [x])
    with pytest.raises(ShapeError, match=r"broadcast_axes: axis 1 of the input shape \(1, 3, 1\) "
                                         "has size 3; only size-1 axes"):
        nd.broadcast_axes(nd.array(x), axis=1, size=4)
    with pytest.raises(ShapeError, match="broadcast_axes: axis 3 is out of range"):
        nd.broadcast_axes(nd.array(x), axis=3, size=4)


def test_broadcast_like():
    x = np.array([[1.0], [2.0]])
    like = nd.zeros((2, 4))
    assert_almost_equal(nd.broadcast_like(nd.array(x), like), np.broadcast_to(x, (2, 4)))
    assert nd.array(x).broadcast_like(like).shape == (2, 4)
    y = nd.broadcast_like(nd.array(x), nd.zeros((5, 7)), lhs_axes=(1,), rhs_axes=(0,))
    assert y.shape == (2, 5)
    check_numeric_gradient(lambda a, b: nd.broadcast_like(a, b), [x, np.zeros((3, 2, 4))],
                           grad_inputs=[0])
    with pytest.raises(ShapeError, match=r"broadcast_like: cannot broadcast lhs of shape "
                                         r"\(2, 1\) to \(3, 4\)"):
        nd.broadcast_like(nd.array(x), nd.zeros((3, 4)))


# ---- sort / argsort / topk -------------------------------------------------------------------
@settings(max_examples=25, deadline=None)
@given(_shape_axis(allow_tuple=False), st.booleans())
def test_sort_argsort(shape_axis, ascend):
    shape, axis = shape_axis
    x = np.random.default_rng(4).integers(0, 4, shape).astype(np.float32)   # with ties
    flat = x.reshape(-1) if axis is None else x
    ax = 0 if axis is None else axis
    perm = np.argsort(flat if ascend else -flat, axis=ax, kind="stable")
    y = nd.sort(nd.array(x), axis=axis, is_ascend=ascend)
    assert np.array_equal(y.asnumpy(), np.take_along_axis(flat, perm, ax))
    i = nd.argsort(nd.array(x), axis=axis, is_ascend=ascend)
    assert i.dtype == np.float32 and np.array_equal(i.asnumpy(), perm.astype(np.float32))
    assert nd.argsort(nd.array(x), axis=axis, dtype="int32").dtype == np.int32


def test_topk_return_types():
    x = np.array([[0.3, 0.9, 0.1, 0.5], [0.8, 0.2, 0.7, 0.4]], np.float32)
    a = nd.array(x)
    assert nd.topk(a).asnumpy().tolist() == [[1.0], [0.0]]              # default: indices, k=1
    assert nd.topk(a, k=2).asnumpy().tolist() == [[1, 3], [0, 2]]
    assert_almost_equal(nd.topk(a, k=2, ret_typ="value"), [[0.9, 0.5], [0.8, 0.7]])
    assert nd.topk(a, k=2, is_ascend=True).asnumpy().tolist() == [[2, 0], [1, 3]]
    assert nd.topk(a, axis=0, k=1).asnumpy().tolist() == [[1, 0, 1, 0]]
    assert nd.topk(a, k=2, ret_typ="mask").asnumpy().tolist() == [[0, 1, 0, 1], [1, 0, 1, 0]]
    v, i = nd.topk(a, k=3, ret_typ="both")
    assert_almost_equal(v, [[0.9, 0.5, 0.3], [0.8, 0.7, 0.4]])
    assert i.asnumpy().tolist() == [[1, 3, 0], [0, 2, 3]]
    assert nd.topk(a, k=0).shape == (2, 4)                               # k < 1: all
    assert nd.topk(a, axis=None, k=2).asnumpy().tolist() == [1, 4]       # flat index
    assert a.topk(k=1, dtype="int32").dtype == np.int32


def test_topk_errors():
    with pytest.raises(ShapeError, match=r"topk: k=5 is larger than the size 4 of axis -1 "
                                         r"\(input shape \(2, 4\)\)"):
        nd.topk(nd.ones((2, 4)), k=5)
    with pytest.raises(HybridnetValueError, match="topk: ret_typ must be one of"):
        nd.topk(nd.ones((2, 4)), ret_typ="values")
    with pytest.raises(ShapeError, match=r"sort: axis 2 is out of range for an input of shape"):
        nd.sort(nd.ones((2, 4)), axis=2)


@pytest.mark.parametrize("axis,ascend", [(-1, True), (0, False), (None, True)])
def test_sort_gradient(axis, ascend):
    x = np.random.default_rng(5).normal(size=(3, 4))
    check_numeric_gradient(lambda a: nd.sort(a, axis=axis, is_ascend=ascend), [x])


@pytest.mark.parametrize("axis,k,ascend", [(-1, 2, False), (0, 1, True), (None, 3, False)])
def test_topk_value_gradient(axis, k, ascend):
    x = np.random.default_rng(6).normal(size=(3, 4))
    check_numeric_gradient(lambda a: nd.topk(a, axis=axis, k=k, ret_typ="value",
                                             is_ascend=ascend), [x])
