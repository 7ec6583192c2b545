"""Fits that say how they ended: a NaN or infinite objective or gradient ends the fit with
success=False / converged_=False and a ConvergenceWarning; float32 fits on unscaled data reach the
float64 optimum; every scipy.optimize.minimize method reaches the optimum or is refused before
fitting.

References are independent of skautodiff: plain numpy run natively, numpy's least squares, and a
Newton solver for L2-penalised logistic regression written here in numpy.
"""

import warnings

import numpy as np
import pytest
import scipy.optimize
from sklearn.exceptions import ConvergenceWarning

import skautodiff
from skautodiff.estimators import AutodiffClassifier, AutodiffRegressor

METHODS = [
    "Nelder-Mead",
    "Powell",
    "CG",
    "BFGS",
    "Newton-CG",
    "L-BFGS-B",
    "TNC",
    "COBYLA",
    "COBYQA",
    "SLSQP",
    "trust-constr",
    "dogleg",
    "trust-ncg",
    "trust-exact",
    "trust-krylov",
]


def custom_bfgs(fun, x0, args=(), jac=None, callback=None, maxiter=None, **unused):
    """A callable method, as scipy documents them: here BFGS under another name."""
    return scipy.optimize.minimize(
        fun,
        x0,
        args=args,
        jac=jac,
        method="BFGS",
        callback=callback,
        options={"maxiter": maxiter, "gtol": 1e-9},
    )


# ---------------------------------------------------------------- user code and references


def logistic_loss(params, X, y, alpha=0.1):
    z = X @ params["w"] + params["b"]
    return np.mean(np.logaddexp(0, z) - y * z) + alpha * np.sum(params["w"] ** 2)


def logistic_newton(X, y, alpha=0.1):
    """logistic_loss's minimiser by Newton's method in float64 numpy (affine-invariant, so
    unscaled features do not slow it down)."""
    A = np.column_stack([X, np.ones(len(X))]).astype(np.float64)
    penalty = np.r_[np.full(X.shape[1], 2 * alpha), 0.0]
    theta = np.zeros(A.shape[1])
    for _ in range(100):
        p = 1 / (1 + np.exp(-(A @ theta)))
        grad = A.T @ (p - y) / len(y) + penalty * theta
        hess = (A.T * (p * (1 - p))) @ A / len(y) + np.diag(penalty)
        step = np.linalg.solve(hess, grad)
        theta -= step
        if np.max(np.abs(step)) < 1e-13 * max(1.0, np.max(np.abs(theta))):
            break
    return {"w": theta[:-1], "b": theta[-1]}


def squares_loss(params, X, y):
    return np.mean((X @ params["w"] + params["b"] - y) ** 2)


def squares_reference(X, y):
    A = np.column_stack([X, np.ones(len(X))]).astype(np.float64)
    theta = np.linalg.lstsq(A, y.astype(np.float64), rcond=None)[0]
    return {"w": theta[:-1], "b": theta[-1]}


def linear(params, X):
    return X @ params["w"] + params["b"]


def log_barrier_loss(params, X, y):
    """Least squares pulling w[0] towards 3, plus log(2 - w[0]): NaN beyond w[0] = 2, and
    unbounded below as w[0] -> 2, so every optimiser ends up evaluating where it is not finite."""
    return np.mean((X @ params["w"] - y) ** 2) + np.log(2 - params["w"][0])


def sqrt_loss(w):
    """Finite at w = 0, where its gradient (from sqrt) is infinite."""
    return np.sum((w - 1) ** 2) + np.sqrt(w[0])


@pytest.fixture(scope="module")
def classification():
    rng = np.random.default_rng(0)
    X = rng.normal(size=(40, 3))
    y = (X[:, 0] - X[:, 1] + rng.normal(size=40) > 0).astype(float)
    return X, y


@pytest.fixture(scope="module")
def barrier_data():
    rng = np.random.default_rng(1)
    X = rng.normal(size=(30, 2))
    return X, X @ np.array([3.0, -1.0])


@pytest.fixture(scope="module")
def unscaled():
    """float32 features of size ~1e3 and an intercept of 5: float32 rounding stalls a plain float32
    fit (at intercept ~0 and an objective 25x the optimum, reported as converged before the fix)."""
    rng = np.random.default_rng(0)
    X = rng.normal(size=(200, 3)) * 1000
    y = X @ np.array([1.0, -2.0, 3.0]) + 5 + rng.normal(size=200)
    return X.astype(np.float32), y.astype(np.float32)  # the references see exactly these numbers


