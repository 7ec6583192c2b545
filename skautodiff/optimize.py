"""Fitting with scipy.optimize over pytrees: minimize and fmin_l_bfgs_b.

The objective and its gradient come from one compiled call; parameters travel as one flat float64
vector (scipy's convention) and are rebuilt in the leaves' own dtypes (float32 stays float32, and
a float32 fit that rounding stalls is finished in float64). Fits end honestly: each method is
given what it uses or refused before fitting, and a NaN or infinite evaluation ends the fit.
During the fit scipy's private OpenBLAS is limited to one thread: L-BFGS-B calls it every
iteration, and its spinning worker otherwise competes with numpy's BLAS for the cores
(measured: fits 1.6-4x faster on 2 cores, see doc/performance.md).
"""

import contextlib
import inspect
import logging
import math
import sys
import threading
import warnings

import numpy as np
import scipy.optimize

from . import backends, pytree
from .api import HessianVector, _wrt_names, nothing_to_differentiate
from .compile import Call, GuardFailed, free
from .arguments import resolve_callable

_controller = None
_blas_lock = threading.Lock()
_blas_fits = 0  # fits running now, in any thread
_blas_restore = []  # (controller, thread count) as the first of them found it
log = logging.getLogger("skautodiff")


@contextlib.contextmanager
def scipy_blas_single_thread():
    """Limit only scipy's bundled OpenBLAS (not numpy's) to one thread, then restore it.

    The setting is process-wide, so fits running in threads at once share it: the first to start
    limits it, the last to end restores the thread count the first one found.
    """
    global _blas_fits, _blas_restore
    with _blas_lock:
        if _blas_fits == 0:
            _blas_restore = [(c, c.num_threads) for c in _scipy_blas()]
            for c, _ in _blas_restore:
                c.set_num_threads(1)
        _blas_fits += 1
    try:
        yield
    finally:
        with _blas_lock:
            _blas_fits -= 1
            if _blas_fits == 0:
                for c, n in _blas_restore:
                    c.set_num_threads(n)


def _scipy_blas():
    """threadpoolctl's controllers of scipy's OpenBLAS (none when it cannot see the libraries)."""
    global _controller
    try:
        if _controller is None:
            from threadpoolctl import ThreadpoolController

            _controller = ThreadpoolController()
        return [c for c in _controller.lib_controllers if "scipy.libs" in c.filepath]
    except Exception:  # fit anyway
        return []


def _flat_bounds(bounds, x0):
    """scipy's per-coordinate bounds from bounds given per leaf (pytree of (lo, hi) or None)."""
    if bounds is None:
        return None
    leaves, treedef, _ = pytree.flatten(x0)
    if (
        isinstance(bounds, tuple)
        and len(bounds) == 2
        and not isinstance(bounds[0], (tuple, list, dict))
    ):
        per_leaf = [bounds] * len(leaves)  # one (lo, hi) for every parameter
    else:
        per_leaf = _match_bounds(bounds, x0)
    lows, highs = [], []
    for leaf, bound in zip(leaves, per_leaf):
        size = np.size(leaf)
        lo, hi = (None, None) if bound is None else bound
        lows.append(
            np.broadcast_to(
                np.asarray(-np.inf if lo is None else lo, dtype=float), np.shape(leaf)
            ).ravel()
        )
        highs.append(
            np.broadcast_to(
                np.asarray(np.inf if hi is None else hi, dtype=float), np.shape(leaf)
            ).ravel()
        )
        assert lows[-1].size == size
    return scipy.optimize.Bounds(np.concatenate(lows), np.concatenate(highs))


