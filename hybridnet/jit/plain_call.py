"""The predict-mode fast path of a CachedGraph entry: one generated Python function
per signature between ``HybridBlock.__call__`` and the compiled driver."""
from .._state import STATE
from ..ndarray.ndarray import NDArray, wrap

__all__ = ["MISS", "plain_call"]

MISS = object()    # what a guarded plain call returns when its guard does not hold


def plain_call(entry, args, training):
    """``args -> result`` (or MISS) for the commonest inference call (one output, no
    BatchNorm state to write back, NDArray arguments only), generated per entry so a
    predict-mode call is one Python frame above the driver: the guard re-checks what
    the entry is specialised on (argument count, type, shapes, dtypes, mode, not
    recording), then the parameters are read as they are now (re-init, load and
    ``set_data`` are seen) and the one output is wrapped."""
    if entry.aux or not entry.single or entry.nested is not None or not args:
        return None
    env = {"run": entry.infer_direct, "wrap": wrap, "NDArray": NDArray, "STATE": STATE,
           "MISS": MISS, "TR": training}
    n = len(args)
    lines = ["def call(args):",
             f"    if len(args) != {n} or STATE.recording or STATE.training != TR:",
             "        return MISS",
             f"    {''.join(f'a{i}, ' for i in range(n))}= args"]
    feeds = []
    for i, a in enumerate(args):
        env[f"S{i}"], env[f"T{i}"] = a._data.shape, a._data.dtype
        lines += [f"    if type(a{i}) is not NDArray:",
                  "        return MISS",
                  f"    d{i} = a{i}._data",
                  f"    if d{i}.shape != S{i} or (d{i}.dtype is not T{i} and d{i}.dtype != T{i}):",
                  "        return MISS"]
        feeds.append(f"d{i}")
    for i, prm in enumerate(entry.params):
        env[f"p{i}"] = prm
        feeds.append(f"p{i}._data._data")
    for i, c in enumerate(entry.captured):
        env[f"c{i}"] = c
        feeds.append(f"c{i}._data")
    lines.append(f"    return wrap(run([{', '.join(feeds)}])[0], a0._ctx)")
    source = "\n".join(lines) + "\n"
    exec(compile(source, "<hybridnet plain call>", "exec"), env)  # noqa: S102
    env["call"].source = source       # inspectable, like the driver's
    return env["call"]
