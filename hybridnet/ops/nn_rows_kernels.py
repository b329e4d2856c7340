"""Numba kernel builders for row ops (the JIT's codegen hint, ``Op(kernel=...)``):
softmax, log_softmax, their gradients, the fused cross-entropy ops of ``nn_rows``,
and pick / _pick_grad (the normalization ops' builders are in ``nn_norm_kernels.py``).

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

from .math32 import EXP32

__all__ = ["softmax_kernel", "log_softmax_kernel", "softmax_xent_kernel", "xent_grad_kernel",
           "dense_xent_kernel", "dense_xent_grad_kernel",
           "log_softmax_grad_kernel", "softmax_grad_kernel", "pick_kernel", "pick_grad_kernel"]

# No 'reassoc' in the softmax family: it would turn the stable ``(x - max) - log(sum)``
# into ``x - (max + log(sum))`` (5e-6 relative error at logits ~90 in float32). The
# normalization kernels keep it (their float64 statistics sums then vectorise).
_DEC = ("@numba.njit(cache=True, error_model='numpy', "
        "fastmath={'nsz', 'arcp', 'contract', 'afn'})\n")
_DEC_NORM = ("@numba.njit(cache=True, error_model='numpy', "
             "fastmath={'nsz', 'arcp', 'contract', 'afn', 'reassoc'})\n")
_FLOATS = (np.dtype(np.float32), np.dtype(np.float64))


def with_exp32(src, dtype):
    """``src`` calling the vectorisable ``_exp32`` instead of ``np.exp`` (float32 only;
    the helper is in ``math32.py``)."""
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
