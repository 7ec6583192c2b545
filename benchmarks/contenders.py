"""The contenders: ways a user could fit one of our objectives.

Each contender turns (problem, layout, data) into a ``Prepared`` with
  * ``vg(x) -> (value, flat gradient)``: what an optimiser calls per iteration, on the flat float64
    vector scipy passes (None for scikit-learn's estimators, whose internals are private);
  * ``fit(x0) -> Fit``: a complete fit from ``x0`` with the problem's L-BFGS-B settings, inside the
    scipy-BLAS single-thread limit.
A contender that cannot run a problem says why in ``unsupported(problem)``; the table shows that.
"""

import time
import warnings
from dataclasses import dataclass
from typing import Callable, Optional

import numpy as np
import scipy.optimize

from benchmarks.blas import scipy_blas_single_thread
from benchmarks.losses import rebind


@dataclass
class Fit:
    x: np.ndarray
    nit: Optional[int]
    seconds: float


@dataclass
class Prepared:
    vg: Optional[Callable]
    fit: Callable


def _scipy_fit(problem, vg):
    def fit(x0):
        with scipy_blas_single_thread():
            start = time.perf_counter()
            res = scipy.optimize.minimize(
                vg, x0, jac=True, method="L-BFGS-B", options=problem.options()
            )
            seconds = time.perf_counter() - start
        return Fit(res.x, int(res.nit), seconds)

    return fit


class Numpy:
    name = "numpy"
    title = "hand numpy + scipy"
    modules = ()

    def unsupported(self, problem):
        return None

    def prepare(self, problem, layout, data):
        f = problem.reference(layout)
        X, y, alpha = data.X, data.y, problem.alpha

        def vg(x):
            return f(x, X, y, alpha)

        return Prepared(vg, _scipy_fit(problem, vg))


class Autograd:
    name = "autograd"
    title = "autograd + scipy"
    modules = ("autograd",)

    def unsupported(self, problem):
        if problem.sparse:
            return "autograd has no sparse matrix products"
        return None

    def prepare(self, problem, layout, data):
        import autograd
        import autograd.numpy as anp

        loss = rebind(problem.loss, anp)
        avg = autograd.value_and_grad(lambda x, X, y, a: loss(layout.unflatten(x), X, y, a))
        X, y, alpha = data.X, data.y, problem.alpha

        def vg(x):
            return avg(x, X, y, alpha)

        return Prepared(vg, _scipy_fit(problem, vg))


class Jax:
    name = "jax"
    title = "JAX jit float64 + scipy"
    modules = ("jax",)

    def unsupported(self, problem):
        if problem.sparse:
            return "jax.numpy has no CSR input (jax.experimental.sparse is a different API)"
        return None

    def prepare(self, problem, layout, data):
        import jax
        import jax.numpy as jnp

        jax.config.update("jax_enable_x64", True)
        loss = rebind(problem.loss, jnp)
        jvg = jax.jit(jax.value_and_grad(lambda x, X, y, a: loss(layout.unflatten(x), X, y, a)))
        # Data goes in once as device arrays and as arguments, never as baked-in constants.
        X, y, alpha = jnp.asarray(data.X), jnp.asarray(data.y), problem.alpha

        def vg(x):
            value, grad = jvg(x, X, y, alpha)
            return float(value), np.asarray(grad)

        return Prepared(vg, _scipy_fit(problem, vg))


class PyTensorDirect:
    """The same loss run on PyTensor symbols directly (np rebound to pytensor.tensor), compiled with
    the C backend: what skautodiff's compiled functions could reach, without its engine."""

    name = "pytensor"
    title = "PyTensor graph by hand (CVM) + scipy"
    modules = ("pytensor",)

    def unsupported(self, problem):
        if problem.sparse:
            return "needs pytensor.sparse, a separate API"
        return None

    def prepare(self, problem, layout, data):
        import pytensor
        import pytensor.tensor as pt

        loss = rebind(problem.loss, pt)
        x = pt.dvector("x")
        X = pt.dmatrix("X")
        y = pt.tensor("y", dtype="float64", shape=(None,) * data.y.ndim)
        alpha = pt.dscalar("alpha")
        cost = loss(layout.unflatten(x), X, y, alpha)
        fn = pytensor.function([x, X, y, alpha], [cost, pytensor.grad(cost, x)], mode="CVM")
        Xd, yd, a = data.X, data.y, np.float64(problem.alpha)

        def vg(x):
            value, grad = fn(x, Xd, yd, a)
            return float(value), grad

        return Prepared(vg, _scipy_fit(problem, vg))


