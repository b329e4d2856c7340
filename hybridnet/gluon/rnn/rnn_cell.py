"""Recurrent cells: one time step per call, ``unroll`` for whole sequences.

    cell = rnn.LSTMCell(100)
    cell.initialize()
    out, states = cell(x_t, cell.begin_state(batch_size=32))
    outputs, states = cell.unroll(10, x, layout='NTC', merge_outputs=True)
"""
import math

from ... import ndarray as nd
from ...base import HybridnetValueError, ShapeError
from ...ndarray.ndarray import NDArray
from ..block import Block, HybridBlock
from ..nn._util import set_shape
from ..parameter import Parameter
from ._step import apply_activation, step

__all__ = ["RecurrentCell", "HybridRecurrentCell", "RNNCell", "LSTMCell", "GRUCell"]


def _check_layout(layout, owner):
    if layout not in ("NTC", "TNC"):
        raise HybridnetValueError(f"{owner}: layout must be 'NTC' or 'TNC', got {layout!r}")


def format_sequence(length, inputs, layout, merge, owner):
    """Return ``(inputs, time_axis, batch_size)``, inputs as a list (merge False) or an NDArray
    in ``layout`` (merge True); ``merge=None`` keeps what was given."""
    _check_layout(layout, owner)
    axis, batch_axis = layout.find("T"), layout.find("N")
    if isinstance(inputs, NDArray):
        if inputs.ndim != 3:
            raise ShapeError(f"{owner}.unroll: expects a 3-D input in layout {layout}, got "
                             f"shape {tuple(inputs.shape)}")
        if length is not None and length != inputs.shape[axis]:
            raise ShapeError(f"{owner}.unroll: length={length} but the input has "
                             f"{inputs.shape[axis]} steps on the T axis of layout {layout} "
                             f"(shape {tuple(inputs.shape)})")
        batch_size = inputs.shape[batch_axis]
        if merge is False:
            parts = nd.split(inputs, num_outputs=inputs.shape[axis], axis=axis,
                             squeeze_axis=True)
            inputs = list(parts) if isinstance(parts, (list, tuple)) else [parts]
        return inputs, axis, batch_size
    inputs = list(inputs)
    if length is not None and len(inputs) != length:
        raise ShapeError(f"{owner}.unroll: length={length} but {len(inputs)} inputs were given")
    batch_size = inputs[0].shape[0] if inputs else 0
    if merge is True:
        inputs = nd.stack(*inputs, axis=axis)
    return inputs, axis, batch_size


def _get_begin_state(cell, begin_state, inputs, batch_size):
    if begin_state is not None:
        return list(begin_state)
    first = inputs if isinstance(inputs, NDArray) else inputs[0]
    return cell.begin_state(batch_size=batch_size, ctx=first.context, dtype=first.dtype)


def _valid_mask(valid_length, t, like):
    """(N, 1) mask of sequences still running at step ``t`` (1) or finished (0)."""
    return nd.reshape(nd.cast(valid_length > t, dtype=like.dtype.__name__), shape=(-1, 1))


def mask_and_last(outputs, all_states, valid_length):
    """Zero outputs past each sequence's end; take the states at its last valid step."""
    outputs = [o * _valid_mask(valid_length, t, o) for t, o in enumerate(outputs)]
    states = []
    for k in range(len(all_states[0])):
        acc = None
        for t, st in enumerate(all_states):
            s = st[k]
            last = nd.reshape(nd.cast(valid_length == t + 1, dtype=s.dtype.__name__),
                              shape=(-1, 1))
            acc = s * last if acc is None else acc + s * last
        states.append(acc)
    return outputs, states


