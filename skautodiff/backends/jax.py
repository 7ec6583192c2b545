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
the parameter vector crosses per evaluation (`Compiled.flat`: one float64 vector in, one back
with the value and the gradient). Arguments that already are JAX arrays are passed as they are
(`compile.Entry.inputs`): a caller who placed the data with `jax.device_put` pays no transfer.

XLA compiles once per distinct input shape. `compile_counts()` reports how many compilations
each function needed; the estimators keep a fit's shapes few (row buckets: `skautodiff.backends.rows`).
"""

import logging
import math
import threading
import warnings
import weakref

import numpy as np

from ..compile import GuardFailed

log = logging.getLogger("skautodiff")

# As in compile.mode(): local_log_sum_exp re-stabilises an already stabilised log-sum-exp (a
# different rounding from numpy's), and local_add_of_sparse_write gives wrongly shaped gradients
# on pytensor 3.0.7.
_EXCLUDED = ("local_log_sum_exp", "local_add_of_sparse_write")
TAG = "skautodiff_jax"  # the JAX mode's own rewrites (see transposed_dot)
_compiled = weakref.WeakSet()  # every Compiled alive, for compile_counts()
_compiled_lock = threading.Lock()


class UnsupportedOnJax(NotImplementedError):
    """The graph holds an operation that PyTensor's JAX linker cannot run.

    Raised when a function is compiled with ``backend="jax"``; the message names the PyTensor
    operation and suggests ``backend="c"``. doc/backends.md lists the operations refused.
    """


def mode():
    from pytensor.compile.mode import get_mode

    _register_rewrites()
    return get_mode("JAX").excluding(*_EXCLUDED).including(TAG)


_registered = []


def _register_rewrites():
    """`X.T @ v` -> `(v.T @ X).T` for a vector or one-column v. XLA on CPU transposes X in memory
    for the first form: 4-5x the time of the second on the logistic gradient's 100000x100
    `X.T @ r` (measured), which made the whole loss and gradient 2.5x slower than jax.grad's."""
    if _registered:
        return
    import pytensor.tensor as pt
    from pytensor.compile import optdb
    from pytensor.graph.rewriting.basic import in2out, node_rewriter
    from pytensor.tensor.elemwise import DimShuffle
    from pytensor.tensor.math import Dot

    @node_rewriter([Dot])
    def transposed_dot(fgraph, node):
        a, b = node.inputs
        owner = a.owner
        if (
            owner is None
            or not isinstance(owner.op, DimShuffle)
            or tuple(owner.op.new_order) != (1, 0)
        ):
            return None
        matrix = owner.inputs[0]
        if b.ndim == 1:
            out = pt.dot(b, matrix)
        elif b.ndim == 2 and b.type.shape[1] == 1 and matrix.type.shape[1] != 1:
            # (with two one-column operands the result would match again: a rewrite loop)
            out = pt.dot(b.T, matrix).T
        else:
            return None
        want = node.outputs[0]
        return [want.type.filter_variable(out.astype(want.dtype), allow_convert=True)]

    # after the canonical and specialising rewrites (which may build X.T @ v), before in-place ones
    optdb.register("skautodiff_jax_transposed_dot", in2out(transposed_dot), TAG, position=49.1)
    _reductions_in_their_dtype()
    _product_of_nonzeros()
    _registered.append(transposed_dot)


def _reductions_in_their_dtype():
    """PyTensor's JAX reduction (pytensor 3.0.7 and 3.3.8) returns its accumulator's dtype, not
    the output's: a float32 sum (accumulated in float64, as in C) came out float64, and every
    value computed from it after that, so float32 graphs ran partly in float64 (and returned
    float64 values and optimiser state). The result is cast to the output's dtype, as C does."""
    from pytensor.link.jax.dispatch import jax_funcify
    from pytensor.tensor.elemwise import CAReduce

    generic = jax_funcify.dispatch(CAReduce)

    @jax_funcify.register(CAReduce)
    def careduce_in_output_dtype(op, node=None, **kwargs):
        reduce = generic(op, node=node, **kwargs)
        if node is None:
            return reduce
        dtype = node.outputs[0].dtype

        def careduce(x):
            return reduce(x).astype(dtype)

        return careduce


