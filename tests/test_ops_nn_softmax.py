"""softmax, log_softmax, SoftmaxOutput (MXNet's gradient rule), softmax_cross_entropy."""
import numpy as np
import pytest

from hybridnet import autograd, nd
from hybridnet.base import HybridnetValueError, ShapeError
from hybridnet.test_utils import assert_almost_equal, check_numeric_gradient

RNG = np.random.default_rng(4)


def ref_softmax(x, axis=-1, t=1.0):
    e = np.exp((x - x.max(axis=axis, keepdims=True)) / t)
    return e / e.sum(axis=axis, keepdims=True)


@pytest.mark.parametrize("axis", [-1, 0, 1])
@pytest.mark.parametrize("temperature", [None, 2.5])
def test_softmax_and_log_softmax(axis, temperature):
    x = RNG.standard_normal((3, 4, 2))
    t = 1.0 if temperature is None else temperature
    y = nd.softmax(nd.array(x), axis=axis, temperature=temperature)
    assert_almost_equal(y, ref_softmax(x, axis, t), rtol=1e-5, atol=1e-6)
    ly = nd.log_softmax(nd.array(x), axis=axis, temperature=temperature)
    assert_almost_equal(ly, np.log(ref_softmax(x, axis, t)), rtol=1e-5, atol=1e-5)
    check_numeric_gradient(lambda x: nd.softmax(x, axis=axis, temperature=temperature), [x])
    check_numeric_gradient(lambda x: nd.log_softmax(x, axis=axis, temperature=temperature), [x])


def test_softmax_is_stable_and_methods_work():
    x = nd.array([[1000.0, 1001.0, -1000.0]])
    y = x.softmax()
    assert np.isfinite(y.asnumpy()).all()
    assert_almost_equal(y, ref_softmax(np.array([[1000.0, 1001.0, -1000.0]])), atol=1e-6)
    ly = x.log_softmax()
    assert np.isfinite(ly.asnumpy()).all()
    assert abs(ly.asnumpy()[0, 1] - np.log(1 / (1 + 1 / np.e))) < 1e-4
    assert nd.softmax(x, dtype="float64").dtype == np.float64


def test_softmax_errors():
    with pytest.raises(ShapeError, match="softmax"):
        nd.softmax(nd.ones((2, 3)), axis=2)
    with pytest.raises(HybridnetValueError, match="use_length=True is not supported"):
        nd.softmax(nd.ones((2, 3)), use_length=True)


def _so_grad(data, label, **kw):
    d = nd.array(data)
    d.attach_grad()
    with autograd.record():
        y = nd.SoftmaxOutput(d, nd.array(label), **kw)
    # the head gradient is ignored (unless out_grad=True): pass something arbitrary
    y.backward(nd.array(RNG.uniform(2, 3, y.shape)))
    return y.asnumpy(), d.grad.asnumpy()


def test_softmax_output_gradient_ignores_head_grad():
    x, lab = RNG.standard_normal((4, 3)), np.array([0, 2, 1, 1])
    y, g = _so_grad(x, lab)
    p = ref_softmax(x)
    assert_almost_equal(y, p, rtol=1e-5, atol=1e-6)
    assert_almost_equal(g, p - np.eye(3)[lab], rtol=1e-5, atol=1e-6)
    _, g = _so_grad(x, lab, grad_scale=2.0, normalization="batch")
    assert_almost_equal(g, (p - np.eye(3)[lab]) * 2.0 / 4, rtol=1e-5, atol=1e-6)


def test_softmax_output_ignore_label_and_valid_normalization():
    x, lab = RNG.standard_normal((4, 3)), np.array([0, -1, 1, -1])
    _, g = _so_grad(x, lab, use_ignore=True, ignore_label=-1, normalization="valid")
    p = ref_softmax(x)
    expect = p - np.eye(3)[[0, 0, 1, 0]]
    expect[[1, 3]] = 0.0
    assert_almost_equal(g, expect / 2, rtol=1e-5, atol=1e-6)


