"""Each pass on small graphs: printed graph after the pass pinned as a golden string,
and the reference interpreter's results unchanged."""
import numpy as np
import pytest

from hybridnet import nd
from hybridnet.jit import interpret, trace_function, verify
from hybridnet.jit.passes import cse, dce, fold, fuse_elementwise, optimize, simplify


def _f(x, b):
    y = (x + b).reshape((2, 3)) * 1.0      # reshape to same shape, * 1: simplify
    z = (x + b).relu()                     # x + b again: cse
    c = nd.ones((3,)) * 2                  # constant expression: fold
    _unused = x.exp()                      # dead: dce
    return y + z + c


def _graph():
    g, _, _ = trace_function(_f, [nd.ones((2, 3)), nd.ones((3,))])
    return g.renumber()


FEEDS = [np.arange(6, dtype=np.float32).reshape(2, 3) - 2.5,
         np.array([0.5, -1.0, 2.0], np.float32)]


def _check(before, after):
    verify(after)
    for a, b in zip(interpret(before, FEEDS), interpret(after, FEEDS)):
        np.testing.assert_allclose(a, b, rtol=1e-6)


def test_simplify_removes_identities():
    g = _graph()
    s = simplify(g).renumber()
    _check(g, s)
    assert "reshape" not in str(s) and "multiply_scalar" in str(s)
    assert str(s) == (
        "graph(%0:f32[2,3], %1:f32[3]) {\n"
        "  %2:f32[3] = const [1.,1.,1.]\n"
        "  %3:f32[2,3] = add %0 %1\n"
        "  %4:f32[2,3] = add %0 %1\n"
        "  %5:f32[2,3] = relu %4\n"
        "  %6:f32[3] = multiply_scalar %2 scalar=2.0\n"
        "  %7:f32[2,3] = exp %0\n"
        "  %8:f32[2,3] = add %3 %5\n"
        "  %9:f32[2,3] = add %8 %6\n"
        "  return %9\n"
        "}")


def test_fold_evaluates_constant_nodes():
    g = simplify(_graph())
    f = fold(g).renumber()
    _check(g, f)
    assert "%3:f32[3] = const [2.,2.,2.]" in str(f)
    assert "multiply_scalar" not in str(f)


def test_cse_merges_repeated_expressions():
    g = fold(simplify(_graph()))
    c = cse(g).renumber()
    _check(g, c)
    assert str(c).count("= add %0 %1") == 1


def test_dce_drops_dead_nodes_and_constants():
    g = cse(fold(simplify(_graph())))
    d = dce(g).renumber()
    _check(g, d)
    assert str(d) == (
        "graph(%0:f32[2,3], %1:f32[3]) {\n"
        "  %2:f32[3] = const [2.,2.,2.]\n"
        "  %3:f32[2,3] = add %0 %1\n"
        "  %4:f32[2,3] = relu %3\n"
        "  %5:f32[2,3] = add %3 %4\n"
        "  %6:f32[2,3] = add %5 %2\n"
        "  return %6\n"
        "}")


def test_fuse_groups_elementwise_chain():
    g = dce(cse(fold(simplify(_graph()))))
    f = fuse_elementwise(g).renumber()
    _check(g, f)
    assert str(f) == (
        "graph(%0:f32[2,3], %1:f32[3]) {\n"
        "  %2:f32[3] = const [2.,2.,2.]\n"
        "  %3:f32[2,3] = fused_elementwise %0 %1 %2\n"
        "    | graph(%0:f32[2,3], %1:f32[3], %2:f32[3]) {\n"
        "    |   %4:f32[2,3] = add %0 %1\n"
        "    |   %5:f32[2,3] = relu %4\n"
        "    |   %6:f32[2,3] = add %4 %5\n"
        "    |   %3:f32[2,3] = add %6 %2\n"
        "    |   return %3\n"
        "    | }\n"
        "  return %3\n"
        "}")


def test_fusion_stops_at_non_elementwise_and_exposes_shared_values():
    def f(x, w):
        h = (x * 2).relu()                  # group 1, h also read by dot
        y = nd.dot(h, w)
        return (y + 1).tanh(), h
    g, _, _ = trace_function(f, [nd.ones((2, 3)), nd.ones((3, 4))])
    fused = fuse_elementwise(g).renumber()
    ops = [n.op for n in fused.nodes]
    assert ops == ["fused_elementwise", "dot", "fused_elementwise"]
    feeds = [np.linspace(-1, 1, 6, dtype=np.float32).reshape(2, 3),
             np.linspace(0, 1, 12, dtype=np.float32).reshape(3, 4)]
    for a, b in zip(interpret(g, feeds), interpret(fused, feeds)):
        np.testing.assert_allclose(a, b, rtol=1e-6)


def test_passes_never_mutate_their_input():
    g = _graph()
    before = str(g)
    optimize(g, verify_each=True)
    assert str(g.renumber()) == before


