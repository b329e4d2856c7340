"""Matrix products: dot, batch_dot, linalg_gemm2, linalg_gemm.

Every VJP is again a product op of the same family (plus reshapes), so backward
graphs are GEMMs the fusion passes can see.
"""
import numpy as np

from ..base import DTypeError, ShapeError
from ._util import call
from .registry import Op, register


def _same_dtype(op, *arrays):
    dts = {np.dtype(a.dtype) for a in arrays}
    if len(dts) > 1:
        raise DTypeError(f"{op}: operands have different dtypes "
                         f"({', '.join(str(np.dtype(a.dtype)) for a in arrays)}); cast one with "
                         ".astype(...) so both match")


# ---- dot ----------------------------------------------------------------------------------
def _dot_views(lshape, rshape, ta, tb):
    """MXNet's dot as one 2-D product: the 2-D views of lhs/rhs and the output shape.

    lhs is seen as (prod(lshape[:-1]), lshape[-1]) or, transposed, as
    (lshape[0], prod(lshape[1:])).T; rhs as (rshape[0], prod(rshape[1:])) or, transposed,
    (prod(rshape[:-1]), rshape[-1]).T. Returns (lhs 2-D shape, rhs 2-D shape, out shape).
    """
    if len(lshape) == 0 or len(rshape) == 0:
        raise ShapeError(f"dot: operands must have at least 1 dim, got shapes {tuple(lshape)} "
                         f"and {tuple(rshape)}")
    if len(lshape) == 1 and len(rshape) == 1 and (ta or tb):
        raise ShapeError(f"dot: cannot transpose 1-D operands (shapes {tuple(lshape)} and "
                         f"{tuple(rshape)}); drop transpose_a/transpose_b")
    # kept sizes as products of the kept dims (size // k fails when k == 0)
    if ta:
        l2 = (lshape[0], int(np.prod(lshape[1:], dtype=np.int64)))
        k_l, keep_l = lshape[0], tuple(lshape[1:])
    else:
        l2 = (int(np.prod(lshape[:-1], dtype=np.int64)), lshape[-1])
        k_l, keep_l = lshape[-1], tuple(lshape[:-1])
    if tb:
        r2 = (int(np.prod(rshape[:-1], dtype=np.int64)), rshape[-1])
        k_r, keep_r = rshape[-1], tuple(rshape[:-1])
    else:
        r2 = (rshape[0], int(np.prod(rshape[1:], dtype=np.int64)))
        k_r, keep_r = rshape[0], tuple(rshape[1:])
    if k_l != k_r:
        raise ShapeError(
            f"dot: shapes {tuple(lshape)} and {tuple(rshape)} do not align (transpose_a={ta}, "
            f"transpose_b={tb}): lhs contributes a contracted dim of {k_l} but rhs one of {k_r}. "
            f"The {'first' if ta else 'last'} dim of lhs must equal the "
            f"{'last' if tb else 'first'} dim of rhs: transpose an operand (transpose_a / "
            "transpose_b) or reshape it")
    out = (keep_l if len(lshape) > 1 else ()) + (keep_r if len(rshape) > 1 else ())
    return l2, r2, out or (1,)


def _dot(lhs, rhs, transpose_a=False, transpose_b=False):
    """Dot product, MXNet style.

    2-D x 2-D is the matrix product; N-D x M-D contracts the last axis of ``lhs`` with
    the first axis of ``rhs`` (output shape lhs.shape[:-1] + rhs.shape[1:]); 1-D x 1-D
    gives shape (1,). ``transpose_a`` contracts the first axis of ``lhs`` instead (lhs
    seen as a (d0, rest) matrix, transposed); ``transpose_b`` the last axis of ``rhs``.
    """
    _same_dtype("dot", lhs, rhs)
    l2, r2, out = _dot_views(lhs.shape, rhs.shape, transpose_a, transpose_b)
    a = lhs.reshape(l2)
    b = rhs.reshape(r2)
    return np.dot(a.T if transpose_a else a, b.T if transpose_b else b).reshape(out)


def _dot_vjp(g, ins, out, transpose_a=False, transpose_b=False, needs_grad=None):
    a, b = ins
    need = needs_grad or (True, True)
    l2, r2, _ = _dot_views(a.shape, b.shape, transpose_a, transpose_b)
    if a.size == 0 or b.size == 0:
        # nothing is summed: the gradients are zeros (empty for an empty operand); and
        # reshape's 0 means "copy this dim", so the 2-D views below cannot be built
        from ..ndarray.creation import zeros_like
        return (zeros_like(a) if need[0] else None), (zeros_like(b) if need[1] else None)
    a2, b2 = a.reshape(l2), b.reshape(r2)
    # C = op(a2) @ op(b2); G is the output gradient as the (m, n) matrix C.
    m = l2[1] if transpose_a else l2[0]
    n = r2[0] if transpose_b else r2[1]
    G = g.reshape((m, n))
    ga = gb = None
    if need[0] and transpose_a:     # d a2 = op(b2) G^T
        ga = call("dot", b2, G, transpose_a=transpose_b, transpose_b=True).reshape(a.shape)
    elif need[0]:                   # d a2 = G op(b2)^T
        ga = call("dot", G, b2, transpose_b=not transpose_b).reshape(a.shape)
    if need[1] and transpose_b:     # d b2 = G^T op(a2)
        gb = call("dot", G, a2, transpose_a=True, transpose_b=transpose_a).reshape(b.shape)
    elif need[1]:                   # d b2 = op(a2)^T G
        gb = call("dot", a2, G, transpose_a=not transpose_a).reshape(b.shape)
    return ga, gb


