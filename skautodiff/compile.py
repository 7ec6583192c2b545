"""Trace -> compiled PyTensor functions, and the in-process cache that makes refits free.

The cache key is the code object, the type of a bound `self`, the argument structure, each
numeric leaf's dtype and which of its axes have length 1, and what is differentiated: never full
shapes, so one compiled function serves any number of rows. A key holds a list of traces, each
valid while its guards hold; a failed guard traces again at the new values.

Threads: tracing and compiling take one lock (they are rare, and PyTensor's configuration and
compiler are process-wide), so a missing entry is traced and compiled once however many threads
ask for it. Calls do not take it: each compiled function is a pool of PyTensor copies
(`Copies`), one per concurrent call.
"""

import collections
import contextlib
import logging
import os
import threading
import time
import warnings

import numpy as np

from . import compiledir  # first: it imports PyTensor even when its compile directory is unusable
import pytensor
import pytensor.tensor as pt
from pytensor.compile.mode import Mode
from pytensor.link.vm import VMLinker

from . import graphs, machine_flags, pytree, shape_checks, tiers
from .pytree import is_jax_array
from .numpy_ops import TAG as NUMPY_OPS
from .engine.outer import input_signature
from .arguments import bind, leaf_owners, resolve_callable
from .graphs import Kind
from .inputs import aligned, input_value, is_differentiable, leaf_signature
from .outputs import restore
from .quiet import ignoring
from .trace import trace

# PyTensor looks for a BLAS library the first time a compilation's rewrites meet a matrix-vector
# product and warns when it finds none; skautodiff needs none (doc/performance.md). machine_flags.py
# now sets the flags before that (one search per machine, in a child process); when it could not,
# PyTensor searches as before, and its warning is ignored during
# compilation only: under warnings-as-errors the warning became an exception inside the rewriter,
# printed as "Rewrite failure" tracebacks and looked up again (seconds of g++ runs) at every such
# node, and a filter set at import was lost to the next `catch_warnings`.
NO_BLAS_WARNING = "PyTensor could not link to a BLAS"

log = logging.getLogger("skautodiff")
CacheInfo = collections.namedtuple("CacheInfo", "traces compiles entries")
_stats = collections.Counter()
_cache = {}
_lock = threading.RLock()  # held to trace, compile, copy and insert; never for a compiled call
# Held while PyTensor builds or copies C functions (its module cache is not known to be
# thread-safe): by tiers' background thread alone, or after _lock, never the other way round.
_c_lock = threading.RLock()


def _new_c_lock():  # after os.fork(): the thread holding it (tiers' worker) is not in the child
    global _c_lock
    _c_lock = threading.RLock()


os.register_at_fork(after_in_child=_new_c_lock)


def cache_info():
    """What the compile cache did since the process started (or the last :func:`clear_cache`).

    Returns
    -------
    CacheInfo
        A named tuple ``(traces, compiles, entries)``: how many functions were traced and
        compiled, and how many compiled entries the cache holds now.
    """
    entries = sum(len(v) for v in list(_cache.values()))  # a copy: other threads may insert
    return CacheInfo(_stats["traces"], _stats["compiles"], entries)


def clear_cache():
    """Empty the process-wide cache of compiled functions and reset :func:`cache_info`'s counts.

    Compiled C modules stay in PyTensor's disk cache, so a later compile is quicker than a cold one.
    """
    with _lock:
        _cache.clear()
        _stats.clear()


def free(code):
    """Release the arrays the compiled functions of one code object keep between calls (those of
    copies not in use: a call running in another thread keeps its own)."""
    # A copy of the dict rather than the lock: other threads may insert meanwhile, and freeing
    # must not wait for another thread's compile.
    for key, entries in list(_cache.items()):
        if key[0] is code:
            for entry in list(entries):
                entry.free()


_warned_no_cxx = False


