"""Numba kernel builders for row ops (the JIT's codegen hint, ``Op(kernel=...)``):
softmax, log_softmax, their gradients, the fused cross-entropy ops of ``nn_rows``,
pick / _pick_grad, and the normalization ops (_normalize, its gradient _normalize_grad,
_batch_norm_infer).

Every builder returns the source of ``kernel(in0, ..., out0, ...)`` over C-contiguous
arrays, or None when the node is not handled (then the NumPy rule runs). Sizes come
from the arrays, never literals, so nodes differing only in shape share one source
(one compile); the axis, mode, temperature, scale and eps are literals.

Row layout: an array of ``shape`` with a reduction ``axis`` is viewed as
``(A, K, B)`` (outer, along the axis, inner). When ``B == 1`` (the last axis, the
common case) rows are contiguous ``(A, K)`` views and the loops over ``k``
vectorise; otherwise each row is the strided lane ``[a, :, b]``. Per-row values
(labels, losses, head gradients) are viewed as ``(A,)`` / ``(A, B)``.
"""
import numpy as np

__all__ = ["softmax_kernel", "log_softmax_kernel", "softmax_xent_kernel", "xent_grad_kernel",
           "dense_xent_kernel", "dense_xent_grad_kernel",
           "log_softmax_grad_kernel", "softmax_grad_kernel", "pick_kernel", "pick_grad_kernel",
           "normalize_kernel", "normalize_grad_kernel", "batch_norm_infer_kernel"]

# No 'reassoc' in the softmax family: it would turn the stable ``(x - max) - log(sum)``
# into ``x - (max + log(sum))`` (5e-6 relative error at logits ~90 in float32). The
# normalization kernels keep it (their float64 statistics sums then vectorise).
_DEC = ("@numba.njit(cache=True, error_model='numpy', "
        "fastmath={'nsz', 'arcp', 'contract', 'afn'})\n")
_DEC_NORM = ("@numba.njit(cache=True, error_model='numpy', "
             "fastmath={'nsz', 'arcp', 'contract', 'afn', 'reassoc'})\n")
_FLOATS = (np.dtype(np.float32), np.dtype(np.float64))

# Put in front of float32 kernels that call exp (tests/test_jit_rows.py checks it).
EXP32 = """from llvmlite import ir as _ir
from numba.core import types as _types
from numba.extending import intrinsic as _intrinsic


@_intrinsic
def _f32_from_bits(typingctx, i):
    def codegen(context, builder, sig, args):
        return builder.bitcast(args[0], _ir.FloatType())
    return _types.float32(_types.int32), codegen


@numba.njit(inline='always', error_model='numpy', fastmath={'nsz', 'arcp', 'contract', 'afn'})
def _exp32(x):
    # exp of a float32 that LLVM vectorises (libm's expf is a scalar call): Cephes'
    # expf polynomial on x - n*ln2, times 2**n built from bits in two halves (so
    # subnormal results round correctly); <= 2 ulp from NumPy, inf/NaN/underflow exact.
    t = min(max(x, np.float32(-104.0)), np.float32(88.75))
    fx = np.floor(t * np.float32(1.44269504088896341) + np.float32(0.5))
    r = t - fx * np.float32(0.693359375)
    r = r - fx * np.float32(-2.12194440e-4)
    p = ((((np.float32(1.9875691500e-4) * r + np.float32(1.3981999507e-3)) * r
           + np.float32(8.3334519073e-3)) * r + np.float32(4.1665795894e-2)) * r
         + np.float32(1.6666665459e-1)) * r + np.float32(5.0000001201e-1)
    y = p * (r * r) + r + np.float32(1.0)
    n = np.int32(fx)
    h = n >> 1
    y = (y * _f32_from_bits((h + 127) << 23)) * _f32_from_bits((n - h + 127) << 23)
    y = y if x > np.float32(-104.0) else np.float32(0.0)
    y = y if x < np.float32(88.72283) else np.float32(np.inf)
    return y if x == x else x


"""


def with_exp32(src, dtype):
    """``src`` calling the vectorisable ``_exp32`` instead of ``np.exp`` (float32 only)."""
    if np.dtype(dtype) != np.float32 or "np.exp(" not in src:
        return src
    return EXP32 + src.replace("np.exp(", "_exp32(")


def _ok(*values):
    """Float32/float64 values, none empty."""
    return all(v.dtype in _FLOATS and v.size > 0 for v in values)


