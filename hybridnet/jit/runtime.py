"""Executables: what runs a graph. Compiled code when codegen handles the graph,
the reference interpreter otherwise (always the same answer)."""
from .interpret import interpret

__all__ = ["Executable", "STATS"]

# Process-wide counters. ``allocations`` counts buffers the compiled runtime allocates
# (kernel outputs); NumPy-rule ops (reductions, conv, indexing) allocate their own results.
STATS = {"trace_count": 0, "compile_count": 0, "fallbacks": 0, "graph_breaks": 0,
         "allocations": 0}


class Executable:
    """Runs ``graph`` on a list of NumPy feeds, returning a list of NumPy outputs."""

    def __init__(self, graph, kind="interpreter"):
        self.graph = graph
        self.kind = kind
        self.kernels = []

    def __call__(self, feeds):
        return interpret(self.graph, feeds)
