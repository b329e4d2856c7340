"""Saving and loading parameter values (``Block.save_parameters`` / ``load_parameters``).

Files use the ``nd.save`` format (a dict name -> array, parsed explicitly, never
pickle) and are written atomically. Names are structural (``features.0.weight``).
"""
import numpy as np

from ..base import HybridnetValueError, ShapeError
from ..context import cpu
from ..ndarray import io as nd_io
from ..ndarray.ndarray import wrap

__all__ = ["save_params", "load_file", "load_into"]


def save_params(filename, named):
    """Save ``named`` (name -> Parameter) to ``filename``; every parameter needs a value."""
    arrays = {}
    for name, p in named.items():
        if p._data is None:
            p._check_initialized(name)
        arrays[name] = p._data
    nd_io.save(filename, arrays)


def load_file(filename):
    """name -> NDArray from a file written by ``save_parameters``."""
    loaded = nd_io.load(filename)
    if not isinstance(loaded, dict):
        raise HybridnetValueError(
            f"load_parameters: {str(filename)!r} holds an unnamed list of arrays, not named "
            "parameters; it was not written by save_parameters (nd.save of a dict is needed)")
    return loaded


def _compatible(pshape, fshape):
    return pshape is None or (len(pshape) == len(fshape) and all(
        s == 0 or s == f for s, f in zip(pshape, fshape)))


def _fmt(names, limit=20):
    names = list(names)
    more = f" ... and {len(names) - limit} more" if len(names) > limit else ""
    return ", ".join(repr(n) for n in names[:limit]) + more


def load_into(params, loaded, source, ctx=None, allow_missing=False, ignore_extra=False,
              cast_dtype=False, dtype_source="current"):
    """Copy ``loaded`` (name -> NDArray) into ``params`` (name -> Parameter).

    Everything is checked before anything is written, so a failed load leaves the
    net unchanged. Parameters without a value yet (never initialized, or waiting for
    deferred init) take shape and value from the file.
    """
    if dtype_source not in ("current", "saved"):
        raise HybridnetValueError(f"load_parameters: dtype_source must be 'current' or "
                                  f"'saved', got {dtype_source!r}")
    # A shared parameter saved once (deduplicate=True) is loaded through any of its names.
    present = {id(p) for k, p in params.items() if k in loaded}
    missing = [k for k, p in params.items() if k not in loaded and id(p) not in present]
    extra = [k for k in loaded if k not in params]
    if missing and not allow_missing:
        raise HybridnetValueError(
            f"load_parameters: parameters [{_fmt(missing)}] of this net are missing in file "
            f"{source}, which contains [{_fmt(sorted(loaded))}]. Pass allow_missing=True to keep "
            "their current values, or load a file saved from the same architecture")
    if extra and not ignore_extra:
        raise HybridnetValueError(
            f"load_parameters: file {source} contains parameters [{_fmt(extra)}] that are not "
            f"present in this net, which has [{_fmt(params)}]. Pass ignore_extra=True to skip "
            "them, or load a file saved from the same architecture")
    todo = [(k, p, loaded[k]) for k, p in params.items() if k in loaded]
    bad = [f"{k}: net {p.shape} vs file {a.shape}" for k, p, a in todo
           if not _compatible(p.shape, a.shape)]
    if bad:
        raise ShapeError(f"load_parameters: shapes in file {source} do not match the net: "
                         f"{'; '.join(bad)}. The file was saved from a different architecture "
                         "(e.g. other units/channels)")
    if not cast_dtype:
        bad = [f"{k}: net {np.dtype(p.dtype).name} vs file {np.dtype(a.dtype).name}"
               for k, p, a in todo if np.dtype(a.dtype) != np.dtype(p.dtype)]
        if bad:
            raise HybridnetValueError(
                f"load_parameters: dtypes in file {source} do not match the net: "
                f"{'; '.join(bad)}. Pass cast_dtype=True (with dtype_source='current' to keep "
                "the net's dtypes or 'saved' to take the file's)")
    ctx = ctx[0] if isinstance(ctx, (list, tuple)) else ctx
    for _, p, arr in todo:
        if dtype_source == "saved":
            p.dtype = np.dtype(arr.dtype).type
        value = np.array(arr._data, dtype=p.dtype)
        if p._data is not None and p._data.shape == value.shape and p._data.dtype == value.dtype:
            p._data._data[...] = value          # keep the array (and its grad buffer) in place
            continue
        where = ctx or p._ctx or (p._deferred_init[1] if p._deferred_init else None) or cpu()
        p._shape = tuple(value.shape)
        p._deferred_init = None
        p._init_impl(wrap(value, where), where)