def _match_bounds(bounds, x0):
    """One (lo, hi) or None per numeric leaf of x0, from bounds shaped like (part of) x0."""
    if pytree.is_numeric_leaf(x0):
        return [bounds]
    if isinstance(x0, dict):
        if not isinstance(bounds, dict):
            raise TypeError("bounds for dict parameters must be a dict keyed like the parameters")
        unknown = set(bounds) - set(x0)
        if unknown:
            raise ValueError(
                f"bounds name unknown parameters: {', '.join(map(str, sorted(unknown)))}"
            )
        out = []
        for key, value in x0.items():
            out.extend(
                _match_bounds(bounds.get(key), value)
                if key in bounds
                else [None] * len(pytree.flatten(value)[0])
            )
        return out
    if isinstance(x0, (list, tuple)):
        if bounds is None:
            return [None] * len(pytree.flatten(x0)[0])
        if len(bounds) != len(x0):
            raise ValueError(f"bounds has {len(bounds)} entries for {len(x0)} parameters")
        out = []
        for b, value in zip(bounds, x0):
            out.extend(_match_bounds(b, value))
        return out
    return []


# What each scipy.optimize.minimize method is given (beyond the objective's value): "value" for
# nothing more, "grad" for the gradient, "hessp" also for Hessian-vector products, "hess" also for
# the full Hessian; and whether it honours bounds (scipy only warns, and ignores them, for the others).
_METHODS = {
    "Nelder-Mead": ("value", True),
    "Powell": ("value", True),
    "COBYLA": ("value", True),
    "COBYQA": ("value", True),
    "CG": ("grad", False),
    "BFGS": ("grad", False),
    "L-BFGS-B": ("grad", True),
    "TNC": ("grad", True),
    "SLSQP": ("grad", True),
    "Newton-CG": ("hessp", False),
    "trust-ncg": ("hessp", False),
    "trust-krylov": ("hessp", False),
    "trust-constr": ("hessp", True),
    "dogleg": ("hess", False),
    "trust-exact": ("hess", False),
}
_BY_LOWER = {name.lower(): needs for name, needs in _METHODS.items()}


def method_name(method):
    return getattr(method, "__name__", repr(method)) if callable(method) else str(method)


def _method_uses(method, bounds):
    """What `method` is given; refuses, before any evaluation, a method scipy does not have or
    bounds the method would ignore."""
    if callable(method):  # a custom method receives everything scipy can pass, bounds too
        return "hessp"
    if not isinstance(method, str) or method.lower() not in _BY_LOWER:
        raise ValueError(
            f"unknown optimisation method {method!r}: use one of scipy.optimize.minimize's "
            f"methods ({', '.join(_METHODS)}) or a callable"
        )
    uses, takes_bounds = _BY_LOWER[method.lower()]
    if bounds is not None and not takes_bounds:
        able = ", ".join(m for m, (_, b) in _METHODS.items() if b)
        raise ValueError(
            f"method {method!r} cannot handle bounds (scipy would ignore them); "
            f"use one that can: {able}"
        )
    return uses


def iteration_limit(method, max_iter):
    """scipy's option limiting `method`'s iterations. TNC has none: its limit counts evaluations."""
    return {"maxfun": max_iter} if method_name(method).lower() == "tnc" else {"maxiter": max_iter}


class _NonFinite(Exception):
    """The objective, its gradient or a Hessian-vector product is NaN or infinite: the fit ends."""


