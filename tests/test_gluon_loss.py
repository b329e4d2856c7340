"""Losses vs NumPy transcriptions of Gluon's formulas, with weight, sample_weight and
batch_axis; gradients vs finite differences; errors."""
import numpy as np
import pytest
from scipy.special import log_softmax as np_log_softmax

from hybridnet import autograd, nd
from hybridnet.base import HybridnetValueError, ShapeError
from hybridnet.gluon import loss as gloss
from hybridnet.test_utils import assert_almost_equal, check_numeric_gradient

rng = np.random.default_rng(4)


def rand(*shape):
    return rng.standard_normal(shape)


def softplus(x):
    return np.logaddexp(0, x)


def sigmoid(x):
    return 1 / (1 + np.exp(-x))


def batch_mean(x, axis=0):
    return np.moveaxis(x, axis, 0).reshape(x.shape[axis], -1).mean(axis=1)


# (loss, reference(pred, label) -> elementwise loss, label maker)
ELEMENTWISE = [
    (lambda: gloss.L2Loss(), lambda p, y: 0.5 * (y - p) ** 2, rand),
    (lambda: gloss.L2Loss(weight=3.0), lambda p, y: 1.5 * (y - p) ** 2, rand),
    (lambda: gloss.L1Loss(), lambda p, y: np.abs(y - p), rand),
    (lambda: gloss.HuberLoss(rho=0.7),
     lambda p, y: np.where(np.abs(y - p) > 0.7, np.abs(y - p) - 0.35, (y - p) ** 2 / 1.4), rand),
    (lambda: gloss.HingeLoss(margin=1.5), lambda p, y: np.maximum(0, 1.5 - p * y),
     lambda *s: np.sign(rand(*s))),
    (lambda: gloss.SquaredHingeLoss(), lambda p, y: np.maximum(0, 1 - p * y) ** 2,
     lambda *s: np.sign(rand(*s))),
    (lambda: gloss.LogisticLoss(), lambda p, y: np.log1p(np.exp(-p * y)),
     lambda *s: np.sign(rand(*s))),
    (lambda: gloss.LogisticLoss(label_format="binary"),
     lambda p, y: np.log1p(np.exp(-p * (2 * y - 1))),
     lambda *s: (rand(*s) > 0).astype(float)),
    (lambda: gloss.SigmoidBinaryCrossEntropyLoss(),
     lambda p, y: -(y * np.log(sigmoid(p)) + (1 - y) * np.log(1 - sigmoid(p))),
     lambda *s: rng.uniform(0, 1, s)),
    (lambda: gloss.SigmoidBCELoss(from_sigmoid=True),
     lambda p, y: -(y * np.log(p + 1e-12) + (1 - y) * np.log(1 - p + 1e-12)),
     lambda *s: rng.uniform(0, 1, s)),
]


def _pred_for(make):
    loss = make()
    if getattr(loss, "_from_sigmoid", False):
        return lambda *s: rng.uniform(0.05, 0.95, s)
    return rand


@pytest.mark.parametrize("make,ref,label", ELEMENTWISE)
def test_elementwise_losses(make, ref, label):
    pred, y = _pred_for(make)(4, 3, 2), label(4, 3, 2)
    pred[np.abs(np.abs(pred * y) - 1) < 1e-3] += 0.1      # keep hinge kinks away
    lossfn = make()
    out = lossfn(nd.array(pred), nd.array(y))
    assert out.shape == (4,)
    assert_almost_equal(out, batch_mean(ref(pred, y)).astype(np.float32), rtol=1e-5, atol=1e-6)
    # sample_weight broadcasts against the elementwise loss; label may have another shape.
    sw = rng.uniform(0, 2, (4, 1, 1))
    out = lossfn(nd.array(pred), nd.array(y.reshape(4, 6)), nd.array(sw))
    assert_almost_equal(out, batch_mean(ref(pred, y) * sw).astype(np.float32), rtol=1e-5,
                        atol=1e-6)
    check_numeric_gradient(lambda p: lossfn(p, nd.array(y, dtype="float64")), [pred],
                           rtol=1e-5, atol=1e-8)


def test_batch_axis():
    pred, y = rand(3, 5), rand(3, 5)
    out = gloss.L1Loss(batch_axis=1)(nd.array(pred), nd.array(y))
    assert_almost_equal(out, np.abs(pred - y).mean(axis=0).astype(np.float32), rtol=1e-5)
    out1d = gloss.L2Loss()(nd.array(pred[0]), nd.array(y[0]))
    assert_almost_equal(out1d, (0.5 * (pred[0] - y[0]) ** 2).astype(np.float32), rtol=1e-5)


