"""Row kernels (softmax family, cross-entropy, pick, normalization) and the ``rows`` pass.

* every row kernel against its op's NumPy rule (the reference interpreter), float32
  and float64, on edge shapes: one row, one class, widths that are not a multiple of
  the vector length, a non-last axis, large logits;
* the new fused ops' gradients against central finite differences (float64);
* the pass on small traced graphs: printed graph after the pass pinned, the
  reference interpreter's results unchanged;
* hybridized softmax cross-entropy really runs as one kernel forward, one backward;
  hybridized LayerNorm / BatchNorm backward as one ``_normalize_grad`` kernel.
"""
import numpy as np
import pytest

from hybridnet import autograd, gluon, jit, nd
from hybridnet.jit import interpret, trace_function, verify
from hybridnet.jit.codegen import compile_graph
from hybridnet.jit.grad import build_backward
from hybridnet.jit.ir import Graph
from hybridnet.jit.passes import cse, dce, fold, rows, simplify
from hybridnet.ops._util import call
from hybridnet.test_utils import check_numeric_gradient

RNG = np.random.default_rng(0)


def _x(*shape, dtype=np.float32, scale=1.0, seed=0):
    return (np.random.default_rng(seed).standard_normal(shape) * scale).astype(dtype)


def _labels(shape, k, dtype=np.float32, seed=1):
    return np.random.default_rng(seed).integers(0, k, shape).astype(dtype)


def _kernel_vs_rule(op, feeds, tol, **attrs):
    """Compile one ``op`` node (no passes): it must run its own kernel and match the rule."""
    g, _, _ = trace_function(lambda *xs: call(op, *xs, **attrs),
                             [nd.array(f, dtype=f.dtype) for f in feeds])
    exe = compile_graph(g)
    got = exe(feeds)
    assert exe.kind == "compiled" and len(exe.kernels) == 1, [n.op for n in g.nodes]
    want = interpret(g, feeds)
    assert len(got) == len(want)
    for a, b in zip(got, want):
        assert a.shape == b.shape and a.dtype == b.dtype
        np.testing.assert_allclose(a, b, rtol=tol, atol=tol)
    return got


TOL = {np.float32: 2e-6, np.float64: 1e-12}
# (shape, axis): one row, one class, an odd width (these three share one kernel per op and
# dtype: sizes are not in the source), and a non-last axis (strided rows)
ROW_CASES = [((1, 7), -1), ((5, 1), -1), ((3, 17), -1), ((2, 3, 5), 1)]


@pytest.mark.parametrize("dtype", [np.float32, np.float64])
@pytest.mark.parametrize("shape,axis", ROW_CASES)
def test_softmax_family_kernels_match_the_rule(shape, axis, dtype):
    x = _x(*shape, dtype=dtype, scale=3.0)
    tol = TOL[dtype]
    _kernel_vs_rule("softmax", [x], tol, axis=axis)
    _kernel_vs_rule("log_softmax", [x], tol, axis=axis)
    g, y = _x(*shape, dtype=dtype, seed=2), _x(*shape, dtype=dtype, seed=3)
    _kernel_vs_rule("_softmax_grad", [g, y], tol, axis=axis)
    _kernel_vs_rule("_log_softmax_grad", [g, y], tol, axis=axis, scale=0.5)


