"""Worker processes and threads behind ``DataLoader(num_workers > 0)``.

Design
------
* Workers are forked (``fork`` start method where the platform has it, so
  datasets and transforms need not be picklable) when an epoch's iterator is
  created, and are joined when it is exhausted, closed or garbage-collected:
  no process outlives its iterator and none is left a zombie.
* Each worker has one duplex pipe. The parent hands each batch to the worker
  with the fewest batches pending and keeps at most ``prefetch`` batches in
  flight; the batch data itself travels through shared slots (see
  ``_transport``), so pipe messages stay small and neither side can block the
  other. Batches come out in sampler order.
* Each worker answers its batches in order, so the parent reads the next
  batch from the pipe of the worker that owns it: no reorder buffer. A worker
  that dies (killed, out of memory, crashed in native code) closes its end of
  the pipe, which the parent sees at once instead of waiting for the timeout.
* An exception in a worker comes back as its type and formatted traceback and
  is raised in the parent, in batch order, with the original traceback text.
* Each batch reseeds ``hybridnet.random`` in the worker from one number the
  parent draws per epoch plus the batch index, so random transforms differ
  between batches and epochs yet are reproducible under ``hybridnet.random.seed``
  whichever worker runs a batch. BLAS threads are pinned by ``hybridnet`` at
  import (``_threads``) and forked workers inherit that.
* Numba: a process forked after Numba's GNU OpenMP layer started is killed if
  it runs a parallel kernel itself (plain NumPy work is fine). Workers set
  ``HYBRIDNET_DATA_WORKER`` so compiled code can tell where it runs, and a dead
  worker's error names this cause when it applies.
"""
import collections
import concurrent.futures as cf
import multiprocessing as mp
import os
import signal
import sys
import time

from ... import random as _random
from ._transport import (DataLoaderError, Packer, describe, get_indices, new_slot, put_indices,
                         rebuild, unpack)

_POLL = 1.0  # seconds between a worker's checks that its parent is still alive


def _context():
    if "fork" in mp.get_all_start_methods():
        return mp.get_context("fork")
    return mp.get_context()


def _worker_loop(fetch, conn, wid, parent_pid, inherited, slots):
    signal.signal(signal.SIGINT, signal.SIG_IGN)  # Ctrl-C is the parent's to handle
    for c in inherited:  # the parent's ends of earlier workers' pipes, copied by fork
        c.close()
    os.environ["HYBRIDNET_DATA_WORKER"] = str(wid)
    while True:
        try:
            if not conn.poll(_POLL):
                if os.getppid() != parent_pid:  # orphaned: the parent died without telling us
                    return
                continue
            task = conn.recv()
        except (EOFError, OSError):
            return
        if task is None:
            return
        idx, spec, seed, s = task
        try:
            indices, start = get_indices(slots[s], spec)
            _random.seed(seed)
            msg = (idx, s, None, Packer(slots[s], start).pack(fetch(indices)))
        except BaseException as e:  # noqa: B902 - every failure goes back to the parent
            msg = (idx, s, describe(e), None)
        try:
            conn.send(msg)
        except (BrokenPipeError, ConnectionResetError, EOFError):
            return  # the parent stopped listening (iterator closed)
        except Exception as e:  # the batch could not be pickled
            try:
                conn.send((idx, s, describe(e, "sending the batch to the main process"), None))
            except Exception:
                return


def _numba_omp_started():
    nb = sys.modules.get("numba")
    if nb is None:
        return False
    try:
        return nb.threading_layer() == "omp"
    except Exception:  # not initialised: no parallel kernel has run
        return False


