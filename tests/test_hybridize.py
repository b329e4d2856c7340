"""hybridize(): eager vs hybridized answers and gradients, retracing, graph breaks,
counters, the disk cache across processes."""
import logging
import os
import subprocess
import sys
import textwrap
import warnings

import numpy as np
import pytest

import hybridnet as mx
from hybridnet import autograd, gluon, jit, nd
from hybridnet.base import HybridnetError


class Chain(gluon.HybridBlock):
    """Broadcasting arithmetic, scalars on both sides, unary math, a dot."""

    def __init__(self):
        super().__init__()
        self.weight = gluon.Parameter("weight", shape=(3, 4))
        self.bias = gluon.Parameter("bias", shape=(3,))

    def forward(self, x, y):
        h = nd.dot(x, self.weight.data(), transpose_b=True) + self.bias.data()
        h = (2 - h * 0.5).relu() + y / 3.0
        return (h.tanh() * h.sigmoid()).sum(axis=1) + 1


def _init(block, seed=0):
    rng = np.random.default_rng(seed)
    for p in block.collect_params().values():
        p.set_data(rng.uniform(-1, 1, p.shape).astype(np.float32))
    return block


def _run(block, x, y, train):
    for a in (x, y):
        a.attach_grad()
    with autograd.record(train_mode=train):
        out = block(x, y)
    out.backward()
    params = {k: p.grad().asnumpy().copy() for k, p in block.collect_params().items()}
    return out.asnumpy(), x.grad.asnumpy().copy(), y.grad.asnumpy().copy(), params


@pytest.mark.parametrize("train", [True, False])
def test_eager_and_hybridized_agree_on_outputs_and_gradients(train):
    rng = np.random.default_rng(1)
    x = nd.array(rng.standard_normal((5, 4)))
    y = nd.array(rng.standard_normal((3,)))
    net = _init(Chain())
    eager = _run(net, x, y, train)
    net.hybridize()
    hybrid = _run(net, x, y, train)
    for a, b in zip(eager[:3], hybrid[:3]):
        np.testing.assert_allclose(a, b, rtol=1e-5, atol=1e-6)
    for k in eager[3]:
        np.testing.assert_allclose(eager[3][k], hybrid[3][k], rtol=1e-5, atol=1e-6)
    assert jit.counters(net)["trace_count"] == 1


def test_grad_req_add_accumulates_through_compiled_backward():
    x, y = nd.ones((2, 4)), nd.ones((3,))
    net = _init(Chain())
    net.hybridize()
    net.collect_params().setattr("grad_req", "add")
    grads = []
    for _ in range(2):
        with autograd.record():
            out = net(x, y)
        out.backward()
        grads.append(net.weight.grad().asnumpy().copy())
    np.testing.assert_allclose(grads[1], 2 * grads[0], rtol=1e-6)


def test_retrace_on_new_shape_logs_what_changed(caplog):
    net = _init(Chain())
    net.hybridize()
    net(nd.ones((8, 4)), nd.ones((3,)))
    with caplog.at_level(logging.INFO, logger="hybridnet.jit"):
        net(nd.ones((2, 4)), nd.ones((3,)))
    assert "input0 dim0 8→2" in caplog.text
    net(nd.ones((8, 4)), nd.ones((3,)))       # cached again: no new trace
    assert jit.counters(net)["trace_count"] == 2


def test_train_and_predict_branches_in_one_instance():
    class Branchy(gluon.HybridBlock):
        def forward(self, x):
            return x * 2 if autograd.is_training() else x - 1
    net = Branchy()
    net.hybridize()
    x = nd.ones((2,))
    assert net(x).asnumpy().tolist() == [0.0, 0.0]
    with autograd.train_mode():
        assert net(x).asnumpy().tolist() == [2.0, 2.0]
    assert jit.counters(net)["trace_count"] == 2


def test_returned_buffers_are_not_reused_across_calls():
    class Twice(gluon.HybridBlock):
        def forward(self, x):
            return (x * 2).relu() + 1
    net = Twice()
    net.hybridize()
    a = net(nd.ones((3,)))
    b = net(nd.ones((3,)) * 5)
    assert a.asnumpy().tolist() == [3.0, 3.0, 3.0]
    assert b.asnumpy().tolist() == [11.0, 11.0, 11.0]


def test_python_scalar_argument_is_part_of_the_signature():
    class Scale(gluon.HybridBlock):
        def forward(self, x, k):
            return x * k
    net = Scale()
    net.hybridize()
    assert net(nd.ones((2,)), 3).asnumpy().tolist() == [3.0, 3.0]
    assert net(nd.ones((2,)), 5).asnumpy().tolist() == [5.0, 5.0]