def _product_of_nonzeros():
    """np.prod's gradient uses PyTensor's ProdWithoutZeros (the product of a slice's nonzero
    entries; 0 for a slice without any, its identity being 0). PyTensor 3.0.7 has no JAX
    implementation of it (its generic reduction asks for a jax.lax function that does not exist);
    this one is used where PyTensor has none of its own."""
    import jax.numpy as jnp
    from pytensor.link.jax.dispatch import jax_funcify
    from pytensor.tensor.math import ProdWithoutZeros

    if jax_funcify.dispatch(ProdWithoutZeros) is not jax_funcify.dispatch(
        ProdWithoutZeros.__mro__[1]
    ):
        return  # PyTensor's own (3.3.8 on)

    @jax_funcify.register(ProdWithoutZeros)
    def product_of_nonzeros(op, node=None, **kwargs):
        axis = op.axis if op.axis is None else tuple(op.axis)
        dtype = node.outputs[0].dtype if node is not None else op.dtype

        def prod_without_zeros(x):
            nonzero = x != 0
            product = jnp.prod(jnp.where(nonzero, x, 1), axis=axis)
            return jnp.where(jnp.any(nonzero, axis=axis), product, 0).astype(dtype)

        return prod_without_zeros


def x64():
    """JAX's float64 switch as a scoped, thread-local context (the global flag is left alone)."""
    import jax

    if hasattr(jax, "enable_x64"):  # jax >= 0.6: a configuration state usable as a context
        return jax.enable_x64(True)
    from jax.experimental import enable_x64  # older jax

    return enable_x64()


def has_sparse(inputs):
    return any(getattr(v.type, "format", None) is not None for v in inputs)


def build(entry, kind, label, rows=()):
    """The JAX function of `entry`'s `kind`; with `rows` (leaf positions of the data whose first
    axis is the samples), one that pads those rows to a bucket (see rows.py), or, when the loss
    does something with its rows that padding could change, one compiled per exact shape."""
    from .rows import NotRowwise, mask_rows, paddable

    tr = entry.trace
    inputs = list(tr.all_inputs)
    rows = paddable(tr, rows)
    if not rows or kind == "hvp":
        return Compiled(*entry._graph(kind)[:2], label)
    guard = entry._guard
    traced = list(tr.outputs) + ([guard] if guard is not None else [])
    try:
        new_inputs, outs = mask_rows(inputs, traced, rows)
    except NotRowwise as why:
        log.info(
            "skautodiff: the %s is compiled for each data size on JAX: padding its rows to a "
            "bucket could change it (%s)",
            label,
            why,
        )
        return Compiled(*entry._graph(kind)[:2], label)
    forward = (new_inputs, outs[: len(tr.outputs)], outs[-1] if guard is not None else None)
    return Compiled(*entry._graph(kind, forward)[:2], label, rows)


