"""Numba kernel builders for 2-D convolution (the JIT's codegen hint for ``_convolution``,
``_conv_bwd_data`` and ``_conv_bwd_weight``), the lowering chosen by shape (DESIGN.md §5b).

Which lowering (measured on LeNet's shapes, 2-core Zen 3, float32, batch 128):

===================  ============================  =============================
op                   few taps (C*kh*kw <= 32)       otherwise (groups == 1)
===================  ============================  =============================
forward              direct loops (conv1 0.5 ms)   im2col + GEMM (conv2 1.6 ms)
data gradient        direct (stride 1) / GEMM      GEMM + grid col2im (1.8 ms)
weight gradient      direct streaming, any shape (conv1 0.35 ms, conv2 1.3 ms)
===================  ============================  =============================

(im2col + GEMM for conv1's forward was 2x slower, for its weight gradient 4x: a GEMM with
K = N*H*W = 100,352 and M*N = 54; for conv2's weight gradient direct still won, 1.3 vs 1.9.)

The direct kernels loop over a row-padded output grid: a sample's input is copied once
into a zero-padded buffer ``xp`` of ``Hp x Wp``; output position ``(oh, ow)`` is grid
index ``p = oh * R + ow`` (``R = sh * Wp / sw``) and tap ``(i, j)`` reads
``xp[sw * p + i * dh * Wp + j * dw]``. So one long inner loop over ``p`` covers a whole
output plane; positions with ``ow >= OW`` are computed and thrown away (the cost of not
having a short loop per row). Taps are unrolled with literal offsets and weights are read
into scalars before the loop, so the ``p`` loop vectorises (see ``_fwd_body``).

* forward: a block of ``FB`` output channels accumulates in ``acc[FB, G]`` (L1-sized), one
  input channel at a time;
* data gradient (stride 1): the forward loop over the output gradient padded by
  ``dilate * (kernel - 1) - pad``, with the weight transposed and flipped;
* weight gradient: per block of ``FB`` filters and kernel row, ``FB * kw`` dot products
  over the grid (streaming: no im2col matrix, the batch is reduced sample by sample).

Kernels use scalar loops only (no slice assignment: each distinct array-slice overload
costs Numba seconds of compile time the first time). Shapes not routed here (not 2-D,
non-float or mixed dtypes, a grouped data gradient that is strided or padded beyond the
dilated kernel) return None: the NumPy im2col + BLAS in ``nn_conv_impl`` runs instead.
"""
import numpy as np

from .nn_conv_gemm import Geo, gemm_bwd_data, gemm_forward

__all__ = ["conv_kernel", "conv_bwd_data_kernel", "conv_bwd_weight_kernel"]

# NaN/inf-safe fast-math flags (plain fastmath=True breaks NaN/inf; DESIGN.md §5).
_HEAD = ("@numba.njit(cache=True, error_model='numpy', "
         "fastmath={'nsz', 'arcp', 'contract', 'afn', 'reassoc'})\n")


_TINY = 32


