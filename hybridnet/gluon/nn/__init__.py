"""``gluon.nn``: layers (Dense, convolutions, pooling, normalization, activations ...)."""
from .activations import *  # noqa: F401,F403
from .basic_layers import *  # noqa: F401,F403
from .conv_layers import *  # noqa: F401,F403
from .pool_layers import *  # noqa: F401,F403
from .norm_layers import *  # noqa: F401,F403
from .sequential import HybridSequential, Sequential  # noqa: F401
from ..block import Block, HybridBlock, SymbolBlock  # noqa: F401  (Gluon 1.x: nn.Block)
