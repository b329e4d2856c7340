"""The IR: printing (golden strings), tabular view, verifier, reference interpreter."""
import numpy as np
import pytest

from hybridnet import nd
from hybridnet.jit import Graph, IRError, Node, Value, interpret, trace_function, verify


def _mlp_graph():
    x, w, b = nd.ones((4, 3)), nd.ones((2, 3)), nd.ones((2,))

    def f(x, w, b):
        return (nd.dot(x, w, transpose_b=True) + b).relu()
    g, _, _ = trace_function(f, [x, w, b])
    return g.renumber()


def test_printed_graph_golden():
    assert str(_mlp_graph()) == (
        "graph(%0:f32[4,3], %1:f32[2,3], %2:f32[2]) {\n"
        "  %3:f32[4,2] = dot %0 %1 transpose_b=True\n"
        "  %4:f32[4,2] = add %3 %2\n"
        "  %5:f32[4,2] = relu %4\n"
        "  return %5\n"
        "}")


def test_tabular_names_source_lines():
    table = _mlp_graph().tabular()
    lines = table.splitlines()
    assert lines[0].split() == ["out", "op", "inputs", "type", "loc"]
    assert any(" dot " in ln and "test_jit_ir.py:" in ln for ln in lines)
    assert lines[-1].startswith("return")


def test_verifier_accepts_traced_graph_and_rejects_use_before_def():
    g = _mlp_graph()
    assert verify(g) is g
    a = Value(0, (2,), np.float32)
    b = Value(1, (2,), np.float32)
    bad = Graph([a], [Node("relu", [b], [Value(2, (2,), np.float32)])], [a])
    with pytest.raises(IRError, match="before it is defined"):
        verify(bad)


def test_verifier_rejects_wrong_type_and_double_definition():
    a = Value(0, (2,), np.float32)
    wrong = Graph([a], [Node("relu", [a], [Value(1, (3,), np.float32)])], [a])
    with pytest.raises(IRError, match="op rule says"):
        verify(wrong)
    twice = Graph([a], [Node("relu", [a], [a])], [a])
    with pytest.raises(IRError, match="defined twice"):
        verify(twice)


def test_interpreter_matches_numpy():
    g = _mlp_graph()
    rng = np.random.default_rng(0)
    x, w, b = (rng.standard_normal(s).astype(np.float32) for s in [(4, 3), (2, 3), (2,)])
    (out,) = interpret(g, [x, w, b])
    np.testing.assert_allclose(out, np.maximum(x @ w.T + b, 0), rtol=1e-6)


def test_interpreter_arity_error():
    with pytest.raises(ValueError, match="3 inputs"):
        interpret(_mlp_graph(), [np.ones((4, 3), np.float32)])
