"""Parameter / ParameterDict: shapes, deferred init, default initializers, errors."""
import warnings

import numpy as np
import pytest

import hybridnet as mx
from hybridnet import autograd, gluon, nd
from hybridnet.base import DeferredInitError, HybridnetError, ShapeError
from hybridnet.gluon import Parameter, ParameterDict


def test_repr_and_shape_with_unknown_dims():
    p = Parameter("weight", shape=(4, 0))
    assert repr(p) == "Parameter weight (shape=(4, 0), dtype=float32)"
    assert p.shape == (4, 0)
    p.shape = (4, 7)                       # fills the unknown dim
    assert p.shape == (4, 7)
    assert repr(Parameter("b", shape=3)) == "Parameter b (shape=(3,), dtype=float32)"


def test_shape_setter_rejects_conflicting_dims():
    p = Parameter("weight", shape=(4, 0))
    with pytest.raises(ShapeError, match=r"Parameter 'weight': the input implies shape \(5, 7\)"
                                         r".*declared with shape \(4, 0\).*in_units"):
        p.shape = (5, 7)
    with pytest.raises(ShapeError, match="implies shape"):
        p.shape = (4, 7, 1)


def test_initialize_known_shape_is_immediate_and_default_is_uniform_007():
    p = Parameter("weight", shape=(50, 40))
    p.initialize()
    w = p.data().asnumpy()
    assert w.dtype == np.float32 and w.shape == (50, 40)
    assert np.abs(w).max() <= 0.07 and np.abs(w).max() > 0.05   # U(-0.07, 0.07)
    assert p.grad().shape == (50, 40) and not p.grad().asnumpy().any()


@pytest.mark.parametrize("name,value", [("bias", 0.0), ("gamma", 1.0), ("beta", 0.0),
                                        ("running_mean", 0.0), ("running_var", 1.0)])
def test_default_init_dispatches_on_name_suffix(name, value):
    p = Parameter(name, shape=(6,))
    p.initialize()
    np.testing.assert_array_equal(p.data().asnumpy(), np.full(6, value, np.float32))


def test_custom_name_gets_default_weight_rule_like_gluon1():
    p = Parameter("scale", shape=(100,))
    p.initialize(default_init=mx.init.Uniform(0.5))
    v = p.data().asnumpy()
    assert np.abs(v).max() <= 0.5 and v.std() > 0.1


def test_own_init_and_explicit_init_take_precedence():
    p = Parameter("weight", shape=(3,), init="ones")
    p.initialize(default_init=mx.init.Uniform())
    np.testing.assert_array_equal(p.data().asnumpy(), np.ones(3))
    q = Parameter("weight", shape=(3,), init="ones")
    q.initialize(init=mx.init.Constant(2.5))
    np.testing.assert_array_equal(q.data().asnumpy(), np.full(3, 2.5))


def test_seeded_initialization_is_reproducible():
    vals = []
    for _ in range(2):
        mx.random.seed(7)
        p = Parameter("weight", shape=(3, 3))
        p.initialize()
        vals.append(p.data().asnumpy())
    np.testing.assert_array_equal(vals[0], vals[1])


def test_data_before_initialize_names_param_and_says_initialize():
    p = Parameter("weight", shape=(2, 2))
    with pytest.raises(DeferredInitError, match=r"Parameter 'weight' has not been initialized\. "
                                                r"Call \.initialize\(\)"):
        p.data()
    with pytest.raises(DeferredInitError, match="initialize"):
        p.grad()


def test_deferred_param_waits_for_shape():
    p = Parameter("weight", shape=(2, 0))
    p.initialize()
    assert not p.is_initialized
    with pytest.raises(DeferredInitError, match=r"'weight'.*deferred.*\(2, 0\).*first forward"):
        p.data()
    p.shape = (2, 3)
    p._finish_deferred_init()
    assert p.data().shape == (2, 3)


def test_no_deferred_init_allowed():
    p = Parameter("weight", shape=(2, 0), allow_deferred_init=False)
    with pytest.raises(DeferredInitError, match=r"Cannot initialize Parameter 'weight'.*"
                                                r"allow_deferred_init=False"):
        p.initialize()


def test_double_initialize_warns_and_force_reinit_reinitializes():
    p = Parameter("weight", shape=(2,))
    p.initialize(init="zeros")
    with pytest.warns(UserWarning, match="already initialized"):
        p.initialize(init="ones")
    assert not p.data().asnumpy().any()
    p.initialize(init="ones", force_reinit=True)
    np.testing.assert_array_equal(p.data().asnumpy(), np.ones(2))


def test_grad_req_validation_and_null():
    with pytest.raises(HybridnetError, match="grad_req must be 'write', 'add' or 'null'"):
        Parameter("w", grad_req="sometimes")
    p = Parameter("weight", shape=(2,), grad_req="null")
    p.initialize()
    with pytest.raises(HybridnetError, match="no gradient because its grad_req is 'null'"):
        p.grad()
    p.grad_req = "add"
    assert p.grad().shape == (2,)
    with pytest.raises(HybridnetError, match="grad_req must be"):
        p.grad_req = "bad"


