"""Vision datasets: MNIST, FashionMNIST, CIFAR10, CIFAR100 (Gluon 1.x semantics).

Each sample is ``(image, label)``: an (H, W, C) uint8 NDArray and an int32
label. The files are read from ``root`` (default
``$HYBRIDNET_HOME/datasets/<name>``); missing files are downloaded from the
standard mirrors when ``download=True`` and the network is reachable, else
the error says which files to put in which folder.
"""
import os
import tarfile

import numpy as np

from ....base import HybridnetIOError
from ....ndarray.io import atomic_write
from ....ndarray.ndarray import wrap
from .. import _download
from ..dataset import Dataset
from ._formats import read_cifar, read_idx

__all__ = ["MNIST", "FashionMNIST", "CIFAR10", "CIFAR100"]


class _DownloadedDataset(Dataset):
    """Images and labels held in memory after reading (or fetching) the files once."""

    _name = None  # display name and default folder
    _folder = None
    _hint = ""

    def __init__(self, root, transform, download=True):
        self._root = os.path.expanduser(root if root is not None
                                        else _download.default_root(self._folder))
        self._transform = transform
        self._download = download
        self._get_data()
        self._images = self._data._data  # NumPy view for the batch path

    def __len__(self):
        return len(self._label)

    def __getitem__(self, idx):
        img = wrap(self._images[idx])
        if self._transform is not None:
            return self._transform(img, self._label[idx])
        return img, self._label[idx]

    def _get_batch(self, indices):
        if self._transform is not None:
            return NotImplemented
        idx = np.asarray(indices, dtype=np.intp)
        return [wrap(self._images[idx]), wrap(self._label[idx])]

    # ---- locating / fetching files -------------------------------------------------
    def _find(self, names, folders=("",)):
        """Map each name to an existing path (``x.gz`` may also be present as ``x``)."""
        found, missing = {}, []
        for name in names:
            cands = [name] + ([name[:-3]] if name.endswith(".gz") else [])
            paths = [os.path.join(self._root, sub, c) for sub in folders for c in cands]
            hit = next((p for p in paths if os.path.isfile(p)), None)
            if hit is None:
                missing.append(name)
            else:
                found[name] = hit
        return found, missing

    def _missing_error(self, missing, reason, urls):
        where = ", ".join(urls[:1]) if urls else "the dataset's website"
        raise HybridnetIOError(
            f"{self._name}: missing file(s) {', '.join(missing)} in folder {self._root!r} "
            f"({reason}). Put these files there{self._hint}, e.g. from {where}, or pass "
            f"root=<folder that holds them>")

    def _fetch(self, missing, urls_of, sha1_of, display=None):
        """Download the missing files, or raise the clear "put them here" error."""
        display = display or missing
        if not self._download:
            self._missing_error(display, "download=False", urls_of(missing[0]))
        if not _download.downloads_allowed():
            self._missing_error(display, "HYBRIDNET_OFFLINE is set", urls_of(missing[0]))
        for name in missing:
            try:
                _download.download(urls_of(name), os.path.join(self._root, name),
                                   sha1_hash=sha1_of(name))
            except _download.DownloadError as e:
                self._missing_error(display, f"download failed: {e}", urls_of(name))


def _mirror_urls(bases, name):
    return [b + name for b in bases]


