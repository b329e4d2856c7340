"""Driver details: reshapes are views with the static shape, not registry calls."""
import numpy as np

from hybridnet import nd
from hybridnet.jit import interpret, trace_function
from hybridnet.jit.codegen import compile_graph
from hybridnet.jit.passes import optimize


def test_reshape_codes_become_a_plain_view_with_the_static_shape():
    def f(x):
        return nd.reshape(x, shape=(0, -1)).sin(), x.flatten(), nd.expand_dims(x, axis=1)
    x = np.arange(24, dtype=np.float32).reshape(2, 3, 4) / 10
    g, _, _ = trace_function(f, [nd.array(x)])
    exe = compile_graph(optimize(g))
    assert ".reshape((2, 12))" in exe.source and ".reshape((2, 1, 3, 4))" in exe.source
    assert exe.source.count("_fix(") == 1     # only sin calls a registry rule
    for a, b in zip(exe([x]), interpret(g, [x])):
        assert a.shape == b.shape and a.dtype == b.dtype
        np.testing.assert_allclose(a, b, rtol=1e-6)


def test_one_dim_arrays_reach_kernels_as_they_are_strided_ones_included():
    # 1-D values are passed without a flat view; Numba indexes a strided one correctly.
    def f(x, b, m):
        return (m * 2 + b).relu(), (x + 1).tanh()
    rng = np.random.default_rng(0)
    x = rng.standard_normal(14, dtype=np.float32)[::2]           # (7,), stride 2
    b = rng.standard_normal(10, dtype=np.float32)[::-2]          # (5,), negative stride
    m = rng.standard_normal((3, 5), dtype=np.float32)
    g, _, _ = trace_function(f, [nd.array(np.ascontiguousarray(a)) for a in (x, b, m)])
    exe = compile_graph(optimize(g))
    assert exe.kind == "compiled" and "v0.reshape(-1)" not in exe.source
    for _ in range(2):
        for a, r in zip(exe([x, b, m]), interpret(g, [x, b, m])):
            assert a.shape == r.shape
            np.testing.assert_allclose(a, r, rtol=1e-6, atol=1e-6)
