"""Minibatch training (optimizer="adam" / "sgd"): the compiled steps against hand-written numpy
updates on hand-derived gradients, and the epoch loop against scikit-learn's MLP (same seeds, same
draws: the same trajectory to round-off)."""

import inspect
import threading
import warnings

import numpy as np
import pytest
from sklearn.datasets import make_classification
from sklearn.exceptions import ConvergenceWarning
from sklearn.neural_network import MLPClassifier as SklearnMLPClassifier
from sklearn.neural_network import MLPRegressor as SklearnMLPRegressor

import skautodiff
from skautodiff import models
from skautodiff.estimators import AutodiffClassifier, AutodiffRegressor
from skautodiff.stochastic import Stepper


def squared_error(params, X, y, sample_weight=None):
    residual = X @ params["w"] + params["b"] - y
    if sample_weight is None:
        return np.mean(residual**2)
    return np.sum(sample_weight * residual**2) / np.sum(sample_weight)


def squared_error_gradient(w, b, X, y):
    """Hand-derived: d/dw mean((Xw + b - y)^2) = 2 X^T r / n, d/db = 2 mean(r)."""
    residual = X @ w + b - y
    return 2 * X.T @ residual / len(y), 2 * np.mean(residual)


def linear_init(X, y, rng):
    return {"w": rng.normal(size=X.shape[1]), "b": 0.0}


def linear_predict(params, X):
    return X @ params["w"] + params["b"]


def regression_data(rows=64, features=4, seed=0):
    rng = np.random.default_rng(seed)
    X = rng.normal(size=(rows, features))
    return X, X @ np.arange(1.0, features + 1) + 0.5 + 0.1 * rng.normal(size=rows)


def numpy_adam(params, grads, m, v, t, lr, beta_1=0.9, beta_2=0.999, epsilon=1e-8):
    """Kingma & Ba's Adam with scikit-learn's form of the bias correction (on the rate)."""
    t += 1
    m = [beta_1 * mi + (1 - beta_1) * g for mi, g in zip(m, grads)]
    v = [beta_2 * vi + (1 - beta_2) * g * g for vi, g in zip(v, grads)]
    rate = lr * np.sqrt(1 - beta_2**t) / (1 - beta_1**t)
    return [p - rate * mi / (np.sqrt(vi) + epsilon) for p, mi, vi in zip(params, m, v)], m, v, t


def numpy_sgd(params, grads, velocity, lr, momentum, nesterov):
    velocity = [momentum * vel - lr * g for vel, g in zip(velocity, grads)]
    steps = [momentum * vel - lr * g for vel, g in zip(velocity, grads)] if nesterov else velocity
    return [p + s for p, s in zip(params, steps)], velocity


def test_adam_steps_match_numpy():
    X, y = regression_data()
    w, b = np.full(4, 0.3), 0.1
    stepper = Stepper(
        squared_error, {"w": w.copy(), "b": np.float64(b)}, {}, "adam", [0.05, 0.9, 0.999, 1e-8]
    )
    params, m, v, t = [w, b], [0 * w, 0.0], [0 * w, 0.0], 0
    for start in (0, 16, 32, 48, 0):  # batches of 16, then a repeated one
        rows = slice(start, start + 16)
        loss = stepper.step(X[rows], y[rows], None)
        assert loss == pytest.approx(
            np.mean((X[rows] @ params[0] + params[1] - y[rows]) ** 2), rel=1e-12
        )
        params, m, v, t = numpy_adam(
            params, squared_error_gradient(*params, X[rows], y[rows]), m, v, t, 0.05
        )
        got = stepper.params()
        np.testing.assert_allclose(got["w"], params[0], rtol=1e-12)
        np.testing.assert_allclose(got["b"], params[1], rtol=1e-12)
    slots = stepper.slots()
    np.testing.assert_allclose(slots[0], m[0], rtol=1e-12)
    np.testing.assert_allclose(slots[3], v[1], rtol=1e-12)
    assert slots[4] == t == 5


@pytest.mark.parametrize("nesterov", [False, True])
def test_sgd_steps_match_numpy(nesterov):
    X, y = regression_data()
    w, b = np.full(4, -0.2), 0.0
    stepper = Stepper(
        squared_error,
        {"w": w.copy(), "b": np.float64(b)},
        {},
        "nesterov" if nesterov else "sgd",
        [0.01, 0.8],
    )
    params, velocity = [w, b], [0 * w, 0.0]
    for start in (0, 16, 32, 48):
        rows = slice(start, start + 16)
        stepper.step(X[rows], y[rows], None)
        params, velocity = numpy_sgd(
            params, squared_error_gradient(*params, X[rows], y[rows]), velocity, 0.01, 0.8, nesterov
        )
    got = stepper.params()
    np.testing.assert_allclose(got["w"], params[0], rtol=1e-12)
    np.testing.assert_allclose(got["b"], params[1], rtol=1e-12)


