"""Initializers: statistics/values of each rule, MXNet's name dispatch, create/dumps, errors."""
import json

import numpy as np
import pytest

import hybridnet as mx
from hybridnet import init, nd
from hybridnet.base import HybridnetValueError, ShapeError
from hybridnet.initializer import InitDesc


def _fill(initializer, name, shape, dtype="float32"):
    arr = nd.zeros(shape, dtype=dtype)
    initializer(name, arr)
    return arr.asnumpy()


def test_uniform_statistics():
    mx.random.seed(0)
    w = _fill(init.Uniform(), "fc_weight", (300, 300))
    assert w.dtype == np.float32 and np.abs(w).max() <= 0.07
    assert abs(w.mean()) < 2e-3 and w.var() == pytest.approx(0.07 ** 2 / 3, rel=0.02)
    w = _fill(init.Uniform(0.5), "w_weight", (200, 200))
    assert np.abs(w).max() <= 0.5 and np.abs(w).max() > 0.49


def test_normal_statistics():
    mx.random.seed(1)
    w = _fill(init.Normal(0.2), "weight", (300, 300))
    assert abs(w.mean()) < 3e-3 and w.std() == pytest.approx(0.2, rel=0.02)
    assert init.Normal().sigma == 0.01


@pytest.mark.parametrize("rnd_type,factor_type,magnitude", [
    ("uniform", "avg", 3), ("uniform", "in", 2), ("gaussian", "out", 3), ("gaussian", "avg", 1)])
def test_xavier_scale(rnd_type, factor_type, magnitude):
    mx.random.seed(2)
    shape = (64, 32, 3, 3)
    fan_in, fan_out = 32 * 9, 64 * 9
    factor = {"avg": (fan_in + fan_out) / 2, "in": fan_in, "out": fan_out}[factor_type]
    scale = np.sqrt(magnitude / factor)
    w = _fill(init.Xavier(rnd_type, factor_type, magnitude), "conv_weight", shape)
    if rnd_type == "uniform":
        assert np.abs(w).max() <= scale * (1 + 1e-6)
        assert w.std() == pytest.approx(scale / np.sqrt(3), rel=0.03)
    else:
        assert w.std() == pytest.approx(scale, rel=0.03)


def test_msraprelu_is_gaussian_xavier_with_prelu_gain():
    mx.random.seed(3)
    w = _fill(init.MSRAPrelu(factor_type="in", slope=0.25), "weight", (100, 400))
    assert w.std() == pytest.approx(np.sqrt(2.0 / (1 + 0.25 ** 2) / 400), rel=0.03)
    assert init.MSRAPrelu().dumps() == '["msraprelu", {"factor_type": "avg", "slope": 0.25}]'


@pytest.mark.parametrize("shape,rand_type", [((4, 6), "uniform"), ((6, 4), "normal"),
                                             ((3, 2, 2, 2), "uniform")])
def test_orthogonal(shape, rand_type):
    mx.random.seed(4)
    w = _fill(init.Orthogonal(scale=1.5, rand_type=rand_type), "weight", shape)
    m = w.reshape(shape[0], -1)
    small = min(m.shape)
    gram = m @ m.T if m.shape[0] == small else m.T @ m
    np.testing.assert_allclose(gram, 1.5 ** 2 * np.eye(small), atol=1e-5)


def test_constant_zero_one():
    assert (_fill(init.Zero(), "weight", (2, 3)) == 0).all()
    assert (_fill(init.One(), "weight", (2, 3)) == 1).all()
    assert (_fill(init.Constant(2.5), "weight", (2, 3)) == 2.5).all()
    np.testing.assert_array_equal(_fill(init.Constant(nd.array([1, 2, 3])), "weight", (2, 3)),
                                  [[1, 2, 3], [1, 2, 3]])
    assert init.Constant(np.array([1.0, 2.0])).dumps() == '["constant", {"value": [1.0, 2.0]}]'
    assert (_fill(init.Constant(3), "weight", (2,), dtype="int32") == 3).all()


