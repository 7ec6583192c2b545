"""Minibatch training: Adam and SGD as one compiled update step, with scikit-learn MLP's semantics.

The step is compiled once per loss (and tier): its inputs are the batch (X, y, sample_weight),
the loss's other arguments and a small vector of hyperparameters; the parameters and the
optimiser's slots are PyTensor shared variables that the call updates in place, so a step is one
compiled call. Batch sizes are not part of the compiled function (only whether a batch has a
single row is, as everywhere in the cache): the last, smaller batch of an epoch compiles nothing.

State between calls lives in a copy of the step leased for the whole fit (compile.Leases), so two
fits of the same loss in two threads never share it. When the step's C tier becomes ready part-way
through a fit (tiers.py), the state moves to a lease of the C tier before the next step.

The epoch loop, learning-rate schedules, early stopping and the fitted attributes follow
``sklearn.neural_network.MLPClassifier`` (solver "adam" / "sgd"). As there, the string schedules
("invscaling", "adaptive") apply to SGD only: Adam keeps a constant rate (and says so with a warning
when one is set); a callable schedule (ours only) applies to both.
"""

import inspect
import numbers
import warnings

import numpy as np
import pytensor
import pytensor.tensor as pt
from pytensor.graph.replace import clone_replace
from sklearn.exceptions import ConvergenceWarning
from sklearn.model_selection import train_test_split
from sklearn.utils import check_random_state, gen_batches

from . import pytree, tiers
from .compile import Call
from .inputs import input_value

OPTIMIZERS = ("adam", "sgd")

# The stochastic-only parameters and their defaults (scikit-learn's MLP's): the one table that the
# estimators' defaults, the functional API's options and the L-BFGS check read.
SETTINGS = {
    "batch_size": "auto",
    "learning_rate": "constant",
    "learning_rate_init": 0.001,
    "power_t": 0.5,
    "momentum": 0.9,
    "nesterovs_momentum": True,
    "beta_1": 0.9,
    "beta_2": 0.999,
    "epsilon": 1e-8,
    "shuffle": True,
    "early_stopping": False,
    "validation_fraction": 0.1,
    "n_iter_no_change": 10,
}
DEFAULT_TOL = 1e-4  # scikit-learn's MLP's, used when tol is None


def is_stochastic(optimizer):
    return isinstance(optimizer, str) and optimizer.lower() in OPTIMIZERS


def _differs(value, default):
    """Whether a setting was given (differs from its default); an array or other odd value counts."""
    if isinstance(value, str) or isinstance(default, str) or callable(value):
        return not (isinstance(value, str) and isinstance(default, str) and value == default)
    try:
        return bool(value != default)
    except (TypeError, ValueError):  # e.g. an array: ambiguous truth value
        return True


def check_not_given(owner, optimizer, settings):
    """Stochastic-only settings given to a scipy fit are an error, not silently ignored."""
    given = [
        name for name, default in SETTINGS.items() if _differs(settings.get(name, default), default)
    ]
    if given:
        raise ValueError(
            f"{owner}: {', '.join(f'{n}={settings[n]!r}' for n in given)} only appl"
            f"{'ies' if len(given) == 1 else 'y'} to the stochastic optimizers (optimizer='adam' or "
            f"'sgd'); optimizer={optimizer!r} would ignore {'it' if len(given) == 1 else 'them'}"
        )


