"""AutodiffRegressor / AutodiffClassifier as a user meets them: both forms, fitting options,
fitted attributes, validation, pickling, grid search, and how often they compile.

Numbers are checked against independent references: scikit-learn's estimators on the same
objective, scipy's nnls, or the closed form.
"""

import pickle
import re

import numpy as np
import pytest
from sklearn.base import clone
from sklearn.datasets import make_classification, make_regression
from sklearn.exceptions import ConvergenceWarning
from sklearn.linear_model import LogisticRegression as SkLogisticRegression
from sklearn.linear_model import Ridge as SkRidge
from sklearn.model_selection import GridSearchCV, KFold, cross_val_score
from sklearn.pipeline import make_pipeline
from sklearn.preprocessing import StandardScaler
from scipy.optimize import nnls

import skautodiff
from skautodiff.estimators import AutodiffClassifier, AutodiffRegressor


# ---------------------------------------------------------------- user code (module level: picklable)


def ridge_loss(params, X, y, alpha=0.0, sample_weight=None):
    residual = X @ params["w"] + params["b"] - y
    if sample_weight is None:
        data = np.mean(residual**2)
    else:
        data = np.sum(sample_weight * residual**2) / np.sum(sample_weight)
    return data + alpha * np.sum(params["w"] ** 2)


def unweighted_loss(params, X, y):
    return np.mean((X @ params["w"] + params["b"] - y) ** 2)


def linear_init(X, y, rng):
    return {"w": np.zeros(X.shape[1]), "b": 0.0}


def linear_predict(params, X):
    return X @ params["w"] + params["b"]


def logistic_sign(params, X, y):
    return np.mean(np.logaddexp(0, -y * linear_predict(params, X)))


def logistic_index(params, X, y):
    z = linear_predict(params, X)
    return np.mean(np.logaddexp(0, z) - y * z)


def logistic_onehot(params, X, y):
    z = linear_predict(params, X)
    return np.mean(np.logaddexp(0, z) - y[:, 1] * z)


def positive_class_proba(params, X):
    return 1 / (1 + np.exp(-linear_predict(params, X)))


def ridge(**kwargs):
    return AutodiffRegressor(
        **{"loss": ridge_loss, "init_params": linear_init, "predict_fn": linear_predict, **kwargs}
    )


def sklearn_ridge(X, y, alpha, sample_weight=None):
    """scikit-learn's Ridge on ridge_loss's objective: sum r^2 + alpha n ||w||^2 is n times it."""
    n = len(X) if sample_weight is None else np.sum(sample_weight)
    return SkRidge(alpha=alpha * n).fit(X, y, sample_weight=sample_weight)


@pytest.fixture(scope="module")
def regression():
    X, y = make_regression(n_samples=40, n_features=3, noise=1.0, random_state=0)
    return X, y / 50


@pytest.fixture(scope="module")
def classification():
    return make_classification(n_samples=60, n_features=4, random_state=0)


def assert_params_close(params, reference, rtol=1e-5):
    np.testing.assert_allclose(params["w"], reference.coef_, rtol=rtol, atol=1e-7)
    np.testing.assert_allclose(params["b"], reference.intercept_, rtol=rtol, atol=1e-7)


# ---------------------------------------------------------------- the functional form


def test_functional_regressor_matches_sklearn_ridge(regression):
    X, y = regression
    est = ridge(loss_kwargs={"alpha": 0.1}, tol=1e-12).fit(X, y)
    reference = sklearn_ridge(X, y, 0.1)
    assert_params_close(est.params_, reference)
    np.testing.assert_allclose(est.predict(X), reference.predict(X), rtol=1e-5)
    assert est.score(X, y) == pytest.approx(reference.score(X, y), rel=1e-6)
    assert est.n_features_in_ == 3


def test_fitted_attributes(regression):
    X, y = regression
    est = ridge(loss_kwargs={"alpha": 0.1}, tol=1e-12).fit(X, y)
    assert est.converged_
    assert est.n_iter_ == len(est.loss_curve_) > 0
    # loss_ is the objective at params_, as the plain numpy loss computes it.
    assert est.loss_ == pytest.approx(ridge_loss(est.params_, X, y, alpha=0.1), rel=1e-10)
    assert est.loss_curve_[-1] == pytest.approx(est.loss_, rel=1e-8)
    assert np.all(np.diff(est.loss_curve_) <= 1e-12)  # L-BFGS never goes uphill