def mode(tier="C", hoist_shape_checks=False):
    """PyTensor's C backend (what users run), or a fast-compiling Python mode.

    `hoist_shape_checks`: move the graph's shape assertions into a Python check per call
    (shape_checks.py); the caller must then run `shape_checks.checker(fn)` before every call.

    The Python mode is the first tier of tiered compilation (tier="Python", see tiers.py);
    SKAUTODIFF_MODE=fast selects it for every function (the test suite uses it for tiny arrays). It
    keeps the fast_run rewrites: pytensor 3.0.7's fast_compile rewrites fold `w[i] + sum(w)`'s
    gradient into a wrongly shaped constant (IndexError at compile time).
    """
    global _warned_no_cxx
    # allow_gc=False keeps intermediate arrays between calls, so each call writes into the previous
    # call's buffers instead of allocating (and page-faulting) new ones: 10-25% per call on the
    # benchmarks' linear models. Entry.free() drops them once an optimisation has finished.
    linker, excluded = VMLinker(allow_gc=False, use_cloop=True, c_thunks=True), []
    if os.environ.get("SKAUTODIFF_MODE", "c") == "fast" or tier == "Python":
        # Without elementwise fusion: the Python linker runs fused Composites through generated
        # Python source, which costs compile time and was seen to disagree with numpy by ~1e-8
        # after many different graphs in one process. Without in-place elementwise ops: each
        # candidate PyTensor rejects calls inspect.getframeinfo, 0.2-0.4 s of a warm first fit,
        # to save allocations the Python tier's few calls do not need.
        linker, excluded = "py", ["fusion", "inplace_elemwise"]
    elif not pytensor.config.cxx:
        if not _warned_no_cxx:
            warnings.warn(
                "skautodiff: no C++ compiler found (pytensor.config.cxx is empty); compiled "
                "functions fall back to PyTensor's Python implementation, which is roughly "
                "100x slower. Install g++ to get C speed.",
                RuntimeWarning,
                stacklevel=3,
            )
            _warned_no_cxx = True
        linker = "py"
    elif not compiledir.usable():  # warns once, naming the directory and how to choose another
        linker, excluded = "py", ["fusion"]  # fusion: see the fast mode above
    else:
        machine_flags.settle()  # before the rewrites read them: no per-process BLAS or -march lookup
    including = [NUMPY_OPS] + ([tiers.NARROW] if linker == "py" else [])  # numpy's 32-operand limit
    if hoist_shape_checks:
        including.append(shape_checks.TAG)
    # local_log_sum_exp re-stabilises log(sum(exp(x))) with a second max pass and a switch even when
    # the user already subtracted the max (the usual idiom); without it the compiled function
    # computes what numpy computes, one reduction cheaper. local_add_of_sparse_write (pytensor
    # 3.0.7) turns `c + inc_subtensor(...)` with a broadcast constant c into an inc_subtensor of c
    # itself, so the gradient of np.sum(A.T.T[0]) + np.sum(A) came out with one row.
    excluded += ["local_log_sum_exp", "local_add_of_sparse_write"]
    return Mode(linker=linker, optimizer="fast_run").excluding(*excluded).including(*including)


class Copies:
    """One compiled function, callable from any number of threads at once.

    A PyTensor Function is not re-entrant: its input, output and kept intermediate storage
    (allow_gc=False) belong to one call at a time. `Function.copy()` gives another callable over
    the same compiled thunks with storage of its own, so a call checks out an idle copy (making
    one when all are busy: as many copies as calls ever overlapped) and returns it afterwards.
    The shape checks hoisted out of its graph (shape_checks.py) run first, on every call.
    """

    def __init__(self, fn, tier="C"):
        self._idle, self._all = [fn], [fn]
        self._lock = threading.Lock()
        self._c = tier == "C"
        self._check = shape_checks.checker(fn)

    def __call__(self, *values):
        if self._check is not None:
            self._check(values)
        with self._lock:
            fn = self._idle.pop() if self._idle else None
        if fn is None:
            # copying links the graph again: not known to be thread-safe
            with _lock, _c_lock if self._c else contextlib.nullcontext():
                fn = self._all[0].copy(share_memory=False)
            with self._lock:
                self._all.append(fn)
        try:
            return fn(*values)
        finally:
            with self._lock:
                self._idle.append(fn)

    def free(self):
        """Drop the buffers of the copies not in use; a copy in use keeps its own."""
        with self._lock:
            for fn in self._idle:
                fn.free()

    def __iter__(self):
        """Every copy (the first is the one compiled), for inspection."""
        with self._lock:
            return iter(list(self._all))


