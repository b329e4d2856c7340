"""An elementwise epilogue rendered into an op kernel's own output stores.

``passes/fuse_epilogue.py`` turns an op with its own kernel builder (convolution,
the max-pooling gradient) and the same-shape elementwise group that alone reads its
result into one ``fused_kernel`` node: ``sub.nodes[0]`` is the op, the rest the
group's members. The builder is called as ``kernel(op_node, epilogue)`` and, where it
would store the op's value ``val`` at index ``(i0, i1, ...)``, emits
``epilogue.store(val, idx, ind, core)`` instead: the members computed on that one
value (bias add, relu, a relu mask ...) and stored into the group's outputs. The op's
own result is never written to memory.

The kernel's parameters are the op's inputs, then ``epilogue.params``: the group's
other inputs (``ep_in<i>``, any shape broadcasting to the value's) and its outputs
(``ep_out<i>``), all C-contiguous N-D arrays (of rank 1 .. the value's: the pass
fuses nothing else). Generated names start with ``ep_``.
"""
from .elementwise import _node_expr

__all__ = ["Epilogue", "is_channel_sum"]


def is_channel_sum(n, v):
    """Is node ``n`` a sum of value ``v`` (rank >= 2) over every axis but 1 (channels)?"""
    if len(n.inputs) != 1 or n.inputs[0] is not v or v.ndim < 2 or n.op not in ("sum", "sum_to"):
        return False
    if n.op == "sum_to":
        shape = tuple(n.attrs.get("shape", ()))
        if len(shape) > v.ndim:
            return False
        kept = (1,) * (v.ndim - len(shape)) + shape
        reduced = {d for d in range(v.ndim) if kept[d] == 1 and v.shape[d] != 1}
    else:
        from ...ops.reduce import reduce_axes
        axes = reduce_axes("sum", v.shape, n.attrs.get("axis"), n.attrs.get("exclude", False))
        if axes is None:
            return False
        reduced = {d for d in axes if v.shape[d] != 1}
    wanted = {d for d in range(v.ndim) if d != 1 and v.shape[d] != 1}
    return reduced == wanted and n.outputs[0].size == v.shape[1]


class Epilogue:
    """The rest of a ``fused_kernel`` node's sub-graph after its op, for the op's builder.

    ``kind == "store"``: an elementwise group on the op's value (``store``);
    ``kind == "channel_sum"``: a sum of the op's first input over every axis but 1 (a
    conv bias gradient next to the weight gradient reading the same output gradient):
    the kernel, which reads that input anyway, also writes the sums into its last
    argument (any shape holding the channels in order: ``(C,)``, ``(1, C, 1, 1)``).
    """

    def __init__(self, node):
        sub = node.sub
        self.core = sub.nodes[0]
        self.value = self.core.outputs[0]
        self.nodes = list(sub.nodes[1:])
        self.outputs = list(node.outputs)
        self.kind = "channel_sum" if is_channel_sum(self.nodes[0], self.core.inputs[0]) and \
            len(self.nodes) == 1 else "store"
        self.extras = list(node.inputs[len(self.core.inputs):])
        self.params = ([f"ep_in{i}" for i in range(len(self.extras))]
                       + [f"ep_out{i}" for i in range(len(self.outputs))])

    def _parts(self, v, idx):
        """Per dim of value ``v`` (broadcasting against the op's value), its index at
        ``idx`` (an expression per dim of the op's value)."""
        shape, full = v.shape, self.value.shape
        lead = len(full) - len(shape)
        return [(lead + d, "0" if s == 1 and full[lead + d] != 1 else idx[lead + d])
                for d, s in enumerate(shape)]

    def _arrays(self, core):
        """(value, parameter name) of every array the epilogue reads or writes."""
        used = [(v, p) for v, p in list(zip(self.core.inputs, core)) + [
            (v, f"ep_in{i}") for i, v in enumerate(self.extras)]
            if any(v is u for n in self.nodes for u in n.inputs)]
        seen, out = set(), []
        for v, p in used:
            if id(v) not in seen:
                seen.add(id(v))
                out.append((v, p))
        return out + [(v, f"ep_out{i}") for i, v in enumerate(self.outputs)]

    def store(self, val, idx, ind, core=()):
        """Source lines (indented by ``ind``) computing the group for the op's value ``val``
        at index ``idx`` (one expression per dim) and storing every output there.
        ``core`` names the kernel's parameters for the op's inputs (the group may read
        them: ``relu(conv(x) + x)``)."""
        def at(v, p):
            return f"{p}[{', '.join(e for _, e in self._parts(v, idx))}]"
        names = {id(self.value): "ep_v"}
        lines = [f"{ind}ep_v = {val}"]
        arrays = self._arrays(core)
        for k, (v, p) in enumerate(arrays[:len(arrays) - len(self.outputs)]):
            names[id(v)] = f"ep_a{k}"
            lines.append(f"{ind}ep_a{k} = {at(v, p)}")
        for t, n in enumerate(self.nodes):
            expr = _node_expr(n, [names[id(v)] for v in n.inputs])
            dt = n.outputs[0].dtype
            # each float result in its own dtype, as NumPy computes it: a float64 literal
            # (relu's 0.0, a mask's 1.0) would otherwise widen the chain, which kept the
            # max-pool gradient's loop scalar (8x slower)
            if dt.kind == "f":
                expr = f"np.{dt.name}({expr})"
            lines.append(f"{ind}ep_t{t} = {expr}")
            names[id(n.outputs[0])] = f"ep_t{t}"
        for i, v in enumerate(self.outputs):
            lines.append(f"{ind}{at(v, f'ep_out{i}')} = {names[id(v)]}")
        return "\n".join(lines) + "\n"
