"""RNN/LSTM/GRU cells and layers vs NumPy references (MXNet gate orders), both layouts,
multi-layer bidirectional shapes and gradients, container cells, names, reprs, errors."""
import numpy as np
import pytest

import hybridnet as mx
from hybridnet import autograd, nd
from hybridnet.base import HybridnetValueError, ShapeError
from hybridnet.gluon import HybridBlock, nn, rnn
from hybridnet.test_utils import assert_almost_equal
from test_gluon_layers_helpers import check_layer_grads
from test_gluon_rnn_refs import cell_ref, layer_ref

rng = np.random.default_rng(3)
CELLS = [(lambda: rnn.RNNCell(4), "rnn_tanh", 1), (lambda: rnn.RNNCell(4, "relu"), "rnn_relu", 1),
         (lambda: rnn.LSTMCell(4), "lstm", 2), (lambda: rnn.GRUCell(4), "gru", 1)]
LAYERS = [(lambda **k: rnn.RNN(3, activation="tanh", **k), "rnn_tanh"),
          (lambda **k: rnn.RNN(3, **k), "rnn_relu"),
          (lambda **k: rnn.LSTM(3, **k), "lstm"), (lambda **k: rnn.GRU(3, **k), "gru")]


@pytest.fixture(autouse=True)
def _seed():
    mx.random.seed(0)          # initializers and dropout draw from hybridnet.random


def rand(*shape):
    return rng.standard_normal(shape)


def f32(a):
    return np.asarray(a, np.float32).astype(np.float64)


def cell_params(cell):
    return [cell.collect_params()[k].data().asnumpy().astype(np.float64)
            for k in ("i2h_weight", "h2h_weight", "i2h_bias", "h2h_bias")]


class CellStep(HybridBlock):
    """One cell step as a layer whose output also carries the new states (for grad checks)."""

    def __init__(self, cell):
        super().__init__()
        self.cell = cell

    def forward(self, x, *states):
        out, new = self.cell(x, list(states))
        return nd.concat(out, *new, dim=1)


class LayerWithStates(HybridBlock):
    def __init__(self, layer):
        super().__init__()
        self.layer = layer

    def forward(self, x, *states):
        out, new = self.layer(x, list(states))
        return nd.concat(nd.reshape(out, shape=(-1,)), *[nd.reshape(s, shape=(-1,)) for s in new],
                         dim=0)


# ---- cells --------------------------------------------------------------------------------
@pytest.mark.parametrize("make,mode,nstates", CELLS)
def test_cell_step_forward_and_grads(make, mode, nstates):
    cell = make()
    cell.initialize(mx.init.Uniform(0.5))
    x = rand(2, 3)
    states = [rand(2, 4) for _ in range(nstates)]
    out, new = cell(nd.array(x), [nd.array(s) for s in states])
    assert len(new) == nstates and cell.i2h_weight.shape[1] == 3
    ref_out, ref_new = cell_ref(mode, f32(x), [f32(s) for s in states], *cell_params(cell))
    assert_almost_equal(out, ref_out.astype(np.float32), rtol=1e-5, atol=1e-6)
    for a, b in zip(new, ref_new):
        assert_almost_equal(a, b.astype(np.float32), rtol=1e-5, atol=1e-6)
    step = CellStep(cell)
    params = check_layer_grads(step, [x] + states)
    assert sorted(params) == ["cell.h2h_bias", "cell.h2h_weight", "cell.i2h_bias",
                              "cell.i2h_weight"]


@pytest.mark.parametrize("make,mode,nstates", CELLS)
@pytest.mark.parametrize("layout", ["NTC", "TNC"])
def test_cell_unroll_matches_steps(make, mode, nstates, layout):
    cell = make()
    cell.initialize(mx.init.Uniform(0.5))
    x_tnc = rand(4, 2, 3)
    x = x_tnc if layout == "TNC" else x_tnc.transpose(1, 0, 2)
    outs, states = cell.unroll(4, nd.array(x), layout=layout, merge_outputs=True)
    assert cell.begin_state(2)[0].shape == (2, 4)
    p = cell_params(cell)
    st, ref = [np.zeros((2, 4))] * nstates, []
    for t in range(4):
        o, st = cell_ref(mode, f32(x_tnc[t]), st, *p)
        ref.append(o)
    ref = np.stack(ref) if layout == "TNC" else np.stack(ref, axis=1)
    assert_almost_equal(outs, ref.astype(np.float32), rtol=1e-5, atol=1e-6)
    for a, b in zip(states, st):
        assert_almost_equal(a, b.astype(np.float32), rtol=1e-5, atol=1e-6)
    listed, _ = cell.unroll(4, nd.array(x), layout=layout)        # merge_outputs=None: list
    assert isinstance(listed, list) and len(listed) == 4
    assert_almost_equal(listed[1], (ref[1] if layout == "TNC" else ref[:, 1]).astype(np.float32),
                        rtol=1e-5, atol=1e-6)


