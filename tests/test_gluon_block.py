"""Block / HybridBlock / Sequential: registration, structural names, deferred init,
Gluon 1.x style blocks, repr/summary, hooks, save/load and their errors."""
import os

import numpy as np
import pytest

import hybridnet as mx
from hybridnet import autograd, gluon, nd
from hybridnet.base import DeferredInitError, HybridnetError, HybridnetIOError, ShapeError
from hybridnet.gluon import nn


class Affine(gluon.HybridBlock):
    """A hand-made layer: y = x @ weight.T + bias, with in-features inferred."""

    def __init__(self, units):
        super().__init__()
        self.weight = gluon.Parameter("weight", shape=(units, 0))
        self.bias = gluon.Parameter("bias", shape=(units,))

    def infer_shape(self, x):
        self.weight.shape = (self.weight.shape[0], x.shape[1])

    def forward(self, x):
        return nd.dot(x, self.weight.data().T) + self.bias.data()


class Net(gluon.Block):
    def __init__(self):
        super().__init__()
        self.features = nn.Sequential()
        self.features.add(Affine(4), Affine(3))
        self.out = Affine(2)

    def forward(self, x):
        return self.out(self.features(x))


def _x(n=5, d=6, seed=0):
    return nd.array(np.random.default_rng(seed).standard_normal((n, d)))


# ---- structure and names -------------------------------------------------------------
def test_structural_names_and_select_regex():
    net = Net()
    assert list(net.collect_params()) == ["features.0.weight", "features.0.bias",
                                          "features.1.weight", "features.1.bias",
                                          "out.weight", "out.bias"]
    assert list(net.collect_params(".*bias")) == ["features.0.bias", "features.1.bias",
                                                  "out.bias"]
    assert list(net.collect_params(r"features\.1\..*|out\.weight")) == [
        "features.1.weight", "features.1.bias", "out.weight"]
    seq = nn.Sequential()
    seq.add(Affine(2))
    assert list(seq.collect_params()) == ["0.weight", "0.bias"]
    assert net.collect_params()["out.bias"].name == "out.bias"


def test_registration_on_assignment_and_removal():
    class B(gluon.Block):
        def __init__(self):
            super().__init__()
            self.a = Affine(2)
            self.p = gluon.Parameter("p", shape=(1,))

    b = B()
    assert list(b.collect_params()) == ["p", "a.weight", "a.bias"]
    b.a = None
    assert list(b.collect_params()) == ["p"]
    del b.p
    assert list(b.collect_params()) == []
    with pytest.warns(UserWarning, match="not registered.*nn.Sequential"):
        b.layers = [Affine(1), Affine(2)]


def test_assigning_children_before_super_init_is_an_error():
    class Bad(gluon.Block):
        def __init__(self):
            self.d = Affine(2)
            super().__init__()

    with pytest.raises(HybridnetError, match=r"after calling super\(\).__init__\(\)"):
        Bad()


def test_shared_parameters_appear_once():
    class Tied(gluon.Block):
        def __init__(self):
            super().__init__()
            self.a = Affine(3)
            self.b = Affine(3)
            self.b.weight = self.a.weight

        def forward(self, x):
            return self.a(x) + self.b(x)

    t = Tied()
    assert list(t.collect_params()) == ["a.weight", "a.bias", "b.bias"]
    t.initialize()
    t(_x())
    assert t.b.weight.data() is t.a.weight.data()


# ---- deferred initialization ---------------------------------------------------------
def test_forward_before_initialize_names_structural_parameter():
    net = Net()
    with pytest.raises(DeferredInitError, match=r"Parameter 'features\.0\.weight' has not been "
                                                r"initialized\. Call \.initialize\(\)"):
        net(_x())


