"""Normalization layers: BatchNorm (+ReLU), LayerNorm, InstanceNorm, GroupNorm."""
import numpy as np

from ... import ndarray as nd
from ...base import ShapeError
from ..block import HybridBlock
from ..parameter import Parameter
from ._util import feature_mismatch, set_shape

__all__ = ["BatchNorm", "BatchNormReLU", "LayerNorm", "InstanceNorm", "GroupNorm"]


def _check_axis(layer, x, axis):
    if not -x.ndim <= axis < x.ndim:
        raise ShapeError(f"{layer!r}: axis {axis} is out of range for an input of shape "
                         f"{tuple(x.shape)}; pass axis in [-{x.ndim}, {x.ndim})")


def _channel_check(layer, x, axis, expected):
    """Raise a layer-named error when the input's channel count disagrees with the weights."""
    _check_axis(layer, x, axis)
    if x.shape[axis] != expected:
        raise feature_mismatch(layer, f"channel count (axis {axis})",
                               expected, x.shape[axis], x.shape,
                               f"Create the layer with in_channels={x.shape[axis]} (or 0 to "
                               "infer it), or fix the input")


def _kw(kwargs):
    return ", ".join(f"{k}={v!r}" for k, v in kwargs.items())


class BatchNorm(HybridBlock):
    """Batch normalization (Ioffe & Szegedy, 2015) over all axes but ``axis``.

    In training (``autograd.record()``) it normalizes with the batch statistics and updates
    ``running_mean``/``running_var`` in place:
    ``running = momentum * running + (1 - momentum) * batch_stat``. In prediction it uses
    the running statistics.

    Parameters
    ----------
    axis : int, default 1
        The channel axis (1 for NCHW, -1 for NHWC).
    momentum : float, default 0.9
    epsilon : float, default 1e-5
    center : bool, default True
        Add the learned offset ``beta``; False keeps beta at 0 and untrained.
    scale : bool, default True
        Multiply by the learned ``gamma``; False keeps gamma at 1 and untrained.
    use_global_stats : bool, default False
        Use the running statistics in training too (frozen BatchNorm).
    beta_initializer, gamma_initializer, running_mean_initializer,
    running_variance_initializer : Initializer or str
    in_channels : int, default 0
        Number of channels; 0 infers it from the first input.
    """

    def __init__(self, axis=1, momentum=0.9, epsilon=1e-5, center=True, scale=True,
                 use_global_stats=False, beta_initializer="zeros", gamma_initializer="ones",
                 running_mean_initializer="zeros", running_variance_initializer="ones",
                 in_channels=0, **kwargs):
        super().__init__(**kwargs)
        self._axis = axis
        self._kwargs = {"axis": axis, "eps": epsilon, "momentum": momentum,
                        "fix_gamma": not scale, "use_global_stats": use_global_stats}
        shape = (in_channels,)
        self.gamma = Parameter("gamma", grad_req="write" if scale else "null", shape=shape,
                               init=gamma_initializer, differentiable=scale)
        self.beta = Parameter("beta", grad_req="write" if center else "null", shape=shape,
                              init=beta_initializer, differentiable=center)
        self.running_mean = Parameter("running_mean", grad_req="null", shape=shape,
                                      init=running_mean_initializer, differentiable=False)
        self.running_var = Parameter("running_var", grad_req="null", shape=shape,
                                     init=running_variance_initializer, differentiable=False)

    def cast(self, dtype):
        # Like MXNet: statistics stay float32 in float16 networks.
        if np.dtype(dtype) == np.float16:
            dtype = "float32"
        super().cast(dtype)

    def infer_shape(self, x, *args):
        _check_axis(self, x, self._axis)
        c = x.shape[self._axis]
        if self.gamma.shape[0] and self.gamma.shape[0] != c:
            _channel_check(self, x, self._axis, self.gamma.shape[0])
        for p in (self.gamma, self.beta, self.running_mean, self.running_var):
            set_shape(self, p, (c,), "Pass the right in_channels or fix the input")

    def forward(self, x):
        g = self.gamma.data()
        if x.ndim < 1 or not -x.ndim <= self._axis < x.ndim or \
                x.shape[self._axis] != g.shape[0]:
            _channel_check(self, x, self._axis, g.shape[0])
        return nd.BatchNorm(x, g, self.beta.data(), self.running_mean.data(),
                            self.running_var.data(), **self._kwargs)

    def __repr__(self):
        c = self.gamma.shape[0]
        return f"{type(self).__name__}({_kw(self._kwargs)}, in_channels={c if c else None})"


class BatchNormReLU(BatchNorm):
    """``relu(BatchNorm(x))``; same parameters as ``BatchNorm``."""

    def forward(self, x):
        return nd.relu(super().forward(x))


class _AffineNorm(HybridBlock):
    """Shared parts of LayerNorm and InstanceNorm: per-channel gamma/beta on ``axis``."""

    def _affine_params(self, axis, epsilon, center, scale, beta_initializer,
                       gamma_initializer, in_channels):
        self._axis, self._epsilon = axis, epsilon
        self._kwargs = {"eps": epsilon, "axis": axis, "center": center, "scale": scale}
        self.gamma = Parameter("gamma", grad_req="write" if scale else "null",
                               shape=(in_channels,), init=gamma_initializer)
        self.beta = Parameter("beta", grad_req="write" if center else "null",
                              shape=(in_channels,), init=beta_initializer)

    def infer_shape(self, x, *args):
        _check_axis(self, x, self._axis)
        if self.gamma.shape[0] and self.gamma.shape[0] != x.shape[self._axis]:
            _channel_check(self, x, self._axis, self.gamma.shape[0])
        for p in (self.gamma, self.beta):
            set_shape(self, p, (x.shape[self._axis],),
                      "Pass the right in_channels or fix the input")