def flat(params):
    return np.r_[np.ravel(params["w"]), np.ravel(params["b"])].astype(np.float64)


# ---------------------------------------------------------------- NaN and infinity end the fit


@pytest.mark.parametrize("method", METHODS + [custom_bfgs])
def test_nonfinite_objective_ends_minimize_for_every_method(barrier_data, method):
    X, y = barrier_data
    start = {"w": np.zeros(2)}
    with warnings.catch_warnings():
        warnings.simplefilter("ignore", RuntimeWarning)  # numpy's own "invalid value in log"
        result = skautodiff.minimize(log_barrier_loss, start, args=(X, y), method=method)
        native = log_barrier_loss(result.x, X, y)
    assert not result.success
    assert "became NaN" in result.message or "became infinite" in result.message
    # x is a point that was evaluated, with the value reported, and better than the start.
    assert np.isfinite(result.fun)
    np.testing.assert_allclose(result.fun, native, rtol=1e-12)
    assert result.fun <= log_barrier_loss(start, X, y)
    assert result.x["w"][0] < 2


@pytest.mark.parametrize("method", ["L-BFGS-B", "BFGS", "trust-exact"])
def test_nonfinite_gradient_at_the_start_ends_minimize(method):
    result = skautodiff.minimize(sqrt_loss, np.zeros(3), method=method)
    assert not result.success
    assert result.message.startswith("the gradient became infinite at the starting point")
    np.testing.assert_array_equal(result.x, np.zeros(3))
    assert result.fun == sqrt_loss(np.zeros(3)) == 3.0


def test_nonfinite_objective_ends_the_estimators_fit_with_a_warning(barrier_data):
    X, y = barrier_data
    est = AutodiffRegressor(
        loss=log_barrier_loss, init_params={"w": np.zeros(2)}, predict_fn=lambda p, X: X @ p["w"]
    )
    with warnings.catch_warnings():
        warnings.simplefilter("ignore", RuntimeWarning)
        with pytest.warns(
            ConvergenceWarning,
            match=r"did not converge after \d+ iterations \(the objective "
            r"became (NaN|infinite) during iteration \d+",
        ):
            est.fit(X, y)
    assert est.converged_ is False
    assert np.isfinite(est.loss_)
    np.testing.assert_allclose(est.loss_, log_barrier_loss(est.params_, X, y), rtol=1e-12)
    assert est.loss_curve_ == sorted(est.loss_curve_, reverse=True)  # never past the NaN


@pytest.mark.cbackend
def test_nonfinite_gradient_ends_a_c_backend_fit_with_a_warning():
    def loss(params, X, y):
        return np.mean((X @ params["w"] - y) ** 2) + np.sqrt(params["w"][0])

    X, y = np.eye(3), np.ones(3)
    est = AutodiffRegressor(
        loss=loss, init_params={"w": np.zeros(3)}, predict_fn=lambda p, X: X @ p["w"]
    )
    with pytest.warns(
        ConvergenceWarning, match="the gradient became infinite at the starting point"
    ):
        est.fit(X, y)
    assert est.converged_ is False and est.n_iter_ == 0
    assert est.loss_ == 1.0


# ---------------------------------------------------------------- float32 reaches the float64 optimum


def assert_at_optimum(params, reference, rtol):
    """Each parameter within rtol of the reference, relative to the parameters' scale."""
    scale = np.max(np.abs(flat(reference)))
    np.testing.assert_allclose(flat(params), flat(reference), rtol=0, atol=rtol * scale)


def test_float32_minimize_on_unscaled_data_reaches_the_float64_optimum(unscaled):
    X, y = unscaled
    reference = squares_reference(X, y)
    start = {"w": np.zeros(3, np.float32), "b": np.float32(0)}
    result = skautodiff.minimize(squares_loss, start, args=(X, y))
    assert result.success, result.message
    assert result.x["w"].dtype == np.float32 and isinstance(result.x["b"], np.float32)
    assert_at_optimum(result.x, reference, rtol=1e-6)
    assert "finished in float64" in result.message
    # scipy's default ftol (2.2e-9 relative) stops this ill-conditioned problem (condition number
    # ~1e6) a little above the optimum, in float64 as well.
    np.testing.assert_allclose(
        result.fun, squares_loss(reference, X.astype(float), y.astype(float)), rtol=1e-4
    )


