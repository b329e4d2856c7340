"""BatchNorm, LayerNorm and InstanceNorm.

All three batch/instance/layer statistics paths are one op, ``_normalize``:
normalize over ``axes`` with biased variance, then scale/shift by per-channel
``gamma``/``beta`` along ``ch_axis``. It returns ``(out, mean, var)`` (kept dims) so
the BatchNorm frontend can update its moving statistics and the VJP can reuse
them; like MXNet, gradients arriving at ``mean``/``var`` are ignored.
BatchNorm with moving statistics (prediction, ``use_global_stats``) is
``_batch_norm_infer``, whose VJP is written with primitive ops (fusable);
``_normalize``'s VJP is one op, ``_normalize_grad`` (``nn_rows.py``).
"""
import numpy as np

from ..base import ShapeError
from ._util import call
from .nn_common import channel_shape, check_kwargs, check_nd, finish, is_training
from .nn_norm_kernels import batch_norm_infer_kernel, normalize_kernel
from .registry import Op, frontend, register


def _other_axes(ndim, ch_axis):
    return tuple(i for i in range(ndim) if i != ch_axis)


def _param_sum(x, ch_axis, shape):
    """Sum over every axis but ``ch_axis``: the gradient of a per-channel parameter."""
    other = _other_axes(x.ndim, ch_axis)
    return (call("sum", x, axis=other) if other else x).reshape(shape)


def _normalize(data, gamma, beta, axes=(), ch_axis=1, eps=1e-5, fix_gamma=False):
    """``(data - mean) / sqrt(var + eps) * gamma + beta`` with statistics over ``axes``.

    Returns ``(out, mean, var)``; ``mean``/``var`` keep the reduced dims.
    """
    mean = data.mean(axis=axes, keepdims=True)
    xc = data - mean
    var = np.mean(xc * xc, axis=axes, keepdims=True)
    y = xc / np.sqrt(var + eps)
    bshape = channel_shape(data.ndim, ch_axis, data.shape[ch_axis])
    if not fix_gamma:
        y *= gamma.reshape(bshape)
    y += beta.reshape(bshape)
    return y.astype(data.dtype, copy=False), mean, var


def _normalize_vjp(g, ins, out, axes=(), ch_axis=1, eps=1e-5, fix_gamma=False):
    # one op (nn_rows._normalize_grad: a NumPy rule, a row kernel, its own exact VJP)
    return call("_normalize_grad", g[0], ins[0], ins[1], out[1], out[2], axes=axes,
                ch_axis=ch_axis, eps=eps, fix_gamma=fix_gamma)


register(Op("_normalize", "opaque", _normalize, _normalize_vjp, num_outputs=3,
            kernel=normalize_kernel))


def _batch_norm_infer(data, gamma, beta, moving_mean, moving_var, eps=1e-3, axis=1,
                      fix_gamma=True):
    """BatchNorm with the given (moving) statistics: no batch statistics involved."""
    bshape = channel_shape(data.ndim, axis, data.shape[axis])
    scale = 1.0 / np.sqrt(moving_var + eps)
    if not fix_gamma:
        scale = scale * gamma
    y = (data - moving_mean.reshape(bshape)) * scale.reshape(bshape) + beta.reshape(bshape)
    return y.astype(data.dtype, copy=False)


def _batch_norm_infer_vjp(g, ins, out, eps=1e-3, axis=1, fix_gamma=True):
    x, gamma, beta, mm, mv = ins
    bshape = channel_shape(x.ndim, axis, x.shape[axis])
    inv = ((mv + eps) ** -0.5).reshape(bshape)
    dbeta = _param_sum(g, axis, beta.shape)
    if fix_gamma:
        return g * inv, gamma * 0.0, dbeta, None, None
    xhat = (x - mm.reshape(bshape)) * inv
    return (g * (inv * gamma.reshape(bshape)), _param_sum(g * xhat, axis, gamma.shape), dbeta,
            None, None)


register(Op("_batch_norm_infer", "opaque", _batch_norm_infer, _batch_norm_infer_vjp,
            lambda shapes, dtypes, **a: [(tuple(shapes[0]), np.dtype(dtypes[0]))],
            nondiff_args=("moving_mean", "moving_var"), kernel=batch_norm_infer_kernel))


# ---- frontends ----------------------------------------------------------------------------
def _axis(op, data, axis):
    if not -data.ndim <= axis < data.ndim:
        raise ShapeError(f"{op}: axis={axis} is out of range for data of shape {data.shape}; "
                         f"pass an axis in [-{data.ndim}, {data.ndim})")
    return axis % data.ndim


def _check_params(op, data, axis, hint, **params):
    c = data.shape[axis]
    for name, p in params.items():
        if p.shape != (c,):
            raise ShapeError(f"{op}: {name} has shape {p.shape} but data {data.shape} has {c} "
                             f"entries along axis {axis}; {name} must have shape ({c},): "
                             f"{hint.format(c=c)}")


