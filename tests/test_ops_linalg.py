"""dot (MXNet N-D semantics), batch_dot, linalg.gemm2 / gemm: forward, gradients, errors."""
import numpy as np
import pytest
from hypothesis import given, settings, strategies as st

from hybridnet import autograd, nd
from hybridnet.base import DTypeError, ShapeError
from hybridnet.test_utils import assert_almost_equal, check_numeric_gradient

SETTINGS = settings(max_examples=25, deadline=None)
TT = [(False, False), (True, False), (False, True), (True, True)]


def rand(*shape, seed=0):
    return np.random.default_rng(seed).standard_normal(shape)


def ref_dot(a, b, ta=False, tb=False):
    """MXNet's dot: lhs as (rest, last) or, transposed, (first, rest)^T; rhs likewise."""
    if a.ndim == 1 and b.ndim == 1:
        return np.array([a @ b])
    p = lambda dims: int(np.prod(dims))     # noqa: E731  (not -1: sizes may be 0)
    A = a.reshape(a.shape[0], p(a.shape[1:])).T if ta else a.reshape(p(a.shape[:-1]), a.shape[-1])
    B = b.reshape(p(b.shape[:-1]), b.shape[-1]).T if tb else b.reshape(b.shape[0], p(b.shape[1:]))
    keep_a = (a.shape[1:] if ta else a.shape[:-1]) if a.ndim > 1 else ()
    keep_b = (b.shape[:-1] if tb else b.shape[1:]) if b.ndim > 1 else ()
    return (A @ B).reshape(keep_a + keep_b)


@pytest.mark.parametrize("ta,tb", TT)
def test_dot_2d(ta, tb):
    a = rand(*((4, 3) if ta else (3, 4)))
    b = rand(*((5, 4) if tb else (4, 5)), seed=1)
    got = nd.dot(nd.array(a), nd.array(b), transpose_a=ta, transpose_b=tb)
    assert_almost_equal(got, (a.T if ta else a) @ (b.T if tb else b), rtol=1e-5, atol=1e-5)
    check_numeric_gradient(lambda x, y: nd.dot(x, y, transpose_a=ta, transpose_b=tb), [a, b])


@pytest.mark.parametrize("sa,sb,ta,tb", [
    ((4,), (4,), False, False), ((3,), (3, 2), False, False), ((2, 3), (3,), False, False),
    ((3,), (2, 3), False, True), ((2, 3, 4), (4, 5), False, False),
    ((2, 3, 4), (4, 2, 3), False, False), ((3, 2), (3, 2, 2), True, False),
    ((4, 2, 3), (5, 4), True, True), ((2, 3), (5, 2, 3), False, True),
])
def test_dot_nd_matches_mxnet_rule(sa, sb, ta, tb):
    a, b = rand(*sa), rand(*sb, seed=1)
    got = nd.dot(nd.array(a, dtype="float64"), nd.array(b, dtype="float64"),
                 transpose_a=ta, transpose_b=tb)
    assert_almost_equal(got, ref_dot(a, b, ta, tb))
    check_numeric_gradient(lambda x, y: nd.dot(x, y, transpose_a=ta, transpose_b=tb), [a, b])


@SETTINGS
@given(st.lists(st.integers(1, 3), min_size=1, max_size=3),
       st.lists(st.integers(1, 3), min_size=0, max_size=2), st.integers(1, 4))
def test_dot_nd_hypothesis(lead, trail, k):
    a, b = rand(*lead, k), rand(k, *trail, seed=2)
    got = nd.dot(nd.array(a, dtype="float64"), nd.array(b, dtype="float64"))
    assert_almost_equal(got, ref_dot(a, b).reshape(got.shape))
    assert got.shape == (tuple(lead) + tuple(trail) if len(lead) + len(trail) else (1,))


def test_matmul_operator_uses_dot():
    a, b = rand(2, 3), rand(3, 4, seed=1)
    assert_almost_equal(nd.array(a) @ nd.array(b), a @ b, rtol=1e-5, atol=1e-5)
    assert_almost_equal(a @ nd.array(b), a @ b, rtol=1e-5, atol=1e-5)
    assert_almost_equal(nd.array(a).dot(nd.array(b)), a @ b, rtol=1e-5, atol=1e-5)


def test_dot_errors():
    with pytest.raises(ShapeError, match=r"dot: shapes \(2, 3\) and \(4, 5\) do not align.*"
                                         r"last dim of lhs must equal the first dim of rhs: "
                                         r"transpose an operand"):
        nd.dot(nd.zeros((2, 3)), nd.zeros((4, 5)))
    with pytest.raises(ShapeError, match=r"\(2, 3\) and \(2, 5\).*transpose_b=True.*"
                                         r"last dim of rhs"):
        nd.dot(nd.zeros((2, 3)), nd.zeros((2, 5)), transpose_b=True)
    with pytest.raises(ShapeError, match=r"cannot transpose 1-D operands"):
        nd.dot(nd.zeros(3), nd.zeros(3), transpose_a=True)
    with pytest.raises(ShapeError, match=r"do not align"):
        nd.zeros((2, 3)) @ nd.zeros((2, 3))
    with pytest.raises(DTypeError, match=r"dot: operands have different dtypes \(float32, "
                                         r"float64\).*astype"):
        nd.dot(nd.zeros((2, 3)), nd.zeros((3, 2), dtype="float64"))