def test_sigmoid_bce_pos_weight_and_stability():
    pred, y = rand(4, 3) * 3, rng.uniform(0, 1, (4, 3))
    pw = rng.uniform(0.5, 3, (1, 3))
    lossfn = gloss.SigmoidBinaryCrossEntropyLoss()
    ref = -(y * np.log(sigmoid(pred)) * pw + (1 - y) * np.log(1 - sigmoid(pred)))
    out = lossfn(nd.array(pred), nd.array(y), None, nd.array(pw))
    assert_almost_equal(out, ref.mean(axis=1).astype(np.float32), rtol=1e-5, atol=1e-6)
    check_numeric_gradient(lambda p: lossfn(p, nd.array(y, dtype="float64"), None,
                                            nd.array(pw, dtype="float64")), [pred])
    sig = gloss.SigmoidBCELoss(from_sigmoid=True)
    prob = sigmoid(pred)
    out = sig(nd.array(prob), nd.array(y), None, nd.array(pw))
    ref = -(y * np.log(prob + 1e-12) * pw + (1 - y) * np.log(1 - prob + 1e-12))
    assert_almost_equal(out, ref.mean(axis=1).astype(np.float32), rtol=1e-4, atol=1e-5)
    big = lossfn(nd.array([[200.0, -200.0]]), nd.array([[0.0, 1.0]]))
    assert_almost_equal(big, np.array([200.0], np.float32))      # no overflow to inf


@pytest.mark.parametrize("axis", [-1, 1])
def test_softmax_ce_sparse(axis):
    pred = rand(4, 5, 3) if axis == 1 else rand(4, 5)
    ncls = pred.shape[axis]
    lshape = tuple(s for i, s in enumerate(pred.shape) if i != axis % pred.ndim)
    label = rng.integers(0, ncls, lshape).astype(float)
    lossfn = gloss.SoftmaxCrossEntropyLoss(axis=axis)
    logp = np_log_softmax(pred, axis=axis)
    picked = np.take_along_axis(logp, np.expand_dims(label.astype(int), axis), axis=axis)
    out = lossfn(nd.array(pred), nd.array(label))
    assert_almost_equal(out, batch_mean(-picked).astype(np.float32), rtol=1e-5, atol=1e-6)
    check_numeric_gradient(lambda p: lossfn(p, nd.array(label, dtype="float64")), [pred])
    sw = rng.uniform(0, 2, (4, 1) + (() if axis == -1 else (1,)))
    out = gloss.SoftmaxCELoss(axis=axis, weight=0.5)(nd.array(pred), nd.array(label),
                                                     nd.array(sw))
    assert_almost_equal(out, batch_mean(-picked * sw * 0.5).astype(np.float32), rtol=1e-5,
                        atol=1e-6)


def test_softmax_ce_dense_label_and_from_logits():
    pred = rand(4, 5)
    dist = rng.dirichlet(np.ones(5), 4)
    logp = np_log_softmax(pred, axis=-1)
    out = gloss.SoftmaxCrossEntropyLoss(sparse_label=False)(nd.array(pred), nd.array(dist))
    assert_almost_equal(out, -(dist * logp).sum(axis=1).astype(np.float32), rtol=1e-5,
                        atol=1e-6)
    label = np.array([0, 3, 1, 4.0])
    out = gloss.SoftmaxCrossEntropyLoss(from_logits=True)(nd.array(logp), nd.array(label))
    assert_almost_equal(out, -logp[np.arange(4), label.astype(int)].astype(np.float32),
                        rtol=1e-5, atol=1e-6)
    lossfn = gloss.SoftmaxCrossEntropyLoss(sparse_label=False)
    check_numeric_gradient(lambda p: lossfn(p, nd.array(dist, dtype="float64")), [pred])
    # A (N, 1) label works like (N,), as in Gluon code that keeps labels 2-D.
    out = gloss.SoftmaxCELoss()(nd.array(pred), nd.array(label.reshape(4, 1)))
    assert_almost_equal(out, -logp[np.arange(4), label.astype(int)].astype(np.float32),
                        rtol=1e-5, atol=1e-6)


def test_kldiv_loss_sums():
    pred, label = rand(3, 4), rng.dirichlet(np.ones(4), 3)
    logp = np_log_softmax(pred, axis=-1)
    ref = (label * (np.log(label + 1e-12) - logp)).sum(axis=1)
    out = gloss.KLDivLoss()(nd.array(logp), nd.array(label))
    assert_almost_equal(out, ref.astype(np.float32), rtol=1e-5, atol=1e-6)
    lossfn = gloss.KLDivLoss(from_logits=False)
    assert_almost_equal(lossfn(nd.array(pred), nd.array(label)), ref.astype(np.float32),
                        rtol=1e-5, atol=1e-6)
    check_numeric_gradient(lambda p: lossfn(p, nd.array(label, dtype="float64")), [pred])