def _lit(x, dtype):
    return f"np.{np.dtype(dtype).name}({float(x)!r})"


def _inner(shape, axis):
    ax = axis % len(shape)
    return ax, int(np.prod(shape[ax + 1:], dtype=np.int64))


def _render(args, rows, lanes, body, ax, contig, dec=_DEC):
    """A kernel over rows: ``rows`` are (A, K, B) arrays (the first gives the layout),
    ``lanes`` one value per row; ``body`` lines use ``<name>r`` (the row), ``{lane}``
    (the index of a per-row value) and ``K``."""
    x = rows[0]
    lines = [dec + f"def kernel({', '.join(args)}):",
             f"    K = {x}.shape[{ax}]",
             "    A = 1",
             f"    for d in range({ax}):",
             f"        A *= {x}.shape[d]",
             f"    B = {x}.size // (A * K)"]
    for r in rows:
        lines.append(f"    {r}v = {r}.reshape((A, K))" if contig else
                     f"    {r}v = {r}.reshape((A, K, B))")
    for v in lanes:
        lines.append(f"    {v}v = {v}.reshape(A)" if contig else f"    {v}v = {v}.reshape((A, B))")
    lines.append("    for a in range(A):")
    ind = "        "
    if not contig:
        lines.append("        for b in range(B):")
        ind += "    "
    for r in rows:
        lines.append(f"{ind}{r}r = {r}v[a]" if contig else f"{ind}{r}r = {r}v[a, :, b]")
    lane = "a" if contig else "a, b"
    lines += [ind + line.format(lane=lane) for line in body]
    return "\n".join(lines) + "\n"


def _index_lines(mode):
    """Body lines setting ``i``: the row's label as an in-range position (pick's modes)."""
    lines = ["i = int(indexv[{lane}])"]
    if mode == "clip":
        lines.append("i = min(max(i, 0), K - 1)")
    else:  # wrap (Python's modulo: non-negative)
        lines.append("i = i % K")
    return lines


def _scaled(expr, scale, dtype):
    if scale == 1.0:
        return expr
    if scale == -1.0:
        return f"-({expr})"
    return f"({expr}) * {_lit(scale, dtype)}"


def _value(temperature, dtype):
    """Expression of element ``k`` of row ``xr``, divided by the temperature if any."""
    if temperature is None or temperature == 1.0:
        return "xr[{k}]"
    return "xr[{k}] / " + _lit(temperature, dtype)


def _log_softmax_body(temperature, dtype, out):
    v = _value(temperature, dtype)
    # exp into the output row first (a loop without a reduction: it vectorises), then sum
    return ["m = " + v.format(k=0),
            "for k in range(1, K):",
            "    m = max(m, " + v.format(k="k") + ")",
            "for k in range(K):",
            f"    {out}r[k] = np.exp(" + v.format(k="k") + " - m)",
            f"s = {_lit(0, dtype)}",
            "for k in range(K):",
            f"    s += {out}r[k]",
            "ls = np.log(s)",
            "for k in range(K):",
            f"    {out}r[k] = (" + v.format(k="k") + " - m) - ls"]


# ---- softmax / log_softmax -----------------------------------------------------------------
def softmax_kernel(node):
    x = node.inputs[0]
    if not _ok(x):
        return None
    ax, inner = _inner(x.shape, node.attrs.get("axis", -1))
    t = node.attrs.get("temperature")
    v = _value(t, x.dtype)
    body = ["m = " + v.format(k=0),
            "for k in range(1, K):",
            "    m = max(m, " + v.format(k="k") + ")",
            "for k in range(K):",
            "    outr[k] = np.exp(" + v.format(k="k") + " - m)",
            f"s = {_lit(0, x.dtype)}",
            "for k in range(K):",
            "    s += outr[k]",
            "for k in range(K):",
            "    outr[k] = outr[k] / s"]
    return with_exp32(_render(["x", "out"], ["x", "out"], [], body, ax, inner == 1), x.dtype)


def log_softmax_kernel(node):
    x = node.inputs[0]
    if not _ok(x):
        return None
    ax, inner = _inner(x.shape, node.attrs.get("axis", -1))
    body = _log_softmax_body(node.attrs.get("temperature"), x.dtype, "out")
    return with_exp32(_render(["x", "out"], ["x", "out"], [], body, ax, inner == 1), x.dtype)