class Leases:
    """A compiled step function whose state (shared variables: parameters and optimiser slots)
    belongs to one fit at a time.

    A stochastic fit leases a copy for as long as it trains and writes its own state into the
    copy's shared variables; fits running at once lease different copies (each made by
    `Function.copy` with fresh shared variables swapped in), so two estimators fitting the same
    loss in two threads never share an optimiser's state. The compiled original is only a
    template: both tiers of one step are compiled from the same shared variables.
    """

    def __init__(self, fn, shared, tier="C"):
        self._template, self._shared = fn, list(shared)
        self._idle, self._all = [], []
        self._lock = threading.Lock()
        self._c = self.is_c = tier == "C"

    def lease(self):
        """(function, its shared variables), for this caller alone until `release`."""
        with self._lock:
            if self._idle:
                return self._idle.pop()
        fresh = [
            pytensor.shared(s.get_value(), name=s.name, shape=s.type.shape) for s in self._shared
        ]
        with _lock, _c_lock if self._c else contextlib.nullcontext():  # copying links again
            fn = self._template.copy(share_memory=False, swap=dict(zip(self._shared, fresh)))
        with self._lock:
            self._all.append(fn)
        return fn, fresh

    def release(self, leased):
        leased[0].free()  # intermediate buffers: a later fit may use other batch sizes
        with self._lock:
            self._idle.append(leased)

    def free(self):
        with self._lock:
            for fn, _ in self._idle:
                fn.free()

    def __iter__(self):
        with self._lock:
            return iter([self._template, *self._all])


class GuardFailed(Exception):
    """A compiled trace does not apply to these arguments (internal control flow)."""


