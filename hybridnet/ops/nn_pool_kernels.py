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
    # Row-wise: for each window tap, one pass over the output row (vectorisable max).
    return _HEAD + f"""def kernel(x, out):
    N, C, H, W = x.shape
    OH, OW = out.shape[2], out.shape[3]
    for n in range(N):
        for c in range(C):
            for oh in range(OH):
                row = out[n, c, oh]
                row[:] = {low}
                for i in range({kh}):
                    h = oh * {sh} - {ph} + i
                    if h < 0 or h >= H:
                        continue
                    xr = x[n, c, h]
                    for j in range({kw}):
                        lo = max(0, ({pw} - j + {sw - 1}) // {sw})
                        hi = min(OW, (W - 1 + {pw} - j) // {sw} + 1)
                        for ow in range(lo, hi):
                            row[ow] = max(row[ow], xr[ow * {sw} - {pw} + j])
"""


def max_pool_grad_kernel(node):
    a = node.attrs
    g, x = node.inputs
    if not _eligible(x, a["kernel"], a["stride"], a["pad"], a["pooling_convention"]):
        return None
    kh, kw, sh, sw, ph, pw, low = _window(a["kernel"], a["stride"], a["pad"], x.dtype)
    # Per output row: running best value and flat input position over the taps in
    # row-major order (strictly greater wins: ties keep the first), then scatter.
    return _HEAD + f"""def kernel(g, x, dx):
    N, C, H, W = x.shape
    OH, OW = g.shape[2], g.shape[3]
    dx[:] = 0
    best = np.empty(OW, x.dtype)
    pos = np.empty(OW, np.int64)
    for n in range(N):
        for c in range(C):
            for oh in range(OH):
                best[:] = {low}
                pos[:] = -1
                for i in range({kh}):
                    h = oh * {sh} - {ph} + i
                    if h < 0 or h >= H:
                        continue
                    xr = x[n, c, h]
                    for j in range({kw}):
                        lo = max(0, ({pw} - j + {sw - 1}) // {sw})
                        hi = min(OW, (W - 1 + {pw} - j) // {sw} + 1)
                        for ow in range(lo, hi):
                            v = xr[ow * {sw} - {pw} + j]
                            if pos[ow] < 0 or v > best[ow]:
                                best[ow] = v
                                pos[ow] = h * W + ow * {sw} - {pw} + j
                dxf = dx[n, c].reshape(-1)
                gr = g[n, c, oh]
                for ow in range(OW):
                    if pos[ow] >= 0:
                        dxf[pos[ow]] += gr[ow]
"""
