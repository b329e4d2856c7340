"""Code generation: optimized Graph -> Executable (generated driver + Numba kernels)."""
from .driver import compile_graph  # noqa: F401
