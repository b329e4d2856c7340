"""Every gluon.nn layer, eager vs hybridized: outputs, input and parameter gradients,
parameters and running statistics after 3 Trainer steps, train and predict mode
(tests/_hybrid_check.py). Also custom HybridBlocks: broadcasting arithmetic with scalar
operands, and a Gluon 1.x ``hybrid_forward(self, F, x, weight)`` block."""
import numpy as np
import pytest

from hybridnet import gluon, nd
from hybridnet.gluon import nn

from _hybrid_check import check_hybrid


def _x(*shape, seed=0):
    return np.random.default_rng(seed).standard_normal(shape).astype(np.float32)


def _seq(*blocks):
    net = nn.HybridSequential()
    net.add(*blocks)
    return net


def _nested():
    inner = _seq(nn.BatchNorm(), nn.Activation("relu"), nn.Dropout(0.3))
    return _seq(nn.Dense(5, flatten=False), _seq(inner, nn.Dense(4, flatten=False)),
                nn.Dense(3))


def _two_input_lambda():
    return nn.HybridLambda(lambda F, x, y: F.broadcast_mul(x, y) + F.tanh(y))


# (id, factory, inputs, check_hybrid options). Inputs are tiny: each new kernel costs
# a Numba compile the first time.
CASES = [
    ("dense_flatten", lambda: nn.Dense(3, activation="tanh"), [_x(2, 3, 2)], {}),
    ("dense_no_flatten", lambda: nn.Dense(3, flatten=False, activation="relu"),
     [_x(2, 3, 4)], {}),
    ("dense_no_bias", lambda: nn.Dense(3, use_bias=False, in_units=4), [_x(2, 4)], {}),
    ("conv1d", lambda: nn.Conv1D(2, 3), [_x(2, 2, 6)], {}),
    ("conv1d_stride_pad_dil", lambda: nn.Conv1D(2, 3, strides=2, padding=1, dilation=2,
                                                activation="relu"), [_x(2, 2, 7)], {}),
    ("conv2d", lambda: nn.Conv2D(3, (2, 3)), [_x(2, 2, 4, 5)], {}),
    ("conv2d_stride_pad", lambda: nn.Conv2D(2, 3, strides=2, padding=1, use_bias=False),
     [_x(1, 2, 5, 5)], {}),
    ("conv2d_dilation_groups", lambda: nn.Conv2D(4, 3, padding=2, dilation=2, groups=2,
                                                 activation="sigmoid"), [_x(1, 2, 4, 4)], {}),
    ("conv1d_transpose", lambda: nn.Conv1DTranspose(2, 3, strides=2, padding=1),
     [_x(2, 2, 4)], {}),
    ("conv2d_transpose", lambda: nn.Conv2DTranspose(2, 3, strides=2, padding=1,
                                                    output_padding=1), [_x(1, 3, 3, 3)], {}),
    ("conv2d_transpose_groups", lambda: nn.Conv2DTranspose(4, 2, groups=2, use_bias=False),
     [_x(1, 2, 3, 3)], {}),
    ("conv3d", lambda: nn.Conv3D(2, 2, strides=(1, 2, 1), padding=(1, 0, 0)),
     [_x(1, 2, 3, 4, 3)], {}),
    ("conv3d_transpose", lambda: nn.Conv3DTranspose(2, 2, strides=2, use_bias=False),
     [_x(1, 2, 2, 2, 2)], {}),
    ("maxpool1d", lambda: nn.MaxPool1D(2), [_x(2, 2, 6)], {}),
    ("maxpool1d_ceil", lambda: nn.MaxPool1D(3, 2, ceil_mode=True), [_x(2, 2, 6)], {}),
    ("avgpool1d_pad", lambda: nn.AvgPool1D(3, 2, padding=1), [_x(2, 2, 6)], {}),
    ("avgpool1d_ceil", lambda: nn.AvgPool1D(2, ceil_mode=True), [_x(2, 2, 5)], {}),
    ("maxpool2d", lambda: nn.MaxPool2D(2, strides=1), [_x(1, 2, 4, 4)], {}),
    ("maxpool2d_ceil_pad", lambda: nn.MaxPool2D(3, 2, padding=1, ceil_mode=True),
     [_x(1, 2, 6, 6)], {}),
    ("maxpool2d_nhwc", lambda: nn.MaxPool2D(2, layout="NHWC"), [_x(1, 4, 4, 3)], {}),
    ("avgpool2d", lambda: nn.AvgPool2D(2), [_x(1, 2, 4, 4)], {}),
    ("avgpool2d_ceil_nopad_count", lambda: nn.AvgPool2D(3, 2, padding=1, ceil_mode=True,
                                                        count_include_pad=False),
     [_x(1, 2, 6, 6)], {}),
    ("global_maxpool1d", lambda: nn.GlobalMaxPool1D(), [_x(2, 3, 5)], {}),
    ("global_avgpool1d", lambda: nn.GlobalAvgPool1D(), [_x(2, 3, 5)], {}),
    ("global_maxpool2d", lambda: nn.GlobalMaxPool2D(), [_x(2, 3, 3, 3)], {}),
    ("global_avgpool2d", lambda: nn.GlobalAvgPool2D(), [_x(2, 3, 3, 3)], {}),
    ("maxpool3d_ceil", lambda: nn.MaxPool3D(2, ceil_mode=True), [_x(1, 2, 3, 3, 3)], {}),
    ("avgpool3d", lambda: nn.AvgPool3D(2, strides=1, padding=1, count_include_pad=False),
     [_x(1, 1, 2, 3, 3)], {}),
    ("global_maxpool3d", lambda: nn.GlobalMaxPool3D(), [_x(2, 2, 2, 2, 3)], {}),
    ("global_avgpool3d", lambda: nn.GlobalAvgPool3D(), [_x(2, 2, 2, 2, 3)], {}),
    ("reflection_pad2d", lambda: nn.ReflectionPad2D(1), [_x(1, 2, 3, 3)], {}),
    ("batchnorm_last_axis_no_affine", lambda: nn.BatchNorm(axis=-1, center=False,
                                                           scale=False, momentum=0.5),
     [_x(4, 3)], {}),
    ("batchnorm_global_stats", lambda: nn.BatchNorm(use_global_stats=True),
     [_x(2, 3, 2, 2)], {}),
    ("batchnorm_relu", lambda: nn.BatchNormReLU(), [_x(4, 3, 2)], {}),
    ("groupnorm", lambda: nn.GroupNorm(2), [_x(2, 4, 3)], {}),
    ("layernorm", lambda: nn.LayerNorm(), [_x(2, 3, 4)], {}),
    ("layernorm_axis1_no_center", lambda: nn.LayerNorm(axis=1, center=False),
     [_x(2, 3, 4)], {}),
    ("instancenorm", lambda: nn.InstanceNorm(), [_x(2, 3, 4)], {}),
    ("instancenorm_scale_axis2", lambda: nn.InstanceNorm(axis=2, scale=True),
     [_x(2, 3, 4, 2)], {}),
    ("dropout", lambda: nn.Dropout(0.5), [_x(4, 5)], {}),
    ("dropout_axes", lambda: nn.Dropout(0.4, axes=(1,)), [_x(3, 4, 2)], {}),
    ("embedding", lambda: nn.Embedding(6, 3),
     [np.array([[0, 5, 2], [2, 2, 1]], np.float32)], {"no_grad": (0,)}),
    ("flatten", lambda: nn.Flatten(), [_x(2, 3, 2)], {}),
    ("leaky_relu", lambda: nn.LeakyReLU(0.1), [_x(3, 4)], {}),
    ("prelu", lambda: nn.PReLU(), [_x(3, 4)], {}),
    ("prelu_channels", lambda: nn.PReLU(in_channels=3), [_x(2, 3, 2)], {}),
    ("elu", lambda: nn.ELU(0.5), [_x(3, 4)], {}),
    ("selu", lambda: nn.SELU(), [_x(3, 4)], {}),
    ("gelu", lambda: nn.GELU(), [_x(3, 4)], {}),
    ("swish", lambda: nn.Swish(2.0), [_x(3, 4)], {}),
    ("hybrid_lambda_name", lambda: nn.HybridLambda("tanh"), [_x(3, 4)], {}),
    ("hybrid_lambda_F", lambda: nn.HybridLambda(lambda F, x: F.LeakyReLU(x, slope=0.1)),
     [_x(3, 4)], {}),
    ("hybrid_lambda_two_inputs", _two_input_lambda, [_x(3, 4), _x(1, 4, seed=1)], {}),
    # Lambda is a plain Block: inside a hybridized HybridSequential it is traced inline.
    ("lambda_in_hybrid_sequential", lambda: _seq(nn.Dense(4), nn.Lambda("relu"),
                                                 nn.Lambda(lambda x: x * 2 - 1)),
     [_x(2, 3)], {}),
    ("hybrid_sequential_nested", _nested, [_x(4, 2, 3)], {}),
]
ACTIVATIONS = ["relu", "sigmoid", "tanh", "softrelu", "softsign"]


