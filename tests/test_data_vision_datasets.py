"""MNIST / FashionMNIST / CIFAR readers on files the tests write; errors; downloads (no network)."""
import gzip
import hashlib
import io
import os
import socket
import struct
import tarfile
import urllib.error

import numpy as np
import pytest

from hybridnet import nd
from hybridnet.base import HybridnetIOError
from hybridnet.gluon.data import DataLoader, _download
from hybridnet.gluon.data.vision import CIFAR10, CIFAR100, MNIST, FashionMNIST
from hybridnet.gluon.data.vision import transforms as T


@pytest.fixture(autouse=True)
def no_network(monkeypatch):
    """Every test runs offline: the one network entry point raises like a DNS failure."""
    def offline(url, timeout):
        raise urllib.error.URLError(socket.gaierror(-2, "Name or service not known"))
    monkeypatch.setattr(_download, "fetch_url", offline)
    monkeypatch.delenv("HYBRIDNET_OFFLINE", raising=False)


def idx_bytes(arr):
    arr = np.asarray(arr, dtype=np.uint8)
    return struct.pack(">HBB", 0, 8, arr.ndim) + struct.pack(f">{arr.ndim}I", *arr.shape) \
        + arr.tobytes()


def write(path, payload, gz):
    if gz:
        path = str(path) + ".gz"
        payload = gzip.compress(payload)
    with open(path, "wb") as f:
        f.write(payload)
    return path


def mnist_files(root, n=7, prefix="train", gz=True, seed=0):
    rng = np.random.default_rng(seed)
    imgs = rng.integers(0, 256, (n, 28, 28), dtype=np.uint8)
    lbls = rng.integers(0, 10, n).astype(np.uint8)
    write(os.path.join(root, f"{prefix}-images-idx3-ubyte"), idx_bytes(imgs), gz)
    write(os.path.join(root, f"{prefix}-labels-idx1-ubyte"), idx_bytes(lbls), gz)
    return imgs, lbls


@pytest.mark.parametrize("gz", [True, False])
@pytest.mark.parametrize("cls,train", [(MNIST, True), (MNIST, False), (FashionMNIST, True)])
def test_mnist_reads_what_was_written(tmp_path, gz, cls, train):
    imgs, lbls = mnist_files(tmp_path, prefix="train" if train else "t10k", gz=gz)
    ds = cls(root=str(tmp_path), train=train)
    assert len(ds) == 7
    img, lbl = ds[3]
    assert isinstance(img, nd.NDArray) and img.shape == (28, 28, 1) and img.dtype == np.uint8
    assert isinstance(lbl, np.int32) and lbl == lbls[3]
    np.testing.assert_array_equal(img.asnumpy()[..., 0], imgs[3])
    data, label = next(iter(DataLoader(ds, batch_size=7)))
    np.testing.assert_array_equal(data.asnumpy()[..., 0], imgs)
    assert label.dtype == np.int32
    np.testing.assert_array_equal(label.asnumpy(), lbls)


def test_issue_pipeline_runs_as_written(tmp_path):
    imgs, lbls = mnist_files(tmp_path, n=300)
    train = MNIST(root=str(tmp_path), train=True).transform_first(
        T.Compose([T.ToTensor(), T.Normalize(0.13, 0.31)]))
    loader = DataLoader(train, batch_size=128, shuffle=True, num_workers=4)
    seen = []
    for data, label in loader:
        assert data.dtype == np.float32 and data.shape[1:] == (1, 28, 28)
        seen.append(label.asnumpy())
    assert [len(s) for s in seen] == [128, 128, 44]
    assert sorted(np.concatenate(seen)) == sorted(lbls)


def test_deprecated_transform_argument(tmp_path):
    mnist_files(tmp_path)
    ds = MNIST(root=str(tmp_path), transform=lambda d, l: (d.astype("float32") / 255, l + 100))
    d, lbl = ds[0]
    assert d.dtype == np.float32 and lbl >= 100
    assert next(iter(DataLoader(ds, batch_size=3)))[0].dtype == np.float32


def test_default_root_under_hybridnet_home(tmp_path, monkeypatch):
    monkeypatch.setenv("HYBRIDNET_HOME", str(tmp_path))
    root = tmp_path / "datasets" / "fashion-mnist"
    root.mkdir(parents=True)
    mnist_files(root, prefix="t10k", gz=False)
    assert len(FashionMNIST(train=False)) == 7
    assert _download.default_root("mnist") == os.path.join(str(tmp_path), "datasets", "mnist")