def test_two_instances_of_one_class_keep_their_own_graphs():
    a, b = _init(Chain(), 0), _init(Chain(), 1)
    a.hybridize()
    b.hybridize()
    x, y = nd.ones((2, 4)), nd.ones((3,))
    ra, rb = a(x, y).asnumpy(), b(x, y).asnumpy()
    a.hybridize(False)
    b.hybridize(False)
    np.testing.assert_allclose(ra, a(x, y).asnumpy(), rtol=1e-6)
    np.testing.assert_allclose(rb, b(x, y).asnumpy(), rtol=1e-6)
    assert not np.allclose(ra, rb)


class ReadsValue(gluon.HybridBlock):
    def forward(self, x):
        if x.sum().asscalar() > 0:       # data-dependent Python branch
            return x * 2
        return x * -1


class BoolBranch(gluon.HybridBlock):
    def forward(self, x):
        if (x.sum() > 0):                # bool() of a traced value
            return x + 1
        return x - 1


class WritesInput(gluon.HybridBlock):
    def forward(self, x):
        x += 1                           # in-place write to an input
        return x * 2


@pytest.mark.parametrize("cls,inputs,expect", [
    (ReadsValue, [1.0, 2.0], [2.0, 4.0]),
    (ReadsValue, [-1.0, -2.0], [1.0, 2.0]),
    (BoolBranch, [1.0, 2.0], [2.0, 3.0]),
    (WritesInput, [1.0, 2.0], [4.0, 6.0]),
])
def test_graph_break_gives_the_eager_answer_with_one_warning(cls, inputs, expect):
    net = cls()
    net.hybridize()
    with warnings.catch_warnings(record=True) as w:
        warnings.simplefilter("always")
        out = net(nd.array(inputs))
        net(nd.array(inputs))
    assert out.asnumpy().tolist() == expect
    msgs = [str(x.message) for x in w if "graph break" in str(x.message)]
    assert len(msgs) == 1 and "test_hybridize.py:" in msgs[0]


def test_data_dependent_branch_follows_the_data_each_call():
    net = ReadsValue()
    net.hybridize()
    with warnings.catch_warnings():
        warnings.simplefilter("ignore")
        assert net(nd.array([1.0])).asnumpy().tolist() == [2.0]
        assert net(nd.array([-1.0])).asnumpy().tolist() == [1.0]


@pytest.mark.parametrize("cls", [ReadsValue, BoolBranch, WritesInput])
def test_strict_mode_turns_graph_breaks_into_errors(cls):
    net = cls()
    net.hybridize(strict=True)
    with pytest.raises(HybridnetError, match=r"test_hybridize.py:\d+"):
        net(nd.array([1.0, 2.0]))


def test_hybridize_active_false_returns_to_eager():
    net = _init(Chain())
    net.hybridize()
    net(nd.ones((2, 4)), nd.ones((3,)))
    net.hybridize(active=False)
    assert net._cached is None
    net.hybridize(static_alloc=True, static_shape=True)   # Gluon 1.x flags are accepted
    net(nd.ones((2, 4)), nd.ones((3,)))


def test_second_process_loads_kernels_from_disk(tmp_path):
    code = textwrap.dedent("""
        import json
        from hybridnet import gluon, jit, nd
        class B(gluon.HybridBlock):
            def forward(self, x, y):
                return ((x * 3 + y).relu() - 2).tanh() * x
        b = B(); b.hybridize(); b(nd.ones((3, 5)), nd.ones(5))
        info = jit.cache_info()
        print(json.dumps({"compiles": info["numba_compiles"], "hits": info["numba_cache_hits"]}))
    """)
    env = dict(os.environ, HYBRIDNET_HOME=str(tmp_path), NUMBA_CACHE_DIR=str(tmp_path / "nb"))
    first = subprocess.run([sys.executable, "-c", code], env=env, capture_output=True,
                           text=True, check=True).stdout.strip().splitlines()[-1]
    second = subprocess.run([sys.executable, "-c", code], env=env, capture_output=True,
                            text=True, check=True).stdout.strip().splitlines()[-1]
    assert '"compiles": 1' in first
    assert second == '{"compiles": 0, "hits": 1}'


def test_keyword_arguments_are_traced_as_inputs():
    loss = gluon.loss.L2Loss()
    rng = np.random.default_rng(0)
    p, y = nd.array(rng.random((4, 3))), nd.array(rng.random((4, 3)))
    w = nd.array(rng.random((4, 1)))
    eager = loss(p, y, sample_weight=w).asnumpy()
    loss.hybridize()
    np.testing.assert_allclose(loss(p, y, sample_weight=w).asnumpy(), eager, rtol=1e-6)
    report = jit.inspect(loss)
    assert "sample_weight=f32[4,1]" in report.entries[0].signature
    assert report.entries[0].traced is not None        # traced, not an eager fallback


def test_list_of_arrays_argument_is_traced_not_baked_in():
    class Sum2(gluon.HybridBlock):
        def forward(self, xs):
            return xs[0] * 2 + xs[1]
    net = Sum2()
    net.hybridize()
    assert net([nd.ones((2,)), nd.ones((2,))]).asnumpy().tolist() == [3.0, 3.0]
    assert net([nd.ones((2,)) * 5, nd.zeros((2,))]).asnumpy().tolist() == [10.0, 10.0]
    assert jit.counters(net)["trace_count"] == 1
    assert net([nd.ones((3,)), nd.ones((3,))]).shape == (3,)      # new shapes: retrace
    assert jit.counters(net)["trace_count"] == 2


