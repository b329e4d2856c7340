"""The vectorisable float32 math helpers (``ops/math32.py``) against NumPy over the whole
float32 range, compiled with the elementwise kernels' own fast-math flags (which include
``reassoc``); kernels that use them against the reference interpreter; and layers that
use them (Dense(tanh), LSTM), eager vs hybridized, gradients included."""
import numpy as np
import pytest

from hybridnet import gluon, nd
from hybridnet.gluon import nn, rnn
from hybridnet.jit import interpret, trace_function
from hybridnet.jit.codegen import compile_graph
from hybridnet.jit.codegen.elementwise import FASTMATH
from hybridnet.jit.codegen.kernel_cache import load_kernel_module
from hybridnet.jit.passes import optimize
from hybridnet.ops.math32 import MATH32, use_math32, uses_math32

from _hybrid_check import check_hybrid


def _helper_kernel(name):
    return load_kernel_module("import numba\nimport numpy as np\n\n\n" + MATH32 + (
        f"@numba.njit(cache=True, error_model='numpy', fastmath={FASTMATH})\n"
        "def kernel(x, out):\n"
        "    for i in range(x.size):\n"
        f"        out[i] = {name}(x[i])\n")).kernel


_SPECIAL = np.array([0.0, -0.0, np.inf, -np.inf, np.nan, -np.nan, 1e-45, -1e-45, 1e-40, -1e-40,
                     1.1754942e-38, 1.17549435e-38, 1e-30, -1e-30, 3.4028235e38, -3.4028235e38,
                     0.625, -0.625, 0.5, 1.0, 2.0, 9.0, -9.0, 10.0, 44.0, 88.0, 88.72, 88.73,
                     89.0, -87.0, -103.0, -104.0, -105.0, 0.7071068], np.float32)


def _sweep():
    """Every 4099th float32 bit pattern (both signs, subnormals, NaNs), the specials and
    their neighbours."""
    x = np.arange(0, 2 ** 32, 4099, dtype=np.uint64).astype(np.uint32).view(np.float32)
    s = _SPECIAL
    with np.errstate(invalid="ignore", over="ignore"):
        return np.concatenate([x, s, np.nextafter(s, np.float32(np.inf)),
                               np.nextafter(s, np.float32(-np.inf))])


def _ulps(got, want):
    """Error in units of the float32 spacing at ``want`` (subnormal spacing below tiny);
    0 where both are the same inf or both NaN; inf where only one is finite."""
    same = (got == want) | (np.isnan(got) & np.isnan(want))
    fin = np.isfinite(want) & np.isfinite(got)
    u = np.where(same, 0.0, np.inf)
    spacing = np.maximum(np.spacing(np.abs(want[fin])).astype(np.float64), 2.0 ** -149)
    u[fin] = np.abs(got[fin].astype(np.float64) - want[fin].astype(np.float64)) / spacing
    return u


@pytest.mark.parametrize("name,ref,max_ulp", [
    ("_exp32", np.exp, 3.0), ("_tanh32", np.tanh, 2.0), ("_log32", np.log, 3.0),
    ("_log1p32", np.log1p, 2.0)])
def test_helper_matches_numpy_over_the_float32_range(name, ref, max_ulp):
    x = _sweep()
    got = np.empty_like(x)
    _helper_kernel(name)(x, got)
    with np.errstate(all="ignore"):
        want = ref(x)
    u = _ulps(got, want)
    assert u.max() <= max_ulp, (x[np.argmax(u)], got[np.argmax(u)], want[np.argmax(u)])
    # the specials exactly: inf, NaN, signed zeros, saturation, log(0), log(x < 0)
    k = np.isin(x, _SPECIAL[:6]) | np.isnan(x)
    np.testing.assert_array_equal(got[k], want[k])
    zeros = want == 0
    np.testing.assert_array_equal(np.signbit(got[zeros]), np.signbit(want[zeros]))
    assert np.isnan(got[np.isnan(want)]).all()


def test_helper_results_of_float64_arguments_are_float32_results():
    # A float64 argument (a literal in the template made the expression float64) is
    # computed as float32, like the node's NumPy rule.
    mod = load_kernel_module("import numba\nimport numpy as np\n\n\n" + MATH32 + (
        f"@numba.njit(cache=True, error_model='numpy', fastmath={FASTMATH})\n"
        "def kernel(x, out):\n"
        "    for i in range(x.size):\n"
        "        out[i] = _exp32(-0.5 * x[i]) + _tanh32(x[i] * 1.5) + _log32(abs(x[i]) + 1.0)\n"))
    x = np.linspace(-5, 5, 101, dtype=np.float32)
    got = np.empty_like(x)
    mod.kernel(x, got)
    want = np.exp(np.float32(-0.5) * x) + np.tanh(x * np.float32(1.5)) + np.log1p(np.abs(x))
    np.testing.assert_allclose(got, want, rtol=3e-6, atol=3e-6)


def test_expressions_rewrite_only_the_covered_calls():
    assert use_math32("(1.0 / (1.0 + np.exp(-{0})))") == "(1.0 / (1.0 + _exp32(-{0})))"
    assert use_math32("np.tanh(np.log1p(np.exp({0})))") == "_tanh32(_log1p32(_exp32({0})))"
    assert use_math32("np.log({0}) + np.log2({0}) + np.expm1({0})") == \
        "_log32({0}) + np.log2({0}) + np.expm1({0})"
    assert uses_math32("t0 = _tanh32(a0)") and not uses_math32("t0 = np.tanh(a0)")


