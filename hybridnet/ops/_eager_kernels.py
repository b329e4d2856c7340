"""Eager ops running the JIT's Numba kernel builders (2-D convolution and its gradients,
max pooling and its gradient, large ``sum_to``: a conv bias gradient).

An op's kernel builder (``kernel(node) -> source``, see ``registry.py``) only reads
its node's input/output shapes, dtypes and attrs; here it gets a stand-in node
built from the eager arrays. The source is loaded through the shared module cache
(``_kernel_cache.py``, ``cache=True``): the same file, and so the same compile, as
the JIT's kernel for that shape; a second process compiles nothing. Loaded kernels
are kept per (op, shapes, dtypes, attrs), so after the first call an eager op pays a
dict lookup and the dispatcher's call (a few us) on top of the kernel.

A builder returning None (shapes it does not cover) makes ``run`` return None: the
op then runs its NumPy rule. ``HYBRIDNET_EAGER_KERNELS=0`` or ``numpy_only()``
turns the kernels off (tests use it to get the NumPy reference). A kernel that cannot
be built or loaded (no writable cache folder ...) warns once and leaves the NumPy rule.
"""
import collections
import contextlib
import os
import warnings

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


def _key(name, arrays, out_shape, out_dtype, attrs):
    return (name, tuple((a.shape, a.dtype.char) for a in arrays), out_shape,
            np.dtype(out_dtype).char, tuple(attrs.items()))


def _declined(name, arrays, key, e):
    """A kernel that cannot be built, loaded or compiled (no writable cache folder ...):
    warn once; this key runs the NumPy rule from now on."""
    _FNS[key] = None
    warnings.warn(f"hybridnet: eager {name} could not use its Numba kernel for inputs "
                  f"{[a.shape for a in arrays]} ({type(e).__name__}: {e}); using the NumPy "
                  "rule", RuntimeWarning, stacklevel=4)


def _load(name, builder, arrays, out_shape, out_dtype, attrs):
    node = _Node(name, [_Val(a.shape, a.dtype) for a in arrays],
                 [_Val(out_shape, out_dtype)], dict(attrs))
    src = builder(node)
    if src is None:
        return None
    from .._kernel_cache import HEADER, load_kernel_module
    return load_kernel_module(HEADER + src).kernel


def run(name, builder, arrays, out_shape, out_dtype, attrs):
    """``builder``'s kernel for these arrays on them (a new output array), or None."""
    if not ENABLED[0]:
        return None
    out_shape = tuple(out_shape)
    key = _key(name, arrays, out_shape, out_dtype, attrs)
    try:
        fn = _FNS.get(key, _MISS)
    except TypeError:       # an unhashable attr (a list passed to a private op): NumPy rule
        return None
    first = fn is _MISS
    if first:
        try:
            fn = _FNS[key] = _load(name, builder, arrays, out_shape, out_dtype, attrs)
        except Exception as e:  # noqa: BLE001 - the NumPy rule runs instead
            return _declined(name, arrays, key, e)
    if fn is None:
        return None
    out = np.empty(out_shape, out_dtype)
    args = [np.ascontiguousarray(a) for a in arrays]
    if first:               # Numba compiles (or loads from its cache) on the first call
        try:
            fn(*args, out)
        except Exception as e:  # noqa: BLE001
            return _declined(name, arrays, key, e)
    else:
        fn(*args, out)
    CALLS[name] += 1
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
