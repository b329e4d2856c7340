"""Vision transforms against NumPy references."""
import numpy as np
import pytest
from hypothesis import given, settings, strategies as st

import hybridnet as mx
from hybridnet import nd
from hybridnet.base import DTypeError, HybridnetValueError, ShapeError
from hybridnet.gluon.data.vision import transforms as T


def img(h=6, w=5, c=3, seed=0, n=None):
    rng = np.random.default_rng(seed)
    shape = (h, w, c) if n is None else (n, h, w, c)
    return rng.integers(0, 256, shape, dtype=np.uint8)


def ref_resize(x, w_out, h_out, nearest=False):
    """OpenCV's resize, written out per output pixel in float64."""
    h, w = x.shape[:2]
    sy, sx = h / h_out, w / w_out
    out = np.zeros((h_out, w_out, x.shape[2]))
    for i in range(h_out):
        for j in range(w_out):
            if nearest:
                out[i, j] = x[min(int(i * sy), h - 1), min(int(j * sx), w - 1)]
                continue
            fy, fx = (i + 0.5) * sy - 0.5, (j + 0.5) * sx - 0.5
            y0, x0 = int(np.floor(fy)), int(np.floor(fx))
            ay, ax = fy - y0, fx - x0
            if y0 < 0:
                y0, ay = 0, 0.0
            if y0 >= h - 1:
                y0, ay = h - 1, 0.0
            if x0 < 0:
                x0, ax = 0, 0.0
            if x0 >= w - 1:
                x0, ax = w - 1, 0.0
            y1, x1 = min(y0 + 1, h - 1), min(x0 + 1, w - 1)
            out[i, j] = ((1 - ay) * ((1 - ax) * x[y0, x0] + ax * x[y0, x1])
                         + ay * ((1 - ax) * x[y1, x0] + ax * x[y1, x1]))
    return out


def test_to_tensor_image_and_batch():
    x = img()
    out = T.ToTensor()(nd.array(x, dtype="uint8"))
    assert isinstance(out, nd.NDArray) and out.dtype == np.float32 and out.shape == (3, 6, 5)
    ref = x.transpose(2, 0, 1).astype(np.float32) / np.float32(255)
    np.testing.assert_array_equal(out.asnumpy(), ref)
    xb = img(n=4)
    outb = T.ToTensor()(xb)
    np.testing.assert_array_equal(outb.asnumpy(),
                                  xb.transpose(0, 3, 1, 2).astype(np.float32) / 255)
    with pytest.raises(ShapeError, match=r"ToTensor: expects an image .* got shape \(6, 5\)"):
        T.ToTensor()(x[..., 0])


@pytest.mark.parametrize("mean,std", [(0.13, 0.31), ((0.1, 0.2, 0.3), (0.5, 0.25, 2.0))])
def test_normalize_chw_and_nchw(mean, std):
    x = np.random.default_rng(1).random((2, 3, 4, 5), dtype=np.float32)
    m = np.asarray(mean, np.float32).reshape(-1, 1, 1)
    s = np.asarray(std, np.float32).reshape(-1, 1, 1)
    t = T.Normalize(mean, std)
    np.testing.assert_allclose(t(nd.array(x[0])).asnumpy(), (x[0] - m) / s, rtol=1e-6)
    out = t(nd.array(x))
    assert out.shape == x.shape and out.dtype == np.float32
    np.testing.assert_allclose(out.asnumpy(), (x - m) / s, rtol=1e-6)


def test_normalize_errors():
    with pytest.raises(DTypeError, match="Normalize: expects a float tensor, got uint8"):
        T.Normalize(0.5, 0.5)(img().transpose(2, 0, 1))
    with pytest.raises(ShapeError, match="mean has 2 values but the input has 3 channels"):
        T.Normalize((0.1, 0.2), 1.0)(np.zeros((3, 2, 2), np.float32))
    with pytest.raises(ShapeError, match="apply ToTensor first"):
        T.Normalize()(np.zeros((2, 2), np.float32))


def test_cast_and_compose():
    x = img()
    assert T.Cast("float16")(x).dtype == np.float16
    assert T.Cast()(x).dtype == np.float32
    chain = T.Compose([T.ToTensor(), T.Normalize(0.5, 0.25), T.Cast("float64")])
    ref = (x.transpose(2, 0, 1).astype(np.float32) / 255 - np.float32(0.5)) / np.float32(0.25)
    out = chain(nd.array(x, dtype="uint8"))
    assert out.dtype == np.float64 and len(chain) == 3 and isinstance(chain[1], T.Normalize)
    np.testing.assert_array_equal(out.asnumpy(), ref.astype(np.float64))
    assert "Normalize" in repr(chain)


@pytest.mark.parametrize("size,shape", [((7, 9), (9, 7)), (4, (4, 4)), ((10, 3), (3, 10))])
def test_resize_bilinear_matches_reference(size, shape):
    xf = np.random.default_rng(2).random((6, 5, 3)).astype(np.float32) * 255
    out = T.Resize(size)(nd.array(xf))
    assert out.shape == shape + (3,) and out.dtype == np.float32
    np.testing.assert_allclose(out.asnumpy(), ref_resize(xf, shape[1], shape[0]), atol=2e-3)
    xu = img()
    outu = T.Resize(size)(xu).asnumpy()
    assert outu.dtype == np.uint8
    ref = np.clip(np.floor(ref_resize(xu, shape[1], shape[0]) + 0.5), 0, 255)
    assert np.abs(outu.astype(int) - ref).max() <= 1


