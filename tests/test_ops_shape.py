"""Shape ops: reshape codes, flatten, transpose, squeeze, tile, repeat, pad, flip, concat/stack/split."""
import numpy as np
import pytest
from hypothesis import given, settings, strategies as st

from hybridnet import autograd, nd
from hybridnet.base import HybridnetValueError, ShapeError
from hybridnet.test_utils import assert_almost_equal, check_numeric_gradient

SETTINGS = settings(max_examples=25, deadline=None)
shapes = st.lists(st.integers(1, 4), min_size=1, max_size=4).map(tuple)


def rand(*shape, seed=0):
    return np.random.default_rng(seed).standard_normal(shape)


# ---- reshape ------------------------------------------------------------------------------
@pytest.mark.parametrize("src,code,expected", [
    ((2, 3, 4), (4, 0, 2), (4, 3, 2)),
    ((2, 3, 4), (2, 0, 0), (2, 3, 4)),
    ((2, 3, 4), (6, 1, -1), (6, 1, 4)),
    ((2, 3, 4), (3, -1, 8), (3, 1, 8)),
    ((2, 3, 4), (-1,), (24,)),
    ((2, 3, 4), (-2,), (2, 3, 4)),
    ((2, 3, 4), (2, -2), (2, 3, 4)),
    ((2, 3, 4), (-2, 1, 1), (2, 3, 4, 1, 1)),
    ((2, 3, 4), (-3, 4), (6, 4)),
    ((2, 3, 4, 5), (-3, -3), (6, 20)),
    ((2, 3, 4), (0, -3), (2, 12)),
    ((2, 3, 4), (-3, -2), (6, 4)),
    ((2, 3, 4), (-4, 1, 2, -2), (1, 2, 3, 4)),
    ((2, 3, 4), (2, -4, -1, 3, -2), (2, 1, 3, 4)),
    ((2, 3, 4), (0, -1), (2, 12)),
])
def test_reshape_codes_mxnet_doc_table(src, code, expected):
    x = rand(*src)
    y = nd.reshape(nd.array(x), shape=code)
    assert y.shape == expected
    assert_almost_equal(y, x.reshape(expected))


def test_reshape_reverse():
    x = nd.zeros((10, 5, 4))
    assert nd.reshape(x, shape=(-1, 0)).shape == (40, 5)
    assert nd.reshape(x, shape=(-1, 0), reverse=True).shape == (50, 4)
    assert x.reshape((-4, 5, -1, -2), reverse=False).shape == (5, 2, 5, 4)
    assert x.reshape((-1, -4, 2, 2), reverse=True).shape == (50, 2, 2)   # splits the 4
    with pytest.raises(ShapeError, match=r"cannot split input dim 5"):
        x.reshape((-1, -4, 2, 2))


@st.composite
def reshape_case(draw):
    """An input shape and a code list built dim by dim, with the shape it must give."""
    shape = draw(shapes)
    codes, out, i = [], [], 0
    while i < len(shape):
        kind = draw(st.sampled_from(["copy", "explicit", "merge", "split", "rest"]))
        if kind == "merge" and i + 1 < len(shape):
            codes.append(-3)
            out.append(shape[i] * shape[i + 1])
            i += 2
        elif kind == "split":
            codes += [-4, 1, -1] if draw(st.booleans()) else [-4, -1, 1]
            out += [1, shape[i]] if codes[-1] == -1 else [shape[i], 1]
            i += 1
        elif kind == "rest":
            codes.append(-2)
            out += list(shape[i:])
            i = len(shape)
        else:
            codes.append(0 if kind == "copy" else shape[i])
            out.append(shape[i])
            i += 1
    if draw(st.booleans()):       # replace one explicit/copy dim by -1
        pos = [j for j, c in enumerate(codes) if c >= 0 and (j == 0 or codes[j - 1] != -4)
               and (j < 2 or codes[j - 2] != -4)]
        if pos:
            codes[draw(st.sampled_from(pos))] = -1
    return shape, tuple(codes), tuple(out)


