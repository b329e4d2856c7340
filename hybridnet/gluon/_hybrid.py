"""Bridge from HybridBlock.__call__ to the JIT (hybridnet.jit.CachedGraph)."""
from .._state import STATE
from ..jit import CachedGraph


def _params_ready(block):
    return all(p._data is not None for p in block.collect_params().values())


def _attribute_getter(root, array):
    """If ``array`` is an attribute of a block in ``root``'s tree, a getter that re-reads
    it (so ``block.mask = new_array`` between calls is seen); else None."""
    from ..ndarray.ndarray import NDArray
    stack = [root]
    while stack:
        b = stack.pop()
        for name, value in vars(b).items():
            if value is array and isinstance(value, NDArray):
                return lambda b=b, name=name: getattr(b, name, None)
        stack.extend(b._children.values())
    return None


def call_hybridized(block, args, kwargs):
    """Run ``block`` through its CachedGraph (forward hooks run around the compiled call)."""
    from .block import Block
    if STATE.tracer is not None:
        # Nested inside an outer trace: inline this block's forward into the outer graph.
        return Block.__call__(block, *args, **kwargs)
    cg = block._cached
    if cg is None:
        if not _params_ready(block):
            # Deferred init needs one eager call to learn shapes; the answer is the eager one.
            return Block.__call__(block, *args, **kwargs)
        cg = block._cached = CachedGraph(lambda *a, **k: Block._call_forward(block, a, k),
                                         name=type(block).__name__,
                                         strict=block._hybrid_flags.get("strict", False),
                                         capture_resolver=lambda x: _attribute_getter(block, x))
    for hook in list(block._forward_pre_hooks.values()):
        hook(block, args)
    out = cg(*args, **kwargs)
    for hook in list(block._forward_hooks.values()):
        hook(block, args, out)
    return out
