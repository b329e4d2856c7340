"""BatchNorm, LayerNorm, InstanceNorm: forward vs NumPy, running statistics in train vs
predict mode, gradients vs finite differences, deferred init, reprs, errors."""
import numpy as np
import pytest

import hybridnet as mx
from hybridnet import autograd, nd
from hybridnet.base import ShapeError
from hybridnet.gluon import nn
from hybridnet.test_utils import assert_almost_equal
from test_gluon_layers_helpers import check_layer_grads, init_layer

rng = np.random.default_rng(2)


@pytest.fixture(autouse=True)
def _seed():
    mx.random.seed(0)          # initializers and dropout draw from hybridnet.random


def rand(*shape, scale=1.0, shift=0.0):
    return rng.standard_normal(shape) * scale + shift


def norm_ref(x, axes, gamma, beta, eps, caxis):
    mean = x.mean(axis=axes, keepdims=True)
    var = x.var(axis=axes, keepdims=True)
    shape = [1] * x.ndim
    shape[caxis] = -1
    return (x - mean) / np.sqrt(var + eps) * gamma.reshape(shape) + beta.reshape(shape)


def _set_affine(layer, c):
    gamma, beta = rand(c, scale=0.5, shift=1.0), rand(c)
    layer.gamma.set_data(nd.array(gamma))
    layer.beta.set_data(nd.array(beta))
    return gamma.astype(np.float32).astype(np.float64), beta.astype(np.float32).astype(np.float64)


# ---- BatchNorm --------------------------------------------------------------------------------
def test_batchnorm_train_uses_batch_stats_and_updates_running_stats():
    x = rand(6, 3, 4, scale=2.0, shift=1.0).astype(np.float32)
    bn = nn.BatchNorm(momentum=0.8)
    bn.initialize()
    bn(nd.array(x))                            # predict mode: shapes only, stats untouched
    assert_almost_equal(bn.running_mean.data(), np.zeros(3, np.float32))
    assert_almost_equal(bn.running_var.data(), np.ones(3, np.float32))
    gamma, beta = _set_affine(bn, 3)
    with autograd.record():
        y = bn(nd.array(x))
    assert_almost_equal(y, norm_ref(x, (0, 2), gamma, beta, 1e-5, 1).astype(np.float32),
                        rtol=1e-4, atol=1e-5)
    mean, var = x.mean(axis=(0, 2)), x.var(axis=(0, 2))
    assert_almost_equal(bn.running_mean.data(), 0.2 * mean, rtol=1e-5, atol=1e-6)
    assert_almost_equal(bn.running_var.data(), 0.8 + 0.2 * var, rtol=1e-5, atol=1e-6)
    with autograd.record():
        bn(nd.array(x))
    assert_almost_equal(bn.running_mean.data(), 0.8 * 0.2 * mean + 0.2 * mean, rtol=1e-5,
                        atol=1e-6)


def test_batchnorm_predict_uses_running_stats_and_leaves_them():
    x = rand(5, 2, 3, 3).astype(np.float32)
    bn = init_layer(nn.BatchNorm(), nd.array(x))
    rm, rv = rand(2), np.abs(rand(2)) + 0.5
    bn.running_mean.set_data(nd.array(rm))
    bn.running_var.set_data(nd.array(rv))
    gamma, beta = _set_affine(bn, 2)
    r = lambda a: a.astype(np.float32).astype(np.float64).reshape(1, 2, 1, 1)  # noqa: E731
    ref = (x - r(rm)) / np.sqrt(r(rv) + 1e-5) * gamma.reshape(1, 2, 1, 1) + \
        beta.reshape(1, 2, 1, 1)
    for mode in (lambda: autograd.record(train_mode=False), autograd.predict_mode):
        with mode():
            out = bn(nd.array(x))
        assert_almost_equal(out, ref.astype(np.float32), rtol=1e-4, atol=1e-5)
    assert_almost_equal(bn(nd.array(x)), ref.astype(np.float32), rtol=1e-4, atol=1e-5)
    assert_almost_equal(bn.running_mean.data(), rm.astype(np.float32))


