"""Conv1D/2D, transposed convolutions and pooling layers: forward vs NumPy references,
gradients vs finite differences, deferred init, reprs, errors."""
import numpy as np
import pytest

import hybridnet as mx
from hybridnet import nd
from hybridnet.base import HybridnetValueError, ShapeError
from hybridnet.gluon import nn
from hybridnet.test_utils import assert_almost_equal
from test_gluon_layers_helpers import check_layer_grads, init_layer
from test_gluon_layers_refs import conv_ref, deconv_ref, pool_ref

rng = np.random.default_rng(1)


@pytest.fixture(autouse=True)
def _seed():
    mx.random.seed(0)          # initializers and dropout draw from hybridnet.random


def rand(*shape):
    return rng.standard_normal(shape)


def _params(layer):
    w = layer.weight.data().asnumpy().astype(np.float64)
    b = layer.bias.data().asnumpy().astype(np.float64) if layer.bias is not None else None
    return w, b


CONV2D = [  # (kwargs, input shape)
    (dict(channels=4, kernel_size=3, padding=1), (2, 3, 5, 5)),
    (dict(channels=4, kernel_size=(3, 2), strides=(2, 1), padding=(1, 0), dilation=(2, 1),
          groups=2, use_bias=False), (2, 4, 7, 6)),
    (dict(channels=6, kernel_size=1, groups=3, activation="relu"), (1, 3, 4, 4)),
]


