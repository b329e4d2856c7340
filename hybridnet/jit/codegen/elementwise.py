"""Render a fused elementwise group as one Numba loop.

Inputs and outputs are passed as flat C-contiguous arrays; the loop runs over
the group's shape with dimensions collapsed wherever every input broadcasts
the same way, so the common cases ((N,M) with a (M,) bias, same-shape chains)
become one or two tight loops that LLVM vectorises.
"""
import re

import numpy as np

from ...ops.registry import OPS

__all__ = ["render_fused", "FASTMATH", "HELPERS"]

# Scalar helpers every kernel module defines (inlined by Numba).
HELPERS = """@numba.njit(inline='always')
def _b2f(b):
    return 1.0 if b else 0.0


"""

# NaN/inf-safe fast-math (plain fastmath=True assumes no NaN/inf: DESIGN.md §5).
FASTMATH = "{'nsz', 'arcp', 'contract', 'afn', 'reassoc'}"


def _collapse(shape, in_shapes):
    """Merge adjacent dims with the same broadcast pattern across inputs."""
    nd = len(shape)
    aligned = [(1,) * (nd - len(s)) + tuple(s) for s in in_shapes]
    dims = []
    for d in range(nd):
        pattern = tuple(a[d] == 1 and shape[d] != 1 for a in aligned)
        if shape[d] == 1:
            continue
        if dims and dims[-1][1] == pattern:
            dims[-1][0] *= shape[d]
        else:
            dims.append([shape[d], pattern])
    return [(n, p) for n, p in dims]


def _literal(value, dtype):
    if dtype.kind == "f":
        return f"np.{dtype.name}({float(value)!r})"
    return repr(value)


def _node_expr(n, names):
    op = OPS[n.op]
    expr = op.expr
    attrs = dict(n.attrs)
    if isinstance(expr, tuple):
        expr = expr[1] if attrs.get("reverse") else expr[0]
    dt = n.outputs[0].dtype
    fmt = {k: (_literal(v, dt) if isinstance(v, (int, float)) and not isinstance(v, bool)
               else repr(v)) for k, v in attrs.items()}
    # Numba has no float(bool): comparisons render through a 0/1 helper.
    return re.sub(r"(?<![\w.])float\(", "_b2f(", expr.format(*names, **fmt))


def render_fused(node, fn_name):
    """Python source of a njit function ``fn_name(in0, ..., out0, ...)`` for a fused node."""
    sub = node.sub
    shape = node.outputs[0].shape if node.outputs else sub.nodes[-1].outputs[0].shape
    dims = _collapse(shape, [v.shape for v in sub.inputs])
    n_dims = len(dims)
    args = [f"in{i}" for i in range(len(sub.inputs))] + [f"out{i}" for i in range(len(sub.outputs))]
    lines = [f"@numba.njit(cache=True, error_model='numpy', fastmath={FASTMATH})",
             f"def {fn_name}({', '.join(args)}):"]
    names = {}
    # Strides of each input in the collapsed iteration space (0 where it broadcasts).
    in_strides = []
    for i, v in enumerate(sub.inputs):
        strides, acc = [], 1
        for size, pattern in reversed(dims):
            if pattern[i]:
                strides.append(0)
            else:
                strides.append(acc)
                acc *= size
        in_strides.append(list(reversed(strides)))
    ind = "    "
    for d, (size, _) in enumerate(dims):
        lines.append(f"{ind}for i{d} in range({size}):")
        ind += "    "
    full = " + ".join(f"i{d} * {int(np.prod([s for s, _ in dims[d + 1:]], dtype=np.int64))}"
                      for d in range(n_dims)) or "0"
    lines.append(f"{ind}j = {full}")
    for i, v in enumerate(sub.inputs):
        if v.size == 1:
            idx = "0"
        elif all(s != 0 for s in in_strides[i]) and v.size == int(np.prod(shape)):
            idx = "j"
        else:
            idx = " + ".join(f"i{d} * {s}" for d, s in enumerate(in_strides[i]) if s) or "0"
        lines.append(f"{ind}a{i} = in{i}[{idx}]")
        names[id(v)] = f"a{i}"
    for k, n in enumerate(sub.nodes):
        expr = _node_expr(n, [names[id(v)] for v in n.inputs])
        lines.append(f"{ind}t{k} = {expr}")
        names[id(n.outputs[0])] = f"t{k}"
    for i, v in enumerate(sub.outputs):
        lines.append(f"{ind}out{i}[j] = {names[id(v)]}")
    return "\n".join(lines) + "\n"
