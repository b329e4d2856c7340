"""All op definitions. Importing this package fills the registry (``registry.OPS``)."""
from . import registry  # noqa: F401
from . import elementwise, unary, reduce, movement, linalg  # noqa: F401
from . import indexing, join  # noqa: F401
from . import nn_dense, nn_conv, nn_pool, nn_norm, nn_softmax, nn_act  # noqa: F401
from . import nn_rows  # noqa: F401
from . import nn_loss  # noqa: F401
from .registry import OPS, Op, get_op, register  # noqa: F401