@pytest.mark.parametrize("dtype", [np.float32, np.float64])
@pytest.mark.parametrize("shape,axis", ROW_CASES)
def test_cross_entropy_and_pick_kernels_match_the_rule(shape, axis, dtype):
    x = _x(*shape, dtype=dtype, scale=3.0)
    ax = axis % len(shape)
    lanes = shape[:ax] + shape[ax + 1:] or (1,)
    k = shape[ax]
    # dense (probability) labels
    y = np.abs(_x(*shape, dtype=dtype, seed=6))
    loss, logp = _kernel_vs_rule("_dense_xent", [x, y], TOL[dtype], axis=axis, scale=-0.5)
    _kernel_vs_rule("_dense_xent_grad", [_x(*lanes, dtype=dtype, seed=4), logp, y], TOL[dtype],
                    axis=axis, scale=1.5)
    # labels out of range and fractional: pick's 'clip' handles them
    lab = _labels(lanes, k + 2, dtype) - 1 + 0.5
    tol = TOL[dtype]
    loss, logp = _kernel_vs_rule("_softmax_xent", [x, lab], tol, axis=axis)
    np.testing.assert_allclose(logp, call("log_softmax", nd.array(x, dtype=dtype),
                                          axis=axis).asnumpy(), rtol=tol, atol=tol)
    g = _x(*lanes, dtype=dtype, seed=4)
    _kernel_vs_rule("_xent_grad", [g, logp, lab], tol, axis=axis, scale=-0.5)
    _kernel_vs_rule("pick", [x, lab], tol, axis=axis, keepdims=True)
    _kernel_vs_rule("_pick_grad", [g, lab], tol, axis=axis, shape=shape)


@pytest.mark.parametrize("op", ["_softmax_xent", "pick"])
def test_wrap_mode_and_temperature(op):
    x = _x(4, 6, scale=2.0)
    lab = np.array([-1, 7, 2.9, -6.5], np.float32)      # wrap: -1 -> 5, 7 -> 1, -6 -> 0
    attrs = {"mode": "wrap"}
    if op == "_softmax_xent":
        attrs.update(temperature=2.5, scale=1.0)
    _kernel_vs_rule(op, [x, lab], TOL[np.float32], **attrs)
    _kernel_vs_rule("softmax", [x], TOL[np.float32], temperature=0.5)


def test_large_logits_stay_finite():
    x = np.array([[1e4, -1e4, 0.0], [88.0, 89.0, 90.0], [-1e30, 1e30, 3.0]], np.float32)
    lab = np.array([1, 2, 0], np.float32)
    loss, logp = _kernel_vs_rule("_softmax_xent", [x, lab], 1e-6)
    assert np.isfinite(loss).all() and np.isfinite(logp).all()
    np.testing.assert_allclose(loss, [2e4, np.log1p(np.exp(-1) + np.exp(-2)), 2e30], rtol=1e-6)
    p = _kernel_vs_rule("softmax", [x], 1e-6)[0]
    np.testing.assert_allclose(p.sum(axis=1), 1.0, rtol=1e-6)
    dx = _kernel_vs_rule("_xent_grad", [np.ones(3, np.float32), logp, lab], 1e-6)[0]
    np.testing.assert_allclose(dx, np.exp(logp) - np.eye(3, dtype=np.float32)[[1, 2, 0]],
                               atol=1e-6)


def _stats(x, axes):
    mean = x.mean(axis=axes, keepdims=True)
    return mean, ((x - mean) ** 2).mean(axis=axes, keepdims=True)


# one row, width 1, odd widths, NCHW, and a 3-D array normalized along a middle axis
NORM_CASES = [((6, 5), 1), ((1, 3), 1), ((5, 1), 1), ((2, 3, 2, 3), 1), ((3, 4, 5), 1)]


