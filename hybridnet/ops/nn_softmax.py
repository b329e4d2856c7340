"""softmax, log_softmax, SoftmaxOutput and softmax_cross_entropy (numerically stable).

``softmax``/``log_softmax`` VJPs are written with primitive ops (fusable into
row-wise loops). ``SoftmaxOutput`` is MXNet's loss layer: its forward is a
softmax and its gradient ignores the head gradient (unless ``out_grad``):
``(softmax - one_hot(label)) * grad_scale``, normalized per ``normalization``.
"""
import numpy as np

from ..base import HybridnetValueError, ShapeError
from ._util import call
from .nn_common import check_kwargs, check_nd, finish
from .nn_rows_kernels import log_softmax_kernel, softmax_kernel
from .registry import Op, frontend, register


def _scaled(data, temperature):
    return data if temperature is None or temperature == 1.0 else data / data.dtype.type(
        temperature)


def _softmax_np(x, axis):
    e = np.exp(x - x.max(axis=axis, keepdims=True))
    e /= e.sum(axis=axis, keepdims=True)
    return e


def _log_softmax_np(x, axis):
    z = x - x.max(axis=axis, keepdims=True)
    return z - np.log(np.exp(z).sum(axis=axis, keepdims=True))


def _softmax(data, axis=-1, temperature=None):
    """``exp(x / T) / sum(exp(x / T), axis)``, computed after subtracting the max."""
    return _softmax_np(_scaled(data, temperature), axis).astype(data.dtype, copy=False)


def _softmax_vjp(g, ins, out, axis=-1, temperature=None):
    gy = g * out
    dx = gy - out * call("sum", gy, axis=axis, keepdims=True)
    return (dx if temperature is None or temperature == 1.0 else dx * (1.0 / temperature),)


def _log_softmax(data, axis=-1, temperature=None):
    """``log(softmax(data, axis, temperature))`` without overflow or log(0)."""
    return _log_softmax_np(_scaled(data, temperature), axis).astype(data.dtype, copy=False)


def _log_softmax_vjp(g, ins, out, axis=-1, temperature=None):
    dx = g - call("exp", out) * call("sum", g, axis=axis, keepdims=True)
    return (dx if temperature is None or temperature == 1.0 else dx * (1.0 / temperature),)


def _same_rule(shapes, dtypes, **attrs):
    return [(tuple(shapes[0]), np.dtype(dtypes[0]))]


register(Op("softmax", "opaque", _softmax, _softmax_vjp, _same_rule, kernel=softmax_kernel))
register(Op("log_softmax", "opaque", _log_softmax, _log_softmax_vjp, _same_rule,
            kernel=log_softmax_kernel))


def _softmax_frontend(name, doc):
    def fn(data=None, axis=-1, temperature=None, dtype=None, use_length=False, out=None,
           **kwargs):
        check_kwargs(name, kwargs)
        check_nd(name, data=data)
        if use_length:
            raise HybridnetValueError(f"{name}: use_length=True is not supported; mask the "
                                      "padded positions with nd.where before the softmax")
        t = None if temperature is None or float(temperature) == 1.0 else float(temperature)
        res = call(name, data, axis=int(axis), temperature=t)
        if dtype is not None:
            res = res.astype(dtype)
        return finish(res, out)
    fn.__name__ = fn.__qualname__ = name
    fn.__doc__ = doc
    return frontend(name)(fn)


softmax = _softmax_frontend("softmax", """Softmax along ``axis``: ``exp(x/T) / sum(exp(x/T))``.

    Parameters
    ----------
    data : NDArray
    axis : int, default -1
    temperature : float, optional
        Divides the input first (default 1).
    dtype : str, optional
        Output dtype.
    """)
log_softmax = _softmax_frontend("log_softmax", """Log of the softmax along ``axis``.

    Parameters
    ----------
    data : NDArray
    axis : int, default -1
    temperature : float, optional
    dtype : str, optional
    """)


# ---- SoftmaxOutput ------------------------------------------------------------------------
NORMALIZATIONS = ("null", "batch", "valid")


def _so_layout(dshape, lshape, multi_output, preserve_shape):
    """How SoftmaxOutput views data and label: returns 'prob', 'multi' or 'flat'."""
    if tuple(lshape) == tuple(dshape):
        return "prob"
    n = dshape[0] if dshape else 0
    if multi_output:
        if len(dshape) < 2:
            raise ShapeError(f"SoftmaxOutput: multi_output=True needs data (N, C, ...), got "
                             f"{tuple(dshape)}")
        rest = int(np.prod(dshape[2:], dtype=np.int64))
        ok = (tuple(lshape) in ((n, rest), (n,) + tuple(dshape[2:]),
                                (n, 1) + tuple(dshape[2:])))
        want = f"({n}, {rest}) or {(n,) + tuple(dshape[2:])}"
    elif preserve_shape:
        ok, want = tuple(lshape) == tuple(dshape[:-1]), str(tuple(dshape[:-1]))
    else:
        ok, want = int(np.prod(lshape, dtype=np.int64)) == n, f"({n},)"
    if not ok:
        raise ShapeError(f"SoftmaxOutput: label shape {tuple(lshape)} does not fit data shape "
                         f"{tuple(dshape)} (multi_output={multi_output}, preserve_shape="
                         f"{preserve_shape}); expected label shape {want}, or a label of the "
                         "data's shape holding probabilities")
    return "multi" if multi_output else "flat"