def test_bounds_project_each_step():
    """Projected Adam: each updated parameter is clipped to its bounds (b held in [0, 0.3])."""
    X, y = regression_data()
    bounds = {"w": (None, 2.5), "b": (0.0, 0.3)}
    stepper = Stepper(
        squared_error,
        {"w": np.zeros(4), "b": np.float64(0)},
        {},
        "adam",
        [0.2, 0.9, 0.999, 1e-8],
        bounds=bounds,
    )
    params, m, v, t = [np.zeros(4), 0.0], [np.zeros(4), 0.0], [np.zeros(4), 0.0], 0
    for _ in range(30):
        stepper.step(X, y, None)
        params, m, v, t = numpy_adam(params, squared_error_gradient(*params, X, y), m, v, t, 0.2)
        params = [np.minimum(params[0], 2.5), float(np.clip(params[1], 0.0, 0.3))]
    got = stepper.params()
    np.testing.assert_allclose(got["w"], params[0], rtol=1e-12)
    assert got["b"] == pytest.approx(params[1], rel=1e-12) and params[1] == 0.3  # held at its bound
    assert np.max(got["w"]) == 2.5  # the last weight (true value 4) is held too


def test_huber_regressor_keeps_its_scale_positive_with_adam():
    X, y = regression_data(rows=200)
    huber = models.HuberRegressor()
    huber.optimizer, huber.learning_rate_init, huber.max_iter = "adam", 0.05, 200
    with warnings.catch_warnings():
        warnings.simplefilter("ignore", ConvergenceWarning)
        huber.fit(X, y)
    assert huber.params_["sigma"] > 0 and huber.score(X, y) > 0.95


def test_a_single_row_batch_continues_the_same_optimiser_state():
    """A last batch of one row has its own compiled step (a length-1 axis is part of the cache key);
    the state moves to it and back."""
    X, y = regression_data(rows=17)
    stepper = Stepper(
        squared_error, {"w": np.zeros(4), "b": np.float64(0)}, {}, "adam", [0.05, 0.9, 0.999, 1e-8]
    )
    params, m, v, t = [np.zeros(4), 0.0], [np.zeros(4), 0.0], [np.zeros(4), 0.0], 0
    for rows in (slice(0, 8), slice(8, 16), slice(16, 17), slice(0, 8)):
        stepper.step(X[rows], y[rows], None)
        params, m, v, t = numpy_adam(
            params, squared_error_gradient(*params, X[rows], y[rows]), m, v, t, 0.05
        )
    np.testing.assert_allclose(stepper.params()["w"], params[0], rtol=1e-12)


def classification_data():
    return make_classification(240, 6, n_informative=4, n_redundant=0, n_classes=3, random_state=0)


SCHEDULES = [
    {"optimizer": "adam", "learning_rate_init": 0.01},
    {
        "optimizer": "adam",
        "learning_rate_init": 0.01,
        "tol": 0.05,
        "n_iter_no_change": 2,
    },  # stops early
    {"optimizer": "sgd", "learning_rate": "invscaling", "learning_rate_init": 0.2, "power_t": 0.3},
    {
        "optimizer": "sgd",
        "learning_rate": "adaptive",
        "learning_rate_init": 0.1,
        "nesterovs_momentum": False,
        "tol": 0.05,
        "n_iter_no_change": 2,
    },  # the rate is divided by 5 several times
    {
        "optimizer": "sgd",
        "learning_rate": "constant",
        "learning_rate_init": 0.1,
        "momentum": 0.5,
        "shuffle": False,
    },
]


@pytest.mark.parametrize(
    "settings", SCHEDULES, ids=lambda s: "-".join(f"{k}={v}" for k, v in s.items())
)
def test_mlp_classifier_follows_scikit_learn(settings):
    X, y = classification_data()
    sk = dict(settings)
    sk["solver"] = sk.pop("optimizer")
    common = {"hidden_layer_sizes": (5,), "max_iter": 25, "batch_size": 32, "random_state": 2}
    with warnings.catch_warnings():
        warnings.simplefilter("ignore", ConvergenceWarning)
        ours = models.MLPClassifier(**common, **settings).fit(X, y)
        theirs = SklearnMLPClassifier(**common, **sk).fit(X, y)
    np.testing.assert_allclose(ours.loss_curve_, theirs.loss_curve_, rtol=1e-10)
    assert (ours.n_iter_, ours.t_, ours.best_loss_) == (
        theirs.n_iter_,
        theirs.t_,
        pytest.approx(theirs.best_loss_),
    )
    for got, expected in zip(
        ours.params_["weights"] + ours.params_["biases"], theirs.coefs_ + theirs.intercepts_
    ):
        np.testing.assert_allclose(got, expected, rtol=1e-8, atol=1e-10)
    if settings["optimizer"] == "sgd":  # (scikit-learn's Adam keeps its bias-corrected rate there)
        assert ours._learning_rate == pytest.approx(theirs._optimizer.learning_rate, rel=1e-12)
    if settings.get("learning_rate") == "adaptive":
        assert (
            ours._learning_rate < settings["learning_rate_init"] / 25
        )  # divided by 5 at least twice
    elif "tol" in settings:
        assert ours.n_iter_ < 25  # the no-improvement rule did stop it


