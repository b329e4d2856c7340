"""Pooling layers (max, average, global) and ReflectionPad2D."""
from ... import ndarray as nd
from ...base import HybridnetValueError, ShapeError
from ..block import HybridBlock
from ._util import as_tuple

__all__ = ["MaxPool1D", "MaxPool2D", "MaxPool3D", "AvgPool1D", "AvgPool2D", "AvgPool3D",
           "GlobalMaxPool1D", "GlobalMaxPool2D", "GlobalMaxPool3D", "GlobalAvgPool1D",
           "GlobalAvgPool2D", "GlobalAvgPool3D", "ReflectionPad2D"]

_LAYOUTS = {1: ("NCW", "NWC"), 2: ("NCHW", "NHWC"), 3: ("NCDHW", "NDHWC")}


class _Pooling(HybridBlock):
    def __init__(self, pool_size, strides, padding, ceil_mode, global_pool, pool_type, layout,
                 count_include_pad=None, **kwargs):
        super().__init__(**kwargs)
        name, n = type(self).__name__, self._ndim
        if layout not in _LAYOUTS[n]:
            raise HybridnetValueError(f"{name}: layout must be one of {_LAYOUTS[n]}, got "
                                      f"{layout!r}")
        pool_size = as_tuple(pool_size, n, "pool_size", name)
        strides = pool_size if strides is None else as_tuple(strides, n, "strides", name)
        self._layout = layout
        self._kwargs = {"kernel": pool_size, "stride": strides,
                        "pad": as_tuple(padding, n, "padding", name),
                        "global_pool": global_pool, "pool_type": pool_type,
                        "pooling_convention": "full" if ceil_mode else "valid"}
        if count_include_pad is not None:
            self._kwargs["count_include_pad"] = bool(count_include_pad)

    def forward(self, x):
        if x.ndim != self._ndim + 2:
            raise ShapeError(f"{type(self).__name__}: expects {self._ndim + 2}-D input in layout "
                             f"{self._layout}, got shape {tuple(x.shape)}")
        if self._layout[1] == "C":
            return nd.Pooling(x, **self._kwargs)
        # Channels-last: pool in channels-first order and move the channels back.
        to_cf = (0, self._ndim + 1) + tuple(range(1, self._ndim + 1))
        to_cl = (0,) + tuple(range(2, self._ndim + 2)) + (1,)
        return nd.transpose(nd.Pooling(nd.transpose(x, axes=to_cf), **self._kwargs), axes=to_cl)

    def __repr__(self):
        kw = self._kwargs
        return (f"{type(self).__name__}(size={kw['kernel']}, stride={kw['stride']}, "
                f"padding={kw['pad']}, ceil_mode={kw['pooling_convention'] == 'full'}, "
                f"global_pool={kw['global_pool']}, pool_type={kw['pool_type']}, "
                f"layout={self._layout})")


class MaxPool1D(_Pooling):
    """Max pooling over (N, C, W).

    Parameters
    ----------
    pool_size : int, default 2
    strides : int, optional
        Defaults to ``pool_size``.
    padding : int, default 0
    layout : str, default 'NCW'
    ceil_mode : bool, default False
        Round the output size up (MXNet's 'full' convention) instead of down.
    """
    _ndim = 1

    def __init__(self, pool_size=2, strides=None, padding=0, layout="NCW", ceil_mode=False,
                 **kwargs):
        super().__init__(pool_size, strides, padding, ceil_mode, False, "max", layout, **kwargs)


class MaxPool2D(_Pooling):
    """Max pooling over (N, C, H, W); parameters as ``MaxPool1D`` with 2-tuples."""
    _ndim = 2

    def __init__(self, pool_size=(2, 2), strides=None, padding=0, layout="NCHW",
                 ceil_mode=False, **kwargs):
        super().__init__(pool_size, strides, padding, ceil_mode, False, "max", layout, **kwargs)


class AvgPool1D(_Pooling):
    """Average pooling over (N, C, W).

    ``count_include_pad`` (default True) counts padded zeros in the divisor.
    """
    _ndim = 1

    def __init__(self, pool_size=2, strides=None, padding=0, layout="NCW", ceil_mode=False,
                 count_include_pad=True, **kwargs):
        super().__init__(pool_size, strides, padding, ceil_mode, False, "avg", layout,
                         count_include_pad, **kwargs)