def test_convergence_warning_at_max_iter(regression):
    X, y = regression
    with pytest.warns(ConvergenceWarning, match="did not converge"):
        est = ridge(max_iter=1).fit(X, y)
    assert not est.converged_
    assert est.n_iter_ == 1


def test_verbose_prints_a_line_per_iteration(regression, capsys):
    X, y = regression
    est = ridge(verbose=1).fit(X, y)
    lines = [line for line in capsys.readouterr().out.splitlines() if line.startswith("Iteration")]
    assert len(lines) == est.n_iter_
    assert re.match(
        r"Iteration +1, loss = [-+.\deE]+, gradient norm = [-+.\deE]+, elapsed = [.\d]+ s", lines[0]
    )
    # The curve is the objective at each iterate; its end is the numpy loss at params_.
    assert len(est.loss_curve_) == est.n_iter_
    assert est.loss_curve_[-1] == pytest.approx(
        est.loss(est.params_, X, y, **(est.loss_kwargs or {})), rel=1e-10
    )
    final_norm = float(lines[-1].split("gradient norm = ")[1].split(",")[0])
    assert final_norm < 1e-3


def test_verbose_says_what_is_compiled(regression, capsys):
    X, y = regression

    def fresh_loss(params, X, y):  # a new code object: traced and compiled in this test
        return np.mean((X @ params["w"] + params["b"] - y) ** 2)

    AutodiffRegressor(
        loss=fresh_loss, init_params=linear_init, predict_fn=linear_predict, verbose=1
    ).fit(X, y)
    out = capsys.readouterr().out
    assert "skautodiff: traced" in out and "fresh_loss" in out
    assert "skautodiff: compiling value and grad of" in out and "fresh_loss" in out


def test_sparse_X_fits_like_dense(regression):
    import scipy.sparse as sp

    X, y = regression
    dense = ridge().fit(X, y)
    sparse = ridge().fit(sp.csr_matrix(X), y)
    np.testing.assert_allclose(sparse.params_["w"], dense.params_["w"], rtol=1e-6, atol=1e-8)
    np.testing.assert_allclose(sparse.predict(sp.csr_matrix(X)), dense.predict(X), rtol=1e-6)


def test_fitted_estimator_shows_its_formulas(regression):
    X, y = regression
    est = ridge().fit(X, y)
    assert "f =" in str(est.formula()) and "w" in str(est.formula())
    assert "w" in str(est.formula("predict"))


def test_init_params_as_a_pytree_and_random_state(regression):
    X, y = regression
    fixed = ridge(init_params={"w": np.zeros(3), "b": 0.0}).fit(X, y)
    called = ridge().fit(X, y)
    np.testing.assert_allclose(fixed.params_["w"], called.params_["w"])

    def random_init(X, y, rng):
        return {"w": rng.normal(size=X.shape[1]), "b": 0.0}

    first = ridge(init_params=random_init, random_state=3, max_iter=1)
    with pytest.warns(ConvergenceWarning):
        a = clone(first).fit(X, y).params_["w"]
        b = clone(first).fit(X, y).params_["w"]
        c = clone(first).set_params(random_state=4).fit(X, y).params_["w"]
    np.testing.assert_array_equal(a, b)
    assert not np.allclose(a, c)


def test_warm_start_continues_from_params(regression):
    X, y = regression
    est = ridge(warm_start=True, tol=1e-12).fit(X, y)
    first = est.n_iter_
    est.fit(X, y)
    assert est.n_iter_ < first


def test_warm_start_refuses_other_classes_as_scikit_learn_mlp_does(classification):
    """params_ fitted for classes [0 1] would be continued for ['a' 'b'] (or for fewer or more
    classes: outputs fitted to a class that no longer exists); scikit-learn's MLPClassifier
    refuses with this message, and so does a warm-started classifier now."""
    from sklearn.neural_network import MLPClassifier

    X, y = classification
    clf = AutodiffClassifier(
        loss=logistic_index, init_params=linear_init, decision_fn=linear_predict, warm_start=True
    ).fit(X, y)
    mlp = MLPClassifier(hidden_layer_sizes=(2,), max_iter=5, warm_start=True).fit(X, y)
    relabelled = np.where(y == 1, "b", "a")
    with pytest.raises(ValueError, match="warm_start can only be used where `y` has the same"):
        mlp.fit(X, relabelled)
    with pytest.raises(ValueError, match="warm_start can only be used where `y` has the same"):
        clf.fit(X, relabelled)
    clf.fit(X, y)  # the same classes continue
    np.testing.assert_array_equal(clf.classes_, [0, 1])