def _break_codegen(monkeypatch):
    from hybridnet.jit.codegen import driver

    def boom(node, name, alias=None):
        raise RuntimeError("simulated codegen failure")
    monkeypatch.setattr(driver, "render_fused", boom)


class Fusable(gluon.HybridBlock):
    def forward(self, x):
        return (x * 3 + 1).relu()


def test_compile_failure_falls_back_to_interpreter_with_one_warning(monkeypatch):
    _break_codegen(monkeypatch)
    before = jit.stats()["fallbacks"]
    net = Fusable()
    net.hybridize()
    with warnings.catch_warnings(record=True) as w:
        warnings.simplefilter("always")
        a = net(nd.array([1.0, -2.0]))
        b = net(nd.array([2.0, -3.0]))
    assert a.asnumpy().tolist() == [4.0, 0.0] and b.asnumpy().tolist() == [7.0, 0.0]
    msgs = [str(x.message) for x in w if "compiling a graph failed" in str(x.message)]
    assert len(msgs) == 1 and "simulated codegen failure" in msgs[0]
    assert jit.stats()["fallbacks"] == before + 1


def test_strict_env_turns_compile_failure_into_error(monkeypatch):
    _break_codegen(monkeypatch)
    monkeypatch.setenv("HYBRIDNET_STRICT", "1")
    net = Fusable()
    net.hybridize()
    with pytest.raises(HybridnetError, match="HYBRIDNET_STRICT=1"):
        net(nd.array([1.0]))


def test_inspection_shows_graphs_kernels_and_timings():
    jit.set_profiling(True)
    try:
        net = Fusable()
        net.hybridize()
        net(nd.ones((4,)))
        net(nd.ones((4,)))
    finally:
        jit.set_profiling(False)
    text = str(jit.inspect(net))
    assert "traced:" in text and "fused_elementwise" in text and "def kernel(" in text
    (src,) = jit.kernel_sources(net)
    assert "np.float32(3.0)" in src
    (t,) = jit.timings(net)
    assert t["calls"] == 2 and t["seconds"] > 0


def test_array_attribute_reassigned_between_calls_is_read_fresh():
    class Masked(gluon.HybridBlock):
        def __init__(self):
            super().__init__()
            self.mask = nd.array([1.0, 0.0])

        def forward(self, x):
            return x * self.mask
    net = Masked()
    net.hybridize()
    assert net(nd.ones((2,))).asnumpy().tolist() == [1.0, 0.0]
    net.mask = nd.array([0.0, 3.0])               # a new object, same shape
    assert net(nd.ones((2,))).asnumpy().tolist() == [0.0, 3.0]
    net.mask[:] = 5.0                             # written in place
    assert net(nd.ones((2,))).asnumpy().tolist() == [5.0, 5.0]
    net.mask = nd.array([1.0])                    # another shape: retraced, still right
    assert net(nd.ones((2,))).asnumpy().tolist() == [1.0, 1.0]


SCALE = nd.array([2.0, 3.0])


class _ReadsGlobal(gluon.HybridBlock):
    def forward(self, x):
        return x * SCALE


def test_module_global_array_rebound_between_calls_is_read_fresh():
    global SCALE
    old = SCALE
    try:
        net = _ReadsGlobal()
        net.hybridize()
        for value in ([2.0, 3.0], [-1.0, 4.0], [7.0]):    # the last one: a new shape
            SCALE = nd.array(value)
            eager = (nd.ones((2,)) * SCALE).asnumpy().tolist()
            assert net(nd.ones((2,))).asnumpy().tolist() == eager
    finally:
        SCALE = old


def test_closed_over_array_rebound_between_calls_is_read_fresh():
    def make():
        offset = nd.array([1.0, 1.0])

        class Shifted(gluon.HybridBlock):
            def forward(self, x):
                return x + offset

        def rebind(value):
            nonlocal offset
            offset = nd.array(value)
        return Shifted(), rebind
    net, rebind = make()
    net.hybridize()
    assert net(nd.zeros((2,))).asnumpy().tolist() == [1.0, 1.0]
    rebind([5.0, -5.0])
    assert net(nd.zeros((2,))).asnumpy().tolist() == [5.0, -5.0]


def test_forward_hooks_run_once_per_call_when_hybridized():
    net = _init(Chain())
    seen = []
    net.register_forward_pre_hook(lambda b, a: seen.append("pre"))
    net.register_forward_hook(lambda b, a, o: seen.append(o.shape))
    net.hybridize()
    for _ in range(3):
        net(nd.ones((2, 4)), nd.ones((3,)))
    assert seen == ["pre", (2,)] * 3