def softmax_grad_kernel(node):
    g, o = node.inputs
    if not _ok(g, o) or g.shape != o.shape or g.dtype != o.dtype:
        return None
    ax, inner = _inner(o.shape, node.attrs.get("axis", -1))
    dt = o.dtype
    body = [f"t = {_lit(0, dt)}",
            "for k in range(K):",
            "    t += gr[k] * outr[k]",
            "for k in range(K):",
            "    dxr[k] = " + _scaled("outr[k] * (gr[k] - t)", node.attrs.get("scale", 1.0), dt)]
    return _render(["g", "out", "dx"], ["g", "out", "dx"], [], body, ax, inner == 1)


def log_softmax_grad_kernel(node):
    g, o = node.inputs
    if not _ok(g, o) or g.shape != o.shape or g.dtype != o.dtype:
        return None
    ax, inner = _inner(o.shape, node.attrs.get("axis", -1))
    dt = o.dtype
    body = [f"t = {_lit(0, dt)}",
            "for k in range(K):",
            "    t += gr[k]",
            "for k in range(K):",
            "    dxr[k] = " + _scaled("gr[k] - np.exp(outr[k]) * t",
                                      node.attrs.get("scale", 1.0), dt)]
    return with_exp32(_render(["g", "out", "dx"], ["g", "out", "dx"], [], body, ax, inner == 1),
                      dt)


# ---- fused cross-entropy -------------------------------------------------------------------
def softmax_xent_kernel(node):
    x, index = node.inputs
    a = node.attrs
    if not _ok(x) or a.get("mode", "clip") not in ("clip", "wrap"):
        return None
    ax, inner = _inner(x.shape, a.get("axis", -1))
    body = _log_softmax_body(a.get("temperature"), x.dtype, "lp")
    body += _index_lines(a.get("mode", "clip"))
    body.append("lossv[{lane}] = " + _scaled("lpr[i]", a.get("scale", -1.0), x.dtype))
    return with_exp32(_render(["x", "index", "loss", "lp"], ["x", "lp"], ["index", "loss"], body,
                              ax, inner == 1), x.dtype)


def xent_grad_kernel(node):
    g, logp, index = node.inputs
    a = node.attrs
    if not _ok(g, logp) or g.dtype != logp.dtype or a.get("mode", "clip") not in ("clip", "wrap"):
        return None
    ax, inner = _inner(logp.shape, a.get("axis", -1))
    dt = logp.dtype
    body = ["gs = " + _scaled("gv[{lane}]", a.get("scale", 1.0), dt),
            "for k in range(K):",
            "    dxr[k] = gs * np.exp(lpr[k])"]
    body += _index_lines(a.get("mode", "clip"))
    body.append(f"dxr[i] = gs * (np.exp(lpr[i]) - {_lit(1, dt)})")
    return with_exp32(_render(["g", "lp", "index", "dx"], ["lp", "dx"], ["g", "index"], body, ax,
                              inner == 1), dt)


def dense_xent_kernel(node):
    x, label = node.inputs
    a = node.attrs
    if not _ok(x, label) or x.dtype != label.dtype or x.shape != label.shape:
        return None
    ax, inner = _inner(x.shape, a.get("axis", -1))
    body = _log_softmax_body(a.get("temperature"), x.dtype, "lp")
    body += [f"t = {_lit(0, x.dtype)}",
             "for k in range(K):",
             "    t += lpr[k] * yr[k]",
             "lossv[{lane}] = " + _scaled("t", a.get("scale", -1.0), x.dtype)]
    return with_exp32(_render(["x", "y", "loss", "lp"], ["x", "y", "lp"], ["loss"], body,
                              ax, inner == 1), x.dtype)


def dense_xent_grad_kernel(node):
    g, logp, label = node.inputs
    if not _ok(g, logp, label) or len({v.dtype for v in node.inputs}) != 1 \
            or label.shape != logp.shape:
        return None
    ax, inner = _inner(logp.shape, node.attrs.get("axis", -1))
    dt = logp.dtype
    body = [f"s = {_lit(0, dt)}",
            "for k in range(K):",
            "    s += yr[k]",
            "gs = " + _scaled("gv[{lane}]", node.attrs.get("scale", 1.0), dt),
            "for k in range(K):",
            "    dxr[k] = gs * (np.exp(lpr[k]) * s - yr[k])"]
    return with_exp32(_render(["g", "lp", "y", "dx"], ["lp", "y", "dx"], ["g"], body, ax,
                              inner == 1), dt)


