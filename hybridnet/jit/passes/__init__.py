"""Graph -> Graph passes, each in its own module; ``optimize`` lists them in order."""
from .cse import cse
from .dce import dce
from .fold import fold
from .fuse import fuse_elementwise
from .simplify import simplify

__all__ = ["simplify", "cse", "dce", "fold", "fuse_elementwise", "optimize", "PIPELINE"]

PIPELINE = (simplify, fold, cse, dce, fuse_elementwise)


def optimize(graph, verify_each=False):
    """Run the pass pipeline top to bottom (verifying between passes when asked)."""
    from ..verify import verify
    for p in PIPELINE:
        graph = p(graph)
        if verify_each:
            verify(graph)
    return graph