class Compiled:
    """One graph as a jitted JAX function: called with the graph's input values (numpy arrays or
    arrays already on the device), it returns the outputs as numpy arrays.

    The graph is first converted once, shape-generic. Some of PyTensor's JAX implementations need
    a shape that the generic graph computes at run time (an `Alloc` of `np.zeros(len(x))`, a
    `Reshape`); JAX refuses those while it traces. The function then converts the graph once per
    input shapes instead, with the shapes fixed, so that PyTensor folds them into constants (XLA
    compiles once per shapes either way; only PyTensor's rewrites run again).
    """

    def __init__(self, inputs, outputs, label, rows=()):
        self.label = label
        self.rows = (
            rows  # inputs padded to a row bucket; then the row count and mask are the last inputs
        )
        self._inputs, self._outputs = inputs, outputs
        self._by_shapes = None  # {shapes: jitted function} once the graph needs fixed shapes
        self._generic_error = None
        try:
            self._jit = _convert(inputs, outputs, label)  # the generic graph's jitted function
        except UnsupportedOnJax as error:
            # Some conversions need constant arguments (jnp.arange of a length read from a shape):
            # try fixed shapes at the first call, and report this error if that fails too.
            self._jit, self._by_shapes, self._generic_error = None, {}, error
        self.shapes = set()  # the input shapes seen: XLA compiles once for each
        self._flat = {}  # (inner jitted function, parameter layout) -> the jitted flat function
        self.flat_shapes = set()  # (that key, input shapes): XLA compiles once for each
        with _compiled_lock:
            _compiled.add(self)

    def __call__(self, *values):
        if self.rows and len(values) < len(self._inputs):  # not padded yet (to_device pads)
            values = self._pad(values)
        shapes = tuple(getattr(v, "shape", ()) for v in values)
        new = shapes not in self.shapes
        with x64():
            if self._by_shapes is not None:
                jit = self._by_shapes.get(shapes) or self._specialise(shapes, self._generic_error)
                outs = jit(*values)
            else:
                try:
                    outs = self._jit(*values)
                except Exception as error:
                    if not new:  # compiled for these shapes already: a runtime error of XLA's
                        raise
                    # JAX traced the converted graph for these shapes and failed
                    outs = self._specialise(shapes, error)(*values)
        if new:
            self.shapes.add(shapes)  # (a set: threads adding the same shapes at once are harmless)
        # Copies: JAX's own buffers are read-only, and callers may write into what they get.
        return [np.array(o) for o in outs]

    def _specialise(self, shapes, error):
        """The graph converted for fixed input shapes; UnsupportedOnJax (naming the op that
        failed in the generic graph) when that fails too."""
        from .. import compile  # PyTensor's compiler is not known to be thread-safe

        with compile._lock:
            if self._by_shapes is not None and shapes in self._by_shapes:
                return self._by_shapes[shapes]
            fixed = [_fixed(v, shape) for v, shape in zip(self._inputs, shapes)]
            try:
                jit = _convert(fixed, _replace(self._outputs, self._inputs, fixed), self.label)
                # JAX traces now, so that a failure is reported here
                if hasattr(jit, "lower"):  # (not PyTensor's wrapper for shape arguments)
                    jit.lower(*[_abstract(v) for v in fixed])
            except Exception as again:  # noqa: BLE001  (any failure of JAX here is a refusal)
                first = error if error is not None else again
                if isinstance(first, UnsupportedOnJax):
                    raise first from None
                raise UnsupportedOnJax(
                    f'backend="jax" cannot run the {self.label}: the JAX '
                    f'implementation of {_failing_op(first)} failed: '
                    f'{type(first).__name__}: {_first_line(first)}; use backend="c" '
                    'for this function'
                ) from None
            by_shapes = dict(self._by_shapes or {})
            by_shapes[shapes] = jit
            self._by_shapes = by_shapes  # one assignment: readers see the old or the new dict
            if error is not None:
                log.info(
                    "skautodiff: the %s needs fixed shapes on JAX (%s); it is converted once per "
                    "input shapes",
                    self.label,
                    _first_line(error),
                )
            return jit

    def _pad(self, values):
        from .rows import bucket, pad

        values = list(values)
        counts = {np.shape(values[i])[0] for i in self.rows}
        if len(counts) != 1:
            raise ValueError(
                f"the data of the {self.label} have different numbers of rows "
                f"({', '.join(map(str, sorted(counts)))})"
            )
        n = counts.pop()
        size = bucket(n)
        for i in self.rows:
            values[i] = pad(values[i], size)
        return values + [np.int64(n), np.arange(size) < n]

    def to_device(self, values):
        """The values as arrays on JAX's default device (transferred now, once; the data's rows
        padded to their bucket first)."""
        import jax

        if self.rows and len(values) < len(self._inputs):
            values = self._pad(values)
        with x64():
            return [
                jax.device_put(v) if isinstance(v, (np.ndarray, np.generic)) else v for v in values
            ]

    def flat(self, values, indices, guarded):
        """`fn(flat) -> (value, gradient)` for a value-and-gradient function whose parameter
        leaves are at `indices` and whose other inputs are `values` (placed by `to_device`):
        one jitted call per evaluation that slices the leaves from the flat float64 vector and
        returns the value and the flat gradient (and the guard) packed in one float64 vector.
        None when this function cannot be wrapped (PyTensor's wrapper for shape arguments).

        Why: per call, JAX's dispatch and the conversions back to numpy cost about 10 us per
        argument and per output; minimize's objective on separate leaves and outputs measured
        1.3-1.6x hand-written `jax.jit(jax.value_and_grad(loss))` on small problems, this 0.9-1.05x.
        The first evaluation of a fit runs here too, so XLA compiles the loss once, not twice."""
        import jax

        indices = sorted(indices)
        shapes = tuple(getattr(v, "shape", ()) for v in values)
        inner = self._jit_for(shapes, values)
        if inner is None:
            return None
        layout = tuple((i, shapes[i], self._inputs[i].type.dtype) for i in indices)
        key = (inner, layout)
        packed = self._flat.get(key)
        if packed is None:
            packed = jax.jit(_packed(inner, layout))
            self._flat = {**self._flat, key: packed}  # one assignment: readers see old or new
        self.flat_shapes.add((key, shapes))
        others = [v for i, v in enumerate(values) if i not in set(indices)]
        return _Flat(packed, others, guarded)

    def _jit_for(self, shapes, values):
        """The jitted function that runs these input shapes (traced now, not compiled, when they
        are new), or None when it is not a plain jax.jit function."""
        if self._by_shapes is not None:
            jit = self._by_shapes.get(shapes) or self._specialise(shapes, self._generic_error)
        else:
            jit = self._jit
            if shapes not in self.shapes and hasattr(jit, "lower"):
                try:
                    with x64():
                        (jit.trace if hasattr(jit, "trace") else jit.lower)(*values)
                except Exception as error:  # noqa: BLE001  (as in __call__: fixed shapes then)
                    jit = self._specialise(shapes, error)
        return jit if hasattr(jit, "lower") else None

    def compiles(self):
        """How many times XLA compiled this function: once per distinct set of input shapes, and
        once per shapes for each parameter layout of `flat`."""
        return len(self.shapes) + len(self.flat_shapes)

    def free(self):
        """Nothing is kept between calls beyond JAX's own compiled code."""

    def __iter__(self):
        return iter([self])


