"""Unary math ops and elementwise ops with attributes (clip, where, smooth_l1, add_n):
forward vs NumPy, gradients vs central differences (float64), dtype rules, errors."""
import math

import numpy as np
import pytest
from hypothesis import given, settings, strategies as st
from hypothesis.extra import numpy as hnp

import hybridnet as mx
from hybridnet import autograd, nd
from hybridnet.base import HybridnetValueError, ShapeError
from hybridnet.test_utils import assert_almost_equal, check_numeric_gradient

_erf = np.vectorize(math.erf)

# name -> (NumPy reference on float64, (lo, hi) of a domain away from kinks/poles)
UNARY = {
    "negative": (np.negative, (-2, 2)),
    "abs": (np.abs, (0.2, 2)),
    "sign": (np.sign, (0.2, 2)),
    "floor": (np.floor, (-2, 2)),
    "ceil": (np.ceil, (-2, 2)),
    "round": (lambda x: np.sign(x) * np.floor(np.abs(x) + 0.5), (-2, 2)),
    "rint": (np.rint, (-2, 2)),          # equal to NumPy away from .5 ties
    "trunc": (np.trunc, (-2, 2)),
    "fix": (np.trunc, (-2, 2)),
    "exp": (np.exp, (-2, 2)),
    "expm1": (np.expm1, (-2, 2)),
    "log": (np.log, (0.5, 2)),
    "log1p": (np.log1p, (-0.5, 2)),
    "log2": (np.log2, (0.5, 2)),
    "log10": (np.log10, (0.5, 2)),
    "sqrt": (np.sqrt, (0.5, 2)),
    "rsqrt": (lambda x: 1 / np.sqrt(x), (0.5, 2)),
    "cbrt": (np.cbrt, (0.5, 2)),
    "rcbrt": (lambda x: 1 / np.cbrt(x), (0.5, 2)),
    "square": (np.square, (-2, 2)),
    "reciprocal": (lambda x: 1 / x, (0.5, 2)),
    "sin": (np.sin, (-2, 2)),
    "cos": (np.cos, (-2, 2)),
    "tan": (np.tan, (-1, 1)),
    "arcsin": (np.arcsin, (-0.8, 0.8)),
    "arccos": (np.arccos, (-0.8, 0.8)),
    "arctan": (np.arctan, (-2, 2)),
    "sinh": (np.sinh, (-2, 2)),
    "cosh": (np.cosh, (-2, 2)),
    "tanh": (np.tanh, (-2, 2)),
    "arcsinh": (np.arcsinh, (-2, 2)),
    "arccosh": (np.arccosh, (1.2, 3)),
    "arctanh": (np.arctanh, (-0.8, 0.8)),
    "degrees": (np.degrees, (-2, 2)),
    "radians": (np.radians, (-2, 2)),
    "sigmoid": (lambda x: 1 / (1 + np.exp(-x)), (-3, 3)),
    "relu": (lambda x: np.maximum(x, 0), (-2, 2)),
    "softrelu": (lambda x: np.log(1 + np.exp(x)), (-3, 3)),
    "softsign": (lambda x: x / (1 + np.abs(x)), (-3, 3)),
    "erf": (_erf, (-2, 2)),
    "erfinv": (None, (-0.8, 0.8)),
    "logical_not": (lambda x: (x == 0).astype(x.dtype), (-2, 2)),
    "log_sigmoid": (lambda x: -np.log(1 + np.exp(-x)), (-3, 3)),
    "mish": (lambda x: x * np.tanh(np.log(1 + np.exp(x))), (-3, 3)),
    "gamma": (np.vectorize(math.gamma), (0.5, 3)),
    "gammaln": (np.vectorize(math.lgamma), (0.5, 3)),
    "digamma": (None, (0.5, 3)),
}
PIECEWISE_CONSTANT = {"sign", "floor", "ceil", "round", "rint", "trunc", "fix"}


