"""Thread setup, chosen once at import (DESIGN.md §5).

* BLAS: small GEMMs on 2 cores collapse 30-40x when a second OpenBLAS thread
  competes with any other runnable process; one thread holds steady. hybridnet
  pins BLAS to ``HYBRIDNET_BLAS_THREADS`` threads (default 1; 0 leaves BLAS alone).
* Numba: its GNU OpenMP layer fights OpenBLAS threads and kills forked
  DataLoader workers; default to the 'workqueue' layer unless the user chose one.
"""
import os

_LIMITER = []


def configure():
    os.environ.setdefault("NUMBA_THREADING_LAYER", "workqueue")
    n = int(os.environ.get("HYBRIDNET_BLAS_THREADS", "1"))
    if n > 0 and not _LIMITER:
        try:
            from threadpoolctl import threadpool_limits
            _LIMITER.append(threadpool_limits(limits=n, user_api="blas"))
        except Exception:  # threadpoolctl missing or no BLAS found: nothing to pin
            pass


def blas_threads(n):
    """Change the BLAS thread count for this process."""
    from threadpoolctl import threadpool_limits
    _LIMITER.append(threadpool_limits(limits=int(n), user_api="blas"))