class MNIST(_DownloadedDataset):
    """MNIST handwritten digits (http://yann.lecun.com/exdb/mnist).

    Each sample is an image (28, 28, 1) uint8 NDArray and an int32 label.

    Parameters
    ----------
    root : str, default ``$HYBRIDNET_HOME/datasets/mnist``
        Folder holding ``train-images-idx3-ubyte(.gz)`` etc.
    train : bool, default True
        Training (60,000) or test (10,000) set.
    transform : callable, optional
        Deprecated in Gluon: ``transform(image, label) -> sample``; prefer
        ``dataset.transform_first(...)``.
    download : bool, default True
        Fetch missing files from the mirrors (checksum-verified).
    """

    _name, _folder, _namespace = "MNIST", "mnist", "mnist"
    _hint = " (gzipped or not)"
    _files = {
        "train-images-idx3-ubyte.gz": "6c95f4b05d2bf285e1bfb0e7960c31bd3b3f8a7d",
        "train-labels-idx1-ubyte.gz": "2a80914081dc54586dbdf242f9805a6b8d2a15fc",
        "t10k-images-idx3-ubyte.gz": "c3a25af1f52dad7f726cce8cacb138654b760d48",
        "t10k-labels-idx1-ubyte.gz": "763e7fa3757d93b0cdec073cef058b2004252c17",
    }
    _mirrors = ("https://ossci-datasets.s3.amazonaws.com/mnist/",
                "https://storage.googleapis.com/cvdf-datasets/mnist/")

    def __init__(self, root=None, train=True, transform=None, download=True):
        self._train = train
        super().__init__(root, transform, download)

    def _urls(self, name):
        base = _download.gluon_repo() + f"gluon/dataset/{self._namespace}/"
        return _mirror_urls((base,) + self._mirrors, name)

    def _get_data(self):
        prefix = "train" if self._train else "t10k"
        img_name, lbl_name = f"{prefix}-images-idx3-ubyte.gz", f"{prefix}-labels-idx1-ubyte.gz"
        found, missing = self._find([img_name, lbl_name])
        if missing:
            self._fetch(missing, self._urls, self._files.get)
            found, missing = self._find([img_name, lbl_name])
        labels = read_idx(found[lbl_name], 1)
        images = read_idx(found[img_name], 3)
        if images.shape[0] != labels.shape[0]:
            raise HybridnetIOError(
                f"{self._name}: {found[img_name]} holds {images.shape[0]} images but "
                f"{found[lbl_name]} holds {labels.shape[0]} labels; one of them is from a "
                "different set or damaged")
        self._data = wrap(images[..., None])  # (N, 28, 28, 1), like Gluon
        self._label = labels.astype(np.int32)


class FashionMNIST(MNIST):
    """Zalando's Fashion-MNIST: same format and API as ``MNIST``.

    ``root`` defaults to ``$HYBRIDNET_HOME/datasets/fashion-mnist``.
    """

    _name, _folder, _namespace = "FashionMNIST", "fashion-mnist", "fashion-mnist"
    _files = {
        "train-images-idx3-ubyte.gz": "0cf37b0d40ed5169c6b3aba31069a9770ac9043d",
        "train-labels-idx1-ubyte.gz": "236021d52f1e40852b06a4c3008d8de8aef1e40b",
        "t10k-images-idx3-ubyte.gz": "626ed6a7c06dd17c0eec72fa3be1740f146a2863",
        "t10k-labels-idx1-ubyte.gz": "17f9ab60e7257a1620f4ad76bbbaf857c3920701",
    }
    _mirrors = ("http://fashion-mnist.s3-website.eu-central-1.amazonaws.com/",)