class RecurrentCell(Block):
    """Base class of recurrent cells: ``cell(inputs, states) -> (output, new_states)``."""

    def __init__(self, prefix=None, params=None):
        super().__init__(prefix=prefix, params=params)
        self._modified = False
        self.reset()

    def reset(self):
        """Reset the step counters before a new sequence (``unroll`` does this)."""
        self._init_counter = -1
        self._counter = -1
        for cell in self._children.values():
            if isinstance(cell, RecurrentCell):
                cell.reset()

    def state_info(self, batch_size=0):
        """List of ``{'shape': ..., '__layout__': ...}``, one per state."""
        raise NotImplementedError

    def begin_state(self, batch_size=0, func=nd.zeros, **kwargs):
        """Initial states made by ``func(shape=..., **kwargs)`` (zeros by default)."""
        if self._modified:
            raise HybridnetValueError(
                f"{type(self).__name__}: this cell is wrapped by a modifier cell (e.g. "
                "ResidualCell); call begin_state/unroll on the modifier instead")
        states = []
        for info in self.state_info(batch_size):
            self._init_counter += 1
            info = {k: v for k, v in (info or {}).items() if k != "__layout__"}
            info.update(kwargs)
            states.append(func(**info))
        return states

    def unroll(self, length, inputs, begin_state=None, layout="NTC", merge_outputs=None,
               valid_length=None):
        """Run the cell over ``length`` steps.

        Parameters
        ----------
        length : int
            Number of steps.
        inputs : NDArray or list of NDArray
            One array in ``layout`` ('NTC' or 'TNC'), or a list of ``length`` (N, C) arrays.
        begin_state : list of NDArray, optional
            Defaults to ``begin_state(batch_size)`` (zeros).
        merge_outputs : bool, optional
            True: outputs as one array in ``layout``; False: a list; None: a list.
        valid_length : NDArray of shape (N,), optional
            Each sequence's length: outputs past it are zero and the returned states are
            those at its last valid step.

        Returns
        -------
        outputs, states
        """
        self.reset()
        name = type(self).__name__
        inputs, axis, batch_size = format_sequence(length, inputs, layout, False, name)
        states = _get_begin_state(self, begin_state, inputs, batch_size)
        outputs, all_states = [], []
        for i in range(length):
            out, states = self(inputs[i], states)
            outputs.append(out)
            if valid_length is not None:
                all_states.append(states)
        if valid_length is not None:
            outputs, states = mask_and_last(outputs, all_states, valid_length)
        outputs, _, _ = format_sequence(length, outputs, layout, merge_outputs, name)
        return outputs, states

    def __call__(self, inputs, states):
        if isinstance(states, NDArray):
            states = [states]
        return super().__call__(inputs, states)


class HybridRecurrentCell(RecurrentCell, HybridBlock):
    """A recurrent cell that can be hybridized."""

    # True: ``forward(inputs, *states)`` returns ``(output, *new_states)``, so a hybridized
    # cell passes only flat arrays to the JIT; ``cell(x, states)`` still takes and returns
    # state lists. False (user subclasses): ``forward(inputs, states)`` as in Gluon.
    _flat_states = False

    def __init__(self, prefix=None, params=None):
        super().__init__(prefix=prefix, params=params)

    def __call__(self, inputs, states):
        if isinstance(states, NDArray):
            states = [states]
        if not self._flat_states:
            return HybridBlock.__call__(self, inputs, states)
        res = HybridBlock.__call__(self, inputs, *states)
        return res[0], list(res[1:])


class _GatedCell(HybridRecurrentCell):
    """A cell with ``i2h``/``h2h`` FullyConnected projections feeding ``_step.step``."""

    _mode = None
    _num_states = 1
    _flat_states = True

    def __init__(self, hidden_size, i2h_weight_initializer, h2h_weight_initializer,
                 i2h_bias_initializer, h2h_bias_initializer, input_size, prefix=None,
                 params=None):
        super().__init__(prefix=prefix, params=params)
        self._hidden_size = int(hidden_size)
        self._input_size = input_size
        gh = self._gates * self._hidden_size
        self.i2h_weight = Parameter("i2h_weight", shape=(gh, input_size),
                                    init=i2h_weight_initializer, allow_deferred_init=True)
        self.h2h_weight = Parameter("h2h_weight", shape=(gh, self._hidden_size),
                                    init=h2h_weight_initializer, allow_deferred_init=True)
        self.i2h_bias = Parameter("i2h_bias", shape=(gh,), init=i2h_bias_initializer,
                                  allow_deferred_init=True)
        self.h2h_bias = Parameter("h2h_bias", shape=(gh,), init=h2h_bias_initializer,
                                  allow_deferred_init=True)

    def state_info(self, batch_size=0):
        return [{"shape": (batch_size, self._hidden_size), "__layout__": "NC"}
                for _ in range(self._num_states)]

    def _feature_error(self, inputs):
        return ShapeError(
            f"{self!r}: input of shape {tuple(inputs.shape)} has "
            f"{math.prod(inputs.shape[1:])} features but the cell expects "
            f"{self.i2h_weight.shape[1]} (input_size). Create the cell with "
            f"input_size={math.prod(inputs.shape[1:])} (or 0 to infer it), or fix the input")

    def infer_shape(self, inputs, *args):
        if inputs.ndim < 2:
            raise ShapeError(f"{self!r}: expects input of shape (batch, features), got "
                             f"{tuple(inputs.shape)}")
        n = math.prod(inputs.shape[1:])
        if self.i2h_weight.shape[1] and self.i2h_weight.shape[1] != n:
            raise self._feature_error(inputs)
        set_shape(self, self.i2h_weight, (self._gates * self._hidden_size, n),
                  "Pass the right input_size")

    def _check_states(self, inputs, states):
        want = self.state_info(inputs.shape[0])
        if len(states) != len(want) or any(s.shape != w["shape"] for s, w in zip(states, want)):
            raise ShapeError(
                f"{self!r}: expected {len(want)} state(s) of shape "
                f"{want[0]['shape']} for a batch of {inputs.shape[0]}, got "
                f"{[tuple(s.shape) for s in states]}. Use cell.begin_state(batch_size)")

    def forward(self, inputs, *states):
        """One step: ``forward(x, *states) -> (output, *new_states)`` (see ``_flat_states``)."""
        states = list(states[0]) if len(states) == 1 and isinstance(states[0], (list, tuple)) \
            else list(states)
        self._counter += 1
        w = self.i2h_weight.data()
        if inputs.ndim < 2 or math.prod(inputs.shape[1:]) != w.shape[1]:
            raise self._feature_error(inputs)
        self._check_states(inputs, states)
        gh = self._gates * self._hidden_size
        i2h = nd.FullyConnected(inputs, w, self.i2h_bias.data(), num_hidden=gh)
        h2h = nd.FullyConnected(states[0], self.h2h_weight.data(), self.h2h_bias.data(),
                                num_hidden=gh)
        out, new = self._step(i2h, h2h, states)
        return (out, *new)

    def _step(self, i2h, h2h, states):
        return step(self._mode, i2h, h2h, states)

    def _mapping(self):
        shape = self.i2h_weight.shape
        return f"{shape[1] if shape[1] else None} -> {shape[0]}"


