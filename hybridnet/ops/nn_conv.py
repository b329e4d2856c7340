"""Convolution and Deconvolution (transposed convolution), 1-D/2-D/3-D, grouped.

Three private ops carry the math (NumPy kernels in ``nn_conv_impl``; eagerly, 2-D
float shapes run the JIT's Numba kernels from ``nn_conv_kernels`` instead):
``_convolution(data, weight)``, its data-adjoint ``_conv_bwd_data`` (which is
also Deconvolution's forward) and its weight-adjoint ``_conv_bwd_weight``. Each
one's VJP is written with the other two, so gradients of any order work. The
bias is added by the frontends as a broadcast ``add`` the compiler can fuse.
"""
import numpy as np

from ..base import ShapeError
from . import _eager_kernels as eager
from . import nn_conv_impl as impl
from ._util import call
from .nn_common import (channel_shape, check_kwargs, check_layout, check_nd, check_spatial,
                        finish, tup)
from .registry import Op, frontend, register


def _crop(y, shape):
    """The first ``shape`` window positions of a convolution output (see nn_conv_impl)."""
    if y.shape == tuple(shape):
        return y
    return y[tuple(slice(0, n) for n in shape)]


# ---- _convolution -------------------------------------------------------------------------
def _convolution(data, weight, stride=(), dilate=(), pad=(), num_group=1):
    """Grouped cross-correlation of ``data`` (N, C, *sp) with ``weight`` (F, C/G, *k)."""
    out = impl.conv_shapes("Convolution", data.shape, weight.shape, stride, dilate, pad,
                           num_group)
    y = _eager(data, weight, out, lambda node: _kernels().conv_kernel(node), "_convolution",
               stride=stride, dilate=dilate, pad=pad, num_group=num_group)
    return impl.conv(data, weight, stride, dilate, pad, num_group) if y is None else y


def _convolution_rule(shapes, dtypes, stride=(), dilate=(), pad=(), num_group=1):
    out = impl.conv_shapes("Convolution", shapes[0], shapes[1], stride, dilate, pad, num_group)
    return [(out, np.result_type(*dtypes))]


def _convolution_vjp(g, ins, out, stride=(), dilate=(), pad=(), num_group=1, needs_grad=None):
    x, w = ins
    need = needs_grad or (True, True)
    a = dict(stride=stride, dilate=dilate, pad=pad, num_group=num_group)
    # The data gradient is skipped for the network's input (it needs none).
    return (call("_conv_bwd_data", g, w, in_size=tuple(x.shape[2:]), **a) if need[0] else None,
            call("_conv_bwd_weight", g, x, kernel=tuple(w.shape[2:]), **a) if need[1] else None)


def _kernels():
    from . import nn_conv_kernels   # loaded on the first 2-D convolution
    return nn_conv_kernels


def _eager(a, b, out_shape, builder, name, **attrs):
    """The op's Numba kernel on 2-D float data (None: the NumPy rule runs)."""
    if a.ndim != 4 or a.dtype != b.dtype or a.dtype.kind != "f":
        return None
    return eager.run(name, builder, (a, b), out_shape, a.dtype, attrs)


register(Op("_convolution", "opaque", _convolution, _convolution_vjp, _convolution_rule,
            kernel=lambda node, epilogue=None: _kernels().conv_kernel(node, epilogue)))


# ---- _conv_bwd_data (= Deconvolution without bias) ----------------------------------------
def _bwd_data_shapes(dshape, wshape, in_size, stride, dilate, pad, num_group):
    full = (dshape[0], wshape[1] * num_group) + tuple(in_size)
    conv_out = impl.conv_shapes("Deconvolution", full, wshape, stride, dilate, pad, num_group)
    if conv_out[:2] != tuple(dshape[:2]) or len(conv_out) != len(dshape) or any(
            o < d for o, d in zip(conv_out[2:], dshape[2:])):
        raise ShapeError(
            f"Deconvolution: data {tuple(dshape)} with weight {tuple(wshape)} cannot produce an "
            f"output of spatial size {tuple(in_size)} (stride={stride}, dilate={dilate}, "
            f"pad={pad}); the weight's first dim must equal the data channels and adj must be "
            "smaller than stride")
    return full


def _conv_bwd_data(data, weight, in_size=(), stride=(), dilate=(), pad=(), num_group=1):
    """Adjoint of convolution in its data (transposed convolution)."""
    full = _bwd_data_shapes(data.shape, weight.shape, in_size, stride, dilate, pad, num_group)
    x = _eager(data, weight, full, lambda node: _kernels().conv_bwd_data_kernel(node),
               "_conv_bwd_data", in_size=tuple(in_size), stride=stride, dilate=dilate, pad=pad,
               num_group=num_group)
    return impl.conv_bwd_data(data, weight, in_size, stride, dilate, pad, num_group) \
        if x is None else x