def _so_views(out, label, layout, preserve_shape):
    """(probabilities (N, K, S), integer labels (N, S)) for the 'multi'/'flat' layouts."""
    if layout == "multi":
        n, k = out.shape[:2]
        return out.reshape(n, k, -1), label.reshape(n, -1)
    k = out.shape[-1] if preserve_shape else out.size // max(out.shape[0], 1)
    return out.reshape(-1, k, 1), label.reshape(-1, 1)


def _softmax_output(data, label, grad_scale=1.0, ignore_label=-1.0, multi_output=False,
                    use_ignore=False, preserve_shape=False, normalization="null",
                    out_grad=False, smooth_alpha=0.0):
    """Softmax forward for training with a label; see the module doc for the gradient.

    Softmax runs over axis 1 with ``multi_output``, the last axis with
    ``preserve_shape``, otherwise over ``data.reshape(N, -1)``.
    """
    if normalization not in NORMALIZATIONS:
        raise HybridnetValueError(f"SoftmaxOutput: normalization={normalization!r}; use one "
                                  f"of {NORMALIZATIONS}")
    layout = _so_layout(data.shape, label.shape, multi_output, preserve_shape)
    if multi_output:
        y = _softmax_np(data, 1)
    elif preserve_shape:
        y = _softmax_np(data, -1)
    else:
        y = _softmax_np(data.reshape(data.shape[0], -1), 1).reshape(data.shape)
    if layout != "prob":
        prob, lab = _so_views(y, label, layout, preserve_shape)
        lab, k = lab.astype(np.int64), prob.shape[1]
        bad = (lab < 0) | (lab >= k)
        if use_ignore:
            bad &= lab != int(ignore_label)
        if bad.any():
            raise HybridnetValueError(f"SoftmaxOutput: label value {int(lab[bad][0])} is out of "
                                      f"range for {k} classes (valid 0..{k - 1}"
                                      + (f", or ignore_label={ignore_label}" if use_ignore
                                         else "") + ")")
    return y.astype(data.dtype, copy=False)


def _softmax_output_vjp(g, ins, out, **attrs):
    grad = call("_softmax_output_grad", out, ins[1], **attrs)
    return (grad * g if attrs.get("out_grad") else grad), None


register(Op("SoftmaxOutput", "opaque", _softmax_output, _softmax_output_vjp, _same_rule,
            nondiff_args=("label",)))


def _softmax_output_grad(out, label, grad_scale=1.0, ignore_label=-1.0, multi_output=False,
                         use_ignore=False, preserve_shape=False, normalization="null",
                         out_grad=False, smooth_alpha=0.0):
    """MXNet's SoftmaxOutput gradient ``(out - target) * scale`` (head gradient not used)."""
    layout = _so_layout(out.shape, label.shape, multi_output, preserve_shape)
    if layout == "prob":
        return ((out - label) * grad_scale).astype(out.dtype, copy=False)
    prob, lab = _so_views(out, label, layout, preserve_shape)
    lab = lab.astype(np.int64)
    k = prob.shape[1]
    target = np.zeros_like(prob)
    if smooth_alpha:
        target[...] = smooth_alpha / (k - 1)
    keep = lab != int(ignore_label)
    safe = np.where((lab >= 0) & (lab < k), lab, 0)
    np.put_along_axis(target, safe[:, None, :], 1.0 - smooth_alpha, axis=1)
    grad = prob - target
    if use_ignore:
        grad *= keep[:, None, :]
    if normalization == "batch":
        cnt = lab.shape[0] if layout == "multi" else lab.size
    elif normalization == "valid":
        cnt = max(int(keep.sum()), 1)
    else:
        cnt = 1
    spatial = prob.shape[2] if layout == "multi" and normalization != "valid" else 1
    grad *= grad_scale / spatial / cnt
    return grad.reshape(out.shape).astype(out.dtype, copy=False)


register(Op("_softmax_output_grad", "opaque", _softmax_output_grad, None, _same_rule))


# ---- softmax_cross_entropy ----------------------------------------------------------------
def _ce_check(data, label):
    if data.ndim != 2 or label.shape != (data.shape[0],):
        raise ShapeError(f"softmax_cross_entropy: expected data (N, K) and label (N,), got data "
                         f"{data.shape} and label {label.shape}")
    lab = label.astype(np.int64)
    if lab.size and (lab.min() < 0 or lab.max() >= data.shape[1]):
        raise HybridnetValueError(f"softmax_cross_entropy: labels must be in 0..{data.shape[1] - 1}"
                                  f", got values in {lab.min()}..{lab.max()}")
    return lab


def _softmax_cross_entropy(data, label):
    """Total cross-entropy ``-sum_i log softmax(data[i])[label[i]]`` as shape (1,)."""
    lab = _ce_check(data, label)
    logp = _log_softmax_np(data, 1)
    return np.array([-np.take_along_axis(logp, lab[:, None], 1).sum()], dtype=data.dtype)


def _softmax_cross_entropy_vjp(g, ins, out):
    return g * call("_softmax_ce_grad", ins[0], ins[1]), None


register(Op("softmax_cross_entropy", "opaque", _softmax_cross_entropy,
            _softmax_cross_entropy_vjp, lambda shapes, dtypes: [((1,), np.dtype(dtypes[0]))],
            nondiff_args=("label",)))


def _softmax_ce_grad(data, label):
    """``softmax(data) - one_hot(label)``: the gradient of softmax_cross_entropy."""
    lab = _ce_check(data, label)
    p = _softmax_np(data, 1)
    np.put_along_axis(p, lab[:, None], np.take_along_axis(p, lab[:, None], 1) - 1, 1)
    return p.astype(data.dtype, copy=False)


register(Op("_softmax_ce_grad", "opaque", _softmax_ce_grad, None, _same_rule))