class Entry:
    """One trace and its compiled functions, built lazily per kind."""

    def __init__(self, tr):
        self.trace = tr
        self._functions = {}
        self._dtypes = [
            np.dtype(dtype) for dtype, _ in tr.signature
        ]  # to skip converting arrays that fit
        self.gradient_layouts = {}  # skautodiff.api's, by differentiated names: computed once per entry
        guards = [pt.eq(g.var, np.array(g.outcome)) for g in tr.guards]
        self._guard = pt.all(pt.stack(guards)) if guards else None

    def function(self, kind, backend="c", rows=()):
        """The compiled `kind`; `rows` (JAX backend): the leaf inputs whose rows it pads to a bucket
        (see backends/rows.py)."""
        key = (kind, backend, tuple(rows), os.environ.get("SKAUTODIFF_MODE", "c"))
        fn = self._functions.get(key)
        if fn is None:
            with _lock:  # another thread may have compiled it meanwhile
                fn = self._functions.get(key)
                if fn is None:
                    fn = self._functions[key] = self._build(kind, backend, rows)
        return fn

    def _build(self, kind, backend="c", rows=()):
        """Copies of the C function, or (tiering) a Tiered function on the Python tier whose C
        tier compiles in the background; on the JAX backend, one jitted function."""
        if backend == "jax":
            from .backends import jax as jax_backend

            label = f"{kind.replace('_', ' ')} of {self._name()}"
            if not jax_backend.has_sparse(self.trace.all_inputs):
                _stats["compiles"] += 1
                if kind.startswith("step:"):  # a functional step: state in, state out
                    from .backends import jax_steps

                    return jax_steps.build(self, kind, label, rows)
                return jax_backend.build(self, kind, label, rows)
            warnings.warn(
                f'skautodiff: {label} takes a scipy.sparse matrix, which PyTensor\'s JAX linker '
                'cannot take; it runs on the C backend (backend="c") instead',
                UserWarning,
                stacklevel=2,
            )
        inputs, outputs, updates = self._graph(kind)
        _stats["compiles"] += 1

        def pool(fn, tier):  # a step keeps state: one lease per fit instead of one copy per call
            return Leases(fn, [s for s, _ in updates], tier) if updates else Copies(fn, tier)

        if not tiers.enabled():
            return pool(self._compile(kind, inputs, outputs, "C", updates), "C")
        first = pool(self._compile(kind, inputs, outputs, "Python", updates), "Python")

        def compile_c():  # in tiers' background thread, without _lock: the fit goes on meanwhile
            with _c_lock:
                if not compiledir.usable():  # mode() would give the Python linker again
                    return None
                return pool(self._compile(kind, inputs, outputs, "C", updates), "C")

        return tiers.Tiered(first, compile_c, f"{kind.replace('_', ' ')} of {self._name()}")

    def _name(self):
        return getattr(self.trace.func, "__qualname__", "function")

    def _graph(self, kind, forward=None):
        """(inputs, outputs, updates) of the compiled `kind`: the traced graph, differentiated as
        needed; a stochastic step ("step:adam", ...) updates its shared variables. `forward`:
        (inputs, outputs, guard) to use instead of the trace's (the JAX backend's row-padded
        graph, backends/rows.py)."""
        if kind.startswith("step:"):
            from .stochastic import step_graph

            cost, wrt, grads = graphs.gradients(self.trace)
            return step_graph(kind[len("step:") :], list(self.trace.all_inputs), cost, wrt, grads)
        tr = self.trace
        inputs, traced, guard = forward or (tr.all_inputs, tr.outputs, self._guard)
        inputs, outputs = graphs.build(tr, Kind(kind), (inputs, traced))
        if guard is not None:
            outputs.append(guard)
        return inputs, outputs, []

    def _compile(self, kind, inputs, outputs, tier, updates=()):
        name, what = self._name(), kind.replace("_", " ")
        if tier == "C":
            log.info(
                "skautodiff: compiling %s of %s (%d inputs) to C with PyTensor; each C module "
                "not in the compile cache yet is a g++ run of a few seconds (a first model on a "
                "cold cache: tens of seconds, up to about 1.5 minutes on 2 busy cores)",
                what,
                name,
                len(inputs),
            )
        start = time.perf_counter()
        with ignoring(NO_BLAS_WARNING):
            fn = compiledir.build(
                lambda: pytensor.function(
                    inputs,
                    outputs,
                    updates=list(updates),
                    mode=mode(tier, hoist_shape_checks=not updates),  # Copies runs the checks
                    on_unused_input="ignore",
                )
            )
        fn.trust_input = True  # Entry.inputs already converts every value to its input's type
        if tier == "C":
            log.info(
                "skautodiff: compiled %s of %s in %.2f s", what, name, time.perf_counter() - start
            )
        else:
            log.info(
                "skautodiff: %s of %s runs on the Python tier (built in %.2f s) until its C tier "
                "is compiled in the background",
                what,
                name,
                time.perf_counter() - start,
            )
        return fn

    def free(self):
        """Drop the intermediate arrays the compiled functions keep between calls."""
        for fn in list(self._functions.values()):
            fn.free()

    def inputs(self, call, device=False):
        """The compiled functions' input values for `call`. With `device` (the JAX backend), JAX
        arrays of the input's dtype are passed as they are: they already live on a device, and
        they are immutable. Everything else is converted (numpy: read at every call, never kept)."""
        tr = self.trace
        values = [
            leaf
            if (type(leaf) is np.ndarray and leaf.dtype is dtype and leaf.flags.aligned)
            or (device and is_jax_array(leaf) and leaf.dtype == dtype)
            else input_value(leaf, *sig)
            for leaf, sig, dtype in zip(call.leaves, tr.signature, self._dtypes)
        ]
        for outer in tr.outer_inputs:  # numbers and arrays from outside, read now
            try:
                value = outer.read(call)
            except Exception:
                raise GuardFailed() from None
            if input_signature(value) != outer.signature:
                raise GuardFailed()
            values.append(aligned(np.asarray(value, dtype=outer.var.dtype)))
        return values

    def run(self, kind, values, fresh=False, backend="c", rows=()):
        """Outputs of the compiled `kind` for input values; GuardFailed when a guard fails."""
        fn = self.function(kind, backend, rows)
        try:
            outs = fn(*values)
        except Exception:
            if (self._guard is None and not self.trace.handles_exceptions) or fresh:
                raise
            # A branch taken at trace time no longer fits; or, in code with try blocks, an
            # operation that succeeded when traced raises now (natively, a handler would run).
            raise GuardFailed() from None
        if self._guard is not None:
            if not outs[-1]:
                raise GuardFailed()
            outs = outs[:-1]
        return outs

    def values(self, outs):
        """The user function's return value from compiled outputs."""
        tr = self.trace
        return pytree.unflatten(tr.out_treedef, [restore(k, o) for k, o in zip(tr.out_kinds, outs)])


def _copy(leaf):
    return leaf.copy() if hasattr(leaf, "copy") else leaf


_logged_side_effects = set()


def _log_side_effects(func, effects):
    if func.__code__ in _logged_side_effects:
        return
    _logged_side_effects.add(func.__code__)
    where = "; ".join(
        f"{what} ({loc.filename}, line {loc.lineno})" if loc is not None else what
        for loc, what in effects[:5]
    )
    log.info(
        "skautodiff: %s has side effects (%s%s); each call of its compiled functions also runs it "
        "natively once, so they happen as in plain Python (one native evaluation per call)",
        getattr(func, "__qualname__", "function"),
        where,
        ", ..." if len(effects) > 5 else "",
    )


