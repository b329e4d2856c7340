"""Numba's start-up at import: SciPy's cython_blas is preloaded on its own (not all of
scipy.linalg), and everything that later imports scipy.linalg still works."""
import json
import subprocess
import sys

_SCRIPT = r"""
import json, sys
import hybridnet, numpy as np
out = {"linalg_at_import": "scipy.linalg" in sys.modules, "numba": "numba" in sys.modules}
import scipy.linalg
out["attr_linked"] = scipy.linalg.cython_blas is sys.modules["scipy.linalg.cython_blas"]
a = np.arange(9.0).reshape(3, 3)
out["scipy_ok"] = bool(np.allclose(scipy.linalg.blas.dgemm(1.0, a, a), a @ a))
import numba
@numba.njit
def mm(x, y):
    return np.dot(x, y)
out["numba_dot_ok"] = bool(np.allclose(mm(a, a), a @ a))
from threadpoolctl import threadpool_info
out["blas_threads"] = sorted({i["num_threads"] for i in threadpool_info()
                              if i["user_api"] == "blas"})
print(json.dumps(out))
"""


def _run(env_extra=None):
    import os
    env = dict(os.environ, **(env_extra or {}))
    env.pop("HYBRIDNET_BLAS_THREADS", None)
    r = subprocess.run([sys.executable, "-c", _SCRIPT], capture_output=True, text=True,
                       env=env, timeout=120, check=True)
    return json.loads(r.stdout.strip().splitlines()[-1])


def test_import_preloads_numba_without_scipy_linalg_and_scipy_still_works():
    out = _run()
    assert out == {"linalg_at_import": False, "numba": True, "attr_linked": True,
                   "scipy_ok": True, "numba_dot_ok": True, "blas_threads": [1]}


def test_lazy_numba_defers_the_import():
    out = _run({"HYBRIDNET_LAZY_NUMBA": "1"})
    assert out["numba"] is False and out["attr_linked"] and out["numba_dot_ok"]