def test_float32_logistic_fit_on_unscaled_data_reaches_the_float64_optimum(classification):
    X, y = classification
    X = (X * 1000).astype(np.float32)
    reference = logistic_newton(X, y, alpha=1e-7)
    # An ill-conditioned problem: a gradient within scipy's default gtol (1e-5) leaves b off by
    # 1e-3, in float64 too; a tighter tol is met only in float64, which the fit then finishes in.
    est = AutodiffClassifier(
        loss=logistic_loss,
        init_params={"w": np.zeros(3), "b": 0.0},
        decision_fn=linear,
        loss_kwargs={"alpha": 1e-7},
        tol=1e-9,
    )
    est.fit(X, y.astype(int))
    assert est.converged_ and est.params_["w"].dtype == np.float32
    assert_at_optimum(est.params_, reference, rtol=1e-5)


@pytest.mark.cbackend
def test_float32_estimator_on_unscaled_data_reaches_the_float64_optimum(unscaled):
    X, y = unscaled
    reference = squares_reference(X, y)
    make = lambda: AutodiffRegressor(
        loss=squares_loss, init_params={"w": np.zeros(3), "b": 0.0}, predict_fn=linear
    )
    est = make().fit(X, y)
    assert est.converged_
    assert (
        est.params_["w"].dtype == np.float32 and type(est.params_["b"]) is float
    )  # as init_params gave
    assert_at_optimum(est.params_, reference, rtol=1e-6)
    assert abs(est.params_["b"] - 5) < 0.1
    np.testing.assert_allclose(
        est.loss_, squares_loss(reference, X.astype(float), y.astype(float)), rtol=1e-12
    )


def test_float32_refinement_keeps_to_max_iter(unscaled):
    X, y = unscaled
    est = AutodiffRegressor(
        loss=squares_loss, init_params={"w": np.zeros(3), "b": 0.0}, predict_fn=linear, max_iter=12
    )
    with pytest.warns(ConvergenceWarning, match="did not converge after 12 iterations"):
        est.fit(X, y)
    assert est.n_iter_ == 12 and len(est.loss_curve_) == 12 and not est.converged_


# ---------------------------------------------------------------- every method, or a clear refusal

# (tol, how close the method then gets to the optimum relative to the parameters' scale): each
# method reads tol as its own criterion. L-BFGS-B takes it as ftol in minimize (the estimators give
# it as gtol); trust-krylov's Krylov solver breaks down (NaN vectors) below tol=1e-6 here.
TOLERANCES = {
    "Powell": (1e-8, 1e-5),
    "SLSQP": (1e-8, 1e-4),
    "L-BFGS-B": (1e-8, 2e-5),
    "trust-krylov": (1e-6, 1e-6),
}


def tolerances(method):
    return TOLERANCES.get(method, (1e-8, 1e-6))


@pytest.mark.filterwarnings("error::RuntimeWarning", "error::scipy.optimize.OptimizeWarning")
@pytest.mark.parametrize("method", METHODS + [custom_bfgs])
def test_every_method_reaches_the_optimum_in_minimize(classification, method):
    X, y = classification
    seen = []
    tol, rtol = tolerances(method)
    result = skautodiff.minimize(
        logistic_loss,
        {"w": np.zeros(3), "b": 0.0},
        args=(X, y),
        method=method,
        tol=tol,
        callback=lambda params: seen.append(params),
    )
    assert result.success, result.message
    assert_at_optimum(result.x, logistic_newton(X, y), rtol=rtol)
    assert seen and set(seen[-1]) == {"w", "b"}


@pytest.mark.filterwarnings("error::RuntimeWarning", "error::scipy.optimize.OptimizeWarning")
@pytest.mark.parametrize("method", METHODS + [custom_bfgs])
def test_every_method_reaches_the_optimum_as_an_estimators_optimizer(classification, method):
    X, y = classification
    tol, rtol = tolerances(method)
    est = AutodiffClassifier(
        loss=logistic_loss,
        init_params={"w": np.zeros(3), "b": 0.0},
        decision_fn=linear,
        optimizer=method,
        tol=tol,
    )
    est.fit(X, y.astype(int))
    assert est.converged_
    assert len(est.loss_curve_) >= 1 and est.n_iter_ >= 1
    assert_at_optimum(est.params_, logistic_newton(X, y), rtol=rtol)


