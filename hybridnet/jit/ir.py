"""The IR: a flat SSA list of typed nodes (jaxpr-like), plain and printable.

    graph(%0:f32[4,3], %1:f32[5,3]) {
      %2:f32[4,5] = dot %0 %1 transpose_b=True        # model.py:12
      %3:f32[4,5] = relu %2
      return %3
    }

``Value``s are defined once: as a graph input, a constant, or a node output.
Node ops are registry op names (``hybridnet.ops.registry.OPS``), except the
fused ops that passes create (``fused_*``), which carry their own sub-graph.
"""
from dataclasses import dataclass, field

import numpy as np

__all__ = ["Value", "Node", "Graph", "dtype_str"]

_SHORT = {"float32": "f32", "float64": "f64", "float16": "f16", "int32": "i32", "int64": "i64",
          "int8": "i8", "uint8": "u8", "bool": "b1", "int16": "i16"}


def dtype_str(dtype):
    name = np.dtype(dtype).name
    return _SHORT.get(name, name)


class Value:
    """An SSA value: a shape and a dtype, identified by its ``id`` within a graph."""
    __slots__ = ("id", "shape", "dtype", "name")

    def __init__(self, id, shape, dtype, name=None):
        self.id = id
        self.shape = tuple(int(s) for s in shape)
        self.dtype = np.dtype(dtype)
        self.name = name

    @property
    def ndim(self):
        return len(self.shape)

    @property
    def size(self):
        return int(np.prod(self.shape, dtype=np.int64))

    def type_str(self):
        return f"{dtype_str(self.dtype)}[{','.join(map(str, self.shape))}]"

    def __repr__(self):
        return f"%{self.id}"


@dataclass(eq=False)
class Node:
    op: str
    inputs: list
    outputs: list
    attrs: dict = field(default_factory=dict)
    loc: str = ""                  # user's file:line that produced this node
    sub: "Graph" = None            # fused ops: the sub-graph they compute

    def with_inputs(self, inputs):
        """This node reading ``inputs`` (a new Node when they differ: passes never mutate)."""
        if all(a is b for a, b in zip(inputs, self.inputs)):
            return self
        return Node(self.op, list(inputs), self.outputs, self.attrs, self.loc, self.sub)

    def __repr__(self):
        outs = ", ".join(f"{v!r}:{v.type_str()}" for v in self.outputs)
        args = " ".join(repr(v) for v in self.inputs)
        defaults = _defaults(self.op)
        attrs = " ".join(f"{k}={_fmt_attr(v)}" for k, v in sorted(self.attrs.items())
                         if v is not None and not (k in defaults and _same(defaults[k], v)))
        text = f"{outs} = {self.op}"
        if args:
            text += " " + args
        if attrs:
            text += " " + attrs
        return text


def _defaults(op_name):
    from ..ops.registry import OPS
    op = OPS.get(op_name)
    return op.attr_defaults if op is not None else {}


def _same(a, b):
    try:
        return type(a) is type(b) and bool(a == b)
    except Exception:
        return False


def _fmt_attr(v):
    if isinstance(v, float):
        return repr(v)
    if isinstance(v, tuple):
        return "(" + ",".join(_fmt_attr(x) for x in v) + ")"
    return str(v)


@dataclass(eq=False)
class Graph:
    inputs: list = field(default_factory=list)
    nodes: list = field(default_factory=list)
    outputs: list = field(default_factory=list)
    constants: dict = field(default_factory=dict)   # Value -> np.ndarray

    def __str__(self):
        ins = ", ".join(f"{v!r}:{v.type_str()}" for v in self.inputs)
        lines = [f"graph({ins}) {{"]
        for v, arr in self.constants.items():
            lines.append(f"  {v!r}:{v.type_str()} = const {_const_repr(arr)}")
        for n in self.nodes:
            text = f"  {n!r}"
            lines.append(text)
            if n.sub is not None:
                lines.extend("    | " + line for line in str(n.sub).splitlines())
        lines.append("  return " + ", ".join(repr(v) for v in self.outputs))
        lines.append("}")
        return "\n".join(lines)

    __repr__ = __str__

    def tabular(self):
        """A torch.fx-style table: one row per node (op, inputs, output types, source line)."""
        rows = [("out", "op", "inputs", "type", "loc")]
        for v in self.inputs:
            rows.append((repr(v), "input", "", v.type_str(), ""))
        for v in self.constants:
            rows.append((repr(v), "const", "", v.type_str(), ""))
        for n in self.nodes:
            rows.append((",".join(map(repr, n.outputs)), n.op, " ".join(map(repr, n.inputs)),
                         ",".join(v.type_str() for v in n.outputs), n.loc))
        rows.append(("return", "", " ".join(map(repr, self.outputs)), "", ""))
        widths = [max(len(r[i]) for r in rows) for i in range(5)]
        return "\n".join("  ".join(c.ljust(w) for c, w in zip(r, widths)).rstrip()
                         for r in rows)

    def values(self):
        """Every value in definition order."""
        out = list(self.inputs) + list(self.constants)
        for n in self.nodes:
            out.extend(n.outputs)
        return out

    def renumber(self):
        """Give values consecutive ids in definition order (stable printing).

        Values inside fused sub-graphs are numbered after the outer ones."""
        seen = set()
        counter = 0
        for v in self.values():
            v.id = counter
            counter += 1
            seen.add(id(v))
        for n in self.nodes:
            if n.sub is not None:
                for v in n.sub.values():
                    if id(v) not in seen:
                        seen.add(id(v))
                        v.id = counter
                        counter += 1
        return self


def _const_repr(arr):
    arr = np.asarray(arr)
    if arr.size <= 4:
        return np.array2string(arr.reshape(-1), separator=",").replace("\n", "")
    return f"<{arr.size} values>"
