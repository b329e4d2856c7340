"""BatchNorm (train/predict, moving statistics), LayerNorm, InstanceNorm."""
import numpy as np
import pytest

from hybridnet import autograd, nd
from hybridnet.base import ShapeError
from hybridnet.test_utils import assert_almost_equal, check_numeric_gradient

RNG = np.random.default_rng(3)


def rand(*shape):
    return RNG.standard_normal(shape)


def ref_norm(x, gamma, beta, axes, ch_axis, eps):
    mean = x.mean(axis=axes, keepdims=True)
    var = x.var(axis=axes, keepdims=True)
    shape = [1] * x.ndim
    shape[ch_axis] = -1
    return (x - mean) / np.sqrt(var + eps) * gamma.reshape(shape) + beta.reshape(shape)


def _bn_args(c):
    return (nd.array(RNG.uniform(0.5, 1.5, c)), nd.array(rand(c)), nd.array(rand(c)),
            nd.array(RNG.uniform(0.5, 2.0, c)))


def test_batchnorm_train_uses_batch_stats_and_updates_moving_stats():
    x = rand(4, 3, 2, 2) * 2 + 1
    gamma, beta, mm, mv = _bn_args(3)
    mm0, mv0 = mm.asnumpy(), mv.asnumpy()
    with autograd.record():
        y = nd.BatchNorm(nd.array(x), gamma, beta, mm, mv, eps=1e-3, momentum=0.9,
                         fix_gamma=False)
    assert_almost_equal(y, ref_norm(x, gamma.asnumpy(), beta.asnumpy(), (0, 2, 3), 1, 1e-3),
                        rtol=1e-4, atol=1e-5)
    # in place, biased batch variance, MXNet's momentum rule
    assert_almost_equal(mm, mm0 * 0.9 + x.mean(axis=(0, 2, 3)) * 0.1, rtol=1e-5, atol=1e-6)
    assert_almost_equal(mv, mv0 * 0.9 + x.var(axis=(0, 2, 3)) * 0.1, rtol=1e-5, atol=1e-6)


def test_batchnorm_predict_uses_moving_stats_without_update():
    x = rand(4, 3, 2)
    gamma, beta, mm, mv = _bn_args(3)
    mm0, mv0 = mm.asnumpy(), mv.asnumpy()
    y = nd.BatchNorm(nd.array(x), gamma, beta, mm, mv, eps=1e-3, fix_gamma=False)
    expect = ((x - mm0[:, None]) / np.sqrt(mv0[:, None] + 1e-3) * gamma.asnumpy()[:, None]
              + beta.asnumpy()[:, None])
    assert_almost_equal(y, expect, rtol=1e-5, atol=1e-5)
    assert (mm.asnumpy() == mm0).all() and (mv.asnumpy() == mv0).all()
    # use_global_stats: moving statistics even while training, and no update
    with autograd.record():
        y2 = nd.BatchNorm(nd.array(x), gamma, beta, mm, mv, eps=1e-3, fix_gamma=False,
                          use_global_stats=True)
    assert_almost_equal(y2, expect, rtol=1e-5, atol=1e-5)
    assert (mm.asnumpy() == mm0).all() and (mv.asnumpy() == mv0).all()


def test_batchnorm_fix_gamma_ignores_gamma_and_zero_grad():
    x = nd.array(rand(4, 2))
    gamma, beta, mm, mv = _bn_args(2)
    gamma.attach_grad()
    with autograd.record():
        y = nd.BatchNorm(x, gamma, beta, mm, mv)      # fix_gamma=True by default
    y.backward(nd.array(rand(4, 2)))
    assert_almost_equal(y, ref_norm(x.asnumpy(), np.ones(2), beta.asnumpy(), (0,), 1, 1e-3),
                        rtol=1e-4, atol=1e-5)
    assert (gamma.grad.asnumpy() == 0).all()


@pytest.mark.parametrize("shape,axis,fix_gamma", [((3, 2, 4), 1, False), ((3, 2, 4), -1, False),
                                                  ((4, 3), 1, True), ((2, 3, 2, 2), 1, False)])