def test_cell_unroll_list_inputs_and_begin_state():
    cell = rnn.GRUCell(3, input_size=2)
    cell.initialize()
    steps = [nd.array(rand(4, 2)) for _ in range(3)]
    h0 = [nd.array(rand(4, 3))]
    outs, states = cell.unroll(3, steps, begin_state=h0, merge_outputs=True)
    assert outs.shape == (4, 3, 3)
    o, s = steps[0], h0
    for t in range(3):
        o, s = cell(steps[t], s)
    assert_almost_equal(states[0], s[0].asnumpy())


def test_cell_unroll_valid_length():
    cell = rnn.LSTMCell(3)
    cell.initialize(mx.init.Uniform(0.5))
    x = rand(3, 5, 2)                                       # NTC
    vl = np.array([5, 2, 3])
    outs, states = cell.unroll(5, nd.array(x), merge_outputs=True, valid_length=nd.array(vl))
    for n in range(3):
        o, s = cell.unroll(vl[n], nd.array(x[n:n + 1, :vl[n]]), merge_outputs=True)
        assert_almost_equal(outs[n:n + 1, :vl[n]], o.asnumpy(), rtol=1e-5, atol=1e-6)
        assert (outs.asnumpy()[n, vl[n]:] == 0).all()
        for a, b in zip(states, s):
            assert_almost_equal(a[n:n + 1], b.asnumpy(), rtol=1e-5, atol=1e-6)


def test_cell_state_info_names_and_reprs():
    lstm = rnn.LSTMCell(5, input_size=3)
    assert lstm.state_info(2) == [{"shape": (2, 5), "__layout__": "NC"}] * 2
    assert [s.shape for s in lstm.begin_state(batch_size=2)] == [(2, 5), (2, 5)]
    assert list(lstm.collect_params().keys()) == ["i2h_weight", "h2h_weight", "i2h_bias",
                                                  "h2h_bias"]
    assert repr(rnn.RNNCell(5)) == "RNNCell(None -> 5, tanh)"
    assert repr(rnn.RNNCell(5, "relu", input_size=3)) == "RNNCell(3 -> 5, relu)"
    assert repr(lstm) == "LSTMCell(3 -> 20)"
    assert repr(rnn.GRUCell(5)) == "GRUCell(None -> 15)"


def test_cell_errors():
    cell = rnn.LSTMCell(4, input_size=3)
    cell.initialize()
    with pytest.raises(ShapeError, match=r"LSTMCell\(3 -> 16\): input of shape \(2, 5\) has 5 "
                                         r"features but the cell expects 3.*input_size=5"):
        cell(nd.ones((2, 5)), cell.begin_state(2))
    with pytest.raises(ShapeError, match=r"expected 2 state\(s\) of shape \(2, 4\).*got "
                                         r"\[\(2, 4\)\].*begin_state"):
        cell(nd.ones((2, 3)), [nd.zeros((2, 4))])
    with pytest.raises(ShapeError, match=r"LSTMCell.unroll: length=3 but the input has 4 steps"):
        cell.unroll(3, nd.ones((2, 4, 3)))
    with pytest.raises(HybridnetValueError, match="layout must be 'NTC' or 'TNC'"):
        cell.unroll(4, nd.ones((2, 4, 3)), layout="CTN")


# ---- container cells --------------------------------------------------------------------
def test_sequential_and_residual_cells():
    seq = rnn.SequentialRNNCell()
    seq.add(rnn.LSTMCell(3, input_size=2))
    seq.add(rnn.ResidualCell(rnn.GRUCell(3, input_size=3)))
    seq.initialize(mx.init.Uniform(0.5))
    assert list(seq.collect_params().keys())[:1] == ["0.i2h_weight"]
    assert "1.base_cell.h2h_bias" in seq.collect_params()
    x = rand(2, 4, 2)
    outs, states = seq.unroll(4, nd.array(x), merge_outputs=True)
    assert outs.shape == (2, 4, 3) and len(states) == 3
    a, sa = seq[0].unroll(4, nd.array(x), merge_outputs=True)
    seq[1].base_cell._modified = False
    b, sb = seq[1].base_cell.unroll(4, a, merge_outputs=True)
    assert_almost_equal(outs, (a + b).asnumpy(), rtol=1e-5, atol=1e-6)
    # Stepping the stack gives the same as unrolling it.
    st = seq.begin_state(batch_size=2)
    for t in range(4):
        o, st = seq(nd.array(x[:, t]), st)
    assert_almost_equal(o, outs.asnumpy()[:, -1], rtol=1e-5, atol=1e-6)


