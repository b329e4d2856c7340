"""Matrix products: dot, batch_dot, linalg.gemm2."""
import numpy as np

from ..base import ShapeError
from ._util import call
from .registry import Op, register


def _dot(lhs, rhs, transpose_a=False, transpose_b=False):
    """Matrix product of 2-D arrays (or N-D x N-D over last/first axes, MXNet's dot)."""
    a = lhs.T if transpose_a else lhs
    b = rhs.T if transpose_b else rhs
    if a.ndim == 0 or b.ndim == 0 or a.shape[-1] != b.shape[0]:
        raise ShapeError(f"dot: shapes {lhs.shape} and {rhs.shape} do not align "
                         f"(transpose_a={transpose_a}, transpose_b={transpose_b}): the last dim "
                         f"of lhs ({a.shape[-1] if a.ndim else '-'}) must equal the first dim of "
                         f"rhs ({b.shape[0] if b.ndim else '-'}); transpose or reshape an operand")
    if a.ndim <= 2 and b.ndim <= 2:
        return np.dot(a, b)
    return np.tensordot(a, b, axes=1)


def _dot_vjp(g, ins, out, transpose_a=False, transpose_b=False):
    a, b = ins
    if a.ndim != 2 or b.ndim != 2:
        a2 = a.reshape((-1, a.shape[-1])) if not transpose_a else a
        # general N-D: flatten to 2-D products
        A = a.reshape((-1, a.shape[-1])) if not transpose_a else a.reshape((a.shape[0], -1)).T
        B = b.reshape((b.shape[0], -1)) if not transpose_b else b.reshape((-1, b.shape[-1])).T
        G = g.reshape((A.shape[0], B.shape[1]))
        ga = call("dot", G, B, transpose_b=True)
        gb = call("dot", A, G, transpose_a=True)
        ga = ga.T if transpose_a else ga
        gb = gb.T if transpose_b else gb
        del a2
        return ga.reshape(a.shape), gb.reshape(b.shape)
    if transpose_a:
        ga = call("dot", b, g, transpose_a=transpose_b, transpose_b=True)
    else:
        ga = call("dot", g, b, transpose_b=not transpose_b)
    if transpose_b:
        gb = call("dot", g, a, transpose_a=True, transpose_b=transpose_a)
    else:
        gb = call("dot", a, g, transpose_a=not transpose_a)
    return ga, gb


register(Op("dot", "matmul", _dot, _dot_vjp))