def test_loss_kwargs_entries_are_parameters(regression):
    X, y = regression
    est = ridge(loss_kwargs={"alpha": 0.1})
    est.set_params(loss_kwargs__alpha=10.0)
    assert est.loss_kwargs == {"alpha": 10.0}
    est.fit(X, y)
    assert_params_close(est.params_, sklearn_ridge(X, y, 10.0), rtol=1e-4)


def test_sample_weight_reaches_the_loss(regression):
    X, y = regression
    weights = np.arange(len(X)) % 3  # 0, 1, 2: also drops a third of the rows
    est = ridge(tol=1e-12).fit(X, y, sample_weight=weights)
    assert_params_close(est.params_, sklearn_ridge(X, y, 0.0, sample_weight=weights))


def test_sample_weight_needs_a_loss_that_accepts_it(regression):
    X, y = regression
    est = AutodiffRegressor(
        loss=unweighted_loss, init_params=linear_init, predict_fn=linear_predict
    )
    with pytest.raises(TypeError, match="unweighted_loss.. has no `sample_weight` parameter"):
        est.fit(X, y, sample_weight=np.ones(len(X)))


def test_bounds_give_non_negative_least_squares(regression):
    X, y = regression
    y = y - 3 * X[:, 1]  # makes the unconstrained w[1] negative
    est = ridge(bounds={"w": (0, None)}, tol=1e-12).fit(X, y)
    # nnls has no intercept: give it a column of ones and its negation (a free intercept).
    design = np.column_stack([X, np.ones(len(X)), -np.ones(len(X))])
    solution, _ = nnls(design, y)
    np.testing.assert_allclose(est.params_["w"], solution[:3], atol=1e-6)
    np.testing.assert_allclose(est.params_["b"], solution[3] - solution[4], atol=1e-6)
    assert est.params_["w"][1] == 0


def test_bounds_name_unknown_parameters(regression):
    X, y = regression
    with pytest.raises(ValueError, match="unknown parameters: v"):
        ridge(bounds={"v": (0, None)}).fit(X, y)


@pytest.mark.parametrize("optimizer", ["BFGS", "Newton-CG", "trust-ncg"])
def test_other_optimizers_reach_the_same_minimum(regression, optimizer):
    X, y = regression
    est = ridge(loss_kwargs={"alpha": 0.1}, optimizer=optimizer, tol=1e-10).fit(X, y)
    assert_params_close(est.params_, sklearn_ridge(X, y, 0.1), rtol=1e-4)


# ---------------------------------------------------------------- validation


def test_float32_data_fits_in_float32(regression):
    X, y = regression
    est = ridge(loss_kwargs={"alpha": 0.1}).fit(X.astype(np.float32), y.astype(np.float32))
    assert est.params_["w"].dtype == np.float32
    assert (
        type(est.params_["b"]) is float
    )  # init_params gave a Python float (tests/test_targets.py)
    assert est.predict(X.astype(np.float32)).dtype == np.float32
    np.testing.assert_allclose(est.params_["w"], sklearn_ridge(X, y, 0.1).coef_, rtol=1e-3)


def test_integer_data_fits_in_float64(regression):
    X, y = regression
    est = ridge().fit(np.round(X * 10).astype(int), y)
    assert est.params_["w"].dtype == np.float64


def test_nan_rejected_with_sklearn_message(regression):
    X, y = regression
    X = X.copy()
    X[0, 0] = np.nan
    with pytest.raises(ValueError, match="Input X contains NaN"):
        ridge().fit(X, y)


def test_predict_checks_the_number_of_features(regression):
    X, y = regression
    est = ridge().fit(X, y)
    with pytest.raises(ValueError, match="features"):
        est.predict(X[:, :2])


def test_a_loss_that_is_not_scalar_is_explained(regression):
    X, y = regression

    def per_sample_loss(params, X, y):
        return (X @ params["w"] + params["b"] - y) ** 2

    est = AutodiffRegressor(
        loss=per_sample_loss, init_params=linear_init, predict_fn=linear_predict
    )
    with pytest.raises(
        ValueError, match=r"real scalar; per_sample_loss\(\) returned ndarray of shape \(40,\)"
    ):
        est.fit(X, y)