def _check_settings(s, max_iter, optimizer=None, owner=None):
    """scikit-learn's validation of the MLP's stochastic parameters, with its bounds; a string
    schedule set for Adam (which, as scikit-learn's, ignores it) is warned about."""

    def number(name, low, high, closed_high=True, integer=False):
        value = s[name]
        kind = numbers.Integral if integer else numbers.Real
        if (
            isinstance(value, bool)
            or not isinstance(value, kind)
            or not (low < value if not integer else low <= value)
            or not (value <= high if closed_high else value < high)
        ):
            span = (f">= {low}" if integer else f"> {low}") + (
                "" if high == np.inf else f" and {'<=' if closed_high else '<'} {high}"
            )
            raise ValueError(
                f"{name} must be a {'integer' if integer else 'number'} {span}; got {value!r}"
            )

    if not (
        s["batch_size"] == "auto"
        or (
            isinstance(s["batch_size"], numbers.Integral)
            and not isinstance(s["batch_size"], bool)
            and s["batch_size"] >= 1
        )
    ):
        raise ValueError(f'batch_size must be "auto" or an integer >= 1; got {s["batch_size"]!r}')
    if not (
        callable(s["learning_rate"]) or s["learning_rate"] in ("constant", "invscaling", "adaptive")
    ):
        raise ValueError(
            'learning_rate must be "constant", "invscaling", "adaptive" or a callable '
            f'step -> rate; got {s["learning_rate"]!r}'
        )
    number("learning_rate_init", 0, np.inf)
    number("power_t", -np.inf, np.inf)
    number("momentum", -1e-300, 1)  # [0, 1]
    number("beta_1", -1e-300, 1, closed_high=False)
    number("beta_2", -1e-300, 1, closed_high=False)
    number("epsilon", 0, np.inf)
    number("validation_fraction", -1e-300, 1, closed_high=False)
    number("n_iter_no_change", 1, np.inf, integer=True)
    if isinstance(max_iter, bool) or not isinstance(max_iter, numbers.Integral) or max_iter < 1:
        raise ValueError(
            f"max_iter (epochs for optimizer 'adam' or 'sgd') must be an integer >= 1; got {max_iter!r}"
        )
    if _ignores_schedule(optimizer, s["learning_rate"]) and s["learning_rate"] != "constant":
        warnings.warn(
            f"{owner or 'optimizer=' + repr(optimizer)}: learning_rate={s['learning_rate']!r} "
            "applies to optimizer='sgd' only (as in scikit-learn's MLP); Adam keeps the constant "
            "rate learning_rate_init. Pass a callable learning_rate (step -> rate) to schedule Adam",
            UserWarning,
            stacklevel=3,
        )


def _ignores_schedule(optimizer, schedule):
    """Adam follows scikit-learn: a string schedule is the constant rate; a callable applies."""
    return isinstance(optimizer, str) and optimizer.lower() == "adam" and isinstance(schedule, str)


# ----------------------------------------------------------------------------- the update rules
# Each rule: (names of the hyperparameters it reads, in the order of the `hyper` input; a function
# (params, grads, hyper) -> (slots [(shared, initial value)], new params, new slots)).


def _adam(params, grads, h):
    t = pytensor.shared(np.float64(0), name="adam_t")
    t1 = t + 1
    rate = h[0] * pt.sqrt(1 - h[2] ** t1) / (1 - h[1] ** t1)  # scikit-learn's bias correction
    ms = [_zeros_like(p, "adam_m") for p in params]
    vs = [_zeros_like(p, "adam_v") for p in params]
    new_m, new_v, new_p = [], [], []
    for p, g, m, v in zip(params, grads, ms, vs):
        b1, b2, eps, r = (pt.cast(x, p.dtype) for x in (h[1], h[2], h[3], rate))
        m1, v1 = b1 * m + (1 - b1) * g, b2 * v + (1 - b2) * g * g
        new_m.append(m1)
        new_v.append(v1)
        new_p.append(p - r * m1 / (pt.sqrt(v1) + eps))
    return [*ms, *vs, t], new_p, [*new_m, *new_v, t1]


def _momentum(nesterov):
    def rule(params, grads, h):
        velocities = [_zeros_like(p, "velocity") for p in params]
        new_vel, new_p = [], []
        for p, g, vel in zip(params, grads, velocities):
            lr, mu = pt.cast(h[0], p.dtype), pt.cast(h[1], p.dtype)
            v1 = mu * vel - lr * g
            new_vel.append(v1)
            new_p.append(p + (mu * v1 - lr * g if nesterov else v1))
        return velocities, new_p, new_vel

    return rule


RULES = {
    "adam": (("learning_rate", "beta_1", "beta_2", "epsilon"), _adam),
    "sgd": (("learning_rate", "momentum"), _momentum(nesterov=False)),
    "nesterov": (("learning_rate", "momentum"), _momentum(nesterov=True)),
}


def _zeros_like(var, name):
    return pytensor.shared(
        np.zeros((1,) * var.ndim, dtype=var.dtype), name=name, shape=var.type.shape
    )


