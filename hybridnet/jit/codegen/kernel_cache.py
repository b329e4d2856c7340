"""The kernel module cache lives in the core (``hybridnet/_kernel_cache.py``): eager ops
compile the same kernel sources. Re-exported here for the JIT."""
from ..._kernel_cache import CACHE_EVENTS, HEADER, cache_dir, cache_info, load_kernel_module

__all__ = ["load_kernel_module", "cache_dir", "cache_info", "CACHE_EVENTS", "HEADER"]
