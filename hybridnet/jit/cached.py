"""CachedGraph: a traced function specialised per input signature, run compiled,
recorded on the autograd tape as ONE node whose backward runs the compiled
backward graph (Gluon's CachedOp, rebuilt on the IR)."""
import logging
import warnings

import numpy as np

from .._state import STATE
from .._tape import TapeNode, parent_of
from ..ndarray.ndarray import NDArray, wrap
from .grad import build_backward
from .passes import optimize
from .plain_call import MISS, plain_call as _plain_call
from .runtime import STATS, Executable
from .trace import GraphBreak, trace_function

__all__ = ["CachedGraph", "Signature", "MISS"]
log = logging.getLogger("hybridnet.jit")
_NO_ATTRS = {}


class Signature:
    """What a compiled graph is specialised on: input shapes/dtypes, static args, mode."""

    def __init__(self, args, training, keys=()):
        items = []
        for a in args:
            if isinstance(a, NDArray):
                items.append(("array", a.shape, a._data.dtype.str))
            elif _is_array_seq(a):
                items.append(("seq", type(a).__name__, _seq_key(a)))
            else:
                items.append(("static", _static_key(a)))
        self.items = tuple(items)
        self.training = bool(training)
        self.keys = tuple(keys)          # keyword names of the trailing args
        self.key = (self.items, self.training, self.keys)

    def __str__(self):
        parts = []
        for i, it in enumerate(self.items):
            if it[0] == "array":
                from .ir import dtype_str
                parts.append(f"input{i}:{dtype_str(it[2])}[{','.join(map(str, it[1]))}]")
            else:
                parts.append(f"input{i}={it[1][1]!r}")
        n = len(parts) - len(self.keys)
        parts = parts[:n] + [f"{k}={p.split(':', 1)[-1].split('=', 1)[-1]}"
                             for k, p in zip(self.keys, parts[n:])]
        return ", ".join(parts) + (" (train)" if self.training else " (predict)")

    def diff(self, other):
        """Human-readable difference to an earlier signature, e.g. ``input0 dim0 128→32``."""
        out = []
        if other.training != self.training:
            out.append(f"mode {'train' if other.training else 'predict'}→"
                       f"{'train' if self.training else 'predict'}")
        for i, (a, b) in enumerate(zip(other.items, self.items)):
            if a == b:
                continue
            if a[0] == b[0] == "array":
                if len(a[1]) != len(b[1]):
                    out.append(f"input{i} ndim {len(a[1])}→{len(b[1])}")
                for d, (x, y) in enumerate(zip(a[1], b[1])):
                    if x != y and len(a[1]) == len(b[1]):
                        out.append(f"input{i} dim{d} {x}→{y}")
                if a[2] != b[2]:
                    out.append(f"input{i} dtype {np.dtype(a[2]).name}→{np.dtype(b[2]).name}")
            else:
                out.append(f"input{i} {a[1:]}→{b[1:]}")
        return ", ".join(out) or "first call"


# Lists/tuples holding NDArrays at any depth, next to other values (``[h, None]``,
# ``[[h, c]]``), are walked recursively: their arrays are graph inputs keyed by
# shape/dtype, never by printed value (a repr key reused a stale captured array).
def _fast_key(args):
    """(mode, shape, dtype, ...) of all-NDArray args, or None: the fast path's cache key."""
    try:
        if len(args) == 1:
            d = args[0]._data
            return (STATE.training, d.shape, d.dtype)
        key = [STATE.training]
        for a in args:
            d = a._data
            key += (d.shape, d.dtype)
        return tuple(key)
    except AttributeError:
        return None


def _is_array_seq(a):
    return isinstance(a, (list, tuple)) and any(
        isinstance(x, NDArray) or _is_array_seq(x) for x in a)


def _seq_key(a):
    return tuple((x.shape, x._data.dtype.str) if isinstance(x, NDArray) else
                 (type(x).__name__, _seq_key(x)) if _is_array_seq(x) else _static_key(x)
                 for x in a)


def _leaves(args):
    """The NDArrays of ``args`` in order: top-level ones and those inside lists/tuples."""
    out = []
    for a in args:
        if isinstance(a, NDArray):
            out.append(a)
        elif _is_array_seq(a):
            out.extend(_leaves(a))
    return out


def _replace_leaves(args, new):
    it = iter(new)

    def rebuild(a):
        if isinstance(a, NDArray):
            return next(it)
        if _is_array_seq(a):
            return type(a)([rebuild(x) for x in a])
        return a
    return [rebuild(a) for a in args]


