"""The few-row GEMM kernel (the GEMM inside the epilogue's Numba kernel, batch-1
inference) against the reference interpreter: every transpose layout, widths around
the 4-column unroll, bias / no bias / epilogue, float64, empty dims, strided operands."""
import numpy as np
import pytest
from hypothesis import given, settings, strategies as st

from hybridnet import nd
from hybridnet.gluon import nn
from hybridnet.jit.codegen.small_matmul import SMALL_ROWS

from _hybrid_check import check_hybrid
from test_jit_kernels import _compile_and_compare


def _small(exe):
    """True when the graph ran its GEMMs inside kernels (no np.dot in the driver)."""
    return "np.dot(" not in exe.source


@pytest.mark.parametrize("rows", [1, 2, SMALL_ROWS, SMALL_ROWS + 1])
@pytest.mark.parametrize("n", [1, 3, 4, 9])
@pytest.mark.parametrize("ta,tb", [(False, False), (True, False), (False, True), (True, True)])
def test_dot_layouts_and_widths(rows, n, ta, tb):
    k = 7
    a_shape = (k, rows) if ta else (rows, k)
    b_shape = (n, k) if tb else (k, n)

    def f(a, b, c):
        return (nd.dot(a, b, transpose_a=ta, transpose_b=tb) * 0.5 + c).relu()
    _, exe = _compile_and_compare(f, [a_shape, b_shape, (n,)])
    assert _small(exe) == (rows <= SMALL_ROWS)
    assert len(exe.kernels) == 1


@settings(max_examples=12, deadline=None)
@given(st.integers(1, SMALL_ROWS), st.integers(1, 9), st.integers(1, 10), st.booleans(),
       st.booleans(), st.sampled_from(["none", "relu", "residual"]))
def test_dot_property(rows, k, n, ta, tb, epilogue):
    def f(a, b, r):
        y = nd.dot(a, b, transpose_a=ta, transpose_b=tb)
        if epilogue == "relu":
            return y.relu()
        return y + r if epilogue == "residual" else y
    _, exe = _compile_and_compare(f, [(k, rows) if ta else (rows, k), (n, k) if tb else (k, n),
                                      (rows, n)])
    assert _small(exe)


@pytest.mark.parametrize("ta,tb", [(False, False), (True, True)])
def test_dot_without_epilogue(ta, tb):
    def f(a, b):
        return nd.dot(a, b, transpose_a=ta, transpose_b=tb)
    _, exe = _compile_and_compare(f, [(5, 2) if ta else (2, 5), (3, 5) if tb else (5, 3)])
    assert _small(exe) and len(exe.kernels) == 1


@pytest.mark.parametrize("shape,bias,flatten", [
    ((1, 784), True, True), ((1, 7), False, True), ((1, 2, 7), True, False),
    ((2, 3, 2), True, True), ((1, 1), True, True), ((4, 5), True, True)])
def test_fully_connected(shape, bias, flatten):
    k = int(np.prod(shape[1:])) if flatten else shape[-1]
    shapes = [shape, (6, k)] + ([(6,)] if bias else [])

    def f(x, w, *b):
        return nd.FullyConnected(x, w, b[0] if b else None, num_hidden=6, no_bias=not b,
                                 flatten=flatten).tanh()
    _, exe = _compile_and_compare(f, shapes)
    assert _small(exe)


def test_mlp_batch1_float64_both_layers_in_kernels():
    def f(x, w1, b1, w2, b2):
        h = nd.FullyConnected(x, w1, b1, num_hidden=13).relu()
        return nd.FullyConnected(h, w2, b2, num_hidden=3)
    _, exe = _compile_and_compare(f, [(1, 30), (13, 30), (13,), (3, 13), (3,)],
                                  dtype=np.float64)
    assert _small(exe) and len(exe.kernels) == 2


def test_epilogue_reads_a_gemm_operand_and_two_outputs():
    def f(x, h, w, b):
        a = nd.tanh(nd.FullyConnected(x, w, b, num_hidden=2)
                    + nd.FullyConnected(h, w, b, num_hidden=2))
        return a + x, a
    _, exe = _compile_and_compare(f, [(3, 2), (3, 2), (2, 2), (2,)])
    assert _small(exe)


@pytest.mark.parametrize("rows", [1, SMALL_ROWS + 2])
def test_empty_inner_dimension_gives_the_bias(rows):
    def f(x, w, b):
        return nd.FullyConnected(x, w, b, num_hidden=5).relu()
    _, exe = _compile_and_compare(f, [(rows, 0), (5, 0), (5,)])
    assert _small(exe) == (rows <= SMALL_ROWS)
    # Again with another bias: the output buffer is now a recycled one (not zeroed).
    feeds = [np.ones((rows, 0), np.float32), np.ones((5, 0), np.float32),
             np.arange(-2, 3, dtype=np.float32)]
    np.testing.assert_array_equal(exe(feeds)[0], np.maximum(np.tile(feeds[2], (rows, 1)), 0))


def test_strided_operands():
    from hybridnet.jit import interpret, trace_function
    from hybridnet.jit.codegen import compile_graph
    from hybridnet.jit.passes import optimize

    def f(x, w, b):
        return nd.FullyConnected(x, w, b, num_hidden=5).relu()
    rng = np.random.default_rng(3)
    x = rng.standard_normal((9, 2), dtype=np.float32).T[:, ::2]      # (2, 5), strided
    w = rng.standard_normal((10, 5), dtype=np.float32)[::2]          # (5, 5), strided
    b = rng.standard_normal(10, dtype=np.float32)[::2]               # (5,), strided
    feeds = [x, w, b]
    g, _, _ = trace_function(f, [nd.array(np.ascontiguousarray(a)) for a in feeds])
    exe = compile_graph(optimize(g))
    assert exe.kind == "compiled" and _small(exe)
    np.testing.assert_allclose(exe(feeds)[0], interpret(g, feeds)[0], rtol=2e-6, atol=2e-6)


@pytest.mark.parametrize("batch", [1, 3, SMALL_ROWS + 1])
def test_dense_mlp_eager_vs_hybridized(batch):
    # Outputs, input and parameter gradients, Trainer steps, train and predict mode:
    # batch <= SMALL_ROWS runs the forward GEMMs (and dx = dy W) in kernels.
    net = nn.HybridSequential()
    net.add(nn.Dense(9, activation="relu"), nn.Dense(5, flatten=False), nn.Dense(3))
    x = np.random.default_rng(batch).standard_normal((batch, 2, 6)).astype(np.float32)
    check_hybrid(net, [x])
