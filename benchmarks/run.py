"""The one benchmark entry point: prints JSON lines.

    python benchmarks/run.py            # every benchmarks/bench_*.py
    python benchmarks/run.py core mlp   # only bench_core.py and bench_mlp.py

The first line is a header describing the machine and versions; then every
measure that each ``bench_*.py`` module's ``run()`` yields, with a ``"bench"``
key naming the module. OPENBLAS_CORETYPE / OPENBLAS_L2_SIZE make OpenBLAS up to
10x slower (DESIGN.md section 5), so when either is set this script re-executes
itself once without them and reports the original values in the header.
"""
import importlib.metadata
import importlib.util
import json
import os
import platform
import sys
import time
import traceback
from pathlib import Path

HERE = Path(__file__).resolve().parent
BLAS_VARS = ("OPENBLAS_CORETYPE", "OPENBLAS_L2_SIZE")
_ORIG_KEY = "HYBRIDNET_BENCH_ORIGINAL_ENV"   # carries the original values across the re-exec


def _reexec_without_blas_vars():
    """Replace this process with one that has no OPENBLAS_* overrides (at most once)."""
    if _ORIG_KEY in os.environ:
        return
    found = {k: os.environ.get(k) for k in BLAS_VARS}
    env = {k: v for k, v in os.environ.items() if k not in BLAS_VARS}
    env[_ORIG_KEY] = json.dumps(found)
    if any(v is not None for v in found.values()):
        sys.stdout.flush()
        os.execve(sys.executable, [sys.executable, os.path.abspath(__file__)] + sys.argv[1:],
                  env)
    os.environ[_ORIG_KEY] = env[_ORIG_KEY]


def _cpu():
    model, procs = None, 0
    try:
        with open("/proc/cpuinfo") as f:
            for line in f:
                if line.startswith("model name") and model is None:
                    model = line.split(":", 1)[1].strip()
                elif line.startswith("processor"):
                    procs += 1
    except OSError:
        pass
    return {"cpu_model": model or platform.processor() or platform.machine(),
            "cpu_cores": procs or os.cpu_count(), "cpu_count": os.cpu_count()}


def _version(dist):
    try:
        return importlib.metadata.version(dist)
    except importlib.metadata.PackageNotFoundError:
        return None


def header():
    import hybridnet
    original = json.loads(os.environ.get(_ORIG_KEY, "{}"))
    h = {"header": True, "time": time.strftime("%Y-%m-%dT%H:%M:%S%z"), **_cpu(),
         "platform": platform.platform(), "python": platform.python_version(),
         "numpy": _version("numpy"), "numba": _version("numba"),
         "llvmlite": _version("llvmlite"), "scipy": _version("scipy"),
         "torch": _version("torch"), "hybridnet": hybridnet.__version__,
         "openblas_env_found": {k: original.get(k) for k in BLAS_VARS},
         "openblas_env_unset": all(k not in os.environ for k in BLAS_VARS)}
    try:
        with open("/proc/loadavg") as f:    # something else running skews every number
            h["loadavg_1min"] = float(f.read().split()[0])
    except (OSError, ValueError, IndexError):
        pass
    return h


def bench_modules(only=()):
    """(name, path) of every benchmarks/bench_*.py, or of the ``only`` names."""
    for path in sorted(HERE.glob("bench_*.py")):
        name = path.stem[len("bench_"):]
        if not only or name in only:
            yield name, path


def _load(name, path):
    spec = importlib.util.spec_from_file_location(f"hybridnet_bench_{name}", path)
    mod = importlib.util.module_from_spec(spec)
    sys.modules[spec.name] = mod
    spec.loader.exec_module(mod)
    return mod


def _emit(row):
    print(json.dumps(row, default=str), flush=True)


def main(argv):
    _reexec_without_blas_vars()
    sys.path.insert(0, str(HERE.parent))    # run from a checkout without installing
    only = set(argv)
    unknown = only - {n for n, _ in bench_modules()}
    if unknown:
        sys.exit(f"run.py: no benchmarks/bench_<name>.py for {sorted(unknown)}; have "
                 f"{[n for n, _ in bench_modules()]}")
    _emit(header())
    failed = 0
    for name, path in bench_modules(only):
        try:
            mod = _load(name, path)
            if not callable(getattr(mod, "run", None)):
                continue
            for row in mod.run():
                _emit({"bench": name, **row})
        except Exception as e:   # one broken benchmark must not hide the others' numbers
            failed += 1
            _emit({"bench": name, "error": f"{type(e).__name__}: {e}",
                   "traceback": traceback.format_exc(limit=5)})
    return 1 if failed else 0


if __name__ == "__main__":
    sys.exit(main(sys.argv[1:]))