def _sample(name, shape, seed=0):
    lo, hi = UNARY[name][1]
    x = np.random.default_rng(seed).uniform(lo, hi, shape)
    if name in PIECEWISE_CONSTANT:
        x = np.round(x * 2) / 2 + 0.2        # stay clear of integers and .5 ties
    if name == "relu":
        x = np.where(np.abs(x) < 0.1, 0.5, x)   # away from the kink
    return x


@pytest.mark.parametrize("name", sorted(UNARY))
def test_unary_forward_float32(name):
    x = _sample(name, (3, 4)).astype(np.float32)
    if name == "logical_not":
        x[0, :2] = 0
    ref = UNARY[name][0]
    y = getattr(nd, name)(nd.array(x))
    assert y.dtype == np.float32 and y.shape == x.shape
    if name == "erfinv":        # check that it inverts erf
        assert_almost_equal(_erf(y.asnumpy().astype(np.float64)), x, rtol=1e-5, atol=1e-6)
    elif name == "digamma":     # the derivative of lgamma, by central differences
        x64 = x.astype(np.float64)
        ref = (np.vectorize(math.lgamma)(x64 + 1e-6) - np.vectorize(math.lgamma)(x64 - 1e-6)) / 2e-6
        assert_almost_equal(y, ref, rtol=1e-5, atol=1e-5)
    else:
        assert_almost_equal(y, ref(x.astype(np.float64)), rtol=1e-5, atol=1e-6)
    # NDArray methods mirror the functions
    assert_almost_equal(getattr(nd.array(x), name)(), y)


@pytest.mark.parametrize("name", sorted(set(UNARY) - {"logical_not", "digamma"}))
def test_unary_gradient(name):
    x = _sample(name, (2, 3), seed=1)
    check_numeric_gradient(getattr(nd, name), [x], rtol=1e-5, atol=1e-7)


@pytest.mark.parametrize("name", sorted(PIECEWISE_CONSTANT | {"logical_not"}))
def test_piecewise_constant_grad_is_zero(name):
    x = nd.array(_sample("floor", (5,)), dtype="float64")
    x.attach_grad()
    with autograd.record():
        y = getattr(nd, name)(x) * 3 + x
    y.backward()
    # only the `+ x` path carries gradient (logical_not is not differentiable at all)
    assert_almost_equal(x.grad, np.ones(5))


@settings(max_examples=20, deadline=None)
@given(hnp.arrays(np.float64, hnp.array_shapes(min_dims=0, max_dims=3, max_side=4),
                  elements=st.floats(-3, 3)),
       st.sampled_from(["exp", "tanh", "sigmoid", "relu", "softsign", "abs", "square", "sin"]))
def test_unary_any_shape_float64(x, name):
    y = getattr(nd, name)(nd.array(x, dtype="float64"))
    assert y.shape == x.shape and y.dtype == np.float64
    assert_almost_equal(y, UNARY[name][0](x), rtol=1e-12, atol=1e-12)


def test_rounding_ties_follow_mxnet():
    x = nd.array([-2.5, -1.5, -0.5, 0.5, 1.5, 2.5])
    # round: halves away from zero; rint: n.5 -> n, -n.5 -> -n-1 (MXNet docs)
    assert nd.round(x).asnumpy().tolist() == [-3, -2, -1, 1, 2, 3]
    assert nd.rint(x).asnumpy().tolist() == [-3, -2, -1, 0, 1, 2]
    assert nd.fix(nd.array([-2.1, -1.9, 1.9, 2.1])).asnumpy().tolist() == [-2, -1, 1, 2]


def test_activations_stable_for_large_inputs():
    x = nd.array([-1000.0, -50.0, 0.0, 50.0, 1000.0])
    with np.errstate(over="raise", invalid="raise", divide="raise"):
        s = nd.sigmoid(x).asnumpy()
        sp = nd.softrelu(x).asnumpy()
    assert np.all(np.isfinite(s)) and np.all(np.isfinite(sp))
    assert s[0] == 0 and s[-1] == 1 and s[2] == 0.5
    assert_almost_equal(sp, [0, 0, np.log(2), 50, 1000], rtol=1e-6, atol=1e-7)


