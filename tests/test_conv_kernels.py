"""Compiled 2-D convolution kernels (direct loops / im2col + GEMM, chosen by shape) and the
tiled max-pool gradient against the NumPy implementation, and hybridized LeNet against eager."""
import numpy as np
import pytest

import hybridnet as mx
from hybridnet import nd
from hybridnet.gluon import nn
from hybridnet.jit import interpret as _interpret, trace_function
from hybridnet.jit.codegen import compile_graph
from hybridnet.jit.passes import optimize
from hybridnet.ops._eager_kernels import numpy_only
from hybridnet.ops._util import call

from _hybrid_check import check_hybrid


def interpret(g, feeds):
    """The reference: the graph on the ops' NumPy rules (eager ops would run the same
    Numba kernels as the compiled graph)."""
    with numpy_only():
        return _interpret(g, feeds)


def _conv_ops(stride, dilate, pad, groups, in_size, kernel):
    a = dict(stride=stride, dilate=dilate, pad=pad, num_group=groups)

    def f(x, w, gy):
        return (call("_convolution", x, w, **a),
                call("_conv_bwd_data", gy, w, in_size=in_size, **a),
                call("_conv_bwd_weight", gy, x, kernel=kernel, **a))
    return f


def _compare(f, arrays, dtype, rtol):
    rng = np.random.default_rng(0)
    feeds = [rng.standard_normal(s).astype(dtype) for s in arrays]
    g, _, _ = trace_function(f, [nd.array(v, dtype=dtype) for v in feeds])
    exe = compile_graph(optimize(g))
    assert exe.kind == "compiled", getattr(exe, "reason", "")
    got, want = exe(feeds), interpret(g, feeds)
    for a, b in zip(got, want):
        assert a.shape == b.shape and a.dtype == b.dtype == dtype
        np.testing.assert_allclose(a, b, rtol=rtol, atol=rtol * np.abs(b).max())
    return exe


def _paths(exe):
    """Which lowering each compiled conv kernel took: 'gemm' or 'direct'."""
    return ["gemm" if "np.matmul" in k.source else "direct" for k in exe.kernels]


# (x shape, w shape, stride, dilate, pad, groups), the lowering expected for
# (forward, data gradient, weight gradient); None: NumPy fallback (no kernel).
CASES = [
    # LeNet conv1 (C*k*k = 9) and conv2 (K = 150, 16 filters)
    (((3, 1, 9, 9), (6, 1, 3, 3), (1, 1), (1, 1), (1, 1), 1), ("direct", "gemm", "direct")),
    (((2, 6, 8, 8), (16, 6, 5, 5), (1, 1), (1, 1), (0, 0), 1), ("gemm", "gemm", "direct")),
    # stride 2 with padding: the data gradient scatters rows (GEMM + col2im)
    (((2, 3, 7, 6), (5, 3, 3, 3), (2, 2), (1, 1), (1, 1), 1), ("direct", "gemm", "direct")),
    # dilation and groups: direct loops per group, data gradient as a flipped correlation
    (((2, 4, 7, 7), (6, 2, 3, 3), (1, 1), (2, 2), (2, 2), 2), ("direct", "direct", "direct")),
    # grouped and strided: no data-gradient kernel, NumPy runs it
    (((2, 4, 7, 7), (6, 2, 3, 3), (2, 1), (1, 1), (1, 0), 2), ("direct", None, "direct")),
    # size-1 dims, channel counts that are not multiples of the block sizes
    (((1, 1, 1, 5), (3, 1, 1, 3), (1, 1), (1, 1), (0, 0), 1), ("direct", "direct", "direct")),
    (((2, 5, 6, 9), (7, 5, 2, 3), (2, 1), (1, 2), (0, 1), 1), ("direct", "gemm", "direct")),
    # K >= 32 with stride and dilation through the GEMM path; 1x1 kernel padded by 1
    (((2, 8, 9, 9), (16, 8, 3, 3), (2, 2), (2, 2), (1, 1), 1), ("gemm", "gemm", "direct")),
    (((2, 40, 4, 5), (3, 40, 1, 1), (1, 1), (1, 1), (1, 1), 1), ("gemm", "gemm", "direct")),
]


def _run_case(spec, dtype, rtol):
    xs, ws, stride, dilate, pad, groups = spec
    y = nd.Convolution(nd.zeros(xs), nd.zeros(ws), kernel=ws[2:], stride=stride,
                       dilate=dilate, pad=pad, num_group=groups, no_bias=True)
    f = _conv_ops(stride, dilate, pad, groups, xs[2:], ws[2:])
    return _compare(f, [xs, ws, y.shape], dtype, rtol)


@pytest.mark.parametrize("spec,paths", CASES)
def test_conv_kernels_match_numpy_float32(spec, paths):
    exe = _run_case(spec, np.float32, 2e-5)
    assert _paths(exe) == [p for p in paths if p is not None]


@pytest.mark.parametrize("spec,paths", [CASES[0], CASES[1], CASES[3]])
def test_conv_kernels_match_numpy_float64(spec, paths):
    _run_case(spec, np.float64, 1e-12)


def test_bwd_kernels_with_fewer_windows_than_fit():
    """Transposed convolution with adj: the output gradient covers fewer window positions
    than the input would allow (in_size 8 from 3 positions at stride 2, kernel 3)."""
    a = dict(stride=(2, 2), dilate=(1, 1), pad=(0, 0), num_group=1)

    def f(gy, w, x):
        return (call("_conv_bwd_data", gy, w, in_size=(8, 8), **a),
                call("_conv_bwd_weight", gy, x, kernel=(3, 3), **a))
    exe = _compare(f, [(2, 4, 3, 3), (4, 3, 3, 3), (2, 3, 8, 8)], np.float32, 2e-5)
    assert _paths(exe) == ["gemm", "direct"]


