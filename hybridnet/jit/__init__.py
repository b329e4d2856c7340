"""hybridnet.jit: trace -> IR -> passes -> codegen -> runtime, and inspection helpers."""
from .cached import CachedGraph, Signature  # noqa: F401
from .interpret import interpret  # noqa: F401
from .ir import Graph, Node, Value  # noqa: F401
from .runtime import STATS  # noqa: F401
from .trace import GraphBreak, Tracer, trace_function  # noqa: F401
from .verify import IRError, verify  # noqa: F401


def stats():
    """Process-wide counters: trace_count, compile_count, fallbacks, graph_breaks."""
    return dict(STATS)


from .inspect import cache_info, counters, inspect, kernel_sources, set_profiling, timings  # noqa: E402,F401