class AvgPool2D(_Pooling):
    """Average pooling over (N, C, H, W); parameters as ``AvgPool1D`` with 2-tuples."""
    _ndim = 2

    def __init__(self, pool_size=(2, 2), strides=None, padding=0, ceil_mode=False,
                 layout="NCHW", count_include_pad=True, **kwargs):
        super().__init__(pool_size, strides, padding, ceil_mode, False, "avg", layout,
                         count_include_pad, **kwargs)


class GlobalMaxPool1D(_Pooling):
    """Max over the whole width: (N, C, W) -> (N, C, 1)."""
    _ndim = 1

    def __init__(self, layout="NCW", **kwargs):
        super().__init__((1,), None, 0, True, True, "max", layout, **kwargs)


class GlobalMaxPool2D(_Pooling):
    """Max over the whole image: (N, C, H, W) -> (N, C, 1, 1)."""
    _ndim = 2

    def __init__(self, layout="NCHW", **kwargs):
        super().__init__((1, 1), None, 0, True, True, "max", layout, **kwargs)


class GlobalAvgPool1D(_Pooling):
    """Mean over the whole width: (N, C, W) -> (N, C, 1)."""
    _ndim = 1

    def __init__(self, layout="NCW", **kwargs):
        super().__init__((1,), None, 0, True, True, "avg", layout, **kwargs)


class GlobalAvgPool2D(_Pooling):
    """Mean over the whole image: (N, C, H, W) -> (N, C, 1, 1)."""
    _ndim = 2

    def __init__(self, layout="NCHW", **kwargs):
        super().__init__((1, 1), None, 0, True, True, "avg", layout, **kwargs)


class MaxPool3D(_Pooling):
    """Max pooling over (N, C, D, H, W); parameters as ``MaxPool1D`` with 3-tuples."""
    _ndim = 3

    def __init__(self, pool_size=(2, 2, 2), strides=None, padding=0, ceil_mode=False,
                 layout="NCDHW", **kwargs):
        super().__init__(pool_size, strides, padding, ceil_mode, False, "max", layout, **kwargs)


class AvgPool3D(_Pooling):
    """Average pooling over (N, C, D, H, W); parameters as ``AvgPool1D`` with 3-tuples."""
    _ndim = 3

    def __init__(self, pool_size=(2, 2, 2), strides=None, padding=0, ceil_mode=False,
                 layout="NCDHW", count_include_pad=True, **kwargs):
        super().__init__(pool_size, strides, padding, ceil_mode, False, "avg", layout,
                         count_include_pad, **kwargs)


class GlobalMaxPool3D(_Pooling):
    """Max over the whole volume: (N, C, D, H, W) -> (N, C, 1, 1, 1)."""
    _ndim = 3

    def __init__(self, layout="NCDHW", **kwargs):
        super().__init__((1, 1, 1), None, 0, True, True, "max", layout, **kwargs)


class GlobalAvgPool3D(_Pooling):
    """Mean over the whole volume: (N, C, D, H, W) -> (N, C, 1, 1, 1)."""
    _ndim = 3

    def __init__(self, layout="NCDHW", **kwargs):
        super().__init__((1, 1, 1), None, 0, True, True, "avg", layout, **kwargs)


class ReflectionPad2D(HybridBlock):
    """Pads (N, C, H, W) by reflecting the border: ``padding`` rows/cols on every side."""

    def __init__(self, padding=0, **kwargs):
        super().__init__(**kwargs)
        if isinstance(padding, int):
            padding = (0, 0, 0, 0, padding, padding, padding, padding)
        self._padding = tuple(padding)
        if len(self._padding) != 8:
            raise HybridnetValueError(f"ReflectionPad2D: padding must be an int or 8 ints "
                                      f"(before/after for each of N, C, H, W), got {padding!r}")

    def forward(self, x):
        return nd.pad(x, mode="reflect", pad_width=self._padding)

    def __repr__(self):
        return f"ReflectionPad2D(padding={self._padding})"
