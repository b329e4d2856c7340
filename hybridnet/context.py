"""Devices. ``cpu()`` always exists; ``gpu(i)`` needs CUDA (numba.cuda)."""
import threading

from .base import DeviceError, HybridnetValueError

__all__ = ["Context", "cpu", "gpu", "current_context", "num_gpus", "check_device"]


class Context:
    """A device: ``Context('cpu', 0)`` or ``Context('gpu', 1)``. Usable as ``with ctx:``."""
    _local = threading.local()
    __slots__ = ("device_type", "device_id", "_old")

    def __init__(self, device_type, device_id=0):
        if isinstance(device_type, Context):
            device_type, device_id = device_type.device_type, device_type.device_id
        if device_type not in ("cpu", "gpu", "cpu_pinned"):
            raise HybridnetValueError(f"unknown device type {device_type!r}; use 'cpu' or 'gpu'")
        self.device_type = device_type
        self.device_id = int(device_id)

    def __eq__(self, other):
        return (isinstance(other, Context) and self.device_type == other.device_type
                and self.device_id == other.device_id)

    def __hash__(self):
        return hash((self.device_type, self.device_id))

    def __repr__(self):
        return f"{self.device_type}({self.device_id})"

    __str__ = __repr__

    def __enter__(self):
        self._old = current_context()
        Context._local.value = self
        return self

    def __exit__(self, *exc):
        Context._local.value = self._old


_CPU0 = Context("cpu", 0)


def cpu(device_id=0):
    return _CPU0 if device_id == 0 else Context("cpu", device_id)


_NUM_GPUS = []


def num_gpus():
    """Number of CUDA devices (0 without numba-cuda or a GPU); probed once, then cached."""
    if not _NUM_GPUS:
        try:
            from numba import cuda  # lazy: numba is never imported at `import hybridnet`
            _NUM_GPUS.append(len(cuda.gpus) if cuda.is_available() else 0)
        except Exception:
            _NUM_GPUS.append(0)
    return _NUM_GPUS[0]


def check_device(ctx, where):
    """Raise ``DeviceError`` if ``ctx`` names a GPU this machine does not have."""
    if ctx is not None and ctx.device_type == "gpu" and num_gpus() <= ctx.device_id:
        raise DeviceError(
            f"{where}: {ctx} is not available ({num_gpus()} CUDA devices found). Use "
            "hybridnet.cpu(), or run on a machine with a GPU and numba-cuda installed "
            "(pip install 'hybridnet[cuda]')")


def gpu(device_id=0):
    """A GPU context. Arrays placed on it need a CUDA device (checked when used)."""
    return Context("gpu", device_id)


def current_context():
    return getattr(Context._local, "value", _CPU0)