def test_triplet_loss():
    a, p, n = rand(4, 3), rand(4, 3), rand(4, 3)
    lossfn = gloss.TripletLoss(margin=0.5)
    ref = np.maximum(((p - a) ** 2 - (n - a) ** 2).sum(axis=1) + 0.5, 0)
    assert_almost_equal(lossfn(nd.array(a), nd.array(p), nd.array(n)), ref.astype(np.float32),
                        rtol=1e-5, atol=1e-6)
    check_numeric_gradient(lambda x, y, z: lossfn(x, y, z), [a, p, n])


def test_cosine_embedding_loss():
    x1, x2 = rand(4, 3), rand(4, 3)
    label = np.array([1, -1, 1, -1.0])
    cos = (x1 * x2).sum(1) / (np.linalg.norm(x1, axis=1) * np.linalg.norm(x2, axis=1))
    ref = np.where(label == 1, 1 - cos, np.maximum(0, cos - 0.1))
    lossfn = gloss.CosineEmbeddingLoss(margin=0.1)
    out = lossfn(nd.array(x1), nd.array(x2), nd.array(label))
    assert_almost_equal(out, ref.astype(np.float32), rtol=1e-5, atol=1e-6)
    sw = rng.uniform(0, 2, (4, 1))
    out = lossfn(nd.array(x1), nd.array(x2), nd.array(label), nd.array(sw))
    assert_almost_equal(out, (ref * sw[:, 0]).astype(np.float32), rtol=1e-5, atol=1e-6)
    check_numeric_gradient(lambda a, b: lossfn(a, b, nd.array(label, dtype="float64")),
                           [x1, x2])


def test_poisson_nll_loss():
    pred, target = rand(3, 4), rng.poisson(2.0, (3, 4)).astype(float)
    out = gloss.PoissonNLLLoss()(nd.array(pred), nd.array(target))
    assert_almost_equal(out, np.array([(np.exp(pred) - target * pred).mean()], np.float32),
                        rtol=1e-5)
    rate = np.exp(pred)
    full = gloss.PoissonNLLLoss(from_logits=False, compute_full=True)
    stirling = np.where(target > 1, target * np.log(np.maximum(target, 1)) - target +
                        0.5 * np.log(2 * np.pi * np.maximum(target, 1)), 0)
    ref = (rate - target * np.log(rate + 1e-8) + stirling).mean()
    assert_almost_equal(full(nd.array(rate), nd.array(target)), np.array([ref], np.float32),
                        rtol=1e-5)


def test_loss_gradient_through_network_and_weight():
    x = nd.array(rand(4, 3))
    x.attach_grad()
    with autograd.record():
        out = gloss.L2Loss(weight=2.0)(x, nd.zeros((4, 3)))
    out.backward()
    assert_almost_equal(x.grad, 2.0 * x.asnumpy() / 3, rtol=1e-5)


def test_reprs():
    assert repr(gloss.L2Loss()) == "L2Loss(batch_axis=0, w=1.0)"
    assert repr(gloss.SoftmaxCrossEntropyLoss()) == "SoftmaxCrossEntropyLoss(batch_axis=0, w=None)"


def test_loss_errors():
    with pytest.raises(ShapeError, match=r"L2Loss: label of shape \(4, 2\) \(8 elements\) does "
                                         r"not match pred of shape \(4, 3\)"):
        gloss.L2Loss()(nd.ones((4, 3)), nd.ones((4, 2)))
    with pytest.raises(ShapeError, match=r"SoftmaxCrossEntropyLoss: with sparse_label=True the "
                                         r"label must hold one class index per sample, shape "
                                         r"\(4,\).*got \(4, 3\).*sparse_label=False"):
        gloss.SoftmaxCrossEntropyLoss()(nd.ones((4, 3)), nd.ones((4, 3)))
    with pytest.raises(ShapeError, match=r"L1Loss: sample_weight of shape \(3,\) does not "
                                         r"broadcast to the elementwise loss of shape \(4, 2\)"):
        gloss.L1Loss()(nd.ones((4, 2)), nd.ones((4, 2)), nd.ones((3,)))
    with pytest.raises(HybridnetValueError, match="LogisticLoss: label_format must be 'signed' "
                                                  "or 'binary', got 'sign'"):
        gloss.LogisticLoss(label_format="sign")
    with pytest.raises(HybridnetValueError, match="HingeLoss: weight must be a number or None"):
        gloss.HingeLoss(weight="2")


