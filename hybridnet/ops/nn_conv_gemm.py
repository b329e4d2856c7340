"""Kernel sources for 2-D convolution as im2col + GEMM, for shapes where the GEMM is big
enough to pay (DESIGN.md §5b: K = C*kh*kw >= ~100 and C_out >= 16).

The module's ``kernel`` is a plain Python function: Numba helpers gather patches of a
chunk of samples into ``cols (B, K, P)`` (or scatter them back), and NumPy's BLAS (the
JIT's one BLAS library, pinned to one thread) multiplies. A chunk of ``B`` samples keeps
``cols`` around 1 MB, in cache between the gather and the GEMM, instead of one 8 MB
matrix for the batch. Geometry is baked into the source as literals.
"""

__all__ = ["Geo", "gemm_forward", "gemm_bwd_data"]

_NJIT = "@numba.njit(cache=True, error_model='numpy')\n"
_FM = "{'nsz', 'arcp', 'contract', 'afn', 'reassoc'}"   # NaN/inf-safe (DESIGN.md §5)
_CHUNK_BYTES = 1 << 20


class Geo:
    """Literal geometry of one convolution: x (N, C, H, W), w (F, C, kh, kw), out (OH, OW)."""

    def __init__(self, c, h, w, f, kh, kw, oh, ow, stride, dilate, pad, itemsize):
        self.c, self.h, self.w, self.f, self.kh, self.kw = c, h, w, f, kh, kw
        self.oh, self.ow = oh, ow
        (self.sh, self.sw), (self.dh, self.dw), (self.ph, self.pw) = stride, dilate, pad
        self.k, self.p = c * kh * kw, oh * ow
        self.b = max(1, _CHUNK_BYTES // (self.k * self.p * itemsize))


def _rows(geo, body):
    """Loop nest over (b, c, i, j, oh) with the valid ``ow`` range [lo, hi) of input row ``h``;
    ``body(zero)`` gives the statements for one (row, ow) (``zero``: outside the input)."""
    g = geo
    return f"""    for b in range(nb):
        n = n0 + b
        for c in range({g.c}):
            for i in range({g.kh}):
                for j in range({g.kw}):
                    k = (c * {g.kh} + i) * {g.kw} + j
                    lo = max(0, ({g.pw} - j * {g.dw} + {g.sw - 1}) // {g.sw})
                    hi = min({g.ow}, ({g.w - 1 + g.pw} - j * {g.dw}) // {g.sw} + 1)
                    for oh in range({g.oh}):
                        h = oh * {g.sh} + i * {g.dh} - {g.ph}
                        q = oh * {g.ow}
                        if h < 0 or h >= {g.h}:
{body(True)}
                        else:
{body(False)}
"""


def _im2col(geo):
    """``im2col(x, n0, nb, cols)``: cols[b, k, oh*OW + ow] for samples n0 .. n0+nb-1."""
    g = geo
    ind = " " * 28

    def body(zero):
        if zero:
            return f"{ind}for ow in range({g.ow}):\n{ind}    cols[b, k, q + ow] = 0"
        return (f"{ind}for ow in range(lo):\n{ind}    cols[b, k, q + ow] = 0\n"
                f"{ind}for ow in range(lo, hi):\n"
                f"{ind}    cols[b, k, q + ow] = x[n, c, h, ow * {g.sw} + j * {g.dw} - {g.pw}]\n"
                f"{ind}for ow in range(hi, {g.ow}):\n{ind}    cols[b, k, q + ow] = 0")
    return _NJIT + "def im2col(x, n0, nb, cols):\n" + _rows(geo, body)


def _col2im(geo):
    """``col2im(cols, n0, nb, dx)``: adds each column entry back to its input pixel."""
    g = geo
    ind = " " * 28

    def body(zero):
        if zero:
            return f"{ind}pass"
        return (f"{ind}for ow in range(lo, hi):\n"
                f"{ind}    dx[n, c, h, ow * {g.sw} + j * {g.dw} - {g.pw}] += cols[b, k, q + ow]")
    zero = f"""    for b in range(nb):
        for c in range({g.c}):
            for h in range({g.h}):
                for v in range({g.w}):
                    dx[n0 + b, c, h, v] = 0
"""
    return _NJIT + "def col2im(cols, n0, nb, dx):\n" + zero + _rows(geo, body)


def _epilogue_loop(geo, epilogue):
    """``epilogue(yc, n0, nb, x, w, ...)``: the chunk's GEMM result through the epilogue
    into its outputs, while it is in cache."""
    g = geo
    put = epilogue.store(f"yc[b, f, oh * {g.ow} + ow]", ["n0 + b", "f", "oh", "ow"],
                         " " * 20, ("x", "w"))
    return _NJIT.replace("error_model='numpy'", f"error_model='numpy', fastmath={_FM}") + \
        f"""def epilogue(yc, n0, nb, x, w, {", ".join(epilogue.params)}):
    for b in range(nb):
        for f in range({g.f}):
            for oh in range({g.oh}):
                for ow in range({g.ow}):
{put}"""


def gemm_forward(geo, epilogue=None):
    """``kernel(x, w, out)``: out[n] = w (F, K) @ cols[n] (K, P), a chunk of samples per matmul.

    With an ``epilogue`` (``kernel(x, w, *epilogue.params)``) the GEMM writes a chunk
    buffer that one loop passes through the epilogue right after it."""
    g = geo
    if epilogue is not None:
        params = ", ".join(epilogue.params)
        return _im2col(g) + "\n\n" + _epilogue_loop(g, epilogue) + f"""

def kernel(x, w, {params}):
    N = x.shape[0]
    wm = w.reshape({g.f}, {g.k})
    cols = np.empty(({g.b}, {g.k}, {g.p}), x.dtype)
    yc = np.empty(({g.b}, {g.f}, {g.p}), x.dtype)
    for n0 in range(0, N, {g.b}):
        nb = min({g.b}, N - n0)
        im2col(x, n0, nb, cols)
        np.matmul(wm, cols[:nb], out=yc[:nb])
        epilogue(yc, n0, nb, x, w, {params})
"""
    return _im2col(g) + f"""

def kernel(x, w, out):
    N = x.shape[0]
    wm = w.reshape({g.f}, {g.k})
    y = out.reshape(N, {g.f}, {g.p})
    cols = np.empty(({g.b}, {g.k}, {g.p}), x.dtype)
    for n0 in range(0, N, {g.b}):
        nb = min({g.b}, N - n0)
        im2col(x, n0, nb, cols)
        np.matmul(wm, cols[:nb], out=y[n0:n0 + nb])
"""


def _grid_bwd_data(geo):
    """Stride 1: the columns on a row-padded grid (``dy`` rows ``Wp = W + 2*pw`` apart, zeros
    between), so scattering them back is one long vectorised add per tap:
    ``dxp[c, p + i*dh*Wp + j*dw] += cols[c, i, j, p]``; a 12-wide row at a time was 2x slower.
    """
    g = geo
    wp = g.w + 2 * g.pw
    hp = g.h + 2 * g.ph
    gl = (g.oh - 1) * wp + g.ow
    return _NJIT + f"""def to_grid(dy, n0, nb, dg):
    for b in range(nb):
        for f in range({g.f}):
            for oh in range({g.oh}):
                for ow in range({g.ow}):
                    dg[b, f, oh * {wp} + ow] = dy[n0 + b, f, oh, ow]


""" + _NJIT + f"""def col2im(cols, n0, nb, dx):
    xp = np.empty({hp * wp}, dx.dtype)
    for b in range(nb):
        for c in range({g.c}):
            for p in range({hp * wp}):
                xp[p] = 0
            for t in range({g.kh * g.kw}):
                off = (t // {g.kw}) * {g.dh * wp} + (t % {g.kw}) * {g.dw}
                k = c * {g.kh * g.kw} + t
                for p in range({gl}):
                    xp[p + off] += cols[b, k, p]
            for h in range({g.h}):
                for v in range({g.w}):
                    dx[n0 + b, c, h, v] = xp[(h + {g.ph}) * {wp} + v + {g.pw}]


def kernel(dy, w, dx):
    N = dy.shape[0]
    wt = w.reshape({g.f}, {g.k}).T
    dg = np.zeros(({g.b}, {g.f}, {gl}), dy.dtype)
    cols = np.empty(({g.b}, {g.k}, {gl}), dy.dtype)
    for n0 in range(0, N, {g.b}):
        nb = min({g.b}, N - n0)
        to_grid(dy, n0, nb, dg)
        np.matmul(wt, dg[:nb], out=cols[:nb])
        col2im(cols, n0, nb, dx)
"""


def gemm_bwd_data(geo):
    """``kernel(dy, w, dx)``: cols[n] = w.T (K, F) @ dy[n] (F, P), then col2im into dx."""
    g = geo
    if (g.sh, g.sw) == (1, 1):
        return _grid_bwd_data(g)
    return _col2im(g) + f"""

def kernel(dy, w, dx):
    N = dy.shape[0]
    wt = w.reshape({g.f}, {g.k}).T
    d = dy.reshape(N, {g.f}, {g.p})
    cols = np.empty(({g.b}, {g.k}, {g.p}), dy.dtype)
    for n0 in range(0, N, {g.b}):
        nb = min({g.b}, N - n0)
        np.matmul(wt, d[n0:n0 + nb], out=cols[:nb])
        col2im(cols, n0, nb, dx)
"""