class _Objective:
    """scipy's view of fn: flat float64 vector -> (value, flat gradient), one compiled call.

    The first call goes through the cache (trace/compile as needed); later calls reuse that
    compiled entry with the other arguments already converted, replacing only the optimised
    leaves. A failed guard falls back to the cache, which retraces. Evaluations are counted, the
    best one is kept, and a NaN or infinite value (or gradient, for methods that use it) raises
    _NonFinite: scipy's methods handle such values unevenly (L-BFGS-B reports success at the start
    after one overflowing trial step), so the fit ends there, one rule for all.
    """

    def __init__(self, fn, wrt, x0, call_args, uses_gradient, backend="c", rows=()):
        self.fn, self.wrt, self.call_args = fn, wrt, call_args
        self.backend = backend
        self.rows = set(rows) if backend == "jax" else set()  # names of the data arguments
        self.uses_gradient = uses_gradient
        self.x0_leaves = [np.asarray(leaf) for leaf in pytree.flatten(x0)[0]]
        self.sizes = np.cumsum([0] + [leaf.size for leaf in self.x0_leaves])
        self.fast = None
        self.last_x, self.last = None, None  # the latest point evaluated, for callbacks
        self.iterations = self.evaluations = 0
        self.best = None  # (value, x, gradient) with the lowest finite value seen
        self.ended = False  # by a NaN or infinite evaluation

    def leaves(self, flat):
        return [
            np.asarray(flat[a:b], dtype=_float(leaf.dtype)).reshape(leaf.shape)
            for leaf, a, b in zip(self.x0_leaves, self.sizes[:-1], self.sizes[1:])
        ]

    def __call__(self, flat):
        self.last_x = np.array(flat, copy=True)
        self.last = value, grad = self._evaluate(flat)
        self.evaluations += 1
        self.check("objective", value)
        if self.uses_gradient:
            self.check("gradient", grad)
        if self.best is None or value < self.best[0]:
            self.best = (value, self.last_x, grad)
        return self.last if self.uses_gradient else value

    def at(self, flat):
        """(value, gradient) at flat, for reporting: not counted as an evaluation of the fit."""
        return self.last if np.array_equal(self.last_x, flat) else self._evaluate(flat)

    def check(self, what, values):
        # (math.isfinite for the value and ndarray.all: np.all on a scalar costs ~10 us a call)
        finite = math.isfinite(values) if isinstance(values, float) else np.isfinite(values).all()
        if not finite:
            kind = "NaN" if np.any(np.isnan(values)) else "infinite"
            where = (
                "at the starting point"
                if self.evaluations <= 1
                else f"during iteration {self.iterations + 1} (evaluation {self.evaluations})"
            )
            raise _NonFinite(
                f"the {what} became {kind} {where}, and the fit stopped at the best point "
                "evaluated before it (an overflow, a division by zero, a log or square root "
                "of a negative number? Scaling the data often helps)"
            )

    def stopped(self, message):
        """The result of a fit that _NonFinite ended."""
        self.ended = True
        value, x, grad = (
            self.best if self.best is not None else (self.last[0], self.last_x, self.last[1])
        )
        return scipy.optimize.OptimizeResult(
            x=x,
            fun=value,
            jac=grad,
            success=False,
            status=-1,
            message=message,
            nit=self.iterations,
            nfev=self.evaluations,
        )

    def _evaluate(self, flat):
        if self.fast is not None:
            try:
                return self.fast(flat)
            except GuardFailed:
                self.fast = None
        leaves = self.leaves(flat)
        args, kwargs = self.call_args(leaves)
        call = Call(self.fn, args, kwargs, set(_wrt_names(self.fn, self.wrt, args, kwargs)[0]))
        rows = tuple(i for i, owner in enumerate(call.owners) if owner in self.rows)
        if self.backend == "jax":
            self.fast = self._on_device(call, rows)
            if self.fast is not None:
                try:
                    return self.fast(flat)
                except GuardFailed:  # (a run-time error in a guarded graph: call.run reports it)
                    self.fast = None
        entry, outs = call.run("value_and_grad", backend=self.backend, rows=rows)
        # (a function with side effects goes through call.run each time: it runs natively too)
        if entry.trace.side_effects:
            self.fast = None
        else:
            values = self._placed(entry, entry.inputs(call, device=self.backend == "jax"), rows)
            self.fast = self._reusing(entry, values, call.wrt_indices, rows)
        return float(outs[0]), _concat(outs[1:])

    def _reusing(self, entry, values, indices, rows):
        """Later evaluations: the compiled entry with the other arguments already converted,
        replacing only the optimised leaves."""

        def evaluate(flat):
            for i, leaf in zip(indices, self.leaves(flat)):
                values[i] = leaf
            outs = entry.run("value_and_grad", values, backend=self.backend, rows=rows)
            return float(outs[0]), _concat(outs[1:])

        return evaluate

    def _on_device(self, call, rows):
        """JAX: the fit's evaluations as one jitted function of the flat parameter vector, with
        the other arguments placed on the device once (`backends.jax.Compiled.flat`); None where
        the cache's path is needed (branches on values choose their entry by running, functions
        with side effects run natively too), or the outer values no longer fit."""
        if any(entry.trace.guards for entry in call.cached()):
            return None
        entry = call.entry()
        if entry.trace.side_effects:
            return None
        fn = entry.function("value_and_grad", "jax", rows)
        try:
            values = fn.to_device(entry.inputs(call, device=True))
        except GuardFailed:
            return None
        return fn.flat(values, call.wrt_indices, entry._guard is not None)

    def _placed(self, entry, values, rows):
        """The cache path's input values; on the JAX backend on the device, transferred once for
        the fit (only the parameter leaves, replaced at each evaluation, cross again)."""
        to_device = getattr(entry.function("value_and_grad", self.backend, rows), "to_device", None)
        return to_device(values) if to_device is not None else values