def test_tnc_max_iter_limits_its_evaluations(classification):
    X, y = classification
    est = AutodiffClassifier(
        loss=logistic_loss,
        init_params={"w": np.zeros(3), "b": 0.0},
        decision_fn=linear,
        optimizer="TNC",
        max_iter=3,
    )
    with warnings.catch_warnings():
        warnings.simplefilter(
            "error", scipy.optimize.OptimizeWarning
        )  # no "Unknown solver options"
        with pytest.warns(ConvergenceWarning, match="TNC did not converge"):
            est.fit(X, y.astype(int))
    assert not est.converged_


def test_unknown_method_is_refused_before_fitting(classification):
    X, y = classification

    def fresh_loss(params, X, y):  # a new function: fitting it would trace it
        return logistic_loss(params, X, y)

    traces = skautodiff.cache_info().traces
    with pytest.raises(ValueError, match="unknown optimisation method 'Newton'.*trust-exact"):
        skautodiff.minimize(fresh_loss, {"w": np.zeros(3), "b": 0.0}, args=(X, y), method="Newton")
    est = AutodiffClassifier(
        loss=fresh_loss,
        init_params={"w": np.zeros(3), "b": 0.0},
        decision_fn=linear,
        optimizer="lbfgs",
    )
    with pytest.raises(ValueError, match="unknown optimisation method 'lbfgs'"):
        est.fit(X, y.astype(int))
    assert skautodiff.cache_info().traces == traces


@pytest.mark.parametrize(
    "method", ["BFGS", "CG", "Newton-CG", "dogleg", "trust-ncg", "trust-exact", "trust-krylov"]
)
def test_bounds_a_method_would_ignore_are_refused_before_fitting(classification, method):
    X, y = classification
    traces = skautodiff.cache_info().traces
    with pytest.raises(ValueError, match=f"method '{method}' cannot handle bounds.*L-BFGS-B"):
        skautodiff.minimize(
            logistic_loss,
            {"w": np.zeros(3), "b": 0.0},
            args=(X, y),
            method=method,
            bounds={"w": (0, None)},
        )
    assert skautodiff.cache_info().traces == traces


@pytest.mark.parametrize("method", ["L-BFGS-B", "TNC", "SLSQP", "trust-constr", "Powell"])
def test_methods_with_bounds_keep_them(classification, method):
    X, y = classification
    result = skautodiff.minimize(
        logistic_loss,
        {"w": np.zeros(3), "b": 0.0},
        args=(X, y),
        method=method,
        bounds={"w": (0, None)},
        tol=1e-10,
    )
    # The unbounded optimum has w[1] < 0: the bound holds it at 0 (trust-constr, an interior-point
    # method, approaches it from inside).
    assert logistic_newton(X, y)["w"][1] < 0
    assert np.all(result.x["w"] >= 0) and abs(result.x["w"][1]) < 1e-5


# ---------------------------------------------------------------- shipped models on unscaled data


def test_ordinal_regression_fits_unscaled_data():
    """Its loss is computed in log space: the first trial step on features ~100 no longer makes it
    infinite (which used to leave the model at its starting point, reported as converged)."""
    from skautodiff import models

    rng = np.random.RandomState(0)
    X = rng.normal(loc=100, size=(100, 2))
    y = rng.randint(0, 3, size=100)
    est = models.OrdinalLogisticRegression(alpha=1e-3, tol=1e-12).fit(X, y)
    assert est.converged_ and est.n_iter_ > 1
    onehot = np.eye(3)[y]
    v = np.r_[est.params_["w"], est.params_["cuts"]]

    def loss(v):  # the plain numpy loss
        return est.loss({"w": v[:2], "cuts": v[2:]}, X, onehot)

    # Central differences: the loss's curvature in w is ~1e3 here (features ~100).
    h = 1e-6
    gradient = [(loss(v + h * e) - loss(v - h * e)) / (2 * h) for e in np.eye(4)]
    assert np.max(np.abs(gradient)) < 1e-6
