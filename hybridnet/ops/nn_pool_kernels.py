"""Numba kernel builders for 2-D max pooling (the JIT's codegen hint for ``_pooling``
and ``_pool_max_grad``).

One direct loop nest per output element over its window, with the window, stride
and padding as literals; sizes come from the arrays. Windows clipped at the
border skip padding (MXNet pads with the lowest value, which never wins unless the
whole window is padding, handled by starting from that value). The gradient
re-finds each window's first arg-max (strictly greater wins, as in the NumPy rule)
and adds the output gradient there.
"""
import numpy as np

from .nn_pool import _geometry, _is_global

__all__ = ["max_pool_kernel", "max_pool_grad_kernel"]

_HEAD = "@numba.njit(cache=True, error_model='numpy')\n"


def _eligible(x, kernel, stride, pad, convention):
    return (x.ndim == 4 and len(kernel) == 2 and x.dtype.kind == "f"
            and not _is_global(x.shape, kernel, pad))


def _window(kernel, stride, pad, dtype):
    (kh, kw), (sh, sw), (ph, pw) = kernel, stride, pad
    low = repr(float(np.finfo(dtype).min))
    return kh, kw, sh, sw, ph, pw, low


def max_pool_kernel(node):
    a = node.attrs
    x = node.inputs[0]
    if a.get("pool_type") != "max" or not _eligible(x, a["kernel"], a["stride"], a["pad"],
                                                    a["pooling_convention"]):
        return None
    kh, kw, sh, sw, ph, pw, low = _window(a["kernel"], a["stride"], a["pad"], x.dtype)
    return _HEAD + f"""def kernel(x, out):
    N, C, H, W = x.shape
    OH, OW = out.shape[2], out.shape[3]
    for n in range(N):
        for c in range(C):
            for oh in range(OH):
                h0 = oh * {sh} - {ph}
                for ow in range(OW):
                    w0 = ow * {sw} - {pw}
                    m = {low}
                    for i in range({kh}):
                        h = h0 + i
                        if h < 0 or h >= H:
                            continue
                        for j in range({kw}):
                            w = w0 + j
                            if w >= 0 and w < W:
                                v = x[n, c, h, w]
                                if v > m:
                                    m = v
                    out[n, c, oh, ow] = m
"""


def max_pool_grad_kernel(node):
    a = node.attrs
    g, x = node.inputs
    if not _eligible(x, a["kernel"], a["stride"], a["pad"], a["pooling_convention"]):
        return None
    kh, kw, sh, sw, ph, pw, low = _window(a["kernel"], a["stride"], a["pad"], x.dtype)
    return _HEAD + f"""def kernel(g, x, dx):
    N, C, H, W = x.shape
    OH, OW = g.shape[2], g.shape[3]
    dx[:] = 0
    for n in range(N):
        for c in range(C):
            for oh in range(OH):
                h0 = oh * {sh} - {ph}
                for ow in range(OW):
                    w0 = ow * {sw} - {pw}
                    m = {low}
                    bh = -1
                    bw = -1
                    for i in range({kh}):
                        h = h0 + i
                        if h < 0 or h >= H:
                            continue
                        for j in range({kw}):
                            w = w0 + j
                            if w >= 0 and w < W:
                                v = x[n, c, h, w]
                                if bh < 0 or v > m:
                                    m = v
                                    bh = h
                                    bw = w
                    if bh >= 0:
                        dx[n, c, bh, bw] += g[n, c, oh, ow]
"""