def test_batchnorm_train_gradients(shape, axis, fix_gamma):
    c = shape[axis]
    _, _, mm, mv = _bn_args(c)
    x, gamma, beta = rand(*shape), RNG.uniform(0.5, 1.5, c), rand(c)

    def f(x, g, b):
        return nd.BatchNorm(x, g, b, mm, mv, axis=axis, fix_gamma=fix_gamma)
    with autograd.train_mode():     # the finite differences must see batch statistics too
        check_numeric_gradient(f, [x, gamma, beta])


def test_batchnorm_global_stats_gradients():
    gamma, beta, mm, mv = _bn_args(3)
    check_numeric_gradient(
        lambda x, g, b: nd.BatchNorm(x, g, b, mm, mv, fix_gamma=False, use_global_stats=True),
        [rand(2, 3, 2), gamma, beta])


def test_batchnorm_output_mean_var():
    x = rand(5, 2)
    gamma, beta, mm, mv = _bn_args(2)
    with autograd.train_mode():
        y, mean, invstd = nd.BatchNorm(nd.array(x), gamma, beta, mm, mv, eps=1e-3,
                                       output_mean_var=True)
    assert_almost_equal(mean, x.mean(0), rtol=1e-5, atol=1e-6)
    assert_almost_equal(invstd, 1 / np.sqrt(x.var(0) + 1e-3), rtol=1e-5, atol=1e-6)


def test_batchnorm_errors():
    gamma, beta, mm, mv = _bn_args(3)
    with pytest.raises(ShapeError, match=r"BatchNorm: gamma has shape \(3,\) but data \(2, 4, 5\) "
                                         r"has 4 entries along axis 1.*in_channels=4"):
        nd.BatchNorm(nd.ones((2, 4, 5)), gamma, beta, mm, mv)
    with pytest.raises(ShapeError, match="axis=3 is out of range"):
        nd.BatchNorm(nd.ones((2, 3, 5)), gamma, beta, mm, mv, axis=3)


@pytest.mark.parametrize("shape,axis", [((2, 3, 4), -1), ((2, 3, 4), 1), ((3, 5), 0)])
def test_layernorm(shape, axis):
    d = shape[axis]
    x, gamma, beta = rand(*shape), RNG.uniform(0.5, 1.5, d), rand(d)
    y = nd.LayerNorm(nd.array(x), nd.array(gamma), nd.array(beta), axis=axis, eps=1e-5)
    assert_almost_equal(y, ref_norm(x, gamma, beta, (axis % len(shape),), axis % len(shape),
                                    1e-5), rtol=1e-4, atol=1e-5)
    check_numeric_gradient(lambda x, g, b: nd.LayerNorm(x, g, b, axis=axis), [x, gamma, beta])


def test_layernorm_output_mean_std_and_errors():
    x = rand(2, 4)
    y, mean, std = nd.LayerNorm(nd.array(x), nd.ones(4), nd.zeros(4), output_mean_var=True)
    assert mean.shape == (2, 1)
    assert_almost_equal(std, np.sqrt(x.var(-1, keepdims=True) + 1e-5), rtol=1e-5, atol=1e-6)
    with pytest.raises(ShapeError, match=r"LayerNorm: gamma has shape \(3,\) but data \(2, 4\)"):
        nd.LayerNorm(nd.array(x), nd.ones(3), nd.zeros(3))


@pytest.mark.parametrize("shape", [(2, 3, 4), (2, 2, 3, 2)])
def test_instancenorm(shape):
    x, gamma, beta = rand(*shape), RNG.uniform(0.5, 1.5, shape[1]), rand(shape[1])
    y = nd.InstanceNorm(nd.array(x), nd.array(gamma), nd.array(beta), eps=1e-3)
    axes = tuple(range(2, len(shape)))
    assert_almost_equal(y, ref_norm(x, gamma, beta, axes, 1, 1e-3), rtol=1e-4, atol=1e-5)
    check_numeric_gradient(lambda x, g, b: nd.InstanceNorm(x, g, b), [x, gamma, beta])


def test_instancenorm_errors():
    with pytest.raises(ShapeError, match=r"InstanceNorm: data must be \(N, C, spatial...\)"):
        nd.InstanceNorm(nd.ones((2, 3)), nd.ones(3), nd.zeros(3))
    with pytest.raises(ShapeError, match="beta has shape"):
        nd.InstanceNorm(nd.ones((2, 3, 4)), nd.ones(3), nd.zeros(4))