def test_deferred_shapes_filled_on_first_call():
    net = Net()
    net.initialize()
    p = net.collect_params()
    assert p["features.0.weight"].shape == (4, 0) and not p["features.0.weight"].is_initialized
    with pytest.raises(DeferredInitError, match=r"'features\.0\.weight'.*deferred"):
        p["features.0.weight"].data()
    y = net(_x(d=6))
    assert y.shape == (5, 2)
    assert p["features.0.weight"].shape == (4, 6)
    assert p["features.1.weight"].shape == (3, 4)
    w = p["features.0.weight"].data().asnumpy()
    assert 0 < np.abs(w).max() <= 0.07
    assert not p["out.bias"].data().asnumpy().any()


def test_unknown_dims_without_infer_shape_is_an_error():
    class NoInfer(gluon.Block):
        def __init__(self):
            super().__init__()
            self.weight = gluon.Parameter("weight", shape=(3, 0))

        def forward(self, x):
            return nd.dot(x, self.weight.data().T)

    class Outer(gluon.Block):
        def __init__(self):
            super().__init__()
            self.inner = NoInfer()

        def forward(self, x):
            return self.inner(x)

    o = Outer()
    o.initialize()
    with pytest.raises(DeferredInitError, match=r"Parameter 'inner\.weight' of NoInfer has "
                                                r"unknown shape \(3, 0\).*no infer_shape"):
        o(_x())


def test_initialize_with_initializer_ctx_and_force_reinit():
    net = Net()
    net.initialize(mx.init.Constant(0.5), ctx=mx.cpu())
    net(_x())
    w = net.out.weight.data().asnumpy()
    np.testing.assert_array_equal(w, np.full_like(w, 0.5))
    assert not net.out.bias.data().asnumpy().any()     # biases still 0 by name rule
    net.initialize(mx.init.Constant(0.25), force_reinit=True)
    np.testing.assert_array_equal(net.out.weight.data().asnumpy(), np.full_like(w, 0.25))


# ---- Gluon 1.x style -----------------------------------------------------------------
class Gluon1Dense(gluon.HybridBlock):
    def __init__(self, units, in_units, **kwargs):
        super().__init__(**kwargs)
        with self.name_scope():
            self.weight = self.params.get("weight", shape=(units, in_units))
            self.bias = self.params.get("bias", shape=(units,), init="ones")

    def hybrid_forward(self, F, x, weight, bias):
        assert F is nd
        assert isinstance(weight, nd.NDArray) and isinstance(bias, nd.NDArray)
        return F.relu(F.dot(x, weight.T) + bias)


def test_gluon1_style_block_name_scope_params_get_hybrid_forward():
    net = nn.HybridSequential(prefix="model_")
    with net.name_scope():
        net.add(Gluon1Dense(3, 6, prefix="dense0_"))
    assert net.name == "model" and net[0].prefix == "dense0_"
    assert list(net.collect_params()) == ["0.weight", "0.bias"]
    net.initialize()
    np.testing.assert_array_equal(net[0].bias.data().asnumpy(), np.ones(3))
    x = _x()
    with autograd.record():
        y = net(x)
    y.backward()
    w = net[0].weight.data().asnumpy()
    ref = np.maximum(x.asnumpy() @ w.T + 1, 0)
    np.testing.assert_allclose(y.asnumpy(), ref, rtol=1e-6)
    np.testing.assert_allclose(net[0].bias.grad().asnumpy(), (ref > 0).sum(0))
    net.hybridize()                     # same answer hybridized
    np.testing.assert_allclose(net(x).asnumpy(), ref, rtol=1e-6)


def test_gluon1_params_argument_shares_parameters():
    a = Gluon1Dense(3, 6)
    b = Gluon1Dense(3, 6, params=a.params)
    assert b.weight is a.weight and b.bias is a.bias
    d1 = nn.Dense(3, in_units=6)
    d2 = nn.Dense(3, in_units=6, params=d1.collect_params())
    assert d2.weight is d1.weight
    net = Net()
    twin = Net()
    twin.share_parameters(net.collect_params(r"features\..*"))
    assert twin.features[1].weight is net.features[1].weight
    assert twin.out.weight is not net.out.weight


