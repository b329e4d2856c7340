"""Sequential containers."""
from ..block import Block, HybridBlock

__all__ = ["Sequential", "HybridSequential"]


class _SequentialMixin:
    def add(self, *blocks):
        """Append blocks; they run in order."""
        for b in blocks:
            self.register_child(b)
        return self

    def forward(self, x, *args):
        for block in self._children.values():
            x = block(x, *args)
            args = ()
            if isinstance(x, (tuple, list)):
                args, x = x[1:], x[0]
        if args:
            return (x,) + tuple(args)
        return x

    def __len__(self):
        return len(self._children)

    def __getitem__(self, key):
        layers = list(self._children.values())[key]
        if isinstance(layers, list):
            net = type(self)()
            net.add(*layers)
            return net
        return layers

    def __iter__(self):
        return iter(self._children.values())


class Sequential(_SequentialMixin, Block):
    """Stacks Blocks: ``net = nn.Sequential(); net.add(nn.Dense(10), nn.Dense(2))``."""

    def __init__(self, prefix=None, params=None):
        Block.__init__(self, prefix, params)


class HybridSequential(_SequentialMixin, HybridBlock):
    """Stacks HybridBlocks; can be hybridized as a whole."""

    def __init__(self, prefix=None, params=None):
        HybridBlock.__init__(self, prefix, params)