def _dot_rule(shapes, dtypes, transpose_a=False, transpose_b=False):
    return [(_dot_views(shapes[0], shapes[1], transpose_a, transpose_b)[2],
             np.result_type(*dtypes))]


register(Op("dot", "matmul", _dot, _dot_vjp, _dot_rule))


# ---- batched products ---------------------------------------------------------------------
def _batch_shapes(op, ls, rs, ta, tb, min_ndim=3):
    if len(ls) < min_ndim or len(ls) != len(rs) or ls[:-2] != rs[:-2]:
        raise ShapeError(f"{op}: expects two arrays with the same batch dims and >= {min_ndim} "
                         f"dims, got shapes {tuple(ls)} and {tuple(rs)}")
    m, k = (ls[-1], ls[-2]) if ta else (ls[-2], ls[-1])
    k2, n = (rs[-1], rs[-2]) if tb else (rs[-2], rs[-1])
    if k != k2:
        raise ShapeError(
            f"{op}: shapes {tuple(ls)} and {tuple(rs)} do not align (transpose_a={ta}, "
            f"transpose_b={tb}): the contracted dims are {k} and {k2}. Transpose an operand "
            "(transpose_a / transpose_b) or reshape it")
    return tuple(ls[:-2]) + (m, n)


def _bmm(a, b, ta, tb):
    return np.matmul(np.swapaxes(a, -1, -2) if ta else a, np.swapaxes(b, -1, -2) if tb else b)


def _batch_dot(lhs, rhs, transpose_a=False, transpose_b=False):
    """Batched matrix product: (B, M, K) x (B, K, N) -> (B, M, N) (more leading batch dims ok)."""
    _same_dtype("batch_dot", lhs, rhs)
    _batch_shapes("batch_dot", lhs.shape, rhs.shape, transpose_a, transpose_b)
    return _bmm(lhs, rhs, transpose_a, transpose_b)


def _product_grads(name, g, a, b, ta, tb, **kw):
    """Gradients of C = op(A) @ op(B) using the batched product op ``name`` itself."""
    if ta:
        ga = call(name, b, g, transpose_a=tb, transpose_b=True, **kw)
    else:
        ga = call(name, g, b, transpose_a=False, transpose_b=not tb, **kw)
    if tb:
        gb = call(name, g, a, transpose_a=True, transpose_b=ta, **kw)
    else:
        gb = call(name, a, g, transpose_a=not ta, transpose_b=False, **kw)
    return ga, gb


register(Op("batch_dot", "matmul", _batch_dot,
            lambda g, ins, out, transpose_a=False, transpose_b=False:
            _product_grads("batch_dot", g, ins[0], ins[1], transpose_a, transpose_b),
            lambda shapes, dtypes, transpose_a=False, transpose_b=False: [
                (_batch_shapes("batch_dot", shapes[0], shapes[1], transpose_a, transpose_b),
                 np.result_type(*dtypes))]))


def _rows_last(x, axis):
    """Move the row axis ``axis`` to position -2 (MXNet's gemm axis parameter)."""
    return x if axis in (-2, x.ndim - 2) else np.swapaxes(x, axis, -2)


def _gemm2(A, B, transpose_a=False, transpose_b=False, alpha=1.0, axis=-2):
    """``alpha * op(A) @ op(B)`` over the last two dims (batched over the leading ones).

    ``axis`` names the row axis of the matrices (default -2); columns are always the last
    axis. Exposed as ``nd.linalg.gemm2`` (and ``nd.linalg_gemm2``).
    """
    _same_dtype("linalg.gemm2", A, B)
    if not -A.ndim <= axis < A.ndim - 1 or A.ndim < 2:
        raise ShapeError(f"linalg.gemm2: axis {axis} must name a row axis other than the last "
                         f"one of inputs with shapes {A.shape}, {B.shape}")
    a, b = _rows_last(A, axis), _rows_last(B, axis)
    _batch_shapes("linalg.gemm2", a.shape, b.shape, transpose_a, transpose_b, min_ndim=2)
    r = _bmm(a, b, transpose_a, transpose_b) * A.dtype.type(alpha)
    return np.ascontiguousarray(_rows_last(r, axis))


register(Op("linalg_gemm2", "matmul", _gemm2,
            lambda g, ins, out, transpose_a=False, transpose_b=False, alpha=1.0, axis=-2:
            _product_grads("linalg_gemm2", g, ins[0], ins[1], transpose_a, transpose_b,
                           alpha=alpha, axis=axis)))


def _gemm(A, B, C, transpose_a=False, transpose_b=False, alpha=1.0, beta=1.0, axis=-2):
    """``alpha * op(A) @ op(B) + beta * C`` (``nd.linalg.gemm``); C has the output's shape."""
    r = _gemm2(A, B, transpose_a, transpose_b, alpha, axis)
    if C.shape != r.shape:
        raise ShapeError(f"linalg.gemm: C has shape {C.shape} but op(A) @ op(B) has shape "
                         f"{r.shape} (A {A.shape}, B {B.shape}); pass a C of the output shape")
    return r + C * C.dtype.type(beta)


def _gemm_vjp(g, ins, out, transpose_a=False, transpose_b=False, alpha=1.0, beta=1.0, axis=-2):
    ga, gb = _product_grads("linalg_gemm2", g, ins[0], ins[1], transpose_a, transpose_b,
                            alpha=alpha, axis=axis)
    return ga, gb, g * beta


register(Op("linalg_gemm", "matmul", _gemm, _gemm_vjp))