@pytest.mark.parametrize("dtype", [np.float32, np.float64])
@pytest.mark.parametrize("shape,ch", NORM_CASES)
def test_normalize_kernels_match_the_rule(shape, ch, dtype):
    x = _x(*shape, dtype=dtype, scale=2.0) + 3
    c = shape[ch]
    gamma, beta = _x(c, dtype=dtype, seed=5), _x(c, dtype=dtype, seed=6)
    gy = _x(*shape, dtype=dtype, seed=9)
    tol = {np.float32: 2e-5, np.float64: 1e-12}[dtype]
    other = tuple(d for d in range(len(shape)) if d != ch)
    # LayerNorm: statistics along the channel axis; BatchNorm (train): over every other
    # axis, with and without fix_gamma. Forward and its gradient op.
    for axes, fix in (((ch,), False), (other, False), (other, True)):
        _kernel_vs_rule("_normalize", [x, gamma, beta], tol, axes=axes, ch_axis=ch,
                        fix_gamma=fix, eps=1e-3)
        mean, var = (s.astype(dtype) for s in _stats(x, axes))
        dx, dgamma, dbeta = _kernel_vs_rule("_normalize_grad", [gy, x, gamma, mean, var], tol,
                                            axes=axes, ch_axis=ch, fix_gamma=fix, eps=1e-3)
        if fix:
            assert not dgamma.any()
    # BatchNorm (predict): moving statistics
    mm, mv = _x(c, dtype=dtype, seed=7), np.abs(_x(c, dtype=dtype, seed=8)) + 0.1
    _kernel_vs_rule("_batch_norm_infer", [x, gamma, beta, mm, mv], tol, axis=ch,
                    fix_gamma=False)


@pytest.mark.parametrize("axes", [(1,), (0,)])
def test_normalize_grad_kernel_with_large_values(axes):
    # a large offset and spread: the kernel reads the saved statistics, as the rule does
    x = (_x(64, 33, scale=300.0) + 1e4).astype(np.float32)
    gy = _x(64, 33, seed=3, scale=50.0)
    gamma = _x(33, seed=5)
    mean, var = (s.astype(np.float32) for s in _stats(x.astype(np.float64), axes))
    got = _kernel_vs_rule("_normalize_grad", [gy, x, gamma, mean, var], 2e-3, axes=axes,
                          ch_axis=1)
    want = call("_normalize_grad", *[nd.array(a, dtype=np.float64)
                                     for a in (gy, x, gamma, mean, var)], axes=axes, ch_axis=1)
    for a, b in zip(got, want):      # the float64 rule on the same float32 inputs
        np.testing.assert_allclose(a, b.asnumpy(), rtol=1e-4, atol=1e-4 * np.abs(b.asnumpy()).max())


def test_unhandled_nodes_keep_the_numpy_rule():
    x = _x(3, 4)
    g, _, _ = trace_function(lambda a, b: call("pick", a, b, mode="raise"),
                             [nd.array(x), nd.array(np.array([0, 3, 1], np.float32))])
    assert compile_graph(g).kernels == []
    g, _, _ = trace_function(lambda a: call("softmax", a), [nd.array(x, dtype=np.float16)])
    assert compile_graph(g).kernels == []
    # InstanceNorm's statistics (spatial axes only) are not a row layout the kernel has
    x4 = _x(2, 3, 4)
    g, _, _ = trace_function(lambda a, b, c: call("_normalize", a, b, c, axes=(2,), ch_axis=1),
                             [nd.array(x4), nd.ones((3,)), nd.zeros((3,))])
    exe = compile_graph(g)
    assert exe.kernels == []
    np.testing.assert_allclose(exe([x4, np.ones(3, np.float32), np.zeros(3, np.float32)])[0],
                               interpret(g, [x4, np.ones(3, np.float32),
                                             np.zeros(3, np.float32)])[0])