@pytest.mark.parametrize("make,inputs,opts", [c[1:] for c in CASES], ids=[c[0] for c in CASES])
def test_layer_eager_equals_hybridized(make, inputs, opts):
    check_hybrid(make(), inputs, **opts)


@pytest.mark.parametrize("act", ACTIVATIONS)
def test_activation_eager_equals_hybridized(act):
    check_hybrid(nn.Activation(act), [_x(3, 4)])


def test_batchnorm_running_stats_move_in_train_mode_only():
    """The running statistics compared after 3 steps really were updated (train mode)."""
    res = check_hybrid(nn.BatchNorm(momentum=0.5), [_x(4, 3, 2) + 1])
    for hybrid in (False, True):
        trained, predicted = res[hybrid, "train"][2], res[hybrid, "predict"][2]
        assert np.all(np.abs(trained["running_mean"]) > 0.1)
        assert not np.allclose(trained["running_var"], 1)
        np.testing.assert_array_equal(predicted["running_mean"], 0)
        np.testing.assert_array_equal(predicted["running_var"], 1)


def test_dropout_masks_really_drop_in_train_mode():
    """Eager and compiled masks agree (checked), and they are masks: zeros and 2x values."""
    x = np.abs(_x(6, 5)) + 0.5
    res = check_hybrid(nn.Dropout(0.5), [x])
    for hybrid in (False, True):
        out = res[hybrid, "train"][0][0][0][0]
        assert 0 < np.sum(out == 0) < out.size
        np.testing.assert_allclose(out[out != 0], 2 * x[out != 0], rtol=1e-6)
        np.testing.assert_array_equal(res[hybrid, "predict"][0][0][0][0], x)