def step_graph(rule, inputs, cost, wrt, grads):
    """(inputs, [cost], updates) of one step: the parameters `wrt` become shared variables (the
    first len(wrt) of the updates, then the optimiser's slots), and `hyper` is the input after the
    loss's own. A rule ending in "+bounds" also takes a (low, high) pair of inputs per parameter,
    and projects each updated parameter onto them (projected Adam / SGD)."""
    rule, _, bounded = rule.partition("+")
    hyper = pt.dvector("hyper")
    params = [_zeros_like(w, w.name) for w in wrt]
    slots, new_params, new_slots = RULES[rule][1](list(wrt), grads, hyper)
    limits = []
    if bounded:
        limits = [
            pt.tensor(dtype=w.dtype, shape=w.type.shape, name=f"{w.name}_{side}")
            for w in wrt
            for side in ("low", "high")
        ]
        new_params = [
            pt.clip(p, low, high) for p, low, high in zip(new_params, limits[0::2], limits[1::2])
        ]
    outs = clone_replace([cost, *new_params, *new_slots], replace=dict(zip(wrt, params)))
    cost, rest = outs[0], outs[1:]
    kept = [i for i in inputs if not any(i is w for w in wrt)]
    return kept + [hyper] + limits, [cost], list(zip([*params, *slots], rest))


def rule_name(optimizer, nesterov):
    optimizer = optimizer.lower()
    return "nesterov" if optimizer == "sgd" and nesterov else optimizer


def _limits(bounds, params, leaves):
    """Per leaf, [low, high, low, high, ...] arrays shaped like the leaves (in their dtypes)."""
    from .optimize import _flat_bounds

    flat = _flat_bounds(bounds, params)
    limits, start = [], 0
    for leaf in leaves:
        leaf = np.asarray(leaf)
        for side in (flat.lb, flat.ub):
            # np.array, not np.ascontiguousarray: that one makes a scalar leaf's limits 1-d
            limits.append(np.array(side[start : start + leaf.size].reshape(leaf.shape), leaf.dtype))
        start += leaf.size
    return limits


def step_entry(loss, params, X, y, sample_weight, kwargs):
    """The traced loss on one batch, for a compiled step (C or JAX): (entry, call, {0/1/2: the
    leaf index of X / y / sample_weight}). A loss that branches on values is refused: one
    compiled step serves every batch."""
    from .api import _wrt_names

    args = (params, X, y) if y is not None else (params, X)
    kwargs = dict(kwargs)
    if sample_weight is not None:
        kwargs["sample_weight"] = sample_weight
    call = Call(loss, args, kwargs, set(_wrt_names(loss, 0, args, kwargs)[0]))
    entry = call.entry()
    if entry.trace.guards:
        raise ValueError(
            f"{getattr(call.func, '__qualname__', 'the loss')} takes a branch that depends on the "
            "values of its arguments (an `if` on data or parameters); the stochastic optimizers "
            "compile one step for every batch and cannot follow it: write the branch with "
            "np.where, or use a scipy optimizer"
        )
    leaf_of = {
        which: next(i for i, value in enumerate(call.leaves) if value is array)
        for which, array in enumerate((X, y, sample_weight))
        if array is not None
    }
    return entry, call, leaf_of


def initial_slots(rule, leaves):
    """The optimiser's slots at the start: zeros (and Adam's step count 0)."""
    zeros = [np.zeros_like(leaf) for leaf in leaves]
    if rule == "adam":
        return zeros + [np.zeros_like(leaf) for leaf in leaves] + [np.float64(0)]
    return zeros


# ----------------------------------------------------------------------------- stepping


def refuse_per_row_kwargs(kwargs, n_rows):
    """The minibatch steps pass the loss's keyword arguments whole to every batch, so an array
    with one entry per row of X (an offset, an exposure) would not line up with the batch's rows
    (and with one-row batches it would broadcast silently): refused, naming it. A list is passed
    whole, as everywhere."""
    for name, shape, _ in per_row_arrays(kwargs, n_rows):
        raise ValueError(
            f"loss keyword argument {name} has one entry per row of X (shape {shape}); "
            "the stochastic optimizers pass keyword arguments whole to every minibatch, so "
            "its rows would not line up with the batch's: add it to X as a column (or pass it "
            "as the sample weights, if that is what it is), fit with an L-BFGS optimizer, or, "
            "if it is not per-row data, pass it as a list"
        )


