"""Numba kernel builders for 2-D max pooling (the JIT's codegen hint for ``_pooling``
and ``_pool_max_grad``).

One direct loop nest per output element over its window, with the window, stride
and padding as literals; sizes come from the arrays. Windows clipped at the
border skip padding; a window of only padding ('full' mode) gives the lowest
finite value, as MXNet (which pads with it). The gradient
re-finds each window's first arg-max (strictly greater wins, as in the NumPy rule)
and adds the output gradient there.
"""
import numpy as np

from .nn_pool import _geometry, _is_global

__all__ = ["max_pool_kernel", "max_pool_grad_kernel"]

_HEAD = "@numba.njit(cache=True, error_model='numpy')\n"
# NumPy's maximum: NaN wins (Numba's max(a, b) drops a NaN in either place)
_MAX = """@numba.njit(inline='always')
def _max(a, b):
    return a if (a >= b or a != a) else b


"""
_FM = "{'nsz', 'arcp', 'contract', 'afn', 'reassoc'}"   # NaN/inf-safe (DESIGN.md §5)


def _eligible(x, kernel, stride, pad, convention):
    return (x.ndim == 4 and len(kernel) == 2 and x.dtype in (np.float32, np.float64)
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
    y = node.outputs[0]
    if _tiles(y.shape, x.shape, (kh, kw), (sh, sw), (ph, pw)):
        return _tiled_max(kh, kw)
    # Row-wise: for each window tap, one pass over the output row (vectorisable max).
    # Rows start at -inf (a window of -inf gives -inf, as NumPy's max); only windows
    # holding no input element at all ('full' mode overhang) get the lowest value.
    return _MAX + _HEAD + f"""def kernel(x, out):
    N, C, H, W = x.shape
    OH, OW = out.shape[2], out.shape[3]
    olo = min(OW, max(0, ({pw - kw + 1} + {sw - 1}) // {sw}))
    ohi = max(olo, min(OW, (W - 1 + {pw}) // {sw} + 1))
    for n in range(N):
        for c in range(C):
            for oh in range(OH):
                row = out[n, c, oh]
                for ow in range(OW):
                    row[ow] = -np.inf
                some = False
                for i in range({kh}):
                    h = oh * {sh} - {ph} + i
                    if h < 0 or h >= H:
                        continue
                    some = True
                    xr = x[n, c, h]
                    for j in range({kw}):
                        lo = max(0, ({pw} - j + {sw - 1}) // {sw})
                        hi = min(OW, (W - 1 + {pw} - j) // {sw} + 1)
                        for ow in range(lo, hi):
                            row[ow] = _max(row[ow], xr[ow * {sw} - {pw} + j])
                for ow in range(OW):
                    if not some or ow < olo or ow >= ohi:
                        row[ow] = {low}
"""


def _tiled_max(kh, kw):
    """Windows that tile the input (LeNet's 2x2): each output is the max over its taps in
    one pass (4x faster than a pass over the output row per tap); a NaN anywhere in the
    window gives NaN, as NumPy's maximum (tested once per window: a NaN-aware max per tap
    halved the speed)."""
    rows = "\n".join(f"                x{i} = x[n, c, h + {i}]" for i in range(kh))
    taps = [(i, j) for i in range(kh) for j in range(kw)]
    load = "\n".join(f"                    v{k} = x{i}[w + {j}]" for k, (i, j) in enumerate(taps))
    m = "v0"
    for k in range(1, len(taps)):
        m = f"max({m}, v{k})"
    nan = " | ".join(f"(v{k} != v{k})" for k in range(len(taps)))
    anynan = " + ".join(f"v{k}" for k in range(len(taps)))      # NaN when one of them is
    return _HEAD + f"""def kernel(x, out):
    N, C, H, W = x.shape
    OH, OW = out.shape[2], out.shape[3]
    for n in range(N):
        for c in range(C):
            for oh in range(OH):
                h = oh * {kh}
{rows}
                row = out[n, c, oh]
                for ow in range(OW):
                    w = ow * {kw}
{load}
                    m = {m}
                    row[ow] = m if not ({nan}) else {anynan}
"""


def max_pool_grad_kernel(node, epilogue=None):
    """``kernel(g, x, dx)``; with an ``epilogue`` (``jit/codegen/epilogue.py``: the relu
    mask of the layer below ...) ``kernel(g, x, *epilogue.params)``, tiled windows only
    (the general kernel scatter-adds: its stores are not final)."""
    a = node.attrs
    g, x = node.inputs
    if not _eligible(x, a["kernel"], a["stride"], a["pad"], a["pooling_convention"]) or (
            epilogue is not None and epilogue.kind != "store"):
        return None
    kh, kw, sh, sw, ph, pw, low = _window(a["kernel"], a["stride"], a["pad"], x.dtype)
    if _tiles(g.shape, x.shape, (kh, kw), (sh, sw), (ph, pw)):
        return _tiled_grad(kh, kw, epilogue)
    if epilogue is not None:
        return None
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


def _tiles(out, shape, kernel, stride, pad):
    """Windows tile the input: kernel == stride, no padding, none hanging over the end
    ('full' mode may add one), and 2..9 taps (the tiled gradient compares every pair)."""
    (kh, kw), (oh, ow) = kernel, out[2:]
    return (tuple(kernel) == tuple(stride) and not any(pad) and 2 <= kh * kw <= 9
            and oh * kh <= shape[2] and ow * kw <= shape[3])


def _tiled_grad(kh, kw, epilogue=None):
    """Windows that tile the input (kernel == stride, no padding; LeNet's 2x2 pooling).

    Every input pixel is in at most one window, so each window writes its own pixels
    (the gradient at the first arg-max, zeros elsewhere): no scatter-add and no zeroing
    pass; only rows/columns past the last window are cleared. Tap ``t`` wins when it is
    greater than every earlier tap and not less than every later one (the first maximum;
    a window holding a NaN may have no winner and passes no gradient), written as
    comparisons and selects rather than branches, which mispredict on real data
    (measured 4x slower).
    """
    taps = [(i, j) for i in range(kh) for j in range(kw)]
    load = "\n".join(f"                    v{k} = x{i}[w + {j}]" for k, (i, j) in enumerate(taps))
    wins = []
    for k in range(1, len(taps)):
        conds = [f"(v{k} > v{e})" for e in range(k)] + [f"(v{k} >= v{e})"
                                                         for e in range(k + 1, len(taps))]
        wins.append(f"                    t{k} = {' & '.join(conds)}")
    # (t0 as its own comparisons: negating the others' result blocks vectorisation, 4x)
    first = " & ".join(f"(v0 >= v{e})" for e in range(1, len(taps)))
    wins.append(f"                    t0 = {first}")
    ind = " " * 20
    if epilogue is None:
        head, params = _HEAD, "dx"
        put = "\n".join(f"{ind}d{i}[w + {j}] = gv if t{k} else z" for k, (i, j) in enumerate(taps))
        rows = "\n".join(f"                x{i} = x[n, c, h + {i}]\n"
                          f"                d{i} = dx[n, c, h + {i}]" for i in range(kh))
        tail_row, tail = f"{ind}    dx[n, c, h + i, v] = z", f"{ind}dx[n, c, h, v] = z"
    else:
        # every store goes through the epilogue (the zeros past the last window too)
        head = _HEAD.replace("error_model='numpy'", "error_model='numpy', fastmath=" + _FM)
        params = ", ".join(epilogue.params)
        put = "".join(epilogue.store(f"(gv if t{k} else z)", ["n", "c", f"h + {i}", f"w + {j}"],
                                     ind, ("g", "x")) for k, (i, j) in enumerate(taps)).rstrip()
        rows = "\n".join(f"                x{i} = x[n, c, h + {i}]" for i in range(kh))
        tail_row = epilogue.store("z", ["n", "c", "h + i", "v"], ind + "    ", ("g", "x")).rstrip()
        tail = epilogue.store("z", ["n", "c", "h", "v"], ind, ("g", "x")).rstrip()
    return head + f"""def kernel(g, x, {params}):
    N, C, H, W = x.shape
    OH, OW = g.shape[2], g.shape[3]
    z = g.dtype.type(0)
    for n in range(N):
        for c in range(C):
            for oh in range(OH):
                h = oh * {kh}
{rows}
                gr = g[n, c, oh]
                for ow in range(OW):
                    w = ow * {kw}
{load}
{chr(10).join(wins)}
                    gv = gr[ow]
{put}
                for v in range(OW * {kw}, W):
                    for i in range({kh}):
{tail_row}
            for h in range(OH * {kh}, H):
                for v in range(W):
{tail}
"""
