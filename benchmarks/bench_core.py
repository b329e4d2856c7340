"""Per-call cost of a tiny eager op: hybridnet's dispatch overhead against NumPy (and
PyTorch when it is installed).

The op is ``a + b`` on two 10-element float32 arrays, so the arithmetic is
negligible and what is measured is the framework's per-call work: unrecorded,
and recorded (``x`` has ``attach_grad()`` and the add runs inside
``autograd.record()``, so each call also appends a tape node). Variants are
interleaved within each repeat, with a short pause between repeats, and the
median and minimum over repeats are reported (DESIGN.md section 5b).

Issue 2's targets: <= 3 us unrecorded, <= 10 us recorded.
"""
import statistics
import time
import timeit

import numpy as np

N_ELEMS = 10
TARGETS_US = {"hybridnet": 3.0, "hybridnet_recorded": 10.0}


def _variants():
    """{name: (timeit.Timer, context-manager factory or None)} for every available peer."""
    import hybridnet as mx
    from hybridnet import autograd

    an = np.arange(N_ELEMS, dtype=np.float32)
    bn = np.ones(N_ELEMS, dtype=np.float32)
    a, b = mx.nd.array(an), mx.nd.array(bn)
    x = mx.nd.array(an)
    x.attach_grad()
    out = {
        "numpy": (timeit.Timer("add(an, bn)", globals={"add": np.add, "an": an, "bn": bn}),
                  None),
        "hybridnet": (timeit.Timer("a + b", globals={"a": a, "b": b}), None),
        "hybridnet_recorded": (timeit.Timer("x + b", globals={"x": x, "b": b}),
                               autograd.record),
    }
    try:
        import torch
    except ImportError:
        return out
    ta, tb = torch.from_numpy(an.copy()), torch.from_numpy(bn.copy())
    out["torch"] = (timeit.Timer("add(ta, tb)", globals={"add": torch.add, "ta": ta, "tb": tb}),
                    None)
    return out


def _calls_per_repeat(timer, scope, budget_s=0.02):
    """Calls that take about ``budget_s`` (at least 1000)."""
    n = 1000
    while True:
        t = _time(timer, scope, n)
        if t >= budget_s or n >= 10 ** 7:
            return max(1000, int(n * budget_s / max(t, 1e-9)))
        n *= 4


def _time(timer, scope, n):
    if scope is None:
        return timer.timeit(n)
    with scope():
        return timer.timeit(n)


def measure(repeats=25, pause_s=0.01):
    """{variant: [us per call, one per repeat]}, variants interleaved within each repeat."""
    variants = _variants()
    numbers = {k: _calls_per_repeat(*v) for k, v in variants.items()}   # also warms up
    samples = {k: [] for k in variants}
    for _ in range(repeats):
        for k, (timer, scope) in variants.items():
            samples[k].append(_time(timer, scope, numbers[k]) / numbers[k] * 1e6)
        time.sleep(pause_s)
    return samples, numbers


def run(repeats=25):
    """Yield one dict per variant: per-call cost in microseconds (median and min)."""
    samples, numbers = measure(repeats)
    numpy_med = statistics.median(samples["numpy"])
    for name, us in samples.items():
        med = statistics.median(us)
        row = {"measure": "tiny_add_per_call", "variant": name,
               "op": f"a + b, {N_ELEMS} x float32", "unit": "us",
               "median": round(med, 3), "min": round(min(us), 3),
               "x_numpy": round(med / numpy_med, 2), "repeats": repeats,
               "calls_per_repeat": numbers[name]}
        if name in TARGETS_US:
            row["target_us"] = TARGETS_US[name]
            row["meets_target"] = med <= TARGETS_US[name]
        yield row


if __name__ == "__main__":
    import json
    for r in run():
        print(json.dumps(r))