def per_row_arrays(kwargs, n_rows):
    """(name, shape, nested) of the arrays with one entry per row of X (`n_rows` > 1) among the
    keyword arguments and inside those that are dicts or tuples (`nested`); names as a message
    shows them ('offset', extra['offset']). Lists are not looked into: a list is the way to pass
    data that only looks per-row."""

    def arrays(value, path):
        if hasattr(value, "shape"):
            yield path, np.shape(value)
        elif isinstance(value, dict):
            for key, item in value.items():
                yield from arrays(item, f"{path}[{key!r}]")
        elif isinstance(value, tuple):
            for i, item in enumerate(value):
                yield from arrays(item, f"{path}[{i}]")

    for name, value in kwargs.items():
        for path, shape in arrays(value, name):
            if n_rows > 1 and len(shape) >= 1 and shape[0] == n_rows:
                nested = path != name
                yield (path if nested else repr(name)), shape, nested


def make_stepper(backend, X, *args, **kwargs):
    """The stepper of a fit: `Stepper` on the C backend; on JAX, `jax_steps.JaxStepper` (the
    data on the device, the whole step jitted), except for sparse X, which PyTensor's JAX linker
    cannot take (the C backend, with a warning). Per-row arrays among the loss's keyword
    arguments (args[2]) are refused (`refuse_per_row_kwargs`)."""
    refuse_per_row_kwargs(args[2], X.shape[0])
    if backend == "jax":
        import scipy.sparse

        if not scipy.sparse.issparse(X):
            from .backends.jax_steps import JaxStepper

            return JaxStepper(*args, **kwargs)
        warnings.warn(
            'skautodiff: the stochastic step takes a scipy.sparse matrix, which PyTensor\'s JAX '
            'linker cannot take; it runs on the C backend (backend="c") instead',
            UserWarning,
            stacklevel=3,
        )
    return Stepper(*args, **kwargs)


class _Prepared:
    """A compiled step for one batch signature: its function (Leases or Tiered), its input values,
    and for each batch array given (X, y, sample_weight) where it goes: (which, position, dtype,
    signature)."""

    def __init__(self, fn, values, slots):
        self.fn, self.values, self.slots = fn, values, slots


class Stepper:
    """Runs the compiled step of `loss` over batches, keeping the parameters and the optimiser's
    slots between steps (in a leased compiled copy while training, as arrays otherwise)."""

    def __init__(self, loss, params, kwargs, rule, hyper, slots=None, bounds=None):
        self.loss, self.kwargs, self.rule = loss, dict(kwargs), rule
        leaves, self.treedef, _ = pytree.flatten(params)
        # (low, high) arrays per parameter leaf, from bounds given as to minimize (per leaf)
        self.limits = None if bounds is None else _limits(bounds, params, leaves)
        self.n_params = len(leaves)
        self.state = [np.array(leaf) for leaf in leaves] + list(
            initial_slots(rule, leaves) if slots is None else slots
        )
        self.hyper = np.array(hyper, dtype=np.float64)
        self._prepared = {}
        self._leased = None  # (prepared, pool, (function, shared variables))
        self._leased_steps = 0

    def step(self, X, y, sample_weight):
        """One update on a batch; returns the batch's loss (before the update)."""
        single = X.shape[0] == 1
        prepared = self._prepared.get(single)
        if prepared is None:
            prepared = self._prepared[single] = self._prepare(X, y, sample_weight)
        fn = prepared.fn
        pool = fn.current[1] if isinstance(fn, tiers.Tiered) else fn
        leased = self._leased
        if leased is None or leased[0] is not prepared or leased[1] is not pool:
            self._lease(prepared, pool)  # first step, single-row batch, or the C tier became ready
        values, arrays = prepared.values, (X, y, sample_weight)
        for which, position, dtype, sig in prepared.slots:
            array = arrays[which]
            values[position] = (
                array
                if type(array) is np.ndarray and array.dtype is dtype and array.flags.aligned
                else input_value(array, *sig)
            )
        self._leased_steps += 1
        return self._leased[2][0](*values)[0]

    def _prepare(self, X, y, sample_weight):
        params = pytree.unflatten(self.treedef, self.state[: self.n_params])
        entry, call, leaf_of = step_entry(self.loss, params, X, y, sample_weight, self.kwargs)
        tr = entry.trace
        fn = entry.function("step:" + self.rule + ("+bounds" if self.limits is not None else ""))
        wrt = set(tr.wrt_leaves)
        full = entry.inputs(call)
        kept = [i for i in range(len(full)) if i not in wrt]
        values = [full[i] for i in kept] + [self.hyper] + (self.limits or [])
        slots = [
            (which, kept.index(leaf), np.dtype(tr.signature[leaf][0]), tr.signature[leaf])
            for which, leaf in leaf_of.items()
        ]
        return _Prepared(fn, values, slots)

    def _lease(self, prepared, pool):
        self.detach()
        leased = pool.lease()
        for var, value in zip(leased[1], self.state):
            var.set_value(
                np.asarray(value, dtype=var.dtype), borrow=False
            )  # the caller's arrays stay theirs
        self._leased, self._leased_steps = (prepared, pool, leased), 0

    def detach(self):
        """State back into arrays, and the leased copy back to its pool."""
        if self._leased is not None:
            prepared, pool, leased = self._leased
            if isinstance(prepared.fn, tiers.Tiered):  # its count of calls per tier, for messages
                prepared.fn.calls["C" if pool.is_c else "Python"] += self._leased_steps
            self.state = [var.get_value(borrow=False) for var in leased[1]]
            self._leased = None
            pool.release(leased)

    def params(self):
        """The current parameters (copies), shaped like the starting ones."""
        if self._leased is not None:
            leaves = [var.get_value(borrow=False) for var in self._leased[2][1][: self.n_params]]
        else:
            leaves = [np.array(leaf) for leaf in self.state[: self.n_params]]
        return pytree.unflatten(self.treedef, leaves)

    def slots(self):
        self.detach()
        return [np.array(s) for s in self.state[self.n_params :]]


