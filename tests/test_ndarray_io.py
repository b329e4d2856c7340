"""nd.save / nd.load: round trips, the documented byte format, atomic saves, and clear
errors (never pickle, never a NumPy traceback) for missing, truncated or corrupt files."""
import os
import pickle
import struct

import numpy as np
import pytest

from hybridnet import nd
from hybridnet.base import HybridnetError, HybridnetIOError
from hybridnet.ndarray import io as ndio

ARRAYS = [np.arange(6, dtype=np.float32).reshape(2, 3),
          np.array([-1, 0, 7], dtype=np.int32),
          np.arange(24, dtype=np.uint8).reshape(2, 3, 4),
          np.array([0.1, 1e300], dtype=np.float64),
          np.array(3.5, dtype=np.float32),               # 0-d
          np.zeros((0, 4), dtype=np.float32),            # empty
          np.array([1, -2], dtype=np.int64),
          np.array([0.5], dtype=np.float16),
          np.array([True, False])]


def _check_same(got, want):
    assert isinstance(got, nd.NDArray)
    assert got.dtype == want.dtype.type and got.shape == want.shape
    np.testing.assert_array_equal(got.asnumpy(), want)


def _nd(a):
    return nd.array(a, dtype=a.dtype)


def test_list_round_trip_all_dtypes(tmp_path):
    fname = tmp_path / "list.nd"
    nd.save(str(fname), [_nd(a) for a in ARRAYS])
    got = nd.load(str(fname))
    assert isinstance(got, list) and len(got) == len(ARRAYS)
    for g, a in zip(got, ARRAYS):
        _check_same(g, a)


def test_dict_round_trip_keeps_names_and_order(tmp_path):
    fname = tmp_path / "dict.params"
    data = {f"layer{i}.w_é": _nd(a) for i, a in enumerate(ARRAYS)}
    nd.save(fname, data)                       # a path-like works too
    got = nd.load(fname)
    assert isinstance(got, dict) and list(got) == list(data)
    for k, a in zip(got, ARRAYS):
        _check_same(got[k], a)


def test_single_array_and_empty_containers(tmp_path):
    nd.save(tmp_path / "one", nd.ones((2, 2)))
    (one,) = nd.load(tmp_path / "one")
    _check_same(one, np.ones((2, 2), np.float32))
    nd.save(tmp_path / "empty_list", [])
    assert nd.load(tmp_path / "empty_list") == []
    nd.save(tmp_path / "empty_dict", {})
    assert nd.load(tmp_path / "empty_dict") == {}


def test_non_contiguous_array_saves_its_values(tmp_path):
    x = np.arange(12, dtype=np.float32).reshape(3, 4)
    nd.save(tmp_path / "t", [nd.array(x).T])
    _check_same(nd.load(tmp_path / "t")[0], np.ascontiguousarray(x.T))


def test_documented_byte_format(tmp_path):
    fname = tmp_path / "fmt"
    nd.save(fname, {"w": nd.array([[1, 2, 3]], dtype="int32")})
    raw = fname.read_bytes()
    want = (b"HYBNDv1\0" + struct.pack("<BQ", 1, 1)            # magic, dict, one array
            + struct.pack("<I", 1) + b"w"                      # name
            + struct.pack("<B", 5) + b"int32"                  # dtype
            + struct.pack("<B", 2) + struct.pack("<2Q", 1, 3)  # ndim, dims
            + struct.pack("<Q", 12) + np.array([1, 2, 3], "<i4").tobytes())
    assert raw == want
    nd.save(fname, [nd.zeros(2)])
    assert fname.read_bytes()[:17] == b"HYBNDv1\0" + struct.pack("<BQ", 0, 1)


def test_save_rejects_bad_containers(tmp_path):
    with pytest.raises(TypeError, match="nd.save: data must be"):
        nd.save(tmp_path / "x", "not arrays")
    with pytest.raises(TypeError, match="dict keys must be str"):
        nd.save(tmp_path / "x", {1: nd.ones(1)})
    assert not (tmp_path / "x").exists()


# ---- atomicity ------------------------------------------------------------------------------
def _only(tmp_path):
    return sorted(p.name for p in tmp_path.iterdir())


def test_failed_rename_keeps_old_file_and_removes_temp(tmp_path, monkeypatch):
    fname = tmp_path / "params"
    nd.save(fname, [nd.ones(3)])
    before = fname.read_bytes()

    def boom(src, dst):
        raise OSError("disk full")
    monkeypatch.setattr(ndio.os, "replace", boom)
    with pytest.raises(OSError, match="disk full"):
        nd.save(fname, [nd.zeros(1000)])
    assert fname.read_bytes() == before
    assert _only(tmp_path) == ["params"]


