"""Generated fused elementwise kernels against the reference interpreter, including
edge shapes (size 1, widths that are not a multiple of the vector width, broadcasting)."""
import numpy as np
import pytest
from hypothesis import given, settings, strategies as st

from hybridnet import nd
from hybridnet.jit import interpret as _interpret, trace_function
from hybridnet.jit.codegen import compile_graph
from hybridnet.jit.codegen.elementwise import loop_dims, render_fused
from hybridnet.jit.passes import optimize
from hybridnet.ops._eager_kernels import numpy_only


def interpret(g, feeds):
    """The reference: the graph on the ops' NumPy rules (eager ops would run the same
    Numba kernels as the compiled graph)."""
    with numpy_only():
        return _interpret(g, feeds)


def _compile_and_compare(fn, shapes, dtype=np.float32, seed=0, low=-2.0, high=2.0):
    rng = np.random.default_rng(seed)
    feeds = [rng.uniform(low, high, s).astype(dtype) for s in shapes]
    g, _, _ = trace_function(fn, [nd.array(f, dtype=dtype) for f in feeds])
    opt = optimize(g)
    exe = compile_graph(opt)
    assert exe.kind == "compiled", getattr(exe, "reason", "")
    got = exe(feeds)
    want = interpret(g, feeds)
    for a, b in zip(got, want):
        assert a.shape == b.shape and a.dtype == b.dtype
        np.testing.assert_allclose(a, b, rtol=2e-6, atol=2e-6)
    return opt, exe


def _chain(x, b):
    return ((x * 2 + b).relu() - 1).sigmoid() * x + (x > b)


@pytest.mark.parametrize("xs,bs", [
    ((1,), (1,)),           # size 1
    ((7,), (7,)),           # odd width
    ((3, 17), (17,)),       # row broadcast, width not a multiple of 8/16
    ((3, 17), (3, 1)),      # column broadcast
    ((2, 1, 5), (4, 1)),    # both sides broadcast
    ((), ()),               # 0-d
])
def test_fused_chain_matches_interpreter(xs, bs):
    opt, exe = _compile_and_compare(_chain, [xs, bs])
    assert any(n.op == "fused_elementwise" for n in opt.nodes)


def test_unary_math_kernel():
    def f(x):
        return (x.exp() + x.tanh() + x.abs().sqrt() + x.square()).log1p() + x.softsign()
    _compile_and_compare(f, [(4, 9)], low=0.1, high=1.0)


def test_float64_kernel_keeps_dtype():
    _compile_and_compare(_chain, [(3, 4), (4,)], dtype=np.float64)


def test_kernel_source_is_kept_and_names_the_user_line():
    _, exe = _compile_and_compare(_chain, [(2, 3), (3,)])
    (k,) = exe.kernels
    assert "def kernel(" in k.source and "max(" in k.source
    assert "test_jit_kernels.py:" in k.loc


def test_render_has_collapsed_single_loop_for_same_shape():
    g, _, _ = trace_function(lambda x, y: (x + y).relu(), [nd.ones((4, 5)), nd.ones((4, 5))])
    node = optimize(g).nodes[0]
    src = render_fused(node, "kernel")
    assert src.count("for ") == 1 and "range(n0)" in src
    assert loop_dims(node.outputs[0].shape, node.sub.inputs) == (20,)


def test_kernels_differing_only_in_size_share_one_source():
    srcs = []
    for n in (6, 50):
        g, _, _ = trace_function(lambda x, y: (x * y + 1).relu(), [nd.ones((n, 3)), nd.ones((3,))])
        srcs.append(render_fused(optimize(g).nodes[0], "kernel"))
    assert srcs[0] == srcs[1]


@settings(max_examples=8, deadline=None)
@given(st.lists(st.integers(1, 4), min_size=1, max_size=3), st.data())
def test_broadcasting_property(shape, data):
    # The second operand drops leading dims and sets some dims to 1.
    k = data.draw(st.integers(0, len(shape)))
    other = [1 if data.draw(st.booleans()) else s for s in shape[len(shape) - k:]]
    _compile_and_compare(lambda x, y: (x - y).relu() * y + 1, [tuple(shape), tuple(other)])


@pytest.mark.parametrize("ta,tb", [(False, False), (True, False), (False, True), (True, True)])
def test_dot_with_epilogue_kernel(ta, tb):
    a_shape = (5, 6) if ta else (6, 5)     # 6 rows: the BLAS path (fewer: test_jit_small_matmul)
    b_shape = (4, 5) if tb else (5, 4)

    def f(a, b, c):
        return (nd.dot(a, b, transpose_a=ta, transpose_b=tb) * 0.5 + c).relu()
    opt, exe = _compile_and_compare(f, [a_shape, b_shape, (4,)])
    assert [n.op for n in opt.nodes] == ["fused_matmul"]
    assert "np.dot(" in exe.source and "max(" in exe.kernels[0].source


@pytest.mark.parametrize("shape,bias,flatten", [
    ((6, 7), True, True), ((6, 7), False, True), ((2, 3, 7), True, False), ((1, 1), True, True),
    ((3, 2, 2), True, True)])
def test_fully_connected_kernel(shape, bias, flatten):
    k = int(np.prod(shape[1:])) if flatten else shape[-1]
    shapes = [shape, (5, k)] + ([(5,)] if bias else [])

    def f(x, w, *b):
        return nd.FullyConnected(x, w, b[0] if b else None, num_hidden=5, no_bias=not b,
                                 flatten=flatten)
    opt, _ = _compile_and_compare(f, shapes)
    assert [n.op for n in opt.nodes] == ["fused_matmul"]


