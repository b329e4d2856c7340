"""Kernel epilogue fusion (passes/fuse_epilogue.py, codegen/epilogue.py): a convolution and
the elementwise group reading it (bias, relu, residual ...) as one kernel, against the
reference interpreter."""
import numpy as np
import pytest

from hybridnet import nd
from hybridnet.jit import interpret as _interpret, trace_function
from hybridnet.jit.codegen import compile_graph
from hybridnet.jit.passes import fuse_elementwise, fuse_epilogue, fuse_matmul, optimize
from hybridnet.ops._eager_kernels import numpy_only
from hybridnet.ops._util import call


def interpret(g, feeds):
    """The reference: the graph on the ops' NumPy rules (eager ops would run the same
    Numba kernels as the compiled graph)."""
    with numpy_only():
        return _interpret(g, feeds)


def _graph(f, shapes, dtype=np.float32):
    rng = np.random.default_rng(0)
    feeds = [rng.standard_normal(s).astype(dtype) for s in shapes]
    g, _, _ = trace_function(f, [nd.array(v, dtype=dtype) for v in feeds])
    return g, feeds


def _conv_bias_relu(stride=(1, 1), dilate=(1, 1), pad=(0, 0), groups=1):
    def f(x, w, b):
        y = nd.Convolution(x, w, b, kernel=w.shape[2:], stride=stride, dilate=dilate, pad=pad,
                           num_group=groups)
        return nd.relu(y)
    return f


def test_fuse_epilogue_golden():
    g, _ = _graph(_conv_bias_relu(pad=(1, 1)), [(2, 1, 5, 5), (3, 1, 3, 3), (3,)])
    before = fuse_matmul(fuse_elementwise(g))
    assert str(before.renumber()) == """\
graph(%0:f32[2,1,5,5], %1:f32[3,1,3,3], %2:f32[3]) {
  %3:f32[2,3,5,5] = _convolution %0 %1 dilate=(1,1) pad=(1,1) stride=(1,1)
  %4:f32[1,3,1,1] = reshape %2 shape=(1,3,1,1)
  %5:f32[2,3,5,5] = fused_elementwise %3 %4
    | graph(%3:f32[2,3,5,5], %4:f32[1,3,1,1]) {
    |   %6:f32[2,3,5,5] = add %3 %4
    |   %5:f32[2,3,5,5] = relu %6
    |   return %5
    | }
  return %5
}"""
    assert str(fuse_epilogue(before).renumber()) == """\
graph(%0:f32[2,1,5,5], %1:f32[3,1,3,3], %2:f32[3]) {
  %3:f32[1,3,1,1] = reshape %2 shape=(1,3,1,1)
  %4:f32[2,3,5,5] = fused_kernel %0 %1 %3 dilate=(1,1) num_group=1 pad=(1,1) stride=(1,1)
    | graph(%0:f32[2,1,5,5], %1:f32[3,1,3,3], %3:f32[1,3,1,1]) {
    |   %5:f32[2,3,5,5] = _convolution %0 %1 dilate=(1,1) pad=(1,1) stride=(1,1)
    |   %6:f32[2,3,5,5] = add %5 %3
    |   %4:f32[2,3,5,5] = relu %6
    |   return %4
    | }
  return %4
}"""


def _check(f, shapes, dtype, fused=1, rtol=None):
    g, feeds = _graph(f, shapes, dtype)
    opt = optimize(g)
    assert sum(n.op == "fused_kernel" for n in opt.nodes) == fused
    assert not any(n.op == "fused_elementwise" for n in opt.nodes) or fused == 0
    exe = compile_graph(opt)
    assert exe.kind == "compiled", getattr(exe, "reason", "")
    rtol = rtol or (2e-5 if dtype == np.float32 else 1e-12)
    got, want = exe(feeds), interpret(g, feeds)
    assert len(got) == len(want)
    for a, b in zip(got, want):
        assert a.shape == b.shape and a.dtype == b.dtype == dtype
        np.testing.assert_allclose(a, b, rtol=rtol, atol=rtol * np.abs(b).max())
    return exe


# (x shape, w shape, stride, dilate, pad, groups): direct loops (few taps, groups) and
# im2col + GEMM (K = C*kh*kw >= 32), strided, dilated, padded, size-1 and odd sizes.
SPECS = [
    ((3, 1, 9, 9), (6, 1, 3, 3), (1, 1), (1, 1), (1, 1), 1),       # LeNet conv1: direct
    ((2, 6, 8, 8), (16, 6, 5, 5), (1, 1), (1, 1), (0, 0), 1),      # LeNet conv2: GEMM
    ((2, 3, 7, 6), (5, 3, 3, 3), (2, 2), (1, 1), (1, 1), 1),
    ((2, 4, 7, 7), (6, 2, 3, 3), (1, 1), (2, 2), (2, 2), 2),
    ((1, 1, 1, 5), (3, 1, 1, 3), (1, 1), (1, 1), (0, 0), 1),
    ((2, 5, 6, 9), (7, 5, 2, 3), (2, 1), (1, 2), (0, 1), 1),
    ((2, 8, 9, 9), (16, 8, 3, 3), (2, 2), (2, 2), (1, 1), 1),
    ((1, 40, 4, 5), (3, 40, 1, 1), (1, 1), (1, 1), (1, 1), 1),
]