def _result(entry, outs):
    """The outputs in the structure the traced forward returned them."""
    if entry.single:
        return outs[0]
    if entry.nested is None:
        return tuple(outs)
    return type(entry.nested)(_replace_leaves(entry.nested, outs))


def _static_key(a):
    try:
        hash(a)
        return (type(a).__name__, a)
    except TypeError:
        return (type(a).__name__, repr(a))


class _Entry:
    """One specialisation: the forward graph and, once needed, its backward."""

    def __init__(self, graph, tracer, single, n_args):
        self.graph = graph
        self.params = [p for _, p in tracer.params]
        self.captured = [x for _, x in tracer.captured]
        self.capture_getters = [None] * len(self.captured)
        self.aux = [p for p, _ in tracer.aux_updates]
        self.single = single
        self.nested = None     # the forward's result with nested lists ((out, [h, c])), if so
        self.n_args = n_args
        self.n_out = len(graph.outputs) - len(self.aux)
        self.infer = None
        self.plain_call = None
        self.train = None      # the most recent training build (for inspection)
        self.trains = {}       # which inputs need gradients -> _Train

    def current_captures(self):
        """The captured arrays as they are now: an attribute the forward read (``self.mask``)
        is re-read every call, so assigning a new array is seen; None when one of them now
        has another shape/dtype (the caller retraces)."""
        if not any(self.capture_getters):
            return self.captured
        out = []
        for old, get in zip(self.captured, self.capture_getters):
            cur = get() if get is not None else old
            if not isinstance(cur, NDArray) or cur.shape != old.shape \
                    or cur._data.dtype != old._data.dtype:
                return None
            out.append(cur)
        return out

    def feeds(self, arrays, captured):
        return ([a._data for a in arrays] + [p._data._data for p in self.params]
                + [c._data for c in captured])


class _Train:
    def __init__(self, fwd_exec, bwd, bwd_exec, n_inputs):
        self.fwd_exec, self.bwd, self.bwd_exec = fwd_exec, bwd, bwd_exec
        self.n_inputs = n_inputs
        # The bare driver functions once their first call (which may fall back) is done.
        self.fwd_run = self.bwd_run = None

    def forward(self, feeds):
        run = self.fwd_run
        if run is not None:
            return run(feeds)
        out = self.fwd_exec(feeds)
        self.fwd_run = getattr(self.fwd_exec, "direct", None) or self.fwd_exec
        return out

    def backward(self, feeds, dests):
        run = self.bwd_run
        if run is None:
            out = self.bwd_exec(feeds, dests)
            self.bwd_run = getattr(self.bwd_exec, "direct", None) or self.bwd_exec
            return out
        return run(feeds) if dests is None else run(feeds, dests)


