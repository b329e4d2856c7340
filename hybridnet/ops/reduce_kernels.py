"""Numba kernel builders for sum/mean over leading or trailing axes (the JIT's codegen
hint for ``sum`` and ``mean``; everything else keeps NumPy's rule).

A bias gradient is ``sum(dy, axis=0)`` and a row loss ``mean(l, axis=-1)``: through
NumPy each costs ~5-10 us of call overhead on the small arrays of a training step;
as one loop they cost about a microsecond. The input is viewed as (R, C):
reducing the leading axes adds rows into an accumulator row (vectorised over C),
reducing the trailing axes sums each row (vectorised with reassociation).
"""
from .reduce import reduce_axes

__all__ = ["sum_kernel", "mean_kernel"]

_HEAD = ("@numba.njit(cache=True, error_model='numpy', "
         "fastmath={'nsz', 'arcp', 'contract', 'reassoc'})\n")


def _mode(node):
    """'cols' (leading axes reduced), 'rows' (trailing axes) or None (not handled)."""
    x, out = node.inputs[0], node.outputs[0]
    if x.dtype.kind != "f" or out.dtype != x.dtype or x.size == 0:
        return None
    a = node.attrs
    axes = reduce_axes("sum", x.shape, a.get("axis"), a.get("exclude", False))
    if axes is None:
        return "rows"
    if axes == ():
        return None
    k = len(axes)
    if axes == tuple(range(k)):
        return "cols"
    if axes == tuple(range(x.ndim - k, x.ndim)):
        return "rows"
    return None


def _source(mode, mean):
    """Kernel source; the sizes come from the arrays, so one source serves every shape."""
    if mode == "cols":
        return f"""def kernel(x, out):
    xf = x.reshape(-1)
    of = out.reshape(-1)
    C = of.size
    R = xf.size // C
    for c in range(C):
        of[c] = 0
    for r in range(R):
        base = r * C
        for c in range(C):
            of[c] += xf[base + c]
""" + ("""    for c in range(C):
        of[c] = of[c] / R
""" if mean else "")
    return f"""def kernel(x, out):
    xf = x.reshape(-1)
    of = out.reshape(-1)
    R = of.size
    C = xf.size // R
    for r in range(R):
        base = r * C
        acc = xf[base] * 0
        for c in range(C):
            acc += xf[base + c]
        of[r] = acc{" / C" if mean else ""}
"""


def sum_kernel(node):
    mode = _mode(node)
    return None if mode is None else _HEAD + _source(mode, False)


def mean_kernel(node):
    mode = _mode(node)
    return None if mode is None else _HEAD + _source(mode, True)
