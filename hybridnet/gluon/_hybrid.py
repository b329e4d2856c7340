"""Bridge from HybridBlock.__call__ to the JIT (hybridnet.jit.CachedGraph)."""
from .._state import STATE
from ..jit import CachedGraph


def _params_ready(block):
    return all(p._data is not None for p in block.collect_params().values())


def _attribute_getter(root, array):
    """Where the forward found ``array``, as a getter that re-reads it every call, or None.

    An attribute of a block in ``root``'s tree (``block.mask = new_array`` between calls
    is seen), a module global or a closed-over variable of a block's ``forward`` /
    ``hybrid_forward`` (rebinding ``MASK = ...`` is seen, as it is eagerly). None means
    the array cannot be reached again (created in the forward: a constant).
    """
    from ..ndarray.ndarray import NDArray
    if not isinstance(array, NDArray):
        return None
    stack, blocks = [root], []
    while stack:
        b = stack.pop()
        blocks.append(b)
        for name, value in vars(b).items():
            if value is array:
                return lambda b=b, name=name: getattr(b, name, None)
        stack.extend(b._children.values())
    for b in blocks:
        for fn in _forward_functions(b):
            for name, value in fn.__globals__.items():
                if value is array:
                    return lambda g=fn.__globals__, name=name: g.get(name)
            for cell in fn.__closure__ or ():
                try:
                    if cell.cell_contents is array:
                        return lambda cell=cell: _cell_value(cell)
                except ValueError:      # an empty cell
                    continue
    return None


def _forward_functions(block):
    fns = []
    for name in ("forward", "hybrid_forward"):
        fn = getattr(type(block), name, None)
        fn = getattr(fn, "__func__", fn)
        if fn is not None and hasattr(fn, "__globals__") and fn not in fns:
            fns.append(fn)
    return fns


def _cell_value(cell):
    try:
        return cell.cell_contents
    except ValueError:
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
