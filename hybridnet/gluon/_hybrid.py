"""Bridge from HybridBlock.__call__ to the JIT (hybridnet.jit).

Until the compiled path handles a call, the block runs eagerly: the answer is
always exactly the eager one.
"""


def call_hybridized(block, args, kwargs):
    from .block import Block
    return Block.__call__(block, *args, **kwargs)
