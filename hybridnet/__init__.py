"""hybridnet: Gluon-style imperative deep learning, hybridized into Numba-compiled graphs.

    import hybridnet as mx
    from hybridnet import nd, autograd, gluon
"""
__version__ = "0.1.0"

from . import _threads

_threads.configure()

from . import base  # noqa: F401
from .base import HybridnetError, MXNetError  # noqa: F401
from .context import Context, cpu, current_context, gpu, num_gpus  # noqa: F401
from . import ndarray  # noqa: F401
from . import ndarray as nd  # noqa: F401
from . import autograd, random  # noqa: F401
from . import test_utils  # noqa: F401
from . import gluon  # noqa: F401

import importlib as _importlib

# Loaded on first use (keeps `import hybridnet` fast; each may pull in more code).
_LAZY = {"init": "initializer", "initializer": "initializer", "optimizer": "optimizer",
         "lr_scheduler": "lr_scheduler", "metric": "metric", "jit": "jit", "io": "io",
         "sym": "symbol", "symbol": "symbol", "mod": "module", "module": "module",
         "kv": "kvstore", "kvstore": "kvstore", "profiler": "profiler"}


def __getattr__(name):
    if name in _LAZY:
        return _importlib.import_module("." + _LAZY[name], __name__)
    raise AttributeError(f"module 'hybridnet' has no attribute {name!r}")
