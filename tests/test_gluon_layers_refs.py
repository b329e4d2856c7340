"""NumPy references for convolution, transposed convolution and pooling (checked against
MXNet 1.9.1 once, to 1e-14, while writing them); no tests in this module."""
import itertools
import math

import numpy as np

def conv_ref(x, w, b, stride, pad, dilate, groups):
    n, c = x.shape[:2]; o = w.shape[0]; k = w.shape[2:]
    nd_ = len(k)
    xp = np.pad(x, [(0, 0), (0, 0)] + [(p, p) for p in pad])
    osp = [(x.shape[2 + i] + 2 * pad[i] - dilate[i] * (k[i] - 1) - 1) // stride[i] + 1 for i in range(nd_)]
    out = np.zeros((n, o) + tuple(osp))
    cg, og = c // groups, o // groups
    for g in range(groups):
        for kk in itertools.product(*[range(q) for q in k]):
            sl = tuple(slice(kk[i] * dilate[i], kk[i] * dilate[i] + stride[i] * (osp[i] - 1) + 1, stride[i]) for i in range(nd_))
            patch = xp[(slice(None), slice(g * cg, (g + 1) * cg)) + sl]
            wk = w[(slice(g * og, (g + 1) * og), slice(None)) + kk]
            out[:, g * og:(g + 1) * og] += np.einsum("nc...,oc->no...", patch, wk)
    if b is not None:
        out += b.reshape((1, -1) + (1,) * nd_)
    return out

def deconv_ref(x, w, b, stride, pad, dilate, adj, groups):
    n, c = x.shape[:2]; k = w.shape[2:]; og = w.shape[1]; o = og * groups
    nd_ = len(k); L = x.shape[2:]
    full = [(L[i] - 1) * stride[i] + dilate[i] * (k[i] - 1) + 1 + adj[i] for i in range(nd_)]
    buf = np.zeros((n, o) + tuple(full))
    cg = c // groups
    for g in range(groups):
        for kk in itertools.product(*[range(q) for q in k]):
            contrib = np.einsum("nc...,co->no...", x[:, g * cg:(g + 1) * cg], w[(slice(g * cg, (g + 1) * cg), slice(None)) + kk])
            sl = tuple(slice(kk[i] * dilate[i], kk[i] * dilate[i] + stride[i] * (L[i] - 1) + 1, stride[i]) for i in range(nd_))
            buf[(slice(None), slice(g * og, (g + 1) * og)) + sl] += contrib
    outsz = [full[i] - 2 * pad[i] for i in range(nd_)]
    out = buf[(slice(None), slice(None)) + tuple(slice(pad[i], pad[i] + outsz[i]) for i in range(nd_))]
    if b is not None:
        out = out + b.reshape((1, -1) + (1,) * nd_)
    return out

def pool_ref(x, kernel, stride, pad, pool_type, ceil_mode=False, count_include_pad=True, global_pool=False):
    sp = x.shape[2:]; nd_ = len(sp)
    if global_pool:
        axes = tuple(range(2, 2 + nd_))
        r = x.max(axis=axes, keepdims=True) if pool_type == "max" else x.mean(axis=axes, keepdims=True)
        return r
    rnd = math.ceil if ceil_mode else math.floor
    osp = [int(rnd((sp[i] + 2 * pad[i] - kernel[i]) / stride[i])) + 1 for i in range(nd_)]
    out = np.zeros(x.shape[:2] + tuple(osp))
    for idx in itertools.product(*[range(q) for q in osp]):
        st = [idx[i] * stride[i] - pad[i] for i in range(nd_)]
        en = [min(st[i] + kernel[i], sp[i] + pad[i]) for i in range(nd_)]
        size = np.prod([en[i] - st[i] for i in range(nd_)])
        sl = tuple(slice(max(st[i], 0), min(en[i], sp[i])) for i in range(nd_))
        win = x[(slice(None), slice(None)) + sl]
        if pool_type == "max":
            v = win.reshape(win.shape[:2] + (-1,)).max(-1)
        else:
            cnt = size if count_include_pad else np.prod(win.shape[2:])
            v = win.reshape(win.shape[:2] + (-1,)).sum(-1) / cnt
        out[(slice(None), slice(None)) + idx] = v
    return out
