"""The generated driver: one Python function per graph that calls Numba kernels
for fused groups and the registry's NumPy rules for everything else.

Buffers of fused-kernel results that only other kernels read are allocated
once per executable and reused every call; graph outputs are always fresh
arrays (callers keep them). If generating or compiling fails for any reason,
the graph runs in the reference interpreter with exactly one warning
(``HYBRIDNET_STRICT=1`` turns that into an error) and ``STATS['fallbacks']``
counts it.
"""
import functools
import os
import sys
import time
import warnings

import numpy as np

from ...base import HybridnetError
from ...ops.registry import OPS
from ..interpret import interpret
from ..runtime import STATS
from .elementwise import helpers, loop_dims, render_fused
from .epilogue import Epilogue
from .kernel_cache import HEADER as _HEADER, load_kernel_module
from .matmul import epilogue_dims, epilogue_inputs, gemm_call, matmul_layout, render_matmul
from .small_matmul import render_small_matmul, small_gemm_args, small_matmul_eligible

__all__ = ["compile_graph", "CompiledGraph", "set_profiling", "Kernel"]



class Kernel:
    """One generated kernel: its source (printable), where it came from, its timing."""

    def __init__(self, name, source, loc, fn):
        self.name, self.source, self.loc, self.fn = name, source, loc, fn
        self.calls = 0
        self.seconds = 0.0

    def __repr__(self):
        return f"<Kernel {self.name} from {self.loc}>"


PROFILE = [os.environ.get("HYBRIDNET_PROFILE") == "1"]


def set_profiling(on=True):
    """Time every kernel call of graphs compiled from now on (``jit.timings`` reads it)."""
    PROFILE[0] = bool(on)


def _timed(kern):
    fn, clock = kern.fn, time.perf_counter

    def call(*args):
        t0 = clock()
        fn(*args)
        kern.seconds += clock() - t0
        kern.calls += 1
    return call


def _take(ring, shape, dtype, getrefcount=sys.getrefcount):
    """A buffer for a graph output: reuse one from ``ring`` that nobody holds any more.

    Outputs go to callers, so they cannot simply be reused; but once the caller has
    dropped one (refcount back to the ring's own reference), the next call may write
    into it. Up to 3 buffers per output slot; only a miss allocates (and is counted).
    """
    for buf in ring:
        if getrefcount(buf) == 3:      # the ring, the loop variable, the call argument
            return buf
    buf = np.empty(shape, dtype)
    STATS["allocations"] += 1
    if len(ring) < 3:
        ring.append(buf)
    return buf


def _cc(x):
    """C-contiguous, copying only when needed."""
    return x if x.flags.c_contiguous else np.ascontiguousarray(x)


def _c(x):
    """C- or F-contiguous (what Numba's np.dot accepts), copying only when needed."""
    if x.flags.c_contiguous or x.flags.f_contiguous:
        return x
    return np.ascontiguousarray(x)


_RESHAPES = ("reshape", "reshape_like", "flatten", "expand_dims", "squeeze")


def _is_view_reshape(n):
    """A node that only reinterprets its (first) input's elements in a new shape."""
    if n.op not in _RESHAPES or n.sub is not None or len(n.outputs) != 1:
        return False
    x, y = n.inputs[0], n.outputs[0]
    return x.size == y.size and x.dtype == y.dtype


def _bind_output(lines, name, slot):
    """Driver lines binding graph output ``name``: the caller's buffer when given, else
    one from the output's ring."""
    take = f"_take(r_{name}, s_{name}, d_{name})"
    if slot is None:
        lines.append(f"    {name} = {take}")
    else:
        lines += [f"    {name} = dests[{slot}]", f"    if {name} is None:",
                  f"        {name} = {take}"]


def _run_sub(sub, *args):
    return interpret(sub, args)


def _fix(r, dt):
    if type(r) is np.ndarray and r.dtype == dt:
        return r
    return np.asarray(r, dtype=dt)


