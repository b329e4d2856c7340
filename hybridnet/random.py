"""Random numbers. ``hybridnet.random.seed(n)`` makes every random op reproducible.

One NumPy ``Generator`` drives everything random in hybridnet: these
functions, Dropout masks, initializers, RandomSampler and random transforms.
"""
import numpy as np

from ._state import STATE
from .base import ShapeError, normalize_dtype
from .context import check_device, current_context

__all__ = ["seed", "generator", "uniform", "normal", "randn", "randint", "shuffle",
           "exponential", "poisson", "multinomial"]

_GEN = [np.random.default_rng()]


def seed(seed_state, ctx="all"):
    """Seed hybridnet's generator (and NumPy's legacy global one, used by some user code)."""
    _GEN[0] = np.random.default_rng(int(seed_state))
    np.random.seed(int(seed_state) % (2 ** 32))


def generator():
    """The generator every random op draws from."""
    return _GEN[0]


def _shape(shape):
    if shape is None:
        return (1,)
    if isinstance(shape, (int, np.integer)):
        return (int(shape),)
    return tuple(shape)


def _out(arr, ctx, out=None):
    from .ndarray.ndarray import wrap
    ctx = current_context() if ctx is None else ctx
    check_device(ctx, "hybridnet.random")
    res = wrap(arr, ctx)
    if STATE.tracer is not None:
        res = STATE.tracer.constant(res)
    if out is not None:
        out._data[...] = arr
        return out
    return res


def _sample(fn, draw, params, shape, dtype, ctx, out):
    """Draw with number parameters, or, like MXNet, once per element of NDArray parameters
    (then the result has shape ``param.shape + shape``)."""
    arrays = [p for p in params if hasattr(p, "asnumpy")]
    if not arrays:
        a = draw(*params, _shape(shape if out is None else out.shape))
        return _out(a.astype(normalize_dtype(dtype)), ctx, out)
    pshape = arrays[0].shape
    if any(p.shape != pshape for p in arrays):
        raise ShapeError(f"random.{fn}: NDArray parameters must have one shape, got "
                         f"{' and '.join(str(p.shape) for p in arrays)}")
    extra = () if shape is None else _shape(shape)
    vals = [p.asnumpy().reshape(pshape + (1,) * len(extra)) if hasattr(p, "asnumpy") else p
            for p in params]
    a = draw(*vals, pshape + extra if out is None else out.shape)
    return _out(a.astype(normalize_dtype(dtype)), ctx or arrays[0].context, out)


def uniform(low=0.0, high=1.0, shape=None, dtype=None, ctx=None, out=None, **kwargs):
    """Samples from U[low, high); ``low``/``high`` may be numbers or NDArrays (one draw
    per element, result shape ``low.shape + shape``)."""
    return _sample("uniform", _GEN[0].uniform, (low, high), shape, dtype, ctx, out)


def normal(loc=0.0, scale=1.0, shape=None, dtype=None, ctx=None, out=None, **kwargs):
    """Samples from N(loc, scale^2); ``loc``/``scale`` may be numbers or NDArrays (one
    draw per element, result shape ``loc.shape + shape``)."""
    return _sample("normal", _GEN[0].normal, (loc, scale), shape, dtype, ctx, out)


def randn(*shape, loc=0.0, scale=1.0, dtype=None, ctx=None, **kwargs):
    return normal(loc, scale, shape or None, dtype, ctx)


def randint(low, high, shape=None, dtype=None, ctx=None, out=None, **kwargs):
    """Integers in [low, high) (int32 unless ``dtype`` says)."""
    a = _GEN[0].integers(low, high, _shape(shape if out is None else out.shape))
    return _out(a.astype(normalize_dtype(dtype, default=np.int32)), ctx, out)


def exponential(scale=1.0, shape=None, dtype=None, ctx=None, **kwargs):
    a = _GEN[0].exponential(scale, _shape(shape))
    return _out(a.astype(normalize_dtype(dtype)), ctx)


def poisson(lam=1.0, shape=None, dtype=None, ctx=None, **kwargs):
    a = _GEN[0].poisson(lam, _shape(shape))
    return _out(a.astype(normalize_dtype(dtype)), ctx)


def multinomial(data, shape=None, get_prob=False, dtype="int32", **kwargs):
    """Draw category indices from each row of probabilities ``data``."""
    p = data.asnumpy()
    n = int(np.prod(_shape(shape))) if shape is not None else 1
    flat = p.reshape(-1, p.shape[-1])
    draws = np.stack([_GEN[0].choice(p.shape[-1], size=n, p=row / row.sum()) for row in flat])
    out_shape = p.shape[:-1] + (_shape(shape) if shape is not None else ())
    return _out(draws.reshape(out_shape).astype(normalize_dtype(dtype)), data.context)


def shuffle(data, **kwargs):
    """A copy of ``data`` with its first axis randomly permuted."""
    a = data.asnumpy()
    return _out(a[_GEN[0].permutation(a.shape[0])], data.context)
