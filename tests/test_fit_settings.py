"""Fit settings a subclass does not list in __init__, and losses given as functools.partial.

References: the same fit with the setting passed the listed way (or with loss_kwargs), and the
closed-form ridge solution."""

import functools
import pickle

import numpy as np
import pytest
from sklearn.base import clone
from sklearn.exceptions import ConvergenceWarning
from sklearn.model_selection import GridSearchCV

from skautodiff import AutodiffRegressor
from skautodiff.models import LogisticRegression


class ExpectileRegressor(AutodiffRegressor):
    """Lists only its model's hyperparameter; tol, max_iter, optimizer... are not in __init__."""

    def __init__(self, tau=0.5):
        self.tau = tau

    def init_params(self, X, y, rng):
        return {"w": np.zeros(X.shape[1]), "b": 0.0}

    def loss(self, params, X, y):
        r = y - self.predict_fn(params, X)
        return np.mean(np.where(r > 0, self.tau, 1 - self.tau) * r**2)

    def predict_fn(self, params, X):
        return X @ params["w"] + params["b"]


def _data():
    rng = np.random.default_rng(0)
    X = rng.normal(size=(60, 3))
    return X, X @ np.array([1.0, -2.0, 0.5]) + 0.3 + rng.normal(size=60)


def test_set_params_sets_a_fit_setting_the_subclass_does_not_list():
    X, y = _data()
    est = ExpectileRegressor(tau=0.7).set_params(max_iter=2, tol=1e-3)
    assert (est.max_iter, est.tol) == (2, 1e-3)
    assert est.get_params() == {"tau": 0.7}  # scikit-learn's rule: __init__'s parameters only
    with pytest.warns(ConvergenceWarning, match="after 2 iterations"):
        est.fit(X, y)
    assert est.n_iter_ == 2
    for copy in (clone(est), pickle.loads(pickle.dumps(est))):
        assert (copy.max_iter, copy.tol, copy.tau) == (2, 1e-3, 0.7)
    assert ExpectileRegressor().max_iter == 1000  # a class default, untouched


@pytest.mark.filterwarnings(
    "ignore::sklearn.exceptions.ConvergenceWarning"
)  # max_iter=1 does not converge
def test_grid_search_over_a_fit_setting_of_a_subclass():
    X, y = _data()
    search = GridSearchCV(ExpectileRegressor(), {"max_iter": [1, 200]}, cv=3).fit(X, y)
    assert search.best_params_ == {"max_iter": 200}
    assert search.best_estimator_.max_iter == 200
    full = ExpectileRegressor().fit(X, y)
    np.testing.assert_allclose(search.best_estimator_.params_["w"], full.params_["w"], rtol=1e-6)


def test_parameters_that_define_the_model_are_not_fit_settings():
    with pytest.raises(ValueError, match="Invalid parameter 'target_encoding'"):
        LogisticRegression().set_params(target_encoding="index")
    with pytest.raises(ValueError, match="Invalid parameter 'multi_output'"):
        ExpectileRegressor().set_params(multi_output=True)
    with pytest.raises(ValueError, match="Invalid parameter 'bogus'"):
        ExpectileRegressor().set_params(bogus=1)


def ridge(params, X, y, alpha):
    return np.mean((X @ params["w"] + params["b"] - y) ** 2) + alpha * np.sum(params["w"] ** 2)


def init(X, y, rng):
    return {"w": np.zeros(X.shape[1]), "b": 0.0}


def predict(params, X):
    return X @ params["w"] + params["b"]


def _closed_form(X, y, alpha):
    Xc, yc = X - X.mean(axis=0), y - y.mean()
    w = np.linalg.solve(Xc.T @ Xc / len(X) + alpha * np.eye(X.shape[1]), Xc.T @ yc / len(X))
    return w, y.mean() - X.mean(axis=0) @ w


def test_a_partial_loss_fits_pickles_and_clones():
    X, y = _data()
    est = AutodiffRegressor(
        loss=functools.partial(ridge, alpha=0.5), init_params=init, predict_fn=predict, tol=1e-12
    ).fit(X, y)
    w, b = _closed_form(X, y, 0.5)
    np.testing.assert_allclose(est.params_["w"], w, rtol=1e-6)
    assert est.params_["b"] == pytest.approx(b, rel=1e-6)
    np.testing.assert_array_equal(pickle.loads(pickle.dumps(est)).predict(X), est.predict(X))
    np.testing.assert_allclose(clone(est).fit(X, y).params_["w"], w, rtol=1e-6)
    assert "alpha" in str(est.formula())
    # loss_kwargs win over the partial's keywords, as call-time keywords win over a partial's
    est.set_params(loss_kwargs__alpha=2.0).fit(X, y)
    np.testing.assert_allclose(est.params_["w"], _closed_form(X, y, 2.0)[0], rtol=1e-6)


def test_a_partial_with_positional_arguments_is_refused_with_the_way_out():
    X, y = _data()

    def shifted(shift, params, X, y):
        return np.mean((predict(params, X) - y - shift) ** 2)

    est = AutodiffRegressor(
        loss=functools.partial(shifted, 1.0), init_params=init, predict_fn=predict
    )
    with pytest.raises(TypeError, match="bind the loss's other arguments by keyword"):
        est.fit(X, y)