def test_bidirectional_cell_matches_two_directions():
    l_cell, r_cell = rnn.GRUCell(2, input_size=3), rnn.GRUCell(2, input_size=3)
    bi = rnn.BidirectionalCell(l_cell, r_cell)
    bi.initialize(mx.init.Uniform(0.5))
    assert sorted(bi.collect_params().keys())[0] == "l_cell.h2h_bias"
    x = rand(2, 5, 3)
    outs, states = bi.unroll(5, nd.array(x), merge_outputs=True)
    fwd, _ = l_cell.unroll(5, nd.array(x), merge_outputs=True)
    bwd, _ = r_cell.unroll(5, nd.array(x[:, ::-1].copy()), merge_outputs=True)
    ref = np.concatenate([fwd.asnumpy(), bwd.asnumpy()[:, ::-1]], axis=2)
    assert_almost_equal(outs, ref, rtol=1e-5, atol=1e-6)
    assert len(states) == 2
    with pytest.raises(HybridnetValueError, match="cannot be stepped; use unroll"):
        bi(nd.ones((2, 3)), bi.begin_state(batch_size=2))


def test_dropout_and_zoneout_cells_are_identity_in_prediction():
    x = nd.array(rand(2, 3, 4))
    outs, _ = rnn.DropoutCell(0.5).unroll(3, x, merge_outputs=True)
    assert_almost_equal(outs, x.asnumpy())
    base = rnn.RNNCell(3, input_size=4)
    base.initialize()
    ref, _ = base.unroll(3, x, merge_outputs=True)
    zone = rnn.ZoneoutCell(base, zoneout_outputs=0.5, zoneout_states=0.5)
    got, _ = zone.unroll(3, x, merge_outputs=True)
    assert_almost_equal(got, ref.asnumpy())
    with pytest.raises(HybridnetValueError, match="already wrapped by a modifier cell"):
        rnn.ResidualCell(base)


# ---- layers -------------------------------------------------------------------------------
def _layer_check(make, mode, layout, num_layers, bidirectional, states=True):
    layer = make(num_layers=num_layers, bidirectional=bidirectional, layout=layout)
    layer.initialize(mx.init.Uniform(0.5))
    x_tnc = rand(4, 2, 3)
    x = x_tnc if layout == "TNC" else x_tnc.transpose(1, 0, 2)
    begin = [rand(*s.shape) for s in layer.begin_state(2)] if states else \
        [np.zeros(s.shape) for s in layer.begin_state(2)]
    res = layer(nd.array(x), [nd.array(s) for s in begin]) if states else layer(nd.array(x))
    params = {k: p.data().asnumpy().astype(np.float64)
              for k, p in layer.collect_params().items()}
    ref_out, ref_states = layer_ref(mode, f32(x_tnc), params, [f32(s) for s in begin],
                                    num_layers, bidirectional)
    if layout == "NTC":
        ref_out = ref_out.transpose(1, 0, 2)
    out = res[0] if states else res
    assert_almost_equal(out, ref_out.astype(np.float32), rtol=1e-5, atol=1e-6)
    if states:
        for a, b in zip(res[1], ref_states):
            assert_almost_equal(a, b.astype(np.float32), rtol=1e-5, atol=1e-6)
    return layer


@pytest.mark.parametrize("make,mode", LAYERS)
@pytest.mark.parametrize("layout", ["TNC", "NTC"])
def test_layer_single_matches_reference(make, mode, layout):
    layer = _layer_check(make, mode, layout, 1, False, states=False)
    assert isinstance(layer(nd.ones((4, 4, 3) if layout == "TNC" else (4, 4, 3))), nd.NDArray)