def test_failed_write_midway_keeps_old_file_and_removes_temp(tmp_path, monkeypatch):
    fname = tmp_path / "params"
    nd.save(fname, {"a": nd.ones(3)})
    before = fname.read_bytes()
    real_fdopen = os.fdopen

    class HalfWriter:
        """Writes half of the payload, then fails like a crash mid-save."""

        def __init__(self, f):
            self.f = f

        def write(self, b):
            self.f.write(b[:len(b) // 2])
            raise KeyboardInterrupt

        def __getattr__(self, name):
            return getattr(self.f, name)

        def __enter__(self):
            return self

        def __exit__(self, *exc):
            self.f.close()

    monkeypatch.setattr(ndio.os, "fdopen", lambda fd, mode: HalfWriter(real_fdopen(fd, mode)))
    with pytest.raises(KeyboardInterrupt):
        nd.save(fname, {"a": nd.zeros(1000)})
    assert fname.read_bytes() == before
    assert _only(tmp_path) == ["params"]
    monkeypatch.undo()
    _check_same(nd.load(fname)["a"], np.ones(3, np.float32))


def test_saved_file_is_not_owner_only(tmp_path):
    fname = tmp_path / "p"
    nd.save(fname, [nd.ones(1)])
    assert os.stat(fname).st_mode & 0o044 == 0o044 & ~ndio._UMASK


# ---- bad files ------------------------------------------------------------------------------
def test_missing_file_names_the_path(tmp_path):
    missing = tmp_path / "nope" / "model.params"
    with pytest.raises(HybridnetIOError, match=r"no such file.*nope/model\.params") as e:
        nd.load(missing)
    assert isinstance(e.value, HybridnetError) and isinstance(e.value, OSError)


def _valid_bytes():
    return ndio.encode_arrays({"weight": nd.arange(12).reshape((3, 4)),
                               "bias": nd.ones(3, dtype="int32")})


def _corruptions():
    raw = _valid_bytes()
    first_ndim = 8 + 9 + 4 + len("weight") + 1 + len("float32")  # offset of array 0's ndim
    nbytes_at = first_ndim + 1 + 16
    out = {"empty file": b"", "magic only": raw[:8], "bad magic": b"NOTMAGIC" + raw[8:],
           "pickle": pickle.dumps([np.ones(3)])}
    for cut in (9, 20, first_ndim + 3, len(raw) // 2, len(raw) - 1):
        out[f"truncated at {cut}"] = raw[:cut]
    out["trailing bytes"] = raw + b"\0"
    out["bad kind"] = raw[:8] + b"\x07" + raw[9:]
    out["count lies"] = raw[:9] + struct.pack("<Q", 3) + raw[17:]
    out["huge count"] = raw[:9] + struct.pack("<Q", 2 ** 63) + raw[17:]
    out["nbytes lies"] = raw[:nbytes_at] + struct.pack("<Q", 4 * 13) + raw[nbytes_at + 8:]
    out["huge nbytes"] = raw[:nbytes_at] + struct.pack("<Q", 2 ** 62) + raw[nbytes_at + 8:]
    # dims whose product overflows 64 bits to the stored byte count
    dims = struct.pack("<2Q", 2 ** 62, 4)   # 2**64 float32s: 2**66 bytes, 0 modulo 2**64
    out["overflowing dims"] = (raw[:first_ndim + 1] + dims + struct.pack("<Q", 0)
                               + raw[nbytes_at + 8 + 48:])
    out["too many dims"] = raw[:first_ndim] + b"\xff" + raw[first_ndim + 1:]
    out["bad dtype"] = raw.replace(b"float32", b"floatXX", 1)
    out["bad name utf-8"] = raw.replace(b"weight", b"\xff\xfeight", 1)
    return out


@pytest.mark.parametrize("case", sorted(_corruptions()))
def test_corrupt_file_is_a_clear_error(tmp_path, case):
    fname = tmp_path / "bad.params"
    fname.write_bytes(_corruptions()[case])
    with pytest.raises(HybridnetIOError, match=r"nd\.load: .*bad\.params.* is not a valid "
                                               r"hybridnet array file.*save it again"):
        nd.load(fname)


def test_valid_bytes_fixture_loads():
    got = ndio.decode_arrays(_valid_bytes())
    assert got["weight"].shape == (3, 4) and got["bias"].dtype == np.int32


def test_load_never_unpickles(tmp_path, monkeypatch):
    def forbidden(*a, **k):
        raise AssertionError("pickle used while loading")
    monkeypatch.setattr(pickle, "loads", forbidden)
    monkeypatch.setattr(pickle, "load", forbidden)
    monkeypatch.setattr(np, "load", forbidden)
    fname = tmp_path / "p"
    nd.save(fname, {"a": nd.ones(2)})
    assert list(nd.load(fname)) == ["a"]
    fname.write_bytes(pickle.dumps({"a": np.ones(2)}))
    with pytest.raises(HybridnetIOError, match="bad magic"):
        nd.load(fname)
    src = open(ndio.__file__).read()
    assert "pickle" not in src.replace("never pickle", "")
