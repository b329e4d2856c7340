"""Multi-layer, optionally bidirectional RNN/LSTM/GRU layers over whole sequences.

Same parameters (names ``l0_i2h_weight``, ``r0_h2h_bias`` ..., gate orders) and results
as MXNet's fused ``RNN`` op, computed as a Python loop over time steps of registered
ops: the input projection of all steps is one FullyConnected, each step adds the
hidden projection and applies the gates.
"""
from ... import ndarray as nd
from ...base import HybridnetValueError, ShapeError
from ...ndarray.ndarray import NDArray
from ..block import HybridBlock
from ..nn._util import set_shape
from ..parameter import Parameter
from ._step import GATES, step

__all__ = ["RNN", "LSTM", "GRU"]


def _unstack(x, n, axis=0):
    """Split ``x`` into ``n`` arrays along ``axis``, dropping that axis."""
    parts = nd.split(x, num_outputs=n, axis=axis, squeeze_axis=True)
    return list(parts) if isinstance(parts, (list, tuple)) else [parts]


class _RNNLayer(HybridBlock):
    def __init__(self, hidden_size, num_layers, layout, dropout, bidirectional, input_size,
                 i2h_weight_initializer, h2h_weight_initializer, i2h_bias_initializer,
                 h2h_bias_initializer, mode, dtype, **kwargs):
        super().__init__(**kwargs)
        name = type(self).__name__
        if layout not in ("TNC", "NTC"):
            raise HybridnetValueError(f"{name}: layout must be 'TNC' or 'NTC', got {layout!r}")
        if mode not in GATES:
            raise HybridnetValueError(
                f"{name}: unknown activation for RNN; use activation='relu' or 'tanh'")
        if num_layers < 1:
            raise HybridnetValueError(f"{name}: num_layers must be >= 1, got {num_layers}")
        if not 0 <= dropout < 1:
            raise HybridnetValueError(f"{name}: dropout must be in [0, 1), got {dropout}")
        self._hidden_size, self._num_layers = int(hidden_size), int(num_layers)
        self._mode, self._layout, self._dropout = mode, layout, dropout
        self._dir = 2 if bidirectional else 1
        self._input_size, self._dtype = input_size, dtype
        self._gates = GATES[mode]
        ng, ni, nh = self._gates, input_size, self._hidden_size
        for i in range(self._num_layers):
            for j in "lr"[:self._dir]:
                for pname, shape, init in (("i2h_weight", (ng * nh, ni), i2h_weight_initializer),
                                           ("h2h_weight", (ng * nh, nh), h2h_weight_initializer),
                                           ("i2h_bias", (ng * nh,), i2h_bias_initializer),
                                           ("h2h_bias", (ng * nh,), h2h_bias_initializer)):
                    full = f"{j}{i}_{pname}"
                    setattr(self, full, Parameter(full, shape=shape, init=init, dtype=dtype,
                                                  allow_deferred_init=True))
            ni = nh * self._dir

    def __repr__(self):
        s = f"{type(self).__name__}("
        shape = self.l0_i2h_weight.shape
        s += f"{shape[1] if shape[1] else None} -> {shape[0] // self._gates}, {self._layout}"
        if self._num_layers != 1:
            s += f", num_layers={self._num_layers}"
        if self._dropout != 0:
            s += f", dropout={self._dropout}"
        if self._dir == 2:
            s += ", bidirectional"
        return s + ")"

    def cast(self, dtype):
        super().cast(dtype)
        self._dtype = dtype

    def state_info(self, batch_size=0):
        info = {"shape": (self._num_layers * self._dir, batch_size, self._hidden_size),
                "__layout__": "LNC", "dtype": self._dtype}
        return [dict(info) for _ in range(2 if self._mode == "lstm" else 1)]

    def begin_state(self, batch_size=0, func=nd.zeros, **kwargs):
        """Initial states (zeros by default): a list of (num_layers*dirs, N, hidden) arrays."""
        states = []
        for info in self.state_info(batch_size):
            info = {k: v for k, v in info.items() if k != "__layout__"}
            info.update(kwargs)
            states.append(func(**info))
        return states

    def _feature_error(self, inputs):
        n = inputs.shape[2]
        return ShapeError(
            f"{self!r}: input of shape {tuple(inputs.shape)} has {n} features but the layer "
            f"expects {self.l0_i2h_weight.shape[1]} (input_size). Create the layer with "
            f"input_size={n} (or 0 to infer it), or fix the input")

    def infer_shape(self, inputs, *args):
        self._check_input(inputs)
        ni = inputs.shape[2]
        if self.l0_i2h_weight.shape[1] and self.l0_i2h_weight.shape[1] != ni:
            raise self._feature_error(inputs)
        for j in "lr"[:self._dir]:
            set_shape(self, getattr(self, f"{j}0_i2h_weight"),
                      (self._gates * self._hidden_size, ni), "Pass the right input_size")

    def _check_input(self, inputs):
        if not isinstance(inputs, NDArray) or inputs.ndim != 3:
            raise ShapeError(f"{self!r}: expects a 3-D input in layout {self._layout}, got "
                             f"{getattr(inputs, 'shape', type(inputs).__name__)}")

    def __call__(self, inputs, states=None, **kwargs):
        """``layer(x)`` -> output; ``layer(x, states)`` -> ``(output, new_states)``.

        ``x`` is (T, N, C) for layout 'TNC' or (N, T, C) for 'NTC'; the output has
        ``hidden_size * (2 if bidirectional else 1)`` features; ``states`` is a list of
        (num_layers * directions, N, hidden_size) arrays (``[h]``, or ``[h, c]`` for LSTM).
        """
        if states is None:
            return HybridBlock.__call__(self, inputs, **kwargs)
        states = [states] if isinstance(states, NDArray) else list(states)
        # Flat arrays in and out, so a hybridized layer hands the JIT no nested lists.
        res = HybridBlock.__call__(self, inputs, *states, **kwargs)
        return res[0], list(res[1:])

    def forward(self, inputs, *states):
        """``forward(x)`` -> output; ``forward(x, *states)`` -> ``(output, *new_states)``
        (``forward(x, [states])`` -> ``(output, [new_states])`` also works)."""
        nested = len(states) == 1 and isinstance(states[0], (list, tuple))
        states = list(states[0]) if nested else list(states)
        self._check_input(inputs)
        skip_states = not states
        batch = inputs.shape[self._layout.find("N")]
        if skip_states:
            states = self.begin_state(batch, ctx=inputs.context, dtype=inputs.dtype)
        want = self.state_info(batch)
        if len(states) != len(want) or any(s.shape != w["shape"] for s, w in zip(states, want)):
            raise ShapeError(
                f"{self!r}: invalid recurrent state shape: expected {len(want)} state(s) of "
                f"shape {want[0]['shape']}, got {[tuple(s.shape) for s in states]}. Use "
                f"layer.begin_state({batch})")
        if inputs.shape[2] != self.l0_i2h_weight.shape[1]:
            raise self._feature_error(inputs)
        x = nd.swapaxes(inputs, 0, 1) if self._layout == "NTC" else inputs
        out, new_states = self._run(x, states)
        if self._layout == "NTC":
            out = nd.swapaxes(out, 0, 1)
        if skip_states:
            return out
        return (out, new_states) if nested else (out, *new_states)

    def _run(self, x, states):
        """x: (T, N, C); states: list of (L*D, N, H). Returns the top output and final states."""
        T, nd_ = x.shape[0], self._num_layers * self._dir
        per_state = [_unstack(s, nd_) for s in states]     # [k][layer*D + d] -> (N, H)
        finals = [[None] * nd_ for _ in states]
        gh = self._gates * self._hidden_size
        for i in range(self._num_layers):
            outs = []
            for d in range(self._dir):
                j = "lr"[d]
                w_i, b_i = getattr(self, f"{j}{i}_i2h_weight"), getattr(self, f"{j}{i}_i2h_bias")
                w_h, b_h = getattr(self, f"{j}{i}_h2h_weight"), getattr(self, f"{j}{i}_h2h_bias")
                # Input projection of all steps at once: (T, N, G*H).
                i2h = _unstack(nd.FullyConnected(x, w_i.data(), b_i.data(), num_hidden=gh,
                                                 flatten=False), T)
                wh, bh = w_h.data(), b_h.data()
                st = [ps[i * self._dir + d] for ps in per_state]
                steps = [None] * T
                for t in (range(T) if d == 0 else range(T - 1, -1, -1)):
                    h2h = nd.FullyConnected(st[0], wh, bh, num_hidden=gh)
                    steps[t], st = step(self._mode, i2h[t], h2h, st)
                for k, s in enumerate(st):
                    finals[k][i * self._dir + d] = s
                outs.append(nd.stack(*steps, axis=0))
            x = outs[0] if self._dir == 1 else nd.concat(*outs, dim=2)
            if self._dropout > 0 and i < self._num_layers - 1:
                x = nd.Dropout(x, p=self._dropout)
        return x, [nd.stack(*f, axis=0) for f in finals]