def test_bilinear_kernel_values():
    w = _fill(init.Bilinear(), "up_weight", (2, 1, 4, 4))
    row = np.array([0.25, 0.75, 0.75, 0.25])     # f = 2, c = 0.75: 1 - |x / f - c|
    np.testing.assert_allclose(w[1, 0], np.outer(row, row))
    w3 = _fill(init.Bilinear(), "up_weight", (1, 1, 3, 3))
    r3 = np.array([0.25, 0.75, 0.75])             # f = 2, c = 0.75 as for kernel 4
    np.testing.assert_allclose(w3[0, 0], np.outer(r3, r3))


def test_lstm_bias():
    b = _fill(init.LSTMBias(forget_bias=2.0), InitDesc("lstm_i2h_bias", {"__init__": "lstmbias"}),
              (8,))
    np.testing.assert_array_equal(b, [0, 0, 1, 1, 0, 0, 0, 0])
    # as in MXNet, a plain '*bias' name takes the name rule (zeros); Gluon passes InitDesc
    assert (_fill(init.LSTMBias(2.0), "lstm_i2h_bias", (8,)) == 0).all()
    arr = nd.zeros((4,))
    init.Uniform()(InitDesc("x_bias", {"__init__": init.LSTMBias(1.0)}), arr)
    np.testing.assert_array_equal(arr.asnumpy(), [0, 1, 0, 0])


@pytest.mark.parametrize("name,expected", [
    ("fc_bias", 0), ("bn_beta", 0), ("bn_gamma", 1), ("bn_running_mean", 0),
    ("bn_running_var", 1), ("bn_moving_mean", 0), ("bn_moving_var", 1), ("0.bias", 0),
    ("layer.gamma", 1), ("q_min", 0), ("q_max", 1), ("bn_moving_inv_var", 0)])
def test_name_suffix_dispatch(name, expected):
    arr = _fill(init.Uniform(), name, (5,))
    assert (arr == expected).all()


def test_gluon_default_falls_out():
    """Uniform() on a net: U(-0.07, 0.07) weights, zero biases, BN gamma 1 / beta 0."""
    mx.random.seed(5)
    u = init.Uniform()
    w = _fill(u, "dense0_weight", (20, 30))
    assert np.abs(w).max() <= 0.07 and w.std() > 0.03
    for name, val in (("dense0_bias", 0), ("batchnorm0_gamma", 1), ("batchnorm0_beta", 0)):
        assert (_fill(u, InitDesc(name), (4,)) == val).all()


def test_initdesc_init_attr_overrides_suffix():
    arr = nd.zeros((3,))
    desc = InitDesc("fc_bias", {"__init__": "ones"})
    init.Xavier()(desc, arr)
    assert (arr.asnumpy() == 1).all() and desc.global_init is not None
    arr2 = nd.zeros((2, 2))
    init.Zero()(InitDesc("fc_weight", {"__init__": init.Constant(7).dumps()}), arr2)
    assert (arr2.asnumpy() == 7).all()


def test_seed_reproducible():
    mx.random.seed(42)
    a = _fill(init.Xavier(), "weight", (5, 6))
    mx.random.seed(42)
    b = _fill(init.Xavier(), "weight", (5, 6))
    np.testing.assert_array_equal(a, b)
    c = _fill(init.Xavier(), "weight", (5, 6))
    assert not np.array_equal(a, c)


def test_mixed():
    m = init.Mixed(["emb", ".*"], [init.Constant(3), "ones"])   # re.match: from the start
    assert (_fill(m, "emb_weight", (2,)) == 3).all()
    assert (_fill(m, "fc_weight", (2,)) == 1).all()
    assert (_fill(m, "emb_bias", (2,)) == 0).all()   # the chosen initializer's name rules
    m2 = init.create(m.dumps())
    assert isinstance(m2, init.Mixed) and (_fill(m2, "emb2_weight", (2,)) == 3).all()


def test_load_initializer():
    src = {"arg:fc_weight": nd.array([[1.0, 2.0]]), "fc_bias": nd.array([5.0])}
    ld = init.Load(src, default_init=init.One())
    np.testing.assert_array_equal(_fill(ld, "fc_weight", (1, 2)), [[1, 2]])
    assert (_fill(ld, "fc_bias", (1,)) == 5).all() and (_fill(ld, "other_weight", (2,)) == 1).all()
    with pytest.raises(ShapeError, match=r"'fc_weight' has shape \(2, 2\) but the loaded"):
        _fill(ld, "fc_weight", (2, 2))
    with pytest.raises(HybridnetValueError, match="no saved value for parameter 'zz'"):
        _fill(init.Load(src), "zz", (1,))


