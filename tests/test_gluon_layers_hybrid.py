"""Every layer run eagerly and hybridized gives the same outputs, input gradients and
parameter gradients (MXNet's check_layer_forward), including BatchNorm's running stats."""
import numpy as np
import pytest

import hybridnet as mx
from hybridnet import autograd, nd
from hybridnet.gluon import nn, rnn
from hybridnet.test_utils import assert_almost_equal

LAYERS = [
    (lambda: nn.Dense(4, activation="relu"), (3, 5)),
    (lambda: nn.Dense(3, flatten=False, use_bias=False), (2, 3, 4)),
    (lambda: nn.Conv1D(3, 3, padding=1, groups=1), (2, 2, 6)),
    (lambda: nn.Conv2D(4, 3, padding=1, strides=2), (2, 3, 5, 5)),
    (lambda: nn.Conv2DTranspose(2, 3, strides=2, output_padding=1), (2, 3, 3, 3)),
    (lambda: nn.MaxPool2D(3, 2, 1, ceil_mode=True), (2, 3, 5, 5)),
    (lambda: nn.AvgPool1D(3, 2, 1, count_include_pad=False), (2, 3, 7)),
    (lambda: nn.GlobalMaxPool1D(), (2, 3, 5)),
    (lambda: nn.GlobalAvgPool2D(), (2, 3, 4, 4)),
    (lambda: nn.BatchNorm(), (4, 3, 2)),
    (lambda: nn.LayerNorm(), (4, 3)),
    (lambda: nn.InstanceNorm(scale=True), (4, 3, 5)),
    (lambda: nn.GroupNorm(2), (2, 4, 3)),
    (lambda: nn.BatchNormReLU(), (4, 3)),
    (lambda: nn.Conv3D(2, 2, padding=1), (1, 2, 3, 3, 2)),
    (lambda: nn.AvgPool3D(), (1, 2, 4, 4, 2)),
    (lambda: nn.Embedding(6, 3), None),
    (lambda: nn.Flatten(), (4, 3, 2)),
    (lambda: nn.HybridLambda(lambda F, x: F.tanh(x) * 2), (4, 3)),
    (lambda: nn.Activation("softrelu"), (4, 3)),
    (lambda: nn.LeakyReLU(0.1), (4, 3)),
    (lambda: nn.PReLU(in_channels=3), (4, 3)),
    (lambda: nn.ELU(0.5), (4, 3)),
    (lambda: nn.SELU(), (4, 3)),
    (lambda: nn.GELU(), (4, 3)),
    (lambda: nn.Swish(2.0), (4, 3)),
    (lambda: rnn.LSTM(3, num_layers=2, bidirectional=True), (4, 2, 3)),
    (lambda: rnn.GRU(3, layout="NTC"), (2, 4, 3)),
    (lambda: rnn.RNN(3, activation="tanh"), (4, 2, 3)),
]


def _run(net, x, train):
    xi = nd.array(x)
    float_input = x.dtype.kind == "f"
    if float_input:
        xi.attach_grad()
    with autograd.record(train_mode=train):
        y = net(xi)
    y.backward(nd.array(np.linspace(0.5, 1.5, y.size).reshape(y.shape)))
    grads = {k: p.grad().asnumpy() for k, p in net.collect_params().items()
             if p.grad_req != "null"}
    stats = {k: p.data().asnumpy() for k, p in net.collect_params().items()
             if p.grad_req == "null"}
    return y.asnumpy(), xi.grad.asnumpy() if float_input else None, grads, stats


