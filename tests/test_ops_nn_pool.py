"""Pooling: forward vs direct loops (MXNet window rules), gradients, errors."""
import itertools

import numpy as np
import pytest

from hybridnet import autograd, nd
from hybridnet.base import HybridnetValueError, ShapeError
from hybridnet.ops._util import call
from hybridnet.test_utils import assert_almost_equal, check_numeric_gradient

RNG = np.random.default_rng(2)


def ref_pool(x, kernel, stride, pad, pool_type, full, count_include_pad):
    """Loop over outputs; clip windows to the data like MXNet's CPU kernels."""
    sp = x.shape[2:]
    if full:
        out = [-(-(n + 2 * p - k) // s) + 1 for n, k, s, p in zip(sp, kernel, stride, pad)]
    else:
        out = [(n + 2 * p - k) // s + 1 for n, k, s, p in zip(sp, kernel, stride, pad)]
    y = np.zeros(x.shape[:2] + tuple(out))
    for o in np.ndindex(*out):
        lo, hi, size = [], [], 1
        for oo, n, k, s, p in zip(o, sp, kernel, stride, pad):
            start = oo * s - p
            end = min(start + k, n + p)
            size *= end - start
            lo.append(max(start, 0))
            hi.append(min(end, n))
        win = x[(slice(None), slice(None)) + tuple(slice(a, b) for a, b in zip(lo, hi))]
        win = win.reshape(x.shape[:2] + (-1,))
        if pool_type == "max":
            y[(Ellipsis,) + o] = win.max(-1)
        elif pool_type == "sum":
            y[(Ellipsis,) + o] = win.sum(-1)
        else:
            div = size if count_include_pad else int(np.prod([b - a for a, b in zip(lo, hi)]))
            y[(Ellipsis,) + o] = win.sum(-1) / div
    return y


CASES = [  # (kernel, stride, pad)
    ((2, 2), (2, 2), (0, 0)),
    ((3, 3), (1, 1), (1, 1)),
    ((3, 2), (2, 1), (1, 0)),
    ((2, 3), (2, 2), (0, 1)),
]


@pytest.mark.parametrize("kernel,stride,pad", CASES)
@pytest.mark.parametrize("pool_type", ["max", "avg", "sum"])
@pytest.mark.parametrize("convention", ["valid", "full"])
def test_pool2d(kernel, stride, pad, pool_type, convention):
    x = RNG.standard_normal((2, 2, 5, 5))
    kw = dict(kernel=kernel, stride=stride, pad=pad, pool_type=pool_type,
              pooling_convention=convention)
    y = nd.Pooling(nd.array(x, dtype="float64"), **kw)
    assert_almost_equal(y, ref_pool(x, kernel, stride, pad, pool_type, convention == "full",
                                    True), rtol=1e-10, atol=1e-10)
    check_numeric_gradient(lambda x: nd.Pooling(x, **kw), [x])


@pytest.mark.parametrize("convention", ["valid", "full"])
def test_avg_pool_count_include_pad_false(convention):
    x = RNG.standard_normal((2, 3, 4, 5))
    kw = dict(kernel=(3, 3), stride=(2, 2), pad=(1, 1), pool_type="avg",
              pooling_convention=convention, count_include_pad=False)
    y = nd.Pooling(nd.array(x, dtype="float64"), **kw)
    assert_almost_equal(y, ref_pool(x, (3, 3), (2, 2), (1, 1), "avg", convention == "full",
                                    False), rtol=1e-10, atol=1e-10)
    check_numeric_gradient(lambda x: nd.Pooling(x, **kw), [x])


@pytest.mark.parametrize("pool_type", ["max", "avg", "sum"])
def test_pool1d(pool_type):
    x = RNG.standard_normal((2, 3, 7))
    kw = dict(kernel=3, stride=2, pad=1, pool_type=pool_type)
    y = nd.Pooling(nd.array(x, dtype="float64"), **kw)
    assert y.shape == (2, 3, 4)
    assert_almost_equal(y, ref_pool(x, (3,), (2,), (1,), pool_type, False, True), rtol=1e-10,
                        atol=1e-10)
    check_numeric_gradient(lambda x: nd.Pooling(x, **kw), [x])


@pytest.mark.parametrize("pool_type", ["max", "avg", "sum"])
def test_global_pool(pool_type):
    x = RNG.standard_normal((2, 3, 4, 5))
    y = nd.Pooling(nd.array(x), kernel=(1, 1), pool_type=pool_type, global_pool=True)
    assert y.shape == (2, 3, 1, 1)
    fn = {"max": np.max, "avg": np.mean, "sum": np.sum}[pool_type]
    assert_almost_equal(y, fn(x, axis=(2, 3), keepdims=True), rtol=1e-5, atol=1e-5)
    check_numeric_gradient(lambda x: nd.Pooling(x, pool_type=pool_type, global_pool=True), [x])


def test_max_pool_gradient_goes_to_argmax():
    x = nd.array([[[[1, 5, 2, 0], [3, 4, 9, 1], [0, 0, 1, 1], [2, 2, 1, 1]]]])
    x.attach_grad()
    with autograd.record():
        y = nd.Pooling(x, kernel=(2, 2), stride=(2, 2), pool_type="max")
    y.backward(nd.array([[[[10, 20], [30, 40]]]]))
    assert y.asnumpy().ravel().tolist() == [5, 9, 2, 1]
    expect = np.zeros((4, 4))
    expect[0, 1], expect[1, 2], expect[3, 0], expect[2, 2] = 10, 20, 30, 40
    # ties (2, 2 and 1, 1, 1, 1) go to the first maximum in window order, like MXNet
    assert_almost_equal(x.grad.asnumpy()[0, 0], expect)


def test_float32_dtype_kept():
    y = nd.Pooling(nd.ones((1, 1, 4, 4)), kernel=(2, 2), pool_type="avg")
    assert y.dtype == np.float32


def test_avg_grad_op_is_differentiable():
    a = dict(kernel=(2, 3), pool_type="avg", stride=(2, 1), pad=(1, 1),
             pooling_convention="full", count_include_pad=True)
    g = RNG.standard_normal((1, 2, 3, 3))
    check_numeric_gradient(lambda g: call("_pool_avg_grad", g, in_size=(4, 3), **a), [g])


def test_pool_errors():
    x = nd.ones((1, 1, 4, 4))
    with pytest.raises(HybridnetValueError, match=r"pool_type='lp' is not supported; use one "
                                                  r"of \('max', 'avg', 'sum'\)"):
        nd.Pooling(x, kernel=(2, 2), pool_type="lp")
    with pytest.raises(HybridnetValueError, match="pooling_convention='same'"):
        nd.Pooling(x, kernel=(2, 2), pooling_convention="same")
    with pytest.raises(ShapeError, match=r"kernel \(5, 5\) is larger than the input \(4, 4\)"):
        nd.Pooling(x, kernel=(5, 5))
    with pytest.raises(HybridnetValueError, match="pad=.* must be smaller than kernel"):
        nd.Pooling(x, kernel=(2, 2), pad=(2, 2))
    with pytest.raises(HybridnetValueError, match="kernel is required"):
        nd.Pooling(x)
    with pytest.raises(ShapeError, match="must have 3..5 dims"):
        nd.Pooling(nd.ones((4, 4)), kernel=(2, 2))
    with pytest.raises(HybridnetValueError, match="layout 'NHWC'"):
        nd.Pooling(x, kernel=(2, 2), layout="NHWC")


def test_reference_has_no_empty_windows():
    # guard for the parametrized cases: every window touches data, so gradients are finite
    for (kernel, stride, pad), full in itertools.product(CASES, [False, True]):
        y = ref_pool(np.zeros((1, 1, 5, 5)), kernel, stride, pad, "max", full, True)
        assert np.isfinite(y).all()


from hypothesis import assume, given, settings, strategies as st  # noqa: E402


@settings(max_examples=25, deadline=None)
@given(st.integers(1, 2), st.data())
def test_pool_matches_reference_on_random_configs(nsp, data):
    k = tuple(data.draw(st.integers(1, 3)) for _ in range(nsp))
    s = tuple(data.draw(st.integers(1, 3)) for _ in range(nsp))
    p = tuple(data.draw(st.integers(0, kk - 1)) for kk in k)
    size = tuple(data.draw(st.integers(max(1, kk - 2 * pp), 6)) for kk, pp in zip(k, p))
    pool_type = data.draw(st.sampled_from(["max", "avg", "sum"]))
    full = data.draw(st.booleans())
    cip = data.draw(st.booleans())
    x = RNG.standard_normal((2, 2) + size)
    ref = ref_pool(x, k, s, p, "sum", full, cip)      # (sum: defined even for empty windows)
    # skip windows made only of padding (undefined for max, divide-by-zero for avg)
    assume(all((o * ss - pp) < n for n, ss, pp, o in
               zip(size, s, p, [d - 1 for d in ref.shape[2:]])))
    y = nd.Pooling(nd.array(x, dtype="float64"), kernel=k, stride=s, pad=p, pool_type=pool_type,
                   pooling_convention="full" if full else "valid", count_include_pad=cip)
    assert_almost_equal(y, ref_pool(x, k, s, p, pool_type, full, cip), rtol=1e-10, atol=1e-10)
