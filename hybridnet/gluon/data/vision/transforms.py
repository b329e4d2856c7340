"""Image transforms (Gluon 1.x ``gluon.data.vision.transforms``).

Images are (H, W, C) arrays, batches (N, H, W, C); ``ToTensor`` turns them
into float32 (C, H, W) / (N, C, H, W) tensors in [0, 1]. Each transform takes
an NDArray (or a NumPy array) and returns an NDArray. Random transforms draw
from ``hybridnet.random.generator()``, so ``hybridnet.random.seed`` makes
them reproducible.

In Gluon these are Blocks; here they are plain callable classes (``__call__``
and ``forward``) so the data pipeline does not depend on the Block machinery.
``hybridize()`` is accepted and does nothing.
"""
import numpy as np

from ....base import DTypeError, ShapeError, normalize_dtype
from ....ndarray.ndarray import NDArray, wrap
from .... import random as _random
from . import _image

__all__ = ["Compose", "Cast", "ToTensor", "Normalize", "Resize", "CenterCrop",
           "RandomResizedCrop", "RandomCrop", "RandomFlipLeftRight", "RandomFlipTopBottom",
           "RandomBrightness", "RandomContrast"]


def _np(x):
    return x._data if isinstance(x, NDArray) else np.asarray(x)


def _out(arr, like):
    return wrap(arr, like._ctx if isinstance(like, NDArray) else None)


class Transform:
    """Base of the transforms: ``t(x)`` calls ``t.forward(x)``."""

    def __call__(self, x, *args):
        return self.forward(x, *args)

    def forward(self, x):
        raise NotImplementedError

    def hybridize(self, active=True, **kwargs):
        """Accepted for Gluon compatibility; transforms always run eagerly in NumPy."""

    def __repr__(self):
        args = ", ".join(f"{k.lstrip('_')}={v!r}" for k, v in vars(self).items()
                         if not isinstance(v, np.ndarray))  # derived caches
        return f"{type(self).__name__}({args})"


class Compose(Transform):
    """Apply transforms one after another.

    Parameters
    ----------
    transforms : list of callables
        e.g. ``[transforms.ToTensor(), transforms.Normalize(0.13, 0.31)]``.

    Examples
    --------
    >>> t = Compose([Resize(300), CenterCrop(256), ToTensor()])
    >>> t(nd.zeros((224, 224, 3), dtype='uint8')).shape
    (3, 256, 256)
    """

    def __init__(self, transforms):
        self._transforms = list(transforms)

    def forward(self, x):
        for t in self._transforms:
            x = t(x)
        return x

    def add(self, transform):
        self._transforms.append(transform)

    def __len__(self):
        return len(self._transforms)

    def __getitem__(self, i):
        return self._transforms[i]

    def __repr__(self):
        inner = "\n".join(f"  ({i}): {t!r}" for i, t in enumerate(self._transforms))
        return f"Compose(\n{inner}\n)"


class Cast(Transform):
    """Cast to ``dtype`` (default float32); any shape."""

    def __init__(self, dtype="float32"):
        self._dtype = normalize_dtype(dtype)

    def forward(self, x):
        return _out(_np(x).astype(self._dtype), x)

    def _batch_forward(self, batch):
        return self.forward(batch)


class ToTensor(Transform):
    """(H, W, C) or (N, H, W, C) image in [0, 255] -> float32 (C, H, W) / (N, C, H, W) in [0, 1].

    Values are divided by 255 exactly as MXNet's ``image.to_tensor`` does.
    """

    def forward(self, x):
        a = _np(x)
        if a.ndim not in (3, 4):
            raise ShapeError(f"ToTensor: expects an image (H, W, C) or a batch (N, H, W, C), "
                             f"got shape {a.shape}")
        perm = (2, 0, 1) if a.ndim == 3 else (0, 3, 1, 2)
        out = np.empty(tuple(a.shape[p] for p in perm), np.float32)
        out[...] = a.transpose(perm)
        np.divide(out, np.float32(255.0), out=out)
        return _out(out, x)

    def _batch_forward(self, batch):
        # samples were (H, W, C): the stacked batch is (N, H, W, C)
        return self.forward(batch) if batch.ndim == 4 else NotImplemented