class RNN(_RNNLayer):
    """Multi-layer Elman RNN: ``h_t = activation(W_ih x_t + b_ih + W_hh h_(t-1) + b_hh)``.

    Parameters
    ----------
    hidden_size : int
    num_layers : int, default 1
    activation : {'relu', 'tanh'}, default 'relu'
    layout : {'TNC', 'NTC'}, default 'TNC'
    dropout : float, default 0
        Dropout on the outputs of every layer but the last (training only).
    bidirectional : bool, default False
        Also run each layer backwards in time; outputs are concatenated (2*hidden_size).
    i2h_weight_initializer, h2h_weight_initializer, i2h_bias_initializer,
    h2h_bias_initializer : Initializer or str
    input_size : int, default 0
        0 infers it from the first input.
    dtype : str, default 'float32'

    Call: ``layer(x)`` -> output, or ``layer(x, states)`` -> ``(output, [h_n])`` with
    states of shape (num_layers * directions, N, hidden_size).
    """

    def __init__(self, hidden_size, num_layers=1, activation="relu", layout="TNC", dropout=0,
                 bidirectional=False, i2h_weight_initializer=None, h2h_weight_initializer=None,
                 i2h_bias_initializer="zeros", h2h_bias_initializer="zeros", input_size=0,
                 dtype="float32", **kwargs):
        if activation not in ("relu", "tanh"):
            raise HybridnetValueError(f"RNN: activation must be 'relu' or 'tanh', got "
                                      f"{activation!r}")
        super().__init__(hidden_size, num_layers, layout, dropout, bidirectional, input_size,
                         i2h_weight_initializer, h2h_weight_initializer, i2h_bias_initializer,
                         h2h_bias_initializer, "rnn_" + activation, dtype, **kwargs)