def test_sdml_loss():
    x1, x2 = rng.random((4, 3)), rng.random((4, 3))
    d = ((x1[:, None] - x2[None]) ** 2).sum(-1)
    logp = np_log_softmax(-d, axis=1)
    labels = np.where(np.eye(4) == 1, 0.7, 0.1)
    ref = (labels * (np.log(labels + 1e-12) - logp)).sum(1)
    lossfn = gloss.SDMLLoss()
    assert_almost_equal(lossfn(nd.array(x1), nd.array(x2)), ref.astype(np.float32), rtol=1e-5,
                        atol=1e-6)
    check_numeric_gradient(lambda a, b: lossfn(a, b), [x1, x2])
    with pytest.raises(ShapeError, match="SDMLLoss: x1 and x2 must both be"):
        lossfn(nd.ones((4, 3)), nd.ones((3, 3)))


def _ctc_brute_force(logits, label):
    """-log sum over every path (C**T of them) that collapses to ``label``; blank = C-1."""
    import itertools
    t_len, c = logits.shape
    logp = np_log_softmax(logits, axis=1)
    total = 0.0
    for path in itertools.product(range(c), repeat=t_len):
        collapsed = [k for i, k in enumerate(path) if (i == 0 or k != path[i - 1])]
        if [k for k in collapsed if k != c - 1] == list(label):
            total += np.exp(sum(logp[i, k] for i, k in enumerate(path)))
    return -np.log(total)


def test_ctc_loss_vs_path_enumeration():
    t_len, c = 5, 3
    pred = rand(3, t_len, c)                               # NTC
    labels = [[0, 1], [1, 1], [0]]
    padded = np.array([lab + [-1] * (2 - len(lab)) for lab in labels], dtype=float)
    ref = np.array([_ctc_brute_force(pred[i], labels[i]) for i in range(3)])
    lossfn = gloss.CTCLoss()
    assert_almost_equal(lossfn(nd.array(pred), nd.array(padded)), ref.astype(np.float32),
                        rtol=1e-5, atol=1e-5)
    # TNC layout, explicit label lengths and shorter predictions.
    tnc = gloss.CTCLoss(layout="TNC", weight=2.0)
    lens = np.array([5, 4, 3.0])
    ref_len = np.array([_ctc_brute_force(pred[i, :int(lens[i])], labels[i]) for i in range(3)])
    out = tnc(nd.array(pred.transpose(1, 0, 2)), nd.array(np.where(padded < 0, 0, padded)),
              nd.array(lens), nd.array([2, 2, 1.0]))
    assert_almost_equal(out, (2 * ref_len).astype(np.float32), rtol=1e-5, atol=1e-5)
    check_numeric_gradient(lambda p: lossfn(p, nd.array(padded, dtype="float64")), [pred],
                           rtol=1e-5, atol=1e-7)


def test_ctc_loss_errors():
    with pytest.raises(HybridnetValueError, match="CTCLoss: layout must be 'NTC' or 'TNC'"):
        gloss.CTCLoss(layout="NCT")
    with pytest.raises(ShapeError, match=r"CTCLoss: label must be \(batch, label_length\) in "
                                         r"layout NT for a batch of 2, got shape \(3, 2\)"):
        gloss.CTCLoss()(nd.ones((2, 4, 3)), nd.ones((3, 2)))


# ---- the eager fused softmax cross-entropy (one op instead of log_softmax/pick/mean) -------
def _composite_ce(pred, label, weight=None):
    """The general path of SoftmaxCrossEntropyLoss, op by op."""
    loss = -nd.pick(nd.log_softmax(pred, axis=-1), label, axis=-1, keepdims=True)
    loss = loss * weight if weight is not None else loss
    return nd.mean(loss, axis=1)


