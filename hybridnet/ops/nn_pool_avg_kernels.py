"""Numba kernel builders for 2-D average / sum pooling and its adjoint (the JIT's codegen
hint for ``_pooling`` with pool_type 'avg'/'sum' and ``_pool_avg_grad``; eager mode runs
them too, ``ops/_eager_kernels.py``).

Row-wise like the general max-pool kernel: per output row, one pass over the row per
window tap, reading the taps that fall inside the input (padding adds zeros, so it is
skipped). Each window's divisor follows MXNet's rule as ``nn_pool._divisor`` does:
padding counted when ``count_include_pad``, the 'full'-mode overhang never. Taps are
added in the NumPy rule's order (row-major, starting from zero) without fast-math, so
the forward matches it exactly; the adjoint scatters per output row, so overlapping
windows add up in another order than NumPy's.
"""
import numpy as np

from .nn_pool import _is_global

__all__ = ["avg_pool_kernel", "avg_pool_grad_kernel"]

_HEAD = "@numba.njit(cache=True, error_model='numpy')\n"


def _sizes(name, n, k, s, p, count_pad):
    """Lines filling ``name[o]``: the divisor factor of window ``o`` along one dim."""
    clip = "" if count_pad else f"""
        start = max(start, 0)
        end = min(end, {n})"""
    return f"""    for o in range({name}.shape[0]):
        start = o * {s} - {p}
        end = min(start + {k}, {n} + {p}){clip}
        {name}[o] = max(end - start, 1)
"""


def _loops(a, h, w, body_rows, per_row):
    """Shared loop nest: per (n, c, oh) row, ``per_row`` lines, then each valid input row
    ``h`` and tap column ``j`` with the valid output range [lo, hi): ``body_rows``."""
    (kh, kw), (sh, sw), (ph, pw) = a["kernel"], a["stride"], a["pad"]
    return f"""    for n in range(N):
        for c in range(C):
            for oh in range(OH):
{per_row}                for i in range({kh}):
                    h = oh * {sh} - {ph} + i
                    if h < 0 or h >= {h}:
                        continue
                    for j in range({kw}):
                        lo = max(0, ({pw} - j + {sw - 1}) // {sw})
                        hi = min(OW, ({w - 1 + pw} - j) // {sw} + 1)
                        for ow in range(lo, hi):
{body_rows}
"""


def _divisors(a, h, w, dtype):
    (kh, kw), (sh, sw), (ph, pw) = a["kernel"], a["stride"], a["pad"]
    cip = bool(a.get("count_include_pad", True))
    return (f"    rd = np.empty(OH, np.{dtype})\n    cd = np.empty(OW, np.{dtype})\n"
            + _sizes("rd", h, kh, sh, ph, cip) + _sizes("cd", w, kw, sw, pw, cip))


def _ok(x, a):
    return (x.ndim == 4 and len(a["kernel"]) == 2 and x.dtype in (np.float32, np.float64)
            and not _is_global(x.shape, a["kernel"], a["pad"]))


def avg_pool_kernel(node):
    """``kernel(x, out)`` for 2-D avg/sum pooling, or None."""
    a, x, y = node.attrs, node.inputs[0], node.outputs[0]
    if a.get("pool_type") not in ("avg", "sum") or not _ok(x, a) or y.dtype != x.dtype:
        return None
    _, _, h, w = x.shape
    avg = a["pool_type"] == "avg"
    if _tiles(y.shape, x.shape, a):
        return _tiled(a, avg, x.dtype.name)
    scale = """                for ow in range(OW):
                    row[ow] = row[ow] / (rd[oh] * cd[ow])
""" if avg else ""
    zero = """                row = out[n, c, oh]
                for ow in range(OW):
                    row[ow] = 0
"""
    body = " " * 32 + f"row[ow] += x[n, c, h, ow * {a['stride'][1]} - {a['pad'][1]} + j]"
    return _HEAD + f"""def kernel(x, out):
    N, C = x.shape[0], x.shape[1]
    OH, OW = out.shape[2], out.shape[3]
{_divisors(a, h, w, x.dtype.name)}{_loops(a, h, w, body, zero)}{scale}"""