# ---- gradients of the new ops (float64, central differences) -----------------------------
@pytest.mark.parametrize("shape,axis", [((3, 4), -1), ((2, 3, 2), 1)])
def test_fused_op_gradients_match_finite_differences(shape, axis):
    ax = axis % len(shape)
    lanes = shape[:ax] + shape[ax + 1:]
    x, y, g = _x(*shape, dtype=np.float64), _x(*shape, dtype=np.float64, seed=2), \
        _x(*lanes, dtype=np.float64, seed=3)
    lab = _labels(lanes, shape[ax], np.float64)

    def xent(a, b):
        loss, logp = call("_softmax_xent", a, b, axis=axis, keepdims=True, temperature=1.5,
                          scale=-0.7)
        return logp * 0.3 + loss
    check_numeric_gradient(xent, [x, lab], grad_inputs=[0])
    logp = call("log_softmax", nd.array(x, dtype=np.float64), axis=axis).asnumpy()
    check_numeric_gradient(
        lambda a, b, c: call("_xent_grad", a, b, c, axis=axis, scale=0.8),
        [g, logp, lab], grad_inputs=[0, 1])
    p = np.abs(y)

    def dense(a, b):
        loss, logp = call("_dense_xent", a, b, axis=axis, keepdims=True, temperature=1.5,
                          scale=-0.7)
        return logp * 0.3 + loss
    check_numeric_gradient(dense, [x, p])
    check_numeric_gradient(
        lambda a, b, c: call("_dense_xent_grad", a, b, c, axis=axis, scale=0.8), [g, logp, p])
    check_numeric_gradient(
        lambda a, b: call("_log_softmax_grad", a, b, axis=axis, scale=1.3), [y, x])
    check_numeric_gradient(lambda a, b: call("_softmax_grad", a, b, axis=axis, scale=-0.4),
                           [y, x])


@pytest.mark.parametrize("shape,axes,fix", [((3, 4), (1,), False), ((4, 3), (0,), False),
                                            ((2, 3, 2), (0, 2), True), ((2, 3, 2), (1,), False)])
def test_normalize_grad_and_its_vjp_match_finite_differences(shape, axes, fix):
    """``_normalize_grad`` (the VJP of ``_normalize``) and its own VJP (second order). The
    statistics inputs are computed from ``data`` here, as in every real use: their
    dependence on ``data`` is part of the op's ``data`` gradient."""
    c = shape[1]
    bshape = (1, c) + (1,) * (len(shape) - 2)

    def f(gy, x, gamma):
        mean = x.mean(axis=axes, keepdims=True)
        var = ((x - mean) ** 2).mean(axis=axes, keepdims=True)
        dx, dg, db = call("_normalize_grad", gy, x, gamma, mean, var, axes=axes, ch_axis=1,
                          eps=0.1, fix_gamma=fix)
        return dx + (dg * 0.7 + db * 1.3).reshape(bshape)
    feeds = [_x(*shape, dtype=np.float64, seed=2), _x(*shape, dtype=np.float64, scale=2.0),
             _x(c, dtype=np.float64, seed=5)]
    check_numeric_gradient(f, feeds, grad_inputs=[0, 1] if fix else [0, 1, 2],
                           rtol=1e-5, atol=1e-8)


@pytest.mark.parametrize("layer,shape", [("ln", (3, 5)), ("bn", (4, 3, 2))])
def test_norm_second_derivative_matches_finite_differences(layer, shape):
    """d/dx sum(grad_x(sum(w * norm(x)))**2) through eager autograd (create_graph)."""
    c = shape[-1] if layer == "ln" else shape[1]
    gamma, beta = nd.array(_x(c, dtype=np.float64, seed=5)), nd.array(_x(c, dtype=np.float64))
    w = nd.array(_x(*shape, dtype=np.float64, seed=7))

    def norm(x):
        if layer == "ln":
            return nd.LayerNorm(x, gamma, beta)
        return nd.BatchNorm(x, gamma, beta, nd.zeros((c,), dtype=np.float64),
                            nd.ones((c,), dtype=np.float64), fix_gamma=False)

    def z(xn, grad=False):
        x = nd.array(xn, dtype=np.float64)
        x.attach_grad()
        with autograd.record():
            (g,) = autograd.grad((norm(x) * w).sum(), [x], create_graph=True)
            out = (g * g).sum()
        if grad:
            out.backward()
            return x.grad.asnumpy()
        return out.asscalar()
    x0 = _x(*shape, dtype=np.float64, scale=2.0)
    got = z(x0, grad=True)
    num = np.zeros_like(x0)
    for i in np.ndindex(x0.shape):
        d = np.zeros_like(x0)
        d[i] = 1e-6
        num[i] = (z(x0 + d) - z(x0 - d)) / 2e-6
    np.testing.assert_allclose(got, num, rtol=1e-5, atol=1e-7)
    assert np.abs(got).max() > 1e-2


