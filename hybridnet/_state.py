"""Process-wide interpreter state read on every op call (kept as plain attributes: fast).

``tracer`` is how hybridize() swaps the interpreter: while it is set, ops are
handed to it instead of running NumPy (see hybridnet.jit.trace).
"""
import threading


class _State(threading.local):
    def __init__(self):
        self.recording = False   # autograd.record() active
        self.training = False    # train mode (Dropout, BatchNorm)
        self.tracer = None       # active tracer, or None for eager execution
        # During backward(): ids of variables whose .grad buffer a VJP or a hybridized
        # backward already writes directly (autograd._grad_dests); None otherwise.
        self.grad_dest = None


STATE = _State()
