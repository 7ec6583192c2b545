"""What the loss, init_params and params_ see: targets of one or several columns, structured
targets, and params_ returned in the kinds of leaves init_params gave.

References: numpy's least squares (the closed form of the multi-output objective) and the
loss's own arguments, recorded as the user's functions receive them.
"""

import pickle
import warnings

import numpy as np
import pytest
from sklearn.exceptions import DataConversionWarning

from skautodiff.estimators import AutodiffClassifier, AutodiffRegressor


def squared_error(params, X, y):
    return np.mean((X @ params["w"] + params["b"] - y) ** 2)


def init_like_target(X, y, rng):
    """Coefficients shaped by y: (p,) for a 1-D y, (p, k) for an (n, k) one."""
    return {"w": np.zeros((X.shape[1], *y.shape[1:])), "b": np.zeros(y.shape[1:])}


def predict_linear(params, X):
    return X @ params["w"] + params["b"]


def _data(n=40, p=3, k=2, seed=0):
    rng = np.random.default_rng(seed)
    X = rng.normal(size=(n, p))
    Y = X @ rng.normal(size=(p, k)) + rng.normal(size=k) + 0.1 * rng.normal(size=(n, k))
    return X, Y


def _least_squares(X, Y):
    design = np.column_stack([X, np.ones(len(X))])
    coef = np.linalg.lstsq(design, Y, rcond=None)[0]
    return coef[:-1], coef[-1]


def test_multi_output_regression_matches_least_squares():
    X, Y = _data()
    est = AutodiffRegressor(
        loss=squared_error,
        init_params=init_like_target,
        predict_fn=predict_linear,
        multi_output=True,
        tol=1e-12,
    ).fit(X, Y)
    w, b = _least_squares(X, Y)
    np.testing.assert_allclose(est.params_["w"], w, rtol=1e-6, atol=1e-8)
    np.testing.assert_allclose(est.params_["b"], b, rtol=1e-6, atol=1e-8)
    assert est.predict(X).shape == Y.shape
    assert est.__sklearn_tags__().target_tags.multi_output


def test_a_two_column_target_without_multi_output_says_how_to_allow_it():
    X, Y = _data()
    est = AutodiffRegressor(
        loss=squared_error, init_params=init_like_target, predict_fn=predict_linear
    )
    with pytest.raises(ValueError, match=r"shape \(40, 2\).*multi_output=True"):
        est.fit(X, Y)
    assert not est.__sklearn_tags__().target_tags.multi_output


def test_a_column_target_is_flattened_without_multi_output_and_kept_with_it():
    X, Y = _data(k=1)
    seen = []

    def recording_init(X, y, rng):
        seen.append(y.shape)
        return init_like_target(X, y, rng)

    with pytest.warns(DataConversionWarning):
        AutodiffRegressor(
            loss=squared_error, init_params=recording_init, predict_fn=predict_linear
        ).fit(X, Y)
    AutodiffRegressor(
        loss=squared_error, init_params=recording_init, predict_fn=predict_linear, multi_output=True
    ).fit(X, Y)
    assert seen == [(40,), (40, 1)]


class SurvivalColumns(AutodiffRegressor):
    """A subclass declaring two-column targets in its class body (time, event)."""

    multi_output = True

    def __init__(self):
        pass

    def init_params(self, X, y, rng):
        self.seen_init = (y.shape, y.dtype)
        return {"log_rate": 0.0}

    def loss(self, params, X, y):  # exponential survival: the MLE is events / total time
        time, event = y[:, 0], y[:, 1]
        return -np.sum(event * params["log_rate"] - np.exp(params["log_rate"]) * time)

    def predict_fn(self, params, X):
        return np.full(len(X), np.exp(params["log_rate"]))


def test_a_subclass_receives_two_columns_and_structured_targets_become_columns():
    rng = np.random.default_rng(1)
    X = rng.normal(size=(50, 2))
    time, event = rng.exponential(2.0, size=50), rng.random(50) < 0.7
    expected_rate = event.sum() / time.sum()
    columns = SurvivalColumns().fit(X, np.column_stack([time, event]))
    assert columns.seen_init == ((50, 2), np.float64)
    structured = np.empty(50, dtype=[("time", "f8"), ("event", "?")])
    structured["time"], structured["event"] = time, event
    before = structured.copy()
    from_fields = SurvivalColumns().fit(X, structured)
    assert np.array_equal(structured, before)  # not mutated
    for est in (columns, from_fields):
        assert np.exp(est.params_["log_rate"]) == pytest.approx(expected_rate, rel=1e-6)


def test_a_structured_target_with_a_text_field_is_refused_by_name():
    X = np.zeros((4, 1))
    y = np.zeros(4, dtype=[("time", "f8"), ("group", "U5")])
    with pytest.raises(ValueError, match="field 'group' has dtype <U5"):
        SurvivalColumns().fit(X, y)


