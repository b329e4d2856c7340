"""Binary elementwise ops: array-array (broadcasting), array-scalar and scalar-array
forms through the NDArray operators and the ``nd.<op>`` functions, comparisons,
dtype rules, in-place ops, gradients (float64 vs central differences), errors."""
import operator

import numpy as np
import pytest
from hypothesis import given, settings, strategies as st
from hypothesis.extra import numpy as hnp

from hybridnet import autograd, nd
from hybridnet.base import ShapeError
from hybridnet.test_utils import assert_almost_equal, check_numeric_gradient

# name -> (Python operator or None, NumPy reference, lhs domain, rhs domain)
ARITH = {
    "add": (operator.add, np.add, (-2, 2), (-2, 2)),
    "subtract": (operator.sub, np.subtract, (-2, 2), (-2, 2)),
    "multiply": (operator.mul, np.multiply, (-2, 2), (-2, 2)),
    "divide": (operator.truediv, np.divide, (-2, 2), (0.5, 2)),
    "floor_divide": (operator.floordiv, np.floor_divide, (-3, 3), (0.7, 1.9)),
    "modulo": (operator.mod, np.mod, (-3, 3), (0.7, 1.9)),
    "power": (operator.pow, np.power, (0.5, 2), (-1.5, 2)),
    "maximum": (None, np.maximum, (-2, 2), (-2, 2)),
    "minimum": (None, np.minimum, (-2, 2), (-2, 2)),
    "hypot": (None, np.hypot, (-2, 2), (-2, 2)),
}
COMPARE = {
    "equal": (operator.eq, np.equal), "not_equal": (operator.ne, np.not_equal),
    "greater": (operator.gt, np.greater), "greater_equal": (operator.ge, np.greater_equal),
    "lesser": (operator.lt, np.less), "lesser_equal": (operator.le, np.less_equal),
}
LOGICAL = {"logical_and": np.logical_and, "logical_or": np.logical_or,
           "logical_xor": np.logical_xor}
SCALAR = 1.3     # a scalar inside every rhs domain above


def _uniform(rng, dom, shape):
    return rng.uniform(dom[0], dom[1], shape)


def _forms(name, a, b):
    """Every public spelling of ``name(a, b)``."""
    fn = getattr(nd, name)
    out = [fn(a, b), fn(lhs=a, rhs=b)]
    if ARITH.get(name, COMPARE.get(name, (None,)))[0] is not None:
        out.append(ARITH.get(name, COMPARE.get(name))[0](a, b))
    return out


# ---- forward: array-array with broadcasting --------------------------------------------------
@settings(max_examples=25, deadline=None)
@given(hnp.mutually_broadcastable_shapes(num_shapes=2, min_dims=0, max_dims=4, max_side=4),
       st.sampled_from(sorted(ARITH)), st.integers(0, 2 ** 16))
def test_binary_broadcast_forward(shapes, name, seed):
    (sa, sb), result = shapes.input_shapes, shapes.result_shape
    rng = np.random.default_rng(seed)
    _, ref, da, db = ARITH[name]
    a = _uniform(rng, da, sa).astype(np.float32)
    b = _uniform(rng, db, sb).astype(np.float32)
    expect = ref(a, b)
    for y in _forms(name, nd.array(a), nd.array(b)):
        assert y.shape == result and y.dtype == np.float32
        assert_almost_equal(y, expect, rtol=1e-5, atol=1e-5)


@settings(max_examples=25, deadline=None)
@given(hnp.mutually_broadcastable_shapes(num_shapes=2, min_dims=1, max_dims=3, max_side=4),
       st.sampled_from(sorted(COMPARE) + sorted(LOGICAL)),
       st.sampled_from(["float32", "float64", "int32"]), st.integers(0, 2 ** 16))
def test_comparison_broadcast_returns_01_in_input_dtype(shapes, name, dtype, seed):
    rng = np.random.default_rng(seed)
    # few distinct values so that ties (== / <=) actually happen
    a = rng.integers(-1, 2, shapes.input_shapes[0]).astype(dtype)
    b = rng.integers(-1, 2, shapes.input_shapes[1]).astype(dtype)
    ref = COMPARE[name][1] if name in COMPARE else LOGICAL[name]
    expect = ref(a, b).astype(dtype)
    ys = _forms(name, nd.array(a, dtype=dtype), nd.array(b, dtype=dtype)) \
        if name in COMPARE else [getattr(nd, name)(nd.array(a, dtype=dtype),
                                                   nd.array(b, dtype=dtype))]
    for y in ys:
        assert y.dtype == np.dtype(dtype) and y.shape == shapes.result_shape
        assert np.array_equal(y.asnumpy(), expect)


