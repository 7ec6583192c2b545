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


def picked(params, X, y):
    z = X @ params
    return np.mean(np.log(np.sum(np.exp(z), axis=1)) - z[np.arange(len(z)), y])


def counted(params, X, y):
    """n both indexes (np.arange(n): the chunk's rows) and divides (/ n: all rows)."""
    n = len(y)
    z = X @ params
    log_p = z - np.log(np.sum(np.exp(z), axis=1, keepdims=True))
    return -np.sum(log_p[np.arange(n), y] * np.ones(n)) / n + 0.01 * np.sum(params**2)


def taken(params, X, y):
    z = X @ params
    p = np.exp(z) / np.sum(np.exp(z), axis=1, keepdims=True)
    return -np.mean(np.log(np.take_along_axis(p, y.reshape(-1, 1), axis=1))) + 0.01 * np.sum(
        params**2
    )


def class_bias(params, X, y):
    """A parameter table looked up by each row's class, and the row's own column of z."""
    z = X @ params["W"]
    own = z[np.arange(X.shape[0]), y] + params["b"][y]
    return np.mean(np.log(np.sum(np.exp(z), axis=1)) - own) + 0.1 * np.sum(params["b"] ** 2)


def one_hot(params, X, Y):
    """The one-hot form: Y (n, K) from target_encoding="onehot" times log-probabilities."""
    z = X @ params
    log_p = z - np.log(np.sum(np.exp(z), axis=1, keepdims=True))
    return -np.mean(np.sum(Y * log_p, axis=1)) + 0.01 * np.sum(params**2)


def _classifier(loss, init):
    from skautodiff import AutodiffClassifier

    return AutodiffClassifier(
        loss=loss,
        init_params=init,
        decision_fn=lambda p, X: X @ p,
        target_encoding="onehot" if loss is one_hot else "index",
    )


def _three_classes(seed, rows=90):
    rng = np.random.default_rng(seed)
    X = rng.normal(size=(rows, 3))
    y = np.digitize(X @ np.array([1.0, -2.0, 0.5]) + 0.5 * rng.normal(size=rows), [-1.0, 1.0])
    return X, y


@pytest.mark.parametrize(
    "loss, init",
    [
        (picked, np.zeros((3, 3))),
        (counted, np.zeros((3, 3))),
        (taken, np.zeros((3, 3))),
        (class_bias, {"W": np.zeros((3, 3)), "b": np.zeros(3)}),
        (one_hot, np.zeros((3, 3))),
    ],
    ids=[
        "arange-and-labels",
        "count-as-shape-and-number",
        "take_along_axis",
        "table-by-label",
        "one-hot",
    ],
)
def test_integer_row_indexing_fits_as_in_memory(loss, init):
    X, y = _three_classes(5)
    reference = _classifier(loss, init).fit(X, y)
    # uneven chunks and one of a single row: np.arange(len(z)) is each chunk's own
    fitted = _classifier(loss, init).fit(
        da.from_array(X, chunks=((40, 1, 49), 3)), da.from_array(y, chunks=30)
    )
    assert fitted.n_iter_ == reference.n_iter_ > 3
    flat, expected = pytree.ravel(fitted.params_)[0], pytree.ravel(reference.params_)[0]
    assert np.max(np.abs(flat - expected)) / np.max(np.abs(expected)) < 1e-6
    assert fitted.loss_ == pytest.approx(reference.loss_, rel=1e-10)


def reversed_rows(params, X, y):
    z = X @ params
    return np.mean(z[np.arange(len(z))[::-1], y])


def by_label(params, X, y):
    z = X @ params
    return np.mean(z[y, 0] ** 2)


def masked(params, X, y):
    z = X @ params
    return np.mean(z[y == 1, 0] ** 2)


def with_range(params, X, y):
    z = X @ params
    return np.mean(z[range(len(y)), y] ** 2)


def diagonal(params, X, y):
    z = X @ np.tile(params, (1, 20))  # as many columns as rows
    return np.mean(z[np.arange(len(z)), np.arange(len(z))])


def positions(params, X, y):
    z = X @ params
    return np.mean(z[:, 0] ** 2 * np.arange(len(z)))


@pytest.mark.parametrize(
    "loss, line, why",
    [
        (
            reversed_rows,
            "z[np.arange(len(z))[::-1], y]",
            "np.arange over the rows is used as a value",
        ),
        (by_label, "z[y, 0] ** 2", "rows are selected by index"),
        (masked, "z[y == 1, 0] ** 2", "rows are selected by index"),
        (with_range, "z[range(len(y)), y] ** 2", "write np.arange(len(y))"),
        (positions, "np.arange(len(z))", "np.arange over the rows is used as a value"),
        (
            diagonal,
            "z[np.arange(len(z)), np.arange(len(z))]",
            "indexes an axis other than the rows",
        ),
    ],
    ids=["permutation", "another-rows-value", "mask", "range", "position-as-value", "diagonal"],
)
def test_indexing_that_mixes_rows_is_refused_at_its_line(loss, line, why):
    X, y = _three_classes(6, rows=40)
    with pytest.raises(NotSeparable, match="chunk by chunk") as info:
        _classifier(loss, np.zeros((3, 3))).fit(
            da.from_array(X, chunks=(10, 3)), da.from_array(y, chunks=10)
        )
    message = str(info.value)
    assert line in message and why in message, message


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


