"""Eager 2-D convolution and pooling on the JIT's Numba kernels (ops/_eager_kernels.py):
against the ops' NumPy rules, finite differences, and hybridized layers; max pooling of
windows of -inf and NaN against NumPy's max."""
import warnings

import numpy as np
import pytest

import hybridnet as mx
from hybridnet import autograd, nd
from hybridnet.gluon import nn
from hybridnet.jit import trace_function
from hybridnet.jit.codegen import compile_graph
from hybridnet.jit.passes import optimize
from hybridnet.ops._eager_kernels import CALLS, numpy_only
from hybridnet.ops._util import call
from hybridnet.test_utils import check_numeric_gradient

from _hybrid_check import check_hybrid

RNG = np.random.default_rng(7)

# (x shape, w shape, stride, dilate, pad, groups): LeNet's two convs, stride with
# padding, a 1x1 kernel, batch 1, non-square kernels/inputs, dilation and groups
CONV = [
    ((3, 1, 9, 9), (6, 1, 3, 3), (1, 1), (1, 1), (1, 1), 1),
    ((2, 6, 8, 8), (16, 6, 5, 5), (1, 1), (1, 1), (0, 0), 1),
    ((2, 3, 7, 6), (5, 3, 3, 3), (2, 2), (1, 1), (1, 1), 1),
    ((1, 4, 5, 7), (3, 4, 1, 1), (1, 1), (1, 1), (0, 0), 1),
    ((1, 2, 6, 9), (4, 2, 2, 3), (2, 1), (1, 2), (0, 1), 1),
    ((2, 4, 7, 7), (6, 2, 3, 3), (1, 1), (2, 2), (2, 2), 2),
]


def _conv_all(xs, ws, stride, dilate, pad, groups, dtype):
    x = nd.array(RNG.standard_normal(xs), dtype=dtype)
    w = nd.array(RNG.standard_normal(ws), dtype=dtype)
    a = dict(stride=stride, dilate=dilate, pad=pad, num_group=groups)
    y = call("_convolution", x, w, **a)
    gy = nd.array(RNG.standard_normal(y.shape), dtype=dtype)

    def run():
        return [call("_convolution", x, w, **a).asnumpy(),
                call("_conv_bwd_data", gy, w, in_size=xs[2:], **a).asnumpy(),
                call("_conv_bwd_weight", gy, x, kernel=ws[2:], **a).asnumpy()]
    return run


@pytest.mark.parametrize("spec", CONV)
@pytest.mark.parametrize("dtype", [np.float32, np.float64])
def test_eager_conv_kernels_match_the_numpy_rules(spec, dtype):
    run = _conv_all(*spec, dtype)
    before = CALLS["_convolution"], CALLS["_conv_bwd_weight"]
    got = run()
    assert (CALLS["_convolution"], CALLS["_conv_bwd_weight"]) == (before[0] + 1, before[1] + 1)
    with numpy_only():
        want = run()
    tol = 3e-5 if dtype == np.float32 else 1e-12
    for g, w in zip(got, want):
        assert g.dtype == w.dtype == dtype and g.shape == w.shape
        np.testing.assert_allclose(g, w, rtol=tol, atol=tol * np.abs(w).max())


@pytest.mark.parametrize("spec", [CONV[0], CONV[2], CONV[3], CONV[4]])
def test_eager_conv_gradients_match_finite_differences(spec):
    xs, ws, stride, dilate, pad, _ = spec
    xs = (1,) + xs[1:]                       # batch 1 keeps the central differences cheap
    kw = dict(kernel=ws[2:], stride=stride, dilate=dilate, pad=pad, num_filter=ws[0])
    n = CALLS["_conv_bwd_data"] + CALLS["_conv_bwd_weight"]
    check_numeric_gradient(lambda x, w, b: nd.Convolution(x, w, b, **kw),
                           [RNG.standard_normal(xs), RNG.standard_normal(ws),
                            RNG.standard_normal(ws[0])])
    assert CALLS["_conv_bwd_data"] + CALLS["_conv_bwd_weight"] > n