@pytest.mark.parametrize("solver", ["adam", "sgd"])
def test_sample_weights_with_minibatches_and_early_stopping_follow_scikit_learn(solver):
    """scikit-learn's MLP takes sample_weight (1.7+): each minibatch's loss is the weighted mean
    over its rows, and the validation rows keep their weights in the score."""
    if "sample_weight" not in inspect.signature(SklearnMLPClassifier.fit).parameters:
        pytest.skip("scikit-learn's MLP takes sample_weight from 1.7 on")
    X, y = classification_data()
    weights = np.random.default_rng(0).uniform(0.2, 3.0, len(y))
    common = {
        "hidden_layer_sizes": (4,),
        "batch_size": 16,
        "random_state": 0,
        "max_iter": 5,
        "learning_rate_init": 0.01,
        "alpha": 0.01,
        "early_stopping": True,
    }
    with warnings.catch_warnings():
        warnings.simplefilter("ignore", ConvergenceWarning)
        ours = models.MLPClassifier(optimizer=solver, **common).fit(X, y, sample_weight=weights)
        theirs = SklearnMLPClassifier(solver=solver, **common).fit(X, y, sample_weight=weights)
    np.testing.assert_allclose(ours.loss_curve_, theirs.loss_curve_, rtol=1e-10)
    np.testing.assert_allclose(ours.validation_scores_, theirs.validation_scores_, rtol=1e-12)
    np.testing.assert_allclose(ours.predict_proba(X), theirs.predict_proba(X), rtol=1e-8)


def test_early_stopping_follows_scikit_learn():
    """Same split, same validation scores (R^2), the best epoch's weights restored."""
    X, _ = classification_data()
    y = 2 * X[:, 0] + np.sin(X[:, 1])
    common = {
        "hidden_layer_sizes": (5,),
        "max_iter": 60,
        "learning_rate_init": 0.01,
        "early_stopping": True,
        "n_iter_no_change": 3,
        "validation_fraction": 0.2,
        "tol": 0.01,
        "random_state": 1,
    }
    with warnings.catch_warnings():
        warnings.simplefilter("ignore", ConvergenceWarning)
        ours = models.MLPRegressor(optimizer="adam", **common).fit(X, y)
        theirs = SklearnMLPRegressor(solver="adam", **common).fit(X, y)
    np.testing.assert_allclose(ours.validation_scores_, theirs.validation_scores_, rtol=1e-9)
    assert ours.best_validation_score_ == pytest.approx(theirs.best_validation_score_, rel=1e-10)
    assert ours.best_loss_ is None and ours.n_iter_ == theirs.n_iter_ < 60
    np.testing.assert_allclose(ours.params_["weights"][0], theirs.coefs_[0], rtol=1e-8, atol=1e-10)
    np.testing.assert_allclose(ours.predict(X), theirs.predict(X), rtol=1e-8, atol=1e-10)


class BinaryMLP(models.MLPClassifier):
    """scikit-learn's network for two classes: one logistic output (models.MLPClassifier has a
    softmax over two), the same initial draws, its mean log-loss + the weight penalty."""

    target_encoding = "sign"

    def init_params(self, X, y, rng):
        return self._init_layers(X.shape[1], None, rng)

    def loss(self, params, X, y, sample_weight=None):
        return np.mean(np.logaddexp(0, -y * self._forward(params, X))) + self._penalty(
            params, X, sample_weight
        )

    def decision_fn(self, params, X):
        return self._forward(params, X)

    def proba_fn(self, params, X):
        p = 1 / (1 + np.exp(-self._forward(params, X)))
        return np.stack([1 - p, p], axis=1)


