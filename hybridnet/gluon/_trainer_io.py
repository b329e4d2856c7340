"""``Trainer.save_states`` / ``load_states``: a documented format, never pickle.

File layout (little endian)::

    magic    8 bytes  b"HYBTRv1\\0"
    hlen     u64      length of the JSON header
    header   hlen bytes of UTF-8 JSON (below)
    arrays   the rest of the file: an ``nd.save`` payload (a dict name -> array)
             holding every optimizer-state array

Header::

    {"format": "hybridnet-trainer-states", "version": 1,
     "optimizer": "Adam",                  # class name; must match on load
     "num_params": 4,                      # must match on load
     "optimizer_attrs": {"lr": 0.001, "num_update": 3, "wd": 0.0, ...},
     "index_update_count": [[0, 3], [1, 3], ...],
     "lr_scheduler": null or {"class": "FactorScheduler", "attrs": {"base_lr": ..., ...}},
     "states": [[param_index, spec], ...]}

``optimizer_attrs`` / scheduler ``attrs`` are the objects' scalar attributes
(numbers, strings, booleans, None, lists of those): hyper-parameters and counters.
A state ``spec`` is ``null``, ``{"array": key}`` (a key of the array payload),
``{"tuple": [spec, ...]}``, ``{"list": [spec, ...]}`` or ``{"value": scalar}``.

Loading parses the header with ``json`` and the arrays with
``hybridnet.ndarray.io.decode_arrays`` (sizes checked before allocation);
saving writes a temporary file, fsyncs it and renames it over ``fname``.
"""
import json
import os
import struct
import warnings

import numpy as np

from ..base import HybridnetIOError, HybridnetValueError, ShapeError
from ..context import cpu
from ..ndarray import io as nd_io
from ..ndarray.ndarray import NDArray, wrap

MAGIC = b"HYBTRv1\0"
FORMAT = "hybridnet-trainer-states"
_SKIP = object()


def _scalar(v):
    """``v`` as a JSON value when it is a scalar (or a list of scalars), else _SKIP."""
    if v is None or isinstance(v, (bool, int, float, str)):
        return v
    if isinstance(v, np.generic) and v.ndim == 0 and v.dtype.kind in "biuf":
        return v.item()
    if isinstance(v, (list, tuple)):
        items = [_scalar(x) for x in v]
        return _SKIP if any(x is _SKIP for x in items) else items
    return _SKIP


def _scalar_attrs(obj):
    out = {}
    for k, v in vars(obj).items():
        v = _scalar(v)
        if v is not _SKIP:
            out[k] = v
    return out


def _restore_attrs(obj, attrs):
    for k, v in attrs.items():
        cur = getattr(obj, k, _SKIP)
        if cur is _SKIP:
            continue
        if isinstance(cur, tuple) and isinstance(v, list):
            v = tuple(v)
        setattr(obj, k, v)


def _encode_state(state, arrays):
    if state is None:
        return None
    if isinstance(state, NDArray):
        key = f"s{len(arrays)}"
        arrays[key] = state
        return {"array": key}
    if isinstance(state, (tuple, list)):
        kind = "tuple" if isinstance(state, tuple) else "list"
        return {kind: [_encode_state(s, arrays) for s in state]}
    v = _scalar(state)
    if v is _SKIP:
        raise HybridnetValueError(f"Trainer.save_states: cannot store an optimizer state of type "
                                  f"{type(state).__name__} (only NDArrays, tuples and scalars)")
    return {"value": v}


def save_states(trainer, fname):
    opt = trainer._optimizer
    arrays = {}
    states = [[i, _encode_state(s, arrays)] for i, s in sorted(trainer._states.items())]
    sched = getattr(opt, "lr_scheduler", None)
    header = {
        "format": FORMAT, "version": 1, "optimizer": type(opt).__name__,
        "num_params": len(trainer._params),
        "optimizer_attrs": _scalar_attrs(opt),
        "index_update_count": sorted([int(k), int(v)] for k, v in
                                     getattr(opt, "_index_update_count", {}).items()
                                     if isinstance(k, (int, np.integer))),
        "lr_scheduler": None if sched is None else {"class": type(sched).__name__,
                                                    "attrs": _scalar_attrs(sched)},
        "states": states,
    }
    head = json.dumps(header).encode("utf-8")
    nd_io.atomic_write(fname, MAGIC + struct.pack("<Q", len(head)) + head
                       + nd_io.encode_arrays(arrays))


