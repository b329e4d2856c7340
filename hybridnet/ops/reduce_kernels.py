"""Numba kernel builders for sum/mean/sum_to whose reduced axes surround one block of
kept axes (the JIT's codegen hint; every other reduction keeps NumPy's rule).

A Dense bias gradient is ``sum(dy, axis=0)``, a convolution's ``sum_to(dy, (1,C,1,1))``
(axes 0, 2, 3) and a row loss ``mean(l, axis=-1)``: through NumPy each costs ~5-10 us
of call overhead on a training step's small arrays, or a slow strided pass on large
ones. Here the input is viewed as (R0, C, R1) with R0 and R1 reduced: column sums
(R1 = 1) add rows into the output row, vectorised over C; otherwise each output
element sums R0 contiguous runs of R1 values in float64 (vectorised, and as accurate
as NumPy's pairwise sum for long runs). Size-1 axes may sit anywhere. Only the
position where the trailing reduced block starts is a literal, so one source serves
every shape of the same layout.
"""
from .reduce import reduce_axes

__all__ = ["sum_kernel", "mean_kernel", "sum_to_kernel"]

_HEAD = ("@numba.njit(cache=True, error_model='numpy', "
         "fastmath={'nsz', 'arcp', 'contract', 'reassoc'})\n")


def _trailing_start(shape, reduced):
    """Where the trailing reduced block starts, or None when the reduced axes (ignoring
    size-1 ones) do not surround one contiguous block of kept axes."""
    kept = [i for i, s in enumerate(shape) if i not in reduced and s != 1]
    if not kept:
        return 0                                    # everything reduced: R0 = C = 1
    if any(i in reduced and shape[i] != 1 for i in range(kept[0], kept[-1] + 1)):
        return None
    return kept[-1] + 1


def _build(node, axes, mean):
    x, out = node.inputs[0], node.outputs[0]
    if x.dtype.kind != "f" or out.dtype != x.dtype or x.size == 0:
        return None
    reduced = set(range(x.ndim)) if axes is None else set(axes)
    k1 = _trailing_start(x.shape, reduced)
    if k1 is None or not reduced:
        return None
    finish = """    for c in range(C):
        of[c] = of[c] / (R0 * R1)
""" if mean else ""
    return _HEAD + f"""def kernel(x, out):
    xf = x.reshape(-1)
    of = out.reshape(-1)
    C = of.size
    R1 = 1
    for d in range({k1}, x.ndim):
        R1 *= x.shape[d]
    R0 = xf.size // (C * R1)
    if R1 == 1:
        for c in range(C):
            of[c] = 0
        for r in range(R0):
            base = r * C
            for c in range(C):
                of[c] += xf[base + c]
    else:
        for c in range(C):
            total = 0.0
            for r in range(R0):
                base = (r * C + c) * R1
                for i in range(R1):
                    total += xf[base + i]
            of[c] = total
{finish}"""


def _axes(node, name):
    a = node.attrs
    return reduce_axes(name, node.inputs[0].shape, a.get("axis"), a.get("exclude", False))


def sum_kernel(node):
    return _build(node, _axes(node, "sum"), mean=False)


def mean_kernel(node):
    return _build(node, _axes(node, "mean"), mean=True)


def sum_to_kernel(node):
    """``sum_to(data, shape)``: the inverse of broadcasting (bias gradients)."""
    x, shape = node.inputs[0], tuple(node.attrs.get("shape", ()))
    lead = x.ndim - len(shape)
    axes = tuple(range(lead)) + tuple(lead + i for i, s in enumerate(shape)
                                      if s == 1 and x.shape[lead + i] != 1)
    return _build(node, axes, mean=False) if axes else None