def test_unary_keeps_int_dtype():
    x = nd.array([-3, 0, 2], dtype="int32")
    for name, ref in [("abs", [3, 0, 2]), ("negative", [3, 0, -2]), ("sign", [-1, 0, 1]),
                      ("square", [9, 0, 4]), ("relu", [0, 0, 2]), ("logical_not", [0, 1, 0])]:
        y = getattr(nd, name)(x)
        assert y.dtype == np.int32, name
        assert y.asnumpy().tolist() == ref, name


def test_hard_sigmoid():
    x = np.array([-4.0, -1.0, 0.2, 1.0, 3.5])
    ref = np.clip(0.3 * x + 0.4, 0, 1)
    assert_almost_equal(nd.hard_sigmoid(nd.array(x, dtype="float64"), alpha=0.3, beta=0.4), ref)
    assert_almost_equal(nd.hard_sigmoid(nd.array([-5.0, 0.0, 5.0])), [0, 0.5, 1])  # MXNet defaults
    check_numeric_gradient(lambda a: nd.hard_sigmoid(a, alpha=0.3, beta=0.4), [x])


def test_stop_gradient_blocks_gradient():
    x = nd.array([1.0, 2.0])
    x.attach_grad()
    with autograd.record():
        y = nd.stop_gradient(x) * x + nd.BlockGrad(x)
    y.backward()
    assert x.grad.asnumpy().tolist() == [1, 2]
    assert nd.stop_gradient(x).asnumpy().tolist() == [1, 2]


def test_relu_grad_uses_mask():
    x = nd.array([-1.0, 0.0, 2.0])
    x.attach_grad()
    with autograd.record():
        y = nd.relu(x)
    y.backward(nd.array([5.0, 5.0, 5.0]))
    assert x.grad.asnumpy().tolist() == [0, 0, 5]


# ---- clip ----------------------------------------------------------------------------------
def test_clip_forward_and_method():
    x = np.array([[-2.0, -0.5, 0.0], [0.5, 1.0, 3.0]], np.float32)
    assert_almost_equal(nd.clip(nd.array(x), -1, 1), np.clip(x, -1, 1))
    assert_almost_equal(nd.array(x).clip(0, 0.7), np.clip(x, 0, 0.7))
    assert_almost_equal(nd.clip(nd.array(x), a_min=0.0, a_max=2), np.clip(x, 0, 2))
    xi = nd.array([-3, 1, 7], dtype="int32")
    y = nd.clip(xi, 0, 5)
    assert y.dtype == np.int32 and y.asnumpy().tolist() == [0, 1, 5]


def test_clip_gradient():
    x = np.array([-2.0, -0.4, 0.3, 0.9, 1.7])
    check_numeric_gradient(lambda a: nd.clip(a, -0.5, 1.0), [x])
    a = nd.array([-2.0, -0.5, 0.3, 1.0, 1.7])
    a.attach_grad()
    with autograd.record():
        y = nd.clip(a, -0.5, 1.0)
    y.backward()
    # passes where a_min <= x <= a_max (bounds included)
    assert a.grad.asnumpy().tolist() == [0, 1, 1, 1, 0]


def test_clip_errors():
    with pytest.raises(HybridnetValueError, match=r"clip: give both a_min and a_max \(got "
                                                  r"a_min=None, a_max=None\)"):
        nd.clip(nd.ones((2,)))
    with pytest.raises(HybridnetValueError, match=r"a_min=0.0, a_max=None.*nd.maximum"):
        nd.clip(nd.ones((2,)), 0)
    with pytest.raises(HybridnetValueError, match="a_min=2.0 is greater than a_max=1.0"):
        nd.clip(nd.ones((2,)), 2, 1)


