"""Every gluon.loss, eager vs hybridized (tests/_hybrid_check.py): outputs and gradients
w.r.t. predictions and labels, train and predict mode, with and without sample_weight.

``sample_weight`` is checked both positionally and as a keyword
(``loss(pred, label, sample_weight=w)``); both are traced as graph inputs.
"""
import numpy as np
import pytest

from hybridnet.gluon import loss as gloss

from _hybrid_check import check_hybrid


def _x(*shape, seed=0, low=None, high=None):
    rng = np.random.default_rng(seed)
    if low is None:
        return rng.standard_normal(shape).astype(np.float32)
    return rng.uniform(low, high, shape).astype(np.float32)


def _classes(n, k, seed=5):
    return np.random.default_rng(seed).integers(0, k, n).astype(np.float32)


def _signs(*shape, seed=6):
    return np.where(np.random.default_rng(seed).random(shape) < 0.5, -1.0, 1.0).astype(
        np.float32)


def _probs(*shape, seed=7):
    e = np.exp(_x(*shape, seed=seed))
    return (e / e.sum(axis=-1, keepdims=True)).astype(np.float32)


def _log_probs(*shape, seed=8):
    return np.log(_probs(*shape, seed=seed)).astype(np.float32)


SW = _x(3, 1, seed=9, low=0.5, high=2.0)       # one weight per sample, broadcast


def _sample_weight(name, pred):
    """One weight per sample, shaped to broadcast against the elementwise loss."""
    if name == "triplet" or name.startswith("ctc"):   # their loss is (N,) when weighted
        return SW.reshape(3)
    return SW.reshape((3,) + (1,) * (pred.ndim - 1))


def _positional(name, inputs):
    """``inputs`` + sample_weight in its positional slot."""
    if name == "ctc":
        inputs = inputs + [None]                   # label_lengths
    return inputs + [_sample_weight(name, inputs[0])]
# (id, factory, inputs without sample_weight, no_grad positions)
CASES = [
    # The label is reshaped to pred's shape (Gluon's _reshape_like).
    ("l2_label_reshaped", lambda: gloss.L2Loss(), [_x(3, 4), _x(3, 2, 2, seed=1)], ()),
    # weight is a constant of the graph (a literal in the kernel source, so each value
    # compiles new kernels): one weighted case, with a 3-D loss.
    ("l1_weight_3d", lambda: gloss.L1Loss(weight=0.5), [_x(3, 2, 2), _x(3, 2, 2, seed=1)], ()),
    ("softmax_ce_sparse", lambda: gloss.SoftmaxCrossEntropyLoss(),
     [_x(3, 5), _classes(3, 5)], (1,)),
    ("softmax_ce_sparse_axis1", lambda: gloss.SoftmaxCrossEntropyLoss(axis=1),
     [_x(3, 4, 2), np.array([[0, 3], [2, 2], [1, 0]], np.float32)], (1,)),
    ("softmax_ce_dense", lambda: gloss.SoftmaxCrossEntropyLoss(sparse_label=False),
     [_x(3, 5), _probs(3, 5)], ()),
    ("softmax_ce_from_logits", lambda: gloss.SoftmaxCrossEntropyLoss(from_logits=True),
     [_log_probs(3, 5), _classes(3, 5)], (1,)),
    ("softmax_ce_dense_from_logits",
     lambda: gloss.SoftmaxCrossEntropyLoss(sparse_label=False, from_logits=True),
     [_log_probs(3, 5), _probs(3, 5)], ()),
    ("sigmoid_bce_logits", lambda: gloss.SigmoidBinaryCrossEntropyLoss(),
     [_x(3, 4), _x(3, 4, seed=1, low=0, high=1)], ()),
    ("sigmoid_bce_from_sigmoid", lambda: gloss.SigmoidBinaryCrossEntropyLoss(from_sigmoid=True),
     [_x(3, 4, low=0.05, high=0.95), _x(3, 4, seed=1, low=0, high=1)], ()),
    ("kldiv_from_logits", lambda: gloss.KLDivLoss(), [_log_probs(3, 4), _probs(3, 4)], ()),
    ("kldiv_softmax", lambda: gloss.KLDivLoss(from_logits=False), [_x(3, 4), _probs(3, 4)], ()),
    ("huber", lambda: gloss.HuberLoss(), [_x(3, 4) * 2, _x(3, 4, seed=1)], ()),
    ("hinge", lambda: gloss.HingeLoss(), [_x(3, 4), _signs(3, 4)], ()),
    ("squared_hinge", lambda: gloss.SquaredHingeLoss(margin=0.5), [_x(3, 4), _signs(3, 4)], ()),
    ("logistic_signed", lambda: gloss.LogisticLoss(), [_x(3, 4), _signs(3, 4)], ()),
    ("logistic_binary", lambda: gloss.LogisticLoss(label_format="binary"),
     [_x(3, 4), (_signs(3, 4) > 0).astype(np.float32)], ()),
    ("triplet", lambda: gloss.TripletLoss(margin=0.5),
     [_x(3, 4), _x(3, 4, seed=1), _x(3, 4, seed=2)], ()),
    ("poisson_nll_logits", lambda: gloss.PoissonNLLLoss(),
     [_x(3, 4), _x(3, 4, seed=1, low=0, high=4)], ()),
    ("poisson_nll_rates_full", lambda: gloss.PoissonNLLLoss(from_logits=False,
                                                            compute_full=True),
     [_x(3, 4, low=0.2, high=3), np.array([[0, 1, 2, 3], [4, 0, 5, 2], [1, 3, 0, 6]],
                                          np.float32)], ()),
    ("cosine_embedding", lambda: gloss.CosineEmbeddingLoss(margin=0.1),
     [_x(3, 4), _x(3, 4, seed=1), _signs(3)], ()),
    ("sdml", lambda: gloss.SDMLLoss(), [_x(3, 4), _x(3, 4, seed=1)], ()),
    # Labels padded with -1, and each sequence's valid length (compile-heavy: one case).
    ("ctc", lambda: gloss.CTCLoss(),
     [_x(3, 4, 4), np.array([[0, 1, -1], [2, -1, -1], [1, 1, 2]], np.float32),
      np.array([4, 3, 4], np.float32)], (1, 2)),
]