def _float(dtype):
    # Native byte order: the fast path above hands these arrays to the compiled function as they are,
    # and a big-endian x0 was read as tiny numbers (a fit "converged" at x0).
    return dtype.newbyteorder("=") if dtype.kind == "f" else np.dtype(np.float64)


def _concat(arrays):
    return np.concatenate([np.ravel(a) for a in arrays]).astype(np.float64, copy=False)


@contextlib.contextmanager
def compile_messages(verbose):
    """With verbose, print (to stdout) what skautodiff traces and compiles, how long it takes, and
    on which tier each compiled function ran in the block: the Python tier at once, the C tier
    once its background compile is done (the switch is printed when it happens)."""
    if not verbose:
        yield
        return
    from . import tiers

    log = logging.getLogger("skautodiff")
    handler = logging.StreamHandler(sys.stdout)
    handler.setFormatter(logging.Formatter("%(message)s"))
    level = log.level
    log.addHandler(handler)
    log.setLevel(logging.INFO)
    before = tiers.call_counts()
    try:
        yield
        waiting = set(tiers.pending())
        for tiered, calls in tiers.call_counts().items():
            ran = {tier: n - before.get(tiered, {}).get(tier, 0) for tier, n in calls.items()}
            if ran["Python"] and not ran["C"]:
                log.info(
                    "skautodiff: %s ran on the Python tier only (%d calls)%s",
                    tiered.label,
                    ran["Python"],
                    "; its C tier is still compiling in the background"
                    if tiered.label in waiting
                    else "",
                )
            elif ran["C"]:
                log.info(
                    "skautodiff: %s ran %d call(s) on the Python tier, then %d on the C tier",
                    tiered.label,
                    ran["Python"],
                    ran["C"],
                )
    finally:
        log.removeHandler(handler)
        log.setLevel(level)


@contextlib.contextmanager
def _c_after_the_fit():
    """tiers.c_after_the_fit, imported only when a fit runs (tiers imports PyTensor)."""
    from . import tiers

    with tiers.c_after_the_fit():
        yield