def test_mixed_dtypes_fall_back_to_numpy():
    f = _conv_ops((1, 1), (1, 1), (0, 0), 1, (5, 5), (3, 3))
    rng = np.random.default_rng(1)
    feeds = [rng.standard_normal(s).astype(d) for s, d in
             [((1, 2, 5, 5), np.float32), ((3, 2, 3, 3), np.float64), ((1, 3, 3, 3), np.float32)]]
    g, _, _ = trace_function(f, [nd.array(v, dtype=v.dtype) for v in feeds])
    exe = compile_graph(optimize(g))
    assert len(exe.kernels) == 1      # only the weight gradient: both its operands are float32
    for a, b in zip(exe(feeds), interpret(g, feeds)):
        assert a.dtype == b.dtype
        np.testing.assert_allclose(a, b, rtol=1e-5, atol=1e-5)


# ---- tiled max-pool gradient (kernel == stride, no padding) ---------------------------
def _pool_grad(kernel, conv="valid"):
    def f(x, g):
        return call("_pool_max_grad", g, x, kernel=kernel, stride=kernel, pad=(0, 0),
                    pooling_convention=conv)
    return f


@pytest.mark.parametrize("shape,kernel,dtype", [((2, 3, 7, 9), (2, 2), np.float32),
                                                ((1, 2, 6, 6), (3, 2), np.float64),
                                                ((1, 1, 4, 7), (1, 3), np.float32)])
def test_tiled_max_pool_grad_matches_numpy(shape, kernel, dtype):
    out = tuple(s // k for s, k in zip(shape[2:], kernel))
    exe = _compare(_pool_grad(kernel), [shape, shape[:2] + out], dtype, 0)
    assert "t0 = " in exe.kernels[0].source       # the tiled kernel ran


def test_tiled_max_pool_grad_ties_take_the_first_maximum():
    x = np.array([[[[1, 1, 2, 0, 5], [1, 0, 2, 2, 5], [3, 3, 3, 3, 5]]]], np.float32)
    g = np.array([[[[10, 20]]]], np.float32)
    graph, _, _ = trace_function(_pool_grad((2, 2)), [nd.array(x), nd.array(g)])
    got = compile_graph(optimize(graph))([x, g])[0]
    np.testing.assert_array_equal(got, interpret(graph, [x, g])[0])
    np.testing.assert_array_equal(got[0, 0], [[10, 0, 20, 0, 0], [0, 0, 0, 0, 0],
                                              [0, 0, 0, 0, 0]])


def test_full_convention_overhanging_windows_use_the_general_kernel():
    exe = _compare(_pool_grad((2, 2), "full"), [(1, 2, 5, 5), (1, 2, 3, 3)], np.float32, 0)
    assert "t0 = " not in exe.kernels[0].source


# ---- whole network ---------------------------------------------------------------------
def test_hybridized_lenet_trains_like_eager():
    net = nn.HybridSequential()
    net.add(nn.Conv2D(6, 3, padding=1, activation="relu", in_channels=1), nn.MaxPool2D(2),
            nn.Conv2D(16, 5, activation="relu", in_channels=6), nn.MaxPool2D(2), nn.Flatten(),
            nn.Dense(12, activation="relu", in_units=64), nn.Dense(10, in_units=12))
    x = np.random.default_rng(0).standard_normal((4, 1, 16, 16)).astype(np.float32)
    # Xavier keeps activations O(1): the default Uniform(0.5) grows them to ~1e6 after the
    # SGD steps, where float32 summation order alone moves the smallest entries by 1e-4.
    check_hybrid(net, [x], init=mx.init.Xavier())


# ---- max-pool forward: tiled windows in one pass, NaN as NumPy -----------------------------
def _pool(kernel, stride, pad=(0, 0), conv="valid"):
    def f(x):
        return call("_pooling", x, kernel=kernel, stride=stride, pad=pad, pool_type="max",
                    pooling_convention=conv)
    return f


@pytest.mark.parametrize("shape,kernel,stride,pad,conv,dtype,tiled", [
    ((2, 3, 8, 8), (2, 2), (2, 2), (0, 0), "valid", np.float32, True),
    ((2, 3, 7, 9), (2, 2), (2, 2), (0, 0), "valid", np.float32, True),
    ((1, 2, 6, 7), (3, 2), (3, 2), (0, 0), "valid", np.float64, True),
    ((1, 1, 1, 7), (1, 3), (1, 3), (0, 0), "valid", np.float32, True),
    ((1, 2, 5, 5), (2, 2), (2, 2), (0, 0), "full", np.float32, False),
    ((1, 2, 7, 7), (3, 3), (2, 2), (1, 1), "valid", np.float64, False),
])
def test_max_pool_kernels_match_numpy_with_nan_and_inf(shape, kernel, stride, pad, conv, dtype,
                                                       tiled):
    rng = np.random.default_rng(3)
    x = rng.standard_normal(shape).astype(dtype)
    x.reshape(-1)[::7] = np.nan
    x.reshape(-1)[3::11] = -np.inf
    x.reshape(-1)[5::13] = np.inf
    g, _, _ = trace_function(_pool(kernel, stride, pad, conv), [nd.array(x, dtype=dtype)])
    exe = compile_graph(optimize(g))
    assert exe.kind == "compiled" and len(exe.kernels) == 1
    assert ("_max(" not in exe.kernels[0].source) == tiled
    got, want = exe([x])[0], interpret(g, [x])[0]
    assert got.dtype == want.dtype == dtype
    np.testing.assert_array_equal(got, want)
    assert np.isnan(want).any() and np.isinf(want).any()
