"""Tiered compilation: a compiled function is usable at once.

A cold C compile takes 8-30 s (one g++ run per distinct C module), and before this module every
first fit on a new machine waited for it. Now each compiled function starts on the **Python
tier**: PyTensor's Python linker running the same rewritten graph through each op's numpy
implementation (no g++, about 0.2 s to build), while one background thread compiles the **C
tier**; the function switches to it as soon as it is ready. The switch is one attribute
assignment, read once per call, so a call in flight finishes on the tier it started on. Both
tiers run the same graph except for elementwise fusion (C only), so they agree to round-off.

A short fit may finish entirely on the Python tier; a long one switches part-way. A function
built during a fit (optimize.minimize, and so every estimator's fit) starts its C compile only
once it has spent `HOT_SECONDS` in Python-tier calls, or when that fit ends, whichever comes
first: a compile costs about 1-2 s of this process's own Python work (rewrites, PyTensor's module
cache, the linker) even when every C module is in the compile cache, and run next to a short fit
it made that fit 1.5-2x slower (the demo's first fit: 29 Python-tier calls in 0.07 s). Functions
built outside a fit (the functional API) compile at once. At exit the
C tiers submitted so far are finished (at most `EXIT_WAIT` s in all), so their modules land
complete in the compile cache and the next process starts warm; what is left after that is
dropped. A process killed meanwhile leaves PyTensor's lock released by the kernel and at most an
unfinished temporary module directory, which PyTensor ignores and later removes.

Worker processes (joblib/loky's, as GridSearchCV(n_jobs=2) starts them; any multiprocessing
child) are short-lived and many: two C compiles next to two fits on a 2-core machine slowed the
whole search. There a C tier is compiled only once its function has spent `WORKER_HOT_SECONDS` in
Python-tier calls (a long fit still switches; a search's short fits never compile), and exit does
not wait for compiles (the parent process warms the cache).

SKAUTODIFF_TIERS=0 turns tiering off (C compiled before the first call, as for a steady-state
benchmark); the test mode SKAUTODIFF_MODE=fast is Python-only anyway.
"""

import atexit
import contextlib
import logging
import multiprocessing
import os
import queue
import threading
import time
import weakref

import pytensor
import pytensor.tensor as pt
from pytensor.compile import optdb
from pytensor.graph.rewriting.basic import in2out, node_rewriter
from pytensor.scalar import Add, Mul
from pytensor.tensor.elemwise import Elemwise

log = logging.getLogger("skautodiff")
NARROW = "skautodiff_narrow_elemwise"  # the Python linker's rewrite tag (see mode())
EXIT_WAIT = 60.0  # seconds an exiting process waits for the C compiles it started
WORKER_HOT_SECONDS = 0.5  # Python-tier call time after which a worker process compiles C
HOT_SECONDS = 0.25  # the same during a fit in any other process


def enabled():
    """Whether new compiled functions start on the Python tier (the C backend's default)."""
    return (
        os.environ.get("SKAUTODIFF_TIERS", "1").lower() not in ("0", "off", "false", "no")
        and os.environ.get("SKAUTODIFF_MODE", "c") != "fast"
        and bool(pytensor.config.cxx)
    )


def in_worker_process():
    """Whether this process was started by multiprocessing or loky (joblib's workers)."""
    return multiprocessing.parent_process() is not None


class Tiered:
    """A compiled function that runs on the Python tier until its C tier is compiled.

    `first` and what `compile_c()` returns are callables (compile.Copies); `label` names the
    function in messages ("value and grad of loss").
    """

    def __init__(self, first, compile_c, label):
        self.current = ("Python", first)
        self.calls = {"Python": 0, "C": 0}  # approximate under threads: for messages only
        self.label = label
        self._compile_c = compile_c
        self.ready = threading.Event()  # set once the C tier runs or could not be built
        self.started = time.perf_counter()
        # The C compile starts at once, except (see the module docstring) for a function built
        # during a fit, or in a worker process: then only once it is hot, `_python_seconds`
        # counting its Python-tier call time until then, or (not in a worker) when the fit ends.
        self._in_worker = in_worker_process()
        fit = getattr(_fitting, "built", None)
        self._deferred = self._in_worker or fit is not None
        self._python_seconds = 0.0
        self._submit_lock = threading.Lock()
        _live.add(self)
        if fit is not None:
            fit.append(self)
        if not self._deferred:
            _worker.submit(self)

    def __call__(self, *values):
        tier, fn = self.current  # one read: the whole call runs on this tier
        self.calls[tier] += 1
        if not self._deferred:
            return fn(*values)
        start = time.perf_counter()
        try:
            return fn(*values)
        finally:
            self._python_seconds += time.perf_counter() - start
            if self._python_seconds >= (WORKER_HOT_SECONDS if self._in_worker else HOT_SECONDS):
                self.start_c_compile(
                    f"it is hot ({self._python_seconds:.2f} s in {self.calls['Python']} "
                    "Python-tier calls)"
                )

    def start_c_compile(self, why):
        """Submit the deferred C compile (once, whichever thread gets here first)."""
        with self._submit_lock:
            if self._deferred:
                self._deferred = False
                log.info(
                    "skautodiff: compiling the C tier of %s in the background: %s", self.label, why
                )
                _worker.submit(self)

    @property
    def tier(self):
        return self.current[0]

    def free(self):
        self.current[1].free()

    def __iter__(self):
        return iter(self.current[1])

    def _switch(self):
        """Runs in the background thread: compile the C tier, then switch to it."""
        start = time.perf_counter()
        try:
            fn = self._compile_c()  # None when the compile directory is unusable (mode() warned)
            if fn is not None:
                self.current = ("C", fn)
                now = time.perf_counter()
                log.info(
                    "skautodiff: %s switched to the C tier %.2f s after it was built, after %d "
                    "call(s) on the Python tier (compiled in the background in %.2f s)",
                    self.label,
                    now - self.started,
                    self.calls["Python"],
                    now - start,
                )
        except Exception as error:  # the Python tier stays correct, only slower
            log.warning(
                "skautodiff: compiling the C tier of %s failed (%s: %s); it keeps running on "
                "the Python tier",
                self.label,
                type(error).__name__,
                error,
            )
        finally:
            self.ready.set()


