"""``nd.linalg``: MXNet's linear-algebra namespace (``nd.linalg.gemm2(A, B)`` ...).

The functions are the registry ops ``linalg_<name>`` under their short names.
"""
from ..ops.registry import OPS
from ._api import make_function

__all__ = ["gemm", "gemm2"]


def _short(op_name, short):
    fn = make_function(OPS[op_name])
    fn.__name__ = fn.__qualname__ = short
    fn.__module__ = "hybridnet.nd.linalg"
    return fn


gemm2 = _short("linalg_gemm2", "gemm2")
gemm = _short("linalg_gemm", "gemm")