class CIFAR10(_DownloadedDataset):
    """CIFAR-10 (https://www.cs.toronto.edu/~kriz/cifar.html), binary version.

    Each sample is a (32, 32, 3) uint8 NDArray and an int32 label. Reads
    ``data_batch_1.bin`` .. ``data_batch_5.bin`` / ``test_batch.bin`` from
    ``root`` or ``root/cifar-10-batches-bin``; never the pickled Python version.

    Parameters
    ----------
    root : str, default ``$HYBRIDNET_HOME/datasets/cifar10``
    train : bool, default True
    transform : callable, optional
        Deprecated ``transform(image, label)``.
    download : bool, default True
    """

    _name, _folder, _namespace = "CIFAR10", "cifar10", "cifar10"
    _subdir = "cifar-10-batches-bin"
    _hint = " (or in its cifar-10-batches-bin/ subfolder)"
    _archive = ("cifar-10-binary.tar.gz", "fab780a1e191a7eda0f345501ccd62d20f7ed891")
    _mirrors = ("https://www.cs.toronto.edu/~kriz/",)
    _train_files = [("data_batch_1.bin", "aadd24acce27caa71bf4b10992e9e7b2d74c2540"),
                    ("data_batch_2.bin", "c0ba65cce70568cd57b4e03e9ac8d2a5367c1795"),
                    ("data_batch_3.bin", "1dd00a74ab1d17a6e7d73e185b69dbf31242f295"),
                    ("data_batch_4.bin", "aab85764eb3584312d3c7f65fd2fd016e36a258e"),
                    ("data_batch_5.bin", "26e2849e66a845b7f1e4614ae70f4889ae604628")]
    _test_files = [("test_batch.bin", "67eb016db431130d61cd03c7ad570b013799c88c")]
    _label_bytes, _num_classes = 1, 10

    def __init__(self, root=None, train=True, transform=None, download=True):
        self._train = train
        super().__init__(root, transform, download)

    def _label_index(self):
        return 0

    def _get_data(self):
        files = self._train_files if self._train else self._test_files
        names = [n for n, _ in files]
        found, missing = self._find(names, ("", self._subdir))
        if missing:
            self._fetch_archive(missing)
            found, missing = self._find(names, ("", self._subdir))
        parts = [read_cifar(found[n], self._label_bytes, self._label_index(),
                            self._num_classes) for n in names]
        self._data = wrap(np.concatenate([p[0] for p in parts]))
        self._label = np.concatenate([p[1] for p in parts])

    def _fetch_archive(self, missing):
        arch, sha1 = self._archive
        urls = _mirror_urls((_download.gluon_repo() + f"gluon/dataset/{self._namespace}/",)
                            + self._mirrors, arch)
        path = os.path.join(self._root, arch)
        if not os.path.isfile(path):
            self._fetch([arch], lambda _: urls, lambda _: sha1,
                        display=missing + [f"(or the archive {arch} that holds them)"])
        wanted = {n: s for n, s in self._train_files + self._test_files}
        try:
            with tarfile.open(path, "r:gz") as tar:
                for m in tar.getmembers():
                    base = os.path.basename(m.name)
                    if m.isfile() and base in wanted:  # only the known names: no path games
                        payload = tar.extractfile(m).read()
                        atomic_write(os.path.join(self._root, base), payload)
        except (tarfile.TarError, EOFError, OSError) as e:
            raise HybridnetIOError(f"{self._name}: cannot unpack {path} ({e}); delete it and "
                                   "try again") from None
        found, still = self._find(missing, ("", self._subdir))
        if still:
            self._missing_error(still, f"not inside {path}", urls)
        for name in missing:
            if not _download.check_sha1(found[name], wanted[name]):
                raise HybridnetIOError(f"{self._name}: {found[name]} from {path} fails its "
                                       "SHA-1 check; delete both and try again")


class CIFAR100(CIFAR10):
    """CIFAR-100, binary version (``train.bin`` / ``test.bin`` in ``cifar-100-binary``).

    Parameters
    ----------
    root : str, default ``$HYBRIDNET_HOME/datasets/cifar100``
    fine_label : bool, default False
        100 fine classes (True) or 20 coarse super-classes (False).
    train : bool, default True
    transform : callable, optional
    download : bool, default True
    """

    _name, _folder, _namespace = "CIFAR100", "cifar100", "cifar100"
    _subdir = "cifar-100-binary"
    _hint = " (or in its cifar-100-binary/ subfolder)"
    _archive = ("cifar-100-binary.tar.gz", "a0bb982c76b83111308126cc779a992fa506b90b")
    _train_files = [("train.bin", "e207cd2e05b73b1393c74c7f5e7bea451d63e08e")]
    _test_files = [("test.bin", "8fb6623e830365ff53cf14adec797474f5478006")]
    _label_bytes = 2

    def __init__(self, root=None, fine_label=False, train=True, transform=None, download=True):
        self._fine_label = fine_label
        self._num_classes = 100 if fine_label else 20
        super().__init__(root, train, transform, download)

    def _label_index(self):
        return int(bool(self._fine_label))