@SETTINGS
@given(reshape_case())
def test_reshape_codes_hypothesis(case):
    shape, codes, expected = case
    x = rand(*shape)
    y = nd.array(x).reshape(codes)
    assert y.shape == expected
    assert_almost_equal(y, x.reshape(expected))


def test_reshape_method_forms_and_grad():
    x = nd.arange(6)
    assert x.reshape(2, 3).shape == (2, 3)
    assert x.reshape((2, 3)).shape == (2, 3)
    assert x.reshape([3, 2]).shape == (3, 2)
    assert x.reshape(shape=(2, 3)).shape == (2, 3)
    assert x.reshape(-1).shape == (6,)
    assert nd.reshape(x, shape=6).shape == (6,)
    check_numeric_gradient(lambda a: a.reshape((0, -1)) * a.reshape((0, -1)), [rand(2, 3, 2)])


def test_reshape_errors_name_shapes():
    x = nd.zeros((2, 3))
    with pytest.raises(ShapeError, match=r"shape \(2, 3\).*into \(4, 5\)"):
        x.reshape(4, 5)
    with pytest.raises(ShapeError, match=r"more than one -1"):
        x.reshape(-1, -1)
    with pytest.raises(ShapeError, match=r"\(2, 3\).*into \(4, -1\)"):
        x.reshape(4, -1)
    with pytest.raises(ShapeError, match=r"code 0 .* has only 2 dims"):
        x.reshape(0, 0, 0)
    with pytest.raises(ShapeError, match=r"cannot split input dim 2"):
        x.reshape(-4, 3, -1, 0)
    with pytest.raises(ShapeError, match=r"invalid code -5"):
        x.reshape(-5)


def test_reshape_like():
    x, y = nd.array(rand(2, 6)), nd.zeros((3, 4))
    assert_almost_equal(nd.reshape_like(x, y), x.asnumpy().reshape(3, 4))
    check_numeric_gradient(lambda a, b: nd.reshape_like(a, b), [rand(2, 6), rand(3, 4)],
                           grad_inputs=[0])
    with pytest.raises(ShapeError, match=r"\(2, 6\).*\(5,\)"):
        nd.reshape_like(x, nd.zeros(5))


def test_flatten():
    x = rand(2, 3, 4)
    assert_almost_equal(nd.flatten(nd.array(x)), x.reshape(2, 12))
    assert nd.array(rand(5)).flatten().shape == (5, 1)
    assert nd.Flatten(nd.zeros((3, 1, 2, 2))).shape == (3, 4)
    check_numeric_gradient(lambda a: nd.flatten(a), [rand(2, 2, 3)])


# ---- permutations ------------------------------------------------------------------------
@SETTINGS
@given(shapes, st.randoms())
def test_transpose_matches_numpy(shape, rnd):
    perm = list(range(len(shape)))
    rnd.shuffle(perm)
    x = rand(*shape)
    assert_almost_equal(nd.transpose(nd.array(x), axes=perm), np.transpose(x, perm))
    assert_almost_equal(nd.array(x).T, x.T)
    assert_almost_equal(nd.transpose(nd.array(x)), x.T)


def test_transpose_grad_and_errors():
    check_numeric_gradient(lambda a: nd.transpose(a, axes=(1, 2, 0)), [rand(2, 3, 2)])
    with pytest.raises(ShapeError, match=r"not a permutation.*shape \(2, 3\)"):
        nd.transpose(nd.zeros((2, 3)), axes=(0, 0))
    with pytest.raises(ShapeError, match=r"axis 5 is out of range"):
        nd.transpose(nd.zeros((2, 3)), axes=(0, 5))