def poisson_with_exposure(params, X, y, log_exposure, penalty):
    """Counts over exposures of different lengths: log E[y] = X @ w + log(exposure)."""
    eta = X @ params + log_exposure
    return np.mean(np.exp(eta) - y * eta) + np.sum(penalty * params**2)


def _exposure_data(seed=7, rows=120):
    rng = np.random.default_rng(seed)
    X = rng.normal(size=(rows, 3)) * 0.5
    log_exposure = np.log(rng.uniform(0.5, 5.0, size=rows))
    y = rng.poisson(np.exp(X @ np.array([0.5, -0.3, 0.2]) + log_exposure)).astype(float)
    return X, y, log_exposure


def _exposure_model(log_exposure):
    from skautodiff import AutodiffRegressor

    return AutodiffRegressor(
        loss=poisson_with_exposure,
        init_params=np.zeros(3),
        predict_fn=lambda p, X: np.exp(X @ p),
        # a per-feature array (3 entries, X has 120 rows) reaches every chunk whole
        loss_kwargs={"log_exposure": log_exposure, "penalty": np.array([0.01, 0.02, 0.0])},
    )


@pytest.mark.parametrize("form", ["numpy", "dask"])
def test_a_per_row_loss_kwarg_is_chunked_with_the_rows(form):
    X, y, log_exposure = _exposure_data()
    reference = _exposure_model(log_exposure).fit(X, y)
    # the dask offset chunked unlike X: it is rechunked to X's rows
    given = log_exposure if form == "numpy" else da.from_array(log_exposure, chunks=50)
    est = _exposure_model(given)
    fitted = est.fit(da.from_array(X, chunks=(35, 3)), da.from_array(y, chunks=35))
    np.testing.assert_allclose(fitted.params_, reference.params_, rtol=1e-6)
    assert fitted.loss_ == pytest.approx(reference.loss_, rel=1e-10)
    assert est.loss_kwargs["log_exposure"] is given  # the user's array, not replaced
    # broadcast whole instead of per chunk, the offset would not line up with the rows
    ignored = _exposure_model(np.zeros(120)).fit(X, y)
    assert np.max(np.abs(ignored.params_ - reference.params_)) > 0.05


def test_a_dask_loss_kwarg_that_is_not_per_row_is_refused():
    X, y, log_exposure = _exposure_data()
    est = _exposure_model(da.from_array(log_exposure[:100], chunks=50))
    with pytest.raises(ValueError, match="loss_kwargs\\['log_exposure'\\].*X has 120 rows"):
        est.fit(da.from_array(X, chunks=(40, 3)), da.from_array(y, chunks=40))


def chosen_columns(params, X, y):
    """Columns picked by an integer list: every row keeps its own entries."""
    return np.mean((X[:, [0, 2]] @ params - y) ** 2)


def test_columns_picked_by_integer_arrays_fit_as_in_memory():
    from skautodiff import AutodiffRegressor

    rng = np.random.default_rng(8)
    X = rng.normal(size=(60, 3))
    y = X[:, [0, 2]] @ np.array([1.5, -0.5]) + 0.1 * rng.normal(size=60)

    def make():
        return AutodiffRegressor(
            loss=chosen_columns, init_params=np.zeros(2), predict_fn=lambda p, X: X[:, [0, 2]] @ p
        )

    reference = make().fit(X, y)
    fitted = make().fit(da.from_array(X, chunks=(25, 3)), da.from_array(y, chunks=25))
    np.testing.assert_allclose(fitted.params_, reference.params_, rtol=1e-6)
    # the least-squares solution, independently
    np.testing.assert_allclose(
        fitted.params_, np.linalg.lstsq(X[:, [0, 2]], y, rcond=None)[0], rtol=1e-5
    )


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


def nested_exposure(params, X, y, extra):
    return poisson_with_exposure(params, X, y, extra["log_exposure"], extra["penalty"])


def test_a_per_row_array_nested_in_a_loss_kwarg_is_refused_not_broadcast():
    # Only a keyword argument's own array is chunked with X's rows: one inside a dict would reach
    # every chunk whole, and with one-row chunks broadcast silently to a wrong fit.
    from skautodiff import AutodiffRegressor

    X, y, log_exposure = _exposure_data(rows=6)
    est = AutodiffRegressor(
        loss=nested_exposure,
        init_params=np.zeros(3),
        predict_fn=lambda p, X: np.exp(X @ p),
        loss_kwargs={"extra": {"log_exposure": log_exposure, "penalty": np.zeros(3)}},
    )
    in_memory = est.fit(X, y).params_  # in memory the dict is the loss's as given: no refusal
    assert np.all(np.isfinite(in_memory))
    with pytest.raises(ValueError, match=r"extra\['log_exposure'\] has one entry per row of X"):
        est.fit(da.from_array(X, chunks=(1, 3)), da.from_array(y, chunks=1))