# ---- the pass ---------------------------------------------------------------------------
def _prepared(g):
    """``g`` after the passes that run before ``rows`` in the pipeline."""
    return dce(cse(fold(simplify(g)))).renumber()


def _pass(fn, feeds):
    """(graph before, graph after rows) for ``fn``."""
    g, _, _ = trace_function(fn, [nd.array(f) for f in feeds])
    before = _prepared(g)
    after = rows(before)
    verify(after)
    return before, after.renumber()


def _backward(fn, feeds, head):
    """``fn``'s backward graph (w.r.t. its first input) and feeds for it: ``head`` and
    the residuals, computed by the reference interpreter."""
    g, _, _ = trace_function(fn, [nd.array(f) for f in feeds])
    bw = build_backward(g, 1, [True] + [False] * (len(feeds) - 1))
    given = {id(v): f for v, f in zip(g.inputs, feeds)}
    inner = [v for v in bw.residuals if id(v) not in given]
    vals = dict(zip(map(id, inner), interpret(Graph(list(g.inputs), list(g.nodes), inner,
                                                    dict(g.constants)), feeds)))
    res = [given.get(id(v), vals.get(id(v))) for v in bw.residuals]
    return _prepared(bw.graph), [head] + res


def _same_results(before, after, feeds):
    for a, b in zip(interpret(before, feeds), interpret(after, feeds)):
        np.testing.assert_allclose(a, b, rtol=1e-6, atol=1e-7)


X, LAB = _x(4, 5, scale=2.0), np.array([0, 4, 2, 7], np.float32)


def _sce(x, lab):
    logp = nd.log_softmax(x)
    return (-nd.pick(logp, lab, keepdims=True)).mean(axis=1), logp


def test_rows_fuses_the_cross_entropy_forward():
    before, after = _pass(_sce, [X, LAB])
    _same_results(before, after, [X, LAB])
    assert str(before.renumber()) == (          # the pass never mutates its input
        "graph(%0:f32[4,5], %1:f32[4]) {\n"
        "  %2:f32[4,5] = log_softmax %0\n"
        "  %3:f32[4,1] = pick %2 %1 keepdims=True\n"
        "  %4:f32[4,1] = negative %3\n"
        "  %5:f32[4] = reshape %4 shape=(4)\n"
        "  return %5, %2\n"
        "}")
    after.renumber()
    assert str(after) == (
        "graph(%0:f32[4,5], %1:f32[4]) {\n"
        "  %2:f32[4], %3:f32[4,5] = _softmax_xent %0 %1\n"
        "  return %2, %3\n"
        "}")


def test_rows_keeps_log_softmax_for_readers_before_the_pick():
    def f(x, lab):
        logp = nd.log_softmax(x)
        early = logp * 2                        # read before the pick: keeps its own node
        return -nd.pick(logp, lab), early
    before, after = _pass(f, [X, LAB])
    _same_results(before, after, [X, LAB])
    assert str(after) == (
        "graph(%0:f32[4,5], %1:f32[4]) {\n"
        "  %2:f32[4,5] = log_softmax %0\n"
        "  %3:f32[4,5] = multiply_scalar %2 scalar=2.0\n"
        "  %4:f32[4], %5:f32[4,5] = _softmax_xent %0 %1\n"
        "  return %4, %3\n"
        "}")