def test_softmax_ce_eager_fused_op_is_used_and_matches_composite(monkeypatch):
    from hybridnet.ops.registry import OPS
    seen = []
    op = OPS["_softmax_ce_loss"]
    orig = op.forward
    monkeypatch.setattr(op, "forward", lambda *a: (seen.append(1), orig(*a))[1])
    for dtype in ("float32", "float64"):
        ulps = 4 * np.finfo(dtype).eps
        pred = nd.array(rand(6, 5) * 4, dtype=dtype)
        label = nd.array([0, 4, 2, 9, -3, 1.7])       # out of range clips, floats truncate
        for weight in (None, 0.5):
            out = gloss.SoftmaxCrossEntropyLoss(weight=weight)(pred, label)
            ref = _composite_ce(pred, label, weight)
            assert out.shape == (6,) and out.dtype == ref.dtype
            # the same arithmetic; exp/log from the C library (Numba) vs NumPy's: ~1 ulp
            np.testing.assert_allclose(out.asnumpy(), ref.asnumpy(), rtol=ulps, atol=0)
        out = gloss.SoftmaxCELoss()(pred, label.reshape((6, 1)))           # (N, 1) labels
        np.testing.assert_allclose(out.asnumpy(), _composite_ce(pred, label).asnumpy(),
                                   rtol=ulps, atol=0)
    assert len(seen) == 6


def test_softmax_ce_eager_fused_gradients():
    pred = rand(5, 4) * 3
    label = np.array([0, 3, 1, 7, -1.0])              # includes clipped labels
    lossfn = gloss.SoftmaxCrossEntropyLoss(weight=0.7)
    check_numeric_gradient(lambda p: lossfn(p, nd.array(label, dtype="float64")), [pred])
    # the same gradient as the composite, with a head gradient, in float32
    hg = nd.array(rng.uniform(0.5, 1.5, 5))
    grads = []
    for f in (lambda p: lossfn(p, nd.array(label)),
              lambda p: _composite_ce(p, nd.array(label), 0.7)):
        p = nd.array(pred)
        p.attach_grad()
        with autograd.record():
            out = f(p)
        out.backward(hg)
        grads.append(p.grad.asnumpy())
    assert_almost_equal(grads[0], grads[1], rtol=1e-6, atol=1e-7)


def test_softmax_ce_eager_fused_second_order():
    """create_graph=True differentiates through the loss's gradient (composite ops)."""
    pred = rand(4, 3)
    label = nd.array([2, 0, 1, 1.0])
    hess = []
    for f in (lambda p: gloss.SoftmaxCrossEntropyLoss()(p, label),
              lambda p: _composite_ce(p, label)):
        p = nd.array(pred, dtype="float64")
        p.attach_grad()
        with autograd.record():
            (g,) = autograd.grad(f(p), [p], create_graph=True)
            z = (g * g).sum()
        z.backward()
        hess.append((g.asnumpy(), p.grad.asnumpy()))
    assert_almost_equal(hess[0][0], hess[1][0], rtol=1e-12, atol=1e-14)
    assert_almost_equal(hess[0][1], hess[1][1], rtol=1e-10, atol=1e-12)
    assert np.abs(hess[0][1]).max() > 1e-3


def test_softmax_ce_loss_op_probability_output():
    """The op's second output is softmax(data); gradients through it are exact too."""
    from hybridnet.ndarray.ndarray import invoke
    from hybridnet.ops.registry import OPS
    pred = rand(4, 5)
    label = np.array([1, 0, 4, 2.0])
    sm = np.exp(pred - pred.max(1, keepdims=True))
    sm /= sm.sum(1, keepdims=True)
    loss, prob = invoke(OPS["_softmax_ce_loss"], (nd.array(pred, dtype="float64"),
                                                   nd.array(label, dtype="float64")))
    assert_almost_equal(prob, sm, rtol=1e-12, atol=1e-14)
    assert_almost_equal(loss, -np.log(sm[np.arange(4), label.astype(int)]), rtol=1e-12)
    w = rng.uniform(0.5, 1.5, (4, 5))

    def both(p):
        lo, pr = invoke(OPS["_softmax_ce_loss"], (p, nd.array(label, dtype="float64")))
        return lo.reshape((4, 1)) * 2.0 + pr * nd.array(w)
    check_numeric_gradient(both, [pred])
    # and under create_graph (the composite branch of the vjp)
    p = nd.array(pred, dtype="float64")
    p.attach_grad()
    with autograd.record():
        (g1,) = autograd.grad(both(p), [p], create_graph=True)
    with autograd.record():
        out = both(p)
    out.backward()
    assert_almost_equal(g1, p.grad, rtol=1e-12, atol=1e-14)


def test_fused_ce_op_names_itself_and_the_shapes_on_bad_input():
    import pytest as _pytest
    from hybridnet import nd as _nd
    from hybridnet.base import ShapeError
    from hybridnet.ops._util import call
    with _pytest.raises(ShapeError, match=r"_softmax_ce_loss: expected data \(N, C\) and "
                                          r"label \(N,\), got data \(2, 3\) and label \(3,\)"):
        call("_softmax_ce_loss", _nd.ones((2, 3)), _nd.ones((3,)))