def _blocks(n, most):
    """(number of blocks, block size) covering ``n`` channels with blocks of at most ``most``."""
    nb = -(-n // most)
    return nb, -(-n // nb)


def _floats(*vals):
    dts = {np.dtype(v.dtype) for v in vals}
    return len(dts) == 1 and dts.pop() in (np.float32, np.float64)


class _Grid:
    """Geometry of a stride-(sh, sw) correlation over a zero-padded ``Hp x Wp`` input."""

    def __init__(self, hp, wp, oh, ow, k, stride, dilate):
        (self.kh, self.kw), (self.sh, self.sw), (self.dh, self.dw) = k, stride, dilate
        self.wp = -(-wp // self.sw) * self.sw          # a multiple of sw: R is an integer
        self.hp, self.oh, self.ow = hp, oh, ow
        self.r = self.sh * self.wp // self.sw
        self.g = (oh - 1) * self.r + ow               # grid length

    def taps(self):
        """(i, j, offset of tap (i, j) into the flat padded input)."""
        return [(i, j, i * self.dh * self.wp + j * self.dw)
                for i in range(self.kh) for j in range(self.kw)]

    def index(self, off):
        return f"{self.sw} * p + {off}" if self.sw != 1 else f"p + {off}"


def _fill_input(src, grid, chans, top, left, rows, cols):
    """Lines copying sample ``n`` of ``src`` (chans, rows, cols) into ``xp`` at (top, left)."""
    wp = grid.wp
    return f"""        for c in range({chans}):
            for h in range({rows}):
                o = (h + {top}) * {wp} + {left}
                for v in range({cols}):
                    xp[c, o + v] = {src}[n, c, h, v]
"""


def _fwd_body(grid, cin, fb):
    """Inner loop nest: acc[q, p] += sum over taps of wb[...] * xp[c, ...]."""
    taps = grid.taps()
    ind = " " * 12
    lines = [f"{ind}for c in range({cin}):",
             f"{ind}    xr = xp[gi + c]"]
    for q in range(fb):
        for i, j, _ in taps:
            lines.append(f"{ind}    w{q}_{i}_{j} = wb[f0 + {q}, c, {i}, {j}]")
    lines.append(f"{ind}    for p in range({grid.g}):")
    for i, j, off in taps:
        lines.append(f"{ind}        x{i}_{j} = xr[{grid.index(off)}]")
    # Two independent FMA chains per output when there are many taps: one chain of 25
    # dependent FMAs is latency-bound (measured 2x slower).
    chains = 2 if len(taps) >= 16 else 1
    for q in range(fb):
        parts = ["(" + " + ".join(f"w{q}_{i}_{j} * x{i}_{j}" for i, j, _ in taps[s::chains]) + ")"
                 for s in range(chains)]
        lines.append(f"{ind}        acc[{q}, p] += {' + '.join(parts)}")
    return "\n".join(lines) + "\n"


def _correlate(grid, groups, cin, cout, fb, nb, fill, prep_w, epilogue=None):
    """Source of ``kernel(src, w, out)``: a direct grouped correlation, any N (with an
    epilogue: ``kernel(src, w, *epilogue.params)``, the epilogue in the output store)."""
    ind = " " * 28
    val, idx = f"acc[q, oh * {grid.r} + ow]", ["n", f"g * {cout} + f", "oh", "ow"]
    if epilogue is None:
        params, put = "out", f"{ind}out[{', '.join(idx)}] = {val}\n"
    else:
        params, put = ", ".join(epilogue.params), epilogue.store(val, idx, ind, ("src", "w"))
    return _HEAD + f"""def kernel(src, w, {params}):
    N = src.shape[0]
    xp = np.zeros(({groups * cin}, {grid.hp * grid.wp}), src.dtype)
    acc = np.empty(({fb}, {grid.g}), src.dtype)
    wb = np.zeros(({groups * nb * fb}, {cin}, {grid.kh}, {grid.kw}), src.dtype)
{prep_w}    for n in range(N):
{fill}        for gb in range({groups * nb}):
            g = gb // {nb}
            gi = g * {cin}
            f0 = gb * {fb}
            for q in range({fb}):
                for p in range({grid.g}):
                    acc[q, p] = 0
{_fwd_body(grid, cin, fb)}            for q in range({fb}):
                f = (gb % {nb}) * {fb} + q
                if f < {cout}:
                    for oh in range({grid.oh}):
                        for ow in range({grid.ow}):
{put}"""


def _tiny(channels, k):
    """Few multiply-adds per output (conv1 of LeNet: 1*3*3): direct loops beat a GEMM."""
    return channels * k[0] * k[1] <= _TINY


def _geo(c, hw, w_shape, out_hw, a, itemsize):
    return Geo(c, hw[0], hw[1], w_shape[0], w_shape[2], w_shape[3], out_hw[0], out_hw[1],
               a["stride"], a["dilate"], a["pad"], itemsize)


def _most(k):
    """Output channels per block: more when there are few taps (fewer loads per FMA)."""
    return 8 if k[0] * k[1] <= 9 else 4


def conv_kernel(node, epilogue=None):
    """``_convolution`` (x, w) -> y as a direct correlation, or None (NumPy fallback).

    ``epilogue`` (``jit/codegen/epilogue.py``): an elementwise group (bias, relu ...)
    rendered into the output store; the kernel is then ``kernel(x, w, *epilogue.params)``.
    """
    x, w = node.inputs
    (y,) = node.outputs
    a = node.attrs
    if x.ndim != 4 or not _floats(x, w, y) or (epilogue is not None and
                                                epilogue.kind != "store"):
        return None
    _, c, h, wd = x.shape
    f, cg = w.shape[:2]
    groups = int(a["num_group"])
    fg = f // groups
    if groups == 1 and not _tiny(cg, w.shape[2:]):
        return gemm_forward(_geo(c, (h, wd), w.shape, y.shape[2:], a, x.dtype.itemsize),
                            epilogue)
    (ph, pw) = a["pad"]
    grid = _Grid(h + 2 * ph, wd + 2 * pw, y.shape[2], y.shape[3], w.shape[2:], a["stride"],
                 a["dilate"])
    nb, fb = _blocks(fg, _most(w.shape[2:]))
    prep = f"""    for g in range({groups}):
        for b in range({fg}):
            for c in range({cg}):
                for i in range({grid.kh}):
                    for j in range({grid.kw}):
                        wb[g * {nb * fb} + b, c, i, j] = w[g * {fg} + b, c, i, j]
"""
    fill = _fill_input("src", grid, c, ph, pw, h, wd)
    return _correlate(grid, groups, cg, fg, fb, nb, fill, prep, epilogue)


def conv_bwd_data_kernel(node):
    """``_conv_bwd_data`` (dy, w) -> dx for stride 1, or None.

    ``dx[c, h, w] = sum dy[f, h + ph - i*dh, w + pw - j*dw] * w[f, c, i, j]``: a correlation
    of ``dy`` shifted by ``T = dilate*(k-1) - pad`` with the flipped, transposed weight.
    """
    dy, w = node.inputs
    (dx,) = node.outputs
    a = node.attrs
    if dy.ndim != 4 or not _floats(dy, w, dx):
        return None
    f, cg, kh, kw = w.shape
    _, c, h, wd = dx.shape
    groups = int(a["num_group"])
    fg = f // groups
    (dh, dw), (ph, pw) = a["dilate"], a["pad"]
    th, tw = dh * (kh - 1) - ph, dw * (kw - 1) - pw
    direct = tuple(a["stride"]) == (1, 1) and th >= 0 and tw >= 0
    if groups == 1 and not (direct and _tiny(fg, (kh, kw))):
        return gemm_bwd_data(_geo(c, (h, wd), w.shape, dy.shape[2:], a, dy.dtype.itemsize))
    if not direct:
        return None
    grid = _Grid(h + dh * (kh - 1), wd + dw * (kw - 1), h, wd, (kh, kw), (1, 1), (dh, dw))
    nb, fb = _blocks(cg, _most((kh, kw)))
    # wb[g*nb*fb + c, f, i, j] = w[g*fg + f, c, kh-1-i, kw-1-j]
    prep = f"""    for g in range({groups}):
        for cc in range({cg}):
            for ff in range({fg}):
                for i in range({kh}):
                    for j in range({kw}):
                        v = w[g * {fg} + ff, cc, {kh - 1} - i, {kw - 1} - j]
                        wb[g * {nb * fb} + cc, ff, i, j] = v
"""
    fill = _fill_input("src", grid, f, th, tw, dy.shape[2], dy.shape[3])
    return _correlate(grid, groups, fg, cg, fb, nb, fill, prep)


def conv_bwd_weight_kernel(node, epilogue=None):
    """``_conv_bwd_weight`` (dy, x) -> dw as streaming dot products over the grid, or None.

    With a ``channel_sum`` epilogue (the bias gradient: ``dy`` summed over all axes but
    the channels) ``kernel(dy, x, dw, db)`` also writes those sums into ``db``, added up
    (in float64) while ``dy`` is copied onto the grid.
    """
    dy, x = node.inputs
    (dwt,) = node.outputs
    a = node.attrs
    if x.ndim != 4 or not _floats(dy, x, dwt) or (epilogue is not None and
                                                  epilogue.kind != "channel_sum"):
        return None
    _, c, h, wd = x.shape
    f, cg, kh, kw = dwt.shape
    groups = int(a["num_group"])
    fg = f // groups
    (ph, pw) = a["pad"]
    grid = _Grid(h + 2 * ph, wd + 2 * pw, dy.shape[2], dy.shape[3], (kh, kw), a["stride"],
                 a["dilate"])
    # FB*kw accumulators + kw inputs + 1 must fit 16 AVX2 registers
    nb, fb = _blocks(fg, max(1, (15 - kw) // kw))
    fill = _fill_input("x", grid, c, ph, pw, h, wd)
    ind = " " * 20
    body = []
    for j in range(kw):
        off = f"ro + {j * grid.dw}"
        body.append(f"{ind}    x{j} = xr[{grid.index(off)}]")
    for q in range(fb):
        body.append(f"{ind}    d{q} = dg[f0 + {q}, p]")
        for j in range(kw):
            body.append(f"{ind}    s{q}_{j} += d{q} * x{j}")
    # typed zeros: a float64 0.0 would make float32 sums accumulate (and vectorise) as float64
    zero = "\n".join(f"{ind}s{q}_{j} = np.{x.dtype.name}(0)" for q in range(fb) for j in range(kw))
    store = "\n".join(f"{ind}acc[f0 + {q}, c, i, {j}] += s{q}_{j}"
                      for q in range(fb) for j in range(kw))
    if epilogue is None:
        params, bias, bsum, bput = "dw", "", "", ""
    else:
        params = "dw, db"
        bias = f"    bs = np.zeros({f}, np.float64)\n"
        bsum = f"""                    t = 0.0
                    for ow in range({grid.ow}):
                        v = dy[n, g * {fg} + ff, oh, ow]
                        dg[g * {nb * fb} + ff, oh * {grid.r} + ow] = v
                        t += v
                    bs[g * {fg} + ff] += t
"""
        bput = f"""    dbf = db.reshape(-1)
    for f in range({f}):
        dbf[f] = bs[f]
"""
    copy = bsum or f"""                    for ow in range({grid.ow}):
                        dg[g * {nb * fb} + ff, oh * {grid.r} + ow] = dy[n, g * {fg} + ff, oh, ow]
"""
    return _HEAD + f"""def kernel(dy, x, {params}):
    N = x.shape[0]
    xp = np.zeros(({c}, {grid.hp * grid.wp}), x.dtype)
    dg = np.zeros(({groups * nb * fb}, {grid.g}), x.dtype)
    acc = np.zeros(({groups * nb * fb}, {cg}, {kh}, {kw}), x.dtype)
{bias}    for n in range(N):
{fill}        for g in range({groups}):
            for ff in range({fg}):
                for oh in range({grid.oh}):
{copy}        for gb in range({groups * nb}):
            gi = (gb // {nb}) * {cg}
            f0 = gb * {fb}
            for c in range({cg}):
                xr = xp[gi + c]
                for i in range({kh}):
                    ro = i * {grid.dh * grid.wp}
{zero}
                    for p in range({grid.g}):
{chr(10).join(body)}
{store}
    for g in range({groups}):
        for b in range({fg}):
            for c in range({cg}):
                for i in range({kh}):
                    for j in range({kw}):
                        dw[g * {fg} + b, c, i, j] = acc[g * {nb * fb} + b, c, i, j]
{bput}"""