def test_rows_fuses_the_cross_entropy_backward():
    before, feeds = _backward(lambda x, lab: _sce(x, lab)[0], [X, LAB], _x(4, seed=3))
    assert str(before) == (
        "graph(%0:f32[4], %1:f32[4,5], %2:f32[4]) {\n"
        "  %3:f32[4,1] = reshape %0 shape=(4,1)\n"
        "  %4:f32[4,1] = negative %3\n"
        "  %5:f32[4,5] = _pick_grad %4 %2 shape=(4,5)\n"
        "  %6:f32[4,5] = exp %1\n"
        "  %7:f32[4,1] = sum %5 axis=-1 keepdims=True\n"
        "  %8:f32[4,5] = multiply %6 %7\n"
        "  %9:f32[4,5] = subtract %5 %8\n"
        "  return %9\n"
        "}")
    after = rows(before).renumber()
    verify(after)
    _same_results(before, after, feeds)
    assert str(after) == (
        "graph(%0:f32[4], %1:f32[4,5], %2:f32[4]) {\n"
        "  %3:f32[4,5] = _xent_grad %0 %1 %2 axis=1\n"
        "  return %3\n"
        "}")


def _dense(x, y):
    return (-(nd.log_softmax(x) * y).sum(axis=-1, keepdims=True)).mean(axis=1)


def test_rows_fuses_the_dense_label_cross_entropy():
    y = np.abs(_x(4, 5, seed=8))
    before, after = _pass(_dense, [X, y])
    _same_results(before, after, [X, y])
    assert str(after) == (
        "graph(%0:f32[4,5], %1:f32[4,5]) {\n"
        "  %2:f32[4], %3:f32[4,5] = _dense_xent %0 %1 axis=1\n"
        "  return %2\n"
        "}")
    before, feeds = _backward(_dense, [X, y], _x(4, seed=3))
    assert str(before) == (
        "graph(%0:f32[4], %1:f32[4,5], %2:f32[4,5]) {\n"
        "  %3:f32[4,1] = reshape %0 shape=(4,1)\n"
        "  %4:f32[4,1] = negative %3\n"
        "  %5:f32[4,5] = broadcast_to %4 shape=(4,5)\n"
        "  %6:f32[4,5] = multiply %5 %2\n"
        "  %7:f32[4,5] = exp %1\n"
        "  %8:f32[4,1] = sum %6 axis=-1 keepdims=True\n"
        "  %9:f32[4,5] = multiply %7 %8\n"
        "  %10:f32[4,5] = subtract %6 %9\n"
        "  return %10\n"
        "}")
    after = rows(before).renumber()
    verify(after)
    _same_results(before, after, feeds)
    assert str(after) == (
        "graph(%0:f32[4], %1:f32[4,5], %2:f32[4,5]) {\n"
        "  %3:f32[4,5] = _dense_xent_grad %0 %1 %2 axis=1\n"
        "  return %3\n"
        "}")


def test_rows_turns_softmax_vjps_into_one_op_and_folds_the_temperature():
    def f(x, lab):
        return nd.log_softmax(x, temperature=2.0) * lab.reshape((4, 1)) + nd.softmax(x) * x
    before, feeds = _backward(f, [X, LAB], _x(4, 5, seed=9))
    after = rows(before).renumber()
    verify(after)
    _same_results(before, after, feeds)
    ops = [n.op for n in after.nodes]
    assert "_log_softmax_grad" in ops and "_softmax_grad" in ops
    assert "sum" not in ops and "exp" not in ops and "multiply_scalar" not in ops
    (lsg,) = [n for n in after.nodes if n.op == "_log_softmax_grad"]
    assert lsg.attrs["scale"] == 0.5


def test_rows_leaves_other_patterns_alone():
    def f(x, lab):
        # pick of something else, and a pick along another axis than the log_softmax
        return -nd.pick(x.exp(), lab), nd.pick(nd.log_softmax(x, axis=0), lab[:4], axis=1)
    g, _, _ = trace_function(f, [nd.array(X), nd.array(LAB)])
    g = _prepared(g)
    assert rows(g) is g


