"""A ``fused_matmul`` with at most ``SMALL_ROWS`` rows (batch-1 inference): the GEMM
as a hand loop inside the epilogue's Numba kernel, so the whole node is ONE
dispatch instead of ``np.dot`` (about 1 us of NumPy/BLAS overhead per call at this
size) plus a kernel call plus the flat views of its arguments.

Measured here (float32 FullyConnected + relu, this loop vs np.dot + epilogue kernel):
784->256 at 1/2/4/8 rows 16/25/31/85 us vs 19/80/67/85 us; 256->10 1.6-1.9 us vs
2.5-3.4 us; 4096->1024 at 1/4/8 rows 389/1179/2194 us vs 395/1886/2355 us. The loop
(four output columns per pass, so each A element is loaded once for four dot
products) streams B like sgemv; from about 8 rows BLAS' blocking catches up, hence
the row limit. Sizes are read from the arrays, so one source serves every size.
"""
import numpy as np

from .elementwise import _decorator
from .matmul import epilogue_parts, matmul_layout

__all__ = ["SMALL_ROWS", "small_matmul_eligible", "render_small_matmul", "small_gemm_args"]

SMALL_ROWS = 4


def small_matmul_eligible(node):
    """True when the GEMM of ``node`` runs inside its kernel (few rows, float32/64:
    the dtypes Numba compiles; float16 keeps the BLAS path)."""
    rows = matmul_layout(node)[0]
    dt = node.sub.nodes[0].outputs[0].dtype
    return rows <= SMALL_ROWS and dt in (np.float32, np.float64)


def small_gemm_args(node, ins):
    """Driver expressions of the kernel's 2-D operands ``a`` and ``b`` (views)."""
    rows, k, _, _, _, _ = matmul_layout(node)
    mm = node.sub.nodes[0]
    if mm.op == "_fully_connected":
        a = ins[0] if mm.inputs[0].shape == (rows, k) else f"{ins[0]}.reshape({rows}, {k})"
        return [a, ins[1]]
    return [ins[0], ins[1]]


def _gemm_lines(ta, tb, dtype, ind="    "):
    """Body lines writing ``out0[m * N + j] = sum_k A[m, k] * B[k, j]`` (flat, C order)."""
    a = "a[k, m]" if ta else "a[m, k]"
    zero = f"np.{np.dtype(dtype).name}(0.0)"
    lines = ["K, R = a.shape" if ta else "R, K = a.shape",
             "N = b.shape[0]" if tb else "N = b.shape[1]"]
    if tb:
        # B is (N, K): each output is a dot product over a contiguous row of B; four
        # rows of B per pass share the loads of A (and stay in L1 across the R rows).
        lines += ["j = 0",
                  "while j + 4 <= N:",
                  "    for m in range(R):",
                  f"        s0 = s1 = s2 = s3 = {zero}",
                  "        for k in range(K):",
                  f"            av = {a}",
                  "            s0 += av * b[j, k]",
                  "            s1 += av * b[j + 1, k]",
                  "            s2 += av * b[j + 2, k]",
                  "            s3 += av * b[j + 3, k]",
                  "        o = m * N + j",
                  "        out0[o] = s0",
                  "        out0[o + 1] = s1",
                  "        out0[o + 2] = s2",
                  "        out0[o + 3] = s3",
                  "    j += 4",
                  "while j < N:",
                  "    for m in range(R):",
                  f"        s0 = {zero}",
                  "        for k in range(K):",
                  f"            s0 += {a} * b[j, k]",
                  "        out0[m * N + j] = s0",
                  "    j += 1"]
    else:
        # B is (K, N): accumulate rows of B scaled by A's elements (contiguous in j).
        lines += ["for m in range(R):",
                  "    o = m * N",
                  "    for j in range(N):",
                  f"        out0[o + j] = {zero}",
                  "    for k in range(K):",
                  f"        av = {a}",
                  "        for j in range(N):",
                  "            out0[o + j] += av * b[k, j]"]
    return [ind + line for line in lines]


def render_small_matmul(node, fn_name):
    """Source of ``fn_name([dims], a, b, [bias], f<i>..., out...)``: the GEMM into the flat
    ``out0``, then the bias + epilogue loop over it in place (as ``render_matmul``)."""
    _, _, _, ta, tb, _ = matmul_layout(node)
    parts = epilogue_parts(node)
    params, body = parts if parts is not None else (["out0"], [])
    dims = params[:1] if params[0] == "dims" else []
    lines = [_decorator(), f"def {fn_name}({', '.join(dims + ['a', 'b'] + params[len(dims):])}):"]
    lines += _gemm_lines(ta, tb, node.sub.nodes[0].outputs[0].dtype) + body
    return "\n".join(lines) + "\n"
