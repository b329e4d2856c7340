"""Activation, LeakyReLU family and Dropout."""
import math

import numpy as np
import pytest

import hybridnet as mx
from hybridnet import autograd, nd
from hybridnet.base import HybridnetValueError, ShapeError
from hybridnet.test_utils import assert_almost_equal, check_numeric_gradient

RNG = np.random.default_rng(5)
# keep test inputs away from the kinks at 0 so finite differences are smooth
X = RNG.choice([-1, 1], (3, 4, 2)) * RNG.uniform(0.1, 2.0, (3, 4, 2))

ACTS = {
    "relu": lambda x: np.maximum(x, 0),
    "sigmoid": lambda x: 1 / (1 + np.exp(-x)),
    "tanh": np.tanh,
    "softrelu": lambda x: np.log1p(np.exp(x)),
    "softsign": lambda x: x / (1 + np.abs(x)),
}


@pytest.mark.parametrize("act", sorted(ACTS))
def test_activation(act):
    assert_almost_equal(nd.Activation(nd.array(X), act_type=act), ACTS[act](X), rtol=1e-5,
                        atol=1e-6)
    check_numeric_gradient(lambda x: nd.Activation(x, act_type=act), [X])


def test_activation_unknown_type():
    with pytest.raises(HybridnetValueError, match=r"Activation: unknown act_type 'gelu'; use one "
                                                  r"of \('relu', 'sigmoid', 'tanh', 'softrelu', "
                                                  r"'softsign'"):
        nd.Activation(nd.ones(2), act_type="gelu")


_erf = np.vectorize(math.erf)
SELU_A, SELU_L = 1.6732632423543772848170429916717, 1.0507009873554804934193349852946
LEAKY = {
    "leaky": lambda x, s: np.where(x > 0, x, s * x),
    "elu": lambda x, s: np.where(x > 0, x, s * (np.exp(x) - 1)),
    "selu": lambda x, s: SELU_L * np.where(x > 0, x, SELU_A * (np.exp(x) - 1)),
    "gelu": lambda x, s: 0.5 * x * (1 + _erf(x / np.sqrt(2))),
}


@pytest.mark.parametrize("act", sorted(LEAKY))
def test_leaky_family(act):
    y = nd.LeakyReLU(nd.array(X, dtype="float64"), act_type=act, slope=0.3)
    assert_almost_equal(y, LEAKY[act](X, 0.3), rtol=1e-10, atol=1e-12)
    check_numeric_gradient(lambda x: nd.LeakyReLU(x, act_type=act, slope=0.3), [X])
    assert nd.LeakyReLU(nd.array(X), act_type=act).dtype == np.float32


@pytest.mark.parametrize("gamma_shape", [(4,), (1,)])
def test_prelu_gradient_to_gamma(gamma_shape):
    gamma = RNG.uniform(0.1, 0.5, gamma_shape)
    y = nd.LeakyReLU(nd.array(X), nd.array(gamma), act_type="prelu")
    g = gamma.reshape((1, -1, 1)) if gamma_shape == (4,) else gamma
    assert_almost_equal(y, np.where(X > 0, X, g * X), rtol=1e-5, atol=1e-6)
    check_numeric_gradient(lambda x, g: nd.LeakyReLU(x, g, act_type="prelu"), [X, gamma])