def test_swapaxes_expand_dims():
    x = rand(2, 3, 4)
    assert_almost_equal(nd.swapaxes(nd.array(x), dim1=0, dim2=2), np.swapaxes(x, 0, 2))
    assert_almost_equal(nd.SwapAxis(nd.array(x), 1, -1), np.swapaxes(x, 1, -1))
    check_numeric_gradient(lambda a: nd.swapaxes(a, 0, 1), [rand(2, 3)])
    for ax in (0, 1, 3, -1, -4):
        assert nd.expand_dims(nd.array(x), axis=ax).shape == np.expand_dims(x, ax).shape
    check_numeric_gradient(lambda a: nd.expand_dims(a, axis=1), [rand(2, 3)])
    with pytest.raises(ShapeError, match=r"expand_dims: axis 4 is out of range.*\(2, 3, 4\)"):
        nd.expand_dims(nd.array(x), axis=4)
    with pytest.raises(HybridnetValueError, match=r"expand_dims: pass"):
        nd.expand_dims(nd.array(x))


def test_squeeze():
    x = rand(1, 3, 1)
    assert nd.squeeze(nd.array(x)).shape == (3,)
    assert nd.squeeze(nd.array(x), axis=0).shape == (3, 1)
    assert nd.array(x).squeeze(axis=(0, 2)).shape == (3,)
    assert nd.squeeze(nd.zeros((1, 1, 1))).shape == (1,)     # MXNet keeps one dim
    check_numeric_gradient(lambda a: nd.squeeze(a, axis=2), [rand(2, 3, 1)])
    with pytest.raises(ShapeError, match=r"squeeze: axis 1 .* has size 3, not 1"):
        nd.squeeze(nd.array(x), axis=1)


def test_flip_reverse():
    x = rand(2, 3, 4)
    assert_almost_equal(nd.flip(nd.array(x), axis=1), x[:, ::-1])
    assert_almost_equal(nd.reverse(nd.array(x), axis=(0, 2)), x[::-1, :, ::-1])
    assert_almost_equal(nd.array(x).flip(axis=0), x[::-1])
    check_numeric_gradient(lambda a: nd.flip(a, axis=1) * a, [rand(2, 3)])


# ---- tile / repeat / pad ------------------------------------------------------------------
@pytest.mark.parametrize("shape,reps", [((2, 3), (2, 1)), ((2, 3), (3,)), ((3,), (2, 2)),
                                        ((2, 1, 2), (1, 2, 3))])
def test_tile(shape, reps):
    x = rand(*shape)
    assert_almost_equal(nd.tile(nd.array(x), reps=reps), np.tile(x, reps))
    check_numeric_gradient(lambda a: nd.tile(a, reps=reps), [x])


@pytest.mark.parametrize("axis", [None, 0, 1, -1])
def test_repeat(axis):
    x = rand(2, 3)
    assert_almost_equal(nd.repeat(nd.array(x), repeats=3, axis=axis), np.repeat(x, 3, axis))
    check_numeric_gradient(lambda a: nd.repeat(a, repeats=2, axis=axis), [x])
    with pytest.raises(HybridnetValueError, match=r"repeat: repeats must be an int"):
        nd.repeat(nd.array(x), repeats=-1)


@pytest.mark.parametrize("mode", ["constant", "edge", "reflect"])
def test_pad_forward_and_grad(mode):
    x = rand(1, 2, 3, 4)
    pw = (0, 0, 0, 0, 1, 2, 2, 1)
    y = nd.pad(nd.array(x), mode=mode, pad_width=pw, constant_value=0.5)
    kw = {"constant_values": 0.5} if mode == "constant" else {}
    assert_almost_equal(y, np.pad(x, ((0, 0), (0, 0), (1, 2), (2, 1)), mode=mode, **kw))
    check_numeric_gradient(lambda a: nd.pad(a, mode=mode, pad_width=pw), [x])


def test_pad_errors():
    x = nd.zeros((1, 1, 2, 2))
    with pytest.raises(ShapeError, match=r"pad_width \(1, 1\) must hold 2 .* shape \(1, 1, 2, 2\)"):
        nd.pad(x, pad_width=(1, 1))
    with pytest.raises(HybridnetValueError, match=r"mode must be"):
        nd.pad(x, mode="wrap", pad_width=(0,) * 8)
    with pytest.raises(ShapeError, match=r"reflect padding 2 must be smaller than the axis size 2"):
        nd.pad(x, mode="reflect", pad_width=(0, 0, 0, 0, 2, 2, 0, 0))