@pytest.mark.parametrize("spec", SPECS)
def test_conv_bias_relu_epilogue_matches_interpreter_float32(spec):
    xs, ws, stride, dilate, pad, groups = spec
    exe = _check(_conv_bias_relu(stride, dilate, pad, groups), [xs, ws, ws[:1]], np.float32)
    assert any("ep_out0[" in k.source for k in exe.kernels)


@pytest.mark.parametrize("spec", [SPECS[0], SPECS[1], SPECS[3]])
def test_conv_bias_relu_epilogue_matches_interpreter_float64(spec):
    xs, ws, stride, dilate, pad, groups = spec
    _check(_conv_bias_relu(stride, dilate, pad, groups), [xs, ws, ws[:1]], np.float64)


@pytest.mark.parametrize("ws", [(4, 4, 3, 3), (4, 4, 1, 3)])   # GEMM (K = 36) / direct
def test_epilogue_reads_the_conv_input_and_full_shape_extras(ws):
    # relu(conv(x) + x) * s: the group reads the conv's own input and a same-shape array
    def f(x, w, s):
        y = call("_convolution", x, w, stride=(1, 1), dilate=(1, 1), pad=(ws[2] // 2, 1),
                 num_group=1)
        return nd.relu(y + x) * s
    _check(f, [(2, 4, 5, 5), ws, (2, 4, 5, 5)], np.float32)


def test_epilogue_with_two_outputs_and_a_lone_relu():
    def two(x, w, b):
        y = nd.Convolution(x, w, b, kernel=(3, 3), pad=(1, 1), num_group=1)
        z = nd.sigmoid(y)      # (float64 tanh stays NumPy's: its SIMD loop is faster)
        return z, z * 2.0

    def lone(x, w):
        return nd.relu(nd.Convolution(x, w, kernel=(3, 3), no_bias=True))
    exe = _check(two, [(2, 1, 6, 6), (3, 1, 3, 3), (3,)], np.float64)
    assert exe.kernels[0].source.count("ep_out") >= 2
    _check(lone, [(1, 2, 5, 5), (5, 2, 3, 3)], np.float32)


def test_no_fusion_when_the_conv_result_is_also_read_elsewhere():
    def f(x, w):
        y = nd.Convolution(x, w, kernel=(3, 3), no_bias=True)
        return nd.relu(y), y
    g, feeds = _graph(f, [(1, 2, 5, 5), (3, 2, 3, 3)])
    opt = optimize(g)
    assert not any(n.op == "fused_kernel" for n in opt.nodes)
    exe = compile_graph(opt)
    for a, b in zip(exe(feeds), interpret(g, feeds)):
        np.testing.assert_allclose(a, b, rtol=2e-5, atol=1e-5)


def test_no_fusion_without_a_kernel():
    # 1-D convolution: no kernel builder for it, so the group stays a loop of its own
    def f(x, w, b):
        return nd.relu(nd.Convolution(x, w, b, kernel=(3,), num_group=1))
    g, feeds = _graph(f, [(2, 2, 7), (3, 2, 3), (3,)])
    opt = optimize(g)
    assert [n.op for n in opt.nodes].count("fused_kernel") == 0
    exe = compile_graph(opt)
    np.testing.assert_allclose(exe(feeds)[0], interpret(g, feeds)[0], rtol=2e-5, atol=1e-6)


# ---- max-pool gradient + the relu mask of the layer below --------------------------------
def _pool_grad_mask(kernel, conv="valid"):
    def f(a, g):
        # a: the pooled (relu'd) activation, a residual of the backward
        dx = call("_pool_max_grad", g, a, kernel=kernel, stride=kernel, pad=(0, 0),
                  pooling_convention=conv)
        return dx * (a > 0)
    return f


@pytest.mark.parametrize("shape,kernel,dtype", [((2, 3, 8, 8), (2, 2), np.float32),
                                                ((2, 3, 7, 9), (2, 2), np.float32),
                                                ((1, 2, 7, 6), (3, 2), np.float64),
                                                ((1, 1, 4, 7), (1, 3), np.float32)])
def test_pool_grad_relu_mask_epilogue_matches_interpreter(shape, kernel, dtype):
    out = tuple(s // k for s, k in zip(shape[2:], kernel))
    exe = _check(_pool_grad_mask(kernel), [shape, shape[:2] + out], dtype, rtol=1e-12)
    src = [k.source for k in exe.kernels if "t0 = " in k.source]
    assert len(src) == 1 and "ep_out0[" in src[0]      # the tiled kernel with the mask


def test_pool_grad_relu_mask_ties_and_zeros():
    # ties keep the first maximum; windows of zeros (relu'd) pass no gradient through the mask
    x = np.array([[[[1, 1, 2, 0, 5], [1, 0, 2, 2, 5], [-3, -3, -1, -2, 5]]]], np.float32)
    g = np.array([[[[10, 20]]]], np.float32)
    graph, _, _ = trace_function(_pool_grad_mask((2, 2)), [nd.array(x), nd.array(g)])
    got = compile_graph(optimize(graph))([x, g])[0]
    np.testing.assert_array_equal(got, interpret(graph, [x, g])[0])
    np.testing.assert_array_equal(got[0, 0], [[10, 0, 20, 0, 0], [0, 0, 0, 0, 0],
                                              [0, 0, 0, 0, 0]])


def test_pool_grad_with_overlapping_windows_keeps_its_own_mask_loop():
    def f(a, g):
        dx = call("_pool_max_grad", g, a, kernel=(3, 3), stride=(2, 2), pad=(1, 1),
                  pooling_convention="valid")
        return dx * (a > 0)
    _check(f, [(1, 2, 7, 7), (1, 2, 4, 4)], np.float32, fused=0, rtol=1e-12)


# ---- conv weight gradient + the bias gradient (a channel sum of the same dy) ---------------
def _wgrad_and_bias(spec, form):
    xs, ws, stride, dilate, pad, groups = spec

    def f(dy, x):
        dw = call("_conv_bwd_weight", dy, x, kernel=ws[2:], stride=stride, dilate=dilate,
                  pad=pad, num_group=groups)
        if form == "sum_to":
            db = call("sum_to", dy, shape=(1, dy.shape[1], 1, 1))
        else:
            db = nd.sum(dy, axis=(0, 2, 3))
        return dw, db
    return f


@pytest.mark.parametrize("spec", SPECS)
@pytest.mark.parametrize("form", ["sum_to", "sum"])
def test_weight_gradient_computes_the_bias_gradient_float32(spec, form):
    xs, ws, stride, dilate, pad, groups = spec
    y = nd.Convolution(nd.zeros(xs), nd.zeros(ws), kernel=ws[2:], stride=stride,
                       dilate=dilate, pad=pad, num_group=groups, no_bias=True)
    exe = _check(_wgrad_and_bias(spec, form), [y.shape, xs], np.float32, rtol=3e-5)
    assert len(exe.kernels) == 1 and "bs[" in exe.kernels[0].source


@pytest.mark.parametrize("spec", [SPECS[0], SPECS[3], SPECS[4]])
def test_weight_gradient_computes_the_bias_gradient_float64(spec):
    xs, ws, stride, dilate, pad, groups = spec
    y = nd.Convolution(nd.zeros(xs), nd.zeros(ws), kernel=ws[2:], stride=stride,
                       dilate=dilate, pad=pad, num_group=groups, no_bias=True)
    _check(_wgrad_and_bias(spec, "sum"), [y.shape, xs], np.float64)


def test_channel_sum_fusion_golden_and_non_channel_sums():
    def f(dy, x):
        dw = call("_conv_bwd_weight", dy, x, kernel=(3, 3), stride=(1, 1), dilate=(1, 1),
                  pad=(1, 1), num_group=1)
        return (dw, call("sum_to", dy, shape=(1, 3, 1, 1)),
                nd.sum(dy, axis=(0, 1, 2)), nd.sum(dy, axis=(0, 2)))
    g, feeds = _graph(f, [(2, 3, 4, 4), (2, 1, 4, 4)])
    assert str(fuse_epilogue(g).renumber()) == """\
graph(%0:f32[2,3,4,4], %1:f32[2,1,4,4]) {
  %2:f32[3,1,3,3], %3:f32[1,3,1,1] = fused_kernel %0 %1 dilate=(1,1) kernel=(3,3) num_group=1 pad=(1,1) stride=(1,1)
    | graph(%0:f32[2,3,4,4], %1:f32[2,1,4,4]) {
    |   %2:f32[3,1,3,3] = _conv_bwd_weight %0 %1 dilate=(1,1) kernel=(3,3) pad=(1,1) stride=(1,1)
    |   %3:f32[1,3,1,1] = sum_to %0 shape=(1,3,1,1)
    |   return %2, %3
    | }
  %4:f32[4] = sum %0 axis=(0,1,2)
  %5:f32[3,4] = sum %0 axis=(0,2)
  return %2, %3, %4, %5
}"""
    exe = compile_graph(optimize(g))
    for a, b in zip(exe(feeds), interpret(g, feeds)):
        np.testing.assert_allclose(a, b, rtol=2e-5, atol=1e-5)