@pytest.mark.parametrize("n_classes", [3, 2])
def test_classifier_early_stopping_follows_scikit_learn(n_classes):
    """scikit-learn stratifies the validation split only for two classes (a one-column target):
    the same rows held out, so the same loss curve and validation accuracies."""
    X, y = make_classification(
        300, 6, n_informative=4, n_redundant=0, n_classes=n_classes, random_state=4
    )
    ours = models.MLPClassifier if n_classes > 2 else BinaryMLP
    common = {
        "hidden_layer_sizes": (5,),
        "max_iter": 40,
        "batch_size": 32,
        "learning_rate_init": 0.01,
        "early_stopping": True,
        "validation_fraction": 0.3,
        "n_iter_no_change": 3,
        "tol": 0.005,
        "random_state": 5,
    }
    with warnings.catch_warnings():
        warnings.simplefilter("ignore", ConvergenceWarning)
        ours = ours(optimizer="adam", **common).fit(X, y)
        theirs = SklearnMLPClassifier(solver="adam", **common).fit(X, y)
    np.testing.assert_allclose(ours.loss_curve_, theirs.loss_curve_, rtol=1e-10)
    np.testing.assert_allclose(ours.validation_scores_, theirs.validation_scores_, rtol=1e-10)
    assert ours.n_iter_ == theirs.n_iter_ < 40  # early stopping did stop both at the same epoch
    np.testing.assert_allclose(ours.predict_proba(X), theirs.predict_proba(X), rtol=1e-8)


@pytest.mark.parametrize("schedule", ["invscaling", "adaptive"])
def test_adam_ignores_string_schedules_as_scikit_learn_does_and_warns(schedule):
    X, y = classification_data()
    common = {
        "hidden_layer_sizes": (5,),
        "max_iter": 30,
        "batch_size": 32,
        "learning_rate_init": 0.02,
        "learning_rate": schedule,
        "tol": 0.05,
        "n_iter_no_change": 2,  # "adaptive" would divide the rate; Adam stops instead
        "random_state": 2,
    }
    with warnings.catch_warnings():
        warnings.simplefilter("ignore", ConvergenceWarning)
        with pytest.warns(UserWarning, match=f"learning_rate='{schedule}' applies to .*'sgd' only"):
            ours = models.MLPClassifier(optimizer="adam", **common).fit(X, y)
        theirs = SklearnMLPClassifier(solver="adam", **common).fit(X, y)
    np.testing.assert_allclose(ours.loss_curve_, theirs.loss_curve_, rtol=1e-10)
    assert ours.n_iter_ == theirs.n_iter_ < 30
    assert ours._learning_rate == 0.02  # constant: neither scaled nor divided
    with pytest.warns(UserWarning, match="applies to .*'sgd' only"):
        skautodiff.minimize(
            squared_error,
            {"w": np.zeros(6), "b": 0.0},
            args=(X, y.astype(float)),
            method="adam",
            options={"learning_rate": schedule, "max_iter": 1},
        )


def test_callable_schedule_applies_to_adam_without_a_warning():
    """A callable rate (not in scikit-learn) schedules Adam too: a rate of 0 from step 4 on
    freezes the parameters after four steps."""
    X, y = regression_data(rows=32)

    def fit(rate):
        return AutodiffRegressor(
            squared_error,
            linear_init,
            linear_predict,
            optimizer="adam",
            learning_rate=rate,
            learning_rate_init=0.05,
            batch_size=8,
            shuffle=False,
            max_iter=max_iter,
            random_state=0,
        ).fit(X, y)

    with warnings.catch_warnings():
        warnings.simplefilter("error", UserWarning)
        warnings.simplefilter("ignore", ConvergenceWarning)
        max_iter = 3
        frozen = fit(lambda step: 0.05 if step < 4 else 0.0)
        max_iter = 1
        four_steps = fit(lambda step: 0.05)
    np.testing.assert_array_equal(frozen.params_["w"], four_steps.params_["w"])
    assert not np.array_equal(frozen.params_["w"], linear_init(X, y, np.random.RandomState(0))["w"])


def test_partial_fit_follows_scikit_learn():
    X, y = classification_data()
    common = {
        "hidden_layer_sizes": (5,),
        "batch_size": 20,
        "random_state": 3,
        "learning_rate_init": 0.01,
    }
    ours = models.MLPClassifier(optimizer="adam", **common)
    theirs = SklearnMLPClassifier(solver="adam", **common)
    for start in range(0, 240, 60):
        rows = slice(start, start + 60)
        ours.partial_fit(X[rows], y[rows], classes=[0, 1, 2])
        theirs.partial_fit(X[rows], y[rows], classes=[0, 1, 2])
    np.testing.assert_allclose(ours.loss_curve_, theirs.loss_curve_, rtol=1e-10)
    assert (ours.n_iter_, ours.t_) == (theirs.n_iter_, theirs.t_) == (1, 240)
    np.testing.assert_allclose(ours.predict_proba(X), theirs.predict_proba(X), rtol=1e-8)