@pytest.mark.parametrize("ta,tb", TT)
def test_batch_dot(ta, tb):
    a = rand(*((2, 4, 3) if ta else (2, 3, 4)))
    b = rand(*((2, 5, 4) if tb else (2, 4, 5)), seed=1)
    ref = np.matmul(a.transpose(0, 2, 1) if ta else a, b.transpose(0, 2, 1) if tb else b)
    got = nd.batch_dot(nd.array(a, dtype="float64"), nd.array(b, dtype="float64"),
                       transpose_a=ta, transpose_b=tb)
    assert_almost_equal(got, ref)
    check_numeric_gradient(lambda x, y: nd.batch_dot(x, y, transpose_a=ta, transpose_b=tb),
                           [a[:, :, :2] if ta else a[:, :2], b])


def test_batch_dot_errors():
    with pytest.raises(ShapeError, match=r"batch_dot: shapes \(2, 3, 4\) and \(2, 3, 5\) do not "
                                         r"align.*Transpose an operand"):
        nd.batch_dot(nd.zeros((2, 3, 4)), nd.zeros((2, 3, 5)))
    with pytest.raises(ShapeError, match=r"same batch dims.*\(2, 3, 4\) and \(3, 4, 5\)"):
        nd.batch_dot(nd.zeros((2, 3, 4)), nd.zeros((3, 4, 5)))
    with pytest.raises(ShapeError, match=r">= 3 dims"):
        nd.batch_dot(nd.zeros((3, 4)), nd.zeros((4, 5)))


@pytest.mark.parametrize("ta,tb", TT)
def test_gemm2(ta, tb):
    a = rand(*((2, 4, 3) if ta else (2, 3, 4)))
    b = rand(*((2, 5, 4) if tb else (2, 4, 5)), seed=1)
    ref = 0.5 * np.matmul(a.transpose(0, 2, 1) if ta else a, b.transpose(0, 2, 1) if tb else b)
    got = nd.linalg.gemm2(nd.array(a, dtype="float64"), nd.array(b, dtype="float64"),
                          transpose_a=ta, transpose_b=tb, alpha=0.5)
    assert_almost_equal(got, ref)
    assert_almost_equal(nd.linalg_gemm2(nd.array(a[0]), nd.array(b[0]), transpose_a=ta,
                                        transpose_b=tb), ref[0] * 2, rtol=1e-5, atol=1e-5)
    check_numeric_gradient(lambda x, y: nd.linalg.gemm2(x, y, transpose_a=ta, transpose_b=tb,
                                                        alpha=0.5), [a, b])


def test_gemm2_axis_is_swapaxes_gemm_swapaxes():
    a, b = rand(2, 3, 2, 4), rand(2, 4, 2, 5, seed=1)       # rows on axis 1, columns last
    swap = lambda x: np.swapaxes(x, 1, 2)  # noqa: E731
    ref = swap(np.matmul(swap(a), swap(b)))
    got = nd.linalg.gemm2(nd.array(a, dtype="float64"), nd.array(b, dtype="float64"), axis=1)
    assert_almost_equal(got, ref)
    check_numeric_gradient(lambda x, y: nd.linalg.gemm2(x, y, axis=1, transpose_a=True),
                           [np.swapaxes(a, 1, 3)[:, :, :, :3].copy(), b[:, :, :, :2]])
    with pytest.raises(ShapeError, match=r"linalg.gemm2: shapes .* do not align"):
        nd.linalg.gemm2(nd.zeros((3, 4)), nd.zeros((3, 4)))


def test_gemm():
    a, b, c = rand(3, 4), rand(4, 2, seed=1), rand(3, 2, seed=2)
    got = nd.linalg.gemm(nd.array(a, dtype="float64"), nd.array(b, dtype="float64"),
                         nd.array(c, dtype="float64"), alpha=2.0, beta=-1.0)
    assert_almost_equal(got, 2 * a @ b - c)
    check_numeric_gradient(lambda x, y, z: nd.linalg.gemm(x, y, z, alpha=2.0, beta=0.5,
                                                          transpose_b=True), [a, b.T.copy(), c])
    with pytest.raises(ShapeError, match=r"linalg.gemm: C has shape \(2, 2\)"):
        nd.linalg.gemm(nd.array(a), nd.array(b), nd.zeros((2, 2)))


@pytest.mark.parametrize("sa,sb,ta,tb", [((2, 0), (0, 5), False, False),
                                         ((0, 2), (0, 5), True, False),
                                         ((2, 0), (5, 0), False, True),
                                         ((2, 3, 0), (0, 4), False, False),
                                         ((0, 3), (3, 4), False, False),
                                         ((2, 0, 3), (3, 4), False, False),
                                         ((3, 2), (3, 0), True, False)])
def test_dot_with_an_empty_dim(sa, sb, ta, tb):
    # an empty contracted dim gives zeros (as NumPy); an empty kept dim an empty result
    a, b = nd.ones(sa), nd.ones(sb)
    a.attach_grad()
    b.attach_grad()
    with autograd.record():
        c = nd.dot(a, b, transpose_a=ta, transpose_b=tb)
    ref = ref_dot(a.asnumpy(), b.asnumpy(), ta, tb)
    assert c.shape == ref.shape
    np.testing.assert_array_equal(c.asnumpy(), ref)
    c.backward()
    assert a.grad.shape == sa and b.grad.shape == sb
    assert not a.grad.asnumpy().any() and not b.grad.asnumpy().any()
