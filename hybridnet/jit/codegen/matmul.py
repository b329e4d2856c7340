"""Render a ``fused_matmul`` node: the GEMM as ``np.dot(A, B, out=out)`` in the driver
(NumPy's BLAS, pinned to one thread), then the bias add and the fused epilogue as one
Numba loop over the result, in place."""
from ..ir import Node, Value
from .elementwise import _decorator, loop_dims, render_loop, takes_dims

__all__ = ["render_matmul", "gemm_call", "matmul_layout", "epilogue_dims", "epilogue_inputs",
           "epilogue_parts"]


def matmul_layout(node):
    """(rows, k, n, transpose_a, transpose_b, has_bias) of the GEMM inside ``node``."""
    mm = node.sub.nodes[0]
    if mm.op == "_fully_connected":
        x, w = mm.inputs[0], mm.inputs[1]
        h, k = w.shape
        rows = 1     # from the output (batch..., h): x.size // k is 0/0 when k == 0
        for d in mm.outputs[0].shape[:-1]:
            rows *= d
        return rows, k, h, False, True, len(mm.inputs) > 2
    a, b = mm.inputs
    ta, tb = mm.attrs.get("transpose_a", False), mm.attrs.get("transpose_b", False)
    rows = a.shape[1] if ta else a.shape[0]
    k = a.shape[0] if ta else a.shape[1]
    n = b.shape[0] if tb else b.shape[1]
    return rows, k, n, ta, tb, False


def epilogue_inputs(node):
    """Positions (in ``node.inputs``) of the values the epilogue reads elementwise.

    A value may be both a GEMM operand and an epilogue input (``tanh(x @ W) + x``);
    the kernel then gets it twice: as the 2-D operand and as a flat array.
    """
    sub = node.sub
    mm = sub.nodes[0]
    y = mm.outputs[0]
    produced = {id(o) for n in sub.nodes[1:] for o in n.outputs}
    pos = {id(v): i for i, v in enumerate(sub.inputs)}
    out, seen = [], set()
    for n in sub.nodes[1:]:
        for v in n.inputs:
            if v is y or id(v) in produced or id(v) in seen:
                continue
            seen.add(id(v))
            out.append(pos[id(v)])
    return out


def render_matmul(node, fn_name):
    """Source of the epilogue kernel ``fn_name([dims], [bias], f<i>..., out...)``, or
    None when the GEMM has neither bias nor epilogue.

    The driver runs the GEMM itself with NumPy's BLAS, ``np.dot(A, B, out=out0)`` (one
    BLAS library for the whole step, and Numba then never needs SciPy's: 0.5 s less
    start-up); the kernel reads the GEMM result from ``out0`` and overwrites it in place
    (each element is read before it is written). ``f<i>`` is the flat view of ``node.inputs[i]`` for each
    position from ``epilogue_inputs``.
    """
    parts = epilogue_parts(node)
    if parts is None:
        return None
    params, body = parts
    lines = [_decorator(), f"def {fn_name}({', '.join(params)}):"]
    return "\n".join(lines + body) + "\n"


def epilogue_parts(node):
    """(kernel parameters, ``dims`` first when the loop takes it (``takes_dims``), body
    lines) of the bias + epilogue loop over the GEMM result in ``out0``, or None when
    there is neither."""
    sub = node.sub
    mm = sub.nodes[0]
    _, _, _, _, _, has_bias = matmul_layout(node)
    flat = epilogue_inputs(node)
    epilogue = list(sub.nodes[1:])
    y = mm.outputs[0]
    loop_inputs, loop_names = [], []
    # The GEMM result lives in out0 and is read and written through that one name:
    # two names for one buffer make LLVM's runtime alias check fail (scalar loop).
    if has_bias:
        raw = Value(-1, y.shape, y.dtype)
        epilogue.insert(0, Node("add", [raw, mm.inputs[2]], [y]))
        loop_inputs += [raw, mm.inputs[2]]
        loop_names += ["out0", "bias"]
    else:
        loop_inputs.append(y)
        loop_names.append("out0")
    if not epilogue:
        return None
    loop_inputs += [sub.inputs[i] for i in flat]
    loop_names += [f"f{i}" for i in flat]
    outs = [f"out{i}" for i in range(len(sub.outputs))]
    dims = ["dims"] if takes_dims(y.shape, loop_inputs) else []
    return (dims + loop_names[1:] + outs,
            render_loop(y.shape, loop_inputs, epilogue, sub.outputs, loop_names, outs))


def gemm_call(node, ins, out):
    """Driver source of the GEMM: ``np.dot(A, B, out=<out as 2-D>)`` with views only."""
    rows, k, n, ta, tb, _ = matmul_layout(node)
    mm = node.sub.nodes[0]
    if mm.op == "_fully_connected":
        x = mm.inputs[0]
        a = ins[0] if x.shape == (rows, k) else f"{ins[0]}.reshape({rows}, {k})"
        b = f"{ins[1]}.T"
    else:
        a = f"{ins[0]}.T" if ta else ins[0]
        b = f"{ins[1]}.T" if tb else ins[1]
    o = out if node.outputs[0].shape == (rows, n) else f"{out}.reshape({rows}, {n})"
    return f"np.dot({a}, {b}, out={o})"


def epilogue_dims(node):
    """The ``dims`` argument of the kernel (loop sizes of the epilogue)."""
    mm = node.sub.nodes[0]
    _, _, _, _, _, has_bias = matmul_layout(node)
    ext = [node.sub.inputs[i] for i in epilogue_inputs(node)]
    y = mm.outputs[0]
    loop_inputs = [y, mm.inputs[2]] if has_bias else [y]
    return loop_dims(y.shape, loop_inputs + ext)