def _compare(fn, shape, dtype, low=-4.0, high=4.0, rtol=None):
    rng = np.random.default_rng(0)
    feed = rng.uniform(low, high, shape).astype(dtype)
    g, _, _ = trace_function(fn, [nd.array(feed, dtype=dtype)])
    opt = optimize(g)
    exe = compile_graph(opt)
    assert exe.kind == "compiled", getattr(exe, "reason", "")
    got, want = exe([feed]), interpret(g, [feed])
    for a, b in zip(got, want):
        assert a.dtype == b.dtype == dtype
        tol = rtol or (2e-6 if dtype == np.float32 else 1e-14)
        np.testing.assert_allclose(a, b, rtol=tol, atol=tol)
    return opt, exe


_CHAINS = {
    "tanh": lambda x: nd.tanh(x * 2) + 1,
    "exp": lambda x: nd.exp(x * 0.5) - 1,
    "log": lambda x: nd.log(x.abs() + 0.5) * 2,
    "log1p": lambda x: nd.log1p(x.abs() - 0.5) * 2,
    "sigmoid": lambda x: nd.sigmoid(x * 3) * x,
    "softrelu": lambda x: nd.Activation(x * 4, act_type="softrelu") + x,
    "log_sigmoid": lambda x: nd.log_sigmoid(x * 4) - x,
    "mish": lambda x: nd.mish(x * 2) + 1,
    "elu": lambda x: nd.LeakyReLU(x * 2, act_type="elu") + x,
    "gelu": lambda x: nd.LeakyReLU(x * 2, act_type="gelu") * 2,
    "sin": lambda x: nd.sin(x * 2) + 1,
}
# forward expressions calling np.exp / np.tanh / np.log (elu: expm1, gelu: erf, sin: libm)
_USE_HELPERS = ("tanh", "exp", "log", "log1p", "sigmoid", "softrelu", "log_sigmoid", "mish")


@pytest.mark.parametrize("dtype", [np.float32, np.float64])
@pytest.mark.parametrize("name", sorted(_CHAINS))
def test_math_chains_match_the_interpreter(name, dtype):
    opt, exe = _compare(_CHAINS[name], (5, 37), dtype)
    srcs = "".join(k.source for k in exe.kernels)
    assert exe.kernels
    if dtype == np.float32 and name in _USE_HELPERS:
        assert uses_math32(srcs) and "np.exp(" not in srcs and "np.tanh(" not in srcs
    if dtype == np.float64:
        assert not uses_math32(srcs)


def test_numpy_faster_calls_stay_out_of_fused_groups():
    # float32 sin/cos, float64 tanh, cbrt: NumPy's loops beat Numba's libm calls, so the
    # node keeps its NumPy rule and the arithmetic around it still fuses.
    opt, _ = _compare(lambda x: (nd.sin(x * 2) + 1) * nd.cos(x), (3, 5), np.float32)
    assert sorted(n.op for n in opt.nodes if n.op != "fused_elementwise") == ["cos", "sin"]
    opt, _ = _compare(lambda x: nd.tanh(x * 2) + 1, (3, 5), np.float64)
    assert [n.op for n in opt.nodes] == ["fused_elementwise", "tanh", "fused_elementwise"]
    opt, _ = _compare(lambda x: nd.tanh(x * 2) + 1, (3, 5), np.float32)
    assert [n.op for n in opt.nodes] == ["fused_elementwise"]
    for dt in (np.float32, np.float64):
        opt, _ = _compare(lambda x: nd.cbrt(x * 2) + 1, (3, 5), dt)
        assert [n.op for n in opt.nodes] == ["fused_elementwise", "cbrt", "fused_elementwise"]


@pytest.mark.parametrize("name,fn", [("tanh", nd.tanh), ("exp", nd.exp), ("sigmoid", nd.sigmoid),
                                     ("log", lambda x: nd.log(x.abs() + 0.1))])
def test_lone_float32_helper_op_is_a_kernel(name, fn):
    opt, exe = _compare(fn, (4, 33), np.float32, rtol=4e-7 if name != "log" else 1e-6)
    assert opt.nodes[-1].op == "fused_elementwise" and exe.kernels
    assert uses_math32(exe.kernels[-1].source)


def test_float32_helpers_near_zero_keep_relative_precision():
    # tanh(x) ~ x and log1p(x) ~ x for tiny x: tanh's small-|x| branch, not 1 - 2/(e+1)
    x = np.float32([1e-30, -1e-30, 1e-8, -3e-6, 1e-3, 0.3, -0.6])
    for fn, ref in ((nd.tanh, np.tanh), (nd.log1p, np.log1p)):
        opt, exe = _compare(lambda v: fn(v) * 1, x.shape, np.float32, low=-0.5, high=0.5)
        got = exe([x])[0]
        np.testing.assert_allclose(got, ref(x), rtol=2.5e-7, atol=0)


class _DenseTanh(gluon.HybridBlock):
    def __init__(self, **kw):
        super().__init__(**kw)
        self.a = nn.Dense(7, activation="tanh", in_units=6)
        self.b = nn.Dense(5, activation="sigmoid", in_units=7)

    def forward(self, x):
        return self.b(self.a(x))


def test_dense_tanh_sigmoid_net_matches_eager_with_gradients():
    x = np.random.default_rng(1).standard_normal((9, 6)).astype(np.float32) * 3
    check_hybrid(_DenseTanh(), [x])


def test_lstm_layer_matches_eager_with_gradients():
    x = np.random.default_rng(2).standard_normal((4, 3, 5)).astype(np.float32) * 2
    check_hybrid(rnn.LSTM(6, input_size=5), [x])
