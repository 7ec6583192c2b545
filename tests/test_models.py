"""The shipped models against scikit-learn's estimators on the same objectives."""

import numpy as np
import pytest
from scipy.optimize import approx_fprime
from sklearn import linear_model, neural_network
from sklearn.datasets import load_breast_cancer, load_diabetes, load_digits, load_iris
from sklearn.model_selection import train_test_split
from sklearn.preprocessing import StandardScaler

from skautodiff import models


def scaled(loader):
    X, y = loader(return_X_y=True)
    return StandardScaler().fit_transform(X), y


@pytest.fixture(scope="module")
def cancer():
    return scaled(load_breast_cancer)


@pytest.fixture(scope="module")
def iris():
    return scaled(load_iris)


@pytest.fixture(scope="module")
def diabetes():
    X, y = scaled(load_diabetes)
    return X, (y - y.mean()) / y.std()


def relative_error(actual, desired):
    return np.max(np.abs(actual - desired)) / np.max(np.abs(desired))


# ---------------------------------------------------------------- logistic regression


@pytest.mark.parametrize("C", [0.1, 1.0])
def test_binary_logistic_regression_equals_sklearn(cancer, C):
    X, y = cancer
    ours = models.LogisticRegression(C=C, tol=1e-14).fit(X, y)
    theirs = linear_model.LogisticRegression(C=C, solver="lbfgs", tol=1e-12, max_iter=10000).fit(
        X, y
    )
    assert ours.coef_.shape == theirs.coef_[0].shape
    assert relative_error(ours.coef_, theirs.coef_[0]) < 1e-5
    assert relative_error(ours.intercept_, theirs.intercept_) < 1e-5
    np.testing.assert_allclose(ours.predict_proba(X), theirs.predict_proba(X), atol=1e-6)
    assert relative_error(ours.decision_function(X), theirs.decision_function(X)) < 1e-5


def test_multinomial_logistic_regression_equals_sklearn(iris):
    X, y = iris
    ours = models.LogisticRegression(C=1.0, tol=1e-12).fit(X, y)
    theirs = linear_model.LogisticRegression(C=1.0, solver="lbfgs", tol=1e-12, max_iter=10000).fit(
        X, y
    )
    assert relative_error(ours.coef_, theirs.coef_) < 1e-5
    # The softmax's intercepts are defined up to a common shift; both fits keep their sum at 0.
    assert relative_error(ours.intercept_, theirs.intercept_) < 1e-5
    np.testing.assert_allclose(ours.predict_proba(X), theirs.predict_proba(X), atol=1e-5)
    assert ours.score(X, y) == theirs.score(X, y)


def test_logistic_regression_with_weights_and_no_intercept(iris):
    X, y = iris
    weights = 1 + np.arange(len(X)) % 4
    ours = models.LogisticRegression(C=0.5, fit_intercept=False, tol=1e-12).fit(
        X, y, sample_weight=weights
    )
    theirs = linear_model.LogisticRegression(C=0.5, fit_intercept=False, tol=1e-12, max_iter=10000)
    theirs.fit(X, y, sample_weight=weights)
    assert "b" not in ours.params_
    assert relative_error(ours.coef_, theirs.coef_) < 1e-5


# ---------------------------------------------------------------- regressors


def test_ridge_equals_sklearn(diabetes):
    X, y = diabetes
    ours = models.Ridge(alpha=3.0, tol=1e-12).fit(X, y)
    theirs = linear_model.Ridge(alpha=3.0).fit(X, y)
    assert relative_error(ours.coef_, theirs.coef_) < 1e-6
    assert ours.intercept_ == pytest.approx(theirs.intercept_, abs=1e-7)


def test_poisson_regressor_equals_sklearn():
    rng = np.random.default_rng(0)
    X = rng.normal(size=(200, 4))
    y = rng.poisson(np.exp(X @ [0.3, -0.2, 0.1, 0.0] + 0.5))
    ours = models.PoissonRegressor(alpha=0.1, tol=1e-12).fit(X, y)
    theirs = linear_model.PoissonRegressor(alpha=0.1, tol=1e-12, max_iter=10000).fit(X, y)
    assert relative_error(ours.coef_, theirs.coef_) < 1e-5
    assert ours.intercept_ == pytest.approx(theirs.intercept_, rel=1e-6)
    np.testing.assert_allclose(ours.predict(X), theirs.predict(X), rtol=1e-6)
    with pytest.raises(ValueError, match="non-negative"):
        models.PoissonRegressor().fit(X, -y)


def test_huber_regressor_equals_sklearn(diabetes):
    X, y = diabetes
    y = y.copy()
    y[:20] += 8  # outliers
    ours = models.HuberRegressor(epsilon=1.35, alpha=1e-3, tol=1e-12).fit(X, y)
    theirs = linear_model.HuberRegressor(epsilon=1.35, alpha=1e-3, tol=1e-12, max_iter=10000).fit(
        X, y
    )
    assert relative_error(ours.coef_, theirs.coef_) < 1e-4
    assert ours.intercept_ == pytest.approx(theirs.intercept_, abs=1e-5)
    assert ours.scale_ == pytest.approx(theirs.scale_, rel=1e-4)


