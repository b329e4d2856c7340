"""``hybridnet.gluon``: Blocks, Parameters, layers, losses, Trainer, data.

Submodules load on first use so ``import hybridnet`` stays fast.
"""
import importlib

_SUBMODULES = ("nn", "rnn", "loss", "data", "utils", "model_zoo", "contrib", "block",
               "parameter", "trainer")
_NAMES = {
    "Block": "block", "HybridBlock": "block", "SymbolBlock": "block",
    "Parameter": "parameter", "ParameterDict": "parameter", "Constant": "parameter",
    "Trainer": "trainer",
}


def __getattr__(name):
    if name in _SUBMODULES:
        return importlib.import_module("." + name, __name__)
    if name in _NAMES:
        return getattr(importlib.import_module("." + _NAMES[name], __name__), name)
    raise AttributeError(f"module 'hybridnet.gluon' has no attribute {name!r}")


def __dir__():
    return sorted(set(globals()) | set(_SUBMODULES) | set(_NAMES))
