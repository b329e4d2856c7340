"""Ops' NumPy VJPs (``vjp_np``, used by plain eager backward) against their op VJPs."""
import numpy as np
import pytest

from hybridnet.ndarray.ndarray import wrap
from hybridnet.ops.registry import OPS

rng = np.random.default_rng(11)


def _r(*shape, dtype=np.float64):
    return rng.standard_normal(shape).astype(dtype)


# op name -> list of (input arrays, attrs)
CASES = {
    "_fully_connected": [
        ([_r(5, 4), _r(3, 4), _r(3)], {"num_hidden": 3, "flatten": True}),
        ([_r(5, 2, 2), _r(3, 4)], {"num_hidden": 3, "flatten": True}),
        ([_r(2, 5, 4), _r(3, 4), _r(3)], {"num_hidden": 0, "flatten": False}),
        ([_r(6, 4, dtype=np.float32), _r(3, 4, dtype=np.float32), _r(3, dtype=np.float32)],
         {"num_hidden": 3, "flatten": True}),
    ],
    "relu": [([_r(4, 5)], {}), ([_r(7, dtype=np.float32)], {})],
    "_softmax_ce_loss": [([_r(6, 5) * 3, np.array([0, 4, 2, 9, -1, 1.5])], {}),
                         ([_r(3, 2, dtype=np.float32), np.array([1, 0, 1], np.float32)], {})],
}


def test_every_op_with_vjp_np_is_checked_here():
    assert {op.name for op in OPS.values() if op.vjp_np is not None} == set(CASES)


def _case_ids():
    return [(n, i) for n, cases in CASES.items() for i in range(len(cases))]


@pytest.mark.parametrize("name,i", _case_ids())
def test_vjp_np_matches_vjp(name, i):
    op = OPS[name]
    arrays, attrs = CASES[name][i]
    out = op.forward(*arrays, **attrs)
    outs = out if isinstance(out, tuple) else (out,)
    gs = tuple(rng.standard_normal(o.shape).astype(o.dtype) for o in outs)
    n = len(arrays)
    # every input needed, then each one left out in turn
    for needs in [(True,) * n] + [tuple(j != k for j in range(n)) for k in range(n)]:
        kw = dict(attrs, needs_grad=needs) if op.vjp_needs else attrs
        ref = op.vjp(tuple(wrap(g) for g in gs) if len(gs) > 1 else wrap(gs[0]),
                     [wrap(a) for a in arrays],
                     tuple(wrap(o) for o in outs) if len(outs) > 1 else wrap(outs[0]), **kw)
        got = op.vjp_np(gs if len(gs) > 1 else gs[0], tuple(arrays), out, needs, None, **attrs)
        assert len(got) == len(ref) == n
        for k, (a, b) in enumerate(zip(got, ref)):
            if b is None:                       # labels, or skipped by needs_grad
                assert a is None
            elif a is None:                     # vjp_np may skip what is not needed
                assert not needs[k]
            else:
                assert a.shape == arrays[k].shape and a.dtype == b._data.dtype
                tol = 1e-12 if a.dtype == np.float64 else 2e-6
                np.testing.assert_allclose(a, b.asnumpy(), rtol=tol, atol=tol)


def test_fully_connected_vjp_np_writes_into_dest():
    op = OPS["_fully_connected"]
    x, w, b = _r(5, 4), _r(3, 4), _r(3)
    attrs = {"num_hidden": 3, "flatten": True}
    g = _r(5, 3)
    dw, db = np.empty_like(w), np.empty_like(b)
    gx, gw, gb = op.vjp_np(g, (x, w, b), None, (False, True, True), (None, dw, db), **attrs)
    assert gx is None and gw is dw and gb is db
    np.testing.assert_allclose(dw, g.T @ x, rtol=1e-12)
    np.testing.assert_allclose(db, g.sum(0), rtol=1e-12)
    # a buffer of another dtype is not used
    dw32 = np.empty(w.shape, np.float32)
    _, gw, _ = op.vjp_np(g, (x, w, b), None, (False, True, False), (None, dw32, None), **attrs)
    assert gw is not dw32 and gw.dtype == np.float64


def test_fully_connected_vjp_np_empty_batch():
    op = OPS["_fully_connected"]
    x, w, b, g = _r(0, 4), _r(3, 4), _r(3), _r(0, 3)
    gx, gw, gb = op.vjp_np(g, (x, w, b), None, (True, True, True), None, num_hidden=3,
                           flatten=True)
    assert gx.shape == (0, 4) and not gw.any() and gw.shape == (3, 4) and not gb.any()


def test_multi_output_vjp_np_takes_none_for_outputs_without_gradient():
    op = OPS["_softmax_ce_loss"]
    x, label = _r(4, 3), np.array([2, 0, 1, 1.0])
    loss, prob = op.forward(x, label)
    g = _r(4)
    full = op.vjp_np((g, np.zeros_like(prob)), (x, label), (loss, prob), (True, False), None)
    part = op.vjp_np((g, None), (x, label), (loss, prob), (True, False), None)
    np.testing.assert_array_equal(full[0], part[0])
    gp = _r(4, 3)
    only_prob = op.vjp_np((None, gp), (x, label), (loss, prob), (True, False), None)
    both = op.vjp_np((np.zeros(4), gp), (x, label), (loss, prob), (True, False), None)
    np.testing.assert_allclose(only_prob[0], both[0], rtol=1e-12, atol=1e-15)