@settings(max_examples=25, deadline=None)
@given(h=st.integers(1, 9), w=st.integers(1, 9), ho=st.integers(1, 12), wo=st.integers(1, 12),
       nearest=st.booleans())
def test_resize_any_shape(h, w, ho, wo, nearest):
    x = np.random.default_rng(h * 31 + w).random((h, w, 2)).astype(np.float32)
    out = T.Resize((wo, ho), interpolation=0 if nearest else 1)(x).asnumpy()
    np.testing.assert_allclose(out, ref_resize(x, wo, ho, nearest), atol=1e-5)


def test_resize_keep_ratio_batches_and_errors():
    x = img(h=6, w=12)
    assert T.Resize(3, keep_ratio=True)(x).shape == (3, 6, 3)
    assert T.Resize(4, keep_ratio=True)(img(h=10, w=4)).shape == (10, 4, 3)
    xb = img(n=3, h=6, w=5).astype(np.float32)
    out = T.Resize((4, 8))(xb).asnumpy()
    for i in range(3):
        np.testing.assert_allclose(out[i], ref_resize(xb[i], 4, 8), atol=1e-3)
    np.testing.assert_array_equal(T.Resize((5, 6))(x[:6, :5]).asnumpy(), x[:6, :5])
    with pytest.raises(HybridnetValueError, match="unknown interpolation 7"):
        T.Resize(3, interpolation=7)(x)
    with pytest.warns(UserWarning, match="interpolation=2 .* using bilinear"):
        T.Resize(3, interpolation=2)(x)
    with pytest.raises(ShapeError, match=r"Resize: expects an image .* got shape \(6,\)"):
        T.Resize(3)(np.zeros(6))


def test_center_crop_and_upsampling():
    x = img(h=8, w=7)
    np.testing.assert_array_equal(T.CenterCrop((3, 4))(x).asnumpy(), x[2:6, 2:5])
    np.testing.assert_array_equal(T.CenterCrop(5)(x).asnumpy(), x[1:6, 1:6])
    small = img(h=4, w=4).astype(np.float32)
    np.testing.assert_allclose(T.CenterCrop(6)(small).asnumpy(), ref_resize(small, 6, 6),
                               atol=1e-3)


def test_random_crop_with_padding_follows_the_seeded_generator():
    x = img(h=6, w=5)
    for seed in range(5):
        mx.random.seed(seed)
        out = T.RandomCrop((3, 4), pad=2)(x).asnumpy()
        rng = np.random.default_rng(seed)
        padded = np.pad(x, ((2, 2), (2, 2), (0, 0)))
        x0, y0 = rng.integers(0, 9 - 3 + 1), rng.integers(0, 10 - 4 + 1)
        np.testing.assert_array_equal(out, padded[y0:y0 + 4, x0:x0 + 3])
    mx.random.seed(0)
    assert T.RandomCrop(8)(x).shape == (8, 8, 3)  # smaller than the crop: upsampled


def test_random_resized_crop_is_a_resized_window():
    x = (img(h=20, w=16).astype(np.float32))
    for seed in range(6):
        mx.random.seed(seed)
        out = T.RandomResizedCrop((6, 5), scale=(0.2, 1.0))(x).asnumpy()
        rng = np.random.default_rng(seed)
        for _ in range(10):
            area = rng.uniform(0.2, 1.0) * 320
            ratio = np.exp(rng.uniform(np.log(3 / 4), np.log(4 / 3)))
            w, h = int(round(np.sqrt(area * ratio))), int(round(np.sqrt(area / ratio)))
            if w <= 16 and h <= 20:
                x0, y0 = rng.integers(0, 16 - w + 1), rng.integers(0, 20 - h + 1)
                break
        assert out.shape == (5, 6, 3)
        np.testing.assert_allclose(out, ref_resize(x[y0:y0 + h, x0:x0 + w], 6, 5), atol=1e-3)


@pytest.mark.parametrize("cls,axis", [(T.RandomFlipLeftRight, 1), (T.RandomFlipTopBottom, 0)])
def test_random_flips(cls, axis):
    x = img()
    mx.random.seed(3)
    rng = np.random.default_rng(3)
    flipped = 0
    for _ in range(20):
        out = cls()(nd.array(x, dtype="uint8")).asnumpy()
        flip = rng.random() < 0.5
        flipped += flip
        np.testing.assert_array_equal(out, np.flip(x, axis) if flip else x)
    assert 0 < flipped < 20


def test_random_brightness_and_contrast():
    x = img()
    mx.random.seed(4)
    rng = np.random.default_rng(4)
    out = T.RandomBrightness(0.5)(x).asnumpy()
    a = rng.uniform(0.5, 1.5)
    np.testing.assert_array_equal(out, np.clip(x.astype(np.float32) * np.float32(a), 0, 255)
                                  .astype(np.uint8))
    out = T.RandomContrast(0.5)(x).asnumpy()
    a = rng.uniform(0.5, 1.5)
    gray = (x.astype(np.float64) @ [0.299, 0.587, 0.114]).mean()
    ref = np.clip(x.astype(np.float64) * a + gray * (1 - a), 0, 255)
    assert np.abs(out.astype(np.float64) - ref).max() <= 1.0
