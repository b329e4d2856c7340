"""``nd.save`` / ``nd.load``: a documented binary format, never pickle.

File layout (little endian)::

    magic    8 bytes  b"HYBNDv1\\0"
    kind     u8       0 = list, 1 = dict
    count    u64      number of arrays
    per array:
      name_len u32, name utf-8 (empty for lists)
      dtype_len u8, dtype name ascii ("float32", ...)
      ndim u8, dims u64 * ndim
      nbytes u64, raw C-order data

Every size is checked against the header and the file length before any
allocation; saving writes a temporary file in the same folder, fsyncs it and
renames it over the target, so a crash never leaves a half-written file.
"""
import os
import struct
import tempfile

import numpy as np

from ..base import HybridnetIOError, normalize_dtype
from .ndarray import NDArray, wrap

MAGIC = b"HYBNDv1\0"
MAX_NDIM = 32
__all__ = ["save", "load", "atomic_write", "encode_arrays", "decode_arrays"]

# mkstemp creates files readable by the owner only; saved files get the usual
# permissions instead (read once at import: os.umask can only be read by setting it).
_UMASK = os.umask(0o022)
os.umask(_UMASK)


def atomic_write(fname, payload):
    """Write bytes to ``fname`` atomically (temp file + fsync + rename)."""
    fname = os.fspath(fname)
    folder = os.path.dirname(os.path.abspath(fname))
    fd, tmp = tempfile.mkstemp(prefix=".tmp-", dir=folder)
    try:
        with os.fdopen(fd, "wb") as f:
            f.write(payload)
            f.flush()
            os.fsync(f.fileno())
        os.chmod(tmp, 0o666 & ~_UMASK)
        os.replace(tmp, fname)
    except BaseException:
        if os.path.exists(tmp):
            os.unlink(tmp)
        raise


def encode_arrays(data):
    """Bytes of a list/dict of arrays in the format above."""
    if isinstance(data, NDArray):
        data = [data]
    if isinstance(data, dict):
        kind, items = 1, list(data.items())
    elif isinstance(data, (list, tuple)):
        kind, items = 0, [("", a) for a in data]
    else:
        raise TypeError("nd.save: data must be an NDArray, a list of NDArrays or a dict "
                        f"str -> NDArray, got {type(data).__name__}")
    parts = [MAGIC, struct.pack("<BQ", kind, len(items))]
    for name, a in items:
        if not isinstance(name, str):
            raise TypeError(f"nd.save: dict keys must be str, got {type(name).__name__}")
        # not np.ascontiguousarray: it turns a 0-d array into shape (1,)
        arr = np.asarray(a.asnumpy() if isinstance(a, NDArray) else a, order="C")
        normalize_dtype(arr.dtype)   # refuse what load() could not read back (DTypeError)
        nb = name.encode()
        dt = arr.dtype.name.encode()
        parts += [struct.pack("<I", len(nb)), nb, struct.pack("<B", len(dt)), dt,
                  struct.pack("<B", arr.ndim), struct.pack(f"<{arr.ndim}Q", *arr.shape),
                  struct.pack("<Q", arr.nbytes), arr.tobytes()]
    return b"".join(parts)


def save(fname, data):
    """Save an NDArray, a list of NDArrays or a dict of str -> NDArray to ``fname``."""
    atomic_write(fname, encode_arrays(data))


def decode_arrays(buf, source="<bytes>"):
    """Parse bytes written by ``encode_arrays``; returns a list or dict of NumPy arrays."""
    def fail(why):
        raise HybridnetIOError(f"nd.load: {source} is not a valid hybridnet array file "
                               f"({why}); it may be truncated or corrupt — save it again"
                               ) from None   # the struct/NumPy detail is in the message
    mv = memoryview(buf)
    if bytes(mv[:8]) != MAGIC:
        fail("bad magic header")
    pos = 8

    def take(n):
        nonlocal pos
        if n < 0 or pos + n > len(mv):
            fail(f"needs {n} bytes at offset {pos}, file has {len(mv)}")
        out = mv[pos:pos + n]
        pos += n
        return out
    kind, count = struct.unpack("<BQ", take(9))
    if kind not in (0, 1):
        fail(f"unknown container kind {kind}")
    items = []
    for _ in range(count):
        (nlen,) = struct.unpack("<I", take(4))
        try:
            name = bytes(take(nlen)).decode("utf-8", errors="strict")
        except UnicodeDecodeError:
            fail(f"array {len(items)} has a name that is not UTF-8")
        (dlen,) = struct.unpack("<B", take(1))
        dname = bytes(take(dlen))
        try:
            dt = normalize_dtype(dname.decode("ascii"))
        except Exception:
            fail(f"unknown dtype {dname!r}")
        (ndim,) = struct.unpack("<B", take(1))
        if ndim > MAX_NDIM:
            fail(f"array {name or len(items)} claims {ndim} dimensions (at most {MAX_NDIM})")
        shape = struct.unpack(f"<{ndim}Q", take(8 * ndim))
        (nbytes,) = struct.unpack("<Q", take(8))
        expect = dt.itemsize   # Python ints: a lying header cannot overflow the check
        for d in shape:
            expect *= d
        if nbytes != expect:
            fail(f"array {name or len(items)} header says {nbytes} bytes for shape {shape}")
        arr = np.frombuffer(take(nbytes), dtype=dt).reshape(shape).copy()
        items.append((name, arr))
    if pos != len(mv):
        fail(f"{len(mv) - pos} trailing bytes")
    return dict(items) if kind == 1 else [a for _, a in items]


def load(fname):
    """Load arrays saved by ``nd.save``: a list or a dict of NDArrays."""
    fname = os.fspath(fname)
    if not os.path.isfile(fname):
        raise HybridnetIOError(f"nd.load: no such file {fname!r}; check the path "
                               "(files are written by hybridnet.nd.save)")
    with open(fname, "rb") as f:
        buf = f.read()
    res = decode_arrays(buf, repr(fname))
    if isinstance(res, dict):
        return {k: wrap(v) for k, v in res.items()}
    return [wrap(v) for v in res]