def _read(fname):
    fname = os.fspath(fname)
    source = repr(fname)
    if not os.path.isfile(fname):
        raise HybridnetIOError(f"Trainer.load_states: no such file {source}; it is written by "
                               "Trainer.save_states")
    with open(fname, "rb") as f:
        buf = f.read()

    def fail(why):
        raise HybridnetIOError(f"Trainer.load_states: {source} is not a valid trainer-states "
                               f"file ({why}); it may be truncated or corrupt — save it again")
    if buf[:8] != MAGIC:
        fail("bad magic header")
    if len(buf) < 16:
        fail("file too short")
    (hlen,) = struct.unpack("<Q", buf[8:16])
    if hlen > len(buf) - 16:
        fail(f"header length {hlen} exceeds the file size {len(buf)}")
    try:
        header = json.loads(buf[16:16 + hlen].decode("utf-8"))
    except (UnicodeDecodeError, ValueError):
        fail("unreadable JSON header")
    if not isinstance(header, dict) or header.get("format") != FORMAT:
        fail("not a hybridnet trainer-states header")
    if header.get("version") != 1:
        fail(f"unsupported version {header.get('version')!r}")
    arrays = nd_io.decode_arrays(buf[16 + hlen:], source)
    if not isinstance(arrays, dict):
        fail("the array payload is not a dict")
    return header, arrays, fail


def _decode_state(spec, arrays, ctx, fail):
    if spec is None:
        return None
    if not isinstance(spec, dict) or len(spec) != 1:
        fail(f"bad state entry {spec!r}")
    (kind, val), = spec.items()
    if kind == "array":
        if val not in arrays:
            fail(f"state array {val!r} missing")
        return wrap(arrays[val], ctx)
    if kind in ("tuple", "list") and isinstance(val, list):
        items = [_decode_state(s, arrays, ctx, fail) for s in val]
        return tuple(items) if kind == "tuple" else items
    if kind == "value":
        return val
    fail(f"bad state entry {spec!r}")


def _layout(state):
    """Nested structure of shapes/dtypes, to compare a loaded state with a fresh one."""
    if isinstance(state, NDArray):
        return (tuple(state.shape), np.dtype(state.dtype).name)
    if isinstance(state, (tuple, list)):
        return tuple(_layout(s) for s in state)
    return None if state is None else "scalar"


def load_states(trainer, fname):
    header, arrays, fail = _read(fname)
    opt = trainer._optimizer
    name = type(opt).__name__
    if header.get("optimizer") != name:
        raise HybridnetValueError(
            f"Trainer.load_states: {os.fspath(fname)!r} holds states of optimizer "
            f"{header.get('optimizer')!r} but this Trainer uses {name}; create the Trainer with "
            "the same optimizer")
    n = len(trainer._params)
    if header.get("num_params") != n:
        raise HybridnetValueError(
            f"Trainer.load_states: {os.fspath(fname)!r} holds states for "
            f"{header.get('num_params')} parameters but this Trainer has {n}; create it from "
            "the same net's collect_params()")
    states = {}
    for entry in header.get("states", []):
        if not (isinstance(entry, list) and len(entry) == 2 and isinstance(entry[0], int)
                and 0 <= entry[0] < n):
            fail(f"bad state index entry {entry!r}")
        i, spec = entry
        p = trainer._params[i]
        state = _decode_state(spec, arrays, p._ctx or cpu(), fail)
        if p._data is not None:
            expect = _layout(opt.create_state_multi_precision(i, p._data))
            if _layout(state) != expect:
                raise ShapeError(
                    f"Trainer.load_states: the saved state of parameter {p.name} (index {i}) "
                    f"has layout {_layout(state)} but {name} expects {expect} for its current "
                    "value; the file was saved for a different net")
        states[i] = state
    counts = header.get("index_update_count", [])
    if not all(isinstance(c, list) and len(c) == 2 and all(isinstance(x, int) for x in c)
               for c in counts):
        fail("bad index_update_count")
    attrs = header.get("optimizer_attrs", {})
    if not isinstance(attrs, dict):
        fail("bad optimizer_attrs")
    # Everything is checked: now change the trainer.
    trainer._states = states
    _restore_attrs(opt, attrs)
    if hasattr(opt, "_index_update_count"):
        opt._index_update_count.clear()
        opt._index_update_count.update({i: c for i, c in counts})
    sched_info = header.get("lr_scheduler")
    sched = getattr(opt, "lr_scheduler", None)
    if sched_info is not None:
        if sched is not None and type(sched).__name__ == sched_info.get("class"):
            _restore_attrs(sched, sched_info.get("attrs", {}))
        else:
            warnings.warn(f"Trainer.load_states: the file holds the position of a "
                          f"{sched_info.get('class')} lr_scheduler, but this Trainer's optimizer "
                          f"has {type(sched).__name__ if sched else 'none'}; it was not restored",
                          stacklevel=3)