def minimize(
    fn,
    x0,
    args=(),
    kwargs=None,
    method="L-BFGS-B",
    bounds=None,
    tol=None,
    options=None,
    callback=None,
    wrt=0,
    verbose=0,
    backend="c",
    rows=(),
):
    """``scipy.optimize.minimize`` over a pytree ``x0``, with compiled derivatives.

    Every method of ``scipy.optimize.minimize`` works, or is refused before fitting: Newton-type
    methods get the compiled Hessian-vector product, dogleg and trust-exact the Hessian built from
    it, and derivative-free ones only the value. A NaN or infinite objective, gradient or
    Hessian-vector product ends the fit: ``success=False``, the message says where, and ``x`` is
    the best point evaluated. Parameters in float32 (or float16) that stop before the gradient
    meets the tolerance (float32 rounding stalls the line search on unscaled data) are refined in
    float64, from where they stopped, with the float arguments cast to float64.

    ``method="adam"`` or ``"sgd"`` trains on minibatches of the rows of ``args=(X, y)`` instead
    (scikit-learn MLP's settings in ``options``, see doc/estimators.md); the result then also has
    ``loss_curve``, the mean loss of each epoch.

    Parameters
    ----------
    fn : callable
        The objective, written in plain numpy; it returns a real scalar.
    x0 : pytree
        Starting point: an array, a number, or dicts, lists and tuples of them.
    args : tuple, optional
        The other positional arguments of ``fn``.
    kwargs : dict, optional
        Keyword arguments of ``fn``.
    method : str, default "L-BFGS-B"
        Any ``scipy.optimize.minimize`` method; None lets scipy choose; or "adam" / "sgd".
    bounds : pytree of ``(low, high)`` pairs, optional
        Shaped like ``x0`` (per leaf); leaves left out of a dict are unbounded.
    tol : float, optional
        scipy's tolerance.
    options : dict, optional
        scipy's options for the method.
    callback : callable, optional
        Called after each iteration with the parameters shaped like ``x0``, or, as in scipy,
        when its parameter is named ``intermediate_result``, with an ``OptimizeResult`` whose
        ``x``, ``fun`` and ``jac`` are the current point, value and gradient. With method "adam"
        or "sgd": after each epoch, and the ``OptimizeResult`` has ``x``, ``fun`` (the epoch's
        mean batch loss) and ``nit``; raising ``StopIteration`` stops the training there.
    wrt : int or str, default 0
        The argument of ``fn`` that is optimised, by position or name.
    verbose : int, default 0
        1 prints what is traced and compiled, when a compiled function switches from the Python to
        the C tier, and which tier each ran on (as the estimators' ``verbose`` does).
    backend : {"c", "jax"}, default "c"
        PyTensor's C backend, or its JAX linker (see doc/backends.md): on JAX the arguments other
        than ``x0`` go to the device once per fit. The stochastic methods run their whole step
        (gradient and update) on the device.
    rows : tuple of int or str, optional
        JAX backend: ``fn``'s parameters (names or positions) whose first axis runs over samples,
        such as ``(1, 2)`` for ``loss(params, X, y)``. Their rows are padded to one of a few sizes,
        so that fits on data sets of different sizes (a grid search's folds) share one XLA
        compilation; the loss is rewritten so that padded rows change nothing, or compiled per size
        where that is not provable.

    Returns
    -------
    scipy.optimize.OptimizeResult
        scipy's result, with ``x`` (and ``jac``) shaped like ``x0``, in ``x0``'s dtypes.

    Examples
    --------
    >>> import numpy as np, skautodiff
    >>> def loss(params, target):
    ...     return np.sum((params["w"] - target) ** 2) + params["b"] ** 2
    >>> result = skautodiff.minimize(loss, {"w": np.zeros(2), "b": 1.0}, args=(np.array([1.0, 2.0]),))
    >>> np.round(result.x["w"], 6), round(float(result.x["b"]), 6)
    (array([1., 2.]), 0.0)
    """
    from . import stochastic

    backend = backends.check(backend)
    if stochastic.is_stochastic(method):  # minibatches of args' rows, see stochastic.minimize
        return stochastic.minimize(
            fn, x0, args, kwargs, method.lower(), tol, options, callback, wrt, bounds, backend
        )
    kwargs = dict(kwargs or {})
    if not isinstance(wrt, (int, str)):
        raise TypeError("minimize optimises one argument: wrt must be a name or a position")
    if method is None:  # scipy's own choice
        method = "L-BFGS-B" if bounds is not None else "BFGS"
    uses = _method_uses(method, bounds)
    if not pytree.flatten(x0)[0]:
        raise nothing_to_differentiate("x0", x0)
    x_flat, unravel = pytree.ravel(x0)
    rows = _wrt_names(fn, list(rows))[0] if rows else ()
    problem = _Problem(
        fn,
        wrt,
        method,
        uses,
        _flat_bounds(bounds, x0),
        tol,
        dict(options or {}),
        callback,
        unravel,
        backend,
        rows,
    )
    try:
        with scipy_blas_single_thread(), compile_messages(verbose), _c_after_the_fit():
            result = problem.solve(x0, x_flat, args, kwargs)
            if _low_precision(x0):
                result = problem.refine(result, x0, args, kwargs)
    finally:  # the buffers the compiled functions keep between calls (value and grad, Hv)
        free(resolve_callable(fn)[0].__code__)
    result.x = unravel(result.x)
    if getattr(result, "jac", None) is not None and np.size(result.jac) == x_flat.size:
        result.jac = unravel(result.jac)
    return result


