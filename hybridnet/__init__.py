"""hybridnet: Gluon-style imperative deep learning, hybridized into Numba-compiled graphs.

    import hybridnet as mx
    from hybridnet import nd, autograd, gluon
"""
__version__ = "0.1.0"

from . import _threads

_threads.configure()

from . import _numba_boot

_numba_boot.boot()

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
         "lr_scheduler": "lr_scheduler", "metric": "metric", "jit": "jit"}
# Parts of MXNet's API that hybridnet does not have yet: a clear error, not an ImportError.
_NOT_YET = {"sym": "the symbolic API (sym/symbol)", "symbol": "the symbolic API (sym/symbol)",
            "mod": "the Module API (mod/module)", "module": "the Module API (mod/module)",
            "io": "the io data iterators (use gluon.data.DataLoader)",
            "kv": "kvstore (one device: Trainer needs none)",
            "kvstore": "kvstore (one device: Trainer needs none)", "profiler": "the profiler"}


def __getattr__(name):
    if name in _LAZY:
        return _importlib.import_module("." + _LAZY[name], __name__)
    if name in _NOT_YET:
        raise AttributeError(f"hybridnet.{name}: {_NOT_YET[name]} is not implemented yet; "
                             "Gluon code (gluon, nd, autograd, hybridize) does not need it")
    raise AttributeError(f"module 'hybridnet' has no attribute {name!r}")