# ----------------------------------------------------------------------------- the epoch loop


class _Schedule:
    """The learning rate, as scikit-learn's SGDOptimizer sets it; for Adam, as its AdamOptimizer:
    constant (a string schedule does not apply), unless the schedule is a callable."""

    def __init__(self, s, rate=None, optimizer=None):
        self.kind, self.init, self.power_t = (
            "constant" if _ignores_schedule(optimizer, s["learning_rate"]) else s["learning_rate"],
            s["learning_rate_init"],
            s["power_t"],
        )
        self.rate = self.init if rate is None else rate

    def epoch_ends(self, samples_seen):
        if self.kind == "invscaling":
            self.rate = self.init / (samples_seen + 1) ** self.power_t

    def keep_going(self):
        """After n_iter_no_change epochs without improvement: "adaptive" divides the rate by 5
        (until it is below 1e-6); the other schedules stop."""
        if self.kind != "adaptive" or self.rate <= 1e-6:
            return False
        self.rate /= 5.0
        return True


def _rows(array, rows):
    """The batch's rows: `take` for dense arrays (a third of fancy indexing's time), a view for a
    slice, indexing for sparse matrices."""
    return (
        array.take(rows, axis=0)
        if isinstance(array, np.ndarray) and not isinstance(rows, slice)
        else array[rows]
    )


class _Constant:
    """The learning rate of an epoch whose schedule changes it only between epochs: step -> rate
    (a class, not a closure: the dask fit sends it to the workers)."""

    def __init__(self, rate):
        self.rate = rate

    def __call__(self, step):
        return self.rate


def run_batches(stepper, X, y, sample_weight, order, batches, rate_at, step):
    """One pass over the rows of X in `batches` (slices: gen_batches(n, batch_size)), taking the
    rows in `order` (row indices) or, when None, as they are; the learning rate of each step is
    rate_at(step). Returns (sum of the batch losses times the batch lengths, step after the pass).
    A stepper `on_device` (JAX) holds the data already (placed by train) and gets the order."""
    on_device = getattr(stepper, "on_device", False)
    if on_device:
        stepper.epoch(order)
    losses = []  # read once per epoch: a device's step need not wait for the previous one
    for k, batch in enumerate(batches):
        stepper.hyper[0] = rate_at(step)
        if on_device:
            batch_loss = stepper.step_batch(k)
        else:
            rows = batch if order is None else order[batch]
            batch_loss = stepper.step(
                _rows(X, rows),
                None if y is None else _rows(y, rows),
                None if sample_weight is None else _rows(sample_weight, rows),
            )
        losses.append((batch_loss, batch.stop - batch.start))
        step += 1
    accumulated = 0.0
    for batch_loss, size in losses:
        accumulated += float(batch_loss) * size
    return accumulated, step