# ---- pick / _pick_grad ---------------------------------------------------------------------
def pick_kernel(node):
    x, index = node.inputs
    a = node.attrs
    if not _ok(x) or a.get("mode", "clip") not in ("clip", "wrap"):
        return None
    ax, inner = _inner(x.shape, a.get("axis", -1))
    body = _index_lines(a.get("mode", "clip")) + ["outv[{lane}] = xr[i]"]
    return _render(["x", "index", "out"], ["x"], ["index", "out"], body, ax, inner == 1)


def pick_grad_kernel(node):
    g, index = node.inputs
    a = node.attrs
    out = node.outputs[0]
    if not _ok(g, out) or g.dtype != out.dtype or a.get("mode", "clip") not in ("clip", "wrap"):
        return None
    ax, inner = _inner(out.shape, a.get("axis", -1))
    body = ["for k in range(K):",
            f"    dxr[k] = {_lit(0, out.dtype)}"]
    body += _index_lines(a.get("mode", "clip")) + ["dxr[i] = gv[{lane}]"]
    return _render(["g", "index", "dx"], ["dx"], ["g", "index"], body, ax, inner == 1)


# ---- normalization -------------------------------------------------------------------------
def normalize_kernel(node):
    """``_normalize``: LayerNorm (statistics along the channel axis) and BatchNorm
    (statistics over every other axis). Statistics accumulate in float64."""
    x, gamma, beta = node.inputs
    a = node.attrs
    if not _ok(x, gamma, beta) or not (gamma.dtype == beta.dtype == x.dtype):
        return None
    nd = x.ndim
    ch = a.get("ch_axis", 1) % nd
    axes = a.get("axes", ())
    axes = tuple(sorted(int(d) % nd for d in ((axes,) if isinstance(axes, int) else axes)))
    eps, dt = float(a.get("eps", 1e-5)), x.dtype
    gam = "" if a.get("fix_gamma") else " * gamma[{c}]"
    if axes == (ch,):
        _, inner = _inner(x.shape, ch)
        body = ["s = 0.0",
                "for k in range(K):",
                "    s += xr[k]",
                "mu = s / K",
                "q = 0.0",
                "for k in range(K):",
                "    d = xr[k] - mu",
                "    q += d * d",
                "var = q / K",
                "meanv[{lane}] = mu",
                "varv[{lane}] = var",
                f"inv = np.{dt.name}(1.0 / np.sqrt(np.{dt.name}(var) + {_lit(eps, dt)}))",
                f"mt = np.{dt.name}(mu)",
                "for k in range(K):",
                "    yr[k] = (xr[k] - mt) * inv" + gam.format(c="k") + " + beta[k]"]
        return _render(["x", "gamma", "beta", "y", "mean", "var"], ["x", "y"], ["mean", "var"],
                       body, ch, inner == 1, _DEC_NORM)
    if axes != tuple(d for d in range(nd) if d != ch) or not axes:
        return None
    _, inner = _inner(x.shape, ch)
    view = "(A, C)" if inner == 1 else "(A, C, B)"
    head = _DEC_NORM + f"""def kernel(x, gamma, beta, y, mean, var):
    C = x.shape[{ch}]
    A = 1
    for d in range({ch}):
        A *= x.shape[d]
    B = x.size // (A * C)
    n = A * B
    xv = x.reshape({view})
    yv = y.reshape({view})
    mf = mean.reshape(C)
    vf = var.reshape(C)
    s = np.zeros(C, np.float64)
    q = np.zeros(C, np.float64)
    sc = np.empty(C, x.dtype)
    mt = np.empty(C, x.dtype)
"""
    gmul = "" if a.get("fix_gamma") else " * gamma[c]"
    if inner == 1:    # (N, C): sweep rows, channels innermost (contiguous, vectorises)
        body = f"""    for i in range(A):
        r = xv[i]
        for c in range(C):
            s[c] += r[c]
    for c in range(C):
        s[c] = s[c] / n
    for i in range(A):
        r = xv[i]
        for c in range(C):
            d = r[c] - s[c]
            q[c] += d * d
    for c in range(C):
        v = q[c] / n
        mf[c] = s[c]
        vf[c] = v
        mt[c] = s[c]
        sc[c] = np.{dt.name}(1.0 / np.sqrt(np.{dt.name}(v) + {_lit(eps, dt)})){gmul}
    for i in range(A):
        r = xv[i]
        o = yv[i]
        for c in range(C):
            o[c] = (r[c] - mt[c]) * sc[c] + beta[c]
"""
    else:             # (N, C, H, W ...): per channel, contiguous inner rows
        body = f"""    for c in range(C):
        t = 0.0
        for i in range(A):
            r = xv[i, c]
            for j in range(B):
                t += r[j]
        mu = t / n
        t = 0.0
        for i in range(A):
            r = xv[i, c]
            for j in range(B):
                d = r[j] - mu
                t += d * d
        v = t / n
        mf[c] = mu
        vf[c] = v
        m = np.{dt.name}(mu)
        k = np.{dt.name}(1.0 / np.sqrt(np.{dt.name}(v) + {_lit(eps, dt)})){gmul}
        bb = beta[c]
        for i in range(A):
            r = xv[i, c]
            o = yv[i, c]
            for j in range(B):
                o[j] = (r[j] - m) * k + bb
"""
    return head + body


