"""Generated kernels as real, content-addressed module files, so Numba's
``cache=True`` works and a second process compiles nothing (DESIGN.md §5).

Each kernel's source is written once to
``$HYBRIDNET_HOME/kernels/<key>/hnk_<sha>.py`` where ``<key>`` folds in the
hybridnet, numba and llvmlite versions and the CPU, imported with importlib
(registered in ``sys.modules`` first), and kept on the kernel as ``.source``.
"""
import hashlib
import importlib.util
import os
import platform
import sys
import tempfile

from ...ops.math32 import HELPER_NAMES

__all__ = ["load_kernel_module", "cache_dir", "cache_info", "CACHE_EVENTS"]

CACHE_EVENTS = {"module_hits": 0, "module_writes": 0, "misses": []}
_LOADED = []   # (module name, dispatcher) of every kernel loaded in this process


def _cpu_name():
    try:
        import llvmlite.binding as llvm
        return llvm.get_host_cpu_name()
    except Exception:
        return platform.machine()


def cache_dir():
    import llvmlite
    from ..._numba_boot import boot
    boot()        # already done at import unless HYBRIDNET_LAZY_NUMBA=1
    import numba
    from ... import __version__
    home = os.environ.get("HYBRIDNET_HOME", os.path.join(os.path.expanduser("~"), ".hybridnet"))
    key = f"hn{__version__}-nb{numba.__version__}-ll{llvmlite.__version__}-{_cpu_name()}"
    path = os.path.join(home, "kernels", key)
    os.makedirs(path, exist_ok=True)
    return path


def load_kernel_module(source):
    """Import ``source`` as a module from its content-addressed file; returns the module."""
    digest = hashlib.sha256(source.encode()).hexdigest()[:20]
    name = f"hnk_{digest}"
    mod = sys.modules.get(name)
    if mod is not None:
        return mod
    folder = cache_dir()
    path = os.path.join(folder, name + ".py")
    if os.path.exists(path):
        CACHE_EVENTS["module_hits"] += 1
    else:
        CACHE_EVENTS["module_writes"] += 1
        CACHE_EVENTS["misses"].append(f"{name}: no module file yet (new kernel source)")
        fd, tmp = tempfile.mkstemp(prefix=".tmp-", suffix=".py", dir=folder)
        with os.fdopen(fd, "w") as f:
            f.write(source)
        os.replace(tmp, path)
    spec = importlib.util.spec_from_file_location(name, path)
    mod = importlib.util.module_from_spec(spec)
    sys.modules[name] = mod
    spec.loader.exec_module(mod)
    # Every Numba dispatcher in the module (an op's ``kernel`` may be a Python function
    # calling Numba helpers and BLAS, e.g. convolution as im2col + GEMM).
    # The float32 math helpers compile with the kernel calling them: not kernels of their own.
    _LOADED.extend((name, v) for k, v in vars(mod).items()
                   if hasattr(v, "py_func") and k not in HELPER_NAMES)
    return mod


def cache_info():
    """Where kernels live and why any were compiled in this process."""
    misses = list(CACHE_EVENTS["misses"])
    hits = compiled = 0
    for name, disp in _LOADED:
        st = disp.stats
        hits += sum(st.cache_hits.values())
        for sig, n in st.cache_misses.items():
            compiled += n
            misses.append(f"{name}: compiled for {sig} (no Numba cache entry for this "
                          "signature, CPU or version yet)")
    return {"dir": cache_dir(), "module_hits": CACHE_EVENTS["module_hits"],
            "module_writes": CACHE_EVENTS["module_writes"], "numba_cache_hits": hits,
            "numba_compiles": compiled, "misses": misses}