def test_softmax_output_multi_output():
    x, lab = RNG.standard_normal((2, 3, 2, 2)), RNG.integers(0, 3, (2, 2, 2))
    y, g = _so_grad(x, lab, multi_output=True)
    p = ref_softmax(x, axis=1)
    assert_almost_equal(y, p, rtol=1e-5, atol=1e-6)
    onehot = np.moveaxis(np.eye(3)[lab], -1, 1)
    # MXNet divides by the spatial size for 'null'/'batch' normalization
    assert_almost_equal(g, (p - onehot) / 4, rtol=1e-5, atol=1e-6)
    _, g = _so_grad(x, lab.reshape(2, 4), multi_output=True, normalization="batch")
    assert_almost_equal(g, (p - onehot) / 4 / 2, rtol=1e-5, atol=1e-6)


def test_softmax_output_prob_label_out_grad_and_flatten():
    x, prob = RNG.standard_normal((2, 3)), ref_softmax(RNG.standard_normal((2, 3)))
    _, g = _so_grad(x, prob, grad_scale=0.5)
    assert_almost_equal(g, (ref_softmax(x) - prob) * 0.5, rtol=1e-5, atol=1e-6)
    # default layout softmaxes data.reshape(N, -1)
    x3 = RNG.standard_normal((2, 2, 3))
    y, _ = _so_grad(x3, np.array([1, 5]))
    assert_almost_equal(y, ref_softmax(x3.reshape(2, 6)).reshape(2, 2, 3), rtol=1e-5, atol=1e-6)
    # out_grad multiplies by the head gradient
    d, head = nd.array(x), RNG.uniform(1, 2, (2, 3))
    d.attach_grad()
    with autograd.record():
        y = nd.SoftmaxOutput(d, nd.array([1, 2]), out_grad=True)
    y.backward(nd.array(head))
    assert_almost_equal(d.grad, (ref_softmax(x) - np.eye(3)[[1, 2]]) * head, rtol=1e-5,
                        atol=1e-6)


def test_softmax_output_smoothing_and_errors():
    x = RNG.standard_normal((2, 4))
    _, g = _so_grad(x, np.array([0, 3]), smooth_alpha=0.3)
    target = np.full((2, 4), 0.1)
    target[0, 0] = target[1, 3] = 0.7
    assert_almost_equal(g, ref_softmax(x) - target, rtol=1e-5, atol=1e-6)
    with pytest.raises(ShapeError, match=r"SoftmaxOutput: label shape \(3,\) does not fit data "
                                         r"shape \(2, 4\).*expected label shape \(2,\)"):
        nd.SoftmaxOutput(nd.array(x), nd.array([0, 1, 2]))
    with pytest.raises(HybridnetValueError, match=r"label value 4 is out of range for 4 "
                                                  r"classes \(valid 0..3\)"):
        nd.SoftmaxOutput(nd.array(x), nd.array([0, 4]))
    with pytest.raises(HybridnetValueError, match="normalization='mean'"):
        nd.SoftmaxOutput(nd.array(x), nd.array([0, 1]), normalization="mean")


def test_softmax_cross_entropy():
    x, lab = RNG.standard_normal((4, 3)), np.array([0, 2, 1, 1])
    y = nd.softmax_cross_entropy(nd.array(x), nd.array(lab))
    assert y.shape == (1,)
    assert_almost_equal(y, [-np.log(ref_softmax(x)[np.arange(4), lab]).sum()], rtol=1e-5)
    check_numeric_gradient(lambda x: nd.softmax_cross_entropy(x, nd.array(lab)), [x])
    with pytest.raises(HybridnetValueError, match=r"labels must be in 0..2, got values in 0..3"):
        nd.softmax_cross_entropy(nd.array(x), nd.array([0, 1, 2, 3]))
    with pytest.raises(ShapeError, match=r"expected data \(N, K\) and label \(N,\)"):
        nd.softmax_cross_entropy(nd.array(x), nd.array([0, 1]))
