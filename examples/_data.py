"""MNIST for the examples: the real files when present, else an offline stand-in.

The examples must run with no network and no argument. So :func:`load_mnist`
reads real MNIST from ``--data-root`` / ``$HYBRIDNET_HOME/datasets/mnist`` when
its four IDX files are there (downloading them only when asked), and otherwise
builds a **learnable stand-in of the same shape**: 28x28 uint8 images of the
ten digits drawn as seven-segment glyphs, each randomly slanted, scaled,
shifted, thickened and noised, with labels 0-9. It is a real classification
task (a linear model does not solve it perfectly; an MLP or LeNet learns it),
not random noise, and every example prints which of the two it used.
"""
import os
from dataclasses import dataclass

import numpy as np

# Segments of a seven-segment digit as boxes (centre u, centre v, half-width,
# half-height) in a canonical frame where the glyph spans u in [-5, 5] and v in
# [-9, 9] (v grows downwards, like image rows).
_T, _W = 1.1, 5.0   # stroke half-thickness, glyph half-width
_SEGMENTS = {
    "a": (0.0, -9.0, _W, _T), "g": (0.0, 0.0, _W, _T), "d": (0.0, 9.0, _W, _T),
    "f": (-_W, -4.5, _T, 4.5 + _T), "b": (_W, -4.5, _T, 4.5 + _T),
    "e": (-_W, 4.5, _T, 4.5 + _T), "c": (_W, 4.5, _T, 4.5 + _T),
}
_DIGITS = ["abcdef", "bc", "abdeg", "abcdg", "bcfg", "acdfg", "acdefg", "abc", "abcdefg", "abcdfg"]
_MASKS = np.array([[s in d for s in "abcdefg"] for d in _DIGITS], dtype=np.float32)  # (10, 7)
_BOXES = np.array([_SEGMENTS[s] for s in "abcdefg"], dtype=np.float32)               # (7, 4)

MEAN, STD = 0.1307, 0.3081    # the usual MNIST normalisation


@dataclass
class MNISTData:
    """Images (N, 28, 28, 1) uint8 and labels (N,) int32, plus where they came from."""
    train_images: np.ndarray
    train_labels: np.ndarray
    test_images: np.ndarray
    test_labels: np.ndarray
    source: str        # for the user: "real MNIST from ..." or "synthetic stand-in ..." + why
    real: bool


def synthetic_digits(n, seed):
    """``n`` seven-segment digit images (n, 28, 28, 1) uint8 and labels (n,) int32."""
    rng = np.random.default_rng(seed)
    atlas = _atlas(rng)
    labels = rng.integers(0, 10, n).astype(np.int32)
    images = np.empty((n, 28, 28), np.uint8)
    for lo in range(0, n, 8192):     # chunks keep the temporaries small
        hi = min(n, lo + 8192)
        images[lo:hi] = _render(labels[lo:hi], atlas, rng)
    return images[..., None], labels


# The glyph frame is sampled on a grid 4x finer than a pixel; each image then only
# gathers from one pre-rendered variant instead of testing every stroke per pixel.
_RES, _U0, _V0 = 4.0, 8.0, 13.0
_GH, _GW = int(2 * _V0 * _RES) + 1, int(2 * _U0 * _RES) + 1
_THICK = (0.8, 1.05, 1.3, 1.55)
_VARIANTS = 3


def _atlas(rng):
    """(10, len(_THICK), _VARIANTS, _GH, _GW) float32 glyphs; each variant has its own
    ink level per stroke and, sometimes, a faint trace of an absent stroke."""
    v, u = np.mgrid[0:_GH, 0:_GW].astype(np.float32)
    u, v = u / _RES - _U0, v / _RES - _V0
    cu, cv, hw, hh = (_BOXES[:, i].reshape(7, 1, 1) for i in range(4))
    out = np.zeros((10, len(_THICK), _VARIANTS, _GH, _GW), np.float32)
    for t, thick in enumerate(_THICK):
        w = np.where(hw < 2, hw * thick, hw)
        h = np.where(hh < 2, hh * thick, hh)
        # soft (anti-aliased) box edges, one pixel wide
        seg = (np.clip(0.5 + (w - np.abs(u - cu)), 0, 1) *
               np.clip(0.5 + (h - np.abs(v - cv)), 0, 1))           # (7, GH, GW)
        for d in range(10):
            for k in range(_VARIANTS):
                ink = _MASKS[d] * rng.uniform(0.6, 1.0, 7)
                ink += (1 - _MASKS[d]) * (rng.random(7) < 0.1) * rng.uniform(0.1, 0.4, 7)
                out[d, t, k] = (seg * ink[:, None, None].astype(np.float32)).max(axis=0)
    out[..., 0, :] = out[..., -1, :] = 0     # zero border: out-of-frame lookups land here
    out[..., :, 0] = out[..., :, -1] = 0
    return out.reshape(-1, _GH * _GW)


