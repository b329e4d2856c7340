"""Eager ops running the JIT's Numba kernel builders (2-D convolution, max pooling).

An op's kernel builder (``kernel(node) -> source``, see ``registry.py``) only reads
its node's input/output shapes, dtypes and attrs; here it gets a stand-in node
built from the eager arrays. The source is loaded through the shared module cache
(``_kernel_cache.py``, ``cache=True``): the same file, and so the same compile, as
the JIT's kernel for that shape; a second process compiles nothing. Loaded kernels
are kept per (op, shapes, dtypes, attrs), so after the first call an eager op pays a
dict lookup and the dispatcher's call (a few us) on top of the kernel.

A builder returning None (shapes it does not cover) makes ``run`` return None: the
op then runs its NumPy rule. ``HYBRIDNET_EAGER_KERNELS=0`` or ``numpy_only()``
turns the kernels off (tests use it to get the NumPy reference).
"""
import collections
import contextlib
import os

import numpy as np

__all__ = ["run", "numpy_only", "ENABLED", "CALLS"]

ENABLED = [os.environ.get("HYBRIDNET_EAGER_KERNELS", "1") != "0"]
_FNS = {}      # key -> kernel function, or None when the builder declined
_MISS = object()
CALLS = collections.Counter()   # op name -> calls that ran a kernel (tests read it)


class _Val:
    """What a kernel builder reads from an IR value."""
    __slots__ = ("shape", "dtype", "ndim", "size")

    def __init__(self, shape, dtype):
        self.shape, self.dtype = tuple(shape), np.dtype(dtype)
        self.ndim, self.size = len(self.shape), int(np.prod(self.shape))


class _Node:
    __slots__ = ("op", "inputs", "outputs", "attrs")

    def __init__(self, op, inputs, outputs, attrs):
        self.op, self.inputs, self.outputs, self.attrs = op, inputs, outputs, attrs


def _kernel(name, builder, arrays, out_shape, out_dtype, attrs):
    key = (name, tuple((a.shape, a.dtype.char) for a in arrays), out_shape,
           np.dtype(out_dtype).char, tuple(attrs.items()))
    try:
        fn = _FNS.get(key, _MISS)
    except TypeError:       # an unhashable attr (a list passed to a private op): NumPy rule
        return None
    if fn is _MISS:
        node = _Node(name, [_Val(a.shape, a.dtype) for a in arrays],
                     [_Val(out_shape, out_dtype)], dict(attrs))
        src = builder(node)
        fn = None
        if src is not None:
            from .._kernel_cache import HEADER, load_kernel_module
            fn = load_kernel_module(HEADER + src).kernel
        _FNS[key] = fn
    return fn


def run(name, builder, arrays, out_shape, out_dtype, attrs):
    """``builder``'s kernel for these arrays on them (a new output array), or None."""
    if not ENABLED[0]:
        return None
    fn = _kernel(name, builder, arrays, tuple(out_shape), out_dtype, attrs)
    if fn is None:
        return None
    CALLS[name] += 1
    out = np.empty(out_shape, out_dtype)
    fn(*[np.ascontiguousarray(a) for a in arrays], out)
    return out


@contextlib.contextmanager
def numpy_only():
    """Run eager ops on their NumPy rules inside this block (the reference in tests)."""
    old = ENABLED[0]
    ENABLED[0] = False
    try:
        yield
    finally:
        ENABLED[0] = old