class _Worker:
    """One daemon thread compiling C tiers in order (g++ runs as a subprocess: the GIL stays free)."""

    def __init__(self):
        self._jobs = queue.Queue()
        self._thread = None
        self._busy = None  # the Tiered being compiled
        self._closing = False
        self._unfinished = 0  # submitted and not compiled (or dropped) yet
        self._lock = threading.Lock()
        self._done = threading.Condition(self._lock)

    def submit(self, tiered):
        with self._lock:
            if self._thread is None:
                self._thread = threading.Thread(
                    target=self._run, name="skautodiff-c-tier", daemon=True
                )
                self._thread.start()
            self._unfinished += 1
        self._jobs.put(tiered)

    def _run(self):
        while True:
            tiered = self._jobs.get()
            with self._lock:  # close() sees either this job started or the worker closing
                closing = self._closing
                if not closing:
                    self._busy = tiered
            try:
                if closing:  # dropped at exit: nothing of it is written
                    tiered.ready.set()
                else:
                    tiered._switch()
            finally:
                with self._lock:
                    self._busy = None
                    self._unfinished -= 1
                    self._done.notify_all()

    def pending(self):
        """The labels of the C tiers not compiled yet (in progress or queued)."""
        busy = self._busy
        return ([busy.label] if busy is not None else []) + [
            t.label for t in list(self._jobs.queue)
        ]

    def close(self, timeout=None):
        """At exit: finish the C tiers submitted so far (at most `timeout` s in all: EXIT_WAIT, none
        in a worker process), so that the next process finds their modules in the compile cache;
        what is left then is dropped."""
        if timeout is None:
            timeout = 0.0 if in_worker_process() else EXIT_WAIT
        with self._lock:
            self._done.wait_for(lambda: self._unfinished == 0, timeout)
            self._closing = True
            left = self._unfinished
        if left:  # a worker process leaves them to the parent: no warning there
            (log.info if timeout == 0 else log.warning)(
                "skautodiff: exiting while %d C tier(s) still compile (%s); they compile "
                "again in the next process",
                left,
                ", ".join(self.pending()),
            )

    def restart_in_child(self):
        """After os.fork(): the child has no worker thread; compile its pending C tiers anew."""
        busy, queued = self._busy, list(self._jobs.queue)
        self.__init__()
        for tiered in ([busy] if busy is not None else []) + queued:
            self.submit(tiered)


_worker = _Worker()
atexit.register(_worker.close)
os.register_at_fork(after_in_child=_worker.restart_in_child)


_live = weakref.WeakSet()  # every Tiered function alive, for call_counts()
_fitting = threading.local()  # .built: the Tiered functions this thread built in the current fit


@contextlib.contextmanager
def c_after_the_fit():
    """Inside (a fit): the compiled functions this thread builds compile their C tier only once
    hot, or when the block ends (not in a worker process, which waits for hot alone)."""
    outer = getattr(_fitting, "built", None)
    _fitting.built = built = []
    try:
        yield
    finally:
        _fitting.built = outer
        if outer is not None:  # a fit inside a fit: the outer one ends later
            outer.extend(built)
        elif not in_worker_process():
            for tiered in built:
                tiered.start_c_compile("the fit that built it has ended")


def call_counts():
    """{Tiered function: its calls per tier so far} for every live tiered function."""
    return {tiered: dict(tiered.calls) for tiered in list(_live)}


def pending():
    """Labels of the compiled functions whose C tier is still being compiled or queued."""
    return _worker.pending()


def wait(timeout=None):
    """Wait until every C tier submitted so far is compiled; True when none is left."""
    deadline = None if timeout is None else time.monotonic() + timeout
    while pending():
        if deadline is not None and time.monotonic() > deadline:
            return False
        time.sleep(0.02)
    return True


@node_rewriter([Elemwise])
def narrow_elemwise(fgraph, node):
    """Split a sum or product of more than 31 terms into sums of at most 31.

    numpy ufuncs take at most 32 operands, so PyTensor's Python implementation of a wider
    elementwise op fails ('Scratchpad' object has no attribute 'ufunc'); the canonical rewrites
    flatten e.g. the gradient of a 30-step recurrence into such a sum.
    """
    if (
        not isinstance(node.op.scalar_op, (Add, Mul))
        or len(node.inputs) < 32
        or node.op.inplace_pattern
    ):
        return None
    terms = list(node.inputs)
    while len(terms) > 31:
        terms = [
            node.op(*terms[i : i + 31]) if len(terms[i : i + 31]) > 1 else terms[i]
            for i in range(0, len(terms), 31)
        ]
    out, want = node.op(*terms), node.outputs[0]
    if out.dtype != want.dtype:  # mixed dtypes: a part may have upcast differently
        out = pt.cast(out, want.dtype)
    return [want.type.filter_variable(out)]


# After elementwise fusion and the last merge (49), before in-place rewrites (49.5).
optdb.register("skautodiff_narrow_elemwise_rewrite", in2out(narrow_elemwise), NARROW, position=49.2)
