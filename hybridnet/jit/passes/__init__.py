"""Graph -> Graph passes, each in its own module; ``pipeline`` lists them in order."""
from .dce import dce  # noqa: F401


def optimize(graph):
    """The pass pipeline, top to bottom."""
    graph = dce(graph)
    return graph
