"""One recurrent time step, shared by the cells and the RNN/LSTM/GRU layers.

Gate orders and formulas are MXNet's (and cuDNN's): LSTM gates (i, f, c, o),
GRU gates (r, z, n) with ``n = tanh(W_in x + b_in + r * (W_hn h + b_hn))``.
Everything is composed of registered ops, so it is differentiable and traceable.
"""
from ... import ndarray as nd
from ...base import HybridnetValueError

__all__ = ["GATES", "step", "apply_activation", "split_gates"]

GATES = {"rnn_relu": 1, "rnn_tanh": 1, "lstm": 4, "gru": 3}

_SIMPLE = {"tanh": nd.tanh, "relu": nd.relu, "sigmoid": nd.sigmoid}


def apply_activation(x, activation):
    """Apply an activation given as a name, a LeakyReLU block or any callable."""
    fn = _SIMPLE.get(activation) if isinstance(activation, str) else None
    if fn is not None:
        return fn(x)
    if isinstance(activation, str):
        return nd.Activation(x, act_type=activation)
    if callable(activation):
        return activation(x)
    raise HybridnetValueError(f"unknown recurrent activation {activation!r}")


def split_gates(x, n):
    """Split (N, n*H) into n arrays of (N, H) along axis 1."""
    parts = nd.split(x, num_outputs=n, axis=1)
    return list(parts) if isinstance(parts, (list, tuple)) else [parts]


def step(mode, i2h, h2h, states, activation="tanh", recurrent_activation="sigmoid"):
    """Advance one step: ``i2h``/``h2h`` are the two FullyConnected results.

    Returns ``(output, new_states)`` where ``states`` is ``[h]`` or ``[h, c]`` (LSTM).
    """
    if mode in ("rnn_relu", "rnn_tanh"):
        act = "relu" if mode == "rnn_relu" else activation
        h = apply_activation(i2h + h2h, act)
        return h, [h]
    if mode == "lstm":
        i, f, g, o = split_gates(i2h + h2h, 4)
        i = apply_activation(i, recurrent_activation)
        f = apply_activation(f, recurrent_activation)
        g = apply_activation(g, activation)
        o = apply_activation(o, recurrent_activation)
        c = f * states[1] + i * g
        h = o * apply_activation(c, activation)
        return h, [h, c]
    if mode == "gru":
        i_r, i_z, i_n = split_gates(i2h, 3)
        h_r, h_z, h_n = split_gates(h2h, 3)
        r = nd.sigmoid(i_r + h_r)
        z = nd.sigmoid(i_z + h_z)
        n = nd.tanh(i_n + r * h_n)
        h = (1 - z) * n + z * states[0]
        return h, [h]
    raise HybridnetValueError(f"unknown recurrent mode {mode!r}; expected one of {list(GATES)}")
