"""Parsers for the dataset file formats: IDX (MNIST family) and CIFAR binary records.

Both formats are parsed explicitly (never pickle). Sizes come from the header
(IDX) or the record size (CIFAR) and are checked against the bytes actually
present before anything is reshaped, so a truncated, padded or corrupt file
is an error naming the file and the problem, never a silently short dataset.
"""
import gzip
import os
import struct
import zlib

import numpy as np

from ....base import HybridnetIOError

IDX_UBYTE = 0x08
_CHUNK = 1 << 24


def _fail(path, why):
    raise HybridnetIOError(f"{path}: {why}. The file is truncated or corrupt: delete it and "
                           "download it again (or put an intact copy in its place)")


def _open(path):
    return gzip.open(path, "rb") if path.endswith(".gz") else open(path, "rb")


def _read_exact(f, n, path, what):
    """Read exactly ``n`` bytes in chunks (memory grows with the data actually present)."""
    parts, got = [], 0
    while got < n:
        chunk = f.read(min(_CHUNK, n - got))
        if not chunk:
            break
        parts.append(chunk)
        got += len(chunk)
    if got != n:
        _fail(path, f"{what}: the header promises {n} bytes but the file holds only {got}")
    return b"".join(parts)


def read_idx(path, ndim):
    """Read an unsigned-byte IDX file with ``ndim`` dimensions; returns a uint8 array."""
    try:
        with _open(path) as f:
            head = f.read(4)
            if len(head) < 4:
                _fail(path, f"only {len(head)} bytes, too short for an IDX header")
            zero, dtype, nd = struct.unpack(">HBB", head)
            if zero != 0 or dtype != IDX_UBYTE or nd != ndim:
                _fail(path, f"bad IDX magic number 0x{head.hex()} (expected "
                            f"0x0000{IDX_UBYTE:02x}{ndim:02x}: unsigned bytes, {ndim} dims)")
            dims = struct.unpack(f">{ndim}I", _read_exact(f, 4 * ndim, path, "dimensions"))
            if any(d == 0 for d in dims[1:]):
                _fail(path, f"dimensions {dims} contain a zero")
            n = int(np.prod(dims, dtype=np.int64))
            if not path.endswith(".gz"):
                size = os.path.getsize(path)
                if size != 4 + 4 * ndim + n:
                    _fail(path, f"header says {dims} ({4 + 4 * ndim + n} bytes in all) but "
                                f"the file has {size} bytes")
            payload = _read_exact(f, n, path, f"data of shape {dims}")
            if f.read(1):
                _fail(path, f"extra bytes after the {n} data bytes of shape {dims}")
    except (EOFError, gzip.BadGzipFile, zlib.error) as e:
        _fail(path, f"gzip stream is damaged ({e})")
    return np.frombuffer(payload, dtype=np.uint8).reshape(dims)


CIFAR_PIXELS = 3 * 32 * 32


def read_cifar(path, label_bytes=1, label_index=0, num_classes=10):
    """Read a CIFAR binary batch: records of ``label_bytes`` labels + 3072 pixels.

    Returns (N, 32, 32, 3) uint8 images and int32 labels.
    """
    rec = label_bytes + CIFAR_PIXELS
    size = os.path.getsize(path)
    if size == 0 or size % rec:
        _fail(path, f"{size} bytes is not a whole number of {rec}-byte CIFAR records")
    with open(path, "rb") as f:
        raw = np.frombuffer(f.read(), dtype=np.uint8)
    if raw.size != size:
        _fail(path, f"read {raw.size} of {size} bytes")
    raw = raw.reshape(-1, rec)
    labels = raw[:, label_index].astype(np.int32)
    bad = labels >= num_classes
    if bad.any():
        i = int(np.argmax(bad))
        _fail(path, f"record {i} has label {labels[i]} (expected 0..{num_classes - 1}); "
                    "the records are misaligned or damaged")
    images = raw[:, label_bytes:].reshape(-1, 3, 32, 32).transpose(0, 2, 3, 1)
    return np.ascontiguousarray(images), labels