def _shuffled(sample_idx, rng):
    """What scikit-learn's MLP does each epoch, ``sklearn.utils.shuffle(sample_idx,
    random_state=rng)``: the same draw (`rng.shuffle` of ``arange(n)``) and the same order, without
    its argument validation and dataframe checks (about 0.4 ms an epoch, a tenth of a digits epoch)."""
    order = np.arange(len(sample_idx))
    rng.shuffle(order)
    return sample_idx[order]


def _batch_size(setting, n, owner):
    if setting == "auto":
        return min(200, n)
    if setting > n:
        warnings.warn(
            f"{owner}: batch_size={setting} is larger than the {n} samples; it is clipped to {n}",
            stacklevel=2,
        )
    return int(np.clip(setting, 1, n))


def train(
    fitted,
    stepper,
    X,
    y,
    sample_weight,
    settings,
    rng,
    *,
    max_iter,
    tol,
    incremental,
    owner,
    validation=None,
    verbose=0,
    on_epoch=None,
    epoch=None,
):
    """scikit-learn's _fit_stochastic over `stepper`, recording on `fitted` (an estimator or a plain
    namespace): loss_, loss_curve_, n_iter_, t_, best_loss_, validation_scores_,
    best_validation_score_, params_ and the schedule's and no-improvement count's state.

    `validation` is None or (X_val, y_val, sample_weight_val, score) with score(params, X, y, w).
    `on_epoch(fitted, stepper)`, when given, runs after each epoch; raising StopIteration stops the
    training there (fitted.stopped_by_callback_ says so).
    `epoch`, when given, makes one pass over the data instead of the in-memory batches of X:
    epoch(stepper, rng, batch_size, rate_at, step) -> (sum of the batch losses times the batch
    lengths, step after it); the dask fit passes one that visits the chunks where they live
    (stepper is then anything with rule, params(), slots() and detach())."""
    s = settings
    rng = check_random_state(rng)
    n = X.shape[0]
    batch_size = _batch_size(s["batch_size"], n, owner)
    schedule = _Schedule(
        s,
        getattr(fitted, "_learning_rate", None) if incremental else None,
        "adam" if stepper.rule == "adam" else "sgd",
    )
    rate_fn = schedule.kind if callable(schedule.kind) else None
    sample_idx = np.arange(n, dtype=int) if epoch is None else None  # (dask: no n-long arrays)
    early = validation is not None
    on_device = getattr(stepper, "on_device", False)  # JAX: the data go to the device once
    if on_device:
        stepper.place(X, y, sample_weight, batch_size)
    # scikit-learn's gen_batches(n, batch_size), once: each of its calls validates its arguments
    # (about 0.1 ms, 3% of a digits epoch)
    batches = list(gen_batches(n, batch_size)) if epoch is None else None
    best_params, step = None, int(getattr(fitted, "_steps", 0)) if incremental else 0
    fitted.n_iter_ = 0
    stopped = False
    for _ in range(max_iter):
        rate_at = rate_fn if rate_fn is not None else _Constant(schedule.rate)
        if epoch is not None:
            accumulated, step = epoch(stepper, rng, batch_size, rate_at, step)
        else:
            if s["shuffle"]:
                sample_idx = _shuffled(sample_idx, rng)
            order = sample_idx if s["shuffle"] else None
            accumulated, step = run_batches(
                stepper, X, y, sample_weight, order, batches, rate_at, step
            )
        fitted.n_iter_ += 1
        fitted.loss_ = accumulated / n
        if not np.isfinite(fitted.loss_):
            stepper.detach()
            raise ValueError(
                f"{owner}: the loss became {fitted.loss_} in epoch {fitted.n_iter_}; the "
                "solver produced non-finite parameters (scale the data, or lower "
                "learning_rate_init)"
            )
        fitted.t_ += n
        fitted.loss_curve_.append(fitted.loss_)
        if verbose:
            print(f"Iteration {fitted.n_iter_}, loss = {fitted.loss_:.8f}")
        if early:
            X_val, y_val, w_val, score = validation
            params = stepper.params()
            fitted.validation_scores_.append(score(params, X_val, y_val, w_val))
            last = fitted.validation_scores_[-1]
            if verbose:
                print(f"Validation score: {last:f}")
            fitted._no_improvement_count = (
                fitted._no_improvement_count + 1
                if last < fitted.best_validation_score_ + tol
                else 0
            )
            if last > fitted.best_validation_score_:
                fitted.best_validation_score_, best_params = last, params
        else:
            last = fitted.loss_curve_[-1]
            fitted._no_improvement_count = (
                fitted._no_improvement_count + 1 if last > fitted.best_loss_ - tol else 0
            )
            fitted.best_loss_ = min(fitted.best_loss_, last)
        schedule.epoch_ends(fitted.t_)
        if fitted._no_improvement_count > s["n_iter_no_change"]:
            if not schedule.keep_going():
                stopped = True
                if verbose:
                    what = "Validation score" if early else "Training loss"
                    print(
                        f"{what} did not improve more than tol={tol:f} for "
                        f"{s['n_iter_no_change']} consecutive epochs. Stopping."
                    )
                break
            fitted._no_improvement_count = 0
        if on_epoch is not None:
            try:
                on_epoch(fitted, stepper)
            except StopIteration:
                fitted.stopped_by_callback_ = True
                break
        if incremental:
            break
        if fitted.n_iter_ == max_iter:
            warnings.warn(
                f"{owner}: stochastic optimizer: maximum iterations ({max_iter}) reached and "
                "the optimization hasn't converged yet.",
                ConvergenceWarning,
                stacklevel=2,
            )
    fitted._learning_rate, fitted._steps = schedule.rate, step
    fitted._optimizer_slots = stepper.slots()  # detaches: the state is back in arrays
    fitted.params_ = best_params if early and best_params is not None else stepper.params()
    fitted.converged_ = stopped
    return fitted


