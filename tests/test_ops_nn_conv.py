"""Convolution / Deconvolution: forward vs direct loops, gradients vs finite differences, errors."""
import itertools

import numpy as np
import pytest

import hybridnet as mx
from hybridnet import autograd, nd
from hybridnet.base import HybridnetValueError, ShapeError
from hybridnet.ops._util import call
from hybridnet.test_utils import assert_almost_equal, check_numeric_gradient

RNG = np.random.default_rng(0)


def rand(*shape):
    return RNG.standard_normal(shape)


def ref_conv(x, w, b, stride, pad, dilate, groups):
    """Direct nested-loop grouped convolution (any number of spatial dims)."""
    n, c = x.shape[:2]
    f, cg = w.shape[:2]
    k = w.shape[2:]
    xp = np.pad(x, ((0, 0), (0, 0)) + tuple((p, p) for p in pad))
    out = tuple((s + 2 * p - d * (kk - 1) - 1) // st + 1
                for s, p, d, kk, st in zip(x.shape[2:], pad, dilate, k, stride))
    y = np.zeros((n, f) + out)
    fg = f // groups
    for i, j, o in itertools.product(range(n), range(f), np.ndindex(*out)):
        grp = j // fg
        acc = 0.0
        for ci in range(cg):
            for t in np.ndindex(*k):
                idx = tuple(oo * st + tt * d for oo, st, tt, d in zip(o, stride, t, dilate))
                acc += xp[(i, grp * cg + ci) + idx] * w[(j, ci) + t]
        y[(i, j) + o] = acc + (b[j] if b is not None else 0.0)
    return y


def ref_deconv(x, w, b, stride, pad, dilate, adj, groups):
    """Direct scatter form of the transposed convolution."""
    n, c = x.shape[:2]
    fg = w.shape[1]
    k = w.shape[2:]
    cg = c // groups
    full = tuple(st * (s - 1) + d * (kk - 1) + 1 + a
                 for s, st, d, kk, a in zip(x.shape[2:], stride, dilate, k, adj))
    y = np.zeros((n, fg * groups) + full)
    for i, ci, pos in itertools.product(range(n), range(c), np.ndindex(*x.shape[2:])):
        grp = ci // cg
        for fl in range(fg):
            for t in np.ndindex(*k):
                idx = tuple(p * st + tt * d for p, st, tt, d in zip(pos, stride, t, dilate))
                y[(i, grp * fg + fl) + idx] += x[(i, ci) + pos] * w[(ci, fl) + t]
    crop = tuple(slice(p, s - p) for p, s in zip(pad, full))
    y = y[(slice(None), slice(None)) + crop]
    return y + (b.reshape((1, -1) + (1,) * len(k)) if b is not None else 0.0)


CONV2D = [  # (stride, pad, dilate, groups)
    ((1, 1), (0, 0), (1, 1), 1),
    ((2, 2), (1, 1), (1, 1), 1),
    ((1, 2), (1, 0), (2, 1), 1),
    ((2, 1), (2, 1), (1, 2), 2),
    ((1, 1), (1, 1), (1, 1), 4),    # depthwise
]