class _Problem:
    """One minimize call: runs scipy from a starting point (solve), then, for float32, again in
    float64 where float32 stopped short (refine)."""

    def __init__(
        self, fn, wrt, method, uses, bounds, tol, options, callback, unravel, backend="c", rows=()
    ):
        self.fn, self.wrt, self.method, self.uses = fn, wrt, method, uses
        self.bounds, self.tol, self.options = bounds, tol, options
        self.callback, self.unravel = callback, unravel
        self.backend, self.rows = backend, rows
        self.objective = None

    def solve(self, x0, x_flat, args, kwargs, options=None):
        """One scipy run from x_flat; x0 gives the structure and the dtypes evaluated in."""
        fn, wrt, unravel = self.fn, self.wrt, self.unravel
        treedef = pytree.flatten(x0)[1]

        def call_args(leaves):
            params = pytree.unflatten(treedef, leaves)
            if isinstance(wrt, str):
                return args, {**kwargs, wrt: params}
            return (*args[:wrt], params, *args[wrt:]), kwargs

        objective = self.objective = _Objective(
            fn, wrt, x0, call_args, self.uses != "value", self.backend, self.rows
        )
        extra = {"jac": True} if self.uses != "value" else {}
        if self.uses in ("hessp", "hess"):
            hv = HessianVector(fn, wrt=wrt, backend=self.backend)
            vectors = pytree.ravel(x0)[1]

            def hessp(flat, p):
                if not np.all(np.isfinite(p)):
                    raise _NonFinite(
                        f"{method_name(self.method)} asked for a Hessian-vector product with a "
                        "non-finite vector (a breakdown of its own, near the optimum: a larger tol "
                        "avoids it); the fit stopped at the best point evaluated"
                    )
                a, k = call_args(objective.leaves(flat))
                product = pytree.ravel(hv(*a, vectors=vectors(p), **k))[0]
                objective.check("Hessian-vector product", product)
                return product

            if self.uses == "hessp":
                extra["hessp"] = hessp
            else:  # the full Hessian, a column per Hessian-vector product with a unit vector

                def hess(flat):
                    columns = np.column_stack([hessp(flat, e) for e in np.eye(flat.size)])
                    return (columns + columns.T) / 2

                extra["hess"] = hess
        wants_result = (
            self.callback is not None
            and "intermediate_result" in inspect.signature(self.callback).parameters
        )

        def scipy_callback(intermediate_result):
            # TNC passes the parameters; the other methods an OptimizeResult.
            objective.iterations += 1
            if self.callback is None:
                return None
            flat = np.asarray(getattr(intermediate_result, "x", intermediate_result))
            if not wants_result:  # as in scipy: the parameters, or an OptimizeResult
                return self.callback(unravel(flat))
            value, grad = objective.at(flat)
            return self.callback(
                scipy.optimize.OptimizeResult(x=unravel(flat), fun=value, jac=unravel(grad))
            )

        try:
            return scipy.optimize.minimize(
                objective,
                x_flat,
                method=self.method,
                bounds=self.bounds,
                tol=self.tol,
                options=self.options if options is None else options,
                callback=scipy_callback,
                **extra,
            )
        except _NonFinite as stop:
            return objective.stopped(str(stop))

    def refine(self, result, x0, args, kwargs):
        """float64 from where a low-precision fit stopped before its gradient met the tolerance."""
        objective = self.objective
        if objective.ended:  # a NaN or infinity: float64 would not help
            return result
        left = _budget_left(self.options, objective.iterations, objective.evaluations)
        if left is None or (
            result.success and self._gradient_small(result.x, objective.at(result.x)[1])
        ):
            return result
        log.info(
            "skautodiff: %s stopped in float32 (%s); refining in float64",
            method_name(self.method),
            result.message,
        )
        first = (objective.iterations, objective.evaluations, result.message)
        refined = self.solve(
            pytree.tree_map(_to_float64, x0),
            np.asarray(result.x, dtype=np.float64),
            pytree.tree_map(_to_float64, args),
            pytree.tree_map(_to_float64, kwargs),
            left,
        )
        refined.nit = first[0] + self.objective.iterations
        refined.nfev = first[1] + self.objective.evaluations
        refined.message = (
            f"{refined.message} (float32 rounding stopped the fit after {first[0]} "
            f"iterations ({first[2]}); it was finished in float64)"
        )
        return refined

    def _gradient_small(self, x, grad):
        """The projected gradient's largest entry against the method's gradient tolerance."""
        gtol = self.options.get("gtol", self.tol if self.tol is not None else 1e-5)
        grad = np.array(grad, dtype=float)
        if self.bounds is not None:  # a bound that holds the parameter back has no gradient left
            grad[((x <= self.bounds.lb) & (grad > 0)) | ((x >= self.bounds.ub) & (grad < 0))] = 0
        return np.max(np.abs(grad), initial=0.0) <= gtol


