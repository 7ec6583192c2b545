"""The JAX backend: the same traced and differentiated graph, compiled by PyTensor's JAX linker.

`compile.Entry` builds the graph of each kind (value, value and gradient, Hessian-vector product)
as for the C backend and hands it here. PyTensor rewrites it with its `fast_run` and `jax`
rewrites (less the two the C mode also leaves out, see `compile.mode`) and turns it into one
`jax.jit`-compiled function. skautodiff's numpy-backed ops (`numpy_ops.py`) never appear: they
are graph rewrites tagged for the C mode only. Neither tiered compilation nor `compile.Copies`
is needed: XLA compiles in one step, and a jitted function is re-entrant.

float64: JAX computes in float32 unless its `jax_enable_x64` flag is on. Every call here, and
every transfer, runs inside JAX's scoped `enable_x64` context (thread-local, restored on exit),
so float64 graphs run in float64 and float32 graphs in float32, and the user's global JAX
configuration is never changed.

Data on the device: `to_device` places a call's input values on JAX's default device once;
`minimize` (and so every estimator) does it for the data at the start of a fit, and then only
the parameter leaves cross per evaluation (numpy in, value and gradient back as numpy).

XLA compiles once per distinct input shape. `compile_counts()` reports how many compilations
each function needed; the estimators keep a fit's shapes few (see `skautodiff.backends.buckets`).
"""
import logging
import threading
import warnings
import weakref

import numpy as np

log = logging.getLogger("skautodiff")

# As in compile.mode(): local_log_sum_exp re-stabilises an already stabilised log-sum-exp (a
# different rounding from numpy's), and local_add_of_sparse_write gives wrongly shaped gradients
# on pytensor 3.0.7.
_EXCLUDED = ("local_log_sum_exp", "local_add_of_sparse_write")
_compiled = weakref.WeakSet()   # every Compiled alive, for compile_counts()
_compiled_lock = threading.Lock()


class UnsupportedOnJax(NotImplementedError):
    """The graph holds an operation that PyTensor's JAX linker cannot run."""


def mode():
    from pytensor.compile.mode import get_mode
    return get_mode("JAX").excluding(*_EXCLUDED)


def x64():
    """JAX's float64 switch as a scoped, thread-local context (the global flag is left alone)."""
    import jax
    if hasattr(jax, "enable_x64"):   # jax >= 0.6: a configuration state usable as a context
        return jax.enable_x64(True)
    from jax.experimental import enable_x64   # older jax
    return enable_x64()


def has_sparse(inputs):
    return any(getattr(v.type, "format", None) is not None for v in inputs)


def _jax_errors():
    import jax
    errors = jax.errors
    return (NotImplementedError, errors.ConcretizationTypeError, errors.TracerArrayConversionError,
            errors.TracerIntegerConversionError, errors.TracerBoolConversionError,
            errors.NonConcreteBooleanIndexError)


class Compiled:
    """One graph as a jitted JAX function: called with the graph's input values (numpy arrays or
    arrays already on the device), it returns the outputs as numpy arrays."""

    def __init__(self, inputs, outputs, label):
        import pytensor
        self.label = label
        with x64(), warnings.catch_warnings():
            # PyTensor drops its runtime broadcast checks (Assert ops) from JAX graphs and says so
            # per op; JAX checks shapes itself when it traces.
            warnings.filterwarnings("ignore", message="Skipping .* Op .* as JAX tracing would remove it")
            try:
                function = pytensor.function(inputs, outputs, mode=mode(), on_unused_input="ignore")
            except NotImplementedError as error:   # PyTensor has no JAX implementation of an op
                raise UnsupportedOnJax(f'backend="jax" cannot compile the {label}: {_first_line(error)}; '
                                       'use backend="c" for this function') from None
        self._jit = function.vm.jit_fn   # the jax.jit function PyTensor's JAXLinker made
        self.fgraph = function.maker.fgraph   # the rewritten graph (for inspection and tests)
        self.shapes = set()   # the input shapes seen: XLA compiles once for each
        with _compiled_lock:
            _compiled.add(self)

    def __call__(self, *values):
        shapes = tuple(getattr(v, "shape", ()) for v in values)
        if shapes not in self.shapes:
            self.shapes.add(shapes)   # (a set: threads adding the same shapes at once are harmless)
        with x64():
            try:
                outs = self._jit(*values)
            except _jax_errors() as error:   # raised while JAX traces the converted graph
                raise UnsupportedOnJax(f'backend="jax" cannot run the {self.label}: '
                                       f'{type(error).__name__}: {_first_line(error)}; use backend="c" '
                                       'for this function') from None
        # Copies: JAX's own buffers are read-only, and callers may write into what they get.
        return [np.array(o) for o in outs]

    def to_device(self, values):
        """The values as arrays on JAX's default device (transferred now, once)."""
        import jax
        with x64():
            return [jax.device_put(v) if isinstance(v, (np.ndarray, np.generic)) else v for v in values]

    def compiles(self):
        """How many times XLA compiled this function: once per distinct set of input shapes."""
        return len(self.shapes)

    def free(self):
        """Nothing is kept between calls beyond JAX's own compiled code."""

    def __iter__(self):
        return iter([self])


def _first_line(error):
    text = str(error).strip()
    return text.splitlines()[0] if text else type(error).__name__


def compile_counts():
    """{function label: XLA compilations} over the JAX backend's functions alive now."""
    counts = {}
    with _compiled_lock:
        functions = list(_compiled)
    for fn in functions:
        n = fn.compiles()
        if n:
            counts[fn.label] = counts.get(fn.label, 0) + n
    return counts
