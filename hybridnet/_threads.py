"""Thread setup, chosen once at import (DESIGN.md §5).

* BLAS: small GEMMs on 2 cores collapse 30-40x when a second OpenBLAS thread
  competes with any other runnable process; one thread holds steady. hybridnet
  pins BLAS to ``HYBRIDNET_BLAS_THREADS`` threads (default 1; 0 leaves BLAS alone).
* malloc: see ``_malloc_thresholds``.
* Numba: its GNU OpenMP layer fights OpenBLAS threads and kills forked
  DataLoader workers; default to the 'workqueue' layer unless the user chose one.
"""
import os

_LIMITER = []


def _malloc_thresholds():
    """Keep freed ~1 MB buffers in the heap instead of returning them to the OS.

    glibc's dynamic mmap threshold hands large temporaries back after every op, so
    the next op page-faults them in again (measured: an eager Adam step on a 256x784
    weight 3-12 ms -> 0.7 ms). Raising the trim/mmap thresholds once fixes it.
    """
    try:
        import ctypes
        libc = ctypes.CDLL("libc.so.6")
        M_TRIM_THRESHOLD, M_MMAP_THRESHOLD = -1, -3
        libc.mallopt(M_TRIM_THRESHOLD, 256 << 20)
        libc.mallopt(M_MMAP_THRESHOLD, 64 << 20)
    except (OSError, AttributeError):  # not glibc: nothing to tune
        pass


def configure():
    os.environ.setdefault("NUMBA_THREADING_LAYER", "workqueue")
    if os.environ.get("HYBRIDNET_MALLOC_TUNING", "1") != "0":
        _malloc_thresholds()
    n = int(os.environ.get("HYBRIDNET_BLAS_THREADS", "1"))
    if n > 0 and not _LIMITER:
        try:
            import numpy  # noqa: F401  (loads NumPy's OpenBLAS, else the limit misses it)
            from threadpoolctl import threadpool_limits
            _LIMITER.append(threadpool_limits(limits=n, user_api="blas"))
        except Exception:  # threadpoolctl missing or no BLAS found: nothing to pin
            pass


def reapply():
    """Pin BLAS libraries loaded since import (Numba's np.dot loads SciPy's OpenBLAS)."""
    n = int(os.environ.get("HYBRIDNET_BLAS_THREADS", "1"))
    if n > 0:
        try:
            from threadpoolctl import threadpool_limits
            _LIMITER.append(threadpool_limits(limits=n, user_api="blas"))
        except Exception:
            pass


def blas_threads(n):
    """Change the BLAS thread count for this process."""
    from threadpoolctl import threadpool_limits
    _LIMITER.append(threadpool_limits(limits=int(n), user_api="blas"))
