"""Bridge from HybridBlock.__call__ to the JIT (hybridnet.jit.CachedGraph)."""
from .._state import STATE
from ..jit import CachedGraph


def _params_ready(block):
    return all(p._data is not None for p in block.collect_params().values())


def call_hybridized(block, args, kwargs):
    from .block import Block
    if STATE.tracer is not None:
        # Nested inside an outer trace: inline this block's forward into the outer graph.
        return Block.__call__(block, *args, **kwargs)
    cg = block._cached
    if cg is None:
        if not _params_ready(block):
            # Deferred init needs one eager call to learn shapes; the answer is the eager one.
            return Block.__call__(block, *args, **kwargs)
        cg = block._cached = CachedGraph(lambda *a, **k: Block.__call__(block, *a, **k),
                                         name=type(block).__name__,
                                         strict=block._hybrid_flags.get("strict", False))
    return cg(*args, **kwargs)