@pytest.mark.parametrize("p", [simplify, fold, cse, dce, fuse_elementwise])
def test_each_pass_keeps_results(p):
    g = _graph()
    _check(g, p(g))


def test_fuse_matmul_absorbs_a_lone_activation_into_the_gemm_epilogue():
    from hybridnet.jit.passes import fuse_matmul

    def f(x, w, b):
        return nd.FullyConnected(x, w, b, num_hidden=4).relu()
    args = [nd.ones((2, 3)), nd.ones((4, 3)), nd.ones((4,))]
    g, _, _ = trace_function(f, args)
    fused = fuse_matmul(fuse_elementwise(g)).renumber()
    assert str(fused) == (
        "graph(%0:f32[2,3], %1:f32[4,3], %2:f32[4]) {\n"
        "  %3:f32[2,4] = fused_matmul %0 %1 %2 flatten=True matmul=_fully_connected num_hidden=4\n"
        "    | graph(%0:f32[2,3], %1:f32[4,3], %2:f32[4]) {\n"
        "    |   %4:f32[2,4] = _fully_connected %0 %1 %2 num_hidden=4\n"
        "    |   %3:f32[2,4] = relu %4\n"
        "    |   return %3\n"
        "    | }\n"
        "  return %3\n"
        "}")
    feeds = [np.linspace(-1, 1, 6, dtype=np.float32).reshape(2, 3),
             np.linspace(-1, 1, 12, dtype=np.float32).reshape(4, 3),
             np.array([0.5, -0.5, 0.0, -2.0], np.float32)]
    for a, b in zip(interpret(g, feeds), interpret(fused, feeds)):
        np.testing.assert_allclose(a, b, rtol=1e-6)


def test_simplify_turns_reductions_over_size1_axes_into_reshapes():
    def f(x, y):
        a = (-x.sum(axis=1, keepdims=True)).mean(axis=1)    # a loss's mean over one column
        b = y.max(axis=(0, 2))                              # (1, 3, 1) -> (3,)
        c = y.prod(axis=0, keepdims=True)                   # same shape: removed
        d = x.sum(axis=1)                                   # a real reduction: kept
        return a, b, c * 2, d
    feeds = [np.arange(6, dtype=np.float32).reshape(2, 3) - 2.5,
             np.array([[[0.5], [-1.0], [2.0]]], np.float32)]
    g, _, _ = trace_function(f, [nd.array(v) for v in feeds])
    s = simplify(g).renumber()
    verify(s)
    for a, b in zip(interpret(g, feeds), interpret(s, feeds)):
        assert a.shape == b.shape and a.dtype == b.dtype
        np.testing.assert_array_equal(a, b)
    assert str(s) == (
        "graph(%0:f32[2,3], %1:f32[1,3,1]) {\n"
        "  %2:f32[2,1] = sum %0 axis=1 keepdims=True\n"
        "  %3:f32[2,1] = negative %2\n"
        "  %4:f32[2] = reshape %3 shape=(2)\n"
        "  %5:f32[3] = reshape %1 shape=(3)\n"
        "  %6:f32[2] = sum %0 axis=1\n"
        "  %7:f32[1,3,1] = multiply_scalar %1 scalar=2.0\n"
        "  return %4, %5, %7, %6\n"
        "}")


def test_fusion_reads_through_a_broadcast_instead_of_materialising_it():
    def f(x, s):
        return (x * nd.broadcast_to(s, shape=(3, 4))).exp()
    g, _, _ = trace_function(f, [nd.ones((3, 4)), nd.ones((3, 1))])
    fused = fuse_elementwise(g).renumber()
    assert "broadcast_to" not in str(fused)
    assert str(fused) == (
        "graph(%0:f32[3,4], %1:f32[3,1]) {\n"
        "  %2:f32[3,4] = fused_elementwise %0 %1\n"
        "    | graph(%0:f32[3,4], %1:f32[3,1]) {\n"
        "    |   %3:f32[3,4] = multiply %0 %1\n"
        "    |   %2:f32[3,4] = exp %3\n"
        "    |   return %2\n"
        "    | }\n"
        "  return %2\n"
        "}")
    feeds = [np.linspace(-1, 1, 12, dtype=np.float32).reshape(3, 4),
             np.array([[0.5], [-1.0], [2.0]], np.float32)]
    for a, b in zip(interpret(g, feeds), interpret(fused, feeds)):
        np.testing.assert_allclose(a, b, rtol=1e-6)


def test_a_broadcast_that_sets_the_output_shape_stays():
    def f(s):
        return nd.broadcast_to(s, shape=(3, 4)).exp() * 2
    g, _, _ = trace_function(f, [nd.ones((3, 1))])
    fused = fuse_elementwise(g)
    assert "broadcast_to" in str(fused)
    feeds = [np.array([[0.5], [-1.0], [2.0]], np.float32)]
    for a, b in zip(interpret(g, feeds), interpret(fused, feeds)):
        assert a.shape == b.shape == (3, 4)
        np.testing.assert_allclose(a, b, rtol=1e-6)