def test_rrelu_train_and_predict():
    y = nd.LeakyReLU(nd.array(X), act_type="rrelu", lower_bound=0.1, upper_bound=0.3)
    assert_almost_equal(y, np.where(X > 0, X, 0.2 * X), rtol=1e-5, atol=1e-6)   # mean slope
    mx.random.seed(7)
    with autograd.train_mode():
        y1 = nd.LeakyReLU(nd.array(X), act_type="rrelu", lower_bound=0.1, upper_bound=0.3)
    mx.random.seed(7)
    with autograd.train_mode():
        y2 = nd.LeakyReLU(nd.array(X), act_type="rrelu", lower_bound=0.1, upper_bound=0.3)
    assert (y1.asnumpy() == y2.asnumpy()).all()
    ratio = (y1.asnumpy() / X)[X < 0]
    assert ((ratio >= 0.1 - 1e-6) & (ratio <= 0.3 + 1e-6)).all() and ratio.std() > 0
    assert (y1.asnumpy()[X > 0] == X[X > 0].astype(np.float32)).all()
    # the gradient uses the drawn slopes
    x = nd.array(X)
    x.attach_grad()
    with autograd.record():
        y = nd.LeakyReLU(x, act_type="rrelu")
    y.backward()
    assert_almost_equal(x.grad, y.asnumpy() / X, rtol=1e-5, atol=1e-6)


def test_leaky_errors():
    with pytest.raises(HybridnetValueError, match=r"unknown act_type 'swish'; use one of "
                                                  r"\('leaky', 'prelu', 'elu', 'selu', 'gelu', "
                                                  r"'rrelu'\)"):
        nd.LeakyReLU(nd.ones(2), act_type="swish")
    with pytest.raises(ShapeError, match=r"gamma has shape \(3,\) but data \(3, 4, 2\) has 4 "
                                         r"channels.*in_channels=4"):
        nd.LeakyReLU(nd.array(X), nd.ones(3), act_type="prelu")
    with pytest.raises(HybridnetValueError, match="'gamma' must be an NDArray"):
        nd.LeakyReLU(nd.array(X), act_type="prelu")


# ---- Dropout ------------------------------------------------------------------------------
def test_dropout_identity_when_not_training():
    x = nd.array(X)
    assert nd.Dropout(x, p=0.5) is x
    with autograd.record(train_mode=False):
        assert (nd.Dropout(x, p=0.5).asnumpy() == x.asnumpy()).all()
    with autograd.train_mode():
        assert nd.Dropout(x, p=0.0) is x


def test_dropout_seeded_scaled_and_gradient():
    x = nd.ones((50, 40))
    mx.random.seed(11)
    with autograd.train_mode():
        a = nd.Dropout(x, p=0.3).asnumpy()
    mx.random.seed(11)
    x.attach_grad()
    with autograd.record():
        y = nd.Dropout(x, p=0.3)
    assert (y.asnumpy() == a).all()               # reproducible under seed
    assert set(np.unique(a).tolist()) <= {0.0, np.float32(1 / 0.7)}
    assert abs((a == 0).mean() - 0.3) < 0.05
    g = RNG.standard_normal((50, 40))
    y.backward(nd.array(g))
    assert_almost_equal(x.grad, g * a, rtol=1e-5, atol=1e-6)   # gradient = g * mask


def test_dropout_shared_axes_and_always_mode():
    x = nd.ones((4, 6, 5))
    y = nd.Dropout(x, p=0.5, mode="always", axes=(2,)).asnumpy()    # active outside training
    assert (y == y[:, :, :1]).all() and (y == 0).any() and (y == 2).any()
    with autograd.train_mode():
        y = nd.Dropout(x, p=0.5, axes=(0, -1)).asnumpy()
    assert (y == y[:1, :, :1]).all()
    with autograd.train_mode():
        assert (nd.Dropout(x, p=1.0).asnumpy() == 0).all()

    def seeded(x):      # the same mask on every call, so finite differences are meaningful
        mx.random.seed(3)
        return nd.Dropout(x, p=0.5, mode="always", axes=(1,))
    check_numeric_gradient(seeded, [X])


def test_dropout_errors():
    with pytest.raises(HybridnetValueError, match=r"Dropout: p=1.5 must be a probability"):
        nd.Dropout(nd.ones(3), p=1.5)
    with pytest.raises(HybridnetValueError, match="mode='train'"):
        nd.Dropout(nd.ones(3), mode="train")
    with pytest.raises(ShapeError, match="axes=.* out of range"):
        nd.Dropout(nd.ones(3), p=0.5, mode="always", axes=(1,))