def test_batchnorm_use_global_stats_in_training():
    x = rand(4, 3).astype(np.float32)
    bn = init_layer(nn.BatchNorm(use_global_stats=True, in_channels=3), nd.array(x))
    with autograd.record():
        y = bn(nd.array(x))
    assert_almost_equal(y, x / np.sqrt(1 + 1e-5), rtol=1e-5, atol=1e-6)
    assert_almost_equal(bn.running_mean.data(), np.zeros(3, np.float32))


def test_batchnorm_channel_last_axis_and_no_scale_center():
    x = rand(4, 5, 3).astype(np.float32)
    bn = init_layer(nn.BatchNorm(axis=-1, center=False, scale=False), nd.array(x))
    assert bn.gamma.shape == (3,)
    assert bn.gamma.grad_req == "null" and bn.beta.grad_req == "null"
    bn.gamma.set_data(nd.array([2.0, 2.0, 2.0]))   # scale=False: gamma is fixed at 1
    with autograd.record():
        y = bn(nd.array(x))
    ones, zeros = np.ones(3), np.zeros(3)
    assert_almost_equal(y, norm_ref(x, (0, 1), ones, zeros, 1e-5, 2).astype(np.float32),
                        rtol=1e-4, atol=1e-5)


def test_batchnorm_grads_train_mode():
    x = rand(4, 3, 2, scale=1.5, shift=0.5)
    bn = init_layer(nn.BatchNorm(), nd.array(x))
    _set_affine(bn, 3)
    params = check_layer_grads(bn, [x], train=True, rtol=1e-4, atol=1e-6)
    assert sorted(params) == ["beta", "gamma"]


def test_batchnorm_grads_predict_mode():
    x = rand(3, 2, 2)
    bn = init_layer(nn.BatchNorm(), nd.array(x))
    bn.running_var.set_data(nd.array([0.5, 2.0]))
    check_layer_grads(bn, [x], train=False)


def test_batchnorm_names_repr_and_errors():
    net = nn.HybridSequential()
    net.add(nn.Dense(4), nn.BatchNorm())
    net.initialize()
    net(nd.ones((2, 3)))
    assert list(net.collect_params().keys()) == [
        "0.weight", "0.bias", "1.gamma", "1.beta", "1.running_mean", "1.running_var"]
    assert net[1].running_mean.grad_req == "null" and net[1].running_var.grad_req == "null"
    assert repr(nn.BatchNorm()) == ("BatchNorm(axis=1, eps=1e-05, momentum=0.9, "
                                    "fix_gamma=False, use_global_stats=False, in_channels=None)")
    assert repr(net[1]).endswith("in_channels=4)")
    bn = nn.BatchNorm(in_channels=3)
    bn.initialize()
    with pytest.raises(ShapeError, match=r"BatchNorm\(.*channel count \(axis 1\) 5.*expects.*"
                                         r"3.*in_channels=5"):
        bn(nd.ones((2, 5)))
    with pytest.raises(ShapeError, match=r"BatchNorm.*axis 3 is out of range for an input of "
                                         r"shape \(2, 5\)"):
        b3 = nn.BatchNorm(axis=3)
        b3.initialize()
        b3(nd.ones((2, 5)))


def test_batchnorm_default_init():
    bn = init_layer(nn.BatchNorm(), nd.ones((2, 3)), init=mx.init.Uniform(0.5))
    assert_almost_equal(bn.gamma.data(), np.ones(3, np.float32))
    assert_almost_equal(bn.beta.data(), np.zeros(3, np.float32))
    assert_almost_equal(bn.running_var.data(), np.ones(3, np.float32))