def test_missing_function_is_explained(regression):
    X, y = regression
    with pytest.raises(TypeError, match="needs `loss`"):
        AutodiffRegressor(init_params=linear_init, predict_fn=linear_predict).fit(X, y)


# ---------------------------------------------------------------- classifiers


@pytest.mark.parametrize(
    "encoding, loss",
    [
        ("sign", logistic_sign),
        ("index", logistic_index),
        ("onehot", logistic_onehot),
    ],
)
def test_target_encodings_give_the_same_logistic_regression(classification, encoding, loss):
    X, y = classification
    labels = np.array(["no", "yes"])[y]
    est = AutodiffClassifier(
        loss=loss,
        init_params=linear_init,
        decision_fn=linear_predict,
        proba_fn=positive_class_proba,
        target_encoding=encoding,
        tol=1e-12,
    )
    est.fit(X, labels)
    reference = SkLogisticRegression(C=np.inf, tol=1e-12, max_iter=10000).fit(X, labels)
    np.testing.assert_allclose(est.params_["w"], reference.coef_[0], rtol=1e-4)
    np.testing.assert_array_equal(est.classes_, ["no", "yes"])
    np.testing.assert_array_equal(est.predict(X), reference.predict(X))
    np.testing.assert_allclose(est.predict_proba(X), reference.predict_proba(X), rtol=1e-4)
    np.testing.assert_allclose(est.predict_log_proba(X), np.log(est.predict_proba(X)))
    np.testing.assert_allclose(est.decision_function(X), reference.decision_function(X), rtol=1e-4)


def test_prediction_methods_follow_the_functions_given(classification):
    X, y = classification
    with_proba = AutodiffClassifier(
        loss=logistic_index, init_params=linear_init, proba_fn=positive_class_proba
    ).fit(X, y)
    assert not hasattr(with_proba, "decision_function")
    assert with_proba.score(X, y) > 0.8
    with_decision = AutodiffClassifier(
        loss=logistic_index, init_params=linear_init, decision_fn=linear_predict
    ).fit(X, y)
    assert not hasattr(with_decision, "predict_proba")
    np.testing.assert_array_equal(with_decision.predict(X), with_proba.predict(X))


def test_sign_encoding_needs_two_classes(classification):
    X, y = classification
    est = AutodiffClassifier(
        loss=logistic_sign,
        init_params=linear_init,
        decision_fn=linear_predict,
        target_encoding="sign",
    )
    with pytest.raises(ValueError, match="exactly 2 classes"):
        est.fit(X, np.arange(len(X)) % 3)


def test_regression_targets_are_rejected_by_classifiers(classification):
    X, _ = classification
    est = AutodiffClassifier(
        loss=logistic_index, init_params=linear_init, decision_fn=linear_predict
    )
    with pytest.raises(ValueError, match="Unknown label type"):
        est.fit(X, np.linspace(0, 1, len(X)))


# ---------------------------------------------------------------- the subclass form


class PenalisedLeastSquares(AutodiffRegressor):
    """A user's subclass: exposes alpha and max_iter only."""

    def __init__(self, alpha=0.1, max_iter=500):
        self.alpha = alpha
        self.max_iter = max_iter

    def init_params(self, X, y, rng):
        return {"w": np.zeros(X.shape[1]), "b": 0.0}

    def loss(self, params, X, y):
        return np.mean((self.predict_fn(params, X) - y) ** 2) + self.alpha * np.sum(
            params["w"] ** 2
        )

    def predict_fn(self, params, X):
        return X @ params["w"] + params["b"]


class CallsSuperInit(PenalisedLeastSquares):
    """A subclass that does call super().__init__ (with the functions left at None)."""

    def __init__(self, alpha=0.1, tol=1e-12):
        super(PenalisedLeastSquares, self).__init__(tol=tol)
        self.alpha = alpha


def test_subclass_parameters_are_its_signature():
    est = PenalisedLeastSquares(alpha=0.5)
    assert est.get_params() == {"alpha": 0.5, "max_iter": 500}
    assert est.optimizer == "L-BFGS-B" and est.tol is None and est.verbose == 0
    assert clone(est).get_params() == est.get_params()
    assert repr(est) == "PenalisedLeastSquares(alpha=0.5)"


@pytest.mark.parametrize("cls", [PenalisedLeastSquares, CallsSuperInit])
def test_subclass_fits_like_the_functional_form(regression, cls):
    X, y = regression
    est = cls(alpha=0.2).set_params(alpha=0.1).fit(X, y)
    assert_params_close(est.params_, sklearn_ridge(X, y, 0.1), rtol=1e-4)