def _norm_layout(x, a):
    """(channel axis, statistics axes) of a ``_normalize``/``_normalize_grad`` node, and
    'rows' (LayerNorm: statistics along the channel axis), 'channels' (BatchNorm: over
    every other axis) or None (another layout: the NumPy rule runs)."""
    nd = x.ndim
    ch = a.get("ch_axis", 1) % nd
    axes = a.get("axes", ())
    axes = tuple(sorted(int(d) % nd for d in ((axes,) if isinstance(axes, int) else axes)))
    if axes == (ch,):
        return ch, "rows"
    if axes and axes == tuple(d for d in range(nd) if d != ch):
        return ch, "channels"
    return ch, None


def normalize_grad_kernel(node):
    """``_normalize_grad``: ``(d_data, d_gamma, d_beta)`` in two sweeps over the data (sums,
    then ``d_data``); ``d_data`` is an affine map of ``grad`` and ``data`` per row
    (LayerNorm) or per channel (BatchNorm), its coefficients computed once per row /
    channel. LayerNorm's sums (along a row, and down the columns for ``d_gamma``/``d_beta``)
    accumulate in the data's dtype, as NumPy's do (float64 halved its speed); BatchNorm's
    per-channel sums, over the whole batch, in float64."""
    g, x, gamma, mean, var = node.inputs
    a = node.attrs
    if not _ok(g, x, gamma, mean, var) or len({v.dtype for v in node.inputs}) != 1:
        return None
    ch, kind = _norm_layout(x, a)
    if kind is None:
        return None
    dt, eps = x.dtype.name, _lit(a.get("eps", 1e-5), np.float64)
    fix = bool(a.get("fix_gamma"))
    _, inner = _inner(x.shape, ch)
    if kind == "rows":       # LayerNorm: one row per (a, b), gamma along the row
        contig = inner == 1
        row = "[a]" if contig else "[a, :, b]"
        lane = "[a]" if contig else "[a, b]"
        gam = "" if fix else " * gamma[k]"
        src = _DEC_NORM + f"""def kernel(g, x, gamma, mean, var, dx, dgamma, dbeta):
    K = x.shape[{ch}]
    A = 1
    for d in range({ch}):
        A *= x.shape[d]
    B = x.size // (A * K)
    view = {"(A, K)" if contig else "(A, K, B)"}
    gv = g.reshape(view)
    xv = x.reshape(view)
    dxv = dx.reshape(view)
    mv = mean.reshape({"A" if contig else "(A, B)"})
    vv = var.reshape({"A" if contig else "(A, B)"})
    sg = np.zeros(K, x.dtype)
    sb = np.zeros(K, x.dtype)
    for a in range(A):
"""
        ind = "        "
        if not contig:
            src += "        for b in range(B):\n"
            ind += "    "
        body = f"""gr = gv{row}
xr = xv{row}
dxr = dxv{row}
inv = 1.0 / np.sqrt(np.float64(vv{lane}) + {eps})
mt = np.{dt}(mv{lane})
it = np.{dt}(inv)
s1 = np.{dt}(0.0)
s2 = np.{dt}(0.0)
for k in range(K):
    gk = gr[k]
    xh = (xr[k] - mt) * it
    sb[k] += gk
    sg[k] += gk * xh
    ak = gk{gam}
    s1 += ak
    s2 += ak * xh
c1 = np.{dt}(s1 / K * inv)
c2 = np.{dt}(s2 / K * inv * inv)
for k in range(K):
    dxr[k] = gr[k]{gam} * it - c1 - (xr[k] - mt) * c2
"""
        src += "".join(ind + line + "\n" for line in body.splitlines())
        src += "    for k in range(K):\n"
        src += ("        dgamma[k] = 0.0\n" if fix else "        dgamma[k] = sg[k]\n")
        src += "        dbeta[k] = sb[k]\n"
        return src
    # BatchNorm: per channel c; d_data = g * k1[c] + (x - mean[c]) * k2[c] + k0[c]
    gm = "1.0" if fix else "np.float64(gamma[c])"
    view = "(A, C)" if inner == 1 else "(A, C, B)"
    src = _DEC_NORM + f"""def kernel(g, x, gamma, mean, var, dx, dgamma, dbeta):
    C = x.shape[{ch}]
    A = 1
    for d in range({ch}):
        A *= x.shape[d]
    B = x.size // (A * C)
    n = A * B
    gv = g.reshape({view})
    xv = x.reshape({view})
    dxv = dx.reshape({view})
    mt = mean.reshape(C)
    vf = var.reshape(C)
    s1 = np.zeros(C, np.float64)
    s2 = np.zeros(C, np.float64)
    k0 = np.empty(C, x.dtype)
    k1 = np.empty(C, x.dtype)
    k2 = np.empty(C, x.dtype)
"""
    if inner == 1:
        src += """    for i in range(A):
        gr = gv[i]
        xr = xv[i]
        for c in range(C):
            gk = gr[c]
            s1[c] += gk
            s2[c] += gk * (xr[c] - mt[c])
"""
    else:
        src += """    for c in range(C):
        t1 = 0.0
        t2 = 0.0
        m = mt[c]
        for i in range(A):
            gr = gv[i, c]
            xr = xv[i, c]
            for j in range(B):
                gk = gr[j]
                t1 += gk
                t2 += gk * (xr[j] - m)
        s1[c] = t1
        s2[c] = t2
"""
    src += f"""    for c in range(C):
        inv = 1.0 / np.sqrt(np.float64(vf[c]) + {eps})
        gam = {gm}
        sgx = s2[c] * inv
        dbeta[c] = s1[c]
        dgamma[c] = {"0.0" if fix else "sgx"}
        k1[c] = gam * inv
        k0[c] = -(gam * s1[c] / n) * inv
        k2[c] = -(gam * sgx / n) * inv * inv
"""
    if inner == 1:
        src += """    for i in range(A):
        gr = gv[i]
        xr = xv[i]
        o = dxv[i]
        for c in range(C):
            o[c] = gr[c] * k1[c] + (xr[c] - mt[c]) * k2[c] + k0[c]
"""
    else:
        src += """    for i in range(A):
        for c in range(C):
            gr = gv[i, c]
            xr = xv[i, c]
            o = dxv[i, c]
            m = mt[c]
            a1 = k1[c]
            a2 = k2[c]
            a0 = k0[c]
            for j in range(B):
                o[j] = gr[j] * a1 + (xr[j] - m) * a2 + a0
"""
    return src


