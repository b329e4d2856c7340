"""gluon.rnn layers and cells, eager vs hybridized (tests/_hybrid_check.py): outputs,
input/state/parameter gradients, parameters after 3 Trainer steps, train and predict mode.

Cells are stepped by hand (and unrolled) inside a HybridBlock, the way a Gluon model
uses them; the whole loop becomes one graph."""
import numpy as np
import pytest

from hybridnet import gluon, nd
from hybridnet.gluon import rnn

from _hybrid_check import check_hybrid

# T=2 keeps one recurrent step (gradients flow back through h) and compiles far fewer
# distinct kernels than T=3 (each step of an unrolled backward is its own fused kernel).
N, T, C, H = 2, 2, 2, 3


def _x(*shape, seed=0):
    return np.random.default_rng(seed).standard_normal(shape).astype(np.float32)


# ---- layers ------------------------------------------------------------------------------
LAYERS = [
    ("rnn_relu_tnc", lambda: rnn.RNN(H, num_layers=2), "TNC"),
    ("rnn_tanh_ntc_bidir", lambda: rnn.RNN(H, activation="tanh", layout="NTC",
                                           bidirectional=True), "NTC"),
    # Dropout between layers: random, so the seeded masks must agree.
    ("lstm_tnc_2layers_bidir_dropout", lambda: rnn.LSTM(H, num_layers=2, bidirectional=True,
                                                        dropout=0.5), "TNC"),
    ("lstm_ntc", lambda: rnn.LSTM(H, layout="NTC"), "NTC"),
    ("gru_tnc_2layers", lambda: rnn.GRU(H, num_layers=2), "TNC"),
    ("gru_ntc_2layers_bidir", lambda: rnn.GRU(H, num_layers=2, layout="NTC",
                                              bidirectional=True), "NTC"),
]


# Begin states as inputs: one layer of each kind (each new graph costs Numba compiles).
STATEFUL = [c for c in LAYERS if c[0] in ("rnn_tanh_ntc_bidir",
                                          "lstm_tnc_2layers_bidir_dropout", "gru_tnc_2layers")]


def _seq_input(layout):
    return _x(T, N, C) if layout == "TNC" else _x(N, T, C)


@pytest.mark.parametrize("make,layout", [c[1:] for c in LAYERS], ids=[c[0] for c in LAYERS])
def test_layer_without_states(make, layout):
    check_hybrid(make(), [_seq_input(layout)])


# ---- cells -------------------------------------------------------------------------------
class Stepper(gluon.HybridBlock):
    """Steps a cell over the T axis of an NTC input by hand."""

    def __init__(self, cell, begin_state_input=False):
        super().__init__()
        self.cell = cell
        self._begin_input = begin_state_input

    def forward(self, x, *begin):
        self.cell.reset()
        states = list(begin) if self._begin_input else self.cell.begin_state(batch_size=N)
        outs = []
        for t in range(x.shape[1]):
            out, states = self.cell(x[:, t, :], states)
            outs.append(out)
        return (nd.stack(*outs, axis=1),) + tuple(states)


def _zoneout():
    return rnn.ZoneoutCell(rnn.RNNCell(H), zoneout_outputs=0.3, zoneout_states=0.4)


def _stack(hybrid):
    cell = rnn.HybridSequentialRNNCell() if hybrid else rnn.SequentialRNNCell()
    cell.add(rnn.LSTMCell(H))
    cell.add(rnn.DropoutCell(0.5))
    cell.add(rnn.GRUCell(H))
    return cell


CELLS = [
    ("rnn_cell_tanh", lambda: rnn.RNNCell(H)),
    ("lstm_cell", lambda: rnn.LSTMCell(H)),
    ("gru_cell", lambda: rnn.GRUCell(H)),
    ("hybrid_sequential_cell", lambda: _stack(True)),
    ("sequential_cell", lambda: _stack(False)),
    ("residual_cell", lambda: rnn.ResidualCell(rnn.GRUCell(C))),
    ("zoneout_cell", _zoneout),
]


@pytest.mark.parametrize("make", [c[1] for c in CELLS], ids=[c[0] for c in CELLS])
def test_cell_stepped_inside_a_block(make):
    check_hybrid(Stepper(make()), [_x(N, T, C)])


def test_lstm_cell_with_begin_states_as_inputs():
    check_hybrid(Stepper(rnn.LSTMCell(H), begin_state_input=True),
                 [_x(N, T, C), _x(N, H, seed=1), _x(N, H, seed=2)])


class Unroller(gluon.HybridBlock):
    """``cell.unroll`` over the whole sequence, merged or as a list, optional valid_length."""

    def __init__(self, cell, layout="NTC", merge=True):
        super().__init__()
        self.cell = cell
        self._layout, self._merge = layout, merge

    def forward(self, x, valid_length=None):
        outs, states = self.cell.unroll(T, x, layout=self._layout, merge_outputs=self._merge,
                                        valid_length=valid_length)
        outs = (outs,) if isinstance(outs, nd.NDArray) else tuple(outs)
        return outs + tuple(states)


UNROLLS = [
    ("lstm_ntc_merged", lambda: Unroller(rnn.LSTMCell(H)), _x(N, T, C)),
    ("gru_tnc_list", lambda: Unroller(rnn.GRUCell(H), "TNC", merge=False), _x(T, N, C)),
    ("bidirectional", lambda: Unroller(rnn.BidirectionalCell(rnn.LSTMCell(H), rnn.GRUCell(H))),
     _x(N, T, C)),
    ("stack_with_dropout", lambda: Unroller(_stack(True), "TNC"), _x(T, N, C)),
    ("dropout_cell_merged", lambda: Unroller(rnn.DropoutCell(0.5)), _x(N, T, C)),
    ("residual", lambda: Unroller(rnn.ResidualCell(rnn.RNNCell(C))), _x(N, T, C)),
]