class CachedGraph:
    """Compile-once-per-signature runner for ``fn(*args)``; ``fn`` may read Parameters."""

    def __init__(self, fn, name="block", strict=False, capture_resolver=None):
        self.fn = fn
        # capture_resolver(ndarray) -> zero-argument getter of where the forward found it
        # (e.g. a block attribute), or None for a value that cannot change.
        self.capture_resolver = capture_resolver
        self.name = name
        self.strict = strict
        self.entries = {}
        self._fast = {}          # (mode, shapes, dtypes) -> entry, for plain inference calls
        self._fast_rec = {}      # the same for recorded (training) calls
        # The last plain inference call's guarded runner (plain_call.py): tried first,
        # by HybridBlock.__call__ too; None when the last call was of another kind.
        self.fast_call = None
        self.signatures = {}
        self.last_sig = None
        self.trace_count = 0
        self.compile_count = 0
        self._warned = set()

    # ---- building --------------------------------------------------------------
    def _trace(self, sig, args):
        arrays = _leaves(args)

        nested = []

        def call(*traced):
            out = self._call_fn(_replace_leaves(args, traced), sig.keys)
            # (out, [h, c]) -> flat graph outputs; _result rebuilds the structure.
            if isinstance(out, (list, tuple)) and any(_is_array_seq(o) for o in out):
                nested.append(out)
                return tuple(_leaves(out))
            return out
        old_training = STATE.training
        STATE.training = sig.training
        old_rec = STATE.recording
        STATE.recording = False
        try:
            graph, tracer, single = trace_function(call, arrays)
        finally:
            STATE.training, STATE.recording = old_training, old_rec
        self.trace_count += 1
        STATS["trace_count"] += 1
        if self.last_sig is not None:
            log.info("%s: retracing (%s)", self.name, sig.diff(self.last_sig))
        graph.renumber()
        entry = _Entry(graph, tracer, single, len(arrays))
        entry.nested = nested[0] if nested else None
        if self.capture_resolver is not None:
            entry.capture_getters = [self.capture_resolver(x) for x in entry.captured]
        return entry

    def _compile(self, graph, count=True):
        """Optimize and compile; a training graph's forward+backward pair counts once."""
        if count:
            self.compile_count += 1
            STATS["compile_count"] += 1
        from .codegen import compile_graph
        from .codegen.driver import fallback
        from .verify import IRError, verify
        try:
            opt = verify(optimize(graph), check_types=False)
        except IRError as e:     # a pass bug must never reach the user: run the traced graph
            return fallback(graph, e, self)
        return compile_graph(opt, owner=self)

    # ---- calling -----------------------------------------------------------------
    def _call_fn(self, flat, keys):
        if not keys:
            return self.fn(*flat)
        n = len(flat) - len(keys)
        return self.fn(*flat[:n], **dict(zip(keys, flat[n:])))

    def __call__(self, *args, **kwargs):
        fast = self.fast_call
        if fast is not None and not kwargs:
            out = fast(args)
            if out is not MISS:
                return out
            # Another kind of call (a training step ...): stop guarding every call with
            # it; the next plain predict call through ``_fast`` sets it again.
            self.fast_call = None
        # Fast path while recording (a training step): arrays only, a signature seen
        # before, no captured attribute to re-read.
        if not kwargs and STATE.recording and self._fast_rec:
            entry = self._fast_rec.get(_fast_key(args))
            if entry is not None:
                feeds = [a._data for a in args]
                inputs = list(args)
                for p in entry.params:
                    d = p._data
                    feeds.append(d._data)
                    inputs.append(d)
                if entry.captured:
                    feeds += [c._data for c in entry.captured]
                    inputs += entry.captured
                wrt = tuple([x._node is not None or x._var for x in inputs])
                if True in wrt:
                    self.last_sig = entry.sig
                    return _result(entry, self._run_train(entry, feeds, inputs, wrt))
        # Fast path: unrecorded call, arrays only, a signature seen before and compiled.
        if not kwargs and not STATE.recording and self._fast:
            entry = self._fast.get(_fast_key(args))
            if entry is not None:
                if entry.plain_call is not None:
                    out = entry.plain_call(args)
                    if out is not MISS:
                        self.fast_call = entry.plain_call    # guards the next call first
                        return out
                feeds = [a._data for a in args]
                if entry.params:
                    feeds += [p._data._data for p in entry.params]
                if entry.captured:
                    feeds += [c._data for c in entry.captured]
                res = entry.infer_direct(feeds)
                ctx = args[0]._ctx if args else None
                if entry.aux:
                    self._write_aux(entry, res[entry.n_out:])
                if entry.single and entry.nested is None:
                    return wrap(res[0], ctx)
                return _result(entry, [wrap(r, ctx) for r in res[:entry.n_out]])
        keys = tuple(sorted(kwargs))
        if keys:
            args = tuple(args) + tuple(kwargs[k] for k in keys)
        sig = Signature(args, STATE.training, keys)
        entry = self.entries.get(sig.key)
        if entry is None:
            try:
                entry = self._trace(sig, args)
            except GraphBreak as e:
                return self._graph_break(e, sig, args)
            self.entries[sig.key] = entry
            self.signatures[sig.key] = sig
            entry.sig = sig
        elif entry == "eager":
            return self._call_fn(args, keys)
        captured = entry.current_captures()
        if captured is None:                # a captured attribute changed shape: retrace
            del self.entries[sig.key]
            self._fast.clear()
            self._fast_rec.clear()
            self.fast_call = None
            return self(*args[:len(args) - len(keys)], **dict(zip(keys, args[len(args) - len(keys):])))
        self.last_sig = sig
        arrays = _leaves(args)
        feeds = entry.feeds(arrays, captured)
        inputs = arrays + [p._data for p in entry.params] + list(captured)
        if STATE.recording:
            wrt = tuple(x._node is not None or x._var for x in inputs)
            if any(wrt):
                outs = self._run_train(entry, feeds, inputs, wrt)
                if not keys and all(isinstance(a, NDArray) for a in args) \
                        and not any(entry.capture_getters):
                    self._fast_rec[_fast_key(args)] = entry
                return _result(entry, outs)
        first = entry.infer is None
        if first:
            entry.infer = self._compile(entry.graph)
        res = entry.infer(feeds)
        if first and not keys and all(isinstance(a, NDArray) for a in args) \
                and not any(entry.capture_getters):
            entry.infer_direct = getattr(entry.infer, "direct", None) or entry.infer
            entry.plain_call = _plain_call(entry, args, sig.training)
            self._fast[_fast_key(args)] = entry
        ctx = arrays[0]._ctx if arrays else None
        outs = [wrap(r, ctx) for r in res[:entry.n_out]]
        self._write_aux(entry, res[entry.n_out:])
        return _result(entry, outs)

    def _graph_break(self, err, sig, args):
        STATS["graph_breaks"] += 1
        if self.strict:
            raise err
        if err.loc not in self._warned:
            self._warned.add(err.loc)
            warnings.warn(f"hybridize: {self.name} runs eagerly for this input signature "
                          f"(graph break at {err.loc}: {err.reason})", stacklevel=4)
        self.entries[sig.key] = "eager"
        self.signatures[sig.key] = sig
        return self._call_fn(args, sig.keys)

    def _write_aux(self, entry, values):
        for p, v in zip(entry.aux, values):
            p._data._data[...] = v

    def _run_train(self, entry, feeds, inputs, wrt):
        tr = entry.trains.get(wrt)
        if tr is None:
            tr = entry.trains[wrt] = self._build_train(entry, wrt)
            entry.train = tr
        res = tr.forward(feeds)
        n_out, n_aux = entry.n_out, len(entry.aux)
        outs_np = res[:n_out]
        self._write_aux(entry, res[n_out:n_out + n_aux])
        saved = res[n_out + n_aux:]
        ctx = inputs[0]._ctx if inputs else None
        outs = [wrap(r, ctx) for r in outs_np]
        # One tape node for the whole call (as _record builds it; the feeds are the
        # inputs' data already).
        node = TapeNode(None, _NO_ATTRS, tuple(feeds), tuple([parent_of(x) for x in inputs]),
                        tuple(outs_np), _BackwardRunner(tr, feeds, saved, wrt))
        for i, o in enumerate(outs):
            o._node = node
            o._oidx = i
        return outs

    def _build_train(self, entry, wrt):
        for p in entry.params:
            p._jit_owned = True    # the Trainer compiles its update for these
        g = entry.graph
        bwd = build_backward(g, entry.n_out, wrt)
        # Forward for training also returns the residuals the backward reads.
        input_ids = {id(v): i for i, v in enumerate(g.inputs)}
        saved_from_graph = [v for v in bwd.residuals if id(v) not in input_ids]
        fwd = type(g)(list(g.inputs), list(g.nodes), list(g.outputs) + saved_from_graph,
                      dict(g.constants))
        fwd_exec = self._compile(fwd)
        bwd_exec = self._compile(bwd.graph, count=False)
        tr = _Train(fwd_exec, bwd, bwd_exec, len(g.inputs))
        tr.grad_specs = [(v.shape, v.dtype) if w else None for v, w in zip(g.inputs, wrt)]
        tr.all_wrt = all(wrt)
        tr.sources = [("feed", input_ids[id(v)]) if id(v) in input_ids else
                      ("saved", saved_from_graph.index(v)) for v in bwd.residuals]
        return tr