def test_lambda_alone_stays_eager_and_equal():
    """A Lambda is a Block: hybridize() leaves it eager (no trace), same answers."""
    check_hybrid(nn.Lambda(lambda x: nd.tanh(x) * 3), [_x(2, 3)], expect_compiled=False)


def test_every_nn_layer_is_covered():
    """A new layer in gluon.nn must get a case here."""
    made = {type(c[1]()).__name__ for c in CASES} | {"Activation", "Lambda"}
    for c in CASES:
        net = c[1]()
        stack = [net]
        while stack:                      # layers nested in containers count too
            b = stack.pop()
            made.add(type(b).__name__)
            stack += list(b._children.values())
    skip = {"Block", "HybridBlock", "SymbolBlock", "Sequential"}
    public = {n for n in dir(nn) if not n.startswith("_") and isinstance(getattr(nn, n), type)}
    assert public - skip - made == set()


def test_sequential_of_hybridized_children():
    """nn.Sequential (not hybridizable itself) hybridizes its HybridBlock children."""
    def make():
        net = nn.Sequential()
        net.add(nn.Dense(4, activation="relu"), nn.Dense(2))
        return net
    net = make()
    check_hybrid(net, [_x(3, 5)], expect_compiled=False)
    assert all(child._cached is not None for child in net)


