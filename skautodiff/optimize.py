"""Fitting with scipy.optimize over pytrees: minimize and fmin_l_bfgs_b.

The objective and its gradient come from one compiled call; parameters travel as one flat float64
vector (scipy's convention) and are rebuilt in the leaves' own dtypes (float32 stays float32).
During the fit scipy's private OpenBLAS is limited to one thread: L-BFGS-B calls it every
iteration, and its spinning worker otherwise competes with numpy's BLAS for the cores
(measured: fits 1.6-4x faster on 2 cores, see DESIGN.md).
"""
import contextlib
import inspect

import numpy as np
import scipy.optimize

from . import pytree
from .api import HessianVector, _wrt_names
from .compile import Call, GuardFailed, free
from .trace import resolve_callable

_NEWTON = {"newton-cg", "trust-ncg", "trust-krylov", "trust-exact", "dogleg", "trust-constr"}
_controller = None


@contextlib.contextmanager
def scipy_blas_single_thread():
    """Limit only scipy's bundled OpenBLAS (not numpy's) to one thread, then restore it."""
    global _controller
    try:
        if _controller is None:
            from threadpoolctl import ThreadpoolController
            _controller = ThreadpoolController()
        libs = [c for c in _controller.lib_controllers if "scipy.libs" in c.filepath]
    except Exception:   # threadpoolctl cannot see the libraries: fit anyway
        libs = []
    before = [c.num_threads for c in libs]
    for c in libs:
        c.set_num_threads(1)
    try:
        yield
    finally:
        for c, n in zip(libs, before):
            c.set_num_threads(n)


def _flat_bounds(bounds, x0):
    """scipy's per-coordinate bounds from bounds given per leaf (pytree of (lo, hi) or None)."""
    if bounds is None:
        return None
    leaves, treedef, _ = pytree.flatten(x0)
    if isinstance(bounds, tuple) and len(bounds) == 2 and not isinstance(bounds[0], (tuple, list, dict)):
        per_leaf = [bounds] * len(leaves)   # one (lo, hi) for every parameter
    else:
        per_leaf = _match_bounds(bounds, x0)
    lows, highs = [], []
    for leaf, bound in zip(leaves, per_leaf):
        size = np.size(leaf)
        lo, hi = (None, None) if bound is None else bound
        lows.append(np.broadcast_to(np.asarray(-np.inf if lo is None else lo, dtype=float), np.shape(leaf)).ravel())
        highs.append(np.broadcast_to(np.asarray(np.inf if hi is None else hi, dtype=float), np.shape(leaf)).ravel())
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
            raise ValueError(f"bounds name unknown parameters: {', '.join(map(str, sorted(unknown)))}")
        out = []
        for key, value in x0.items():
            out.extend(_match_bounds(bounds.get(key), value) if key in bounds else [None] * len(pytree.flatten(value)[0]))
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


class _Objective:
    """scipy's view of fn: flat float64 vector -> (value, flat gradient), one compiled call.

    The first call goes through the cache (trace/compile as needed); later calls reuse that
    compiled entry with the other arguments already converted, replacing only the optimised
    leaves. A failed guard falls back to the cache, which retraces.
    """

    def __init__(self, fn, wrt, x0, call_args):
        self.fn, self.wrt, self.call_args = fn, wrt, call_args
        self.x0_leaves = [np.asarray(leaf) for leaf in pytree.flatten(x0)[0]]
        self.sizes = np.cumsum([0] + [leaf.size for leaf in self.x0_leaves])
        self.fast = None
        self.last_x, self.last = None, None   # the latest point evaluated, for callbacks

    def leaves(self, flat):
        return [np.asarray(flat[a:b], dtype=_float(leaf.dtype)).reshape(leaf.shape)
                for leaf, a, b in zip(self.x0_leaves, self.sizes[:-1], self.sizes[1:])]

    def __call__(self, flat):
        self.last_x = np.array(flat, copy=True)
        self.last = self._evaluate(flat)
        return self.last

    def _evaluate(self, flat):
        leaves = self.leaves(flat)
        if self.fast is not None:
            entry, values, indices = self.fast
            for i, leaf in zip(indices, leaves):
                values[i] = leaf
            try:
                outs = entry.run("value_and_grad", values)
                return float(outs[0]), _concat(outs[1:])
            except GuardFailed:
                self.fast = None
        args, kwargs = self.call_args(leaves)
        call = Call(self.fn, args, kwargs, set(_wrt_names(self.fn, self.wrt, args, kwargs)[0]))
        entry, outs = call.run("value_and_grad")
        # (a function with side effects goes through call.run each time: it runs natively too)
        self.fast = None if entry.trace.side_effects else (entry, entry.inputs(call), call.wrt_indices)
        return float(outs[0]), _concat(outs[1:])


