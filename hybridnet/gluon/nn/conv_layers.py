"""Convolution layers (channels-first layouts: NCW, NCHW, NCDHW)."""
from ... import ndarray as nd
from ...base import HybridnetValueError, ShapeError
from ..block import HybridBlock
from ..parameter import Parameter
from ._util import as_tuple, feature_mismatch, set_shape
from .activations import Activation, check_activation

__all__ = ["Conv1D", "Conv2D", "Conv3D", "Conv1DTranspose", "Conv2DTranspose",
           "Conv3DTranspose"]

_CF_LAYOUTS = {1: "NCW", 2: "NCHW", 3: "NCDHW"}


class _Conv(HybridBlock):
    """Shared implementation of (transposed) convolutions over ``len(kernel_size)`` axes."""

    _transpose = False

    def __init__(self, channels, kernel_size, strides, padding, dilation, groups, layout,
                 in_channels=0, activation=None, use_bias=True, weight_initializer=None,
                 bias_initializer="zeros", output_padding=None, **kwargs):
        super().__init__(**kwargs)
        name = type(self).__name__
        n = self._ndim
        if layout != _CF_LAYOUTS[n]:
            raise HybridnetValueError(
                f"{name}: layout {layout!r} is not supported; use {_CF_LAYOUTS[n]!r} (channels "
                "first) and transpose the input if needed")
        kernel = as_tuple(kernel_size, n, "kernel_size", name)
        self._channels, self._groups = int(channels), int(groups)
        if self._groups < 1 or self._channels % self._groups:
            raise HybridnetValueError(f"{name}: channels={channels} must be a positive multiple "
                                      f"of groups={groups}")
        self._kwargs = {"kernel": kernel, "stride": as_tuple(strides, n, "strides", name),
                        "dilate": as_tuple(dilation, n, "dilation", name),
                        "pad": as_tuple(padding, n, "padding", name),
                        "num_filter": self._channels, "num_group": self._groups,
                        "no_bias": not use_bias, "layout": layout}
        if self._transpose:
            self._kwargs["adj"] = as_tuple(output_padding, n, "output_padding", name)
            wshape = (in_channels, self._channels // self._groups) + kernel
        else:
            wshape = (self._channels, in_channels // self._groups if in_channels else 0) + kernel
            if in_channels and in_channels % self._groups:
                raise HybridnetValueError(f"{name}: in_channels={in_channels} must be a "
                                          f"multiple of groups={groups}")
        self.weight = Parameter("weight", shape=wshape, init=weight_initializer,
                                allow_deferred_init=True)
        self.bias = Parameter("bias", shape=(self._channels,), init=bias_initializer,
                              allow_deferred_init=True) if use_bias else None
        if activation is not None:
            check_activation(activation, name)
        self.act = Activation(activation) if activation is not None else None

    def _check_input(self, x):
        if x.ndim != self._ndim + 2:
            raise ShapeError(
                f"{self!r}: expects {self._ndim + 2}-D input in layout {self._kwargs['layout']}, "
                f"got shape {tuple(x.shape)}")

    def _weight_shape(self, c):
        k = self._kwargs["kernel"]
        if self._transpose:
            return (c, self._channels // self._groups) + k
        return (self._channels, c // self._groups) + k

    def _in_channels(self):
        w = self.weight.shape
        return w[0] if self._transpose else w[1] * self._groups

    def _mismatch(self, x):
        return feature_mismatch(
            self, "channel count (axis 1)", self._in_channels(), x.shape[1], x.shape,
            f"Create the layer with in_channels={x.shape[1]} (or 0 to infer it), or fix the "
            "input")

    def infer_shape(self, x, *args):
        self._check_input(x)
        c = x.shape[1]
        if not self._transpose and c % self._groups:
            raise ShapeError(f"{self!r}: input has {c} channels, not a multiple of "
                             f"groups={self._groups}")
        if self._in_channels() and self._in_channels() != c:
            raise self._mismatch(x)
        set_shape(self, self.weight, self._weight_shape(c), "Pass the right in_channels")

    def forward(self, x):
        w = self.weight.data()
        op = nd.Deconvolution if self._transpose else nd.Convolution
        try:
            if self.bias is None:
                out = op(x, w, **self._kwargs)
            else:
                out = op(x, w, self.bias.data(), **self._kwargs)
        except ShapeError:
            self._check_input(x)
            if x.shape[1] != self._in_channels():
                raise self._mismatch(x) from None
            raise
        if self.act is not None:
            out = self.act(out)
        return out

    def __repr__(self):
        kw = self._kwargs
        cin = self.weight.shape[0] if self._transpose else self.weight.shape[1] * self._groups
        s = (f"{type(self).__name__}({cin if cin else None} -> {self._channels}, "
             f"kernel_size={kw['kernel']}, stride={kw['stride']}")
        n = self._ndim
        if kw["pad"] != (0,) * n:
            s += f", padding={kw['pad']}"
        if kw["dilate"] != (1,) * n:
            s += f", dilation={kw['dilate']}"
        if self._transpose and kw["adj"] != (0,) * n:
            s += f", output_padding={kw['adj']}"
        if self._groups != 1:
            s += f", groups={self._groups}"
        if self.bias is None:
            s += ", bias=False"
        if self.act is not None:
            s += f", {self.act!r}"
        return s + ")"


class Conv1D(_Conv):
    """1-D convolution over (N, C, W) inputs.

    Parameters
    ----------
    channels : int
        Number of output channels.
    kernel_size : int or tuple of 1 int
    strides, padding, dilation : int or tuple of 1 int
    groups : int, default 1
        Split input and output channels into this many independent groups.
    layout : str, default 'NCW'
    activation : str, optional
    use_bias : bool, default True
    weight_initializer, bias_initializer : Initializer or str
    in_channels : int, default 0
        0 infers it from the first input.

    Weight shape: (channels, in_channels // groups, k). Output width:
    ``(W + 2*padding - dilation*(k-1) - 1) // stride + 1``.
    """
    _ndim = 1

    def __init__(self, channels, kernel_size, strides=1, padding=0, dilation=1, groups=1,
                 layout="NCW", activation=None, use_bias=True, weight_initializer=None,
                 bias_initializer="zeros", in_channels=0, **kwargs):
        super().__init__(channels, kernel_size, strides, padding, dilation, groups, layout,
                         in_channels, activation, use_bias, weight_initializer,
                         bias_initializer, **kwargs)


class Conv2D(_Conv):
    """2-D convolution over (N, C, H, W) inputs.

    Parameters as ``Conv1D`` with 2-tuples (an int means the same value for H and W).
    Weight shape: (channels, in_channels // groups, kh, kw).

    Example
    -------
    >>> conv = nn.Conv2D(6, kernel_size=3, padding=1)
    >>> conv.initialize(); conv(nd.ones((1, 1, 28, 28))).shape
    (1, 6, 28, 28)
    """
    _ndim = 2

    def __init__(self, channels, kernel_size, strides=(1, 1), padding=(0, 0),
                 dilation=(1, 1), groups=1, layout="NCHW", activation=None, use_bias=True,
                 weight_initializer=None, bias_initializer="zeros", in_channels=0, **kwargs):
        super().__init__(channels, kernel_size, strides, padding, dilation, groups, layout,
                         in_channels, activation, use_bias, weight_initializer,
                         bias_initializer, **kwargs)


class Conv1DTranspose(_Conv):
    """1-D transposed convolution (deconvolution) over (N, C, W) inputs.

    Output width: ``(W - 1)*stride - 2*padding + dilation*(k-1) + 1 + output_padding``.
    Weight shape: (in_channels, channels // groups, k).
    """
    _ndim = 1
    _transpose = True

    def __init__(self, channels, kernel_size, strides=1, padding=0, output_padding=0,
                 dilation=1, groups=1, layout="NCW", activation=None, use_bias=True,
                 weight_initializer=None, bias_initializer="zeros", in_channels=0, **kwargs):
        super().__init__(channels, kernel_size, strides, padding, dilation, groups, layout,
                         in_channels, activation, use_bias, weight_initializer,
                         bias_initializer, output_padding=output_padding, **kwargs)


class Conv2DTranspose(_Conv):
    """2-D transposed convolution (deconvolution) over (N, C, H, W) inputs.

    Parameters as ``Conv2D`` plus ``output_padding`` (extra rows/cols added to one side
    of the output). Weight shape: (in_channels, channels // groups, kh, kw).
    """
    _ndim = 2
    _transpose = True

    def __init__(self, channels, kernel_size, strides=(1, 1), padding=(0, 0),
                 output_padding=(0, 0), dilation=(1, 1), groups=1, layout="NCHW",
                 activation=None, use_bias=True, weight_initializer=None,
                 bias_initializer="zeros", in_channels=0, **kwargs):
        super().__init__(channels, kernel_size, strides, padding, dilation, groups, layout,
                         in_channels, activation, use_bias, weight_initializer,
                         bias_initializer, output_padding=output_padding, **kwargs)


class Conv3D(_Conv):
    """3-D convolution over (N, C, D, H, W) inputs; parameters as ``Conv2D`` with 3-tuples.

    Weight shape: (channels, in_channels // groups, kd, kh, kw).
    """
    _ndim = 3

    def __init__(self, channels, kernel_size, strides=(1, 1, 1), padding=(0, 0, 0),
                 dilation=(1, 1, 1), groups=1, layout="NCDHW", activation=None,
                 use_bias=True, weight_initializer=None, bias_initializer="zeros",
                 in_channels=0, **kwargs):
        super().__init__(channels, kernel_size, strides, padding, dilation, groups, layout,
                         in_channels, activation, use_bias, weight_initializer,
                         bias_initializer, **kwargs)


class Conv3DTranspose(_Conv):
    """3-D transposed convolution over (N, C, D, H, W) inputs; parameters as
    ``Conv2DTranspose`` with 3-tuples. Weight shape: (in_channels, channels // groups, *k)."""
    _ndim = 3
    _transpose = True

    def __init__(self, channels, kernel_size, strides=(1, 1, 1), padding=(0, 0, 0),
                 output_padding=(0, 0, 0), dilation=(1, 1, 1), groups=1, layout="NCDHW",
                 activation=None, use_bias=True, weight_initializer=None,
                 bias_initializer="zeros", in_channels=0, **kwargs):
        super().__init__(channels, kernel_size, strides, padding, dilation, groups, layout,
                         in_channels, activation, use_bias, weight_initializer,
                         bias_initializer, output_padding=output_padding, **kwargs)
