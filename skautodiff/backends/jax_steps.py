"""The stochastic optimisers' step on the JAX backend: one jitted function per fit's shapes.

The C backend's step (stochastic.Stepper) keeps the parameters and the optimiser's slots in
PyTensor shared variables and takes each batch from numpy. Here the same step graph
(stochastic.step_graph: the loss on a batch, its gradient, the Adam/SGD update) is made
functional, state in and state out, and wrapped in one `jax.jit` that also takes the batch:

* the data (X, y, sample_weight) go to the device once per fit, their rows padded to a bucket
  (rows.bucket) so that folds of a grid search of nearby sizes share a compilation;
* each epoch sends the order of the rows (the shuffled permutation) once; each step then sends only
  the batch number and the hyperparameters (the learning rate changes between steps), and the
  jitted function gathers the batch's rows on the device;
* the parameters and slots stay on the device between steps (donated to the step where the
  platform supports donation, so XLA updates them in place); what comes back per step is the batch
  loss, a device scalar that the epoch loop reads once per epoch (scikit-learn's loss_curve_).

The last, smaller batch of an epoch is padded to the batch size with copies of its first row and
a mask of real rows, through the same graph rewrite as the row buckets (rows.mask_rows: padded
rows change no sum, mean or gradient, exactly), so an epoch compiles once. A loss that padding
could change (rows.NotRowwise: a median, a sort over rows) is compiled for the exact batch sizes
instead: correct, two compilations (full batches and the last one).
"""

import threading

import numpy as np

from .. import pytree
from . import jax as jax_backend
from .rows import NotRowwise, bucket, mask_rows, pad, paddable


def build(entry, kind, label, rows=()):
    """The JAX step of `entry` for `kind` ("step:adam", "step:sgd+bounds", ...): a `Step`.
    `rows`: the leaf positions of the batch's arrays (X, y, sample_weight)."""
    import pytensor.tensor as pt  # noqa: F401  (PyTensor loads before the graph is built)
    from pytensor.graph.replace import clone_replace

    from .. import graphs
    from ..stochastic import step_graph

    tr = entry.trace
    inputs = list(tr.all_inputs)
    padded = paddable(tr, rows)
    forward_inputs, outputs = inputs, list(tr.outputs)
    if padded:
        try:
            forward_inputs, outputs = mask_rows(inputs, outputs, padded)
        except NotRowwise as why:
            jax_backend.log.info(
                "skautodiff: the %s is compiled for each batch size on JAX: padding the last "
                "batch could change it (%s)",
                label,
                why,
            )
            padded = ()
    cost, wrt, grads = graphs.gradients(tr, outputs)
    step_inputs, [cost], updates = step_graph(
        kind[len("step:") :], list(forward_inputs), cost, wrt, grads
    )
    shared = [s for s, _ in updates]
    state = [s.type(name=s.name) for s in shared]  # the shared variables become inputs
    outs = clone_replace([cost, *[u for _, u in updates]], replace=dict(zip(shared, state)))
    return Step(step_inputs + state, outs, label, tuple(rows), padded, len(state))


class Step:
    """The functional step graph; `jitted(shapes)` gives the jitted step for one fit's shapes.

    Graph inputs: the loss's inputs other than the parameters (with `n_rows` and `real_rows` last
    when the batch is padded), the hyperparameter vector, bounds' limits (if any), then the state
    (parameters, slots). Outputs: the batch loss, then the new state."""

    def __init__(self, inputs, outputs, label, rows, padded, n_state):
        self.label, self.rows, self.padded, self.n_state = label, rows, padded, n_state
        self._inputs, self._outputs = inputs, outputs
        self._jitted = {}  # {(batch size, input shapes, donate): jitted step}
        self.shapes = set()  # distinct shapes the jitted steps were called with: XLA compiles
        self._lock = threading.Lock()
        with jax_backend._compiled_lock:
            jax_backend._compiled.add(self)

    def graph_function(self, shapes):
        """PyTensor's JAX conversion of the graph with these input shapes fixed (fixed shapes let
        PyTensor fold shape arithmetic that JAX needs constant, e.g. np.zeros(len(x)))."""
        fixed = [jax_backend._fixed(v, s) for v, s in zip(self._inputs, shapes)]
        outputs = jax_backend._replace(self._outputs, self._inputs, fixed)
        return jax_backend._convert(fixed, outputs, self.label)

    def compiles(self):
        return len(self.shapes)

    def free(self):
        """Nothing is kept between calls beyond JAX's compiled code."""

    def __iter__(self):
        return iter([self])