class Normalize(Transform):
    """``(x - mean[c]) / std[c]`` for each channel c of a (C, H, W) or (N, C, H, W) tensor.

    Parameters
    ----------
    mean : float or tuple of floats
        One value for all channels, or one per channel.
    std : float or tuple of floats
        One value for all channels, or one per channel.
    """

    def __init__(self, mean=0.0, std=1.0):
        self._mean = mean
        self._std = std
        self._m = np.asarray(mean, dtype=np.float32).reshape(-1)
        self._s = np.asarray(std, dtype=np.float32).reshape(-1)

    def _per_channel(self, v, c, what):
        if v.size == 1:
            return v.reshape(())
        if v.size != c:
            raise ShapeError(f"Normalize: {what} has {v.size} values but the input has {c} "
                             "channels; give one value or one per channel")
        return v.reshape(c, 1, 1)

    def forward(self, x):
        a = _np(x)
        if a.ndim not in (3, 4):
            raise ShapeError(f"Normalize: expects a tensor (C, H, W) or a batch (N, C, H, W), "
                             f"got shape {a.shape}; apply ToTensor first")
        if not np.issubdtype(a.dtype, np.floating):
            raise DTypeError(f"Normalize: expects a float tensor, got {a.dtype}; apply "
                             "ToTensor (or Cast('float32')) first")
        c = a.shape[-3]
        m = self._per_channel(self._m, c, "mean").astype(a.dtype)
        s = self._per_channel(self._s, c, "std").astype(a.dtype)
        out = np.subtract(a, m)
        np.divide(out, s, out=out)  # (a - m) / s without a second temporary
        return _out(out, x)

    def _batch_forward(self, batch):
        # samples were (C, H, W): the stacked batch is (N, C, H, W)
        return self.forward(batch) if batch.ndim == 4 else NotImplemented


class Resize(Transform):
    """Resize an image (H, W, C) or batch (N, H, W, C) to ``size``.

    Parameters
    ----------
    size : int or tuple (W, H)
        Output size; an int means (size, size), or the short edge when ``keep_ratio``.
    keep_ratio : bool, default False
        With an int ``size``, scale the short edge to ``size`` and keep the aspect ratio.
    interpolation : int, default 1
        0 nearest, 1 bilinear (OpenCV's conventions).
    """

    def __init__(self, size, keep_ratio=False, interpolation=1):
        self._size = size
        self._keep_ratio = keep_ratio
        self._interpolation = interpolation

    def forward(self, x):
        a = _np(x)
        _image._check_image(a, "Resize")
        h, w = a.shape[-3], a.shape[-2]
        if isinstance(self._size, (int, np.integer)) and self._keep_ratio:
            s = int(self._size)
            # MXNet: the short edge becomes `size`, the long edge is truncated
            if h > w:
                w_out, h_out = s, int(h * s / w)
            else:
                w_out, h_out = int(w * s / h), s
        else:
            w_out, h_out = _image.size_pair(self._size, "Resize")
        return _out(_image.resize(a, w_out, h_out, self._interpolation), x)


class CenterCrop(Transform):
    """Crop the centre of an (H, W, C) image to ``size`` (W, H); upsamples if it is smaller."""

    def __init__(self, size, interpolation=1):
        self._size = _image.size_pair(size, "CenterCrop")
        self._interpolation = interpolation

    def forward(self, x):
        a = _np(x)
        _image._check_image(a, "CenterCrop")
        return _out(_image.center_crop(a, self._size, self._interpolation), x)