def test_partial_fit_errors_and_availability():
    X, y = classification_data()
    assert not hasattr(models.MLPClassifier(), "partial_fit")  # L-BFGS: available_if hides it
    clf = models.MLPClassifier(optimizer="sgd", hidden_layer_sizes=(3,))
    with pytest.raises(ValueError, match="classes must be passed on the first call to partial_fit"):
        clf.partial_fit(X, y)
    clf.partial_fit(X[:50], y[:50], classes=[0, 1, 2, 3])
    with pytest.raises(ValueError, match=r"not in classes=\[0, 1, 2, 3\]: \[7\]"):
        clf.partial_fit(X[:2], [7, 0])
    with pytest.raises(ValueError, match="is not the same as on last call"):
        clf.partial_fit(X[:2], [1, 0], classes=[0, 1])
    reg = AutodiffRegressor(squared_error, linear_init, linear_predict, optimizer="adam")
    with pytest.raises(ValueError, match="regressor: partial_fit takes no classes"):
        reg.partial_fit(X, y, classes=[0, 1])
    with pytest.raises(ValueError, match="partial_fit does not support early_stopping"):
        models.MLPRegressor(optimizer="adam", early_stopping=True).partial_fit(X, y.astype(float))


def test_stochastic_settings_are_refused_by_scipy_fits():
    X, y = regression_data()
    with pytest.raises(
        ValueError, match=r"batch_size=10, momentum=0\.5 only apply to the stochastic"
    ):
        AutodiffRegressor(
            squared_error, linear_init, linear_predict, batch_size=10, momentum=0.5
        ).fit(X, y)
    with pytest.raises(ValueError, match="learning_rate_init must be a number > 0"):
        AutodiffRegressor(
            squared_error, linear_init, linear_predict, optimizer="adam", learning_rate_init=0
        ).fit(X, y)


def test_same_seed_same_fit_and_weights_as_rows_removed():
    X, y = regression_data(rows=80)
    fit = lambda **kw: AutodiffRegressor(
        squared_error,
        linear_init,
        linear_predict,
        optimizer="adam",
        learning_rate_init=0.05,
        max_iter=20,
        random_state=4,
        **kw,
    )
    with warnings.catch_warnings():
        warnings.simplefilter("ignore", ConvergenceWarning)
        a, b = fit(batch_size=16).fit(X, y), fit(batch_size=16).fit(X, y)
        np.testing.assert_array_equal(a.params_["w"], b.params_["w"])
        # One batch of all rows: a zero weight is the row left out (the loss's weighted mean).
        weights = np.where(np.arange(80) % 4 == 0, 0.0, 1.0)
        weighted = fit(batch_size=80, shuffle=False).fit(X, y, sample_weight=weights)
        kept = fit(batch_size=60, shuffle=False).fit(X[weights > 0], y[weights > 0])
    np.testing.assert_allclose(weighted.params_["w"], kept.params_["w"], rtol=1e-10)
    np.testing.assert_allclose(weighted.loss_curve_, kept.loss_curve_, rtol=1e-10)


def test_learning_rate_callable_gets_the_step_count():
    X, y = regression_data(rows=32)
    seen = []

    def rate(step):
        seen.append(step)
        return 0.01 / (1 + step)

    AutodiffRegressor(
        squared_error,
        linear_init,
        linear_predict,
        optimizer="sgd",
        momentum=0.0,
        learning_rate=rate,
        batch_size=8,
        max_iter=2,
        random_state=0,
    ).fit(X, y)
    assert seen == list(range(8))


def test_classifier_with_index_targets_and_early_stopping():
    X, y = classification_data()
    labels = np.array(["a", "b", "c"])[y]

    def cross_entropy(params, X, y):
        z = X @ params["w"] + params["b"]
        top = np.max(z, axis=1, keepdims=True)
        log_norm = np.log(np.sum(np.exp(z - top), axis=1)) + top[:, 0]
        return np.mean(log_norm - z[np.arange(len(y)), y])

    clf = AutodiffClassifier(
        cross_entropy,
        lambda X, y, rng: {"w": np.zeros((6, 3)), "b": np.zeros(3)},
        decision_fn=linear_predict,
        optimizer="adam",
        learning_rate_init=0.05,
        early_stopping=True,
        random_state=0,
        max_iter=100,
    ).fit(X, labels)
    assert clf.n_iter_ < 100 and len(clf.validation_scores_) == clf.n_iter_
    assert clf.best_validation_score_ == max(clf.validation_scores_)
    assert clf.score(X, labels) > 0.7