@frontend("BatchNorm")
def BatchNorm(data=None, gamma=None, beta=None, moving_mean=None, moving_var=None, eps=1e-3,
              momentum=0.9, fix_gamma=True, use_global_stats=False, output_mean_var=False,
              axis=1, out=None, **kwargs):
    """Batch normalization, MXNet-style (statistics per channel along ``axis``).

    In training mode (``autograd.is_training()``) and unless ``use_global_stats``, the
    batch mean and biased variance normalize the data and ``moving_mean``/``moving_var``
    are updated **in place**: ``moving = moving * momentum + batch * (1 - momentum)``.
    Otherwise the moving statistics are used. ``fix_gamma=True`` treats ``gamma`` as 1
    (and gives it a zero gradient).

    Parameters
    ----------
    data : NDArray
        Any rank >= 1; channels along ``axis`` (default 1).
    gamma, beta, moving_mean, moving_var : NDArray
        Shape ``(C,)``.

    Returns
    -------
    NDArray, or ``(out, mean, inv_std)`` with ``output_mean_var=True``.
    """
    check_kwargs("BatchNorm", {k: v for k, v in kwargs.items()
                               if k not in ("min_calib_range", "max_calib_range")})
    check_nd("BatchNorm", data=data, gamma=gamma, beta=beta, moving_mean=moving_mean,
             moving_var=moving_var)
    ax = _axis("BatchNorm", data, int(axis))
    _check_params("BatchNorm", data, ax, "create the BatchNorm layer with in_channels={c} (or "
                  "0 to infer it), or normalize a different axis", gamma=gamma, beta=beta,
                  moving_mean=moving_mean, moving_var=moving_var)
    c = data.shape[ax]
    if is_training() and not use_global_stats:
        y, mean, var = call("_normalize", data, gamma, beta, axes=_other_axes(data.ndim, ax),
                            ch_axis=ax, eps=float(eps), fix_gamma=bool(fix_gamma))
        from ..autograd import pause
        with pause():
            mean, var = mean.reshape((c,)), var.reshape((c,))
            moving_mean[:] = moving_mean * momentum + mean * (1.0 - momentum)
            moving_var[:] = moving_var * momentum + var * (1.0 - momentum)
    else:
        y = call("_batch_norm_infer", data, gamma, beta, moving_mean, moving_var,
                 eps=float(eps), axis=ax, fix_gamma=bool(fix_gamma))
        mean, var = moving_mean, moving_var
    if output_mean_var:
        return y, mean, (var + float(eps)) ** -0.5
    return finish(y, out)


@frontend("LayerNorm")
def LayerNorm(data=None, gamma=None, beta=None, axis=-1, eps=1e-5, output_mean_var=False,
              out=None, **kwargs):
    """Layer normalization over ``axis`` (default last), scaled by ``gamma``, shifted by ``beta``.

    Parameters
    ----------
    data : NDArray
    gamma, beta : NDArray
        Shape ``(data.shape[axis],)``.

    Returns
    -------
    NDArray, or ``(out, mean, std)`` (reduced dims kept) with ``output_mean_var=True``.
    """
    check_kwargs("LayerNorm", kwargs)
    check_nd("LayerNorm", data=data, gamma=gamma, beta=beta)
    ax = _axis("LayerNorm", data, int(axis))
    _check_params("LayerNorm", data, ax, "create the LayerNorm layer with in_channels={c} (or "
                  "0 to infer it)", gamma=gamma, beta=beta)
    y, mean, var = call("_normalize", data, gamma, beta, axes=(ax,), ch_axis=ax, eps=float(eps),
                        fix_gamma=False)
    if output_mean_var:
        return y, mean, (var + float(eps)) ** 0.5
    return finish(y, out)


@frontend("InstanceNorm")
def InstanceNorm(data=None, gamma=None, beta=None, eps=1e-3, out=None, **kwargs):
    """Instance normalization: per sample and channel over the spatial dims of ``(N, C, ...)``.

    Parameters
    ----------
    data : NDArray
        ``(N, C, d1, ...)`` with at least one spatial dim.
    gamma, beta : NDArray
        Shape ``(C,)``.
    """
    check_kwargs("InstanceNorm", kwargs)
    check_nd("InstanceNorm", data=data, gamma=gamma, beta=beta)
    if data.ndim < 3:
        raise ShapeError(f"InstanceNorm: data must be (N, C, spatial...) with at least 3 dims, "
                         f"got shape {data.shape}")
    _check_params("InstanceNorm", data, 1, "create the InstanceNorm layer with in_channels={c}",
                  gamma=gamma, beta=beta)
    y, _, _ = call("_normalize", data, gamma, beta, axes=tuple(range(2, data.ndim)), ch_axis=1,
                   eps=float(eps), fix_gamma=False)
    return finish(y, out)