class _BackwardRunner:
    """The tape's view of a hybridized call: runs the compiled backward graph."""

    def __init__(self, train, feeds, saved, wrt):
        self.train, self.feeds, self.saved, self.wrt = train, feeds, saved, wrt

    takes_grad_dests = True    # autograd passes .grad buffers the backward may write

    def backward_np(self, gs, parent_dests=None):
        """Input gradients (NumPy arrays, None where no gradient is wanted) from the
        output gradients ``gs`` (NumPy arrays).

        ``parent_dests``: per input, the variable's own ``.grad`` buffer that autograd
        (``backward()``) cleared for writing (claimed once per backward, never read by
        the rest of the graph), or None; the compiled backward writes the gradient
        there when it matches exactly and ``backward()`` then skips its copy."""
        tr = self.train
        feeds = list(gs)
        for kind, i in tr.sources:
            feeds.append(self.feeds[i] if kind == "feed" else self.saved[i])
        if parent_dests is None:
            grads = tr.backward(feeds, None)
        else:
            grads = tr.backward(feeds, [
                d if d is not None and d.shape == spec[0] and d.dtype == spec[1] else None
                for d, w, spec in zip(parent_dests, self.wrt, tr.grad_specs) if w])
        grads = [g if type(g) is np.ndarray else np.asarray(g) for g in grads]
        if tr.all_wrt:
            return grads
        it = iter(grads)
        return [next(it) if w else None for w in self.wrt]

    def _backward_from_tape(self, gs):
        """The same on NDArrays (create_graph's loop; there the compiled backward is
        not differentiated further: its results are constants)."""
        grads = self.backward_np([g._data for g in gs])
        return [None if g is None else wrap(g) for g in grads]

    def release(self):
        """Drop the saved forward values once the graph is freed (retain_graph=False)."""
        self.feeds = self.saved = None
