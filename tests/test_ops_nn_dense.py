"""FullyConnected and Embedding: forward vs NumPy, gradients vs finite differences, errors."""
import numpy as np
import pytest

from hybridnet import autograd, nd
from hybridnet.base import HybridnetValueError, ShapeError
from hybridnet.test_utils import assert_almost_equal, check_numeric_gradient

RNG = np.random.default_rng(1)


def rand(*shape):
    return RNG.standard_normal(shape)


@pytest.mark.parametrize("shape", [(3, 6), (3, 2, 3), (2, 1, 2, 3)])
def test_fc_flatten(shape):
    x, w, b = rand(*shape), rand(4, int(np.prod(shape[1:]))), rand(4)
    y = nd.FullyConnected(nd.array(x), nd.array(w), nd.array(b), num_hidden=4)
    assert y.shape == (shape[0], 4) and y.dtype == np.float32
    assert_almost_equal(y, x.reshape(shape[0], -1) @ w.T + b, rtol=1e-5, atol=1e-5)
    check_numeric_gradient(lambda x, w, b: nd.FullyConnected(x, w, b, num_hidden=4), [x, w, b])


def test_fc_no_flatten_last_axis():
    x, w = rand(2, 3, 5), rand(4, 5)
    y = nd.FullyConnected(nd.array(x), nd.array(w), no_bias=True, num_hidden=4, flatten=False)
    assert y.shape == (2, 3, 4)
    assert_almost_equal(y, x @ w.T, rtol=1e-5, atol=1e-5)
    check_numeric_gradient(lambda x, w: nd.FullyConnected(x, w, no_bias=True, flatten=False),
                           [x, w])
    b = rand(4)
    check_numeric_gradient(lambda x, w, b: nd.FullyConnected(x, w, b, flatten=False), [x, w, b])


def test_fc_keywords_and_out():
    out = nd.zeros((2, 3))
    r = nd.FullyConnected(data=nd.ones((2, 4)), weight=nd.ones((3, 4)), bias=nd.ones(3),
                          num_hidden=3, out=out, name="fwd")
    assert r is out and (out.asnumpy() == 5).all()


def test_fc_errors():
    with pytest.raises(ShapeError, match=r"FullyConnected: data of shape \(2, 5\) flattens to 5 "
                                         r"input features but the weight of shape \(3, 4\) "
                                         r"expects 4.*in_units=5"):
        nd.FullyConnected(nd.ones((2, 5)), nd.ones((3, 4)), nd.ones(3), num_hidden=3)
    with pytest.raises(ShapeError, match="has last dim 5.*flatten=False"):
        nd.FullyConnected(nd.ones((2, 3, 5)), nd.ones((3, 4)), no_bias=True, flatten=False)
    with pytest.raises(ShapeError, match="num_hidden=7"):
        nd.FullyConnected(nd.ones((2, 4)), nd.ones((3, 4)), nd.ones(3), num_hidden=7)
    with pytest.raises(ShapeError, match=r"bias must have shape \(3,\)"):
        nd.FullyConnected(nd.ones((2, 4)), nd.ones((3, 4)), nd.ones(2))
    with pytest.raises(HybridnetValueError, match="'bias' must be an NDArray"):
        nd.FullyConnected(nd.ones((2, 4)), nd.ones((3, 4)), num_hidden=3)
    with pytest.raises(HybridnetValueError, match="'weight' must be an NDArray"):
        nd.FullyConnected(nd.ones((2, 4)), None, no_bias=True)


def test_embedding_forward_and_repeated_index_grad():
    w = nd.array(rand(5, 3))
    idx = nd.array([[1, 4], [1, 1]])           # float indices like MXNet
    y = nd.Embedding(idx, w, input_dim=5, output_dim=3)
    assert y.shape == (2, 2, 3)
    assert_almost_equal(y, w.asnumpy()[[[1, 4], [1, 1]]])
    w.attach_grad()
    idx.attach_grad()
    g = rand(2, 2, 3)
    with autograd.record():
        y = nd.Embedding(idx, w, input_dim=5, output_dim=3)
    y.backward(nd.array(g))
    expect = np.zeros((5, 3))
    expect[1] = g[0, 0] + g[1, 0] + g[1, 1]
    expect[4] = g[0, 1]
    assert_almost_equal(w.grad, expect, rtol=1e-5, atol=1e-6)
    assert (idx.grad.asnumpy() == 0).all()     # no gradient to the indices


def test_embedding_numeric_grad_and_int_indices():
    idx = nd.array([0, 2, 2, 1], dtype="int32")
    check_numeric_gradient(lambda w: nd.Embedding(idx, w, input_dim=3, output_dim=2),
                           [rand(3, 2)])
    y = nd.Embedding(idx, nd.array(np.arange(6).reshape(3, 2)), input_dim=3, output_dim=2)
    assert y.asnumpy()[:, 0].tolist() == [0, 4, 4, 2]


def test_embedding_errors():
    w = nd.ones((4, 2))
    with pytest.raises(ShapeError, match=r"Embedding: index 4 is out of range for input_dim=4 "
                                         r"\(valid indices are 0..3\)"):
        nd.Embedding(nd.array([0, 4]), w, input_dim=4, output_dim=2)
    with pytest.raises(ShapeError, match="index -1 is out of range"):
        nd.Embedding(nd.array([-1]), w, input_dim=4, output_dim=2)
    with pytest.raises(ShapeError, match=r"weight shape \(4, 2\) does not match input_dim=5"):
        nd.Embedding(nd.array([0]), w, input_dim=5, output_dim=2)