# ---------------------------------------------------------------- compiling once


def test_hyperparameter_search_compiles_once():
    # A loss defined here is new to the process-wide cache.
    def fresh_loss(params, X, y, alpha=0.0):
        return np.mean((X @ params["w"] + params["b"] - y) ** 2) + alpha * np.sum(params["w"] ** 2)

    X, y = make_regression(n_samples=53, n_features=3, noise=1.0, random_state=1)  # unequal folds
    est = AutodiffRegressor(
        loss=fresh_loss,
        init_params=linear_init,
        predict_fn=linear_predict,
        loss_kwargs={"alpha": 0.0},
    )
    before = skautodiff.cache_info()
    search = GridSearchCV(est, {"loss_kwargs__alpha": np.logspace(-3, 1, 10)}, cv=KFold(5)).fit(
        X, y
    )
    cross_val_score(search.best_estimator_, X, y, cv=KFold(4))
    after = skautodiff.cache_info()
    assert after.compiles - before.compiles == 1
    assert after.traces - before.traces == 1
    # And the search is right: each candidate equals scikit-learn's Ridge on its objective.
    best_alpha = search.best_params_["loss_kwargs__alpha"]
    assert_params_close(search.best_estimator_.params_, sklearn_ridge(X, y, best_alpha), rtol=1e-4)


def test_subclass_hyperparameter_search_compiles_once(regression):
    class FreshSubclass(PenalisedLeastSquares):
        tol = 1e-12  # a common parameter the subclass fixes without exposing it

        def loss(self, params, X, y):
            return np.mean((self.predict_fn(params, X) - y) ** 2) + self.alpha * np.sum(
                params["w"] ** 2
            )

    X, y = regression
    before = skautodiff.cache_info()
    search = GridSearchCV(FreshSubclass(), {"alpha": [0.01, 0.1, 1.0]}, cv=3).fit(X, y)
    assert skautodiff.cache_info().compiles - before.compiles == 1
    # Each alpha is the value the loss read, not the one it was first compiled with.
    for alpha in [0.01, 1.0]:
        fitted = clone(search.best_estimator_).set_params(alpha=alpha).fit(X, y)
        assert_params_close(fitted.params_, sklearn_ridge(X, y, alpha), rtol=1e-4)


def test_prediction_does_not_compile(regression):
    X, y = regression
    est = ridge().fit(X, y)
    before = skautodiff.cache_info()
    est.predict(X)
    est.score(X, y)
    assert skautodiff.cache_info() == before


# ---------------------------------------------------------------- pickling and parallel search


def test_fitted_estimator_pickles_without_compiled_objects(regression):
    X, y = regression
    est = ridge(loss_kwargs={"alpha": 0.1}).fit(X, y)
    data = pickle.dumps(est)
    assert b"pytensor" not in data
    loaded = pickle.loads(data)
    np.testing.assert_array_equal(loaded.predict(X), est.predict(X))
    loaded.fit(X, y)  # compiles again (or reuses the cache) on first use
    np.testing.assert_allclose(loaded.params_["w"], est.params_["w"])


def test_lambdas_pickle_with_cloudpickle(regression):
    cloudpickle = pytest.importorskip("cloudpickle")
    X, y = regression
    est = AutodiffRegressor(
        loss=lambda p, X, y: np.mean((X @ p["w"] + p["b"] - y) ** 2),
        init_params={"w": np.zeros(3), "b": 0.0},
        predict_fn=lambda p, X: X @ p["w"] + p["b"],
    ).fit(X, y)
    loaded = cloudpickle.loads(cloudpickle.dumps(est))
    np.testing.assert_array_equal(loaded.predict(X), est.predict(X))


@pytest.mark.slow
def test_parallel_grid_search_in_a_pipeline(regression):
    X, y = regression
    pipeline = make_pipeline(StandardScaler(), ridge(loss_kwargs={"alpha": 0.0}))
    grid = {"autodiffregressor__loss_kwargs__alpha": [0.01, 1.0]}
    parallel = GridSearchCV(pipeline, grid, cv=3, n_jobs=2).fit(X, y)
    serial = GridSearchCV(pipeline, grid, cv=3).fit(X, y)
    np.testing.assert_allclose(
        parallel.cv_results_["mean_test_score"], serial.cv_results_["mean_test_score"], rtol=1e-6
    )
