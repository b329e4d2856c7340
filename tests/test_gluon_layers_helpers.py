"""Shared checks for the layer tests: float64 gradients of a layer's inputs and parameters
against central finite differences (no tests in this module)."""
import numpy as np

import hybridnet as mx
from hybridnet import autograd, nd
from hybridnet.test_utils import assert_almost_equal, numeric_grad


def as64(*arrays):
    return [nd.array(np.asarray(a, dtype=np.float64), dtype="float64") for a in arrays]


def check_layer_grads(layer, inputs, rtol=1e-5, atol=1e-7, train=False, grad_inputs=None,
                      eps=1e-6, seed=0):
    """Check d sum(layer(*inputs) * w)/d(inputs and trainable params) against numbers.

    The layer must already be initialized and shaped; it is cast to float64 here.
    ``train=True`` evaluates in training mode (e.g. BatchNorm with batch statistics).
    ``grad_inputs`` selects the differentiable inputs (default: all float inputs).
    """
    layer.cast("float64")
    xs = [np.asarray(x.asnumpy() if hasattr(x, "asnumpy") else x) for x in inputs]
    xs = [x.astype(np.float64) if np.issubdtype(x.dtype, np.floating) else x for x in xs]
    which = [i for i, x in enumerate(xs) if np.issubdtype(x.dtype, np.floating)] \
        if grad_inputs is None else list(grad_inputs)
    scope = autograd.train_mode if train else autograd.predict_mode

    def run(arrays):
        with scope():
            out = layer(*arrays)
        return out[0] if isinstance(out, (tuple, list)) else out

    probe = run([nd.array(x, dtype=x.dtype) for x in xs])
    w = np.random.default_rng(seed).uniform(0.5, 1.5, probe.shape)

    def scalar_of(arrays):
        return float((run(arrays).asnumpy() * w).sum())

    arrays = [nd.array(x, dtype=x.dtype) for x in xs]
    for i in which:
        arrays[i].attach_grad()
    params = {k: p for k, p in layer.collect_params().items() if p.grad_req != "null"}
    with autograd.record(train_mode=train):
        out = layer(*arrays)
        out = out[0] if isinstance(out, (tuple, list)) else out
    out.backward(nd.array(w, dtype="float64"))

    for i in which:
        def f(xi, i=i):
            ys = [nd.array(x, dtype=x.dtype) for x in xs]
            ys[i] = nd.array(xi, dtype="float64")
            return scalar_of(ys)
        (num,) = numeric_grad(f, [xs[i]], eps)
        assert_almost_equal(arrays[i].grad, num, rtol=rtol, atol=atol,
                            names=(f"grad of input {i}", "numeric"))
    for name, p in params.items():
        analytic = p.grad().asnumpy().copy()
        base = p.data().asnumpy().copy()

        def g(v, p=p):
            p.set_data(nd.array(v, dtype="float64"))
            return scalar_of([nd.array(x, dtype=x.dtype) for x in xs])
        (num,) = numeric_grad(g, [base], eps)
        p.set_data(nd.array(base, dtype="float64"))
        assert_almost_equal(analytic, num, rtol=rtol, atol=atol,
                            names=(f"grad of {name}", "numeric"))
    return params


def init_layer(layer, *inputs, init=None):
    """Initialize ``layer`` and run it once so deferred shapes are known."""
    layer.initialize(init if init is not None else mx.init.Uniform(0.5))
    layer(*inputs)
    return layer