def batch_norm_infer_kernel(node):
    x, gamma, beta, mm, mv = node.inputs
    a = node.attrs
    if not _ok(x, gamma, beta, mm, mv) or len({v.dtype for v in node.inputs}) != 1:
        return None
    ch = a.get("axis", 1) % x.ndim
    dt = x.dtype
    _, inner = _inner(x.shape, ch)
    gmul = "" if a.get("fix_gamma", True) else " * gamma[c]"
    src = _DEC_NORM + f"""def kernel(x, gamma, beta, mm, mv, y):
    C = x.shape[{ch}]
    A = 1
    for d in range({ch}):
        A *= x.shape[d]
    B = x.size // (A * C)
    xv = x.reshape({"(A, C)" if inner == 1 else "(A, C, B)"})
    yv = y.reshape({"(A, C)" if inner == 1 else "(A, C, B)"})
    sc = np.empty(C, x.dtype)
    for c in range(C):
        sc[c] = np.{dt.name}(1.0) / np.sqrt(mv[c] + {_lit(a.get('eps', 1e-3), dt)}){gmul}
"""
    if inner == 1:
        src += """    for i in range(A):
        r = xv[i]
        o = yv[i]
        for c in range(C):
            o[c] = (r[c] - mm[c]) * sc[c] + beta[c]
"""
    else:
        src += """    for i in range(A):
        for c in range(C):
            r = xv[i, c]
            o = yv[i, c]
            m = mm[c]
            k = sc[c]
            bb = beta[c]
            for j in range(B):
                o[j] = (r[j] - m) * k + bb
"""
    return src