def _float(dtype):
    return dtype if dtype.kind == "f" else np.dtype(np.float64)


def _concat(arrays):
    return np.concatenate([np.ravel(a) for a in arrays]).astype(np.float64, copy=False)


def minimize(fn, x0, args=(), kwargs=None, method="L-BFGS-B", bounds=None, tol=None, options=None,
             callback=None, wrt=0):
    """scipy.optimize.minimize over a pytree `x0` (the argument `wrt` of fn, first by default).

    Returns scipy's OptimizeResult with `x` (and `jac`) shaped like x0. Newton-type methods use
    the compiled Hessian-vector product. `callback(params)` receives the parameters shaped like x0.
    """
    kwargs = dict(kwargs or {})
    if not isinstance(wrt, (int, str)):
        raise TypeError("minimize optimises one argument: wrt must be a name or a position")
    x_flat, unravel = pytree.ravel(x0)
    treedef = pytree.flatten(x0)[1]

    def call_args(leaves):
        params = pytree.unflatten(treedef, leaves)
        if isinstance(wrt, str):
            return args, {**kwargs, wrt: params}
        return (*args[:wrt], params, *args[wrt:]), kwargs

    objective = _Objective(fn, wrt, x0, call_args)
    options = dict(options or {})
    extra = {}
    if method.lower() in _NEWTON:
        hv = HessianVector(fn, wrt=wrt)

        def hessp(flat, p):
            a, k = call_args(objective.leaves(flat))
            return pytree.ravel(hv(*a, vectors=unravel(p), **k))[0]
        extra["hessp"] = hessp
    scipy_callback = None
    if callback is not None:
        # As in scipy: a callback whose parameter is named `intermediate_result` receives an
        # OptimizeResult (x and jac shaped like x0, fun); any other receives the parameters.
        wants_result = "intermediate_result" in inspect.signature(callback).parameters

        def scipy_callback(intermediate_result):
            flat = np.asarray(intermediate_result.x)
            if not wants_result:
                return callback(unravel(flat))
            value, grad = objective.last if np.array_equal(objective.last_x, flat) else objective(flat)
            return callback(scipy.optimize.OptimizeResult(x=unravel(flat), fun=value, jac=unravel(grad)))
    try:
        with scipy_blas_single_thread():
            result = scipy.optimize.minimize(objective, x_flat, jac=True, method=method,
                                             bounds=_flat_bounds(bounds, x0), tol=tol, options=options,
                                             callback=scipy_callback, **extra)
    finally:   # the buffers the compiled functions keep between calls (value and grad, Hv)
        free(resolve_callable(fn)[0].__code__)
    result.x = unravel(result.x)
    if getattr(result, "jac", None) is not None and np.size(result.jac) == x_flat.size:
        result.jac = unravel(result.jac)
    return result


def fmin_l_bfgs_b(fn, init_args, bounds=None, args=(), **scipy_options):
    """Minimise fn(*init_args, *args) over init_args with L-BFGS-B; returns them optimised.

    `init_args` is a list of starting values (arrays, scalars or pytrees) for fn's first
    parameters; the result is a list with the same structure. `bounds` is a matching list of
    per-leaf (lo, hi) pairs (or None); other keywords are scipy's L-BFGS-B options.
    """
    def joint(params, *rest):
        return fn(*params, *rest)

    result = minimize(joint, list(init_args), args=tuple(args), method="L-BFGS-B", bounds=bounds,
                      options=scipy_options or None)
    return list(result.x)