# ---- apply / cast / hooks ------------------------------------------------------------
def test_apply_cast_and_hooks():
    net = Net()
    seen = []
    net.apply(lambda b: seen.append(type(b).__name__))
    assert seen == ["Affine", "Affine", "Sequential", "Affine", "Net"]
    net.initialize()
    net.cast("float64")
    y = net(nd.array(np.ones((2, 6)), dtype="float64"))
    assert y.dtype == np.float64
    assert net.collect_params()["features.0.weight"].data().dtype == np.float64
    calls = []
    h1 = net.out.register_forward_pre_hook(lambda b, args: calls.append(("pre", args[0].shape)))
    h2 = net.out.register_forward_hook(lambda b, args, out: calls.append(("post", out.shape)))
    net(nd.array(np.ones((2, 6)), dtype="float64"))
    assert calls == [("pre", (2, 3)), ("post", (2, 2))]
    h1.detach()
    with h2:
        pass                             # leaving the with-block detaches it too
    net(nd.array(np.ones((2, 6)), dtype="float64"))
    assert len(calls) == 2


# ---- printing ------------------------------------------------------------------------
def test_repr_tree_like_mxnet():
    net = Net()
    assert repr(net) == ("Net(\n"
                         "  (features): Sequential(\n"
                         "    (0): Affine(\n    \n    )\n"
                         "    (1): Affine(\n    \n    )\n"
                         "  )\n"
                         "  (out): Affine(\n  \n  )\n"
                         ")")
    seq = nn.HybridSequential()
    seq.add(nn.Dense(4, in_units=3, activation="relu"), nn.Dense(2))
    assert repr(seq) == ("HybridSequential(\n"
                         "  (0): Dense(3 -> 4, Activation(relu))\n"
                         "  (1): Dense(None -> 2, linear)\n"
                         ")")


def test_summary_prints_mxnet_table(capsys):
    seq = nn.HybridSequential()
    seq.add(nn.Dense(4, activation="relu"), nn.Dense(2))
    seq.initialize()
    seq.summary(nd.ones((3, 5)))
    out = capsys.readouterr().out.splitlines()
    fmt = "{:>20}  {:>42} {:>15}"
    assert out == [
        "-" * 80, fmt.format("Layer (type)", "Output Shape", "Param #"), "=" * 80,
        fmt.format("Input", "(3, 5)", 0),
        fmt.format("Activation-1", "(3, 4)", 0),
        fmt.format("Dense-2", "(3, 4)", 24),
        fmt.format("Dense-3", "(3, 2)", 10),
        "=" * 80,
        "Parameters in forward computation graph, duplicate included",
        "   Total params: 34", "   Trainable params: 34", "   Non-trainable params: 0",
        "Shared params in forward computation graph: 0", "Unique parameters in model: 34",
        "-" * 80]


def test_summary_counts_shared_and_multiple_outputs(capsys):
    class Two(gluon.Block):
        def __init__(self):
            super().__init__()
            self.a = nn.Dense(2, in_units=3)
            self.b = nn.Dense(2, in_units=3, params=self.a.collect_params())

        def forward(self, x):
            return self.a(x), self.b(x)

    t = Two()
    t.initialize()
    t.collect_params()["a.bias"].grad_req = "null"
    t.summary(nd.ones((1, 3)))
    out = capsys.readouterr().out
    assert "Two-3" in out and "(1, 2), (1, 2)" in out
    assert "Total params: 16" in out and "Trainable params: 12" in out
    assert "Shared params in forward computation graph: 8" in out
    assert "Unique parameters in model: 8" in out


def test_summary_errors():
    seq = nn.HybridSequential()
    seq.add(nn.Dense(2))
    seq.initialize()
    with pytest.raises(HybridnetError, match="pass at least one input"):
        seq.summary()
    seq.hybridize()
    with pytest.raises(HybridnetError, match=r"hybridized; call summary\(\) before hybridize"):
        seq.summary(nd.ones((1, 3)))