@pytest.mark.parametrize("kwargs,shape", CONV2D)
def test_conv2d_forward(kwargs, shape):
    x = rand(*shape)
    layer = init_layer(nn.Conv2D(**kwargs), nd.array(x))
    w, b = _params(layer)
    k = w.shape[2:]
    as2 = lambda v, d: v if isinstance(v, tuple) else (v, v)  # noqa: E731
    ref = conv_ref(x, w, b, as2(kwargs.get("strides", 1), 1), as2(kwargs.get("padding", 0), 0),
                   as2(kwargs.get("dilation", 1), 1), kwargs.get("groups", 1))
    if kwargs.get("activation") == "relu":
        ref = np.maximum(ref, 0)
    assert w.shape == (kwargs["channels"], shape[1] // kwargs.get("groups", 1)) + k
    assert_almost_equal(layer(nd.array(x)), ref.astype(np.float32), rtol=1e-4, atol=1e-5)


def test_conv2d_grads():
    x = rand(2, 4, 5, 4)
    layer = init_layer(nn.Conv2D(4, (3, 2), strides=(2, 1), padding=(1, 1), dilation=(1, 2),
                                 groups=2), nd.array(x))
    check_layer_grads(layer, [x])


def test_conv1d_forward_and_grads():
    x = rand(2, 3, 9)
    layer = init_layer(nn.Conv1D(2, 3, strides=2, padding=1, dilation=2), nd.array(x))
    w, b = _params(layer)
    assert_almost_equal(layer(nd.array(x)),
                        conv_ref(x, w, b, (2,), (1,), (2,), 1).astype(np.float32),
                        rtol=1e-4, atol=1e-5)
    check_layer_grads(layer, [x])


@pytest.mark.parametrize("kwargs,shape", [
    (dict(channels=3, kernel_size=3, strides=2, padding=1, output_padding=1), (2, 2, 3, 4)),
    (dict(channels=4, kernel_size=(2, 3), strides=(1, 2), padding=(0, 1), dilation=(2, 1),
          groups=2, use_bias=False), (1, 4, 3, 3)),
])
def test_conv2d_transpose_forward_and_grads(kwargs, shape):
    x = rand(*shape)
    layer = init_layer(nn.Conv2DTranspose(**kwargs), nd.array(x))
    w, b = _params(layer)
    pair = lambda v: v if isinstance(v, tuple) else (v, v)  # noqa: E731
    g = kwargs.get("groups", 1)
    assert w.shape == (shape[1], kwargs["channels"] // g) + pair(kwargs["kernel_size"])
    ref = deconv_ref(x, w, b, pair(kwargs.get("strides", 1)), pair(kwargs.get("padding", 0)),
                     pair(kwargs.get("dilation", 1)), pair(kwargs.get("output_padding", 0)), g)
    assert_almost_equal(layer(nd.array(x)), ref.astype(np.float32), rtol=1e-4, atol=1e-5)
    check_layer_grads(layer, [x])


def test_conv1d_transpose_forward():
    x = rand(2, 3, 5)
    layer = init_layer(nn.Conv1DTranspose(2, 3, strides=2, output_padding=1), nd.array(x))
    w, b = _params(layer)
    ref = deconv_ref(x, w, b, (2,), (0,), (1,), (1,), 1)
    assert layer(nd.array(x)).shape == (2, 2, 12)
    assert_almost_equal(layer(nd.array(x)), ref.astype(np.float32), rtol=1e-4, atol=1e-5)


def test_conv_deferred_init_and_names():
    net = nn.HybridSequential()
    net.add(nn.Conv2D(6, 5, activation="relu"), nn.MaxPool2D(), nn.Conv2D(16, 3),
            nn.GlobalAvgPool2D(), nn.Flatten(), nn.Dense(10))
    net.initialize()
    assert net[0].weight.shape == (6, 0, 5, 5)
    out = net(nd.ones((2, 1, 12, 12)))
    assert out.shape == (2, 10)
    assert net[0].weight.shape == (6, 1, 5, 5) and net[2].weight.shape == (16, 6, 3, 3)
    assert list(net.collect_params().keys()) == ["0.weight", "0.bias", "2.weight", "2.bias",
                                                 "5.weight", "5.bias"]


def test_conv_reprs():
    assert repr(nn.Conv2D(6, 3, padding=1, in_channels=1)) == \
        "Conv2D(1 -> 6, kernel_size=(3, 3), stride=(1, 1), padding=(1, 1))"
    assert repr(nn.Conv1D(4, 3)) == "Conv1D(None -> 4, kernel_size=(3,), stride=(1,))"
    assert repr(nn.Conv2D(6, (3, 2), strides=2, dilation=2, groups=2, activation="relu",
                          use_bias=False)) == (
        "Conv2D(None -> 6, kernel_size=(3, 2), stride=(2, 2), dilation=(2, 2), groups=2, "
        "bias=False, Activation(relu))")
    assert repr(nn.Conv2DTranspose(4, 3, strides=2, output_padding=1, in_channels=2)) == (
        "Conv2DTranspose(2 -> 4, kernel_size=(3, 3), stride=(2, 2), output_padding=(1, 1))")
    assert repr(nn.MaxPool2D()) == ("MaxPool2D(size=(2, 2), stride=(2, 2), padding=(0, 0), "
                                    "ceil_mode=False, global_pool=False, pool_type=max, "
                                    "layout=NCHW)")
    assert repr(nn.GlobalAvgPool1D()) == (
        "GlobalAvgPool1D(size=(1,), stride=(1,), padding=(0,), ceil_mode=True, "
        "global_pool=True, pool_type=avg, layout=NCW)")


def test_conv_errors():
    layer = nn.Conv2D(4, 3, in_channels=2)
    layer.initialize()
    with pytest.raises(ShapeError, match=r"Conv2D\(2 -> 4.*has channel count \(axis 1\) 3.*"
                                         r"expects.*2.*in_channels=3"):
        layer(nd.ones((1, 3, 5, 5)))
    with pytest.raises(ShapeError, match=r"Conv2D.*expects 4-D input in layout NCHW, got "
                                         r"shape \(3, 5, 5\)"):
        layer(nd.ones((3, 5, 5)))
    grouped = nn.Conv2D(4, 3, groups=2)
    grouped.initialize()
    with pytest.raises(ShapeError, match="input has 3 channels, not a multiple of groups=2"):
        grouped(nd.ones((1, 3, 5, 5)))
    with pytest.raises(HybridnetValueError, match="channels=3 must be a positive multiple of "
                                                  "groups=2"):
        nn.Conv2D(3, 3, groups=2)
    with pytest.raises(HybridnetValueError, match="Conv2D: layout 'NHWC' is not supported"):
        nn.Conv2D(3, 3, layout="NHWC")
    with pytest.raises(HybridnetValueError, match=r"Conv2D: kernel_size must be an int or a "
                                                  r"tuple of 2 ints, got \(3, 3, 3\)"):
        nn.Conv2D(3, (3, 3, 3))
    with pytest.raises(HybridnetValueError, match="Conv1D: unknown activation 'foo'"):
        nn.Conv1D(3, 3, activation="foo")


# ---- pooling -------------------------------------------------------------------------------
POOLS = [
    (nn.MaxPool2D, dict(), "max", (2, 2), (2, 2), (0, 0), False, True),
    (nn.MaxPool2D, dict(pool_size=3, strides=2, padding=1, ceil_mode=True), "max", (3, 3),
     (2, 2), (1, 1), True, True),
    (nn.AvgPool2D, dict(pool_size=(3, 2), strides=(2, 1), padding=1), "avg", (3, 2), (2, 1),
     (1, 1), False, True),
    (nn.AvgPool2D, dict(pool_size=3, strides=2, padding=1, ceil_mode=True,
                        count_include_pad=False), "avg", (3, 3), (2, 2), (1, 1), True, False),
    (nn.MaxPool1D, dict(pool_size=3, strides=2), "max", (3,), (2,), (0,), False, True),
    (nn.AvgPool1D, dict(pool_size=3, strides=2, padding=1, ceil_mode=True), "avg", (3,), (2,),
     (1,), True, True),
]


@pytest.mark.parametrize("cls,kwargs,ptype,k,s,p,ceil,cip", POOLS)
def test_pooling_forward_and_grads(cls, kwargs, ptype, k, s, p, ceil, cip):
    shape = (2, 3) + (7, 6)[:len(k)]
    x = rand(*shape)
    layer = cls(**kwargs)
    ref = pool_ref(x, k, s, p, ptype, ceil, cip)
    out = layer(nd.array(x))
    assert out.shape == ref.shape
    assert_almost_equal(out, ref.astype(np.float32), rtol=1e-5, atol=1e-6)
    check_layer_grads(layer, [x])


@pytest.mark.parametrize("cls,ptype,nd_", [(nn.GlobalMaxPool1D, "max", 1),
                                            (nn.GlobalMaxPool2D, "max", 2),
                                            (nn.GlobalAvgPool1D, "avg", 1),
                                            (nn.GlobalAvgPool2D, "avg", 2)])
def test_global_pooling(cls, ptype, nd_):
    x = rand(*((2, 3) + (5, 4)[:nd_]))
    out = cls()(nd.array(x))
    assert out.shape == (2, 3) + (1,) * nd_
    assert_almost_equal(out, pool_ref(x, None, None, None, ptype, global_pool=True)
                        .astype(np.float32), rtol=1e-5, atol=1e-6)
    check_layer_grads(cls(), [x])


def test_pooling_channels_last_layout():
    x = rand(2, 6, 4, 3)                     # NHWC
    out = nn.MaxPool2D(layout="NHWC")(nd.array(x))
    ref = pool_ref(x.transpose(0, 3, 1, 2), (2, 2), (2, 2), (0, 0), "max").transpose(0, 2, 3, 1)
    assert_almost_equal(out, ref.astype(np.float32))


def test_pooling_errors():
    with pytest.raises(ShapeError, match=r"MaxPool2D: expects 4-D input in layout NCHW, got "
                                         r"shape \(3, 4\)"):
        nn.MaxPool2D()(nd.ones((3, 4)))
    with pytest.raises(HybridnetValueError, match=r"AvgPool1D: layout must be one of "
                                                  r"\('NCW', 'NWC'\)"):
        nn.AvgPool1D(layout="NCHW")


# ---- 3-D ------------------------------------------------------------------------------------
def test_conv3d_and_transpose_forward_and_grads():
    x = rand(1, 2, 3, 4, 3)
    conv = init_layer(nn.Conv3D(2, (2, 3, 2), padding=(1, 0, 1), strides=(1, 1, 2)),
                      nd.array(x))
    w, b = _params(conv)
    assert w.shape == (2, 2, 2, 3, 2)
    assert_almost_equal(conv(nd.array(x)),
                        conv_ref(x, w, b, (1, 1, 2), (1, 0, 1), (1, 1, 1), 1).astype(np.float32),
                        rtol=1e-4, atol=1e-5)
    check_layer_grads(conv, [x])
    deconv = init_layer(nn.Conv3DTranspose(2, 2, strides=2), nd.array(x))
    w, b = _params(deconv)
    assert_almost_equal(deconv(nd.array(x)),
                        deconv_ref(x, w, b, (2,) * 3, (0,) * 3, (1,) * 3, (0,) * 3, 1)
                        .astype(np.float32), rtol=1e-4, atol=1e-5)
    assert repr(deconv) == "Conv3DTranspose(2 -> 2, kernel_size=(2, 2, 2), stride=(2, 2, 2))"


def test_pool3d():
    x = rand(1, 2, 4, 5, 3)
    out = nn.MaxPool3D(pool_size=2, strides=(2, 2, 1), ceil_mode=True)(nd.array(x))
    assert_almost_equal(out, pool_ref(x, (2, 2, 2), (2, 2, 1), (0, 0, 0), "max", True)
                        .astype(np.float32))
    out = nn.AvgPool3D(pool_size=(2, 3, 2), padding=1, count_include_pad=False)(nd.array(x))
    assert_almost_equal(out, pool_ref(x, (2, 3, 2), (2, 3, 2), (1, 1, 1), "avg", False, False)
                        .astype(np.float32), rtol=1e-5, atol=1e-6)
    check_layer_grads(nn.AvgPool3D(), [x])
    assert nn.GlobalMaxPool3D()(nd.array(x)).shape == (1, 2, 1, 1, 1)
    assert_almost_equal(nn.GlobalAvgPool3D()(nd.array(x)),
                        x.mean(axis=(2, 3, 4), keepdims=True).astype(np.float32), atol=1e-6)