# ---- custom blocks ----------------------------------------------------------------------
class Broadcasting(gluon.HybridBlock):
    """Broadcasting between inputs and a parameter, scalars on both sides of every operator."""

    def __init__(self):
        super().__init__()
        self.scale = gluon.Parameter("scale", shape=(1, 4))

    def forward(self, x, y):
        s = self.scale.data()
        h = x * s + y                      # (3, 4) * (1, 4) + (3, 1)
        h = 2.0 - h / 3 + 1.5 * h - (h - 0.5) * y
        h = h + 1 / (2 + nd.abs(h)) + (h ** 2) * 0.1 + 2 ** (h * 0.1)
        h = nd.maximum(h, 0.2) + nd.minimum(-h, y) + (h > 0.5) * h + (0.3 < h) - (h <= y)
        h = nd.broadcast_add(h, nd.sum(x, axis=1, keepdims=True)) - nd.mean(h, axis=0)
        return h * nd.sigmoid(s) + nd.exp(-nd.square(h)) - nd.broadcast_to(y, h.shape) % 0.7


def test_broadcasting_and_scalar_operands():
    check_hybrid(Broadcasting(), [_x(3, 4), _x(3, 1, seed=1)])


class Gluon1Dense(gluon.HybridBlock):
    """Gluon 1.x style: parameters arrive as keyword arguments of hybrid_forward."""

    def __init__(self, units, in_units, **kwargs):
        super().__init__(**kwargs)
        with self.name_scope():
            self.weight = self.params.get("weight", shape=(units, in_units))
            self.bias = self.params.get("bias", shape=(units,), init="zeros")

    def hybrid_forward(self, F, x, weight, bias):
        h = F.FullyConnected(x, weight, bias, num_hidden=weight.shape[0])
        return F.relu(h) + 0.5 * F.sum(x, axis=1, keepdims=True)


def test_gluon1_hybrid_forward_block():
    check_hybrid(Gluon1Dense(3, 4), [_x(2, 4)])


class Gluon1Weight(gluon.HybridBlock):
    """``hybrid_forward(self, F, x, weight)`` with only a weight, used twice."""

    def __init__(self):
        super().__init__()
        self.weight = gluon.Parameter("weight", shape=(4,))

    def hybrid_forward(self, F, x, weight):
        return F.broadcast_mul(x, weight) * weight - F.tanh(x)


def test_gluon1_hybrid_forward_weight_only():
    check_hybrid(Gluon1Weight(), [_x(3, 4)])


def _tied():
    """Two Dense layers sharing one weight and bias: gradients from both uses add up."""
    first = nn.Dense(4, in_units=4, activation="tanh")
    second = nn.Dense(4, in_units=4, params=first.collect_params())
    return _seq(first, second)


class WithConstant(gluon.HybridBlock):
    """A gluon.Constant is a graph input too (never trained)."""

    def __init__(self):
        super().__init__()
        self.c = gluon.Constant("c", nd.array([[1.0, -2.0, 3.0, 0.5]]))
        self.dense = nn.Dense(4, in_units=4)

    def forward(self, x):
        return self.dense(x * self.c.data())


@pytest.mark.parametrize("make", [_tied, WithConstant], ids=["tied_weights", "constant"])
def test_shared_parameters_and_constants(make):
    check_hybrid(make(), [_x(2, 4)])