@pytest.mark.parametrize("damage,gz,match", [
    (lambda b: b[:-5], False, "promises 784 bytes but the file holds only 779|header says"),
    (lambda b: b[:-5], True, "promises 5488 bytes but the file holds only 5483"),
    (lambda b: b + b"\0", False, "file has 5505 bytes"),
    (lambda b: b + b"\0", True, "extra bytes after"),
    (lambda b: b"\x00\x00\x08\x01" + b[4:], False, "bad IDX magic number 0x00000801"),
    (lambda b: b[:2], False, "too short for an IDX header"),
])
def test_damaged_idx_files_are_clear_errors(tmp_path, damage, gz, match):
    rng = np.random.default_rng(0)
    imgs = rng.integers(0, 256, (7, 28, 28), dtype=np.uint8)
    write(tmp_path / "train-images-idx3-ubyte", damage(idx_bytes(imgs)), gz)
    write(tmp_path / "train-labels-idx1-ubyte", idx_bytes(np.zeros(7)), gz)
    with pytest.raises(HybridnetIOError, match=match) as info:
        MNIST(root=str(tmp_path))
    assert "train-images-idx3-ubyte" in str(info.value) and "corrupt" in str(info.value)


def test_truncated_gzip_stream_and_count_mismatch(tmp_path):
    payload = gzip.compress(idx_bytes(np.zeros((7, 28, 28))))
    (tmp_path / "train-images-idx3-ubyte.gz").write_bytes(payload[:len(payload) // 2])
    write(tmp_path / "train-labels-idx1-ubyte", idx_bytes(np.zeros(7)), True)
    with pytest.raises(HybridnetIOError, match="train-images-idx3-ubyte.gz: .*(damaged|holds)"):
        MNIST(root=str(tmp_path))
    write(tmp_path / "train-images-idx3-ubyte", idx_bytes(np.zeros((6, 28, 28))), True)
    with pytest.raises(HybridnetIOError, match="holds 6 images but .* holds 7 labels"):
        MNIST(root=str(tmp_path))


def test_missing_files_offline_name_files_and_folder(tmp_path):
    with pytest.raises(HybridnetIOError) as info:
        MNIST(root=str(tmp_path / "mnist"))
    msg = str(info.value)
    assert "train-images-idx3-ubyte.gz" in msg and "train-labels-idx1-ubyte.gz" in msg
    assert str(tmp_path / "mnist") in msg and "no mirror reachable" in msg
    assert not (tmp_path / "mnist" / "train-images-idx3-ubyte.gz").exists()
    with pytest.raises(HybridnetIOError, match="t10k-labels.*download=False"):
        MNIST(root=str(tmp_path), train=False, download=False)


def test_offline_env_var_skips_the_network(tmp_path, monkeypatch):
    monkeypatch.setenv("HYBRIDNET_OFFLINE", "1")
    monkeypatch.setattr(_download, "fetch_url", lambda *a: pytest.fail("network touched"))
    with pytest.raises(HybridnetIOError, match="HYBRIDNET_OFFLINE is set"):
        CIFAR10(root=str(tmp_path))


class FakeResponse(io.BytesIO):
    def __init__(self, payload):
        super().__init__(payload)
        self.headers = {"Content-Length": str(len(payload))}


class Dropping(FakeResponse):
    def read(self, n=-1):
        if self.tell() > 10:
            raise ConnectionResetError("connection reset by peer")
        return super().read(11)


def test_download_verifies_checksum_retries_and_writes_atomically(tmp_path, monkeypatch):
    rng = np.random.default_rng(1)
    files = {"train-images-idx3-ubyte.gz": gzip.compress(idx_bytes(
        rng.integers(0, 256, (3, 28, 28)))),
        "train-labels-idx1-ubyte.gz": gzip.compress(idx_bytes([1, 2, 3]))}
    sums = {k: hashlib.sha1(v).hexdigest() for k, v in files.items()}
    monkeypatch.setattr(MNIST, "_files", sums)
    monkeypatch.setattr(_download.time, "sleep", lambda s: None)
    calls = []

    def flaky(url, timeout):
        calls.append(url)
        name = url.rsplit("/", 1)[1]
        if len(calls) == 1:
            raise urllib.error.HTTPError(url, 503, "busy", {}, None)
        if len(calls) == 2:
            return FakeResponse(files[name][:-3] + b"bad")  # corrupt: checksum fails
        if len(calls) == 3:
            return Dropping(files[name])  # connection lost mid-transfer
        return FakeResponse(files[name])

    monkeypatch.setattr(_download, "fetch_url", flaky)
    ds = MNIST(root=str(tmp_path / "m"))
    np.testing.assert_array_equal(ds._label, [1, 2, 3])
    assert sorted(os.listdir(tmp_path / "m")) == sorted(files)  # no temp files left
    assert len(calls) == 5 and "gluon/dataset/mnist/" in calls[0]


def test_download_that_keeps_failing_checksum_is_an_error(tmp_path, monkeypatch):
    monkeypatch.setattr(_download.time, "sleep", lambda s: None)
    monkeypatch.setattr(_download, "fetch_url", lambda url, timeout: FakeResponse(b"junk"))
    with pytest.raises(HybridnetIOError, match="SHA-1 .* does not match"):
        MNIST(root=str(tmp_path))
    assert os.listdir(tmp_path) == []


# ---- CIFAR --------------------------------------------------------------------------
def cifar_records(n, rng, label_bytes=1, classes=10):
    labels = rng.integers(0, classes, (n, label_bytes)).astype(np.uint8)
    chw = rng.integers(0, 256, (n, 3, 32, 32), dtype=np.uint8)
    raw = np.concatenate([labels, chw.reshape(n, -1)], axis=1).tobytes()
    return raw, chw.transpose(0, 2, 3, 1), labels


@pytest.mark.parametrize("sub", ["", "cifar-10-batches-bin"])
def test_cifar10_reads_what_was_written(tmp_path, sub):
    rng = np.random.default_rng(2)
    folder = tmp_path / sub
    folder.mkdir(exist_ok=True)
    imgs, lbls = [], []
    for i in range(1, 6):
        raw, hwc, lab = cifar_records(i, rng)
        (folder / f"data_batch_{i}.bin").write_bytes(raw)
        imgs.append(hwc)
        lbls.append(lab[:, 0])
    raw, test_hwc, test_lab = cifar_records(4, rng)
    (folder / "test_batch.bin").write_bytes(raw)
    ds = CIFAR10(root=str(tmp_path))
    assert len(ds) == 15
    img, lbl = ds[14]
    assert img.shape == (32, 32, 3) and img.dtype == np.uint8 and isinstance(lbl, np.int32)
    np.testing.assert_array_equal(ds._data.asnumpy(), np.concatenate(imgs))
    np.testing.assert_array_equal(ds._label, np.concatenate(lbls))
    test = CIFAR10(root=str(tmp_path), train=False)
    np.testing.assert_array_equal(test[2][0].asnumpy(), test_hwc[2])
    assert test[3][1] == test_lab[3, 0]


def test_cifar100_fine_and_coarse(tmp_path):
    rng = np.random.default_rng(3)
    raw, hwc, lab = cifar_records(5, rng, label_bytes=2, classes=20)
    (tmp_path / "train.bin").write_bytes(raw)
    coarse = CIFAR100(root=str(tmp_path))
    fine = CIFAR100(root=str(tmp_path), fine_label=True)
    np.testing.assert_array_equal(coarse._label, lab[:, 0])
    np.testing.assert_array_equal(fine._label, lab[:, 1])
    np.testing.assert_array_equal(fine[4][0].asnumpy(), hwc[4])


def test_cifar_damage_and_missing(tmp_path):
    rng = np.random.default_rng(4)
    for i in range(1, 6):
        (tmp_path / f"data_batch_{i}.bin").write_bytes(cifar_records(2, rng)[0])
    (tmp_path / "data_batch_3.bin").write_bytes(cifar_records(2, rng)[0][:-1])
    with pytest.raises(HybridnetIOError, match="data_batch_3.bin: 6145 bytes is not a whole"):
        CIFAR10(root=str(tmp_path))
    raw = bytearray(cifar_records(2, rng)[0])
    raw[3073] = 200  # second record's label byte
    (tmp_path / "data_batch_3.bin").write_bytes(bytes(raw))
    with pytest.raises(HybridnetIOError, match="record 1 has label 200"):
        CIFAR10(root=str(tmp_path))
    os.remove(tmp_path / "data_batch_3.bin")
    with pytest.raises(HybridnetIOError, match="missing file.*data_batch_3.bin.*cifar-10-binary"):
        CIFAR10(root=str(tmp_path))


def test_cifar_archive_is_unpacked_safely(tmp_path, monkeypatch):
    rng = np.random.default_rng(5)
    buf = io.BytesIO()
    wanted = {}
    with tarfile.open(fileobj=buf, mode="w:gz") as tar:
        for name in [f"data_batch_{i}.bin" for i in range(1, 6)] + ["test_batch.bin",
                                                                    "../evil.bin"]:
            raw = cifar_records(1, rng)[0]
            wanted[os.path.basename(name)] = hashlib.sha1(raw).hexdigest()
            info = tarfile.TarInfo("cifar-10-batches-bin/" + name if "evil" not in name
                                   else name)
            info.size = len(raw)
            tar.addfile(info, io.BytesIO(raw))
    payload = buf.getvalue()
    monkeypatch.setattr(CIFAR10, "_archive", ("cifar-10-binary.tar.gz",
                                              hashlib.sha1(payload).hexdigest()))
    monkeypatch.setattr(CIFAR10, "_train_files", [(f"data_batch_{i}.bin",
                                                   wanted[f"data_batch_{i}.bin"])
                                                  for i in range(1, 6)])
    monkeypatch.setattr(CIFAR10, "_test_files", [("test_batch.bin", wanted["test_batch.bin"])])
    monkeypatch.setattr(_download, "fetch_url", lambda url, timeout: FakeResponse(payload))
    root = tmp_path / "c"
    assert len(CIFAR10(root=str(root))) == 5 and len(CIFAR10(root=str(root), train=False)) == 1
    assert not (tmp_path / "evil.bin").exists() and not (root / "evil.bin").exists()