def test_second_order_gradient_through_eager_kernels():
    # d/dw of sum(grad_x(sum(conv(x, w)^2))^2) runs every adjoint op's own VJP eagerly
    x = RNG.standard_normal((1, 2, 5, 4))
    kw = dict(kernel=(3, 2), pad=(1, 0), stride=(1, 1), num_filter=3, no_bias=True)

    def f(w):
        xx = nd.array(x, dtype="float64")
        xx.attach_grad()
        with autograd.record():
            y = nd.Convolution(xx, w, **kw)
            (gx,) = autograd.grad((y * y).sum(), [xx], create_graph=True)
        return gx * gx
    n = CALLS["_conv_bwd_data"]
    check_numeric_gradient(f, [RNG.standard_normal((3, 2, 3, 2))])
    assert CALLS["_conv_bwd_data"] > n


def test_shapes_without_kernels_keep_the_numpy_rules():
    n = sum(CALLS.values())
    x1, w1 = RNG.standard_normal((2, 3, 6)), RNG.standard_normal((4, 3, 3))
    y = nd.Convolution(nd.array(x1), nd.array(w1), kernel=(3,), no_bias=True)   # 1-D
    x2 = nd.array(RNG.standard_normal((1, 2, 5, 5)), dtype="float16")
    p = nd.Pooling(x2, kernel=(2, 2), stride=(2, 2))                            # float16
    a = nd.Pooling(nd.array(RNG.standard_normal((1, 2, 3, 3))), pool_type="avg",
                   global_pool=True)                                           # global
    assert sum(CALLS.values()) == n
    assert y.shape == (2, 4, 4) and p.dtype == np.float16 and a.shape == (1, 2, 1, 1)


# ---- max pooling -----------------------------------------------------------------------
POOL = [  # (x shape, kernel, stride, pad, convention): tiled, overlapping, padded, 'full'
    ((2, 3, 8, 8), (2, 2), (2, 2), (0, 0), "valid"),
    ((1, 2, 7, 6), (3, 3), (2, 2), (1, 1), "valid"),
    ((1, 2, 5, 5), (2, 2), (2, 2), (0, 0), "full"),
    ((2, 1, 6, 9), (2, 3), (1, 2), (1, 0), "full"),
    ((1, 1, 5, 5), (2, 2), (4, 4), (1, 1), "full"),      # windows of only padding
    ((1, 2, 4, 7), (1, 3), (1, 3), (0, 0), "valid"),
]