def test_matmul_result_read_twice_is_not_fused_into_one_epilogue():
    def f(a, b):
        y = nd.dot(a, b)
        return y.relu(), y * 2 + 1.0
    opt, _ = _compile_and_compare(f, [(3, 4), (4, 2)])
    assert any(n.op == "fused_matmul" for n in opt.nodes)


def test_epilogue_reading_a_gemm_operand_and_exposing_two_outputs():
    def f(x, h, w, b):
        a = nd.tanh(nd.FullyConnected(x, w, b, num_hidden=2) + nd.FullyConnected(h, w, b, num_hidden=2))
        return a + x, a
    opt, _ = _compile_and_compare(f, [(3, 2), (3, 2), (2, 2), (2,)])
    assert [n.op for n in opt.nodes] == ["fused_matmul", "fused_matmul"]


def _max_pool_fwd_bwd(kernel, stride, pad, conv):
    from hybridnet.ops._util import call

    def f(x, g):
        y = nd.Pooling(x, kernel=kernel, stride=stride, pad=pad, pool_type="max",
                       pooling_convention=conv)
        dx = call("_pool_max_grad", g, x, kernel=kernel, stride=stride, pad=pad,
                  pooling_convention=conv)
        return y, dx
    return f


@pytest.mark.parametrize("kernel,stride,pad,conv", [
    ((2, 2), (2, 2), (0, 0), "valid"), ((3, 3), (2, 2), (1, 1), "valid"),
    ((3, 3), (2, 2), (0, 0), "full"), ((2, 3), (1, 2), (1, 0), "full")])
def test_max_pool_kernels_match_interpreter(kernel, stride, pad, conv):
    f = _max_pool_fwd_bwd(kernel, stride, pad, conv)
    y = nd.Pooling(nd.ones((2, 3, 7, 6)), kernel=kernel, stride=stride, pad=pad,
                   pooling_convention=conv)
    _, exe = _compile_and_compare(f, [(2, 3, 7, 6), y.shape])
    assert len(exe.kernels) == 2


def test_max_pool_gradient_ties_go_to_the_first_maximum():
    f = _max_pool_fwd_bwd((2, 2), (1, 1), (0, 0), "valid")
    x = np.array([[[[1, 1, 0], [1, 1, 0], [0, 0, 0]]]], np.float32)
    g = np.ones((1, 1, 2, 2), np.float32)
    graph, _, _ = trace_function(f, [nd.array(x), nd.array(g)])
    got = compile_graph(optimize(graph))([x, g])
    want = interpret(graph, [x, g])
    np.testing.assert_array_equal(got[1], want[1])
    # Each 2x2 window's first maximum (row-major) takes that window's gradient.
    np.testing.assert_array_equal(got[1][0, 0], [[1, 1, 0], [1, 1, 0], [0, 0, 0]])


@pytest.mark.parametrize("shape", [(), (0,), (1,), (10,), (3, 17), (128, 256)])
def test_lone_cheap_node_is_a_kernel_and_matches_interpreter(shape):
    opt, exe = _compile_and_compare(lambda x: nd.relu(x), [shape])
    assert [n.op for n in opt.nodes] == ["fused_elementwise"] and len(exe.kernels) == 1
    opt, exe = _compile_and_compare(lambda x, y: x - y, [shape, shape[-1:]])
    assert [n.op for n in opt.nodes] == ["fused_elementwise"]


def test_lone_library_call_or_int_node_keeps_its_numpy_rule():
    # NumPy's SIMD exp beats a Numba loop of libm calls (float64 here; float32 exp has a
    # vectorisable helper, tests/test_jit_math32.py); ints keep NumPy's semantics.
    opt, exe = _compile_and_compare(lambda x: nd.exp(x), [(4, 5)], dtype=np.float64)
    assert [n.op for n in opt.nodes] == ["exp"] and not exe.kernels
    opt, exe = _compile_and_compare(lambda x: nd.sin(x), [(4, 5)])
    assert [n.op for n in opt.nodes] == ["sin"] and not exe.kernels
    opt, _ = _compile_and_compare(lambda x: x ** 2.0, [(4, 5)])
    assert [n.op for n in opt.nodes] != ["fused_elementwise"]
    for dt in (np.int32, np.float16):
        opt, _ = _compile_and_compare(lambda x: nd.relu(x), [(4, 5)], dtype=dt)
        assert [n.op for n in opt.nodes] == ["relu"]


def test_single_loop_kernels_take_no_dims_argument():
    # One collapsed loop reads its size from its output (a tuple argument costs dispatch).
    _, exe = _compile_and_compare(lambda x, y: (x + y).relu(), [(4, 5), (4, 5)])
    assert "def kernel(in0, in1, out0):" in exe.kernels[0].source and "D_k0" not in exe.source
    _, exe = _compile_and_compare(lambda x, y: (x + y).relu(), [(4, 5), (5,)])
    assert "def kernel(dims, in0, in1, out0):" in exe.kernels[0].source
    _, exe = _compile_and_compare(lambda x, w, b: nd.FullyConnected(x, w, b, num_hidden=3).relu(),
                                  [(7, 4), (3, 4), (3,)])
    assert "def kernel(dims, bias, out0):" in exe.kernels[0].source     # 7 rows: BLAS + loop
