"""Look inside what ``hybridize()`` built for a block.

    net.hybridize(); net(x)
    print(jit.inspect(net))            # every specialisation: graphs, fused groups, kernels
    jit.counters(net)                  # {'trace_count': 1, 'compile_count': 1}
    for src in jit.kernel_sources(net): print(src)
"""
from .codegen.driver import set_profiling  # noqa: F401
from .codegen.kernel_cache import cache_info  # noqa: F401

__all__ = ["inspect", "counters", "kernel_sources", "timings", "set_profiling", "cache_info"]


def _cached(block):
    cg = getattr(block, "_cached", None)
    if cg is None:
        raise ValueError(f"{type(block).__name__} has not run hybridized yet: call "
                         "block.hybridize() and then the block on data first")
    return cg


class EntryReport:
    """One specialisation of a block: its signature, graphs and kernels."""

    def __init__(self, key, entry):
        self.signature = key
        self.eager = entry == "eager"
        self.traced = None if self.eager else entry.graph
        self.executables = {}
        if not self.eager:
            if entry.infer is not None:
                self.executables["predict"] = entry.infer
            if entry.train is not None:
                self.executables["train_forward"] = entry.train.fwd_exec
                self.executables["backward"] = entry.train.bwd_exec
        self.backward = None if self.eager or entry.train is None else entry.train.bwd.graph

    @property
    def kernels(self):
        return [k for exe in self.executables.values() for k in exe.kernels]

    @property
    def fused_groups(self):
        return [n for exe in self.executables.values() for n in exe.graph.nodes
                if n.sub is not None]

    def __str__(self):
        if self.eager:
            return f"signature {self.signature}: runs eagerly (graph break)"
        parts = [f"signature {self.signature}", "traced:", str(self.traced)]
        for name, exe in self.executables.items():
            parts += [f"{name} after passes ({exe.kind}):", str(exe.graph.renumber()),
                      f"{name} driver:", exe.source]
            for k in exe.kernels:
                parts += [f"kernel {k.name} (from {k.loc}):", k.source]
        return "\n".join(parts)


class BlockReport:
    def __init__(self, block):
        cg = _cached(block)
        self.name = cg.name
        self.trace_count, self.compile_count = cg.trace_count, cg.compile_count
        self.entries = [EntryReport(str(cg.signatures.get(k, k)), e)
                        for k, e in cg.entries.items()]

    def __str__(self):
        head = (f"{self.name}: {len(self.entries)} specialisation(s), "
                f"trace_count={self.trace_count}, compile_count={self.compile_count}")
        return "\n\n".join([head] + [str(e) for e in self.entries])


def inspect(block):
    """A report of every graph, fused group and kernel built for ``block``."""
    return BlockReport(block)


def counters(block):
    cg = _cached(block)
    return {"trace_count": cg.trace_count, "compile_count": cg.compile_count}


def kernel_sources(block):
    return [k.source for e in inspect(block).entries for k in e.kernels]


def timings(block):
    """Per-kernel call counts and seconds (needs profiling on: ``set_profiling(True)``)."""
    return [{"kernel": k.name, "loc": k.loc, "calls": k.calls, "seconds": k.seconds}
            for e in inspect(block).entries for k in e.kernels]