def test_functional_minimize_is_full_batch_adam_in_numpy():
    X, y = regression_data()
    x0 = {"w": np.zeros(4), "b": 0.0}
    result = skautodiff.minimize(
        squared_error,
        x0,
        args=(X, y),
        method="adam",
        options={"batch_size": 64, "shuffle": False, "max_iter": 7, "learning_rate_init": 0.1},
    )
    params, m, v, t = [np.zeros(4), 0.0], [np.zeros(4), 0.0], [np.zeros(4), 0.0], 0
    for _ in range(7):
        params, m, v, t = numpy_adam(params, squared_error_gradient(*params, X, y), m, v, t, 0.1)
    np.testing.assert_allclose(result.x["w"], params[0], rtol=1e-12)
    assert type(result.x["b"]) is float and result.nit == 7 and len(result.loss_curve) == 7
    assert x0["w"].sum() == 0  # the caller's parameters are not written
    bounded = skautodiff.minimize(
        squared_error,
        x0,
        args=(X, y),
        method="sgd",
        bounds={"b": (0.0, 0.2)},
        options={"max_iter": 5, "learning_rate_init": 0.05},
    )
    assert bounded.x["b"] == 0.2  # (unbounded, b heads for 0.5)
    with pytest.raises(ValueError, match="unknown option.*early_stopping"):
        skautodiff.minimize(
            squared_error, x0, args=(X, y), method="sgd", options={"early_stopping": True}
        )


@pytest.mark.parametrize("method", ["adam", "sgd"])
def test_functional_minimize_returns_integer_starting_leaves_as_floats(method):
    """Integer leaves of x0 train as floats (as with scipy's methods); the result came back cast
    to the starting leaves' integer kinds: truncated, no longer the point whose loss `fun` is."""
    X, y = regression_data()
    options = {"batch_size": 64, "shuffle": False, "max_iter": 7, "learning_rate_init": 0.1}
    as_floats = skautodiff.minimize(
        squared_error, {"w": np.zeros(4), "b": 0.0}, args=(X, y), method=method, options=options
    )
    seen = []
    as_integers = skautodiff.minimize(
        squared_error,
        {"w": np.zeros(4, dtype=np.int64), "b": 0},
        args=(X, y),
        method=method,
        options=options,
        callback=seen.append,
    )
    for got in (as_integers.x, seen[-1]):
        assert got["w"].dtype == np.float64 and isinstance(got["b"], float)
        np.testing.assert_array_equal(got["w"], as_floats.x["w"])
        assert got["b"] == as_floats.x["b"] != round(as_floats.x["b"])
    assert as_integers.fun == as_floats.fun


def test_functional_minimize_callback_per_epoch():
    """The callback sees each epoch's parameters (shaped like x0: the numpy full-batch Adam
    iterates), or an OptimizeResult when its parameter is named intermediate_result; StopIteration
    stops the training, as with scipy's methods."""
    X, y = regression_data()
    x0 = {"w": np.zeros(4), "b": 0.0}
    options = {"batch_size": 64, "shuffle": False, "max_iter": 5, "learning_rate_init": 0.1}
    seen = []
    with warnings.catch_warnings():
        warnings.simplefilter("ignore", ConvergenceWarning)
        result = skautodiff.minimize(
            squared_error, x0, args=(X, y), method="adam", options=options, callback=seen.append
        )
    params, m, v, t = [np.zeros(4), 0.0], [np.zeros(4), 0.0], [np.zeros(4), 0.0], 0
    assert len(seen) == 5
    for got in seen:
        params, m, v, t = numpy_adam(params, squared_error_gradient(*params, X, y), m, v, t, 0.1)
        np.testing.assert_allclose(got["w"], params[0], rtol=1e-12)
        assert type(got["b"]) is float and got["b"] == pytest.approx(params[1], rel=1e-12)
    np.testing.assert_array_equal(seen[-1]["w"], result.x["w"])
    seen[0]["w"][:] = 7  # the callback's copy, not the optimiser's state
    np.testing.assert_allclose(result.x["w"], params[0], rtol=1e-12)

    def stop_after_two(intermediate_result):
        seen.append(intermediate_result)
        if intermediate_result.nit == 2:
            raise StopIteration

    seen.clear()
    stopped = skautodiff.minimize(
        squared_error, x0, args=(X, y), method="sgd", options=options, callback=stop_after_two
    )
    assert stopped.nit == 2 and not stopped.success and "StopIteration" in stopped.message
    assert [r.fun for r in seen] == stopped.loss_curve
    np.testing.assert_array_equal(seen[-1].x["w"], stopped.x["w"])


def test_shuffle_draws_as_scikit_learn():
    """The epoch shuffle takes scikit-learn's draws from the same generator (same orders)."""
    from sklearn.utils import shuffle

    from skautodiff.stochastic import _shuffled

    ours, theirs = np.random.RandomState(3), np.random.RandomState(3)
    order_ours = order_theirs = np.arange(57)
    for _ in range(4):
        order_ours = _shuffled(order_ours, ours)
        order_theirs = shuffle(order_theirs, random_state=theirs)
        np.testing.assert_array_equal(order_ours, order_theirs)
    assert ours.randint(1000) == theirs.randint(1000)  # the generators are in the same state


