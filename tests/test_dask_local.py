"""Dask arrays without a distributed Client: the chunks are computed into this process and fitted
with the same arithmetic as on a cluster (tests/test_dask_fit.py)."""

import dask.array as da
import numpy as np
import pytest

from skautodiff import pytree
from skautodiff.dask.separable import NotSeparable
from skautodiff.models import HuberRegressor, LogisticRegression


def _no_client():
    try:
        from distributed import get_client

        get_client()
    except (ImportError, ValueError):
        return True
    return False


pytestmark = pytest.mark.skipif(not _no_client(), reason="a distributed Client is active")


def test_fit_without_a_client_equals_the_in_memory_fit():
    rng = np.random.default_rng(0)
    X = rng.normal(size=(150, 3))
    y = (X @ np.array([1.0, -1.0, 0.5]) + rng.normal(size=150) > 0).astype(int)
    reference = LogisticRegression(C=0.3).fit(X, y)
    # uneven chunks, one of a single row (traced as two: the same compiled function serves it)
    fitted = LogisticRegression(C=0.3).fit(
        da.from_array(X, chunks=((70, 1, 79), 3)), da.from_array(y, chunks=50)
    )
    assert (
        np.max(np.abs(pytree.ravel(reference.params_)[0] - pytree.ravel(fitted.params_)[0])) < 1e-8
    )
    assert fitted.chunk_evaluations_ >= fitted.n_iter_


def test_bounds_and_a_scale_parameter_fit_as_in_memory():
    rng = np.random.default_rng(1)
    X = rng.normal(size=(120, 2))
    y = X @ np.array([2.0, -1.0]) + rng.standard_t(2, size=120)
    reference = HuberRegressor().fit(X, y)
    fitted = HuberRegressor().fit(da.from_array(X, chunks=(30, 2)), da.from_array(y, chunks=30))
    np.testing.assert_allclose(fitted.coef_, reference.coef_, rtol=1e-6)
    assert fitted.scale_ == pytest.approx(reference.scale_, rel=1e-6)


def test_a_loss_with_integer_row_indexing_is_refused():
    from skautodiff import AutodiffClassifier

    def picked(params, X, y):
        z = X @ params
        return np.mean(np.log(np.sum(np.exp(z), axis=1)) - z[np.arange(len(z)), y])

    rng = np.random.default_rng(2)
    X = rng.normal(size=(40, 2))
    y = np.arange(40) % 2
    est = AutodiffClassifier(
        loss=picked, init_params=np.zeros((2, 2)), decision_fn=lambda p, X: X @ p
    )
    with pytest.raises(NotSeparable, match="z\\[np.arange\\(len\\(z\\)\\), y\\]"):
        est.fit(da.from_array(X, chunks=(10, 2)), da.from_array(y, chunks=10))


def test_a_newton_method_is_refused_before_fitting():
    X = np.random.default_rng(3).normal(size=(20, 2))
    est = LogisticRegression()
    est.optimizer = "trust-ncg"
    with pytest.raises(ValueError, match="Hessian-vector products.*L-BFGS-B"):
        est.fit(da.from_array(X, chunks=(10, 2)), da.from_array(np.arange(20) % 2, chunks=10))


def exploding(params, X, y):
    return np.mean(np.exp(50.0 * (X @ params) ** 2) - y * (X @ params))


def test_an_overflowing_objective_ends_the_fit_at_the_best_point_as_in_memory():
    from sklearn.exceptions import ConvergenceWarning

    from skautodiff import AutodiffRegressor

    rng = np.random.default_rng(4)
    X = rng.normal(size=(40, 2)) * 3
    y = rng.normal(size=40) * 1000

    def make():
        return AutodiffRegressor(
            loss=exploding, init_params=np.zeros(2), predict_fn=lambda p, X: X @ p
        )

    with pytest.warns(ConvergenceWarning):
        reference = make().fit(X, y)
    with pytest.warns(ConvergenceWarning, match="infinite"):
        fitted = make().fit(da.from_array(X, chunks=(10, 2)), da.from_array(y, chunks=10))
    assert not fitted.converged_ and not reference.converged_
    np.testing.assert_allclose(fitted.params_, reference.params_, rtol=1e-10)
    assert fitted.loss_ == pytest.approx(reference.loss_, rel=1e-10)


def test_a_float32_fit_is_refined_in_float64_as_in_memory():
    from skautodiff import AutodiffRegressor

    def squares(params, X, y):
        return np.mean((X @ params["w"] + params["b"] - y) ** 2)

    rng = np.random.default_rng(5)  # float32 features ~1e3: float32 rounding stops L-BFGS-B short
    X = rng.normal(size=(200, 3)) * 1000
    y = (X @ np.array([1.0, -2.0, 3.0]) + 5 + rng.normal(size=200)).astype(np.float32)
    X = X.astype(np.float32)
    A = np.column_stack([X, np.ones(200)]).astype(np.float64)
    optimum = np.linalg.lstsq(A, y.astype(np.float64), rcond=None)[0]  # on the same float32 numbers
    est = AutodiffRegressor(
        loss=squares, init_params={"w": np.zeros(3), "b": 0.0}, predict_fn=lambda p, X: X @ p["w"]
    ).fit(da.from_array(X, chunks=(50, 3)), da.from_array(y, chunks=50))
    assert est.converged_ and est.params_["w"].dtype == np.float32
    np.testing.assert_allclose(np.r_[est.params_["w"], est.params_["b"]], optimum, rtol=1e-6)