# ---- where ---------------------------------------------------------------------------------
def test_where_same_shape_and_row_condition():
    rng = np.random.default_rng(0)
    x, y = rng.normal(size=(3, 4)), rng.normal(size=(3, 4))
    c = (rng.uniform(size=(3, 4)) > 0.5).astype(np.float32)
    assert_almost_equal(nd.where(nd.array(c), nd.array(x), nd.array(y)),
                        np.where(c != 0, x, y).astype(np.float32))
    rows = np.array([1.0, 0.0, 2.0])
    out = nd.where(nd.array(rows), nd.array(x), nd.array(y)).asnumpy()
    assert_almost_equal(out, np.where(rows[:, None] != 0, x, y).astype(np.float32))


def test_where_broadcasts_numpy_style_and_takes_numbers():
    out = nd.where(nd.array([[1.0], [0.0]]), nd.array([1.0, 2.0, 3.0]), nd.array(-1.0))
    assert out.shape == (2, 3)
    assert out.asnumpy().tolist() == [[1, 2, 3], [-1, -1, -1]]
    x = nd.array([1.0, -2.0, 3.0], dtype="float64")
    y = nd.where(x > 0, x, 0)
    assert y.dtype == np.float64 and y.asnumpy().tolist() == [1, 0, 3]
    assert nd.where(x > 0, -1, x).asnumpy().tolist() == [-1, -2, -1]


def test_where_gradient_not_to_condition():
    c = np.array([[1.0, 0.0, 1.0], [0.0, 0.0, 1.0]])
    rng = np.random.default_rng(1)
    check_numeric_gradient(lambda a, b, cc: nd.where(cc, a, b),
                           [rng.normal(size=(2, 3)), rng.normal(size=(2, 3)), c],
                           grad_inputs=[0, 1])
    check_numeric_gradient(lambda a, b, cc: nd.where(cc, a, b),
                           [rng.normal(size=(2, 3)), rng.normal(size=(3,)), np.array([0.0, 1.0])],
                           grad_inputs=[0, 1])
    cond = nd.array(c)
    cond.attach_grad()
    x = nd.ones((2, 3))
    x.attach_grad()
    with autograd.record():
        out = nd.where(cond, x, x * 2)
    out.backward()
    assert cond.grad.asnumpy().sum() == 0
    assert_almost_equal(x.grad, np.where(c != 0, 1.0, 2.0))


def test_where_errors():
    with pytest.raises(ShapeError, match=r"where: a 1-D condition must have one entry per row.*"
                                         r"\(3,\), x shape \(2, 3\)"):
        nd.where(nd.ones((3,)), nd.ones((2, 3)), nd.ones((2, 3)))
    with pytest.raises(ShapeError, match=r"where: condition \(2, 3\), x \(2, 3\) and y \(4,\)"):
        nd.where(nd.ones((2, 3)), nd.ones((2, 3)), nd.ones((4,)))


# ---- smooth_l1 -----------------------------------------------------------------------------
@pytest.mark.parametrize("sigma", [1.0, 2.0, 0.5])
def test_smooth_l1(sigma):
    x = np.array([-3.0, -0.9, -0.1, 0.0, 0.2, 0.7, 1.3, 4.0])
    s2 = sigma ** 2
    ref = np.where(np.abs(x) < 1 / s2, 0.5 * s2 * x * x, np.abs(x) - 0.5 / s2)
    assert_almost_equal(nd.smooth_l1(nd.array(x, dtype="float64"), scalar=sigma), ref)
    xg = x[np.abs(np.abs(x) - 1 / s2) > 0.05]      # away from the switch point
    check_numeric_gradient(lambda a: nd.smooth_l1(a, scalar=sigma), [xg + 0.01])


# ---- add_n ---------------------------------------------------------------------------------
def test_add_n_and_alias():
    rng = np.random.default_rng(2)
    xs = [rng.normal(size=(2, 3)) for _ in range(4)]
    ref = sum(xs).astype(np.float32)
    assert_almost_equal(nd.add_n(*[nd.array(x) for x in xs]), ref, rtol=1e-5)
    assert_almost_equal(nd.ElementWiseSum(*[nd.array(x) for x in xs]), ref, rtol=1e-5)
    assert_almost_equal(nd.add_n([nd.array(x) for x in xs]), ref, rtol=1e-5)
    check_numeric_gradient(lambda a, b, c: nd.add_n(a, b, c) * a, xs[:3])