def _budget_left(options, iterations, evaluations):
    """The options' iteration and evaluation limits less what was used; None when one is spent."""
    used = {"maxiter": iterations, "maxfun": evaluations, "maxfev": evaluations}
    left = dict(options)
    for key, count in used.items():
        if options.get(key) is not None:
            left[key] = options[key] - count
            if left[key] <= 0:
                return None
    return left


def _low_precision(tree):
    return any(
        np.asarray(leaf).dtype.kind == "f" and np.asarray(leaf).dtype.itemsize < 8
        for leaf in pytree.flatten(tree)[0]
    )


def _to_float64(leaf):
    """A float32 (or float16) leaf as float64, in its own kind (array, scalar, sparse matrix)."""
    dtype = getattr(leaf, "dtype", None)
    if dtype is None or dtype.kind != "f" or dtype.itemsize >= 8:
        return leaf
    return np.float64(leaf) if isinstance(leaf, np.floating) else leaf.astype(np.float64)


def fmin_l_bfgs_b(fn, init_args, bounds=None, args=(), backend="c", **scipy_options):
    """Minimise ``fn`` over its first parameters with L-BFGS-B; returns them optimised.

    ``fn`` is called as ``fn(p1, ..., pk, a1, ..., am)`` with ``init_args = [p1, ..., pk]`` and
    ``args = (a1, ..., am)``. A fit that does not converge warns (``OptimizeWarning``) with
    scipy's reason.

    Parameters
    ----------
    fn : callable
        The objective, written in plain numpy; it returns a real scalar.
    init_args : list
        Starting values (arrays, numbers or pytrees) of ``fn``'s first parameters.
    bounds : list, optional
        One entry per starting value: per-leaf ``(low, high)`` pairs, or None.
    args : tuple, optional
        ``fn``'s remaining positional arguments, held fixed.
    backend : {"c", "jax"}, default "c"
        As :func:`minimize`'s.
    **scipy_options
        scipy's L-BFGS-B options (``maxiter``, ``gtol``, ...).

    Returns
    -------
    list
        The optimised values, with the structure of ``init_args``.
    """

    def joint(params, *rest):
        return fn(*params, *rest)

    result = minimize(
        joint,
        list(init_args),
        args=tuple(args),
        method="L-BFGS-B",
        bounds=bounds,
        options=scipy_options or None,
        backend=backend,
    )
    if not result.success:
        warnings.warn(
            f"fmin_l_bfgs_b did not converge: {result.message}",
            scipy.optimize.OptimizeWarning,
            stacklevel=2,
        )
    return list(result.x)
