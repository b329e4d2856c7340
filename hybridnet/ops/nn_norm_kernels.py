"""Numba kernel builders for the normalization ops (the JIT's codegen hint,
``Op(kernel=...)``): ``_normalize`` (LayerNorm rows, BatchNorm channels), its gradient
``_normalize_grad`` and ``_batch_norm_infer``.

Conventions as in ``nn_rows_kernels.py`` (sizes from the arrays, never literals; None
when a node is not handled). Per-channel kernels view the data as ``(A, C)`` or
``(A, C, B)`` around the channel axis and accumulate statistics in float64.
"""
import numpy as np

from .nn_rows_kernels import _DEC_NORM, _inner, _lit, _ok, _render

__all__ = ["normalize_kernel", "normalize_grad_kernel", "batch_norm_infer_kernel"]


def _channel_dims(ch):
    """Kernel lines binding ``C`` (channels at axis ``ch``), ``A`` (outer), ``B``
    (inner) and ``n = A * B`` (values per channel)."""
    return f"""    C = x.shape[{ch}]
    A = 1
    for d in range({ch}):
        A *= x.shape[d]
    B = x.size // (A * C)
    n = A * B
"""


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
{_channel_dims(ch)}    xv = x.reshape({view})
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
{_channel_dims(ch)}    gv = g.reshape({view})
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
{_channel_dims(ch)}    xv = x.reshape({"(A, C)" if inner == 1 else "(A, C, B)"})
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