def _conv_bwd_data_rule(shapes, dtypes, in_size=(), stride=(), dilate=(), pad=(), num_group=1):
    full = _bwd_data_shapes(shapes[0], shapes[1], in_size, stride, dilate, pad, num_group)
    return [(full, np.result_type(*dtypes))]


def _conv_bwd_data_vjp(g, ins, out, in_size=(), stride=(), dilate=(), pad=(), num_group=1):
    y, w = ins
    a = dict(stride=stride, dilate=dilate, pad=pad, num_group=num_group)
    return (_crop(call("_convolution", g, w, **a), y.shape),
            call("_conv_bwd_weight", y, g, kernel=tuple(w.shape[2:]), **a))


register(Op("_conv_bwd_data", "opaque", _conv_bwd_data, _conv_bwd_data_vjp,
            _conv_bwd_data_rule, kernel=lambda node: _kernels().conv_bwd_data_kernel(node)))


# ---- _conv_bwd_weight ---------------------------------------------------------------------
def _conv_bwd_weight(grad, data, kernel=(), stride=(), dilate=(), pad=(), num_group=1):
    """Adjoint of convolution in its weight: the weight gradient for output gradient ``grad``."""
    shape = (grad.shape[1], data.shape[1] // num_group) + tuple(kernel)
    w = _eager(grad, data, shape, lambda node: _kernels().conv_bwd_weight_kernel(node),
               "_conv_bwd_weight", kernel=tuple(kernel), stride=stride, dilate=dilate, pad=pad,
               num_group=num_group)
    return impl.conv_bwd_weight(grad, data, kernel, stride, dilate, pad, num_group) \
        if w is None else w


def _conv_bwd_weight_rule(shapes, dtypes, kernel=(), stride=(), dilate=(), pad=(),
                          num_group=1):
    return [((shapes[0][1], shapes[1][1] // num_group) + tuple(kernel),
             np.result_type(*dtypes))]


def _conv_bwd_weight_vjp(g, ins, out, kernel=(), stride=(), dilate=(), pad=(), num_group=1):
    y, x = ins
    a = dict(stride=stride, dilate=dilate, pad=pad, num_group=num_group)
    return (_crop(call("_convolution", x, g, **a), y.shape),
            call("_conv_bwd_data", y, g, in_size=tuple(x.shape[2:]), **a))


register(Op("_conv_bwd_weight", "opaque", _conv_bwd_weight, _conv_bwd_weight_vjp,
            _conv_bwd_weight_rule,
            kernel=lambda node, epilogue=None: _kernels().conv_bwd_weight_kernel(node,
                                                                               epilogue)))


# ---- frontends ----------------------------------------------------------------------------
def _spatial_attrs(op, data, weight, kernel, stride, dilate, pad, layout):
    check_spatial(op, data.shape)
    check_layout(op, layout, data.ndim)
    n = data.ndim - 2
    if weight.ndim != data.ndim:
        raise ShapeError(f"{op}: weight of shape {weight.shape} must have the rank of the data "
                         f"{data.shape} (out_channels, in_channels/num_group, *kernel)")
    k = tup(kernel, n, "kernel", op, default=weight.shape[2:])
    if k != tuple(weight.shape[2:]):
        raise ShapeError(f"{op}: kernel={k} but the weight has shape {weight.shape} (kernel "
                         f"{tuple(weight.shape[2:])}); make them agree")
    return (k, tup(stride, n, "stride", op, 1), tup(dilate, n, "dilate", op, 1),
            tup(pad, n, "pad", op, 0))


def _add_bias(op, y, bias, channels):
    check_nd(op, bias=bias)
    if bias.shape != (channels,):
        raise ShapeError(f"{op}: bias must have shape ({channels},) (one per output channel), "
                         f"got {bias.shape}")
    return y + bias.reshape(channel_shape(y.ndim, 1, channels))


@frontend("Convolution")
def Convolution(data=None, weight=None, bias=None, kernel=(), stride=(), dilate=(), pad=(),
                num_filter=0, num_group=1, no_bias=False, layout=None, out=None, **kwargs):
    """N-d convolution (cross-correlation) over channels-first data, MXNet-style.

    Parameters
    ----------
    data : NDArray
        ``(N, C, W)``, ``(N, C, H, W)`` or ``(N, C, D, H, W)``.
    weight : NDArray
        ``(num_filter, C // num_group, *kernel)``.
    bias : NDArray, optional
        ``(num_filter,)``; omitted when ``no_bias=True``.
    kernel, stride, dilate, pad : int or tuple
        Per spatial dim (stride/dilate default 1, pad 0, symmetric zero padding).
    num_filter : int
        Output channels (checked against ``weight``).
    num_group : int
        Groups: ``num_group == C`` gives a depthwise convolution.

    Returns
    -------
    NDArray
        ``(N, num_filter, *out)`` with ``out = (in + 2*pad - dilate*(kernel-1) - 1) // stride + 1``.

    Example
    -------
    >>> nd.Convolution(x, w, b, kernel=(3, 3), pad=(1, 1), num_filter=8)
    """
    check_kwargs("Convolution", kwargs)
    check_nd("Convolution", data=data, weight=weight)
    k, s, d, p = _spatial_attrs("Convolution", data, weight, kernel, stride, dilate, pad, layout)
    if num_filter and num_filter != weight.shape[0]:
        raise ShapeError(f"Convolution: num_filter={num_filter} but the weight of shape "
                         f"{weight.shape} has {weight.shape[0]} filters; make them agree")
    y = call("_convolution", data, weight, stride=s, dilate=d, pad=p, num_group=int(num_group))
    if not no_bias:
        y = _add_bias("Convolution", y, bias, weight.shape[0])
    return finish(y, out)


def _deconv_geometry(data, k, s, d, p, adj, target_shape):
    """Output spatial size and effective (pad, adj), following MXNet's target_shape rule."""
    n = data.ndim - 2
    a = tup(adj, n, "adj", "Deconvolution", 0)
    for i, (aa, ss) in enumerate(zip(a, s)):
        if aa >= ss and aa:
            raise ShapeError(f"Deconvolution: adj={a} must be smaller than stride={s} "
                             f"(dim {i}); use target_shape to pick an exact output size")
    if target_shape and any(int(t) for t in tup(target_shape, n, "target_shape",
                                                 "Deconvolution")):
        target = tup(target_shape, n, "target_shape", "Deconvolution")
        p, a = [], []
        for i, (L, kk, ss, dd, t) in enumerate(zip(data.shape[2:], k, s, d, target)):
            total = ss * (L - 1) + dd * (kk - 1) + 1 - t
            if total < 0:
                raise ShapeError(f"Deconvolution: target_shape={target} is too big for input "
                                 f"{data.shape} with kernel={k}, stride={s}: dim {i} can reach "
                                 f"at most {t + total}")
            a.append(total % 2)
            p.append((total + 1) // 2)
        p, a = tuple(p), tuple(a)
    size = tuple(ss * (L - 1) + dd * (kk - 1) + 1 - 2 * pp + aa
                 for L, kk, ss, dd, pp, aa in zip(data.shape[2:], k, s, d, p, a))
    if any(z <= 0 for z in size):
        raise ShapeError(f"Deconvolution: pad={p} is too large for input {data.shape} with "
                         f"kernel={k}, stride={s}: the output size would be {size}")
    return size, p


@frontend("Deconvolution")
def Deconvolution(data=None, weight=None, bias=None, kernel=(), stride=(), dilate=(), pad=(),
                  adj=(), target_shape=(), num_filter=0, num_group=1, no_bias=True, layout=None,
                  out=None, **kwargs):
    """Transposed convolution (the gradient of Convolution w.r.t. its input), MXNet-style.

    Parameters
    ----------
    data : NDArray
        ``(N, C, *spatial)``.
    weight : NDArray
        ``(C, num_filter // num_group, *kernel)``.
    bias : NDArray, optional
        ``(num_filter,)``; used when ``no_bias=False`` (MXNet's default is ``no_bias=True``).
    kernel, stride, dilate, pad, adj : int or tuple
        Per spatial dim; ``adj`` adds rows at the end of each output dim (``adj < stride``).
    target_shape : tuple, optional
        Desired output spatial size; overrides ``pad``/``adj`` like MXNet.

    Returns
    -------
    NDArray
        ``(N, num_filter, *out)`` with
        ``out = stride*(in-1) + dilate*(kernel-1) + 1 - 2*pad + adj``.
    """
    check_kwargs("Deconvolution", kwargs)
    check_nd("Deconvolution", data=data, weight=weight)
    k, s, d, p = _spatial_attrs("Deconvolution", data, weight, kernel, stride, dilate, pad,
                                layout)
    g = int(num_group)
    if weight.shape[0] != data.shape[1]:
        raise ShapeError(
            f"Deconvolution: data of shape {data.shape} has {data.shape[1]} channels but the "
            f"weight of shape {weight.shape} expects {weight.shape[0]} (the weight is (in_channels,"
            f" num_filter/num_group, *kernel)); create the layer with in_channels="
            f"{data.shape[1]} or feed data with {weight.shape[0]} channels")
    f = weight.shape[1] * g
    if num_filter and num_filter != f:
        raise ShapeError(f"Deconvolution: num_filter={num_filter} but the weight of shape "
                         f"{weight.shape} with num_group={g} gives {f} output channels")
    size, p = _deconv_geometry(data, k, s, d, p, adj, target_shape)
    y = call("_conv_bwd_data", data, weight, in_size=size, stride=s, dilate=d, pad=p,
             num_group=g)
    if not no_bias:
        y = _add_bias("Deconvolution", y, bias, f)
    return finish(y, out)
