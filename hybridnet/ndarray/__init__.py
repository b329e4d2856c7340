"""``hybridnet.nd``: NDArray and every op as a function (generated from the registry)."""
from .. import ops as _ops  # noqa: F401  (fills the registry)
from .. import random  # noqa: F401  (nd.random.uniform ...)
from ..ops.registry import OPS as _OPS
from . import _api
from .creation import (arange, array, empty, eye, full, full_like, linspace, ones,  # noqa: F401
                       ones_like, zeros, zeros_like)
from .io import load, save  # noqa: F401
from .ndarray import NDArray, invoke, wrap  # noqa: F401
from . import linalg  # noqa: F401  (nd.linalg.gemm2 ...)

_ns = _api.build_namespace()
globals().update(_ns)

# MXNet spellings that name the same op.
_ALIASES = {
    "broadcast_add": "add", "elemwise_add": "add", "broadcast_plus": "add", "plus": "add",
    "broadcast_sub": "subtract", "elemwise_sub": "subtract", "broadcast_minus": "subtract",
    "minus": "subtract", "sub": "subtract",
    "broadcast_mul": "multiply", "elemwise_mul": "multiply", "mul": "multiply",
    "broadcast_div": "divide", "elemwise_div": "divide", "div": "divide", "true_divide": "divide",
    "broadcast_power": "power", "broadcast_maximum": "maximum", "broadcast_minimum": "minimum",
    "broadcast_mod": "modulo", "mod": "modulo",
    "broadcast_equal": "equal", "broadcast_not_equal": "not_equal",
    "broadcast_greater": "greater", "broadcast_greater_equal": "greater_equal",
    "broadcast_lesser": "lesser", "broadcast_lesser_equal": "lesser_equal",
    "less": "lesser", "less_equal": "lesser_equal",
    "concatenate": "concat", "sum_axis": "sum", "max_axis": "max", "min_axis": "min",
    "batch_flatten": "flatten", "Flatten": "flatten", "Reshape": "reshape",
    "SliceChannel": "split", "Concat": "concat", "Cast": "cast", "swapaxes": "swapaxes",
    "SwapAxis": "swapaxes", "broadcast_axis": "broadcast_axes", "Pad": "pad",
    "flip": "reverse",
    "ElementWiseSum": "add_n", "broadcast_hypot": "hypot",
    "broadcast_logical_and": "logical_and", "broadcast_logical_or": "logical_or",
    "broadcast_logical_xor": "logical_xor", "BlockGrad": "stop_gradient",
}
for _alias, _target in _ALIASES.items():
    if _target in _ns and _alias not in globals():
        globals()[_alias] = _ns[_target]
        _ns.setdefault(_alias, _ns[_target])   # so x.flip() etc. become methods below


def waitall():
    """Wait for all pending work (hybridnet runs synchronously on the CPU)."""


# Hand-written frontends that are also NDArray methods (x.softmax() ...).
_METHOD_FRONTENDS = ["softmax", "log_softmax", "relu", "sigmoid", "tanh", "clip", "one_hot",
                     "pick", "take", "split", "slice", "slice_axis", "tile", "repeat", "pad",
                     "flip", "squeeze", "expand_dims", "transpose", "swapaxes", "flatten",
                     "norm", "argmax", "argmin", "topk", "sort", "argsort", "broadcast_like",
                     "broadcast_axes", "reshape_like", "where", "dot", "zeros_like", "ones_like"]

# NDArray methods that mirror nd functions (x.sum(axis=1), x.exp() ...).
_api.attach_methods(_ns, [n for n, op in _OPS.items() if not n.startswith("_")
                          and not n.endswith("_scalar") and n not in _api.BINARY
                          and (op.arg_names or op.variadic)] + _METHOD_FRONTENDS)


def _reshape_method(self, *shape, **kwargs):
    """``x.reshape(2, 3)`` or ``x.reshape((2, 3))``; 0 keeps a dim, -1 infers one."""
    if "shape" in kwargs:
        shape = kwargs.pop("shape")
    elif len(shape) == 1 and isinstance(shape[0], (tuple, list)):
        shape = shape[0]
    return invoke(_OPS["reshape"], (self,), {"shape": tuple(int(s) for s in shape),
                                             "reverse": kwargs.get("reverse", False)})


NDArray.reshape = _reshape_method