# ---- LayerNorm / InstanceNorm ---------------------------------------------------------------
@pytest.mark.parametrize("axis", [-1, 1])
def test_layernorm_forward_and_grads(axis):
    x = rand(3, 4, 5, scale=2.0, shift=-1.0)
    ln = init_layer(nn.LayerNorm(axis=axis, epsilon=1e-3), nd.array(x))
    c = x.shape[axis]
    assert ln.gamma.shape == (c,)
    gamma, beta = _set_affine(ln, c)
    ref = norm_ref(x, (axis,), gamma, beta, 1e-3, axis % 3)
    assert_almost_equal(ln(nd.array(x)), ref.astype(np.float32), rtol=1e-4, atol=1e-5)
    params = check_layer_grads(ln, [x], rtol=1e-4, atol=1e-6)
    assert sorted(params) == ["beta", "gamma"]


def test_layernorm_repr_and_error():
    assert repr(nn.LayerNorm()) == ("LayerNorm(eps=1e-05, axis=-1, center=True, scale=True, "
                                    "in_channels=0)")
    ln = nn.LayerNorm(in_channels=4)
    ln.initialize()
    with pytest.raises(ShapeError, match=r"LayerNorm.*channel count \(axis -1\) 3.*expects.*4"):
        ln(nd.ones((2, 3)))


@pytest.mark.parametrize("axis", [1, 2])
def test_instancenorm_forward_and_grads(axis):
    x = rand(2, 3, 4, 2, scale=2.0, shift=1.0)
    inn = init_layer(nn.InstanceNorm(axis=axis, scale=True), nd.array(x))
    c = x.shape[axis]
    gamma, beta = _set_affine(inn, c)
    xs = np.swapaxes(x, 1, axis)
    ref = np.swapaxes(norm_ref(xs, (2, 3), gamma, beta, 1e-5, 1), 1, axis)
    assert_almost_equal(inn(nd.array(x)), ref.astype(np.float32), rtol=1e-4, atol=1e-5)
    check_layer_grads(inn, [x], rtol=1e-4, atol=1e-6)


def test_instancenorm_defaults_repr_and_errors():
    inn = init_layer(nn.InstanceNorm(), nd.ones((2, 3, 4)))
    assert inn.gamma.grad_req == "null" and inn.beta.grad_req == "write"
    assert repr(inn) == ("InstanceNorm(eps=1e-05, axis=1, center=True, scale=False, "
                         "in_channels=3)")
    with pytest.raises(ShapeError, match=r"InstanceNorm.*needs a batch axis, a channel axis "
                                         r"and at least one spatial axis"):
        inn(nd.ones((2, 3)))


def test_groupnorm_forward_grads_and_repr():
    x = rand(2, 4, 3, scale=2.0, shift=1.0)
    gn = init_layer(nn.GroupNorm(num_groups=2), nd.array(x))
    assert gn.gamma.shape == (2,)                        # Gluon 1.x: one gamma per group
    gamma, beta = _set_affine(gn, 2)
    xr = x.reshape(2, 2, -1)
    ref = (xr - xr.mean(2, keepdims=True)) / np.sqrt(xr.var(2, keepdims=True) + 1e-5)
    ref = (ref * gamma.reshape(1, 2, 1) + beta.reshape(1, 2, 1)).reshape(x.shape)
    assert_almost_equal(gn(nd.array(x)), ref.astype(np.float32), rtol=1e-4, atol=1e-5)
    check_layer_grads(gn, [x], rtol=1e-4, atol=1e-6)
    assert repr(gn) == "GroupNorm(eps=1e-05, num_groups=2, center=True, scale=True)"
    with pytest.raises(ShapeError, match=r"GroupNorm.*input of shape \(2, 3\) must have a "
                                         r"channel axis 1 whose size is a multiple of "
                                         r"num_groups=2"):
        gn(nd.ones((2, 3)))


def test_batchnorm_relu():
    x = rand(6, 3).astype(np.float32)
    bn = init_layer(nn.BatchNormReLU(), nd.array(x))
    with autograd.record():
        y = bn(nd.array(x))
    ones, zeros = np.ones(3), np.zeros(3)
    ref = np.maximum(norm_ref(x, (0,), ones, zeros, 1e-5, 1), 0)
    assert_almost_equal(y, ref.astype(np.float32), rtol=1e-4, atol=1e-5)
    assert repr(bn).startswith("BatchNormReLU(axis=1")
