"""Driver details: reshapes are views with the static shape, not registry calls."""
import numpy as np

from hybridnet import nd
from hybridnet.jit import interpret, trace_function
from hybridnet.jit.codegen import compile_graph
from hybridnet.jit.passes import optimize


def test_reshape_codes_become_a_plain_view_with_the_static_shape():
    def f(x):
        return nd.reshape(x, shape=(0, -1)).exp(), x.flatten(), nd.expand_dims(x, axis=1)
    x = np.arange(24, dtype=np.float32).reshape(2, 3, 4) / 10
    g, _, _ = trace_function(f, [nd.array(x)])
    exe = compile_graph(optimize(g))
    assert ".reshape((2, 12))" in exe.source and ".reshape((2, 1, 3, 4))" in exe.source
    assert exe.source.count("_fix(") == 1     # only exp calls a registry rule
    for a, b in zip(exe([x]), interpret(g, [x])):
        assert a.shape == b.shape and a.dtype == b.dtype
        np.testing.assert_allclose(a, b, rtol=1e-6)