def _packed(inner, layout):
    """The function of (flat parameter vector, other inputs) that `Compiled.flat` jits: `layout`
    holds (position, shape, dtype) of each parameter leaf, in increasing positions."""
    import jax.numpy as jnp

    def packed(flat, *others):
        values, start = list(others), 0
        for i, shape, dtype in layout:
            size = math.prod(shape)
            values.insert(i, flat[start : start + size].reshape(shape).astype(dtype))
            start += size
        outs = inner(*values)
        return jnp.concatenate([jnp.ravel(o).astype(jnp.float64) for o in outs])

    return packed


class _Flat:
    """One fit's flat value-and-gradient function (see `Compiled.flat`)."""

    def __init__(self, packed, others, guarded):
        self._packed, self._others, self._guarded = packed, others, guarded

    def __call__(self, flat):
        flat = np.asarray(flat, dtype=np.float64)
        try:
            with x64():
                out = np.asarray(self._packed(flat, *self._others))
        except Exception:
            if not self._guarded:
                raise
            raise GuardFailed() from None  # as in Entry.run: a branch that no longer fits
        if self._guarded:
            if not out[-1]:
                raise GuardFailed()
            out = out[:-1]
        # a copy: the gradient must not alias JAX's (read-only) buffer
        return float(out[0]), np.array(out[1:])


def _convert(inputs, outputs, label):
    """PyTensor's JAX linker over the graph: its jax.jit function."""
    import pytensor

    with x64(), warnings.catch_warnings():
        # PyTensor drops its runtime broadcast checks (Assert ops) from JAX graphs and says so
        # per op; JAX checks shapes itself when it traces.
        warnings.filterwarnings(
            "ignore", message="Skipping .* Op .* as JAX tracing would remove it"
        )
        warnings.filterwarnings(
            "ignore",
            message=".* does not have constant .* positions. Jax implementation will likely fail",
        )
        try:
            function = pytensor.function(inputs, outputs, mode=mode(), on_unused_input="ignore")
        except NotImplementedError as error:  # PyTensor has no JAX implementation of an op
            raise UnsupportedOnJax(
                f'backend="jax" cannot compile the {label}: {_first_line(error)}; '
                'use backend="c" for this function'
            ) from None
    return function.vm.jit_fn  # the jax.jit function PyTensor's JAXLinker made


def _fixed(var, shape):
    """A variable like `var` whose type has the static shape `shape`."""
    from pytensor.tensor import TensorType

    if not isinstance(var.type, TensorType):
        return var
    return TensorType(var.type.dtype, shape=shape)(name=var.name)


def _replace(outputs, inputs, fixed):
    from pytensor.graph.replace import clone_replace

    return clone_replace(outputs, replace=[(a, b) for a, b in zip(inputs, fixed) if a is not b])


def _abstract(var):
    import jax

    return jax.ShapeDtypeStruct(var.type.shape, var.type.dtype)


def _failing_op(error):
    """The PyTensor op whose JAX implementation raised `error`: the innermost frame of PyTensor's
    JAX dispatch functions (jax_funcify_<Op>.<locals>.<function>)."""
    where, tb = None, error.__traceback__
    while tb is not None:
        code = tb.tb_frame.f_code
        if "link/jax/dispatch" in code.co_filename.replace("\\", "/"):
            where = getattr(code, "co_qualname", code.co_name)
        tb = tb.tb_next
    if where is None:
        return "an operation (JAX's traceback names none of PyTensor's)"
    owner = where.split(".<locals>.")[0]
    return owner.replace("jax_funcify_", "") + f" ({where})"


def _first_line(error):
    text = str(error).strip()
    return text.splitlines()[0] if text else type(error).__name__


def compile_counts():
    """XLA compilations of the JAX backend's functions alive now.

    Returns
    -------
    dict
        ``{function label: compilations}``: one compilation per distinct set of input shapes
        (row buckets keep them few, see doc/backends.md).
    """
    counts = {}
    with _compiled_lock:
        functions = list(_compiled)
    for fn in functions:
        n = fn.compiles()
        if n:
            counts[fn.label] = counts.get(fn.label, 0) + n
    return counts


# The names for users (doc/api.rst); compile.py uses build and has_sparse too.
__all__ = ["UnsupportedOnJax", "compile_counts"]