def _first_case_of_each_loss():
    seen, out = set(), []
    for c in CASES:
        name = type(c[1]()).__name__
        if name not in seen and name != "SDMLLoss":   # SDMLLoss(x1, x2): no sample_weight
            seen.add(name)
            out.append(c)
    return out


# sample_weight is one more multiply in every loss: one configuration per loss class
# (each new graph costs Numba compiles).
SW_CASES = _first_case_of_each_loss()


@pytest.mark.parametrize("make,inputs,no_grad", [c[1:] for c in CASES],
                         ids=[c[0] for c in CASES])
def test_loss_eager_equals_hybridized(make, inputs, no_grad):
    check_hybrid(make(), inputs, no_grad=no_grad)


@pytest.mark.parametrize("name,make,inputs,no_grad", SW_CASES, ids=[c[0] for c in SW_CASES])
def test_loss_positional_sample_weight_hybridized(name, make, inputs, no_grad):
    check_hybrid(make(), _positional(name, inputs), no_grad=no_grad)


def test_sample_weight_shape_error_suggests_a_broadcastable_shape():
    from hybridnet import nd
    from hybridnet.base import ShapeError
    with pytest.raises(ShapeError, match=r"L1Loss: sample_weight of shape \(3, 1\) does not "
                       r"broadcast .* \(3, 2, 2\); e\.g\. use shape \(3, 1, 1\)"):
        gloss.L1Loss()(nd.ones((3, 2, 2)), nd.ones((3, 2, 2)), nd.ones((3, 1)))


@pytest.mark.parametrize("name,make,inputs,no_grad", SW_CASES, ids=[c[0] for c in SW_CASES])
def test_loss_keyword_sample_weight_hybridized(name, make, inputs, no_grad):
    check_hybrid(make(), inputs, kwargs={"sample_weight": _sample_weight(name, inputs[0])},
                 no_grad=no_grad)


def test_sigmoid_bce_pos_weight_positional():
    pos_weight = _x(1, 4, seed=3, low=0.5, high=3.0)
    check_hybrid(gloss.SigmoidBinaryCrossEntropyLoss(),
                 [_x(3, 4), _x(3, 4, seed=1, low=0, high=1), SW, pos_weight])


def test_loss_batch_axis_1():
    check_hybrid(gloss.L2Loss(batch_axis=1), [_x(4, 3), _x(4, 3, seed=1)])
    check_hybrid(gloss.SoftmaxCrossEntropyLoss(axis=0, batch_axis=1),
                 [_x(5, 3), _classes(3, 5)], no_grad=(1,))


def test_python_list_label_is_a_constant():
    """A label that is not an NDArray (a nested list) becomes a constant of the graph."""
    check_hybrid(gloss.HingeLoss(), [_x(3, 4), _signs(3, 4).tolist()])


def test_every_loss_is_covered():
    covered = {type(c[1]()).__name__ for c in CASES}
    public = {getattr(gloss, n).__name__ for n in gloss.__all__} - {"Loss"}
    assert public - covered == set()


def test_float16_loss_falls_back_with_one_warning_and_eager_answers():
    import warnings
    from hybridnet import autograd, nd
    rng = np.random.default_rng(0)
    pred, label = (rng.random((3, 4)).astype(np.float16) for _ in range(2))
    results = []
    for hybrid in (False, True):
        loss = gloss.L2Loss()
        loss.hybridize(active=hybrid)
        with warnings.catch_warnings(record=True) as caught:
            warnings.simplefilter("always")
            x = nd.array(pred, dtype="float16")
            x.attach_grad()
            with autograd.record():
                out = loss(x, nd.array(label, dtype="float16"))
            out.backward()
            plain = loss(x, nd.array(label, dtype="float16"))
        results.append((out.asnumpy(), x.grad.asnumpy(), plain.asnumpy()))
    for a, b in zip(*results):
        assert a.dtype == b.dtype == np.float16
        np.testing.assert_array_equal(a, b)
    msgs = [str(w.message) for w in caught if "hybridize" in str(w.message)]
    assert len(msgs) == 1, msgs