class JaxStepper:
    """stochastic.Stepper's interface on the JAX backend: `place` the data once per fit, `epoch`
    with each epoch's order of rows, `step_batch(k)` per batch (returns the batch loss as a device
    scalar). The state lives on the device; `params()`/`slots()` bring it back as numpy."""

    on_device = True

    def __init__(self, loss, params, kwargs, rule, hyper, slots=None, bounds=None):
        from ..stochastic import _limits, initial_slots

        self.loss, self.kwargs, self.rule = loss, dict(kwargs), rule
        leaves, self.treedef, _ = pytree.flatten(params)
        self.limits = None if bounds is None else _limits(bounds, params, leaves)
        self.n_params = len(leaves)
        self._host = [np.array(leaf) for leaf in leaves] + [
            np.array(s) for s in (initial_slots(rule, leaves) if slots is None else slots)
        ]
        self.hyper = np.array(hyper, dtype=np.float64)
        self._device = None  # the state on the device while a fit places data
        self._fit = None  # what place() prepared: (step, jitted, fixed arguments, ...)

    # ------------------------------------------------------------------ a fit's data
    def place(self, X, y, sample_weight, batch_size):
        """Trace and compile (once per loss and shapes) and put the data on the device."""
        import jax

        n = X.shape[0]
        first = np.arange(min(batch_size, n))
        batch = [None if a is None else a.take(first, axis=0) for a in (X, y, sample_weight)]
        entry, call, leaf_of = self._entry(*batch)
        step = entry.function(
            "step:" + self.rule + ("+bounds" if self.limits is not None else ""),
            "jax",
            tuple(sorted(leaf_of.values())),
        )
        tr = entry.trace
        values = entry.inputs(call)  # converted to the trace's dtypes; the parameters are state
        kept = [i for i in range(len(values)) if i not in set(tr.wrt_leaves)]
        size = batch_size if step.padded else None
        total = bucket(n)  # the data's rows padded to a bucket: one compilation for nearby sizes
        data = {}  # position in `kept` -> the whole array, padded and on the device
        with jax_backend.x64():
            for which, array in enumerate((X, y, sample_weight)):
                if array is not None:
                    leaf = leaf_of[which]
                    whole = pad(np.asarray(array, dtype=np.dtype(tr.signature[leaf][0])), total)
                    data[kept.index(leaf)] = jax.device_put(whole)
            others = {p: jax.device_put(values[i]) for p, i in enumerate(kept) if p not in data}
            limits = [jax.device_put(v) for v in self.limits or []]
            self._device = [jax.device_put(v) for v in self._host]
            count = jax.device_put(np.int64(n))
        self._fit = _Fit(step, len(kept), data, others, limits, count, batch_size, size, n)
        self._order = None

    def _entry(self, X, y, sample_weight):
        from ..stochastic import step_entry

        params = pytree.unflatten(self.treedef, self._host[: self.n_params])
        return step_entry(self.loss, params, X, y, sample_weight, self.kwargs)

    def epoch(self, order):
        """This epoch's order of the rows (None: in order), sent once, padded so the last batch
        reads a full batch of rows (copies of its first row, masked out in the graph)."""
        import jax

        fit = self._fit
        n, bs = fit.n, fit.batch_size
        if order is None and self._order is not None and self._order[0] is None:
            return  # in order every epoch: already there
        rows = np.arange(n) if order is None else np.asarray(order)
        last = ((n - 1) // bs) * bs  # the first row of the last batch
        # a length that depends on the data's bucket only, so nearby sizes share a compilation
        full = np.concatenate([rows, np.repeat(rows[last : last + 1], bucket(n) + bs - n)])
        with jax_backend.x64():
            self._order = (order, jax.device_put(full.astype(np.int64)))

    def step_batch(self, k):
        """One update on batch k of this epoch; returns its loss (before the update), a device
        scalar."""
        fit = self._fit
        size = fit.size if fit.size is not None else min(fit.batch_size, fit.n - k * fit.batch_size)
        jitted = fit.jitted(size, self._device, self.hyper)
        with jax_backend.x64():
            loss, self._device = jitted(
                self._device,
                fit.data,
                fit.others,
                fit.limits,
                fit.count,
                self._order[1],
                np.int64(k),
                self.hyper.copy(),  # (the epoch loop changes it in place: never aliased)
            )
        return loss

    # ------------------------------------------------------------------ the state
    def detach(self):
        """The state back into numpy arrays (the device's copy is dropped)."""
        if self._device is not None:
            self._host = [np.array(v) for v in self._device]
            self._device = None
        self._fit = self._order = None

    def params(self):
        """The current parameters (copies), shaped like the starting ones."""
        state = self._device if self._device is not None else self._host
        return pytree.unflatten(self.treedef, [np.array(v) for v in state[: self.n_params]])

    def slots(self):
        self.detach()
        return [np.array(s) for s in self._host[self.n_params :]]


class _Fit:
    """One fit's placed arguments and its step's jitted functions (by batch size)."""

    def __init__(self, step, n_kept, data, others, limits, count, batch_size, size, n):
        self.step, self.n_kept = step, n_kept
        self.data, self.others, self.limits, self.count = data, others, limits, count
        self.batch_size, self.size, self.n = batch_size, size, n
        self._by_size = {}  # this fit's jitted steps (the shapes below are fixed for a fit)

    def jitted(self, size, state, hyper):
        """The jitted step for batches of `size` rows (the padded batch size, or an exact size
        when the loss cannot be padded), built once per shapes and kept on the Step."""
        jitted = self._by_size.get(size)
        if jitted is None:
            jitted = self._by_size[size] = self._lookup(size, state, hyper)
        return jitted

    def _lookup(self, size, state, hyper):
        step = self.step
        whole = {p: tuple(a.shape) for p, a in self.data.items()}
        key = (
            size,
            self.batch_size,
            tuple(sorted(whole.items())),
            tuple((p, tuple(a.shape), str(a.dtype)) for p, a in sorted(self.others.items())),
            tuple(tuple(a.shape) for a in self.limits),
            tuple((tuple(s.shape), str(s.dtype)) for s in state),
        )
        jitted = step._jitted.get(key)
        if jitted is None:
            with step._lock:
                jitted = step._jitted.get(key)
                if jitted is None:
                    jitted = step._jitted[key] = self._make(size, whole, state, hyper)
        if key not in step.shapes:
            step.shapes.add(key)
        return jitted

    def _make(self, size, whole, state, hyper):
        import jax
        import jax.numpy as jnp
        from jax import lax

        step, n_kept, padded = self.step, self.n_kept, bool(self.step.padded)
        shapes = []
        for p in range(n_kept):
            if p in whole:
                shapes.append((size, *whole[p][1:]))
            else:
                shapes.append(tuple(self.others[p].shape))
        if padded:
            shapes += [(), (size,)]  # n_rows, real_rows
        shapes += [tuple(hyper.shape), *[tuple(a.shape) for a in self.limits]]
        shapes += [tuple(s.shape) for s in state]
        from .. import compile as compile_module

        with compile_module._lock:  # PyTensor's compiler is not known to be thread-safe
            graph = step.graph_function(shapes)
        rows_at, batch_size = sorted(whole), self.batch_size  # (not self: a fit's data would stay)

        def run(state, data, others, limits, count, order, k, hyper):
            start = k * batch_size
            index = lax.dynamic_slice(order, (start,), (size,))
            values = [None] * n_kept
            for p in rows_at:
                values[p] = jnp.take(data[p], index, axis=0)
            for p, value in others.items():
                values[p] = value
            if padded:
                real = jnp.minimum(size, count - start)
                values += [real, jnp.arange(size) < real]
            outs = graph(*values, hyper, *limits, *state)
            return outs[0], list(outs[1:])

        donate = (0,) if jax.default_backend() != "cpu" else ()  # CPU: donation is not used
        return jax.jit(run, donate_argnums=donate)