class LSTM(_RNNLayer):
    """Multi-layer LSTM (gate order i, f, c, o as MXNet/cuDNN).

    Parameters as ``RNN`` (no ``activation``). States: ``[h, c]``, each
    (num_layers * directions, N, hidden_size).
    """

    def __init__(self, hidden_size, num_layers=1, layout="TNC", dropout=0, bidirectional=False,
                 input_size=0, i2h_weight_initializer=None, h2h_weight_initializer=None,
                 i2h_bias_initializer="zeros", h2h_bias_initializer="zeros",
                 projection_size=None, h2r_weight_initializer=None, state_clip_min=None,
                 state_clip_max=None, state_clip_nan=False, dtype="float32", **kwargs):
        if projection_size or state_clip_min is not None or state_clip_max is not None:
            raise HybridnetValueError("LSTM: projection_size and state clipping are not "
                                      "supported; leave them at their defaults")
        super().__init__(hidden_size, num_layers, layout, dropout, bidirectional, input_size,
                         i2h_weight_initializer, h2h_weight_initializer, i2h_bias_initializer,
                         h2h_bias_initializer, "lstm", dtype, **kwargs)


class GRU(_RNNLayer):
    """Multi-layer GRU (gates r, z, n with MXNet/cuDNN's
    ``n = tanh(W_in x + b_in + r * (W_hn h + b_hn))``).

    Parameters as ``RNN`` (no ``activation``). States: ``[h]``.
    """

    def __init__(self, hidden_size, num_layers=1, layout="TNC", dropout=0, bidirectional=False,
                 input_size=0, i2h_weight_initializer=None, h2h_weight_initializer=None,
                 i2h_bias_initializer="zeros", h2h_bias_initializer="zeros", dtype="float32",
                 **kwargs):
        super().__init__(hidden_size, num_layers, layout, dropout, bidirectional, input_size,
                         i2h_weight_initializer, h2h_weight_initializer, i2h_bias_initializer,
                         h2h_bias_initializer, "gru", dtype, **kwargs)
