"""NDArray behaviour that MXNet 1.x programs rely on: dtypes, operators, in-place
writes, reshape codes, printing, conversion, contexts and creation functions."""
import numpy as np
import pytest
from hypothesis import given, settings, strategies as st
from hypothesis.extra import numpy as hnp

import hybridnet as mx
from hybridnet import nd
from hybridnet.base import DeviceError, DTypeError, HybridnetError, ShapeError


# ---- dtypes of created arrays ---------------------------------------------------------------
def test_python_list_is_float32():
    assert nd.array([1, 2, 3]).dtype == np.float32
    assert nd.array([[1.5, 2.0]]).dtype == np.float32


@pytest.mark.parametrize("src_dtype", [np.float64, np.int64, np.int32, np.uint8, np.float16])
def test_numpy_source_becomes_float32_like_mxnet(src_dtype):
    # MXNet 1.x nd.array: "The default dtype is source_array.dtype if source_array is an
    # NDArray, float32 otherwise" -- a NumPy source does not keep its dtype.
    src = np.arange(6).reshape(2, 3).astype(src_dtype)
    a = nd.array(src)
    assert a.dtype == np.float32
    np.testing.assert_array_equal(a.asnumpy(), src.astype(np.float32))


def test_explicit_dtype_and_ndarray_source_keep_dtype():
    src = np.arange(4, dtype=np.float64)
    assert nd.array(src, dtype=src.dtype).dtype == np.float64
    i = nd.array([1, 2], dtype="int32")
    assert i.dtype == np.int32
    assert nd.array(i).dtype == np.int32          # NDArray source keeps its dtype
    assert nd.array(i, dtype="float16").dtype == np.float16


def test_array_copies_its_source():
    src = np.ones(3, np.float32)
    a = nd.array(src)
    src[0] = 5
    assert a.asnumpy()[0] == 1


# ---- operators ------------------------------------------------------------------------------
@pytest.mark.parametrize("dtype", ["float32", "float64", "int32", "uint8"])
def test_comparisons_return_01_in_input_dtype(dtype):
    a = nd.array([1, 2, 3], dtype=dtype)
    b = nd.array([3, 2, 1], dtype=dtype)
    cases = [(a == b, [0, 1, 0]), (a != b, [1, 0, 1]), (a < b, [1, 0, 0]),
             (a <= b, [1, 1, 0]), (a > b, [0, 0, 1]), (a >= b, [0, 1, 1]),
             (a == 2, [0, 1, 0]), (a > 1, [0, 1, 1]), (2 < a, [0, 0, 1]), (2 >= a, [1, 1, 0])]
    for res, want in cases:
        assert res.dtype == np.dtype(dtype).type
        np.testing.assert_array_equal(res.asnumpy(), np.array(want, dtype))