# ---- concat / stack / split ---------------------------------------------------------------
@SETTINGS
@given(shapes, st.integers(1, 3), st.data())
def test_concat_split_roundtrip(shape, n, data):
    axis = data.draw(st.integers(-len(shape), len(shape) - 1))
    parts = [rand(*shape, seed=i) for i in range(n)]
    y = nd.concat(*[nd.array(p) for p in parts], dim=axis)
    assert_almost_equal(y, np.concatenate(parts, axis=axis))
    back = nd.split(y, num_outputs=n, axis=axis)
    back = back if isinstance(back, tuple) else (back,)
    for b, p in zip(back, parts):
        assert_almost_equal(b, p)


@SETTINGS
@given(shapes, st.integers(1, 3), st.data())
def test_stack_roundtrip(shape, n, data):
    axis = data.draw(st.integers(-len(shape) - 1, len(shape)))
    parts = [rand(*shape, seed=i) for i in range(n)]
    y = nd.stack(*[nd.array(p) for p in parts], axis=axis)
    assert_almost_equal(y, np.stack(parts, axis=axis))
    back = nd.split(y, num_outputs=n, axis=axis, squeeze_axis=True)
    back = back if isinstance(back, tuple) else (back,)
    for b, p in zip(back, parts):
        assert_almost_equal(b, p)


def test_concat_stack_grads():
    a, b, c = rand(2, 3), rand(2, 1), rand(2, 2)
    check_numeric_gradient(lambda x, y, z: nd.concat(x, y, z, dim=1), [a, b, c])
    check_numeric_gradient(lambda x, y: nd.concat([x, y], dim=0), [a, a + 1])
    check_numeric_gradient(lambda x, y: nd.stack(x, y, axis=1), [a, a * 2])


def test_split_grad_and_forms():
    x = rand(2, 6)
    outs = nd.split(nd.array(x), num_outputs=3, axis=1)
    assert isinstance(outs, tuple) and len(outs) == 3 and outs[1].shape == (2, 2)
    one = nd.split(nd.array(x), 1, axis=0)
    assert one.shape == (2, 6)                  # one output: a single array, like MXNet
    assert nd.SliceChannel(nd.array(x), num_outputs=2).__len__() == 2
    check_numeric_gradient(lambda a: nd.split(a, 3, axis=1)[0] * nd.split(a, 3, axis=1)[2], [x])
    check_numeric_gradient(lambda a: nd.split(a, 2, axis=0, squeeze_axis=True)[1], [x])
    # only one output used: the others get zero gradient
    v = nd.array(x)
    v.attach_grad()
    with autograd.record():
        y = nd.split(v, 2, axis=1)[1].sum()
    y.backward()
    assert_almost_equal(v.grad, np.concatenate([np.zeros((2, 3)), np.ones((2, 3))], 1))


def test_join_errors():
    with pytest.raises(ShapeError, match=r"concat: input shapes \(2, 3\), \(3, 3\) differ"):
        nd.concat(nd.zeros((2, 3)), nd.zeros((3, 3)), dim=1)
    with pytest.raises(ShapeError, match=r"stack: all inputs must have the same shape"):
        nd.stack(nd.zeros((2, 3)), nd.zeros((3, 3)))
    with pytest.raises(ShapeError, match=r"split: axis 1 .* shape \(2, 5\) has size 5.*"
                                          r"num_outputs=2"):
        nd.split(nd.zeros((2, 5)), num_outputs=2, axis=1)
    with pytest.raises(HybridnetValueError, match=r"num_outputs must be a positive int"):
        nd.split(nd.zeros((2, 4)))
    with pytest.raises(ShapeError, match=r"squeeze_axis=True needs axis 1 of size"):
        nd.split(nd.zeros((2, 4)), num_outputs=2, squeeze_axis=True)


