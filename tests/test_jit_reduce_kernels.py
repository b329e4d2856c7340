"""sum/mean Numba kernels (leading or trailing axes) against the reference interpreter."""
import numpy as np
import pytest

from hybridnet import nd
from hybridnet.jit import interpret, trace_function
from hybridnet.jit.codegen import compile_graph
from hybridnet.jit.passes import optimize


def _compare(fn, shape, dtype):
    rng = np.random.default_rng(1)
    x = rng.uniform(-2, 2, shape).astype(dtype)
    g, _, _ = trace_function(fn, [nd.array(x, dtype=dtype)])
    exe = compile_graph(optimize(g))
    assert exe.kind == "compiled"
    got, want = exe([x]), interpret(g, [x])
    for a, b in zip(got, want):
        assert a.shape == b.shape and a.dtype == b.dtype
        tol = 1e-5 if dtype == np.float32 else 1e-12
        np.testing.assert_allclose(a, b, rtol=tol, atol=tol)
    return exe


CASES = [
    ((6, 5), dict(axis=0)),                      # bias gradient: column sums
    ((4, 3, 7), dict(axis=(0, 1))),              # leading block
    ((4, 3, 7), dict(axis=-1)),                  # row sums
    ((4, 3, 7), dict(axis=(1, 2), keepdims=True)),
    ((4, 3, 7), dict(axis=0, exclude=True)),     # = axes (1, 2)
    ((5, 9), dict()),                            # all axes -> shape (1,)
    ((1, 1), dict(axis=0)),                      # size 1
    ((3, 17), dict(axis=1)),                     # width not a multiple of the vector
    ((4, 3, 5, 6), dict(axis=(0, 2, 3))),        # a convolution's bias gradient
    ((4, 1, 3, 5), dict(axis=(0, 3))),           # size-1 axis between kept ones
    ((2, 3, 400), dict(axis=(0, 2))),            # long runs: float64 accumulation
]


@pytest.mark.parametrize("op", ["sum", "mean"])
@pytest.mark.parametrize("shape,kw", CASES)
@pytest.mark.parametrize("dtype", [np.float32, np.float64])
def test_reduce_kernel_matches_interpreter(op, shape, kw, dtype):
    exe = _compare(lambda x: getattr(nd, op)(x, **kw), shape, dtype)
    if shape == (1, 1):
        assert len(exe.kernels) <= 1       # a size-1 reduction may become a reshape
    else:
        assert len(exe.kernels) == 1       # the reduction ran as the Numba kernel


@pytest.mark.parametrize("shape,target", [
    ((4, 3, 5, 6), (1, 3, 1, 1)),                # conv bias gradient
    ((2, 4, 3), (3,)),                           # leading axes dropped
    ((2, 4, 3), (4, 1)),
    ((5, 7), (1, 1)),
])
def test_sum_to_kernel_matches_interpreter(shape, target):
    from hybridnet.ops._util import call
    exe = _compare(lambda x: call("sum_to", x, shape=target), shape, np.float32)
    assert len(exe.kernels) == 1


def test_large_sum_is_as_accurate_as_numpy():
    x = np.random.default_rng(0).uniform(0, 1, (64, 3, 60, 60)).astype(np.float32)
    g, _, _ = trace_function(lambda a: nd.sum(a, axis=(0, 2, 3)), [nd.array(x)])
    exe = compile_graph(optimize(g))
    exact = x.astype(np.float64).sum(axis=(0, 2, 3))
    np.testing.assert_allclose(exe([x])[0], exact, rtol=2e-7)


def test_middle_axis_keeps_numpy_rule():
    exe = _compare(lambda x: nd.sum(x, axis=1), (4, 3, 7), np.float32)
    assert exe.kernels == []


def test_integer_sum_keeps_numpy_rule():
    x = np.arange(12, dtype=np.int32).reshape(3, 4)
    g, _, _ = trace_function(lambda a: nd.sum(a, axis=0), [nd.array(x, dtype=np.int32)])
    exe = compile_graph(optimize(g))
    np.testing.assert_array_equal(exe([x])[0], x.sum(axis=0))
    assert exe.kernels == []