class LayerNorm(_AffineNorm):
    """Layer normalization (Ba et al., 2016): normalizes over ``axis`` for each sample.

    ``out = (x - mean) / sqrt(var + epsilon) * gamma + beta`` with mean/var over ``axis``.

    Parameters
    ----------
    axis : int, default -1
    epsilon : float, default 1e-5
    center, scale : bool, default True
    beta_initializer, gamma_initializer : Initializer or str
    in_channels : int, default 0
        Size of ``axis``; 0 infers it from the first input.
    """

    def __init__(self, axis=-1, epsilon=1e-5, center=True, scale=True,
                 beta_initializer="zeros", gamma_initializer="ones", in_channels=0,
                 prefix=None, params=None):
        super().__init__(prefix=prefix, params=params)
        self._affine_params(axis, epsilon, center, scale, beta_initializer,
                            gamma_initializer, in_channels)

    def forward(self, x):
        g = self.gamma.data()
        if not -x.ndim <= self._axis < x.ndim or x.shape[self._axis] != g.shape[0]:
            _channel_check(self, x, self._axis, g.shape[0])
        return nd.LayerNorm(x, g, self.beta.data(), axis=self._axis, eps=self._epsilon)

    def __repr__(self):
        return f"LayerNorm({_kw(self._kwargs)}, in_channels={self.gamma.shape[0]})"


class InstanceNorm(_AffineNorm):
    """Instance normalization (Ulyanov et al., 2016): per sample and channel, over the
    spatial axes.

    Parameters
    ----------
    axis : int, default 1
        The channel axis.
    epsilon : float, default 1e-5
    center : bool, default True
    scale : bool, default False
        As in MXNet, gamma is not trained by default.
    beta_initializer, gamma_initializer : Initializer or str
    in_channels : int, default 0
    """

    def __init__(self, axis=1, epsilon=1e-5, center=True, scale=False,
                 beta_initializer="zeros", gamma_initializer="ones", in_channels=0, **kwargs):
        super().__init__(**kwargs)
        self._affine_params(axis, epsilon, center, scale, beta_initializer,
                            gamma_initializer, in_channels)

    def forward(self, x):
        g = self.gamma.data()
        if x.ndim < 3:
            raise ShapeError(f"{self!r}: input of shape {tuple(x.shape)} needs a batch axis, a "
                             "channel axis and at least one spatial axis (ndim >= 3)")
        if not -x.ndim <= self._axis < x.ndim or x.shape[self._axis] != g.shape[0]:
            _channel_check(self, x, self._axis, g.shape[0])
        axis = self._axis % x.ndim
        if axis == 1:
            return nd.InstanceNorm(x, g, self.beta.data(), eps=self._epsilon)
        x = nd.swapaxes(x, 1, axis)
        out = nd.InstanceNorm(x, g, self.beta.data(), eps=self._epsilon)
        return nd.swapaxes(out, 1, axis)

    def __repr__(self):
        return f"InstanceNorm({_kw(self._kwargs)}, in_channels={self.gamma.shape[0]})"


class GroupNorm(HybridBlock):
    """Group normalization (Wu & He, 2018): channels are split into ``num_groups`` groups,
    each normalized over its channels and spatial axes per sample.

    As in Gluon 1.x, ``gamma`` and ``beta`` have one value per *group* (shape
    (num_groups,)).

    Parameters
    ----------
    num_groups : int, default 1
    epsilon : float, default 1e-5
    center, scale : bool, default True
    beta_initializer, gamma_initializer : Initializer or str
    """

    def __init__(self, num_groups=1, epsilon=1e-5, center=True, scale=True,
                 beta_initializer="zeros", gamma_initializer="ones", prefix=None, params=None):
        super().__init__(prefix=prefix, params=params)
        self._num_groups, self._epsilon = int(num_groups), epsilon
        self._kwargs = {"eps": epsilon, "num_groups": num_groups, "center": center,
                        "scale": scale}
        self.gamma = Parameter("gamma", grad_req="write" if scale else "null",
                               shape=(num_groups,), init=gamma_initializer)
        self.beta = Parameter("beta", grad_req="write" if center else "null",
                              shape=(num_groups,), init=beta_initializer)

    def forward(self, x):
        g = self._num_groups
        if x.ndim < 2 or x.shape[1] % g:
            raise ShapeError(f"{self!r}: input of shape {tuple(x.shape)} must have a channel "
                             f"axis 1 whose size is a multiple of num_groups={g}")
        xr = nd.reshape(x, shape=(x.shape[0], g, -1))
        mean = nd.mean(xr, axis=2, keepdims=True)
        centered = xr - mean
        var = nd.mean(nd.square(centered), axis=2, keepdims=True)
        out = centered / nd.sqrt(var + self._epsilon)
        out = out * nd.reshape(self.gamma.data(), shape=(1, g, 1)) + \
            nd.reshape(self.beta.data(), shape=(1, g, 1))
        return nd.reshape(out, shape=x.shape)

    def __repr__(self):
        return f"GroupNorm({_kw(self._kwargs)})"
