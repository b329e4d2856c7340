"""Dense, Dropout, Embedding, Flatten, Lambda/HybridLambda, activations: forward vs NumPy,
gradients vs finite differences, deferred init, structural names, reprs, errors."""
import math

import numpy as np
import pytest
from scipy.special import erf

import hybridnet as mx
from hybridnet import autograd, nd
from hybridnet.base import DeferredInitError, HybridnetValueError, ShapeError
from hybridnet.gluon import nn
from hybridnet.test_utils import assert_almost_equal
from test_gluon_layers_helpers import check_layer_grads, init_layer

rng = np.random.default_rng(0)


@pytest.fixture(autouse=True)
def _seed():
    mx.random.seed(0)          # initializers and dropout draw from hybridnet.random


def rand(*shape):
    return rng.standard_normal(shape)


# ---- Dense ------------------------------------------------------------------------------------
@pytest.mark.parametrize("flatten", [True, False])
@pytest.mark.parametrize("use_bias", [True, False])
def test_dense_forward_and_grads(flatten, use_bias):
    x = rand(3, 2, 4)
    layer = nn.Dense(5, use_bias=use_bias, flatten=flatten)
    init_layer(layer, nd.array(x))
    w = layer.weight.data().asnumpy()
    assert w.shape == ((5, 8) if flatten else (5, 4))
    ref = (x.reshape(3, -1) if flatten else x) @ w.T
    if use_bias:
        ref = ref + layer.bias.data().asnumpy()
    assert_almost_equal(layer(nd.array(x)), ref.astype(np.float32), rtol=1e-5, atol=1e-5)
    params = check_layer_grads(layer, [x])
    assert sorted(params) == (["bias", "weight"] if use_bias else ["weight"])


def test_dense_activation_forward_and_grads():
    x = rand(4, 3)
    layer = nn.Dense(6, activation="tanh", in_units=3)
    layer.initialize()
    w, b = layer.weight.data().asnumpy(), layer.bias.data().asnumpy()
    assert_almost_equal(layer(nd.array(x)), np.tanh(x @ w.T + b).astype(np.float32), atol=1e-6)
    check_layer_grads(layer, [x])


def test_dense_default_init_and_dtype():
    layer = nn.Dense(4, in_units=3)
    layer.initialize()
    w = layer.weight.data().asnumpy()
    assert w.dtype == np.float32 and np.abs(w).max() <= 0.07 and np.abs(w).max() > 0
    assert (layer.bias.data().asnumpy() == 0).all()
    d64 = nn.Dense(2, in_units=3, dtype="float64")
    d64.initialize()
    assert d64(nd.array(rand(2, 3), dtype="float64")).dtype == np.float64


def test_deferred_init_shapes_appear_after_first_call():
    net = nn.HybridSequential()
    net.add(nn.Dense(8, activation="relu"), nn.Dense(2))
    net.initialize()
    assert net[0].weight.shape == (8, 0)
    with pytest.raises(DeferredInitError, match="initialization was deferred"):
        net[0].weight.data()
    assert net(nd.ones((5, 3, 2))).shape == (5, 2)
    assert net[0].weight.shape == (8, 6) and net[1].weight.shape == (2, 8)
    assert net[0].weight.data().shape == (8, 6)


def test_forward_before_initialize_names_parameter():
    layer = nn.Dense(3)
    with pytest.raises(DeferredInitError, match=r"weight.*initialize\(\)"):
        layer(nd.ones((2, 4)))


def test_structural_names():
    class Net(nn.HybridBlock):
        def __init__(self):
            super().__init__()
            self.features = nn.HybridSequential()
            self.features.add(nn.Dense(4), nn.Dropout(0.5), nn.Dense(3, use_bias=False))
            self.output = nn.Dense(2)

        def forward(self, x):
            return self.output(self.features(x))
    net = Net()
    assert list(net.collect_params().keys()) == [
        "features.0.weight", "features.0.bias", "features.2.weight", "output.weight",
        "output.bias"]
    assert list(net.collect_params(".*bias").keys()) == ["features.0.bias", "output.bias"]
    seq = nn.Sequential()
    seq.add(nn.Dense(2), nn.Embedding(5, 3))
    assert list(seq.collect_params().keys()) == ["0.weight", "0.bias", "1.weight"]


def test_gluon1_prefix_and_params_kwargs_accepted():
    layer = nn.Dense(3, in_units=2, prefix="dense0_", params=None)
    layer.initialize()
    assert layer(nd.ones((1, 2))).shape == (1, 3)