class RNNCell(_GatedCell):
    """Elman RNN cell: ``h' = activation(W_ih x + b_ih + W_hh h + b_hh)``.

    Parameters
    ----------
    hidden_size : int
    activation : str, LeakyReLU block or callable, default 'tanh'
    i2h_weight_initializer, h2h_weight_initializer : Initializer, optional
    i2h_bias_initializer, h2h_bias_initializer : Initializer or str, default 'zeros'
    input_size : int, default 0
        0 infers it from the first input.

    Call: ``cell(x, [h])`` with x (N, input_size), h (N, hidden_size) -> ``(h', [h'])``.
    """
    _gates = 1

    def __init__(self, hidden_size, activation="tanh", i2h_weight_initializer=None,
                 h2h_weight_initializer=None, i2h_bias_initializer="zeros",
                 h2h_bias_initializer="zeros", input_size=0, prefix=None, params=None):
        super().__init__(hidden_size, i2h_weight_initializer, h2h_weight_initializer,
                         i2h_bias_initializer, h2h_bias_initializer, input_size, prefix,
                         params)
        self._activation = activation

    def _step(self, i2h, h2h, states):
        h = apply_activation(i2h + h2h, self._activation)
        return h, [h]

    def __repr__(self):
        act = self._activation if isinstance(self._activation, str) else repr(self._activation)
        return f"RNNCell({self._mapping()}, {act})"


class LSTMCell(_GatedCell):
    """Long short-term memory cell (Hochreiter & Schmidhuber, 1997), MXNet gate order
    (i, f, c, o)::

        i, f, g, o = split(W_ih x + b_ih + W_hh h + b_hh, 4)
        c' = sigmoid(f) * c + sigmoid(i) * tanh(g)
        h' = sigmoid(o) * tanh(c')

    Parameters as ``RNNCell`` (weights have ``4 * hidden_size`` rows), plus
    ``activation`` ('tanh') and ``recurrent_activation`` ('sigmoid').
    Call: ``cell(x, [h, c]) -> (h', [h', c'])``.
    """
    _gates = 4
    _num_states = 2

    def __init__(self, hidden_size, i2h_weight_initializer=None, h2h_weight_initializer=None,
                 i2h_bias_initializer="zeros", h2h_bias_initializer="zeros", input_size=0,
                 prefix=None, params=None, activation="tanh", recurrent_activation="sigmoid"):
        super().__init__(hidden_size, i2h_weight_initializer, h2h_weight_initializer,
                         i2h_bias_initializer, h2h_bias_initializer, input_size, prefix,
                         params)
        self._activation = activation
        self._recurrent_activation = recurrent_activation

    def _step(self, i2h, h2h, states):
        return step("lstm", i2h, h2h, states, self._activation, self._recurrent_activation)

    def __repr__(self):
        return f"LSTMCell({self._mapping()})"


class GRUCell(_GatedCell):
    """Gated recurrent unit cell (Cho et al., 2014), MXNet gate order (r, z, n)::

        r = sigmoid(W_ir x + b_ir + W_hr h + b_hr)
        z = sigmoid(W_iz x + b_iz + W_hz h + b_hz)
        n = tanh(W_in x + b_in + r * (W_hn h + b_hn))
        h' = (1 - z) * n + z * h

    Parameters as ``RNNCell`` (weights have ``3 * hidden_size`` rows).
    Call: ``cell(x, [h]) -> (h', [h'])``.
    """
    _gates = 3
    _mode = "gru"

    def __init__(self, hidden_size, i2h_weight_initializer=None, h2h_weight_initializer=None,
                 i2h_bias_initializer="zeros", h2h_bias_initializer="zeros", input_size=0,
                 prefix=None, params=None):
        super().__init__(hidden_size, i2h_weight_initializer, h2h_weight_initializer,
                         i2h_bias_initializer, h2h_bias_initializer, input_size, prefix,
                         params)

    def __repr__(self):
        return f"GRUCell({self._mapping()})"