class CompiledGraph:
    """Callable ``(feeds) -> outputs`` for a graph; ``kind`` says compiled or interpreter."""

    def __init__(self, graph, donate=None):
        self.graph = graph
        self.donate = dict(donate or {})   # output index -> input index it may overwrite
        self.kernels = []
        self.kind = "compiled"
        self.source = ""
        self._fn = None
        self._build()

    def _build(self):
        g = self.graph
        env = {"np": np, "_fix": _fix, "_c": _c, "_cc": _cc, "_take": _take}
        names = {}
        # ``dests``: per graph output, a caller-owned buffer to write it into, or None
        # (a hybridized backward writes weight gradients straight into ``.grad``).
        env["_NODESTS"] = (None,) * len(g.outputs)
        lines = ["def run(feeds, dests=_NODESTS):"]
        if g.inputs:
            lines.append("    " + ", ".join(f"v{i}" for i in range(len(g.inputs))) + ", = feeds")
        for i, v in enumerate(g.inputs):
            names[id(v)] = f"v{i}"
        for k, (v, arr) in enumerate(g.constants.items()):
            env[f"c{k}"] = arr
            names[id(v)] = f"c{k}"
        consumers = {}
        for n in g.nodes:
            for v in n.inputs:
                consumers.setdefault(id(v), []).append(n)
        graph_outputs = {id(v) for v in g.outputs}
        self.dest_slots = {id(v): i for i, v in enumerate(g.outputs) if g.outputs.count(v) == 1}
        # Donated inputs: an output may be written straight into an input's buffer when
        # that input is read only by the fused kernel producing the output (elementwise,
        # same shape: each element is read before it is written).
        donated = {}
        for oi, ii in self.donate.items():
            v, x = g.outputs[oi], g.inputs[ii]
            users = consumers.get(id(x), [])
            if (len(users) == 1 and users[0].op == "fused_elementwise" and v.shape == x.shape
                    and v.dtype == x.dtype and v in users[0].outputs
                    and id(v) not in donated and g.outputs.count(v) == 1):
                donated[id(v)] = f"v{ii}"
        counter = [len(g.inputs)]

        def fresh(v):
            name = f"v{counter[0]}"
            counter[0] += 1
            names[id(v)] = name
            return name
        def flat(name, v):
            """A kernel's flat view of ``name`` (value ``v``): a 1-D array as it is (any
            stride: Numba indexes it), a planned buffer's view made once at build time."""
            if v.ndim == 1:
                return name
            if "bf_" + name in env:
                return "bf_" + name
            return f"{name}.reshape(-1)"
        for idx, n in enumerate(g.nodes):
            ins = [names[id(v)] for v in n.inputs]
            if n.op in ("fused_elementwise", "fused_matmul"):
                kname = f"k{len(self.kernels)}"
                alias = {}
                if n.op == "fused_elementwise":
                    # Donated outputs are written in place into their input's buffer.
                    for oi, v in enumerate(n.outputs):
                        if id(v) in donated and donated[id(v)] in ins:
                            alias[oi] = ins.index(donated[id(v)])
                    src = render_fused(n, "kernel", alias)
                    dims = loop_dims(n.outputs[0].shape, n.sub.inputs)
                else:
                    small = small_matmul_eligible(n)
                    src = render_small_matmul(n, "kernel") if small else render_matmul(n, "kernel")
                    dims = epilogue_dims(n)
                outs = []
                for oi, v in enumerate(n.outputs):
                    if oi in alias:
                        name = fresh(v)
                        lines.append(f"    {name} = _cc({ins[alias[oi]]})")
                        ins[alias[oi]] = name
                        outs.append(name)
                    else:
                        outs.append(self._alloc_output(v, fresh, env, lines, donated,
                                                       graph_outputs, consumers,
                                                       self.dest_slots))
                if n.op == "fused_matmul":
                    if not small:
                        lines.append("    " + gemm_call(n, ins, outs[0]))
                        if src is None:
                            continue
                    args = self._epilogue_args(n, ins, flat)
                    if small:
                        args = small_gemm_args(n, ins) + args
                else:
                    args = [flat(a, v) for a, v in zip(ins, n.inputs)]
                outs = [flat(o, v) for oi, (o, v) in enumerate(zip(outs, n.outputs))
                        if oi not in alias]
                mod = load_kernel_module(_HEADER + helpers(src) + src)
                # The user's file:line is shown with the source but kept out of the cached
                # module, so identical kernels from different lines share one compile.
                kern = Kernel(kname, f"# from {n.loc}\n" + src, n.loc, mod.kernel)
                self.kernels.append(kern)
                env[kname] = _timed(kern) if PROFILE[0] else mod.kernel
                args = args + outs
                if len(dims) > 1:      # a single loop reads its size itself (takes_dims)
                    env["D_" + kname] = tuple(int(d) for d in dims)
                    args = ["D_" + kname] + args
                lines.append(f"    {kname}({', '.join(args)})")
                continue
            op, epi, src = OPS.get(n.op), None, None
            if n.op == "fused_kernel":
                # An op's kernel with an elementwise epilogue in its stores (fuse_epilogue).
                op, epi = None, Epilogue(n)
                src = OPS[epi.core.op].kernel(epi.core, epi)
            elif op is not None and op.kernel is not None and n.sub is None:
                src = op.kernel(n)
            if src is not None:
                # An op with its own Numba kernel (pooling ...): C-contiguous N-D arrays.
                kname = f"k{len(self.kernels)}"
                mod = load_kernel_module(_HEADER + (helpers(src) if epi is not None else "") + src)
                kern = Kernel(kname, f"# from {n.loc}\n" + src, n.loc, mod.kernel)
                self.kernels.append(kern)
                env[kname] = _timed(kern) if PROFILE[0] else mod.kernel
                outs = []
                for v in n.outputs:
                    name = fresh(v)
                    env["s_" + name], env["d_" + name] = v.shape, v.dtype
                    env["r_" + name] = []
                    _bind_output(lines, name, self.dest_slots.get(id(v)))
                    outs.append(name)
                args = [f"_cc({a})" for a in ins] + outs
                lines.append(f"    {kname}({', '.join(args)})")
                continue
            if _is_view_reshape(n):
                # Shapes are static here: a reshape is a NumPy view, not the registry's
                # rule (which parses MXNet's reshape codes every call: ~5 us).
                lines.append(f"    {fresh(n.outputs[0])} = {ins[0]}.reshape("
                             f"{tuple(int(d) for d in n.outputs[0].shape)!r})")
                continue
            fname = f"f{idx}"
            if op is None:      # a fused_kernel its builder declined after all: NumPy rules
                env[fname] = functools.partial(_run_sub, n.sub)
            else:
                env[fname] = functools.partial(op.forward, **n.attrs) if n.attrs else op.forward
            outs = [fresh(v) for v in n.outputs]
            call = f"{fname}({', '.join(ins)})"
            if len(outs) == 1 and op is not None:
                env["d_" + outs[0]] = n.outputs[0].dtype
                lines.append(f"    {outs[0]} = _fix({call}, d_{outs[0]})")
            else:
                lines.append(f"    _r = {call}")
                for j, o in enumerate(outs):
                    env["d_" + o] = n.outputs[j].dtype
                    lines.append(f"    {o} = _fix(_r[{j}], d_{o})")
        lines.append("    return [" + ", ".join(names[id(v)] for v in g.outputs) + "]")
        self.source = "\n".join(lines) + "\n"
        exec(compile(self.source, "<hybridnet driver>", "exec"), env)  # noqa: S102
        self._fn = env["run"]

    @staticmethod
    def _alloc_output(v, fresh, env, lines, donated, graph_outputs, consumers, dest_slots):
        """Driver lines that bind a buffer for kernel output ``v``; returns its name."""
        name = fresh(v)
        reusable = id(v) not in graph_outputs and all(
            c.op in ("fused_elementwise", "fused_matmul") for c in consumers.get(id(v), []))
        env["s_" + name], env["d_" + name] = v.shape, v.dtype
        if id(v) in donated:
            src = donated[id(v)]
            lines.append(f"    {name} = {src} if {src}.flags.c_contiguous else "
                         f"np.empty(s_{name}, d_{name})")
        elif reusable:
            env["b_" + name] = np.empty(v.shape, v.dtype)
            env["bf_" + name] = env["b_" + name].reshape(-1)
            STATS["allocations"] += 1
            lines.append(f"    {name} = b_{name}")
        else:
            env["r_" + name] = []
            _bind_output(lines, name, dest_slots.get(id(v)))
        return name

    @staticmethod
    def _epilogue_args(n, ins, flat):
        """Driver expressions for a fused_matmul epilogue kernel's ([bias], f<i>...)."""
        _, _, _, _, _, has_bias = matmul_layout(n)
        args = [flat(ins[2], n.inputs[2])] if has_bias else []
        return args + [flat(ins[i], n.inputs[i]) for i in epilogue_inputs(n)]

    def __call__(self, feeds, dests=None):
        return self._fn(feeds) if dests is None else self._fn(feeds, dests)


