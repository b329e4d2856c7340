"""The autograd tape: one ``TapeNode`` per recorded op call (micrograd-simple).

A node keeps the NumPy data of its inputs and outputs (not the NDArray objects,
so in-place ops on an array never rewire the graph behind it) and, per input,
where its gradient must flow: ``(parent_node, output_index)`` for an op result,
``(None, leaf_ndarray)`` for a variable, or ``None`` when no gradient is needed.
"""

import itertools

__all__ = ["TapeNode", "parent_of"]

_SEQ = itertools.count()


class TapeNode:
    """One recorded op call. ``seq`` numbers nodes in creation order: a node's parents
    always exist before it, so decreasing ``seq`` is a topological order for backward."""
    __slots__ = ("op", "attrs", "in_data", "parents", "out_data", "freed", "custom", "seq")

    def __init__(self, op, attrs, in_data, parents, out_data, custom=None):
        self.seq = next(_SEQ)
        self.op = op
        self.attrs = attrs
        self.in_data = in_data
        self.parents = parents
        self.out_data = out_data
        self.freed = False
        self.custom = custom     # autograd.Function instance for custom ops

    def __repr__(self):
        name = self.op.name if self.op is not None else type(self.custom).__name__
        return f"<TapeNode {name}>"


def parent_of(x):
    """Where gradient for array ``x`` goes, or None if ``x`` is not tracked."""
    if x._node is not None:
        return (x._node, x._oidx)
    if x._var:
        return (None, x)
    return None
