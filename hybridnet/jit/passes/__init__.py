"""Graph -> Graph passes, each in its own module; ``optimize`` lists them in order."""
from .cse import cse
from .dce import dce
from .fold import fold
from .fuse_epilogue import fuse_epilogue
from .fuse import fuse_elementwise
from .fuse_matmul import fuse_matmul
from .rows import rows
from .simplify import simplify

__all__ = ["simplify", "cse", "dce", "fold", "rows", "fuse_elementwise", "fuse_matmul",
           "fuse_epilogue", "optimize", "PIPELINE"]

PIPELINE = (simplify, fold, cse, rows, dce, fuse_elementwise, fuse_matmul, fuse_epilogue)


def optimize(graph, verify_each=False):
    """Run the pass pipeline top to bottom (verifying between passes when asked)."""
    from ..verify import verify
    for p in PIPELINE:
        graph = p(graph)
        if verify_each:
            verify(graph)
    return graph