@pytest.mark.parametrize("make,x", [c[1:] for c in UNROLLS], ids=[c[0] for c in UNROLLS])
def test_cell_unrolled_inside_a_block(make, x):
    check_hybrid(make(), [x])


def test_unroll_with_valid_length():
    valid = np.array([2, 1], np.float32)
    check_hybrid(Unroller(rnn.LSTMCell(H)), [_x(N, T, C), valid], no_grad=(1,))
    # ResidualCell masks its own skip connection (LSTM again: its kernels are shared).
    check_hybrid(Unroller(rnn.ResidualCell(rnn.LSTMCell(C))), [_x(N, T, C), valid],
                 no_grad=(1,))


def test_every_rnn_layer_and_cell_is_covered():
    made = set()
    for b in ([c[1]() for c in LAYERS] + [c[1]() for c in CELLS] +
              [c[1]() for c in UNROLLS]):
        stack = [b]
        while stack:
            blk = stack.pop()
            made.add(type(blk).__name__)
            stack += list(blk._children.values())
    abstract = {"RecurrentCell", "HybridRecurrentCell", "ModifierCell"}
    public = {n for n in dir(rnn) if not n.startswith("_") and isinstance(getattr(rnn, n), type)}
    assert public - abstract - made == set()


# ---- the Gluon API on hybridized layers/cells: lists of states in, nested results out ----
@pytest.mark.parametrize("make,layout", [c[1:] for c in STATEFUL],
                         ids=[c[0] for c in STATEFUL])
def test_hybridized_layer_called_with_a_list_of_states(make, layout):
    """``out, states = layer(x, [h, c])`` on the hybridized layer itself."""
    layer = make()
    dirs = 2 if "bidir" in repr(layer) else 1
    n_states = 2 if isinstance(layer, rnn.LSTM) else 1
    states = [_x(layer._num_layers * dirs, N, H, seed=10 + k) for k in range(n_states)]
    check_hybrid(layer, [_seq_input(layout), states], batch_size=N)


@pytest.mark.parametrize("make", [c[1] for c in CELLS[:3]], ids=[c[0] for c in CELLS[:3]])
def test_hybridized_cell_called_with_a_list_of_states(make):
    """``out, states = cell(x_t, [h])`` on the hybridized cell itself."""
    cell = make()
    n_states = 2 if isinstance(cell, rnn.LSTMCell) else 1
    check_hybrid(cell, [_x(N, C), [_x(N, H, seed=k + 1) for k in range(n_states)]])


class _FirstTimesSecond(gluon.HybridBlock):
    def forward(self, x, states):
        first, second = states if len(states) == 2 else states[0]
        return x + first * (1 if second is None else second)


@pytest.mark.parametrize("pack", [lambda a, b: [a, b], lambda a, b: ([a, b],),
                                  lambda a, b: [a, None]], ids=["flat", "nested", "mixed"])
def test_list_argument_is_read_every_call_not_baked_in(pack):
    """Arrays inside list arguments (also nested, or next to None) are graph inputs: a
    new list with other values, even with the same printed form, gives the new answer."""
    net = _FirstTimesSecond()
    net.hybridize()
    x = nd.zeros((2000,))
    a = np.arange(2000, dtype=np.float32)
    net(x, pack(nd.array(a), nd.ones((2000,))))
    b = a.copy()
    b[1000] = -5                       # hidden by the "..." of the printed array
    out = net(x, pack(nd.array(b), nd.ones((2000,))))
    np.testing.assert_array_equal(out.asnumpy(), b)
    assert net._cached.trace_count == 1     # same shapes: no retrace


class Gluon1Cell(rnn.HybridRecurrentCell):
    """A user cell written the Gluon 1.x way: ``hybrid_forward(F, x, states, **params)``
    returning ``(output, [new_state])`` (a nested result)."""

    def __init__(self, hidden):
        super().__init__()
        self._hidden = hidden
        self.i2h_weight = gluon.Parameter("i2h_weight", shape=(hidden, C))
        self.h2h_weight = gluon.Parameter("h2h_weight", shape=(hidden, hidden))

    def state_info(self, batch_size=0):
        return [{"shape": (batch_size, self._hidden), "__layout__": "NC"}]

    def hybrid_forward(self, F, x, states, i2h_weight, h2h_weight):
        h = F.tanh(F.dot(x, i2h_weight, transpose_b=True) +
                   F.dot(states[0], h2h_weight, transpose_b=True))
        return h * 2, [h]


def test_gluon1_user_cell_with_nested_result_hybridized():
    check_hybrid(Gluon1Cell(H), [_x(N, C), [_x(N, H, seed=1)]])
    check_hybrid(Stepper(Gluon1Cell(H)), [_x(N, T, C)])
    cell = Gluon1Cell(H)
    cell.initialize()
    cell.hybridize()
    out, states = cell(nd.ones((N, C)), [nd.zeros((N, H))])
    assert isinstance(states, list) and len(states) == 1
    np.testing.assert_allclose(out.asnumpy(), 2 * states[0].asnumpy(), rtol=1e-6)
