"""NumPy image kernels behind the transforms (HWC or NHWC layout).

Resizing follows OpenCV's ``cv2.resize`` (which MXNet's image ops call):
bilinear uses half-pixel centres (``src = (dst + 0.5) * scale - 0.5``,
clamped at the border), nearest uses ``src = floor(dst * scale)``; integer
images are rounded half up and saturated. Crops follow ``mxnet.image``.
"""
import warnings

import numpy as np

from ....base import HybridnetValueError, ShapeError

_WARNED = set()


def _check_image(x, who, batch_ok=True):
    if x.ndim == 3 or (batch_ok and x.ndim == 4):
        return
    want = "(H, W, C) or (N, H, W, C)" if batch_ok else "(H, W, C)"
    raise ShapeError(f"{who}: expects an image of shape {want}, got shape {x.shape}")


def _axis_coords(n_out, n_in, mode):
    """Source indices (i0, i1) and the weight of i1 for each output position."""
    scale = n_in / n_out
    d = np.arange(n_out, dtype=np.float64)
    if mode == 0:
        i0 = np.minimum(np.floor(d * scale).astype(np.intp), n_in - 1)
        return i0, i0, None
    f = (d + 0.5) * scale - 0.5
    i0 = np.floor(f).astype(np.intp)
    w = (f - i0).astype(np.float32)
    low = i0 < 0
    w[low], i0[low] = 0.0, 0
    high = i0 >= n_in - 1
    w[high], i0[high] = 0.0, n_in - 1
    return i0, np.minimum(i0 + 1, n_in - 1), w


def _interp_mode(interp, who):
    if interp in (0, 1):
        return interp
    if interp in (2, 3, 4, 9, 10):  # cubic, area, lanczos, auto, random in OpenCV/MXNet
        if (who, interp) not in _WARNED:
            _WARNED.add((who, interp))
            warnings.warn(f"{who}: interpolation={interp} (cubic/area/lanczos/auto) is not "
                          "implemented; using bilinear (1) instead", stacklevel=4)
        return 1
    raise HybridnetValueError(f"{who}: unknown interpolation {interp!r}; use 0 (nearest) or "
                              "1 (bilinear)")


def resize(x, w_out, h_out, interp=1, who="Resize"):
    """Resize an (H, W, C) or (N, H, W, C) array to (h_out, w_out)."""
    _check_image(x, who)
    if w_out <= 0 or h_out <= 0:
        raise HybridnetValueError(f"{who}: output size must be positive, got "
                                  f"(w={w_out}, h={h_out})")
    mode = _interp_mode(interp, who)
    ha, wa = x.ndim - 3, x.ndim - 2
    h_in, w_in = x.shape[ha], x.shape[wa]
    if (h_in, w_in) == (h_out, w_out):
        return x.copy()
    y0, y1, wy = _axis_coords(h_out, h_in, mode)
    x0, x1, wx = _axis_coords(w_out, w_in, mode)
    if mode == 0:
        return np.take(np.take(x, y0, axis=ha), x0, axis=wa)
    src = x.astype(np.float32) if x.dtype != np.float64 else x
    bshape = [1] * x.ndim
    bshape[ha] = h_out
    wy = wy.reshape(bshape)
    rows = np.take(src, y0, axis=ha) * (1 - wy) + np.take(src, y1, axis=ha) * wy
    bshape[ha], bshape[wa] = 1, w_out
    wx = wx.reshape(bshape)
    out = np.take(rows, x0, axis=wa) * (1 - wx) + np.take(rows, x1, axis=wa) * wx
    return _saturate(out, x.dtype)


def _saturate(v, dtype):
    """Round half up and clip into an integer dtype's range (OpenCV's saturate_cast)."""
    if np.issubdtype(dtype, np.integer):
        info = np.iinfo(dtype)
        return np.clip(np.floor(v + 0.5), info.min, info.max).astype(dtype)
    return v.astype(dtype, copy=False)


def scale_down(src_size, size):
    """Shrink the crop ``size`` (w, h) to fit into ``src_size`` (w, h), keeping its ratio."""
    w, h = size
    sw, sh = src_size
    if sh < h:
        w, h = float(w * sh) / h, sh
    if sw < w:
        w, h = sw, float(h * sw) / w
    return int(w), int(h)


def fixed_crop(x, x0, y0, w, h, size=None, interp=1, who="crop"):
    """Crop ``x[y0:y0+h, x0:x0+w]``, then resize to ``size`` (w, h) if given and different."""
    out = x[..., y0:y0 + h, x0:x0 + w, :]
    if size is not None and (w, h) != tuple(size):
        return resize(out, size[0], size[1], interp, who)
    return out.copy()


def center_crop(x, size, interp=1, who="CenterCrop"):
    h, w = x.shape[-3], x.shape[-2]
    new_w, new_h = scale_down((w, h), size)
    x0, y0 = int((w - new_w) / 2), int((h - new_h) / 2)
    return fixed_crop(x, x0, y0, new_w, new_h, size, interp, who)


def random_crop(x, size, interp, rng, who="RandomCrop"):
    h, w = x.shape[-3], x.shape[-2]
    new_w, new_h = scale_down((w, h), size)
    x0 = int(rng.integers(0, w - new_w + 1))
    y0 = int(rng.integers(0, h - new_h + 1))
    return fixed_crop(x, x0, y0, new_w, new_h, size, interp, who)


def random_size_crop(x, size, area, ratio, interp, rng, who="RandomResizedCrop"):
    """``mxnet.image.random_size_crop``: 10 tries at a random area/ratio, else centre crop."""
    h, w = x.shape[-3], x.shape[-2]
    src_area = h * w
    if np.isscalar(area):
        area = (area, 1.0)
    log_ratio = (np.log(ratio[0]), np.log(ratio[1]))
    for _ in range(10):
        target_area = rng.uniform(area[0], area[1]) * src_area
        new_ratio = np.exp(rng.uniform(*log_ratio))
        new_w = int(round(np.sqrt(target_area * new_ratio)))
        new_h = int(round(np.sqrt(target_area / new_ratio)))
        if 0 < new_w <= w and 0 < new_h <= h:
            x0 = int(rng.integers(0, w - new_w + 1))
            y0 = int(rng.integers(0, h - new_h + 1))
            return fixed_crop(x, x0, y0, new_w, new_h, size, interp, who)
    return center_crop(x, size, interp, who)


def size_pair(size, who):
    """``int`` or ``(w, h)`` -> ``(w, h)``."""
    if isinstance(size, (int, np.integer)):
        return int(size), int(size)
    try:
        w, h = (int(s) for s in size)
    except (TypeError, ValueError):
        raise HybridnetValueError(f"{who}: size must be an int or a (width, height) pair, "
                                  f"got {size!r}") from None
    return w, h