def test_dense_reprs():
    assert repr(nn.Dense(10)) == "Dense(None -> 10, linear)"
    assert repr(nn.Dense(256, activation="relu", in_units=784)) == \
        "Dense(784 -> 256, Activation(relu))"
    layer = nn.Dense(3)
    layer.initialize()
    layer(nd.ones((2, 7)))
    assert repr(layer) == "Dense(7 -> 3, linear)"
    net = nn.HybridSequential()
    net.add(nn.Dense(4, in_units=2), nn.Flatten())
    assert repr(net) == ("HybridSequential(\n  (0): Dense(2 -> 4, linear)\n  (1): Flatten\n)")


def test_dense_in_units_mismatch_error():
    layer = nn.Dense(3, in_units=5)
    layer.initialize()
    with pytest.raises(ShapeError, match=r"Dense\(5 -> 3.*feature size 4.*expects.*5.*"
                                          r"in_units=4"):
        layer(nd.ones((2, 4)))


def test_dense_loaded_weight_mismatch_error(tmp_path):
    src = nn.Dense(3)
    src.initialize()
    src(nd.ones((1, 6)))
    f = str(tmp_path / "dense.params")
    src.save_parameters(f)
    dst = nn.Dense(3)
    dst.load_parameters(f)
    with pytest.raises(ShapeError, match=r"Dense\(6 -> 3.*has flattened feature size 5.*"
                                         r"expects.*6"):
        dst(nd.ones((2, 5)))


def test_dense_second_call_with_other_features_error():
    layer = nn.Dense(2)
    layer.initialize()
    layer(nd.ones((1, 4)))
    with pytest.raises(ShapeError, match="Dense.*size 3.*expects.*4"):
        layer(nd.ones((1, 3)))


def test_unknown_activation_lists_valid_names():
    with pytest.raises(HybridnetValueError, match="unknown activation 'rleu'.*relu, sigmoid, "
                                                  "tanh, softrelu, softsign"):
        nn.Dense(3, activation="rleu")
    with pytest.raises(HybridnetValueError, match="Activation: unknown activation 'gelu'"):
        nn.Activation("gelu")


# ---- Dropout -------------------------------------------------------------------------------
def test_dropout_identity_in_predict_mode_and_outside_record():
    x = nd.array(rand(20, 30))
    layer = nn.Dropout(0.5)
    assert_almost_equal(layer(x), x)
    with autograd.record(train_mode=False):
        assert_almost_equal(layer(x), x)
    assert_almost_equal(nn.Dropout(0.0)(x), x)


def test_dropout_train_mode_masks_and_scales():
    mx.random.seed(3)
    x = nd.ones((200, 50))
    x.attach_grad()
    with autograd.record():
        y = nn.Dropout(0.4)(x)
    y.backward()
    out = y.asnumpy()
    kept = out[out != 0]
    assert_almost_equal(kept, np.full(kept.shape, 1 / 0.6, np.float32))
    assert abs((out == 0).mean() - 0.4) < 0.03
    # The gradient is the same mask times 1/(1-p).
    assert_almost_equal(x.grad, out, atol=1e-6)


def test_dropout_axes_share_mask():
    mx.random.seed(1)
    with autograd.record():
        y = nn.Dropout(0.5, axes=(1,))(nd.ones((6, 40))).asnumpy()
    assert (y == y[:, :1]).all()


def test_dropout_repr_and_bad_rate():
    assert repr(nn.Dropout(0.3, axes=(1,))) == "Dropout(p = 0.3, axes=(1,))"
    with pytest.raises(HybridnetValueError, match=r"Dropout: rate must be in \[0, 1\)"):
        nn.Dropout(1.5)


# ---- Embedding, Flatten, Lambda ------------------------------------------------------------
def test_embedding_forward_and_weight_grad():
    layer = nn.Embedding(6, 3)
    idx = np.array([[0, 2, 5], [2, 2, 1]], dtype=np.float32)
    init_layer(layer, nd.array(idx))
    w = layer.weight.data().asnumpy()
    assert_almost_equal(layer(nd.array(idx)), w[idx.astype(int)])
    assert repr(layer) == "Embedding(6 -> 3, float32)"
    check_layer_grads(layer, [idx], grad_inputs=[])


def test_flatten():
    x = rand(2, 3, 4)
    assert_almost_equal(nn.Flatten()(nd.array(x)), x.reshape(2, 12).astype(np.float32))
    assert repr(nn.Flatten()) == "Flatten"