def test_fits_in_threads_keep_their_own_optimiser_state():
    """The compiled step is cached and shared; each fit leases its own state."""
    X, y = regression_data(rows=96)

    def fit(seed):
        return AutodiffRegressor(
            squared_error,
            linear_init,
            linear_predict,
            optimizer="sgd",
            learning_rate_init=0.01,
            batch_size=8,
            max_iter=6,
            random_state=seed,
        ).fit(X, y)

    with warnings.catch_warnings():
        warnings.simplefilter("ignore", ConvergenceWarning)
        serial = [fit(seed).params_["w"] for seed in range(4)]
        results, barrier = {}, threading.Barrier(4, timeout=60)

        def run(seed):
            barrier.wait()
            results[seed] = fit(seed).params_["w"]

        threads = [threading.Thread(target=run, args=(seed,)) for seed in range(4)]
        for thread in threads:
            thread.start()
        for thread in threads:
            thread.join()
    for seed in range(4):
        np.testing.assert_array_equal(results[seed], serial[seed])


def test_dask_ml_incremental_is_partial_fit_over_the_blocks():
    dask_array = pytest.importorskip("dask.array")
    wrappers = pytest.importorskip("dask_ml.wrappers")
    X, y = classification_data()
    common = {"hidden_layer_sizes": (4,), "optimizer": "adam", "random_state": 0, "batch_size": 30}
    wrapped = wrappers.Incremental(models.MLPClassifier(**common), shuffle_blocks=False)
    wrapped.fit(
        dask_array.from_array(X, chunks=60), dask_array.from_array(y, chunks=60), classes=[0, 1, 2]
    )
    loop = models.MLPClassifier(**common)
    for start in range(0, 240, 60):
        loop.partial_fit(X[start : start + 60], y[start : start + 60], classes=[0, 1, 2])
    np.testing.assert_array_equal(
        wrapped.estimator_.params_["weights"][0], loop.params_["weights"][0]
    )
    assert wrapped.estimator_.t_ == 240


@pytest.mark.cbackend
@pytest.mark.slow
def test_a_fit_moves_to_the_c_tier_without_losing_its_state(monkeypatch):
    """With tiered compilation the first steps run on the Python tier while C compiles; the state
    moves to the C tier part-way. Both tiers compute the same updates (to round-off)."""
    from skautodiff import compile as compiled
    from skautodiff import tiers

    X, y = regression_data(rows=400, features=6)

    def rate(step):  # constant; at step 60 it waits for the C tier, so the fit switches there
        if step == 60:
            tiers.wait(120)
        return 0.01

    kwargs = {
        "optimizer": "adam",
        "learning_rate": rate,
        "batch_size": 16,
        "max_iter": 8,
        "random_state": 0,
        "n_iter_no_change": 100,
    }
    monkeypatch.setenv("SKAUTODIFF_MODE", "fast")
    with warnings.catch_warnings():
        warnings.simplefilter("ignore", ConvergenceWarning)
        python_only = AutodiffRegressor(squared_error, linear_init, linear_predict, **kwargs).fit(
            X, y
        )
        monkeypatch.setenv("SKAUTODIFF_MODE", "c")
        monkeypatch.setenv("SKAUTODIFF_TIERS", "1")
        compiled.clear_cache()
        tiered = AutodiffRegressor(squared_error, linear_init, linear_predict, **kwargs).fit(X, y)
    tiers.wait(120)
    step = next(
        fn
        for entries in compiled._cache.values()
        for entry in entries
        for key, fn in entry._functions.items()
        if key[0] == "step:adam"  # (kind, backend, rows, mode)
    )
    assert isinstance(step, tiers.Tiered) and step.calls == {"Python": 60, "C": 140}
    np.testing.assert_allclose(tiered.params_["w"], python_only.params_["w"], rtol=1e-9)
    np.testing.assert_allclose(tiered.loss_curve_, python_only.loss_curve_, rtol=1e-9)


def test_streaming_example_trains_from_chunks_on_disk():
    """examples/streaming_partial_fit.py at a small size: chunks read from a file, partial_fit per chunk."""
    import importlib.util
    import pathlib

    path = pathlib.Path(__file__).parent.parent / "examples" / "streaming_partial_fit.py"
    spec = importlib.util.spec_from_file_location("streaming_partial_fit", path)
    example = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(example)
    model, accuracy = example.main(
        rows=3000, chunk_rows=1000, passes=2, test_rows=1000, verbose=False
    )
    assert model.t_ == 6000 and model.n_iter_ == 1
    assert accuracy > 0.45  # three classes: chance is about 1/3


def test_a_model_setting_named_like_an_optimizer_setting_keeps_its_meaning():
    """HuberRegressor's epsilon is its threshold: not Adam's, and no error for an L-BFGS fit."""
    X, y = regression_data()
    models.HuberRegressor(epsilon=2.0).fit(X, y)
    huber = models.HuberRegressor(epsilon=2.0)
    assert huber._stochastic_settings()["epsilon"] == 1e-8