def start(fitted, early_stopping):
    """The bookkeeping a new (not warm-started, not incremental) fit starts from."""
    fitted.loss_curve_, fitted.t_, fitted._no_improvement_count = [], 0, 0
    fitted._optimizer_slots, fitted._learning_rate, fitted._steps = None, None, 0
    fitted.best_loss_ = None if early_stopping else np.inf
    fitted.validation_scores_ = [] if early_stopping else None
    fitted.best_validation_score_ = -np.inf if early_stopping else None


def split_validation(X, y, sample_weight, fraction, rng, stratify):
    """scikit-learn's split for early stopping (same call, so the same rows for the same seed).
    `stratify`: the labels for a binary classifier, else None (scikit-learn's MLP stratifies only
    when its target has one output column, i.e. two classes)."""
    arrays = (X, y) if sample_weight is None else (X, y, sample_weight)
    parts = train_test_split(*arrays, random_state=rng, test_size=fraction, stratify=stratify)
    if parts[1].shape[0] < 2:
        raise ValueError(
            "The validation set is too small. Increase 'validation_fraction' or the size "
            "of your dataset."
        )
    train_parts, val_parts = parts[0::2], parts[1::2]
    if sample_weight is None:
        train_parts, val_parts = (*train_parts, None), (*val_parts, None)
    return train_parts, val_parts


# ----------------------------------------------------------------------------- the functional form


class _Record:
    """What `train` records, for the functional form (an estimator records on itself)."""