def _render(labels, atlas, rng):
    m = len(labels)
    rows, cols = np.mgrid[0:28, 0:28].astype(np.float32)
    # Per-image affine map from pixel (x, y) to glyph frame (u, v): scale, slant, shift.
    scale = rng.uniform(0.85, 1.2, (m, 1, 1)).astype(np.float32)
    slant = rng.uniform(-0.35, 0.35, (m, 1, 1)).astype(np.float32)
    dx = rng.uniform(-3.0, 3.0, (m, 1, 1)).astype(np.float32)
    dy = rng.uniform(-2.0, 2.0, (m, 1, 1)).astype(np.float32)
    v = (rows - 13.5 - dy) / scale
    u = (cols - 13.5 - dx) / scale + slant * v
    iu = np.clip(np.rint((u + _U0) * _RES), 0, _GW - 1).astype(np.intp)
    iv = np.clip(np.rint((v + _V0) * _RES), 0, _GH - 1).astype(np.intp)
    variant = (labels * len(_THICK) + rng.integers(0, len(_THICK), m)) * _VARIANTS \
        + rng.integers(0, _VARIANTS, m)
    img = atlas[variant[:, None, None], iv * _GW + iu]
    img += rng.standard_normal(img.shape, dtype=np.float32) * np.float32(0.08)
    return np.clip(img * 255, 0, 255).astype(np.uint8)


def _real_mnist(root, download):
    from hybridnet.gluon.data.vision import MNIST
    train = MNIST(root=root, train=True, download=download)
    test = MNIST(root=root, train=False, download=download)
    return (train._data.asnumpy(), train._label, test._data.asnumpy(), test._label,
            train._root)


def load_mnist(limit=None, test_limit=None, root=None, download=False):
    """Real MNIST if its files are in ``root`` (or downloadable on request), else the stand-in.

    Parameters
    ----------
    limit, test_limit : int, optional
        Keep only the first ``limit`` training / ``test_limit`` test images.
    root : str, optional
        Folder with the MNIST IDX files; default ``$HYBRIDNET_HOME/datasets/mnist``.
    download : bool
        Fetch missing files from the mirrors (needs the network). Off by default so
        the examples never wait on a network that is not there.
    """
    try:
        tr_x, tr_y, te_x, te_y, where = _real_mnist(root, download)
        source, real = f"real MNIST from {where}", True
    except OSError as e:   # hybridnet's IO errors are OSErrors: files missing / offline
        n_train = 60000 if limit is None else limit
        n_test = 10000 if test_limit is None else test_limit
        tr_x, tr_y = synthetic_digits(n_train, seed=0)
        te_x, te_y = synthetic_digits(n_test, seed=1)
        reason = str(e).split(". ")[0]
        source = ("synthetic stand-in for MNIST (seven-segment digits, same shapes: "
                  "28x28 uint8, labels 0-9)\n"
                  f"      real MNIST was not found ({reason}).\n"
                  "      To use it, put its four IDX files in "
                  f"{root or _default_root()}, pass --data-root DIR, or pass --download")
        real = False
    if limit is not None:
        tr_x, tr_y = tr_x[:limit], tr_y[:limit]
    if test_limit is not None:
        te_x, te_y = te_x[:test_limit], te_y[:test_limit]
    return MNISTData(tr_x, np.asarray(tr_y, np.int32), te_x, np.asarray(te_y, np.int32),
                     source, real)


def _default_root():
    home = os.environ.get("HYBRIDNET_HOME", os.path.join("~", ".hybridnet"))
    return os.path.join(os.path.expanduser(home), "datasets", "mnist")


def as_float(images, flat):
    """uint8 (N, 28, 28, 1) -> normalised float32, (N, 784) when ``flat`` else (N, 1, 28, 28).

    The same as ``transforms.Compose([ToTensor(), Normalize(MEAN, STD)])`` applied to
    every image, done once for the whole array so that the epochs time the training.
    """
    x = (images.astype(np.float32) / 255.0 - MEAN) / STD
    x = x.transpose(0, 3, 1, 2)
    return np.ascontiguousarray(x.reshape(len(x), -1) if flat else x)