@pytest.mark.parametrize("stride,pad,dilate,groups", CONV2D)
def test_conv2d_forward_and_grad(stride, pad, dilate, groups):
    c, f = 4, 4 if groups == 4 else 6
    x, w, b = rand(2, c, 5, 5), rand(f, c // groups, 3, 2), rand(f)
    kw = dict(kernel=(3, 2), stride=stride, pad=pad, dilate=dilate, num_filter=f,
              num_group=groups)
    y = nd.Convolution(nd.array(x, dtype="float64"), nd.array(w, dtype="float64"),
                       nd.array(b, dtype="float64"), **kw)
    assert_almost_equal(y, ref_conv(x, w, b, stride, pad, dilate, groups), rtol=1e-10,
                        atol=1e-10)
    check_numeric_gradient(lambda x, w, b: nd.Convolution(x, w, b, **kw), [x, w, b])


@pytest.mark.parametrize("stride,pad,dilate,groups", [(1, 0, 1, 1), (2, 1, 2, 1), (3, 2, 1, 2)])
def test_conv1d_forward_and_grad(stride, pad, dilate, groups):
    x, w = rand(2, 2, 9), rand(4, 2 // groups, 3)
    kw = dict(kernel=3, stride=stride, pad=pad, dilate=dilate, num_group=groups, no_bias=True)
    y = nd.Convolution(nd.array(x, dtype="float64"), nd.array(w, dtype="float64"), **kw)
    assert_almost_equal(y, ref_conv(x, w, None, (stride,), (pad,), (dilate,), groups),
                        rtol=1e-10, atol=1e-10)
    check_numeric_gradient(lambda x, w: nd.Convolution(x, w, **kw), [x, w])


def test_conv3d_forward_and_grad():
    x, w, b = rand(1, 2, 3, 4, 3), rand(2, 2, 2, 2, 2), rand(2)
    kw = dict(kernel=(2, 2, 2), stride=(1, 2, 1), pad=(1, 0, 1))
    y = nd.Convolution(nd.array(x, dtype="float64"), nd.array(w, dtype="float64"),
                       nd.array(b, dtype="float64"), **kw)
    assert_almost_equal(y, ref_conv(x, w, b, (1, 2, 1), (1, 0, 1), (1, 1, 1), 1), rtol=1e-10,
                        atol=1e-10)
    check_numeric_gradient(lambda x, w, b: nd.Convolution(x, w, b, **kw), [x, w, b])


def test_conv_float32_keeps_dtype():
    x, w = nd.array(rand(2, 3, 6, 6)), nd.array(rand(4, 3, 3, 3))
    y = nd.Convolution(x, w, nd.zeros(4), kernel=(3, 3), num_filter=4)
    assert y.dtype == np.float32 and y.shape == (2, 4, 4, 4)


DECONV = [  # (kernel, stride, pad, dilate, adj, groups)
    ((3, 3), (1, 1), (0, 0), (1, 1), (0, 0), 1),
    ((3, 2), (2, 2), (1, 0), (1, 1), (1, 0), 1),
    ((2, 3), (2, 1), (0, 1), (2, 1), (0, 0), 2),
]


@pytest.mark.parametrize("kernel,stride,pad,dilate,adj,groups", DECONV)
def test_deconv2d_forward_and_grad(kernel, stride, pad, dilate, adj, groups):
    c, fg = 4, 3
    x, w, b = rand(2, c, 3, 4), rand(c, fg, *kernel), rand(fg * groups)
    kw = dict(kernel=kernel, stride=stride, pad=pad, dilate=dilate, adj=adj, num_group=groups,
              num_filter=fg * groups, no_bias=False)
    y = nd.Deconvolution(nd.array(x, dtype="float64"), nd.array(w, dtype="float64"),
                         nd.array(b, dtype="float64"), **kw)
    assert_almost_equal(y, ref_deconv(x, w, b, stride, pad, dilate, adj, groups), rtol=1e-10,
                        atol=1e-10)
    check_numeric_gradient(lambda x, w, b: nd.Deconvolution(x, w, b, **kw), [x, w, b])


def test_deconv1d_and_target_shape():
    x, w = rand(2, 2, 4), rand(2, 3, 3)
    y = nd.Deconvolution(nd.array(x), nd.array(w), kernel=3, stride=2)
    assert y.shape == (2, 3, 9)
    # target_shape picks pad/adj like MXNet: here total padding 9 - 8 = 1 -> pad 1, adj 1
    kw = dict(kernel=(3,), stride=(2,), target_shape=(8,))
    y = nd.Deconvolution(nd.array(x, dtype="float64"), nd.array(w, dtype="float64"), **kw)
    assert y.shape == (2, 3, 8)
    assert_almost_equal(y, ref_deconv(x, w, None, (2,), (1,), (1,), (1,), 1), rtol=1e-10,
                        atol=1e-10)
    check_numeric_gradient(lambda x, w: nd.Deconvolution(x, w, **kw), [x, w])


def test_deconv_target_shape_with_stride_one():
    # odd total padding with stride 1: one window fewer than fits (adj >= stride internally)
    x, w = rand(1, 2, 4, 4), rand(2, 2, 3, 3)
    kw = dict(kernel=(3, 3), target_shape=(5, 5))
    y = nd.Deconvolution(nd.array(x, dtype="float64"), nd.array(w, dtype="float64"), **kw)
    assert_almost_equal(y, ref_deconv(x, w, None, (1, 1), (1, 1), (1, 1), (1, 1), 1),
                        rtol=1e-10, atol=1e-10)
    check_numeric_gradient(lambda x, w: nd.Deconvolution(x, w, **kw), [x, w])


def test_deconv_is_conv_input_gradient():
    x, w = nd.array(rand(2, 3, 6, 5)), nd.array(rand(4, 3, 3, 3))
    x.attach_grad()
    kw = dict(kernel=(3, 3), stride=(2, 2), pad=(1, 1))
    with autograd.record():
        y = nd.Convolution(x, w, no_bias=True, **kw)
    g = nd.array(rand(*y.shape))
    y.backward(g)
    d = nd.Deconvolution(g, w, adj=(1, 0), **kw)
    assert_almost_equal(x.grad, d, rtol=1e-5, atol=1e-5)


@pytest.mark.parametrize("name", ["_conv_bwd_data", "_conv_bwd_weight"])
def test_adjoint_ops_are_differentiable(name):
    # second-order gradients flow through the adjoint ops' own VJPs
    a = dict(stride=(2, 1), dilate=(1, 2), pad=(1, 1), num_group=2)
    if name == "_conv_bwd_data":
        ins = [rand(2, 4, 3, 3), rand(4, 1, 3, 2)]
        extra = dict(in_size=(5, 4))
    else:
        ins = [rand(2, 4, 3, 3), rand(2, 2, 5, 4)]
        extra = dict(kernel=(3, 2))
    check_numeric_gradient(lambda p, q: call(name, p, q, **a, **extra), ins)


def test_conv_double_backward():
    x, w = nd.array(rand(1, 2, 4, 4), dtype="float64"), nd.array(rand(3, 2, 3, 3),
                                                                  dtype="float64")
    x.attach_grad()
    w.attach_grad()
    with autograd.record():
        y = nd.Convolution(x, w, kernel=(3, 3), pad=(1, 1), no_bias=True)
        gx = autograd.grad((y * y).sum(), x, create_graph=True)
        z = (gx * gx).sum()
    z.backward()
    # z = sum((2 * conv_bwd_data(conv(x, w), w))^2): compare with finite differences in w
    def zf(wv):
        xx = nd.array(x.asnumpy(), dtype="float64")
        ww = nd.array(wv, dtype="float64")
        yy = call("_convolution", xx, ww, stride=(1, 1), dilate=(1, 1), pad=(1, 1), num_group=1)
        g = call("_conv_bwd_data", 2 * yy, ww, in_size=(4, 4), stride=(1, 1), dilate=(1, 1),
                 pad=(1, 1), num_group=1)
        return float((g * g).sum().asscalar())
    from hybridnet.test_utils import numeric_grad
    (num,) = numeric_grad(zf, [w.asnumpy()])
    assert_almost_equal(w.grad, num, rtol=1e-5, atol=1e-6)


# ---- errors -------------------------------------------------------------------------------
def test_conv_channel_mismatch_message():
    x, w = nd.ones((2, 3, 5, 5)), nd.ones((4, 2, 3, 3))
    with pytest.raises(ShapeError, match=r"Convolution: data of shape \(2, 3, 5, 5\) has 3 "
                                         r"channels.*\(4, 2, 3, 3\).*in_channels=3"):
        nd.Convolution(x, w, kernel=(3, 3), no_bias=True)


def test_conv_errors():
    x, w = nd.ones((2, 4, 5, 5)), nd.ones((6, 4, 3, 3))
    with pytest.raises(ShapeError, match="does not fit the input"):
        nd.Convolution(nd.ones((1, 4, 2, 2)), w, kernel=(3, 3), no_bias=True)
    with pytest.raises(ShapeError, match=r"kernel=\(2, 2\) but the weight"):
        nd.Convolution(x, w, kernel=(2, 2), no_bias=True)
    with pytest.raises(ShapeError, match="num_filter=5"):
        nd.Convolution(x, w, kernel=(3, 3), num_filter=5, no_bias=True)
    with pytest.raises(ShapeError, match=r"bias must have shape \(6,\)"):
        nd.Convolution(x, w, nd.ones(5), kernel=(3, 3))
    with pytest.raises(HybridnetValueError, match="'bias' must be an NDArray.*no_bias=True"):
        nd.Convolution(x, w, kernel=(3, 3))
    with pytest.raises(ShapeError, match="num_group=3 must divide"):
        nd.Convolution(x, nd.ones((6, 1, 3, 3)), kernel=(3, 3), num_group=3, no_bias=True)
    with pytest.raises(HybridnetValueError, match="layout 'NHWC' is not supported"):
        nd.Convolution(x, w, kernel=(3, 3), no_bias=True, layout="NHWC")
    with pytest.raises(HybridnetValueError, match=r"stride=\(1, 1, 1\) has 3 entries"):
        nd.Convolution(x, w, kernel=(3, 3), stride=(1, 1, 1), no_bias=True)
    with pytest.raises(ShapeError, match="must have 3..5 dims"):
        nd.Convolution(nd.ones((4, 5)), w, kernel=(3, 3), no_bias=True)
    with pytest.raises(HybridnetValueError, match=r"unexpected argument\(s\) \['strides'\]"):
        nd.Convolution(x, w, kernel=(3, 3), strides=2, no_bias=True)


def test_deconv_errors():
    x = nd.ones((2, 3, 4, 4))
    with pytest.raises(ShapeError, match=r"Deconvolution: data of shape \(2, 3, 4, 4\) has 3 "
                                         r"channels.*\(2, 5, 3, 3\)"):
        nd.Deconvolution(x, nd.ones((2, 5, 3, 3)), kernel=(3, 3))
    with pytest.raises(ShapeError, match="adj=.* must be smaller than stride"):
        nd.Deconvolution(x, nd.ones((3, 2, 3, 3)), kernel=(3, 3), stride=(2, 2), adj=(2, 2))
    with pytest.raises(ShapeError, match="target_shape=.* is too big"):
        nd.Deconvolution(x, nd.ones((3, 2, 3, 3)), kernel=(3, 3), target_shape=(9, 9))
    with pytest.raises(ShapeError, match="num_filter=4"):
        nd.Deconvolution(x, nd.ones((3, 2, 3, 3)), kernel=(3, 3), num_filter=4)


def test_conv_works_with_mx_alias():
    y = mx.nd.Convolution(data=mx.nd.ones((1, 1, 3, 3)), weight=mx.nd.ones((1, 1, 3, 3)),
                          bias=mx.nd.zeros(1), kernel=(3, 3), num_filter=1, workspace=512)
    assert y.shape == (1, 1, 1, 1) and y.asscalar() == 9.0


# ---- random configurations ----------------------------------------------------------------
from hypothesis import given, settings, strategies as st  # noqa: E402


@st.composite
def conv_configs(draw):
    nsp = draw(st.integers(1, 2))
    groups = draw(st.sampled_from([1, 2]))
    c, f = groups * draw(st.integers(1, 2)), groups * draw(st.integers(1, 2))
    k = tuple(draw(st.integers(1, 3)) for _ in range(nsp))
    s = tuple(draw(st.integers(1, 3)) for _ in range(nsp))
    d = tuple(draw(st.integers(1, 2)) for _ in range(nsp))
    p = tuple(draw(st.integers(0, 2)) for _ in range(nsp))
    size = tuple(draw(st.integers(max(1, dd * (kk - 1) + 1 - 2 * pp), 6))
                 for kk, dd, pp in zip(k, d, p))
    return (draw(st.integers(1, 2)), c, f, size, k, s, d, p, groups)


@settings(max_examples=25, deadline=None)
@given(conv_configs())
def test_conv_matches_reference_on_random_configs(cfg):
    n, c, f, size, k, s, d, p, groups = cfg
    x, w = rand(n, c, *size), rand(f, c // groups, *k)
    y = nd.Convolution(nd.array(x, dtype="float64"), nd.array(w, dtype="float64"), kernel=k,
                       stride=s, dilate=d, pad=p, num_group=groups, no_bias=True)
    assert_almost_equal(y, ref_conv(x, w, None, s, p, d, groups), rtol=1e-10, atol=1e-10)
    # deconvolution with the same geometry maps back to the input size (adj fills the rest)
    adj = tuple((sz + 2 * pp - dd * (kk - 1) - 1) % ss for sz, pp, dd, kk, ss in
                zip(size, p, d, k, s))
    wt = rand(f, c // groups, *k)
    yt = nd.Deconvolution(y, nd.array(wt, dtype="float64"), kernel=k,
                          stride=s, dilate=d, pad=p, adj=adj, num_group=groups)
    assert yt.shape == (n, c) + tuple(size)
    assert_almost_equal(yt, ref_deconv(y.asnumpy(), wt, None, s, p, d, adj, groups), rtol=1e-10,
                        atol=1e-10)