def test_split_shape_rule_matches_forward():
    from hybridnet.ops.registry import get_op
    op = get_op("split")
    attrs = {"num_outputs": 3, "axis": 0, "squeeze_axis": True}
    assert op.n_outputs(attrs) == 3
    rule = op.shape_rule([(3, 4)], [np.float32], **attrs)
    assert rule == [((4,), np.dtype(np.float32))] * 3


@pytest.mark.parametrize("name,shapes,attrs", [
    ("reshape", [(2, 3, 4)], {"shape": (-3, -1), "reverse": False}),
    ("concat", [(2, 3), (2, 1)], {"dim": 1}),
    ("cast", [(2, 3)], {"dtype": "int32"}),
    ("copy", [(2, 3)], {}),
    ("dot", [(2, 3, 4), (4, 5)], {"transpose_a": False, "transpose_b": False}),
    ("dot", [(3,), (3,)], {"transpose_a": False, "transpose_b": False}),
    ("batch_dot", [(2, 4, 3), (2, 4, 5)], {"transpose_a": True, "transpose_b": False}),
    ("split", [(4, 6)], {"num_outputs": 2, "axis": 1, "squeeze_axis": False}),
])
def test_shape_rules_match_forward(name, shapes, attrs):
    from hybridnet.ops.registry import get_op
    op = get_op(name)
    dts = [np.float32] * len(shapes)
    res = op.forward(*[np.zeros(s, d) for s, d in zip(shapes, dts)], **attrs)
    res = res if isinstance(res, tuple) else (res,)
    assert op.shape_rule(shapes, dts, **attrs) == [(r.shape, r.dtype) for r in res]


def test_traced_forward_and_backward_match_eager():
    """The movement/linalg VJPs trace into backward IR that gives the eager gradients."""
    from hybridnet.jit.grad import build_backward
    from hybridnet.jit.interpret import interpret
    from hybridnet.jit.trace import trace_function

    def f(x, w):
        a, b = nd.split(x, 2, axis=1)
        y = nd.dot(a, w) + nd.concat(b, b, dim=1)[:, 1:3] + nd.split(b, 1, axis=0) * 2
        y = nd.linalg.gemm2(y, w, alpha=2.0, transpose_b=True) + nd.stack(b[:, 0], b[:, 1], axis=1)
        z = nd.tile(y.reshape((0, -1)).T[::-1], (1, 2))[:, :3]
        z = nd.flip(nd.swapaxes(nd.expand_dims(z, 0), 0, 1), axis=0).squeeze(axis=1)
        z = nd.pad(z.reshape((1, 1, 2, 3)), mode="reflect", pad_width=(0, 0, 0, 0, 1, 1, 1, 1))
        return (z.sum() + (nd.take(w, nd.array([0, 1, 1])) * nd.pick(w, nd.array([1, 0]))).sum()
                + nd.slice(x, begin=(0, 1), end=(2, None), step=(1, 2)).sum() + x[[0, 0, 2]].sum())

    x, w = nd.array(rand(3, 4), dtype="float64"), nd.array(rand(2, 2, seed=1), dtype="float64")
    g, _, _ = trace_function(f, [x, w])
    bg = build_backward(g, 1, [True, True])
    g.outputs = g.outputs + list(bg.residuals)
    vals = interpret(g, [x.asnumpy(), w.asnumpy()])
    gx, gw = interpret(bg.graph, [np.ones(1)] + vals[1:])
    x.attach_grad()
    w.attach_grad()
    with autograd.record():
        y = f(x, w)
    y.backward()
    assert_almost_equal(vals[0], y, rtol=1e-12, atol=1e-12)
    assert_almost_equal(gx, x.grad, rtol=1e-10, atol=1e-10)
    assert_almost_equal(gw, w.grad, rtol=1e-10, atol=1e-10)