# ---- save / load ---------------------------------------------------------------------
def _trained_net():
    net = Net()
    net.initialize(mx.init.Normal(0.5))
    net(_x())
    return net


def test_save_load_round_trip_into_fresh_never_run_net(tmp_path):
    net = _trained_net()
    f = str(tmp_path / "net.params")
    net.save_parameters(f)
    assert sorted(nd.load(f)) == sorted(net.collect_params())
    fresh = Net()                                   # never initialized, never run
    fresh.load_parameters(f)
    assert fresh.features[0].weight.shape == (4, 6)
    x = _x(seed=3)
    np.testing.assert_array_equal(fresh(x).asnumpy(), net(x).asnumpy())
    other = _trained_net()
    other.initialize(mx.init.Zero(), force_reinit=True)
    other.load_parameters(f)                        # into an initialized net
    np.testing.assert_array_equal(other(x).asnumpy(), net(x).asnumpy())
    assert [n for n in os.listdir(tmp_path) if n.startswith(".tmp")] == []


def test_load_missing_and_extra_names_are_listed(tmp_path):
    net = _trained_net()
    f = str(tmp_path / "net.params")
    net.save_parameters(f)
    class Bigger(Net):
        def __init__(self):
            super().__init__()
            self.extra = Affine(1)

    big = Bigger()
    with pytest.raises(HybridnetError, match=r"parameters \['extra\.weight', 'extra\.bias'\] of "
                                             r"this net are missing.*allow_missing=True"):
        big.load_parameters(f)
    big.load_parameters(f, allow_missing=True)
    assert big.out.weight.shape == (2, 3) and not big.extra.weight.is_initialized

    class Smaller(gluon.Block):
        def __init__(self):
            super().__init__()
            self.out = Affine(2)

    small = Smaller()
    with pytest.raises(HybridnetError, match=r"file .* contains parameters \['features\.0\.weight'"
                                             r".*not present in this net.*ignore_extra=True"):
        small.load_parameters(f)
    small.load_parameters(f, ignore_extra=True)
    np.testing.assert_array_equal(small.out.weight.data().asnumpy(),
                                  net.out.weight.data().asnumpy())


def test_load_shape_and_dtype_mismatches(tmp_path):
    net = _trained_net()
    f = str(tmp_path / "net.params")
    net.save_parameters(f)

    class Wider(Net):
        def __init__(self):
            super().__init__()
            self.out = Affine(5)

    w = Wider()
    before = repr(w.collect_params())
    with pytest.raises(ShapeError, match=r"out\.weight: net \(5, 0\) vs file \(2, 3\); "
                                         r"out\.bias: net \(5,\) vs file \(2,\)"):
        w.load_parameters(f)
    assert repr(w.collect_params()) == before        # nothing was half-loaded
    n64 = Net()
    n64.cast("float64")
    with pytest.raises(HybridnetError, match=r"dtypes in file .*net float64 vs file float32.*"
                                             r"cast_dtype=True"):
        n64.load_parameters(f)
    n64.load_parameters(f, cast_dtype=True)
    assert n64.out.weight.data().dtype == np.float64
    saved = Net()
    saved.cast("float64")
    saved.load_parameters(f, cast_dtype=True, dtype_source="saved")
    assert saved.out.weight.data().dtype == np.float32


def test_input_disagreeing_with_loaded_weight(tmp_path):
    net = _trained_net()
    f = str(tmp_path / "net.params")
    net.save_parameters(f)
    fresh = Net()
    fresh.load_parameters(f)
    with pytest.raises(ShapeError, match=r"'features\.0\.weight'.*implies shape \(4, 9\).*"
                                         r"\(4, 6\)"):
        fresh(_x(d=9))