# ---- forward: scalar forms -------------------------------------------------------------------
@pytest.mark.parametrize("name", sorted(ARITH))
def test_scalar_forms(name):
    op, ref, da, db = ARITH[name]
    rng = np.random.default_rng(3)
    x = _uniform(rng, da, (2, 3)).astype(np.float32)
    xr = _uniform(rng, db, (2, 3)).astype(np.float32)    # x on the rhs side: rhs domain
    s = np.float32(SCALAR)
    fn = getattr(nd, name)
    right = [fn(nd.array(x), SCALAR)] + ([op(nd.array(x), SCALAR)] if op else [])
    left = [fn(SCALAR, nd.array(xr))] + ([op(SCALAR, nd.array(xr))] if op else [])
    for y in right:
        assert y.dtype == np.float32
        assert_almost_equal(y, ref(x, s), rtol=1e-5, atol=1e-6)
    for y in left:
        assert y.dtype == np.float32
        assert_almost_equal(y, ref(s, xr), rtol=1e-5, atol=1e-6)
    # NumPy scalars and 0-d arrays count as numbers too
    assert_almost_equal(fn(nd.array(x), np.float64(SCALAR)), ref(x, s), rtol=1e-5, atol=1e-6)


@pytest.mark.parametrize("name", sorted(COMPARE))
def test_comparison_scalar_forms(name):
    op, ref = COMPARE[name]
    x = np.array([[-1, 0, 1], [2, 1, 0]], np.float32)
    for y, expect in [(op(nd.array(x), 1), ref(x, 1)), (op(1, nd.array(x)), ref(1, x)),
                      (getattr(nd, name)(nd.array(x), 1.0), ref(x, 1)),
                      (getattr(nd, name)(1.0, nd.array(x)), ref(1, x))]:
        assert y.dtype == np.float32
        assert np.array_equal(y.asnumpy(), expect.astype(np.float32))


