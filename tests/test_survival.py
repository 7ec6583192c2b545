"""skautodiff.models.CoxPHRegressor against statsmodels' PHReg (ties="breslow"), on the Stanford
heart transplant data statsmodels ships and on simulated data with many tied times; Harrell's
concordance index against a hand count."""

import pickle

import numpy as np
import pytest
import statsmodels.api as sm
from sklearn.base import clone
from sklearn.model_selection import GridSearchCV
from statsmodels.datasets import heart

from skautodiff.models import CoxPHRegressor, concordance_index


def _heart():
    data = heart.load_pandas().data  # 69 patients, 45 deaths, tied survival times
    return data[["age"]].to_numpy(), data["survival"].to_numpy(), data["censors"].to_numpy()


def _tied(seed=0, n=120):
    """Three covariates; times rounded to whole units so that many event times tie."""
    rng = np.random.default_rng(seed)
    X = rng.normal(size=(n, 3))
    time = np.ceil(rng.exponential(np.exp(-X @ np.array([0.5, -0.3, 0.2])) * 5))
    censor = np.ceil(rng.exponential(8.0, size=n))
    return X, np.minimum(time, censor), (time <= censor).astype(float)


def _reference(X, time, event):
    return sm.PHReg(time, X, status=event, ties="breslow").fit()


@pytest.mark.parametrize("data", [_heart, _tied], ids=["heart", "tied"])
def test_matches_statsmodels_phreg_breslow(data):
    X, time, event = data()
    assert len(np.unique(time[event == 1])) < np.sum(event)  # the data do have tied event times
    reference = _reference(X, time, event)
    est = CoxPHRegressor().fit(X, np.column_stack([time, event]))
    np.testing.assert_allclose(est.coef_, reference.params, rtol=1e-6)
    assert est.log_likelihood_ == pytest.approx(reference.llf, rel=1e-6)
    # the risk score is statsmodels' log hazard ratio
    np.testing.assert_allclose(
        est.predict(X), reference.predict(exog=X, pred_type="lhr").predicted_values, rtol=1e-6
    )
    np.testing.assert_allclose(
        est.predict_partial_hazard(X), np.exp(X @ reference.params), rtol=1e-6
    )


def test_the_penalised_optimum_solves_statsmodels_score_equation():
    X, time, event = _tied(seed=1)
    alpha = 0.05
    est = CoxPHRegressor(alpha=alpha).fit(X, np.column_stack([time, event]))
    model = sm.PHReg(time, X, status=event, ties="breslow")
    # d/dw [-llf / n + alpha / 2 ||w||^2] = 0, with statsmodels' gradient of its llf
    np.testing.assert_allclose(model.score(est.coef_) / len(X), alpha * est.coef_, atol=1e-8)
    assert est.log_likelihood_ == pytest.approx(model.loglike(est.coef_), rel=1e-10)


def test_integer_weights_equal_repeated_rows():
    X, time, event = _tied(seed=2, n=40)
    weight = np.random.default_rng(3).integers(1, 4, size=len(X))
    y = np.column_stack([time, event])
    weighted = CoxPHRegressor().fit(X, y, sample_weight=weight)
    repeated = CoxPHRegressor().fit(np.repeat(X, weight, axis=0), np.repeat(y, weight, axis=0))
    np.testing.assert_allclose(weighted.coef_, repeated.coef_, rtol=1e-6)
    assert weighted.log_likelihood_ == pytest.approx(repeated.log_likelihood_, rel=1e-8)


def test_structured_targets_in_scikit_survival_layout():
    X, time, event = _heart()
    y = np.empty(len(time), dtype=[("event", "?"), ("time", "f8")])  # Surv.from_arrays' layout
    y["event"], y["time"] = event == 1, time
    from_columns = CoxPHRegressor().fit(X, np.column_stack([time, event]))
    from_fields = CoxPHRegressor().fit(X, y)
    np.testing.assert_allclose(from_fields.coef_, from_columns.coef_, rtol=1e-10)
    assert from_fields.score(X, y) == from_columns.score(X, np.column_stack([time, event]))


def test_concordance_index_by_hand():
    time = np.array([1.0, 2.0, 3.0, 4.0, 4.0])
    event = np.array([1, 0, 1, 1, 0])
    risk = np.array([0.9, 0.5, 0.5, 0.1, 0.1])
    # comparable (i had an event before j's time): (0,1) (0,2) (0,3) (0,4) (2,3) (2,4);
    # concordant: all four of 0's, and 2 over 3 and 4: 6 of 6. Sample 3 (t=4) has no later one.
    assert concordance_index(time, event, risk) == 1.0
    assert concordance_index(time, event, -risk) == 0.0
    # equal risks count one half: 0 ties with 1 and 2, the other 4 pairs concordant -> 5 of 6
    assert concordance_index(time, event, [0.5, 0.5, 0.5, 0.1, 0.1]) == pytest.approx(5 / 6)


def test_concordance_index_equals_a_count_over_all_pairs():
    _, time, event = _tied(seed=4, n=30)
    risk = np.random.default_rng(5).normal(size=30).round(1)  # with ties in risk
    concordant = pairs = 0.0
    for i in range(30):
        for j in range(30):
            if event[i] == 1 and time[i] < time[j]:
                pairs += 1
                concordant += 1.0 if risk[i] > risk[j] else 0.5 if risk[i] == risk[j] else 0.0
    assert concordance_index(time, event, risk) == pytest.approx(concordant / pairs, rel=1e-14)


def test_score_clone_pickle_and_grid_search():
    X, time, event = _tied(seed=6, n=80)
    y = np.column_stack([time, event])
    est = CoxPHRegressor(alpha=0.01).fit(X, y)
    assert est.score(X, y) == concordance_index(time, event, X @ est.coef_)
    assert est.score(X, y) > 0.6
    np.testing.assert_array_equal(pickle.loads(pickle.dumps(est)).predict(X), est.predict(X))
    np.testing.assert_allclose(clone(est).fit(X, y).coef_, est.coef_, rtol=1e-10)
    search = GridSearchCV(CoxPHRegressor(), {"alpha": [0.0, 0.1]}, cv=3).fit(X, y)
    assert search.best_params_["alpha"] in (0.0, 0.1)


@pytest.mark.parametrize(
    "y, message",
    [
        (np.column_stack([[1.0, 2.0, 3.0], [1, 2, 0]]), r"must hold 1 \(event\) or 0"),
        (np.column_stack([[1.0, 2.0, 3.0], [0, 0, 0]]), "no events"),
        (np.array([1.0, 2.0, 3.0]), r"two columns \[time, event\]"),
        (np.column_stack([[1.0, 2.0, 3.0], [1, 0, 1], [1, 1, 1]]), r"two columns \[time, event\]"),
        (np.zeros(3, dtype=[("time", "f8"), ("status", "f8")]), "a boolean event indicator"),
    ],
)
def test_bad_targets_are_named(y, message):
    with pytest.raises(ValueError, match=message):
        CoxPHRegressor().fit(np.arange(3.0)[:, None], y)


@pytest.mark.cbackend
def test_the_c_backend_matches_statsmodels():
    """What users run: the loss (argsort, cumulative sum, searchsorted) compiled to C."""
    X, time, event = _heart()
    reference = _reference(X, time, event)
    est = CoxPHRegressor().fit(X, np.column_stack([time, event]))
    np.testing.assert_allclose(est.coef_, reference.params, rtol=1e-6)
    assert est.log_likelihood_ == pytest.approx(reference.llf, rel=1e-6)