@pytest.mark.parametrize("make,mode", LAYERS)
def test_layer_multilayer_bidirectional_matches_reference(make, mode):
    layer = _layer_check(make, mode, "NTC", 2, True)
    out, states = layer(nd.ones((2, 4, 3)), layer.begin_state(2))
    assert out.shape == (2, 4, 6)
    assert [s.shape for s in states] == [(4, 2, 3)] * (2 if mode == "lstm" else 1)


@pytest.mark.parametrize("cls", [rnn.RNN, rnn.LSTM, rnn.GRU])
def test_layer_grads_multilayer_bidirectional(cls):
    # RNN with tanh: relu units that are exactly 0 (zero biases, dead inputs) sit on the kink.
    kw = {"activation": "tanh"} if cls is rnn.RNN else {}
    layer = cls(2, num_layers=2, bidirectional=True, input_size=2, **kw)
    layer.initialize(mx.init.Uniform(0.5))
    x = rand(3, 2, 2)
    states = [rand(*s.shape) * 0.5 for s in layer.begin_state(2)]
    params = check_layer_grads(LayerWithStates(layer), [x] + states, rtol=1e-5, atol=1e-7)
    assert len(params) == 16


def test_layer_names_deferred_init_and_reprs():
    lstm = rnn.LSTM(5, num_layers=2, bidirectional=True)
    assert list(lstm.collect_params().keys())[:5] == [
        "l0_i2h_weight", "l0_h2h_weight", "l0_i2h_bias", "l0_h2h_bias", "r0_i2h_weight"]
    assert lstm.l1_i2h_weight.shape == (20, 10)
    lstm.initialize()
    assert lstm.l0_i2h_weight.shape == (20, 0)
    lstm(nd.ones((3, 2, 7)))
    assert lstm.l0_i2h_weight.shape == (20, 7) and lstm.r0_i2h_weight.shape == (20, 7)

    class Net(HybridBlock):
        def __init__(self):
            super().__init__()
            self.rnn = rnn.GRU(4)
            self.out = nn.Dense(2, flatten=False)

        def forward(self, x):
            return self.out(self.rnn(x))
    net = Net()
    assert list(net.collect_params().keys())[0] == "rnn.l0_i2h_weight"
    assert repr(rnn.RNN(5)) == "RNN(None -> 5, TNC)"
    assert repr(rnn.RNN(5, 2, "tanh", input_size=3, bidirectional=True, dropout=0.5)) == \
        "RNN(3 -> 5, TNC, num_layers=2, dropout=0.5, bidirectional)"
    assert repr(rnn.LSTM(5, layout="NTC")) == "LSTM(None -> 5, NTC)"
    assert repr(rnn.GRU(5, 2)) == "GRU(None -> 5, TNC, num_layers=2)"


def test_layer_dropout_only_in_training():
    layer = rnn.LSTM(4, num_layers=2, dropout=0.5, input_size=3)
    layer.initialize(mx.init.Uniform(0.5))
    ref = rnn.LSTM(4, num_layers=2, input_size=3)
    ref.initialize()
    for k, p in layer.collect_params().items():
        ref.collect_params()[k].set_data(p.data())
    x = nd.array(rand(5, 2, 3))
    assert_almost_equal(layer(x), ref(x).asnumpy())
    mx.random.seed(0)
    with autograd.record():
        trained = layer(x)
    assert np.abs(trained.asnumpy() - ref(x).asnumpy()).max() > 1e-3


def test_layer_errors():
    lstm = rnn.LSTM(4, input_size=3)
    lstm.initialize()
    with pytest.raises(ShapeError, match=r"LSTM\(3 -> 4, TNC\): input of shape \(5, 2, 6\) has 6 "
                                         r"features but the layer expects 3.*input_size=6"):
        lstm(nd.ones((5, 2, 6)))
    with pytest.raises(ShapeError, match=r"invalid recurrent state shape: expected 2 state\(s\) "
                                         r"of shape \(1, 2, 4\).*begin_state\(2\)"):
        lstm(nd.ones((5, 2, 3)), [nd.zeros((1, 3, 4)), nd.zeros((1, 3, 4))])
    with pytest.raises(ShapeError, match="expects a 3-D input in layout TNC"):
        lstm(nd.ones((5, 3)))
    with pytest.raises(HybridnetValueError, match="RNN: activation must be 'relu' or 'tanh', "
                                                  "got 'sigmoid'"):
        rnn.RNN(3, activation="sigmoid")
    with pytest.raises(HybridnetValueError, match="GRU: layout must be 'TNC' or 'NTC'"):
        rnn.GRU(3, layout="NCT")