def test_save_uninitialized_and_bad_files(tmp_path):
    net = Net()
    with pytest.raises(DeferredInitError, match=r"'features\.0\.weight' has not been initialized"):
        net.save_parameters(str(tmp_path / "x.params"))
    net.initialize()
    with pytest.raises(DeferredInitError, match=r"'features\.0\.weight'.*deferred"):
        net.save_parameters(str(tmp_path / "x.params"))
    nd.save(str(tmp_path / "list.nd"), [nd.ones(2)])
    with pytest.raises(HybridnetError, match="unnamed list of arrays"):
        net.load_parameters(str(tmp_path / "list.nd"))
    with pytest.raises(HybridnetIOError, match="no such file"):
        net.load_parameters(str(tmp_path / "missing.params"))
    good = _trained_net()
    good.save_parameters(str(tmp_path / "t.params"))
    data = open(tmp_path / "t.params", "rb").read()
    open(tmp_path / "t.params", "wb").write(data[:-7])
    with pytest.raises(HybridnetIOError, match="truncated or corrupt"):
        net.load_parameters(str(tmp_path / "t.params"))


def test_failed_save_keeps_previous_file(tmp_path, monkeypatch):
    net = _trained_net()
    f = tmp_path / "net.params"
    net.save_parameters(str(f))
    before = f.read_bytes()

    def boom(*a):
        raise OSError("disk full")
    monkeypatch.setattr(os, "replace", boom)
    net.initialize(mx.init.Zero(), force_reinit=True)
    with pytest.raises(OSError, match="disk full"):
        net.save_parameters(str(f))
    assert f.read_bytes() == before
    assert [n for n in os.listdir(tmp_path) if n.startswith(".tmp")] == []


def test_deduplicated_shared_parameters_round_trip(tmp_path):
    a = Gluon1Dense(3, 6)

    class Pair(gluon.Block):
        def __init__(self):
            super().__init__()
            self.x = Gluon1Dense(3, 6)
            self.y = Gluon1Dense(3, 6, params=self.x.params)

    p = Pair()
    p.initialize()
    f = str(tmp_path / "pair.params")
    p.save_parameters(f, deduplicate=True)
    assert sorted(nd.load(f)) == ["x.bias", "x.weight"]
    q = Pair()
    q.load_parameters(f)
    np.testing.assert_array_equal(q.y.weight.data().asnumpy(), p.x.weight.data().asnumpy())
    assert a.weight is not q.x.weight


def test_registration_and_sharing_errors():
    seq = nn.Sequential()
    with pytest.raises(HybridnetError, match="register_child: expected a Block, got int"):
        seq.register_child(3)
    net = Net()
    with pytest.raises(HybridnetError, match="share_parameters: expected a dict"):
        net.share_parameters([net.out.weight])
    with pytest.warns(UserWarning, match="has no parameter 'nowhere.weight'"):
        net.share_parameters({"nowhere.weight": gluon.Parameter("weight")})
    with pytest.raises(ShapeError, match="implies shape"):
        nn.Dense(3, in_units=6, params=nn.Dense(4, in_units=6).collect_params())


def test_infer_shape_that_leaves_dims_unknown_is_an_error():
    class Lazy(Affine):
        def infer_shape(self, x):
            pass

    net = nn.Sequential()
    net.add(Lazy(2))
    net.initialize()
    with pytest.raises(DeferredInitError, match=r"Parameter '0\.weight': cannot initialize with "
                                                r"unknown shape \(2, 0\)"):
        net(_x())


def test_bad_dtype_source(tmp_path):
    net = _trained_net()
    f = str(tmp_path / "n.params")
    net.save_parameters(f)
    with pytest.raises(HybridnetError, match="dtype_source must be 'current' or 'saved'"):
        Net().load_parameters(f, dtype_source="file")


def test_abstract_forward_errors():
    with pytest.raises(NotImplementedError, match="must implement forward"):
        gluon.Block()(nd.ones(1))
    with pytest.raises(NotImplementedError, match=r"forward\(self, x, \.\.\.\) or Gluon 1\.x "
                                                  r"hybrid_forward"):
        gluon.HybridBlock()(nd.ones(1))