def test_add_n_shape_error():
    with pytest.raises(ShapeError, match=r"add_n: .*input 0 has shape \(2, 3\) but input 1 "
                                         r"has shape \(3,\)"):
        nd.add_n(nd.ones((2, 3)), nd.ones((3,)))


# ---- codegen templates -------------------------------------------------------------------
EXPR_CASES = [(name, (_sample(name, (4,), seed=9),), {}) for name in UNARY
              if name not in ("erfinv", "digamma")] + [
    ("hard_sigmoid", (np.array([-4.0, 0.3, 4.0]),), {"alpha": 0.2, "beta": 0.5}),
    ("stop_gradient", (np.array([-4.0, 0.3]),), {}),
    ("clip", (np.array([-2.0, 0.3, 1.7]),), {"a_min": -0.5, "a_max": 1.0}),
    ("where", (np.array([1.0, 0.0, 2.0]), np.array([1.0, 2, 3]), np.array([-1.0, -2, -3])), {}),
    ("smooth_l1", (np.array([-2.0, 0.1, 0.9]),), {"scalar": 1.5}),
    ("hypot", (np.array([3.0, -1.0]), np.array([4.0, 2.0])), {}),
    ("hypot_scalar", (np.array([3.0, -1.0]),), {"scalar": 4.0, "reverse": False}),
    ("power_scalar", (np.array([3.0, 1.5]),), {"scalar": 2.0, "reverse": True}),
    ("modulo_scalar", (np.array([-3.5, 1.5]),), {"scalar": 2.0, "reverse": False}),
    ("lesser_equal", (np.array([1.0, 2.0]), np.array([2.0, 2.0])), {}),
    ("logical_xor", (np.array([1.0, 0.0]), np.array([2.0, 0.0])), {}),
]


def _render(op, attrs):
    expr = op.expr
    if isinstance(expr, tuple):
        expr = expr[1] if attrs.get("reverse") else expr[0]
    fmt = {k: repr(v) for k, v in attrs.items()}
    return expr.format(*[f"a{i}" for i in range(len(op.arg_names))], **fmt)


@pytest.mark.parametrize("name,inputs,attrs", EXPR_CASES, ids=[c[0] for c in EXPR_CASES])
def test_expr_template_matches_forward(name, inputs, attrs):
    op = mx.ops.OPS[name]
    assert op.kind == "elementwise"
    src = _render(op, attrs)
    fwd = op.forward(*inputs, **attrs)
    env = {"np": np, "math": math}
    got = [eval(src, env, {f"a{i}": a[j] for i, a in enumerate(inputs)})  # noqa: S307
           for j in range(len(inputs[0]))]
    assert_almost_equal(np.array(got, np.float64), fwd, rtol=1e-12, atol=1e-12)


def test_expr_templates_compile_with_numba():
    numba = pytest.importorskip("numba")
    body = [f"    out[{k}] = " + _render(mx.ops.OPS[n], a).replace("a0", "x[0]")
            .replace("a1", "x[1]").replace("a2", "x[2]") for k, (n, _, a) in enumerate(EXPR_CASES)]
    src = "def f(x, out):\n" + "\n".join(body) + "\n"
    env = {"np": np, "math": math}
    exec(src, env)  # noqa: S102
    f = numba.njit(error_model="numpy")(env["f"])
    out = np.zeros(len(EXPR_CASES))
    f(np.array([0.7, 0.4, 0.3]), out)
    with np.errstate(invalid="ignore"):       # arccosh(0.7) is NaN on both sides
        ref = [float(eval(_render(mx.ops.OPS[n], a), env,  # noqa: S307
                          {"a0": np.float64(0.7), "a1": np.float64(0.4), "a2": np.float64(0.3)}))
               for n, _, a in EXPR_CASES]
    assert_almost_equal(out, np.array(ref), rtol=1e-9, atol=1e-12, equal_nan=True)