# ---- hybridized end to end --------------------------------------------------------------
@pytest.mark.parametrize("sparse", [True, False])
def test_hybridized_softmax_ce_runs_one_kernel_each_way_and_matches_eager(sparse):
    x, lab = _x(16, 10, scale=3.0), _labels((16,), 10)
    if not sparse:
        lab = np.abs(_x(16, 10, seed=4))
    grads = []
    for hybrid in (False, True):
        loss_fn = gluon.loss.SoftmaxCrossEntropyLoss(sparse_label=sparse)
        if hybrid:
            loss_fn.hybridize()
        for _ in range(2):
            xa = nd.array(x)
            xa.attach_grad()
            with autograd.record():
                loss = loss_fn(xa, nd.array(lab))
            loss.backward()
        grads.append((loss.asnumpy(), xa.grad.asnumpy()))
    np.testing.assert_allclose(grads[1][0], grads[0][0], rtol=1e-6, atol=1e-6)
    np.testing.assert_allclose(grads[1][1], grads[0][1], rtol=1e-5, atol=1e-7)
    (entry,) = jit.inspect(loss_fn).entries
    fwd, bwd = entry.executables["train_forward"], entry.executables["backward"]
    assert [n.op for n in fwd.graph.nodes] == ["_softmax_xent" if sparse else "_dense_xent"]
    assert [n.op for n in bwd.graph.nodes] == ["_xent_grad" if sparse else "_dense_xent_grad"]
    assert len(fwd.kernels) == len(bwd.kernels) == 1


@pytest.mark.parametrize("make,shape", [
    (lambda: gluon.nn.LayerNorm(), (4, 6)),
    (lambda: gluon.nn.LayerNorm(axis=1), (2, 3, 5)),
    (lambda: gluon.nn.BatchNorm(), (8, 5)),
    (lambda: gluon.nn.BatchNorm(), (2, 3, 4, 3)),
    (lambda: gluon.nn.BatchNorm(scale=False), (4, 3, 2, 2)),
])
def test_hybridized_norm_backward_is_one_kernel_and_matches_eager(make, shape):
    from _hybrid_check import check_hybrid
    block = make()
    # eager vs hybridized: outputs, data / gamma / beta gradients, 3 SGD steps
    check_hybrid(block, [_x(*shape, scale=2.0) + 1], modes=("train",))
    trained = [e for e in jit.inspect(block).entries if "backward" in e.executables]
    assert trained
    for entry in trained:
        bwd = entry.executables["backward"]
        assert [n.op for n in bwd.graph.nodes] == ["_normalize_grad"]
        assert len(bwd.kernels) == 1


def test_exp32_helper_is_within_two_ulp_of_numpy():
    from hybridnet.jit.codegen.kernel_cache import load_kernel_module
    from hybridnet.ops.nn_rows_kernels import EXP32
    mod = load_kernel_module("import numba\nimport numpy as np\n\n\n" + EXP32 + (
        "@numba.njit(cache=True, error_model='numpy')\n"
        "def kernel(x, out):\n"
        "    for i in range(x.size):\n"
        "        out[i] = _exp32(x[i])\n"))
    x = np.concatenate([np.linspace(-103.9, 88.7, 20001, dtype=np.float32),
                        np.array([-np.inf, -200, -104, 0, -0.0, 88.73, 100, np.inf, np.nan],
                                 np.float32)])
    got = np.empty_like(x)
    mod.kernel(x, got)
    with np.errstate(over="ignore"):
        want = np.exp(x)
    finite = np.isfinite(want) & (want > np.finfo(np.float32).tiny)
    ulp = np.spacing(want[finite])
    assert np.max(np.abs(got[finite] - want[finite]) / ulp) <= 2.0
    # subnormal results within one subnormal step; the ends exact
    sub = ~finite & np.isfinite(want)
    assert np.max(np.abs(got[sub].astype(np.float64) - want[sub])) <= 1.5e-45
    np.testing.assert_array_equal(got[-9:], want[-9:])
