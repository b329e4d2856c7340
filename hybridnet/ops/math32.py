"""Vectorisable float32 math helpers for generated Numba kernels (sources only: the core
never imports numba; the JIT and the op kernel builders paste these into their modules).

Numba's float32 ``np.exp``/``np.tanh``/``np.log`` are scalar libm calls per element that
LLVM cannot vectorise (5-20x slower than NumPy's SIMD loops on (128, 256) arrays); these
are polynomial forms LLVM turns into SIMD code: ``_exp32``, ``_tanh32``, ``_log32``,
``_log1p32`` (softrelu, log_sigmoid, mish), each within 3 ulp of NumPy over the whole
float32 range, with inf, NaN, -0.0 and subnormals exact or within one subnormal step
(``tests/test_jit_math32.py``).

They are plain ``@numba.njit`` functions, not ``inline='always'``: LLVM inlines them all
the same (same speed), and their instructions keep their own fast-math flags. Inlined at
Numba's level they would take the caller's flags, and a caller's ``reassoc`` breaks them
(``(y * 2**h) * 2**(n-h)`` regrouped overflows to inf near exp(88.4); Cody-Waite
reductions lose their low part).

``use_math32(expr)`` rewrites a float32 scalar expression to call them; float64 keeps
libm (its accuracy is the reference).
"""
import re

__all__ = ["EXP32", "MATH32", "HELPER_NAMES", "use_math32", "uses_math32"]

_FM = "error_model='numpy', fastmath={'nsz', 'arcp', 'contract', 'afn'}"

EXP32 = f"""from llvmlite import ir as _ir
from numba.core import types as _types
from numba.extending import intrinsic as _intrinsic


@_intrinsic
def _f32_from_bits(typingctx, i):
    def codegen(context, builder, sig, args):
        return builder.bitcast(args[0], _ir.FloatType())
    return _types.float32(_types.int32), codegen


@numba.njit({_FM})
def _exp32(x):
    # exp of a float32 that LLVM vectorises (libm's expf is a scalar call): Cephes'
    # expf polynomial on x - n*ln2, times 2**n built from bits in two halves (so
    # subnormal results round correctly); <= 3 ulp from NumPy, inf/NaN/underflow exact.
    x = np.float32(x)
    t = min(max(x, np.float32(-104.0)), np.float32(88.75))
    fx = np.floor(t * np.float32(1.44269504088896341) + np.float32(0.5))
    r = t - fx * np.float32(0.693359375)
    r = r - fx * np.float32(-2.12194440e-4)
    p = ((((np.float32(1.9875691500e-4) * r + np.float32(1.3981999507e-3)) * r
           + np.float32(8.3334519073e-3)) * r + np.float32(4.1665795894e-2)) * r
         + np.float32(1.6666665459e-1)) * r + np.float32(5.0000001201e-1)
    y = p * (r * r) + r + np.float32(1.0)
    n = np.int32(fx)
    h = n >> 1
    y = (y * _f32_from_bits((h + 127) << 23)) * _f32_from_bits((n - h + 127) << 23)
    y = y if x > np.float32(-104.0) else np.float32(0.0)
    y = y if x < np.float32(88.72283) else np.float32(np.inf)
    return y if x == x else x


"""