# ---------------------------------------------------------------- neural networks


def sklearn_mlp_params(mlp):
    return {"weights": list(mlp.coefs_), "biases": list(mlp.intercepts_)}


@pytest.mark.parametrize("activation", ["tanh", "relu"])
def test_mlp_classifier_objective_is_sklearns(iris, activation):
    # At scikit-learn's fitted weights our loss equals its final loss_, and is close to minimal.
    X, y = iris
    theirs = neural_network.MLPClassifier(
        hidden_layer_sizes=(6,),
        activation=activation,
        solver="lbfgs",
        alpha=0.01,
        max_iter=2000,
        tol=1e-10,
        random_state=0,
    ).fit(X, y)
    ours = models.MLPClassifier((6,), activation=activation, alpha=0.01)
    onehot = np.eye(3)[y]
    assert ours.loss(sklearn_mlp_params(theirs), X, onehot) == pytest.approx(theirs.loss_, rel=1e-6)


def test_mlp_regressor_objective_is_sklearns(diabetes):
    X, y = diabetes
    theirs = neural_network.MLPRegressor(
        hidden_layer_sizes=(4,),
        activation="tanh",
        solver="lbfgs",
        alpha=0.1,
        max_iter=300,
        random_state=0,
    ).fit(X, y)
    ours = models.MLPRegressor((4,), activation="tanh", alpha=0.1)
    params = sklearn_mlp_params(theirs)
    params["weights"][-1] = params["weights"][-1][:, 0]  # one output: our last layer is a vector
    params["biases"][-1] = params["biases"][-1][0]
    assert ours.loss(params, X, y) == pytest.approx(theirs.loss_, rel=1e-6)


@pytest.mark.slow
def test_mlp_classifier_on_digits_scores_like_sklearn():
    X, y = load_digits(return_X_y=True)
    X_train, X_test, y_train, y_test = train_test_split(X / 16, y, test_size=0.3, random_state=0)
    settings = dict(
        hidden_layer_sizes=(32,), activation="tanh", alpha=1e-3, max_iter=200, random_state=0
    )
    ours = models.MLPClassifier(**settings).fit(X_train, y_train)
    theirs = neural_network.MLPClassifier(solver="lbfgs", **settings).fit(X_train, y_train)
    assert ours.score(X_test, y_test) > 0.9
    assert ours.score(X_test, y_test) >= theirs.score(X_test, y_test) - 0.03


def test_mlp_regressor_fits_a_curve():
    rng = np.random.default_rng(0)
    X = rng.uniform(-2, 2, size=(150, 1))
    y = np.sin(2 * X[:, 0]) + 0.05 * rng.normal(size=150)
    ours = models.MLPRegressor((10,), activation="tanh", alpha=1e-4, max_iter=500, random_state=0)
    assert ours.fit(X, y).score(X, y) > 0.98
    two_outputs = np.column_stack([y, -y])
    ours.fit(X, two_outputs)
    assert ours.predict(X).shape == (150, 2)
    assert ours.score(X, two_outputs) > 0.98


# ---------------------------------------------------------------- ordinal regression


def test_ordinal_regression_with_two_classes_is_logistic_regression(cancer):
    X, y = cancer
    C = 0.5
    ours = models.OrdinalLogisticRegression(alpha=1 / (C * len(X)), tol=1e-12).fit(X, y)
    theirs = linear_model.LogisticRegression(C=C, tol=1e-12, max_iter=10000).fit(X, y)
    # P(y <= 0) = sigmoid(t0 - Xw), so P(y = 1) = sigmoid(Xw - t0): coef equal, intercept -t0.
    assert relative_error(ours.coef_, theirs.coef_[0]) < 1e-5
    assert -ours.thresholds_[0] == pytest.approx(theirs.intercept_[0], rel=1e-5)
    np.testing.assert_allclose(ours.predict_proba(X), theirs.predict_proba(X), atol=1e-5)


def test_ordinal_regression_reaches_a_stationary_point():
    rng = np.random.default_rng(0)
    X = rng.normal(size=(120, 2))
    latent = X @ [1.5, -1.0] + rng.logistic(size=120)
    y = np.digitize(latent, [-1.0, 0.5, 2.0])  # four ordered classes
    est = models.OrdinalLogisticRegression(alpha=0.01, tol=1e-12).fit(X, y)
    thresholds = est.thresholds_
    assert np.all(np.diff(thresholds) > 0)
    proba = est.predict_proba(X)
    np.testing.assert_allclose(proba.sum(axis=1), 1)
    assert np.all(proba >= 0)
    # Finite differences of the plain numpy loss vanish at the fitted parameters.
    onehot = np.eye(4)[y]
    w, cuts = est.params_["w"], est.params_["cuts"]

    def flat_loss(v):
        return est.loss({"w": v[:2], "cuts": v[2:]}, X, onehot)

    gradient = approx_fprime(np.concatenate([w, cuts]), flat_loss, 1e-7)
    assert np.max(np.abs(gradient)) < 1e-5
    assert np.mean(est.predict(X) == y) > 0.5