def test_create_aliases_and_dumps_roundtrip():
    for name, klass in [("zeros", init.Zero), ("zero", init.Zero), ("ones", init.One),
                        ("uniform", init.Uniform), ("normal", init.Normal),
                        ("xavier", init.Xavier), ("msra", init.MSRAPrelu),
                        ("MSRAPrelu", init.MSRAPrelu), ("orthogonal", init.Orthogonal),
                        ("bilinear", init.Bilinear), ("lstmbias", init.LSTMBias)]:
        assert type(init.create(name)) is klass
    x = init.Xavier(factor_type="in", magnitude=2.34)
    assert json.loads(x.dumps()) == ["xavier", {"rnd_type": "uniform", "factor_type": "in",
                                                "magnitude": 2.34}]
    y = init.create(x.dumps())
    assert (y.rnd_type, y.factor_type, y.magnitude) == ("uniform", "in", 2.34)
    assert init.create("uniform", scale=0.3).scale == 0.3
    assert init.create(x) is x
    assert mx.initializer is mx.init

    @init.register
    class MyInit(init.Initializer):
        def _init_weight(self, _, arr):
            arr[:] = 9
    assert (_fill(init.create("myinit"), "weight", (2,)) == 9).all()


def test_errors():
    with pytest.raises(HybridnetValueError, match=r"unknown initializer 'xavierr'.*'xavier'"):
        init.create("xavierr")
    with pytest.raises(HybridnetValueError, match="expected an Initializer, a name"):
        init.create(3)
    with pytest.raises(HybridnetValueError, match="extra arguments"):
        init.create(init.One(), 1)
    with pytest.raises(ShapeError, match=r"Xavier initializer cannot be applied to 'fc_weight' "
                                         r"of shape \(5,\).*at least 2 dims"):
        _fill(init.Xavier(), "fc_weight", (5,))
    arr = nd.zeros((4, 0))
    with pytest.raises(ShapeError, match=r"unknown dims in shape \(4, 0\)"):
        init.Xavier()("fc_weight", arr)
    with pytest.raises(HybridnetValueError, match="rnd_type must be 'uniform' or 'gaussian'"):
        init.Xavier(rnd_type="normal")
    with pytest.raises(HybridnetValueError, match="factor_type must be 'avg', 'in' or 'out'"):
        init.Xavier(factor_type="fan")
    with pytest.raises(HybridnetValueError, match="rand_type must be 'uniform' or 'normal'"):
        init.Orthogonal(rand_type="gaussian")
    with pytest.raises(ShapeError, match="Orthogonal initializer needs a known shape"):
        _fill(init.Orthogonal(), "w_weight", (3,))
    with pytest.raises(HybridnetValueError, match="Unknown initialization pattern for 'foo'"):
        _fill(init.Uniform(), "foo", (2,))
    with pytest.raises(HybridnetValueError, match="matches none of the patterns"):
        _fill(init.Mixed(["bias"], [init.Zero()]), "fc_weight", (2,))
    with pytest.raises(HybridnetValueError, match="2 patterns but 1 initializers"):
        init.Mixed(["a", "b"], [init.Zero()])
    with pytest.raises(ShapeError, match="does not broadcast"):
        _fill(init.Constant(nd.array([1, 2])), "weight", (2, 3))
    with pytest.raises(ShapeError, match="Bilinear initializer needs a 4-D weight"):
        _fill(init.Bilinear(), "weight", (3, 3))
    with pytest.raises(ShapeError, match="LSTMBias.*divisible by 4"):
        _fill(init.LSTMBias(), "weight", (6,))
    with pytest.raises(HybridnetValueError, match="expected an NDArray to fill"):
        init.Zero()("weight", [1, 2])
    with pytest.raises(HybridnetValueError, match="first argument must be the parameter name"):
        init.Zero()(3, nd.zeros(2))
    with pytest.raises(NotImplementedError, match="does not define a weight rule"):
        init.Initializer()("weight", nd.zeros(2))
    with pytest.raises(HybridnetValueError, match="expected an Initializer subclass"):
        init.register(int)
