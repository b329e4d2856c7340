"""Numba's start-up, paid once when hybridnet is imported.

The first hybridized call would otherwise pay it: importing Numba (~0.3 s here)
and its first cache load, where Numba checks for BLAS by importing all of
``scipy.linalg`` (0.25-0.5 s, though it only needs the ``cython_blas``
extension). Importing Numba with hybridnet (as torch initialises at import) keeps
``hybridize()`` + the first step down to what hybridnet itself does;
``HYBRIDNET_LAZY_NUMBA=1`` defers it to the first hybridized call instead.
"""
import importlib.machinery
import importlib.util
import os
import sys

__all__ = ["boot"]


class _LinkWhenImported:
    """Meta-path hook: once ``package`` is really imported, set ``package.<attr>`` to the
    preloaded submodule (an import finds it in sys.modules and would not), then leave."""

    def __init__(self, package, attr, module):
        self.package, self.attr, self.module = package, attr, module

    def find_spec(self, fullname, path=None, target=None):
        if fullname != self.package:
            return None
        sys.meta_path.remove(self)
        spec = importlib.util.find_spec(fullname)
        if spec is not None and spec.loader is not None:
            exec_module, attr, module = spec.loader.exec_module, self.attr, self.module

            def exec_and_link(mod):
                exec_module(mod)
                setattr(mod, attr, module)
            spec.loader.exec_module = exec_and_link
        return spec


def _preload_cython_blas():
    """Load SciPy's ``cython_blas`` extension on its own, before Numba's first use.

    Numba's first compile or cache load checks for BLAS by importing
    ``scipy.linalg.cython_blas``, which runs all of ``scipy.linalg/__init__`` (measured
    here: 0.25-0.5 s of a 0.6 s start-up). The extension itself loads in 3 ms and is all
    Numba needs (its BLAS function pointers); a later ``import scipy.linalg`` finds it
    in ``sys.modules`` and proceeds as usual. Anything unexpected: do nothing.
    """
    name = "scipy.linalg.cython_blas"
    if name in sys.modules or "scipy.linalg" in sys.modules:
        return
    try:
        import scipy
        folder = os.path.join(os.path.dirname(scipy.__file__), "linalg")
        for suffix in importlib.machinery.EXTENSION_SUFFIXES:
            path = os.path.join(folder, "cython_blas" + suffix)
            if os.path.exists(path):
                break
        else:
            return
        spec = importlib.util.spec_from_file_location(name, path)
        mod = importlib.util.module_from_spec(spec)
        spec.loader.exec_module(mod)
        sys.modules[name] = mod
        sys.meta_path.insert(0, _LinkWhenImported("scipy.linalg", "cython_blas", mod))
    except Exception:  # noqa: BLE001 - an optimisation only; Numba imports it itself
        sys.modules.pop(name, None)
        return
    from ._threads import reapply
    reapply()          # the extension loaded SciPy's OpenBLAS: pin its threads too


def boot():
    """Preload SciPy's BLAS extension for Numba, then import Numba (unless deferred)."""
    _preload_cython_blas()
    if os.environ.get("HYBRIDNET_LAZY_NUMBA") != "1":
        import numba  # noqa: F401