def test_what_the_loss_and_init_params_receive_for_each_target_kind():
    """The table in doc/estimators.md, checked."""
    received = {}

    def recording_loss(params, X, y):
        received.setdefault("loss", (y.shape, y.dtype))
        return np.sum(params["w"] ** 2)

    def recording_init(X, y, rng):
        received["init"] = (y.shape, y.dtype, np.unique(y).tolist())
        return {"w": np.ones(2)}

    X = np.random.default_rng(0).normal(size=(6, 2))
    expected = {
        "1-D regression": (AutodiffRegressor, {}, np.arange(6.0), (6,), np.float64, None),
        "float32 data": (AutodiffRegressor, {}, np.arange(6.0), (6,), np.float32, None),
        "2-D regression": (
            AutodiffRegressor,
            {"multi_output": True},
            np.ones((6, 3)),
            (6, 3),
            np.float64,
            [1.0],
        ),
        "index": (AutodiffClassifier, {}, np.array(list("abcabc")), (6,), np.intp, [0, 1, 2]),
        "onehot": (
            AutodiffClassifier,
            {"target_encoding": "onehot"},
            np.array(list("abcabc")),
            (6, 3),
            np.float64,
            [0.0, 1.0],
        ),
        "sign": (
            AutodiffClassifier,
            {"target_encoding": "sign"},
            np.array(list("abbaba")),
            (6,),
            np.float64,
            [-1.0, 1.0],
        ),
    }
    for kind, (cls, options, y, shape, dtype, values) in expected.items():
        received.clear()
        data = X.astype(np.float32) if kind == "float32 data" else X
        function = {"predict_fn": np.sum} if cls is AutodiffRegressor else {"decision_fn": np.sum}
        cls(loss=recording_loss, init_params=recording_init, **function, **options).fit(data, y)
        assert received["init"][:2] == (shape, dtype), kind
        assert received["loss"] == (shape, dtype), kind
        if values is not None:
            assert received["init"][2] == values, kind


def init_of_many_kinds(X, y, rng):
    return {
        "w": np.zeros(X.shape[1]),
        "b": 0.0,
        "scale": np.float64(1.0),
        "nested": [1, (np.zeros(()), {"c": 2.0})],
    }


def loss_of_many_kinds(params, X, y):
    c, d = params["nested"][0], params["nested"][1][1]["c"]
    return (
        squared_error(params, X, y)
        + (params["scale"] - 3) ** 2
        + (c - 4) ** 2
        + (params["nested"][1][0] - 5) ** 2
        + (d + 1) ** 2
    )


@pytest.mark.parametrize("dtype", [np.float64, np.float32])
def test_params_come_back_in_the_kinds_init_params_gave(dtype):
    X, Y = _data(k=1)
    X, y = X.astype(dtype), Y[:, 0].astype(dtype)
    est = AutodiffRegressor(
        loss=loss_of_many_kinds,
        init_params=init_of_many_kinds,
        predict_fn=predict_linear,
        tol=1e-10,
    ).fit(X, y)
    params = est.params_
    assert type(params["b"]) is float  # a Python float stays one
    assert type(params["nested"][0]) is float  # an int starting value comes back a float
    assert type(params["nested"][1][1]["c"]) is float
    assert type(params["scale"]) is np.dtype(dtype).type  # a numpy scalar stays a numpy scalar
    assert type(params["nested"][1][0]) is np.ndarray and params["nested"][1][0].shape == ()
    assert isinstance(params["nested"], list) and isinstance(params["nested"][1], tuple)
    assert params["w"].dtype == dtype
    assert (
        float(dtype(params["b"])) == params["b"]
    )  # fitted in the data's dtype: float32 data, a float32 value
    rtol = 1e-6 if dtype == np.float64 else 1e-4
    assert params["scale"] == pytest.approx(3, rel=rtol)
    assert params["nested"][0] == pytest.approx(4, rel=rtol)
    assert params["nested"][1][1]["c"] == pytest.approx(-1, rel=rtol)
    # a warm start continues from params_ and keeps its kinds
    est.set_params(warm_start=True).fit(X, y)
    assert type(est.params_["b"]) is float and type(est.params_["scale"]) is np.dtype(dtype).type
    assert type(pickle.loads(pickle.dumps(est)).params_["b"]) is float


def test_predictions_are_unchanged_by_float_params():
    X, Y = _data(k=1)
    y = Y[:, 0]
    est = AutodiffRegressor(
        loss=squared_error,
        init_params={"w": np.zeros(3), "b": 0.0},
        predict_fn=predict_linear,
        tol=1e-12,
    ).fit(X, y)
    w, b = _least_squares(X, y)
    assert type(est.params_["b"]) is float
    assert est.params_["b"] == pytest.approx(b, rel=1e-6)
    with warnings.catch_warnings():
        warnings.simplefilter("error")
        np.testing.assert_allclose(est.predict(X), X @ w + b, rtol=1e-6)