def _np_max_pool(x, kernel, stride, pad, conv):
    """Reference: np.max over each window's input elements (lowest value if none)."""
    n, c, h, w = x.shape
    out = []
    for size, k, s, p in zip((h, w), kernel, stride, pad):
        span = size + 2 * p - k
        out.append((span // s if conv == "valid" else -(-span // s)) + 1)
    y = np.empty((n, c) + tuple(out), x.dtype)
    for i, j in np.ndindex(*out):
        h0, w0 = i * stride[0] - pad[0], j * stride[1] - pad[1]
        win = x[:, :, max(h0, 0):max(h0 + kernel[0], 0), max(w0, 0):max(w0 + kernel[1], 0)]
        y[:, :, i, j] = (win.max(axis=(2, 3)) if win.size else np.finfo(x.dtype).min)
    return y


def _pool_fn(kernel, stride, pad, conv):
    def f(x):
        return nd.Pooling(x, kernel=kernel, stride=stride, pad=pad, pool_type="max",
                          pooling_convention=conv)
    return f


@pytest.mark.parametrize("spec", POOL)
@pytest.mark.parametrize("dtype", [np.float32, np.float64])
def test_eager_max_pool_kernels_match_numpy(spec, dtype):
    xs, kernel, stride, pad, conv = spec
    x = nd.array(RNG.standard_normal(xs), dtype=dtype)
    x.attach_grad()
    n = CALLS["_pooling"], CALLS["_pool_max_grad"]
    with autograd.record():
        y = _pool_fn(kernel, stride, pad, conv)(x)
    g = RNG.standard_normal(y.shape).astype(dtype)
    y.backward(nd.array(g, dtype=dtype))
    assert (CALLS["_pooling"], CALLS["_pool_max_grad"]) == (n[0] + 1, n[1] + 1)
    np.testing.assert_array_equal(y.asnumpy(), _np_max_pool(x.asnumpy(), *spec[1:]))
    with numpy_only():
        dx = call("_pool_max_grad", nd.array(g, dtype=dtype), x, kernel=kernel, stride=stride,
                  pad=pad, pooling_convention=conv)
    # (overlapping windows add up in another order)
    np.testing.assert_allclose(x.grad.asnumpy(), dx.asnumpy(), rtol=1e-6 if dtype == np.float32
                               else 1e-14)


@pytest.mark.parametrize("spec", [POOL[1], POOL[3], POOL[5]])
def test_eager_max_pool_gradient_matches_finite_differences(spec):
    xs, kernel, stride, pad, conv = spec
    # distinct values far apart: no ties, and the arg-max is stable under +-eps
    x = RNG.permutation(np.prod(xs)).reshape(xs).astype(np.float64)
    check_numeric_gradient(_pool_fn(kernel, stride, pad, conv), [x])


@pytest.mark.parametrize("spec", POOL)
@pytest.mark.parametrize("dtype", [np.float32, np.float64])
def test_max_pool_of_minus_inf_and_nan_windows(spec, dtype):
    # the general kernel once gave the lowest finite value for a window of -inf
    xs, kernel, stride, pad, conv = spec
    x = RNG.standard_normal(xs).astype(dtype)
    x[:, 0, :3, :3] = -np.inf                       # whole windows of -inf (also at borders)
    x[0, -1, -2:, -3:] = np.nan                     # windows with NaN
    x[-1, -1, -1, 0] = np.inf
    want = _np_max_pool(x, kernel, stride, pad, conv)
    assert np.isneginf(want).any() and np.isnan(want).any()
    eager = _pool_fn(kernel, stride, pad, conv)(nd.array(x, dtype=dtype)).asnumpy()
    with numpy_only():
        rule = _pool_fn(kernel, stride, pad, conv)(nd.array(x, dtype=dtype)).asnumpy()
    g, _, _ = trace_function(_pool_fn(kernel, stride, pad, conv), [nd.array(x, dtype=dtype)])
    exe = compile_graph(optimize(g))
    assert exe.kind == "compiled" and len(exe.kernels) == 1
    for got in (eager, rule, exe([x])[0]):
        assert got.dtype == dtype
        np.testing.assert_array_equal(got, want)


# ---- avg / sum pooling -----------------------------------------------------------------
AVG = [  # (x shape, kernel, stride, pad, convention, count_include_pad)
    ((2, 3, 8, 8), (2, 2), (2, 2), (0, 0), "valid", True),        # tiled
    ((1, 2, 7, 9), (3, 2), (3, 2), (0, 0), "valid", True),        # tiled, rows left over
    ((1, 2, 7, 6), (3, 3), (2, 2), (1, 1), "valid", False),
    ((2, 1, 6, 9), (2, 3), (1, 2), (1, 0), "full", True),
    ((1, 2, 5, 5), (2, 2), (2, 2), (0, 0), "full", False),        # overhanging windows
    ((1, 2, 4, 7), (1, 3), (1, 3), (0, 0), "valid", True),
]


@pytest.mark.parametrize("spec", AVG)
@pytest.mark.parametrize("pool_type", ["avg", "sum"])
@pytest.mark.parametrize("dtype", [np.float32, np.float64])
def test_eager_avg_pool_kernels_match_the_numpy_rules(spec, pool_type, dtype):
    xs, kernel, stride, pad, conv, cip = spec
    kw = dict(kernel=kernel, stride=stride, pad=pad, pool_type=pool_type,
              pooling_convention=conv, count_include_pad=cip)
    x = RNG.standard_normal(xs).astype(dtype)
    n = CALLS["_pooling"], CALLS["_pool_avg_grad"]

    def run():
        xx = nd.array(x, dtype=dtype)
        xx.attach_grad()
        with autograd.record():
            y = nd.Pooling(xx, **kw)
        y.backward(nd.array(np.arange(y.size).reshape(y.shape) % 7 - 3.0, dtype=dtype))
        return y.asnumpy(), xx.grad.asnumpy()
    (y, dx) = run()
    assert (CALLS["_pooling"], CALLS["_pool_avg_grad"]) == (n[0] + 1, n[1] + 1)
    with numpy_only():
        y0, dx0 = run()
    assert y.dtype == dx.dtype == dtype
    np.testing.assert_array_equal(y, y0)      # taps added in the NumPy rule's order
    tol = 1e-6 if dtype == np.float32 else 1e-14     # overlapping windows: another order
    np.testing.assert_allclose(dx, dx0, rtol=tol, atol=tol * np.abs(dx0).max())


@pytest.mark.parametrize("spec", [AVG[1], AVG[2], AVG[4]])
def test_eager_avg_pool_gradient_matches_finite_differences(spec):
    xs, kernel, stride, pad, conv, cip = spec
    kw = dict(kernel=kernel, stride=stride, pad=pad, pool_type="avg", pooling_convention=conv,
              count_include_pad=cip)
    n = CALLS["_pool_avg_grad"]
    check_numeric_gradient(lambda x: nd.Pooling(x, **kw), [RNG.standard_normal(xs)])
    assert CALLS["_pool_avg_grad"] > n


@pytest.mark.parametrize("spec", [AVG[0], AVG[3]])
def test_hybridized_avg_pool_runs_kernels_matching_the_numpy_rules(spec):
    xs, kernel, stride, pad, conv, cip = spec
    a = dict(kernel=kernel, stride=stride, pad=pad, pool_type="avg", pooling_convention=conv,
             count_include_pad=cip)

    def f(x, g):
        return call("_pooling", x, **a), call("_pool_avg_grad", g, in_size=xs[2:], **a)
    y = nd.Pooling(nd.zeros(xs), **a)
    feeds = [RNG.standard_normal(xs).astype(np.float32),
             RNG.standard_normal(y.shape).astype(np.float32)]
    g, _, _ = trace_function(f, [nd.array(v) for v in feeds])
    exe = compile_graph(optimize(g))
    assert exe.kind == "compiled" and len(exe.kernels) == 2
    with numpy_only():
        want = [f(*[nd.array(v) for v in feeds])[i].asnumpy() for i in range(2)]
    for got, ref in zip(exe(feeds), want):
        np.testing.assert_allclose(got, ref, rtol=1e-6, atol=1e-7)


# ---- layers: eager vs hybridized ---------------------------------------------------------
@pytest.mark.parametrize("layers,shape", [
    (lambda: [nn.Conv2D(4, (3, 2), strides=(2, 1), padding=(1, 0), activation="relu"),
              nn.MaxPool2D(2), nn.Conv2D(3, 1), nn.AvgPool2D((2, 1))], (1, 2, 9, 7)),
    (lambda: [nn.Conv2D(6, 3, padding=1, activation="relu"), nn.MaxPool2D(3, 2, padding=1),
              nn.Conv2D(8, 5, use_bias=False), nn.AvgPool2D(2, ceil_mode=True)], (2, 1, 12, 12)),
])
def test_conv_pool_layers_eager_match_hybridized(layers, shape):
    net = nn.HybridSequential()
    net.add(*layers())
    x = RNG.standard_normal(shape).astype(np.float32)
    n = CALLS["_convolution"]
    check_hybrid(net, [x], init=mx.init.Xavier())
    assert CALLS["_convolution"] > n


# ---- the eager kernel runner -------------------------------------------------------------
def test_large_sum_to_runs_the_kernel_and_matches_float64_sums():
    x = RNG.uniform(-1, 1, (64, 6, 12, 12)).astype(np.float32)    # a conv bias gradient
    n = CALLS["sum_to"]
    got = call("sum_to", nd.array(x), shape=(1, 6, 1, 1)).asnumpy()
    assert CALLS["sum_to"] == n + 1 and got.shape == (1, 6, 1, 1) and got.dtype == np.float32
    np.testing.assert_allclose(got.ravel(), x.astype(np.float64).sum(axis=(0, 2, 3)),
                               rtol=1e-6, atol=1e-4)


@pytest.mark.parametrize("source", ["def kernel(x, out:\n",         # cannot be loaded
                                    "@numba.njit(cache=True)\ndef kernel(x, out):\n"
                                    "    out[0] = no_such_name\n"])     # cannot be compiled
def test_a_kernel_that_fails_warns_once_and_leaves_the_numpy_rule(source, tmp_path,
                                                                  monkeypatch):
    from hybridnet.ops import _eager_kernels as eager
    monkeypatch.setenv("HYBRIDNET_HOME", str(tmp_path))     # keep broken modules out
    x = np.ones((2, 3), np.float32)
    attrs = {"case": source}
    with pytest.warns(RuntimeWarning, match="could not use its Numba kernel"):
        assert eager.run("_test_broken", lambda node: source, (x,), (2, 3), x.dtype, attrs) \
            is None
    with warnings.catch_warnings():
        warnings.simplefilter("error")
        assert eager.run("_test_broken", lambda node: source, (x,), (2, 3), x.dtype, attrs) \
            is None