class ProcessIter:
    """One epoch over a DataLoader using worker processes."""

    def __init__(self, loader):
        self._done = False
        self._workers, self._conns, self._slots = [], [], []
        ctx = _context()
        n_slots = loader._in_flight()
        # Shared anonymous mappings reach the workers only through fork.
        forked = ctx.get_start_method() == "fork"
        self._slots = [new_slot() if forked else None for _ in range(n_slots)]
        self._free = list(range(n_slots))
        parent = os.getpid()
        try:
            for wid in range(loader._num_workers):
                mine, theirs = ctx.Pipe(duplex=True)
                p = ctx.Process(target=_worker_loop, name=f"hybridnet-data-{wid}", daemon=True,
                                args=(loader._fetch, theirs, wid, parent, list(self._conns),
                                      self._slots))
                p.start()
                theirs.close()  # the worker holds the only copy: EOF here when it dies
                self._workers.append(p)
                self._conns.append(mine)
        except BaseException:
            self.shutdown()
            raise
        self._pending = [0] * len(self._workers)
        self._owner = collections.deque()  # worker of each batch in flight, in order
        self._timeout = loader._timeout
        self._it = iter(loader._batch_sampler)
        self._sent = self._rcvd = 0
        # Take the first batch before drawing the workers' seed so a shuffling sampler
        # draws its permutation first: the order then matches num_workers=0 exactly.
        first = next(self._it, None)
        self._seed = int(_random.generator().integers(1 << 62))
        if first is not None:
            self._push(first)
            for _ in range(n_slots - 1):
                if not self._push():
                    break

    @property
    def workers(self):
        """The worker ``multiprocessing.Process`` objects (for inspection and tests)."""
        return list(self._workers)

    def _push(self, indices=None):
        if indices is None:
            indices = next(self._it, None)
            if indices is None:
                return False
        s = self._free.pop()
        wid = min(range(len(self._workers)), key=self._pending.__getitem__)
        seed = (self._seed + self._sent) % (1 << 63)
        try:
            self._conns[wid].send((self._sent, put_indices(self._slots[s], indices), seed, s))
        except OSError:          # the worker died (BrokenPipeError): say so, do not hang
            self._died(wid)
        self._pending[wid] += 1
        self._owner.append(wid)
        self._sent += 1
        return True

    def __iter__(self):
        return self

    def __next__(self):
        if self._done:
            raise StopIteration
        if self._rcvd == self._sent:
            self.shutdown()
            raise StopIteration
        idx = self._rcvd
        err, batch = self._receive(self._owner.popleft(), idx)
        self._rcvd += 1
        if err is not None:
            self.shutdown()
            raise rebuild(err, idx)
        self._push()
        return batch

    def _receive(self, wid, idx):
        """Batch ``idx`` from worker ``wid``: each worker answers its tasks in order and
        batches are consumed in order, so it is the next message on that worker's pipe."""
        conn = self._conns[wid]
        try:
            ready = conn.poll(self._timeout)
        except OSError:
            ready = True  # recv() below reports the broken pipe
        if not ready:
            self.shutdown()
            raise DataLoaderError(
                f"DataLoader: worker {wid} did not deliver batch {idx} within "
                f"timeout={self._timeout:g} s. The dataset or transform may be too slow "
                "(raise `timeout`) or stuck; try num_workers=0 to debug it in this process")
        try:
            got, s, err, batch = conn.recv()
        except (EOFError, OSError):
            self._died(wid)
        if got != idx:  # cannot happen unless the protocol above is broken
            self.shutdown()
            raise DataLoaderError(f"DataLoader: expected batch {idx} from worker {wid}, "
                                  f"got {got}")
        if err is None:
            batch = unpack(batch, self._slots[s])
        self._free.append(s)  # copied out: the slot can take the next batch
        self._pending[wid] -= 1
        return err, batch

    def _died(self, wid):
        p = self._workers[wid]
        p.join(0.5)
        code = p.exitcode
        try:
            how = (f"killed by signal {signal.Signals(-code).name}" if code is not None
                   and code < 0 else f"exit code {code}")
        except ValueError:
            how = f"killed by signal {-code}"
        msg = f"DataLoader worker {wid} (pid {p.pid}) exited unexpectedly ({how})."
        if _numba_omp_started():
            msg += (" Numba's GNU OpenMP threading layer was started in this process before "
                    "the workers were forked, and it terminates a forked process that runs a "
                    "parallel Numba kernel. Set NUMBA_THREADING_LAYER=workqueue (or 'tbb') "
                    "before importing hybridnet, or use DataLoader(..., thread_pool=True) or "
                    "num_workers=0.")
        else:
            msg += (" It may have run out of memory or crashed in native code; run with "
                    "num_workers=0 to see the failure in this process.")
        self.shutdown()
        raise DataLoaderError(msg)

    def shutdown(self):
        """Stop and reap the workers (idempotent)."""
        if self._done:
            return
        self._done = True
        for c in self._conns:
            try:
                c.send(None)
            except Exception:
                pass
            c.close()  # a worker blocked on sending a batch now gets EPIPE and exits
        deadline = time.monotonic() + 1.0
        for p in self._workers:
            p.join(max(0.0, deadline - time.monotonic()))
        for p in self._workers:
            if p.is_alive():
                p.terminate()
                p.join(1.0)
            if p.is_alive():
                p.kill()
                p.join()
        for m in self._slots:
            try:
                if m is not None:
                    m.close()
            except BufferError:  # still viewed somewhere: the GC unmaps it later
                pass

    close = shutdown

    def __del__(self):
        try:
            self.shutdown()
        except Exception:
            pass


class ThreadIter:
    """One epoch over a DataLoader using a thread pool (``thread_pool=True``)."""

    def __init__(self, loader):
        self._done = False
        self._pool = cf.ThreadPoolExecutor(loader._num_workers,
                                           thread_name_prefix="hybridnet-data")
        self._fetch = loader._fetch
        self._timeout = loader._timeout
        self._it = iter(loader._batch_sampler)
        self._pending = collections.deque()
        for _ in range(loader._in_flight()):
            if not self._push():
                break

    def _push(self):
        indices = next(self._it, None)
        if indices is None:
            return False
        self._pending.append(self._pool.submit(self._fetch, indices))
        return True

    def __iter__(self):
        return self

    def __next__(self):
        if not self._pending:
            self.shutdown()
            raise StopIteration
        fut = self._pending.popleft()
        try:
            batch = fut.result(timeout=self._timeout)
        except cf.TimeoutError:
            self.shutdown()
            raise DataLoaderError(f"DataLoader: a batch took longer than timeout="
                                  f"{self._timeout:g} s in the thread pool") from None
        except BaseException:
            self.shutdown()
            raise
        self._push()
        return batch

    def shutdown(self):
        if not self._done:
            self._done = True
            self._pool.shutdown(wait=False, cancel_futures=True)

    close = shutdown

    def __del__(self):
        try:
            self.shutdown()
        except Exception:
            pass