def test_scalar_operands_on_either_side():
    x = np.array([1.0, 2.0, 4.0], np.float32)
    a = nd.array(x)
    cases = [(a + 2, x + 2), (2 + a, 2 + x), (a - 2, x - 2), (2 - a, 2 - x),
             (a * 3, x * 3), (3 * a, 3 * x), (a / 2, x / 2), (2 / a, 2 / x),
             (a ** 2, x ** 2), (2 ** a, 2 ** x), (a % 3, x % 3), (7 % a, 7 % x),
             (a // 3, x // 3), (7 // a, 7 // x), (-a, -x), (abs(-a), x),
             (np.float32(2) * a, 2 * x), (a * np.float64(2), 2 * x), (a + True, x + 1)]
    for res, want in cases:
        assert isinstance(res, nd.NDArray)
        assert res.dtype == np.float32
        np.testing.assert_allclose(res.asnumpy(), want, rtol=1e-6)


def test_int_array_with_scalar_stays_int():
    a = nd.array([1, 2, 3], dtype="int32")
    for res in (a + 2, 2 * a, a - 1, 10 - a):
        assert res.dtype == np.int32
    np.testing.assert_array_equal((10 - a).asnumpy(), [9, 8, 7])


@settings(max_examples=25, deadline=None)
@given(shapes=hnp.mutually_broadcastable_shapes(num_shapes=2, min_dims=0, max_dims=3,
                                                max_side=4),
       op=st.sampled_from(["__add__", "__sub__", "__mul__", "__truediv__", "__pow__"]),
       data=st.data())
def test_broadcasting_binary_ops_match_numpy(shapes, op, data):
    s0, s1 = shapes.input_shapes
    elems = st.floats(0.5, 2.0, width=32)
    x = data.draw(hnp.arrays(np.float32, s0, elements=elems))
    y = data.draw(hnp.arrays(np.float32, s1, elements=elems))
    res = getattr(nd.array(x), op)(nd.array(y))
    want = getattr(x, op)(y)
    assert res.shape == want.shape
    np.testing.assert_allclose(res.asnumpy(), want, rtol=1e-5)


# ---- in-place ops and slice assignment ------------------------------------------------------
def test_inplace_ops_write_the_same_buffer():
    a = nd.array([1.0, 2.0, 3.0])
    alias, view = a, a.detach()          # detach() shares the buffer, like MXNet
    for op, want in [("__iadd__", [2, 3, 4]), ("__isub__", [1, 2, 3]),
                     ("__imul__", [2, 4, 6]), ("__itruediv__", [1, 2, 3])]:
        res = getattr(a, op)(1 if op in ("__iadd__", "__isub__") else 2)
        assert res is a
        np.testing.assert_array_equal(view.asnumpy(), want)
    a += nd.array([1.0, 1.0, 1.0])
    a *= nd.array([2.0])                  # broadcasting a smaller operand is fine
    assert alias is a
    np.testing.assert_array_equal(view.asnumpy(), [4, 6, 8])


def test_inplace_op_cannot_grow_the_target():
    a = nd.ones((3,))
    with pytest.raises(ShapeError, match=r"in-place op.*\(2, 3\).*\(3,\)"):
        a += nd.ones((2, 3))


def test_slice_assignment_writes_in_place():
    a = nd.zeros((3, 4))
    view = a.detach()
    a[:] = 5
    np.testing.assert_array_equal(view.asnumpy(), np.full((3, 4), 5))
    a[1:3] = nd.ones((2, 4))
    a[0] = nd.array([1, 2, 3, 4])
    a[:, 3] = np.array([7, 8, 9], np.float32)
    a[2, 1] = -1
    want = np.array([[1, 2, 3, 7], [1, 1, 1, 8], [1, -1, 1, 9]], np.float32)
    np.testing.assert_array_equal(view.asnumpy(), want)


def test_slice_assignment_with_wrong_shape():
    a = nd.zeros((3, 4))
    with pytest.raises(ShapeError, match=r"slice assignment.*\(3, 4\)"):
        a[0] = nd.ones((5,))


# ---- reshape --------------------------------------------------------------------------------
@pytest.mark.parametrize("target,want", [
    ((0, -1), (2, 12)), ((-1, 0), (8, 3)), ((0, 0, -1), (2, 3, 4)), ((-1,), (24,)),
    ((4, -1), (4, 6)), ((0, 3, 2, 2), (2, 3, 2, 2)), ((6, 4), (6, 4))])
def test_reshape_codes(target, want):
    x = np.arange(24, dtype=np.float32).reshape(2, 3, 4)
    a = nd.array(x)
    for res in (a.reshape(target), a.reshape(*target), a.reshape(shape=target),
                nd.reshape(a, shape=target)):
        assert res.shape == want
        np.testing.assert_array_equal(res.asnumpy(), x.reshape(want))


def test_reshape_incompatible_size():
    with pytest.raises(ShapeError, match=r"reshape.*\(2, 3\).*\(4, 2\)"):
        nd.ones((2, 3)).reshape((4, 2))


# ---- printing -------------------------------------------------------------------------------
def test_repr_matches_mxnet():
    assert repr(nd.ones((5, 3)) * 2) == ("\n[[2. 2. 2.]\n [2. 2. 2.]\n [2. 2. 2.]\n [2. 2. 2.]\n"
                                         " [2. 2. 2.]]\n<NDArray 5x3 @cpu(0)>")
    assert str(nd.array([1, 2, 3], dtype="int32")) == "\n[1 2 3]\n<NDArray 3 @cpu(0)>"
    assert repr(nd.array([0.5, 1.25])) == "\n[0.5  1.25]\n<NDArray 2 @cpu(0)>"
    assert repr(nd.zeros((2, 0))) == "\n[]\n<NDArray 2x0 @cpu(0)>"


# ---- conversion -----------------------------------------------------------------------------
def test_asnumpy_is_a_copy():
    a = nd.array([1, 2, 3])
    n = a.asnumpy()
    assert isinstance(n, np.ndarray) and n.dtype == np.float32
    n[0] = 100
    assert a.asnumpy()[0] == 1


def test_asscalar_size_one_only():
    assert nd.array([3.5]).asscalar() == 3.5
    assert isinstance(nd.array([3.5]).asscalar(), float)
    assert nd.array([[7]], dtype="int32").asscalar() == 7
    assert nd.ones((2, 3)).sum().asscalar() == 6
    with pytest.raises(ShapeError, match=r"asscalar.*shape \(2, 3\).*size-1"):
        nd.ones((2, 3)).asscalar()


def test_astype_and_copy():
    a = nd.array([1.7, -2.2, 3.0])
    b = a.astype("int32")
    assert b.dtype == np.int32 and a.dtype == np.float32
    np.testing.assert_array_equal(b.asnumpy(), [1, -2, 3])
    assert a.astype(np.float64).dtype == np.float64
    assert a.astype("float32", copy=False) is a
    c = a.astype("float32")
    assert c is not a
    c[:] = 0
    assert a.asnumpy()[0] == pytest.approx(1.7)
    d = a.copy()
    d += 1
    np.testing.assert_allclose(a.asnumpy(), [1.7, -2.2, 3.0], rtol=1e-6)


def test_copyto_array_and_context():
    a = nd.array([1, 2, 3])
    dst = nd.zeros(3)
    assert a.copyto(dst) is dst
    np.testing.assert_array_equal(dst.asnumpy(), [1, 2, 3])
    c = a.copyto(mx.cpu())
    assert c is not a and c.context == mx.cpu(0)
    c[:] = 0
    assert a.asnumpy()[0] == 1
    with pytest.raises(ShapeError, match=r"copyto.*\(3,\).*\(4,\)"):
        a.copyto(nd.zeros(4))


def test_context_and_as_in_context():
    a = nd.ones((2, 2))
    assert a.context == mx.cpu(0) and a.ctx == mx.cpu() and str(a.context) == "cpu(0)"
    assert a.as_in_context(mx.cpu(0)) is a
    assert nd.zeros(2, ctx=mx.cpu(0)).context == mx.cpu(0)
    with mx.cpu(0):
        assert nd.zeros(2).context == mx.cpu(0)


def test_gpu_when_none_is_a_clear_error(monkeypatch):
    monkeypatch.setattr(mx.context, "_NUM_GPUS", [0])   # as on a machine without CUDA
    with pytest.raises(DeviceError, match=r"as_in_context\(gpu\(0\)\).*not available.*cpu\(\)"):
        nd.ones(2).as_in_context(mx.gpu(0))
    with pytest.raises(DeviceError, match=r"gpu\(1\) is not available"):
        nd.zeros((2, 2), ctx=mx.gpu(1))
    with pytest.raises(RuntimeError):
        nd.array([1], ctx=mx.gpu())


def test_properties():
    x = np.arange(6, dtype=np.float32).reshape(2, 3)
    a = nd.array(x)
    assert a.shape == (2, 3) and a.size == 6 and a.ndim == 2 and a.dtype == np.float32
    assert a.T.shape == (3, 2)
    np.testing.assert_array_equal(a.T.asnumpy(), x.T)
    assert len(a) == 2
    rows = list(a)
    assert len(rows) == 2 and all(isinstance(r, nd.NDArray) for r in rows)
    np.testing.assert_array_equal(rows[1].asnumpy(), x[1])


# ---- creation -------------------------------------------------------------------------------
def test_creation_functions_default_float32():
    cases = [(nd.zeros((2, 3)), np.zeros((2, 3))), (nd.ones(4), np.ones(4)),
             (nd.full((2, 2), 7), np.full((2, 2), 7)), (nd.empty((3, 1)), None),
             (nd.arange(5), np.arange(5)), (nd.arange(2, 8, 2), np.arange(2, 8, 2)),
             (nd.arange(0, 3, repeat=2), np.repeat(np.arange(3), 2)),
             (nd.linspace(0, 1, 5), np.linspace(0, 1, 5)),
             (nd.linspace(0, 1, 4, endpoint=False), np.linspace(0, 1, 4, endpoint=False)),
             (nd.eye(3), np.eye(3)), (nd.eye(2, 3, 1), np.eye(2, 3, 1))]
    for res, want in cases:
        assert isinstance(res, nd.NDArray) and res.dtype == np.float32
        if want is not None:
            assert res.shape == want.shape
            np.testing.assert_allclose(res.asnumpy(), want, rtol=1e-6)
    assert nd.empty((3, 1)).shape == (3, 1)


def test_creation_dtype_and_like():
    assert nd.zeros(3, dtype="int32").dtype == np.int32
    assert nd.ones((2,), dtype=np.float64).dtype == np.float64
    assert nd.arange(4, dtype="int32").dtype == np.int32
    src = nd.array([[1, 2]], dtype="uint8")
    z, o = nd.zeros_like(src), nd.ones_like(src)
    assert z.shape == o.shape == (1, 2) and z.dtype == o.dtype == np.uint8
    np.testing.assert_array_equal(o.asnumpy(), [[1, 1]])
    np.testing.assert_array_equal(z.asnumpy(), [[0, 0]])


def test_creation_out_and_mxnet_keywords():
    dst = nd.ones((2, 2))
    view = dst.detach()
    assert nd.zeros((2, 2), out=dst) is dst and nd.full((2, 2), 3, out=dst) is dst
    np.testing.assert_array_equal(view.asnumpy(), np.full((2, 2), 3))
    assert nd.zeros((2,), stype="default").shape == (2,)
    np.testing.assert_array_equal(nd.arange(0, 4, 2, 1, None).asnumpy(), [0, 2])  # infer_range
    with pytest.raises(ValueError, match=r"nd.zeros: stype='csr' is not supported"):
        nd.zeros((2,), stype="csr")
    with pytest.raises(ValueError, match=r"nd.ones: unexpected arguments \['colour'\]"):
        nd.ones((2,), colour="red")


@pytest.mark.parametrize("make", [lambda: nd.zeros(3, dtype="float128"),
                                  lambda: nd.array([1], dtype="foo"),
                                  lambda: nd.ones(2).astype("complex64"),
                                  lambda: nd.full((2,), 1, dtype="str")])
def test_unknown_dtype_names_valid_ones(make):
    with pytest.raises(DTypeError, match=r"unknown dtype.*float32.*int32.*uint8") as e:
        make()
    assert isinstance(e.value, HybridnetError) and isinstance(e.value, TypeError)