@pytest.mark.slow
def test_benchmark_part_runs_and_reports_ratios():
    """benchmarks/stochastic.py at its smallest (the figures themselves: doc/performance.md)."""
    from benchmarks import stochastic as bench

    with warnings.catch_warnings():
        warnings.simplefilter("ignore", ConvergenceWarning)
        record = bench.main(["--quick", "--epochs", "1", "--blas-threads", "0"])
    parts = [row["part"] for row in record["rows"]]
    assert len(parts) == 3 and all(row["time_ratio"] > 0 for row in record["rows"])
    # Same seed, same draws, one epoch: the same accuracy as scikit-learn's.
    assert all(row["accuracy_difference_points"] == 0 for row in record["rows"][:2])


def offset_squared_error(params, X, y, offset):
    return np.mean((X @ params["w"] + offset - y) ** 2)


@pytest.mark.parametrize("early_stopping", [False, True])
@pytest.mark.parametrize("batch_size", [1, 16])
def test_a_per_row_keyword_argument_is_refused_not_broadcast(batch_size, early_stopping):
    """Keyword arguments go whole to every minibatch: a per-row offset would not line up with the
    batch's rows, and with one-row batches it broadcast silently (a wrong fit, no error). Early
    stopping trains on fewer rows than X has (the validation rows are set aside): the offset is
    still one entry per row of the X given to fit, and refused."""
    X, y = regression_data(rows=40)
    est = AutodiffRegressor(
        loss=offset_squared_error,
        init_params=lambda X, y, rng: {"w": np.zeros(X.shape[1])},
        predict_fn=lambda params, X: X @ params["w"],
        loss_kwargs={"offset": np.linspace(-1, 1, 40)},
        optimizer="adam",
        batch_size=batch_size,
        max_iter=2,
        early_stopping=early_stopping,
    )
    with pytest.raises(ValueError, match="'offset' has one entry per row of X"):
        est.fit(X, y)
    with pytest.raises(ValueError, match="'offset' has one entry per row of X"):
        skautodiff.minimize(
            offset_squared_error,
            {"w": np.zeros(4)},
            args=(X, y),
            kwargs={"offset": np.linspace(-1, 1, 40)},
            method="adam",
        )


def offset_in_a_dict(params, X, y, extra):
    return np.mean((X @ params["w"] + extra["offset"] - y) ** 2)


def offset_in_a_tuple(params, X, y, extra):
    return np.mean((X @ params["w"] + extra[1] - y) ** 2)


@pytest.mark.parametrize(
    "loss, extra, name",
    [
        (offset_in_a_dict, lambda offset: {"offset": offset}, r"extra\['offset'\]"),
        (offset_in_a_tuple, lambda offset: (0.0, offset), r"extra\[1\]"),
    ],
)
def test_a_per_row_array_inside_a_keyword_argument_is_refused_too(loss, extra, name):
    """A per-row offset inside a dict or tuple argument goes whole to every minibatch as well;
    with one-row batches it broadcast silently (a wrong fit, no error)."""
    X, y = regression_data(rows=40)
    offset = np.linspace(-1, 1, 40)
    est = AutodiffRegressor(
        loss=loss,
        init_params=lambda X, y, rng: {"w": np.zeros(X.shape[1])},
        loss_kwargs={"extra": extra(offset)},
        optimizer="sgd",
        batch_size=1,
        max_iter=2,
    )
    with pytest.raises(ValueError, match=name + " has one entry per row of X"):
        est.fit(X, y)
    with pytest.raises(ValueError, match=name + " has one entry per row of X"):
        skautodiff.minimize(
            loss,
            {"w": np.zeros(4)},
            args=(X, y),
            kwargs={"extra": extra(offset)},
            method="adam",
            options={"batch_size": 1},
        )


def test_a_keyword_argument_that_is_not_per_row_goes_whole_to_every_batch():
    X, y = regression_data(rows=40)
    shift = np.array([0.5])  # one value, broadcast over every batch's rows: y - 0.5 is fitted
    est = AutodiffRegressor(
        loss=offset_squared_error,
        init_params=lambda X, y, rng: {"w": np.zeros(X.shape[1])},
        loss_kwargs={"offset": shift},
        optimizer="adam",
        learning_rate_init=0.05,
        batch_size=8,
        max_iter=300,
        tol=0,
        n_iter_no_change=300,
        random_state=0,
    )
    with warnings.catch_warnings():
        warnings.simplefilter("ignore", ConvergenceWarning)
        est.fit(X, y)
    # least squares of y - 0.5 on X (no intercept): the optimum Adam approaches
    expected = np.linalg.lstsq(X, y - 0.5, rcond=None)[0]
    np.testing.assert_allclose(est.params_["w"], expected, atol=0.05)