def test_gradient_flows_into_parameter():
    p = Parameter("weight", shape=(3,))
    p.initialize(init="ones")
    with autograd.record():
        y = (p.data() * nd.array([1.0, 2.0, 3.0])).sum()
    y.backward()
    np.testing.assert_array_equal(p.grad().asnumpy(), [1, 2, 3])
    p.zero_grad()
    assert not p.grad().asnumpy().any()


def test_set_data_cast_and_errors():
    p = Parameter("weight", shape=(2, 0))
    p.set_data(nd.array([[1, 2, 3], [4, 5, 6]]))      # uninitialized: takes the value
    assert p.shape == (2, 3)
    p.set_data(np.zeros((2, 3)))
    assert not p.data().asnumpy().any()
    with pytest.raises(ShapeError, match=r"set_data: shape \(3, 2\) != parameter shape \(2, 3\)"):
        p.set_data(nd.zeros((3, 2)))
    p.cast("float64")
    assert p.data().dtype == np.float64 and p.grad().dtype == np.float64


def test_constant_never_trains():
    c = gluon.Constant(nd.array([1.0, 2.0]))
    assert c.grad_req == "null"
    np.testing.assert_array_equal(c.data().asnumpy(), [1, 2])
    c.grad_req = "write"                   # not differentiable: stays null
    assert c.grad_req == "null"


def _pdict():
    pd = ParameterDict()
    pd.get("0.weight", shape=(2, 3))
    pd.get("0.bias", shape=(2,))
    pd.get("1.weight", shape=(1, 2))
    return pd


def test_parameterdict_get_select_setattr_repr():
    pd = _pdict()
    assert pd.get("0.weight") is pd["0.weight"]
    assert list(pd.select(".*weight")) == ["0.weight", "1.weight"]
    assert list(pd.select(r"0\..*")) == ["0.weight", "0.bias"]
    pd.setattr("lr_mult", 0.5)
    assert all(p.lr_mult == 0.5 for p in pd.values())
    assert repr(pd) == ("ParameterDict (\n  Parameter 0.weight (shape=(2, 3), dtype=float32)\n"
                        "  Parameter 0.bias (shape=(2,), dtype=float32)\n"
                        "  Parameter 1.weight (shape=(1, 2), dtype=float32)\n)")
    other = ParameterDict()
    other.get("0.weight", shape=(2, 3))
    with pytest.raises(HybridnetError, match="'0.weight' already holds a different Parameter"):
        pd.update(other)


def test_parameterdict_get_fills_shape_of_existing():
    pd = ParameterDict()
    p = pd.get("weight", shape=(3, 0))
    assert pd.get("weight", shape=(3, 5)) is p and p.shape == (3, 5)


def test_parameterdict_initialize_zero_grad_save_load(tmp_path):
    pd = _pdict()
    pd.initialize(mx.init.Normal(1.0))
    for p in pd.values():
        p.grad()[:] = 1.0
    pd.zero_grad()
    assert not any(p.grad().asnumpy().any() for p in pd.values())
    f = str(tmp_path / "pd.params")
    pd.save(f, strip_prefix="0.")
    assert sorted(nd.load(f)) == ["1.weight", "bias", "weight"]
    fresh = ParameterDict()
    fresh.get("0.weight", shape=(2, 0))
    fresh.get("0.bias", shape=(2,))
    fresh.load(f, restore_prefix="0.", ignore_extra=True)   # '0.1.weight' is extra
    for k in pd:
        if k.startswith("0."):
            np.testing.assert_array_equal(fresh[k].data().asnumpy(), pd[k].data().asnumpy())
    with warnings.catch_warnings():
        warnings.simplefilter("error")   # no stray warnings from a plain round trip
        again = _pdict()
        pd.save(f)
        again.load(f)
    np.testing.assert_array_equal(again["1.weight"].data().asnumpy(),
                                  pd["1.weight"].data().asnumpy())


def test_list_ctx_and_reset_ctx():
    p = Parameter("weight", shape=(2,))
    p.initialize(ctx=[mx.cpu(0)])
    assert p.list_ctx() == [mx.cpu(0)]
    p.reset_ctx(mx.cpu(1))
    assert p.list_ctx() == [mx.cpu(1)] and p.data().context == mx.cpu(1)


def test_get_constant():
    pd = ParameterDict()
    c = pd.get_constant("c", nd.array([1.0, 2.0]))
    assert pd.get_constant("c") is c and c.grad_req == "null"
    with pytest.raises(HybridnetError, match="no constant 'd' yet; pass its value"):
        pd.get_constant("d")


def test_initialize_by_name_and_verbose(capsys):
    pd = _pdict()
    pd.initialize("zeros", verbose=True)
    assert not pd["0.weight"].data().asnumpy().any()
    assert "Initialized 0.weight" in capsys.readouterr().out