class Call:
    """A call's arguments, flattened, and the cache entries that may serve it."""

    def __init__(self, fn, args, kwargs, wrt_names):
        self.fn, self.args, self.kwargs, self.wrt_names = fn, args, kwargs, wrt_names
        self.func, self.bound_self = func, bound_self = resolve_callable(fn)
        arguments = bind(func, bound_self, args, kwargs)
        self.leaves, self.treedef, self.statics = pytree.flatten(arguments)
        treedef = self.treedef
        self.names = list(treedef.meta)
        self.owners = leaf_owners(treedef)  # the parameter name of each leaf
        differentiable = [
            is_differentiable(leaf, owner, wrt_names)
            for leaf, owner in zip(self.leaves, self.owners)
        ]
        self.wrt_indices = [i for i, d in enumerate(differentiable) if d]
        signature = tuple(leaf_signature(leaf, d) for leaf, d in zip(self.leaves, differentiable))
        self.key = (func.__code__, type(bound_self), treedef, signature, tuple(sorted(wrt_names)))

    def run(self, kind, extra=(), backend="c", rows=()):
        """(entry, compiled outputs), tracing when no cached trace's guards hold. A function with
        side effects then runs natively once, after the compiled call has read the outer state
        it depends on: its prints, appends and writes happen once per call, as in plain Python."""
        entry, outs = self._run(kind, extra, backend, rows)
        if entry.trace.side_effects:
            self.run_natively(entry.trace)
        return entry, outs

    def run_natively(self, tr):
        args, kwargs = self.args, self.kwargs
        if tr.writes_arguments:  # the engine copies on write; so does this run
            args, kwargs = pytree.tree_map(_copy, (args, kwargs))
        self.fn(*args, **kwargs)

    def _run(self, kind, extra, backend, rows):
        entries = _cache.get(self.key, ())
        tried = len(entries)  # entries are only ever appended: later ones are new
        found = self._cached(entries[:tried], kind, extra, backend, rows)
        if found is not None:
            return found
        with _lock:  # one thread traces; others asking meanwhile find its entry here
            entries = _cache.setdefault(self.key, [])
            found = self._cached(entries[tried:], kind, extra, backend, rows)
            if found is not None:
                return found
            entry = self._trace()
            entries.append(entry)
        try:
            return entry, entry.run(
                kind,
                entry.inputs(self, device=backend == "jax") + list(extra),
                fresh=True,
                backend=backend,
                rows=rows,
            )
        except GuardFailed:
            raise RuntimeError(
                "internal error: a fresh trace's guards fail on the values it was "
                "traced with; please report this function"
            ) from None

    def cached(self):
        """The cache entries for these arguments' structure (traced so far)."""
        return list(_cache.get(self.key, ()))

    def entry(self):
        """The cache entry for these arguments, traced when none fits, without running anything
        (for compiled functions of its own, such as a stochastic step). Entries with guards
        (branches on values) need a run to be chosen; a new trace decides for them."""
        for entry in list(_cache.get(self.key, ())):
            if not entry.trace.guards and all(g.holds(self) for g in entry.trace.value_guards):
                return entry
        with _lock:
            entry = self._trace()
            _cache.setdefault(self.key, []).append(entry)
        return entry

    def _trace(self):
        """A new entry (the caller holds _lock and adds it to the cache)."""
        start = time.perf_counter()
        entry = Entry(trace(self.fn, self.args, self.kwargs, self.wrt_names))
        _stats["traces"] += 1
        log.info(
            "skautodiff: traced %s in %.3f s (%d guards)",
            getattr(self.func, "__qualname__", "function"),
            time.perf_counter() - start,
            len(entry.trace.guards) + len(entry.trace.value_guards),
        )
        if entry.trace.side_effects:
            _log_side_effects(self.func, entry.trace.side_effects)
        return entry

    def _cached(self, entries, kind, extra, backend, rows):
        """(entry, outputs) from the first of `entries` whose guards hold, else None."""
        for entry in entries:
            if all(g.holds(self) for g in entry.trace.value_guards):
                try:
                    return entry, entry.run(
                        kind,
                        entry.inputs(self, device=backend == "jax") + list(extra),
                        backend=backend,
                        rows=rows,
                    )
                except GuardFailed:
                    continue
        return None