def minimize(fn, x0, args, kwargs, method, tol, options, callback, wrt, bounds=None, backend="c"):
    """skautodiff.minimize(method="adam" or "sgd"): `fn(params, X[, y], **kwargs)` on minibatches of
    the rows of X (and y, and of kwargs["sample_weight"] when given); the other keyword arguments
    are passed whole. `options` takes the stochastic settings (SETTINGS, except early stopping,
    which needs a score), max_iter (epochs, default 200), random_state and verbose. `bounds` (per
    leaf, as for L-BFGS-B) project each step's parameters onto them. `callback` is called after
    each epoch as minimize's is after each iteration (StopIteration stops the training)."""
    import scipy.optimize

    if wrt not in (0, None):
        raise ValueError(f"method={method!r} optimises the first argument of fn; got wrt={wrt!r}")
    if not 1 <= len(args) <= 2:
        raise ValueError(
            f"method={method!r} needs args=(X,) or (X, y): the rows to split into minibatches"
        )
    options = dict(options or {})
    allowed = set(SETTINGS) - {"early_stopping", "validation_fraction"} | {
        "max_iter",
        "random_state",
        "verbose",
    }
    unknown = sorted(set(options) - allowed)
    if unknown:
        raise ValueError(
            f"unknown option(s) for method={method!r}: {', '.join(unknown)}; it takes "
            f"{', '.join(sorted(allowed))}"
        )
    settings = {**SETTINGS, **{k: v for k, v in options.items() if k in SETTINGS}}
    max_iter = options.get("max_iter", 200)
    _check_settings(settings, max_iter, method, f"minimize(method={method!r})")
    X = args[0]
    y = args[1] if len(args) == 2 else None
    kwargs = dict(kwargs or {})
    sample_weight = kwargs.pop("sample_weight", None)
    n = X.shape[0]
    for name, array in (("y", y), ("sample_weight", sample_weight)):
        if array is not None and np.shape(array)[:1] != (n,):
            raise ValueError(
                f"{name} must have one entry per row of X ({n}); got shape {np.shape(array)}"
            )
    rng = check_random_state(options.get("random_state"))
    rule = rule_name(method, settings["nesterovs_momentum"])
    names, _ = RULES[rule]
    hyper = [
        settings["learning_rate_init"] if name == "learning_rate" else settings[name]
        for name in names
    ]
    stepper = make_stepper(backend, X, fn, x0, kwargs, rule, hyper, bounds=bounds)
    record = _Record()
    start(record, early_stopping=False)
    record.stopped_by_callback_ = False
    leaves, treedef, _ = pytree.flatten(x0)

    def like_x0(params):
        return pytree.unflatten(
            treedef,
            [_like_leaf(value, leaf) for value, leaf in zip(pytree.flatten(params)[0], leaves)],
        )

    on_epoch = None
    if callback is not None:
        # as minimize's callback for scipy's methods: the parameters shaped like x0, or, when its
        # parameter is named intermediate_result, an OptimizeResult (x, fun: the epoch's loss, nit)
        wants_result = "intermediate_result" in inspect.signature(callback).parameters

        def on_epoch(record, stepper):
            x = like_x0(stepper.params())
            if wants_result:
                callback(scipy.optimize.OptimizeResult(x=x, fun=record.loss_, nit=record.n_iter_))
            else:
                callback(x)

    try:
        train(
            record,
            stepper,
            X,
            y,
            sample_weight,
            settings,
            rng,
            max_iter=max_iter,
            tol=DEFAULT_TOL if tol is None else tol,
            incremental=False,
            owner=f"minimize({method!r})",
            verbose=options.get("verbose", 0),
            on_epoch=on_epoch,
        )
    finally:
        stepper.detach()
    if record.stopped_by_callback_:
        message = "`callback` raised `StopIteration`."  # scipy's words
    elif record.converged_:
        message = "the training loss did not improve by tol for n_iter_no_change epochs"
    else:
        message = f"maximum number of epochs ({max_iter}) reached"
    return scipy.optimize.OptimizeResult(
        x=like_x0(record.params_),
        fun=record.loss_,
        nit=record.n_iter_,
        success=record.converged_ and not record.stopped_by_callback_,
        message=message,
        loss_curve=record.loss_curve_,
        t=record.t_,
    )


def _like_leaf(value, leaf):
    """A fitted value in its starting leaf's form: arrays stay arrays, scalars scalars, in their
    float dtype; an integer leaf was trained as a float (pytree.ravel's rule, as for scipy's
    methods) and comes back as one: cast back, it would be truncated."""
    if isinstance(leaf, (np.ndarray, np.generic)):
        dtype = leaf.dtype if leaf.dtype.kind == "f" else np.dtype(np.float64)
        fitted = np.asarray(value, dtype=dtype)
        return fitted if isinstance(leaf, np.ndarray) else dtype.type(fitted)
    if isinstance(leaf, numbers.Integral):
        return float(value)
    return type(leaf)(value) if isinstance(leaf, numbers.Number) else np.asarray(value)
