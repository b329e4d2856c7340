"""Code generation entry point: Graph -> Executable."""
from .runtime import Executable

__all__ = ["compile_graph"]


def compile_graph(graph):
    return Executable(graph)