class Sklearn:
    name = "sklearn"
    title = "scikit-learn estimator"
    modules = ("sklearn.linear_model", "sklearn.neural_network")

    def unsupported(self, problem):
        return None

    def prepare(self, problem, layout, data):
        from sklearn.base import clone
        from sklearn.exceptions import ConvergenceWarning

        template = problem.sklearn_estimator()

        def fit(x0):
            # scikit-learn starts from its own point: zeros for linear models (as x0), its own
            # Glorot draw for the MLP (same distribution as x0, different numbers).
            est = clone(template)
            with scipy_blas_single_thread(), warnings.catch_warnings():
                warnings.simplefilter("ignore", ConvergenceWarning)
                start = time.perf_counter()
                est.fit(data.X, data.labels)
                seconds = time.perf_counter() - start
            nit = getattr(est, "n_iter_", None)
            nit = None if nit is None else int(np.max(nit))
            return Fit(problem.sklearn_solution(est, layout), nit, seconds)

        return Prepared(None, fit)


def _skautodiff_missing(*names):
    """None when skautodiff exposes every name, else why this contender cannot run yet."""
    try:
        import skautodiff
    except ImportError as exc:
        return f"skautodiff does not import: {exc}"
    absent = [n for n in names if not hasattr(skautodiff, n)]
    return f"skautodiff has no {', '.join(absent)} yet" if absent else None


class SkautodiffAPI:
    """The functional API: value_and_grad for the per-call figure, minimize for the fit."""

    name = "skautodiff"
    title = "skautodiff.minimize"
    modules = ("skautodiff",)

    def unsupported(self, problem):
        return _skautodiff_missing("value_and_grad", "minimize")

    def prepare(self, problem, layout, data):
        import skautodiff

        vgfn = skautodiff.value_and_grad(problem.loss, wrt="params")
        X, y, alpha = data.X, data.y, problem.alpha

        def vg(x):
            value, grad = vgfn(layout.unflatten(x), X, y, alpha)
            return float(value), layout.flatten(grad)

        def fit(x0):
            params0 = layout.unflatten(x0)
            with scipy_blas_single_thread():
                start = time.perf_counter()
                res = skautodiff.minimize(
                    problem.loss,
                    params0,
                    args=(X, y, alpha),
                    method="L-BFGS-B",
                    options=problem.options(),
                )
                seconds = time.perf_counter() - start
            return Fit(layout.flatten(res.x), int(res.nit), seconds)

        return Prepared(vg, fit)


def skautodiff_estimator_missing(problem):
    """None when skautodiff ships the estimator this problem needs, else why not."""
    reason = _skautodiff_missing()
    if reason:
        return reason
    try:
        skautodiff_estimator(problem)
    except (ImportError, AttributeError) as exc:
        return f"no skautodiff estimator yet ({exc})"
    return None


def skautodiff_estimator(problem):
    """skautodiff's shipped model for the problem, with scikit-learn's parameter names and values
    (so GridSearchCV can use one grid for both)."""
    from skautodiff import models

    sk = problem.sklearn_estimator().get_params()
    if problem.kind in ("logistic", "softmax"):
        return models.LogisticRegression(C=sk["C"], tol=problem.tol, max_iter=problem.maxiter)
    if problem.kind == "least_squares":
        return models.Ridge(alpha=sk["alpha"], tol=problem.tol, max_iter=problem.maxiter)
    return models.MLPClassifier(
        hidden_layer_sizes=sk["hidden_layer_sizes"],
        activation="tanh",
        alpha=sk["alpha"],
        tol=problem.tol,
        max_iter=problem.maxiter,
        random_state=0,
    )


class SkautodiffEstimator:
    """skautodiff.models' estimator: validation, target encoding, trace, compile, fit."""

    name = "skautodiff-est"
    title = "skautodiff.models estimator"
    modules = ("skautodiff",)

    def unsupported(self, problem):
        return skautodiff_estimator_missing(problem)

    def prepare(self, problem, layout, data):
        from sklearn.base import clone
        from sklearn.exceptions import ConvergenceWarning

        template = skautodiff_estimator(problem)

        def fit(x0):
            # Starts from the model's own init_params: zeros for linear models (as x0), a Glorot
            # draw for the MLP.
            est = clone(template)
            with scipy_blas_single_thread(), warnings.catch_warnings():
                warnings.simplefilter("ignore", ConvergenceWarning)
                start = time.perf_counter()
                est.fit(data.X, data.labels)
                seconds = time.perf_counter() - start
            return Fit(_estimator_solution(problem, layout, est), est.n_iter_, seconds)

        return Prepared(None, fit)


def _estimator_solution(problem, layout, est):
    p = est.params_
    if problem.kind == "mlp":
        (W1, W2), (b1, b2) = p["weights"], p["biases"]
        return layout.flatten({"W1": W1, "b1": b1, "W2": W2, "b2": b2})
    if problem.kind == "softmax":
        return layout.flatten({"W": p["w"], "b": p["b"]})
    return layout.flatten({"w": p["w"], "b": p["b"]})


ALL = [
    Numpy(),
    SkautodiffAPI(),
    SkautodiffEstimator(),
    PyTensorDirect(),
    Jax(),
    Autograd(),
    Sklearn(),
]
BY_NAME = {c.name: c for c in ALL}