_MORE32 = f"""@_intrinsic
def _bits_from_f32(typingctx, x):
    def codegen(context, builder, sig, args):
        return builder.bitcast(args[0], _ir.IntType(32))
    return _types.int32(_types.float32), codegen


@numba.njit({_FM})
def _tanh32(x):
    # tanh of a float32 that LLVM vectorises: Cephes' tanhf, an odd polynomial below
    # |x| = 0.625 (relative precision near 0), else 1 - 2 / (exp(2|x|) + 1) (saturates
    # to 1 from |x| ~ 9); the sign by copysign (so -0.0 stays -0.0); <= 2 ulp.
    x = np.float32(x)
    z = min(abs(x), np.float32(20.0))
    s = _exp32(z + z)
    big = np.float32(1.0) - np.float32(2.0) / (s + np.float32(1.0))
    w = z * z
    small = ((((np.float32(-5.70498872745e-3) * w + np.float32(2.06390887954e-2)) * w
               - np.float32(5.37397155531e-2)) * w + np.float32(1.33314422036e-1)) * w
             - np.float32(3.33332819422e-1)) * w * z + z
    r = small if z < np.float32(0.625) else big
    r = np.copysign(r, x)
    return r if x == x else x


@numba.njit(inline='always', {_FM})
def _log32_body(x):
    # log of a float32 that LLVM vectorises: Cephes' logf, the mantissa from the bits
    # (subnormals scaled by 2**23 first) reduced to [sqrt(.5), sqrt(2)), a degree-9
    # polynomial in m - 1, the exponent added in two parts; <= 3 ulp;
    # log(0) = -inf, log(x < 0) = NaN, log(inf) = inf. Inlined (at Numba's level, so
    # with their flags) into the two helpers below only.
    sub = x < np.float32(1.17549435e-38)
    xs = x * np.float32(8388608.0) if sub else x
    i = _bits_from_f32(xs)
    e = ((i >> 23) & 255) - 126
    e = e - 23 if sub else e
    m = _f32_from_bits((i & 8388607) | 1056964608)
    lo = m < np.float32(0.707106781186547524)
    e = e - 1 if lo else e
    m = (m + m if lo else m) - np.float32(1.0)
    z = m * m
    y = ((((((((np.float32(7.0376836292e-2) * m - np.float32(1.1514610310e-1)) * m
               + np.float32(1.1676998740e-1)) * m - np.float32(1.2420140846e-1)) * m
             + np.float32(1.4249322787e-1)) * m - np.float32(1.6668057665e-1)) * m
           + np.float32(2.0000714765e-1)) * m - np.float32(2.4999993993e-1)) * m
         + np.float32(3.3333331174e-1)) * m * z
    fe = np.float32(e)
    y = y + fe * np.float32(-2.12194440e-4)
    y = y - np.float32(0.5) * z
    r = m + y
    r = r + fe * np.float32(0.693359375)
    r = r if x < np.float32(np.inf) else x
    r = r if x > np.float32(0.0) else (
        np.float32(-np.inf) if x == np.float32(0.0) else np.float32(np.nan))
    return r if x == x else x


@numba.njit({_FM})
def _log32(x):
    return _log32_body(np.float32(x))


@numba.njit({_FM})
def _log1p32(x):
    # log1p of a float32 that LLVM vectorises: log(u) * (x / (u - 1)) with u = 1 + x
    # rounded (the factor corrects u's rounding error); x itself where u - 1 == 0 (tiny
    # x, -0.0); log1p(-1) = -inf, log1p(x < -1) = NaN, log1p(inf) = inf.
    x = np.float32(x)
    u = x + np.float32(1.0)
    d = u - np.float32(1.0)
    r = _log32_body(u) * (x / d)
    r = x if d == np.float32(0.0) else r
    # NaN falls through as u (a last ``x == x`` select here stopped LLVM vectorising)
    return r if u < np.float32(np.inf) else u


"""

# Every float32 helper (each kernel module that calls one gets all: they compile lazily).
MATH32 = EXP32 + _MORE32
# Their Numba dispatchers: compiled as part of the kernel that calls them (not counted as
# kernel compiles by ``jit.cache_info``).
HELPER_NAMES = frozenset({"_exp32", "_tanh32", "_log32", "_log32_body", "_log1p32"})

_CALLS = {"np.exp(": "_exp32(", "np.tanh(": "_tanh32(", "np.log(": "_log32(",
          "np.log1p(": "_log1p32("}
_CALL_RE = re.compile(r"(?<![\w.])(np\.(?:exp|tanh|log|log1p))\(")
_USES_RE = re.compile(r"(?<![\w.])_(?:exp|tanh|log|log1p)32\(")


def use_math32(expr):
    """``expr`` (a float32 scalar expression) calling the vectorisable helpers instead of
    ``np.exp`` / ``np.tanh`` / ``np.log`` / ``np.log1p``."""
    return _CALL_RE.sub(lambda m: _CALLS[m.group(1) + "("], expr)


def uses_math32(src):
    """Does generated source ``src`` call one of the helpers (so needs ``MATH32``)?"""
    return _USES_RE.search(src) is not None