def _tiles(out, shape, a):
    """Windows that tile the input (kernel == stride, no padding, none overhanging)."""
    (kh, kw), (oh, ow) = a["kernel"], out[2:]
    return (tuple(a["kernel"]) == tuple(a["stride"]) and not any(a["pad"])
            and oh * kh <= shape[2] and ow * kw <= shape[3])


def _tiled(a, avg, dtype):
    """Tiled windows (LeNet-style 2x2): each output sums its taps in one pass (the
    row-per-tap loop was slower than NumPy on (128, 6, 28, 28)); every window has
    kh*kw elements, so the divisor is one constant."""
    kh, kw = a["kernel"]
    taps = " + ".join(f"x{i}[w + {j}]" for i in range(kh) for j in range(kw))
    rows = "\n".join(f"                x{i} = x[n, c, h + {i}]" for i in range(kh))
    val = f"({taps}) / np.{dtype}({kh * kw})" if avg else f"({taps})"
    return _HEAD + f"""def kernel(x, out):
    N, C = x.shape[0], x.shape[1]
    OH, OW = out.shape[2], out.shape[3]
    for n in range(N):
        for c in range(C):
            for oh in range(OH):
                h = oh * {kh}
{rows}
                row = out[n, c, oh]
                for ow in range(OW):
                    w = ow * {kw}
                    row[ow] = {val}
"""


def _tiled_grad(a, avg, dtype):
    """Tiled windows: every input pixel is in at most one window, so each window writes
    its own pixels (no zeroing pass, no scatter-add); only rows/columns past the last
    window are cleared."""
    kh, kw = a["kernel"]
    rows = "\n".join(f"                d{i} = dx[n, c, h + {i}]" for i in range(kh))
    put = "\n".join(f"                    d{i}[w + {j}] = v" for i in range(kh) for j in range(kw))
    val = f"gr[ow] / np.{dtype}({kh * kw})" if avg else "gr[ow]"
    return _HEAD + f"""def kernel(g, dx):
    N, C, H, W = dx.shape
    OH, OW = g.shape[2], g.shape[3]
    for n in range(N):
        for c in range(C):
            for oh in range(OH):
                h = oh * {kh}
{rows}
                gr = g[n, c, oh]
                for ow in range(OW):
                    w = ow * {kw}
                    v = {val}
{put}
                for i in range({kh}):
                    for v2 in range(OW * {kw}, W):
                        dx[n, c, h + i, v2] = 0
            for h2 in range(OH * {kh}, H):
                for v2 in range(W):
                    dx[n, c, h2, v2] = 0
"""


def avg_pool_grad_kernel(node):
    """``kernel(g, dx)``: the adjoint of avg/sum pooling (each output's gradient, divided
    by its window's divisor, added to every input of the window), or None."""
    a, g, dx = node.attrs, node.inputs[0], node.outputs[0]
    if a.get("pool_type") not in ("avg", "sum") or not _ok(dx, a) or g.dtype != dx.dtype:
        return None
    _, _, h, w = dx.shape
    if _tiles(g.shape, dx.shape, a):
        return _tiled_grad(a, a["pool_type"] == "avg", g.dtype.name)
    div = "gr[ow] / (rd[oh] * cd[ow])" if a["pool_type"] == "avg" else "gr[ow]"
    per_row = f"""                gr = g[n, c, oh]
                for ow in range(OW):
                    gs[ow] = {div}
"""
    body = " " * 32 + f"dx[n, c, h, ow * {a['stride'][1]} - {a['pad'][1]} + j] += gs[ow]"
    return _HEAD + f"""def kernel(g, dx):
    N, C = g.shape[0], g.shape[1]
    OH, OW = g.shape[2], g.shape[3]
    gs = np.empty(OW, g.dtype)
{_divisors(a, h, w, g.dtype.name)}    dxf = dx.reshape(-1)
    for t in range(dxf.size):
        dxf[t] = 0
{_loops(a, h, w, body, per_row)}"""