def test_lambda_and_hybrid_lambda():
    x = rand(3, 4)
    assert_almost_equal(nn.Lambda("tanh")(nd.array(x)), np.tanh(x).astype(np.float32))
    assert_almost_equal(nn.Lambda(lambda a: a * 2)(nd.array(x)), (2 * x).astype(np.float32))
    assert_almost_equal(nn.HybridLambda("relu")(nd.array(x)),
                        np.maximum(x, 0).astype(np.float32))
    hl = nn.HybridLambda(lambda F, a: F.sigmoid(a) * a)
    assert_almost_equal(hl(nd.array(x)), (x / (1 + np.exp(-x))).astype(np.float32), atol=1e-6)
    check_layer_grads(hl, [x])
    assert repr(nn.Lambda("tanh")) == "Lambda(tanh)"
    assert repr(nn.HybridLambda(lambda F, a: a)) == "HybridLambda(<lambda>)"


def test_lambda_errors():
    with pytest.raises(HybridnetValueError, match="Lambda: hybridnet.nd has no function "
                                                  "'tahn'; did you mean .*'tanh'"):
        nn.Lambda("tahn")
    with pytest.raises(HybridnetValueError, match="HybridLambda: expected an nd function name "
                                                  "or a callable"):
        nn.HybridLambda(3)


# ---- activations ---------------------------------------------------------------------------
def _selu(x):
    a, s = 1.6732632423543772848170429916717, 1.0507009873554804934193349852946
    return s * np.where(x > 0, x, a * (np.exp(x) - 1))


ACTS = [
    (lambda: nn.Activation("relu"), lambda x: np.maximum(x, 0)),
    (lambda: nn.Activation("sigmoid"), lambda x: 1 / (1 + np.exp(-x))),
    (lambda: nn.Activation("tanh"), np.tanh),
    (lambda: nn.Activation("softrelu"), lambda x: np.log1p(np.exp(x))),
    (lambda: nn.Activation("softsign"), lambda x: x / (1 + np.abs(x))),
    (lambda: nn.LeakyReLU(0.1), lambda x: np.where(x > 0, x, 0.1 * x)),
    (lambda: nn.ELU(0.7), lambda x: np.where(x > 0, x, 0.7 * (np.exp(x) - 1))),
    (lambda: nn.SELU(), _selu),
    (lambda: nn.GELU(), lambda x: 0.5 * x * (1 + erf(x / math.sqrt(2)))),
    (lambda: nn.Swish(1.5), lambda x: x / (1 + np.exp(-1.5 * x))),
]


@pytest.mark.parametrize("make,ref", ACTS)
def test_activation_layers(make, ref):
    x = rand(3, 5)
    x[np.abs(x) < 1e-3] = 0.5            # keep finite differences away from kinks
    layer = make()
    assert_almost_equal(layer(nd.array(x)), ref(x).astype(np.float32), rtol=1e-5, atol=1e-6)
    check_layer_grads(layer, [x])


def test_prelu_forward_and_alpha_grad():
    x = rand(4, 3, 2)
    x[np.abs(x) < 1e-3] = 0.5
    layer = nn.PReLU()
    init_layer(layer, nd.array(x))
    assert_almost_equal(layer.alpha.data(), np.array([0.25], np.float32))
    assert_almost_equal(layer(nd.array(x)), np.where(x > 0, x, 0.25 * x).astype(np.float32))
    check_layer_grads(layer, [x])
    per_channel = nn.PReLU(alpha_initializer=mx.init.Constant(0.1), in_channels=3)
    init_layer(per_channel, nd.array(x))
    per_channel.alpha.set_data(nd.array([0.1, 0.2, 0.3]))
    a = np.array([0.1, 0.2, 0.3]).reshape(1, 3, 1)
    assert_almost_equal(per_channel(nd.array(x)), np.where(x > 0, x, a * x).astype(np.float32))
    check_layer_grads(per_channel, [x])


def test_activation_reprs():
    assert repr(nn.Activation("relu")) == "Activation(relu)"
    assert repr(nn.LeakyReLU(0.1)) == "LeakyReLU(0.1)"
    assert repr(nn.ELU()) == "ELU(alpha=1.0)"
    assert repr(nn.Swish()) == "Swish(beta=1.0)"
    with pytest.raises(HybridnetValueError, match="LeakyReLU: the slope alpha must be >= 0"):
        nn.LeakyReLU(-1)


def test_prelu_channel_mismatch_error():
    layer = nn.PReLU(in_channels=3)
    layer.initialize()
    with pytest.raises(ShapeError, match=r"PReLU\(in_channels=3\): input of shape \(2, 4\) has 4 "
                                         r"channels on axis 1 but the layer has 3 slopes.*"
                                         r"in_channels=4"):
        layer(nd.ones((2, 4)))
