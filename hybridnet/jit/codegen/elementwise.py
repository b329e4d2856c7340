"""Render a fused elementwise group as one Numba loop.

Inputs and outputs are passed as flat C-contiguous arrays; the loop runs over
the group's shape with dimensions collapsed wherever every input broadcasts
the same way, so the common cases ((N,M) with a (M,) bias, same-shape chains)
become one or two tight loops that LLVM vectorises.
"""
import re

import numpy as np

from ...ops.math32 import MATH32, use_math32, uses_math32
from ...ops.registry import OPS

__all__ = ["render_fused", "FASTMATH", "HELPERS", "helpers", "node_expr_template", "takes_dims"]

# Scalar helpers every kernel module defines (inlined by Numba).
HELPERS = """@numba.njit(inline='always')
def _b2f(b):
    return 1.0 if b else 0.0


"""


def helpers(src):
    """The helper definitions a kernel module with source ``src`` needs: ``HELPERS``, and
    the vectorisable float32 math (``ops/math32.py``) when ``src`` calls it."""
    return HELPERS + (MATH32 if uses_math32(src) else "")

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


def node_expr_template(n):
    """The scalar expression template node ``n`` renders (``{0}`` ... for its inputs):
    its op's ``expr`` (the reversed form for ``reverse``), calling the vectorisable
    float32 helpers where every value of ``n`` is float32 (Numba's float32 exp, tanh
    and log are scalar libm calls)."""
    expr = OPS[n.op].expr
    if isinstance(expr, tuple):
        expr = expr[1] if dict(n.attrs).get("reverse") else expr[0]
    if all(v.dtype == np.float32 for v in list(n.inputs) + list(n.outputs)):
        expr = use_math32(expr)
    return expr


def _node_expr(n, names):
    expr = node_expr_template(n)
    attrs = dict(n.attrs)
    dt = n.outputs[0].dtype
    fmt = {k: (_literal(v, dt) if isinstance(v, (int, float)) and not isinstance(v, bool)
               else repr(v)) for k, v in attrs.items()}
    # Numba has no float(bool): comparisons render through a 0/1 helper.
    return re.sub(r"(?<![\w.])float\(", "_b2f(", expr.format(*names, **fmt))


def loop_dims(shape, inputs):
    """The collapsed loop sizes for iterating ``shape`` over ``inputs`` (a tuple of ints)."""
    return tuple(size for size, _ in _collapse(shape, [v.shape for v in inputs]))


def takes_dims(shape, inputs):
    """Does the loop need the ``dims`` argument? One loop reads its size from its first
    output instead: a tuple argument costs Numba's dispatcher about 0.1 us per call."""
    return len(loop_dims(shape, inputs)) > 1


def render_loop(shape, inputs, nodes, outputs, in_names, out_names, ind="    "):
    """Source lines of one loop over ``shape`` computing ``nodes`` elementwise.

    ``inputs`` are Values read from the flat arrays ``in_names`` (broadcasting against
    ``shape``); ``outputs`` are Values written to the flat arrays ``out_names``. Loop
    sizes are not literals: they come from the kernel argument ``dims`` (see
    ``loop_dims``), or for a single loop from the first output's length, so kernels
    that differ only in sizes share one source, one compile.
    """
    dims = _collapse(shape, [v.shape for v in inputs])
    nd = len(dims)
    lines, names = [], {}
    if nd == 1:       # no ``dims`` argument (takes_dims): the flat output's length
        lines.append(f"{ind}n0 = {out_names[0]}.shape[0]")
    elif nd:
        lines.append(f"{ind}{', '.join(f'n{d}' for d in range(nd))}, = dims")

    def prod(ds):
        return " * ".join(f"n{d}" for d in ds) or "1"
    for d in range(nd):
        lines.append(f"{ind}for i{d} in range(n{d}):")
        ind += "    "
    full = " + ".join(f"i{d} * {prod(range(d + 1, nd))}" if d + 1 < nd else f"i{d}"
                      for d in range(nd)) or "0"
    lines.append(f"{ind}j = {full}")
    total = int(np.prod(shape, dtype=np.int64))
    for i, v in enumerate(inputs):
        if v.size == 1:
            idx = "0"
        elif v.size == total and not any(p[i] for _, p in dims):
            idx = "j"
        else:
            # Stride of dim d: product of the later dims this input does not broadcast in.
            terms = []
            for d in range(nd):
                if dims[d][1][i]:
                    continue
                later = [e for e in range(d + 1, nd) if not dims[e][1][i]]
                terms.append(f"i{d} * {prod(later)}" if later else f"i{d}")
            idx = " + ".join(terms) or "0"
        lines.append(f"{ind}a{i} = {in_names[i]}[{idx}]")
        names[id(v)] = f"a{i}"
    for k, n in enumerate(nodes):
        expr = _node_expr(n, [names[id(v)] for v in n.inputs])
        lines.append(f"{ind}t{k} = {expr}")
        names[id(n.outputs[0])] = f"t{k}"
    for v, name in zip(outputs, out_names):
        lines.append(f"{ind}{name}[j] = {names[id(v)]}")
    return lines


def _decorator():
    return f"@numba.njit(cache=True, error_model='numpy', fastmath={FASTMATH})"


def render_fused(node, fn_name, alias=None):
    """Source of a njit function ``fn_name([dims], in0, ..., out0, ...)`` for a fused node.

    ``alias`` maps output index -> input index for outputs written in place into
    that input (a donated buffer): they are written through the input's own name,
    since two names for one buffer make LLVM's runtime alias check fail and the
    loop run scalar.
    """
    alias = alias or {}
    sub = node.sub
    shape = node.outputs[0].shape if node.outputs else sub.nodes[-1].outputs[0].shape
    ins = [f"in{i}" for i in range(len(sub.inputs))]
    outs = [f"in{alias[i]}" if i in alias else f"out{i}" for i in range(len(sub.outputs))]
    params = ins + [o for i, o in enumerate(outs) if i not in alias]
    if takes_dims(shape, sub.inputs):
        params = ["dims"] + params
    lines = [_decorator(), f"def {fn_name}({', '.join(params)}):"]
    lines += render_loop(shape, sub.inputs, sub.nodes, sub.outputs, ins, outs)
    return "\n".join(lines) + "\n"