class _Interpreted:
    kind = "interpreter"

    def __init__(self, graph, reason):
        self.graph, self.reason = graph, reason
        self.kernels = []
        self.source = ""

    def __call__(self, feeds, dests=None):
        return interpret(self.graph, feeds)


class _FirstCallGuard:
    """Runs the compiled graph; if its first call fails to compile, fall back once.

    ``direct`` is the bare driver function once the first call succeeded (hot paths
    call it without this wrapper)."""

    direct = None

    def __init__(self, compiled, owner=None):
        self.impl = compiled
        self.owner = owner
        self.checked = False

    def __getattr__(self, name):
        return getattr(self.impl, name)

    def __call__(self, feeds, dests=None):
        if self.checked:
            return self.impl(feeds, dests)
        try:
            t0 = time.perf_counter()
            out = self.impl(feeds, dests)
            self.compile_seconds = time.perf_counter() - t0
        except HybridnetError:
            raise
        except Exception as e:  # numba typing/lowering errors surface on the first call
            self.impl = fallback(self.impl.graph, e, self.owner)
            out = self.impl(feeds, dests)
        self.checked = True
        self.direct = getattr(self.impl, "_fn", None) or self.impl
        return out


def fallback(graph, err, owner=None):
    """The interpreter for ``graph``, after one warning (an error with HYBRIDNET_STRICT=1).

    ``owner`` (a hybridized block's CachedGraph) gets one warning in all: its train
    forward, backward and predict graphs usually fail for the same reason (float16).
    """
    STATS["fallbacks"] += 1
    if os.environ.get("HYBRIDNET_STRICT") == "1":
        raise HybridnetError(f"hybridize: compiling the graph failed ({type(err).__name__}: "
                             f"{err}) and HYBRIDNET_STRICT=1 forbids the eager fallback") from err
    if owner is not None:
        if getattr(owner, "fallback_warned", False):
            return _Interpreted(graph, repr(err))
        owner.fallback_warned = True
    warnings.warn(f"hybridize: compiling a graph failed ({type(err).__name__}: "
                  f"{str(err).splitlines()[0] if str(err) else ''}); running it in the "
                  "reference interpreter instead (same results, slower)", stacklevel=3)
    return _Interpreted(graph, repr(err))


def compile_graph(graph, donate=None, owner=None):
    """Graph (already optimized) -> callable executable.

    ``donate`` maps output index -> input index whose buffer the output may reuse
    (the caller checks ``out is input`` to know whether it happened)."""
    try:
        return _FirstCallGuard(CompiledGraph(graph, donate), owner)
    except HybridnetError:
        raise
    except Exception as e:
        return fallback(graph, e, owner)
