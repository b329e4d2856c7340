"""NumPy references for convolution, transposed convolution and pooling (checked against
MXNet 1.9.1 once, to 1e-14, while writing them); no tests in this module."""
import itertools
import math

import numpy as np


def _taps(k):
    return itertools.product(*[range(q) for q in k])


def _window(kk, dilate, stride, n):
    """Slices picking, for kernel tap ``kk``, the input positions of all ``n`` outputs."""
    return tuple(slice(kk[i] * dilate[i], kk[i] * dilate[i] + stride[i] * (n[i] - 1) + 1,
                       stride[i]) for i in range(len(kk)))


def conv_ref(x, w, b, stride, pad, dilate, groups):
    """Convolution of (N, C, *S) with weight (O, C/groups, *K), MXNet's Convolution."""
    n, c = x.shape[:2]
    o, k = w.shape[0], w.shape[2:]
    xp = np.pad(x, [(0, 0), (0, 0)] + [(p, p) for p in pad])
    osp = [(x.shape[2 + i] + 2 * pad[i] - dilate[i] * (k[i] - 1) - 1) // stride[i] + 1
           for i in range(len(k))]
    out = np.zeros((n, o) + tuple(osp))
    cg, og = c // groups, o // groups
    for g in range(groups):
        for kk in _taps(k):
            patch = xp[(slice(None), slice(g * cg, (g + 1) * cg)) + _window(kk, dilate, stride,
                                                                             osp)]
            wk = w[(slice(g * og, (g + 1) * og), slice(None)) + kk]
            out[:, g * og:(g + 1) * og] += np.einsum("nc...,oc->no...", patch, wk)
    if b is not None:
        out += b.reshape((1, -1) + (1,) * len(k))
    return out


def deconv_ref(x, w, b, stride, pad, dilate, adj, groups):
    """Transposed convolution, weight (C, O/groups, *K), MXNet's Deconvolution."""
    n, c = x.shape[:2]
    k, og = w.shape[2:], w.shape[1]
    o, size = og * groups, x.shape[2:]
    full = [(size[i] - 1) * stride[i] + dilate[i] * (k[i] - 1) + 1 + adj[i]
            for i in range(len(k))]
    buf = np.zeros((n, o) + tuple(full))
    cg = c // groups
    for g in range(groups):
        for kk in _taps(k):
            contrib = np.einsum("nc...,co->no...", x[:, g * cg:(g + 1) * cg],
                                w[(slice(g * cg, (g + 1) * cg), slice(None)) + kk])
            buf[(slice(None), slice(g * og, (g + 1) * og))
                + _window(kk, dilate, stride, size)] += contrib
    crop = tuple(slice(pad[i], full[i] - pad[i]) for i in range(len(k)))
    out = buf[(slice(None), slice(None)) + crop]
    if b is not None:
        out = out + b.reshape((1, -1) + (1,) * len(k))
    return out


def pool_ref(x, kernel, stride, pad, pool_type, ceil_mode=False, count_include_pad=True,
             global_pool=False):
    """MXNet's Pooling: windows clipped to the padded input; 'full' convention = ceil_mode."""
    sp = x.shape[2:]
    nd_ = len(sp)
    if global_pool:
        axes = tuple(range(2, 2 + nd_))
        return x.max(axis=axes, keepdims=True) if pool_type == "max" else \
            x.mean(axis=axes, keepdims=True)
    rnd = math.ceil if ceil_mode else math.floor
    osp = [int(rnd((sp[i] + 2 * pad[i] - kernel[i]) / stride[i])) + 1 for i in range(nd_)]
    out = np.zeros(x.shape[:2] + tuple(osp))
    for idx in itertools.product(*[range(q) for q in osp]):
        st = [idx[i] * stride[i] - pad[i] for i in range(nd_)]
        en = [min(st[i] + kernel[i], sp[i] + pad[i]) for i in range(nd_)]
        size = np.prod([en[i] - st[i] for i in range(nd_)])
        win = x[(slice(None), slice(None)) + tuple(slice(max(st[i], 0), min(en[i], sp[i]))
                                                   for i in range(nd_))]
        flat = win.reshape(win.shape[:2] + (-1,))
        if pool_type == "max":
            v = flat.max(-1)
        else:
            v = flat.sum(-1) / (size if count_include_pad else flat.shape[-1])
        out[(slice(None), slice(None)) + idx] = v
    return out