@pytest.mark.parametrize("make,shape", LAYERS)
def test_hybridized_matches_eager(make, shape):
    rng = np.random.default_rng(5)
    x = rng.integers(0, 6, (2, 4)).astype(np.float32) if shape is None else \
        rng.standard_normal(shape).astype(np.float32)
    eager, hybrid = make(), make()
    mx.random.seed(0)
    eager.initialize(mx.init.Uniform(0.5))
    eager(nd.array(x))
    hybrid.initialize()
    hybrid(nd.array(x))
    for k, p in eager.collect_params().items():
        hybrid.collect_params()[k].set_data(p.data())
    hybrid.hybridize()
    for train in (True, False):
        a, b = _run(eager, x, train), _run(hybrid, x, train)
        assert_almost_equal(b[0], a[0], rtol=1e-5, atol=1e-5, names=("hybridized", "eager"))
        if a[1] is not None:
            assert_almost_equal(b[1], a[1], rtol=1e-5, atol=1e-5,
                                names=("hybridized input grad", "eager"))
        for k in a[2]:
            assert_almost_equal(b[2][k], a[2][k], rtol=1e-5, atol=1e-5,
                                names=(f"hybridized grad {k}", "eager"))
        for k in a[3]:                                 # BatchNorm's running statistics
            assert_almost_equal(b[3][k], a[3][k], rtol=1e-5, atol=1e-6,
                                names=(f"hybridized {k}", "eager"))


def test_hybridized_dropout_masks_in_training_only():
    net = nn.HybridSequential()
    net.add(nn.Dense(8, in_units=4), nn.Dropout(0.5))
    net.initialize()
    net.hybridize()
    x = nd.ones((64, 4))
    assert_almost_equal(net(x), net[0](x).asnumpy())
    with autograd.record():
        y = net(x).asnumpy()
    dense = net[0](x).asnumpy()
    kept = y != 0
    assert 0.3 < kept.mean() < 0.7
    assert_almost_equal(y[kept], 2 * dense[kept], rtol=1e-5, atol=1e-6)


def _copy_params(src, dst):
    for k, p in src.collect_params().items():
        dst.collect_params()[k].set_data(p.data())


def test_hybridized_rnn_layer_with_states_matches_eager():
    x = nd.array(np.random.default_rng(6).standard_normal((5, 2, 3)))
    eager = rnn.LSTM(4, num_layers=2, bidirectional=True, input_size=3)
    eager.initialize(mx.init.Uniform(0.5))
    hybrid = rnn.LSTM(4, num_layers=2, bidirectional=True, input_size=3)
    hybrid.initialize()
    _copy_params(eager, hybrid)
    hybrid.hybridize()
    begin = [s + 0.5 for s in eager.begin_state(2)]
    (a, sa), (b, sb) = eager(x, begin), hybrid(x, begin)
    assert isinstance(sb, list) and len(sb) == 2
    assert_almost_equal(b, a.asnumpy(), rtol=1e-5, atol=1e-6)
    for u, v in zip(sb, sa):
        assert_almost_equal(u, v.asnumpy(), rtol=1e-5, atol=1e-6)


@pytest.mark.parametrize("make", [lambda: rnn.GRUCell(3, input_size=2),
                                  lambda: rnn.LSTMCell(3, input_size=2),
                                  lambda: rnn.ResidualCell(rnn.RNNCell(2, input_size=2))])
def test_hybridized_cells_step_and_unroll_match_eager(make):
    x = nd.array(np.random.default_rng(7).standard_normal((2, 4, 2)))
    eager, hybrid = make(), make()
    eager.initialize(mx.init.Uniform(0.5))
    hybrid.initialize()
    _copy_params(eager, hybrid)
    hybrid.hybridize()
    (a, sa), (b, sb) = (c(x[:, 0], c.begin_state(batch_size=2)) for c in (eager, hybrid))
    assert_almost_equal(b, a.asnumpy(), rtol=1e-5, atol=1e-6)
    assert isinstance(sb, list) and len(sb) == len(sa)
    a, _ = eager.unroll(4, x, merge_outputs=True)
    b, _ = hybrid.unroll(4, x, merge_outputs=True)
    assert_almost_equal(b, a.asnumpy(), rtol=1e-5, atol=1e-6)