def test_int32_scalar_ops_keep_int32():
    x = nd.array([5, -5, 7], dtype="int32")
    cases = {
        "x + 2": (x + 2, [7, -3, 9]), "2 - x": (2 - x, [-3, 7, -5]),
        "x * 3": (x * 3, [15, -15, 21]), "x / 2": (x / 2, [2, -2, 3]),   # C division (MXNet)
        "x // 2": (x // 2, [2, -3, 3]), "x % 3": (x % 3, [2, 1, 1]),
        "x ** 2": (x ** 2, [25, 25, 49]), "x + 2.7": (x + 2.7, [7, -3, 9]),  # scalar cast first
        "x > 0": (x > 0, [1, 0, 1]), "maximum": (nd.maximum(x, 0), [5, 0, 7]),
        "x + x": (x + x, [10, -10, 14]),
    }
    for label, (y, expect) in cases.items():
        assert y.dtype == np.int32, label
        assert y.asnumpy().tolist() == expect, label


def test_mixed_dtypes_promote():
    f32, f64 = nd.ones((2,)), nd.ones((2,), dtype="float64")
    i32 = nd.array([1, 2], dtype="int32")
    assert (i32 + f32).dtype == np.float32 and (f32 + i32).dtype == np.float32
    assert (f32 * f64).dtype == np.float64 and (f64 - f32).dtype == np.float64
    assert (i32 == f32).dtype == np.float32
    assert (f32 + i32).asnumpy().tolist() == [2, 3]


def test_python_float_scalar_cast_to_float32():
    x = nd.array([1.0], dtype="float32")
    assert (x + 0.1).asnumpy()[0] == np.float32(1.0) + np.float32(0.1)


def test_modulo_has_sign_of_divisor():
    x = nd.array([-7.0, 7.0, -7.0, 7.0])
    y = nd.array([3.0, -3.0, -3.0, 3.0])
    assert (x % y).asnumpy().tolist() == [2, -2, -1, 1]
    assert (x % 3).asnumpy().tolist() == [2, 1, 2, 1]
    assert (7 % nd.array([3.0, -3.0])).asnumpy().tolist() == [1, -2]


def test_numpy_and_list_operands():
    x = nd.array([1.0, 2.0])
    assert (x + np.array([1.0, 1.0])).asnumpy().tolist() == [2, 3]
    assert (x * [2, 3]).asnumpy().tolist() == [2, 6]
    assert (np.float32(2) * x).asnumpy().tolist() == [2, 4]     # NDArray wins over NumPy scalar
    assert nd.add(1, 2).asnumpy().tolist() == 3


# ---- in-place ----------------------------------------------------------------------------------
@pytest.mark.parametrize("iop,ref", [
    ("+=", np.add), ("-=", np.subtract), ("*=", np.multiply), ("/=", np.divide),
    ("//=", np.floor_divide), ("%=", np.mod), ("**=", np.power)])
@pytest.mark.parametrize("rhs_kind", ["scalar", "array", "broadcast"])
def test_inplace_writes_same_buffer(iop, ref, rhs_kind):
    x0 = np.array([[1.5, 2.0, 3.0], [0.5, 1.0, 2.5]], np.float32)
    rhs = {"scalar": 1.5, "array": np.full((2, 3), 1.5, np.float32),
           "broadcast": np.array([1.5, 2.0, 0.5], np.float32)}[rhs_kind]
    x = nd.array(x0)
    alias, buf = x, x._data
    r = rhs if rhs_kind == "scalar" else nd.array(rhs)
    env = {"x": x, "r": r}
    exec(f"x {iop} r", env)
    assert env["x"] is alias and alias._data is buf
    assert_almost_equal(alias, ref(x0, np.float32(rhs) if rhs_kind == "scalar" else rhs),
                        rtol=1e-6)


def test_inplace_int32_and_errors():
    x = nd.array([1, 2, 3], dtype="int32")
    buf = x._data
    x += 2
    x *= 3
    assert x._data is buf and x.dtype == np.int32 and x.asnumpy().tolist() == [9, 12, 15]
    y = nd.ones((3,))
    with pytest.raises(ShapeError, match=r"in-place op: the result has shape \(2, 3\) but the "
                                         r"target has shape \(3,\)"):
        y += nd.ones((2, 3))


# ---- errors --------------------------------------------------------------------------------
@pytest.mark.parametrize("name", sorted(ARITH) + sorted(COMPARE) + sorted(LOGICAL))
def test_bad_broadcast_raises_shape_error(name):
    a, b = nd.ones((2, 3)), nd.ones((4,))
    pat = rf"{name}: cannot apply to inputs with shapes \(2, 3\):float32, \(4,\):float32"
    with pytest.raises(ShapeError, match=pat):
        getattr(nd, name)(a, b)
    with pytest.raises(ShapeError, match="broadcast"):
        getattr(nd, name)(a, b)
    op = (ARITH.get(name) or COMPARE.get(name) or (None,))[0]
    if op is not None:
        with pytest.raises(ShapeError, match=pat):
            op(a, b)


# ---- gradients (float64, central differences) -----------------------------------------------
@pytest.mark.parametrize("shapes", [((2, 3), (2, 3)), ((2, 3), (3,)), ((2, 1), (1, 3)),
                                    ((3,), (2, 1, 3))])
@pytest.mark.parametrize("name", sorted(ARITH))
def test_binary_gradient(name, shapes):
    _, _, da, db = ARITH[name]
    rng = np.random.default_rng(4)
    a, b = _uniform(rng, da, shapes[0]), _uniform(rng, db, shapes[1])
    check_numeric_gradient(getattr(nd, name), [a, b])


@pytest.mark.parametrize("name", sorted(ARITH))
def test_scalar_form_gradient(name):
    op, _, da, db = ARITH[name]
    rng = np.random.default_rng(5)
    fn = getattr(nd, name)
    check_numeric_gradient(lambda x: fn(x, SCALAR), [_uniform(rng, da, (2, 3))])
    check_numeric_gradient(lambda x: fn(SCALAR, x), [_uniform(rng, db, (2, 3))])
    if op is not None:
        check_numeric_gradient(lambda x: op(x, SCALAR), [_uniform(rng, da, (3,))])
        check_numeric_gradient(lambda x: op(SCALAR, x), [_uniform(rng, db, (3,))])


def test_unary_operators_and_gradient():
    x = np.array([-1.5, 0.5, 2.0])
    check_numeric_gradient(lambda a: -a, [x])
    check_numeric_gradient(lambda a: abs(a), [x])
    y = nd.array(x)
    assert (+y) is y and (-y).asnumpy().tolist() == [1.5, -0.5, -2.0]


@pytest.mark.parametrize("name,tie_grads", [("maximum", (1, 0)), ("minimum", (1, 0))])
def test_extreme_tie_gradients(name, tie_grads):
    a, b = nd.array([1.0, 2.0]), nd.array([1.0, 0.0])
    a.attach_grad()
    b.attach_grad()
    with autograd.record():
        y = getattr(nd, name)(a, b)
    y.backward()
    # array-array: a tie sends the gradient to lhs (MXNet)
    assert (a.grad.asnumpy()[0], b.grad.asnumpy()[0]) == tie_grads
    # scalar form, either side: a tie sends the gradient to the array (MXNet)
    for make in (lambda x: getattr(nd, name)(x, 1.0), lambda x: getattr(nd, name)(1.0, x)):
        x = nd.array([1.0])
        x.attach_grad()
        with autograd.record():
            z = make(x)
        z.backward()
        assert x.grad.asnumpy()[0] == 1


def test_comparisons_not_differentiable():
    x = nd.array([1.0, 2.0])
    x.attach_grad()
    with autograd.record():
        y = (x > 1) * x + (x == 2)
    y.backward()
    assert x.grad.asnumpy().tolist() == [0, 1]


def test_mixed_dtype_gradient_in_input_dtype():
    a = nd.array([1.0, 2.0], dtype="float32")
    b = nd.array([3.0, 4.0], dtype="float64")
    a.attach_grad()
    b.attach_grad()
    with autograd.record():
        y = a * b
    y.backward()
    assert a.grad.dtype == np.float32 and b.grad.dtype == np.float64
    assert a.grad.asnumpy().tolist() == [3, 4] and b.grad.asnumpy().tolist() == [1, 2]
