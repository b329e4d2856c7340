"""Render a ``fused_matmul`` node: ``np.dot(A, B, out)`` (BLAS, via SciPy inside Numba)
followed by the bias add and the fused epilogue in one loop, in one Numba function."""
from ..ir import Node, Value
from .elementwise import _decorator, loop_dims, render_loop

__all__ = ["render_matmul", "matmul_layout", "epilogue_dims", "epilogue_inputs"]


def matmul_layout(node):
    """(rows, k, n, transpose_a, transpose_b, has_bias) of the GEMM inside ``node``."""
    mm = node.sub.nodes[0]
    if mm.op == "_fully_connected":
        x, w = mm.inputs[0], mm.inputs[1]
        h, k = w.shape
        rows = x.size // k if k else 0
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


def render_matmul(node, fn_name, has_buffer=False):
    """Source of ``fn_name(dims, a, b, [bias], f<i>..., [mm], out...)``.

    ``f<i>`` is the flat view of ``node.inputs[i]`` for each position from
    ``epilogue_inputs``. By default the GEMM writes straight into ``out0`` and the
    epilogue then runs in place (each element is read before it is written);
    ``has_buffer`` gives the GEMM a separate buffer ``mm`` instead.
    """
    sub = node.sub
    mm = sub.nodes[0]
    rows, k, n, ta, tb, has_bias = matmul_layout(node)
    flat = epilogue_inputs(node)
    args = ["dims", "a", "b"] + (["bias"] if has_bias else []) + [f"f{i}" for i in flat]
    args += (["mm"] if has_buffer else []) + [f"out{i}" for i in range(len(sub.outputs))]
    A = "a.T" if ta else "a"
    B = "b.T" if tb else "b"
    target = "mm" if has_buffer else f"out0.reshape(({A}.shape[0], {B}.shape[1]))"
    lines = [_decorator(), f"def {fn_name}({', '.join(args)}):",
             f"    np.dot({A}, {B}, {target})"]
    epilogue = list(sub.nodes[1:])
    y = mm.outputs[0]
    loop_inputs, loop_names = [], []
    if has_bias:
        raw = Value(-1, y.shape, y.dtype)
        add = Node("add", [raw, mm.inputs[2]], [y])
        loop_inputs += [raw, mm.inputs[2]]
        loop_names += ["mmf", "bias"]
        epilogue.insert(0, add)
    else:
        loop_inputs.append(y)
        loop_names.append("mmf")
    loop_inputs += [sub.inputs[i] for i in flat]
    loop_names += [f"f{i}" for i in flat]
    if not epilogue:
        return "\n".join(lines) + "\n"
    src_buf = "mm" if has_buffer else "out0"
    lines.append(f"    mmf = {src_buf}.reshape(-1)")
    lines += render_loop(y.shape, loop_inputs, epilogue, sub.outputs, loop_names,
                         [f"out{i}" for i in range(len(sub.outputs))])
    return "\n".join(lines) + "\n"


def epilogue_dims(node):
    """The ``dims`` argument of the kernel (loop sizes of the epilogue)."""
    mm = node.sub.nodes[0]
    _, _, _, _, _, has_bias = matmul_layout(node)
    ext = [node.sub.inputs[i] for i in epilogue_inputs(node)]
    y = mm.outputs[0]
    loop_inputs = [y, mm.inputs[2]] if has_bias else [y]
    return loop_dims(y.shape, loop_inputs + ext)