class RandomResizedCrop(Transform):
    """Crop a random area (fraction ``scale``) and aspect ratio (``ratio``), resize to ``size``.

    Parameters
    ----------
    size : int or tuple (W, H)
    scale : tuple of two floats, default (0.08, 1.0)
        Range of the crop's area relative to the image's.
    ratio : tuple of two floats, default (3/4, 4/3)
        Range of the crop's aspect ratio (w / h).
    interpolation : int, default 1
    """

    def __init__(self, size, scale=(0.08, 1.0), ratio=(3.0 / 4.0, 4.0 / 3.0), interpolation=1):
        self._size = _image.size_pair(size, "RandomResizedCrop")
        self._scale = scale
        self._ratio = ratio
        self._interpolation = interpolation

    def forward(self, x):
        a = _np(x)
        _image._check_image(a, "RandomResizedCrop", batch_ok=False)
        return _out(_image.random_size_crop(a, self._size, self._scale, self._ratio,
                                            self._interpolation, _random.generator()), x)


class RandomCrop(Transform):
    """Crop a random ``size`` (W, H) window, after optional zero padding (upsamples if small).

    Parameters
    ----------
    size : int or tuple (W, H)
    pad : int or tuple, optional
        An int pads H and W by that many pixels on each side; otherwise a
        ``numpy.pad`` width spec for the (H, W, C) axes.
    pad_value : number, default 0
    interpolation : int, default 1
    """

    def __init__(self, size, pad=None, pad_value=0, interpolation=1):
        self._size = _image.size_pair(size, "RandomCrop")
        if isinstance(pad, (int, np.integer)):
            pad = ((pad, pad), (pad, pad), (0, 0))
        self._pad = pad
        self._pad_value = pad_value
        self._interpolation = interpolation

    def forward(self, x):
        a = _np(x)
        _image._check_image(a, "RandomCrop", batch_ok=False)
        if self._pad:
            a = np.pad(a, self._pad, mode="constant", constant_values=self._pad_value)
        return _out(_image.random_crop(a, self._size, self._interpolation,
                                       _random.generator()), x)


class _RandomFlip(Transform):
    _axis = None

    def forward(self, x):
        a = _np(x)
        _image._check_image(a, type(self).__name__)
        if _random.generator().random() < 0.5:
            return _out(np.flip(a, axis=a.ndim + self._axis).copy(), x)
        return _out(a.copy(), x)


class RandomFlipLeftRight(_RandomFlip):
    """Flip an (H, W, C) image (or a whole batch) left to right with probability 0.5."""
    _axis = -2


class RandomFlipTopBottom(_RandomFlip):
    """Flip an (H, W, C) image (or a whole batch) top to bottom with probability 0.5."""
    _axis = -3


class RandomBrightness(Transform):
    """Multiply by a factor drawn from ``[max(0, 1 - brightness), 1 + brightness]``."""

    def __init__(self, brightness):
        self._args = (max(0.0, 1.0 - brightness), 1.0 + brightness)

    def forward(self, x):
        a = _np(x)
        alpha = _random.generator().uniform(*self._args)
        return _out(_blend(a, alpha, 0.0), x)


class RandomContrast(Transform):
    """Blend with the image's mean grey level by a factor from ``[max(0, 1 - c), 1 + c]``.

    Grey is ``0.299 R + 0.587 G + 0.114 B`` (the channel itself for 1-channel images).
    """

    _COEF = np.array([0.299, 0.587, 0.114], np.float32)

    def __init__(self, contrast):
        self._args = (max(0.0, 1.0 - contrast), 1.0 + contrast)

    def forward(self, x):
        a = _np(x)
        _image._check_image(a, "RandomContrast", batch_ok=False)
        alpha = _random.generator().uniform(*self._args)
        if a.shape[-1] == 3:
            gray = float((a.astype(np.float32) * self._COEF).sum(axis=-1).mean())
        else:
            gray = float(a.astype(np.float32).mean())
        return _out(_blend(a, alpha, gray * (1.0 - alpha)), x)


def _blend(a, alpha, beta):
    """``a * alpha + beta``, saturated to the range of integer dtypes (MXNet truncates)."""
    v = a.astype(np.float32) * np.float32(alpha) + np.float32(beta)
    if np.issubdtype(a.dtype, np.integer):
        info = np.iinfo(a.dtype)
        return np.clip(v, info.min, info.max).astype(a.dtype)
    return v.astype(a.dtype, copy=False)
