"""optimizer="adam" / "sgd" with backend="jax": the whole step jitted, the data on the device.

The reference is the C backend's stochastic fit with the same seed (itself checked against
hand-written numpy updates and scikit-learn's MLP in test_stochastic.py), and once a hand-written
numpy Adam directly: the same trajectory to 1e-10 in float64.
"""

import threading
import warnings

import numpy as np
import pytest
import scipy.sparse
from sklearn.exceptions import ConvergenceWarning

import skautodiff
from skautodiff import models, pytree
from skautodiff.backends.jax import compile_counts
from skautodiff.estimators import AutodiffRegressor

jax = pytest.importorskip("jax")


def squared_error(params, X, y, sample_weight=None):
    residual = X @ params["w"] + params["b"] - y
    if sample_weight is None:
        return np.mean(residual**2)
    return np.sum(sample_weight * residual**2) / np.sum(sample_weight)


def median_error(params, X, y):
    """Not row-wise (a median over the rows): padding would change it."""
    return np.median(np.abs(X @ params["w"] + params["b"] - y)) + np.mean(params["w"] ** 2)


def linear_init(X, y, rng):
    return {"w": rng.normal(size=X.shape[1]), "b": 0.0}


def linear_predict(params, X):
    return X @ params["w"] + params["b"]


def regression_data(rows=70, features=4, seed=0, dtype=np.float64):
    rng = np.random.default_rng(seed)
    X = rng.normal(size=(rows, features))
    y = X @ np.arange(1.0, features + 1) + 0.5 + 0.1 * rng.normal(size=rows)
    return X.astype(dtype), y.astype(dtype)


def classification_data(rows=150, seed=0):
    rng = np.random.default_rng(seed)
    X = rng.normal(size=(rows, 5))
    return X, (X[:, 0] + X[:, 1] ** 2 > 0.8).astype(int) + (X[:, 2] > 0.5)


def both(make, fit):
    """The C and the JAX estimator from `make(backend)`, each fitted by `fit(estimator)`."""
    with warnings.catch_warnings():
        warnings.simplefilter("ignore", ConvergenceWarning)
        return [fit(make(backend)) for backend in ("c", "jax")]


def assert_same_fit(c, jx, rtol=1e-10):
    for a, b in zip(pytree.flatten(c.params_)[0], pytree.flatten(jx.params_)[0]):
        assert np.asarray(a).dtype == np.asarray(b).dtype
        np.testing.assert_allclose(b, a, rtol=rtol, atol=rtol)
    np.testing.assert_allclose(jx.loss_curve_, c.loss_curve_, rtol=rtol)
    assert jx.n_iter_ == c.n_iter_ and jx.t_ == c.t_
    for a, b in zip(c._optimizer_slots, jx._optimizer_slots):
        np.testing.assert_allclose(b, a, rtol=rtol, atol=rtol)


def step_compiles(label):
    return sum(n for name, n in compile_counts().items() if name.startswith(label))


@pytest.mark.parametrize(
    "settings",
    [
        {"optimizer": "adam"},
        pytest.param(
            {"optimizer": "sgd", "nesterovs_momentum": True, "learning_rate": "invscaling"},
            marks=pytest.mark.slow,
        ),
        pytest.param(
            {"optimizer": "sgd", "nesterovs_momentum": False, "shuffle": False},
            marks=pytest.mark.slow,
        ),
    ],
)
def test_mlp_fit_equals_the_c_backend(settings):
    X, y = classification_data()
    kw = dict(hidden_layer_sizes=(7,), batch_size=32, max_iter=6, random_state=3)
    c, jx = both(
        lambda b: models.MLPClassifier(backend=b, learning_rate_init=0.01, **kw, **settings),
        lambda est: est.fit(X, y),
    )
    assert_same_fit(c, jx)
    np.testing.assert_array_equal(jx.predict(X), c.predict(X))


def test_one_compilation_for_a_fit_whose_last_batch_is_smaller():
    """150 rows in batches of 32: four full batches and one of 22 share one XLA compilation, and a
    second fit on 145 rows (the same row bucket, 160) compiles nothing more."""
    X, y = classification_data()

    def weighted(params, X, y, sample_weight=None):  # a loss of its own: its own label
        return squared_error(params, X, y, sample_weight)

    make = lambda: AutodiffRegressor(  # noqa: E731
        weighted,
        linear_init,
        linear_predict,
        optimizer="adam",
        batch_size=32,
        max_iter=3,
        random_state=0,
        backend="jax",
    )
    label = "step:adam of test_one_compilation_for_a_fit_whose_last_batch_is_smaller"
    before = step_compiles(label)
    with warnings.catch_warnings():
        warnings.simplefilter("ignore", ConvergenceWarning)
        make().fit(X, y.astype(float))
        assert step_compiles(label) - before == 1
        make().fit(X[:145], y[:145].astype(float))
        assert step_compiles(label) - before == 1


def test_weights_bounds_and_learning_rate_schedules_equal_the_c_backend():
    X, y = regression_data(rows=90)
    w = np.random.default_rng(1).uniform(0.5, 2.0, size=len(y))
    kw = dict(optimizer="sgd", batch_size=16, max_iter=5, random_state=0, learning_rate_init=0.01)
    for extra in (
        {"learning_rate": "adaptive", "n_iter_no_change": 1, "tol": 10.0},
        {"learning_rate": lambda step: 0.02 / (1 + step)},
    ):
        c, jx = both(
            lambda b, extra=extra: AutodiffRegressor(
                squared_error,
                linear_init,
                linear_predict,
                backend=b,
                bounds={"w": (-np.inf, 2.0), "b": (0.0, 0.3)},
                **kw,
                **extra,
            ),
            lambda est: est.fit(X, y, sample_weight=w),
        )
        assert_same_fit(c, jx)
        assert jx.params_["w"].max() <= 2.0 and 0.0 <= jx.params_["b"] <= 0.3


def test_partial_fit_continues_like_the_c_backend():
    X, y = classification_data(rows=120)

    def fit(est):
        for part in np.array_split(np.arange(len(y)), 3):
            est.partial_fit(X[part], y[part], classes=[0, 1, 2])
        return est

    c, jx = both(
        lambda b: models.MLPClassifier(
            hidden_layer_sizes=(5,), optimizer="adam", batch_size=16, random_state=0, backend=b
        ),
        fit,
    )
    assert_same_fit(c, jx)
    assert jx.t_ == 120 and len(jx.loss_curve_) == 3


def test_early_stopping_equals_the_c_backend():
    X, y = classification_data(rows=200)
    c, jx = both(
        lambda b: models.MLPClassifier(
            hidden_layer_sizes=(6,),
            optimizer="adam",
            batch_size=24,
            learning_rate_init=0.05,
            early_stopping=True,
            n_iter_no_change=2,
            max_iter=30,
            random_state=0,
            backend=b,
        ),
        lambda est: est.fit(X, y),
    )
    assert_same_fit(c, jx)
    assert jx.n_iter_ < 30
    np.testing.assert_allclose(jx.validation_scores_, c.validation_scores_, rtol=1e-12)


def test_a_loss_that_padding_would_change_compiles_per_batch_size_and_stays_exact():
    X, y = regression_data(rows=50)
    before = step_compiles("step:adam of median_error")
    for batch_size in (16, 24):  # 3 x 16 + 2, then 2 x 24 + 2: the 2-row step is not shared
        c, jx = both(
            lambda b, size=batch_size: AutodiffRegressor(
                median_error,
                linear_init,
                linear_predict,
                optimizer="adam",
                batch_size=size,
                max_iter=3,
                random_state=0,
                learning_rate_init=0.05,
                backend=b,
            ),
            lambda est: est.fit(X, y),
        )
        assert_same_fit(c, jx)
    # batches of 16 and the last of 2, then of 24 and of 2 (batch size 24's own function)
    assert step_compiles("step:adam of median_error") - before == 4


def test_float32_data_trains_in_float32_on_the_device():
    X, y = regression_data(rows=64, dtype=np.float32)
    before = jax.config.jax_enable_x64
    c, jx = both(
        lambda b: AutodiffRegressor(
            squared_error,
            linear_init,
            linear_predict,
            optimizer="adam",
            batch_size=20,
            max_iter=4,
            random_state=0,
            learning_rate_init=0.05,
            backend=b,
        ),
        lambda est: est.fit(X, y),
    )
    assert jx.params_["w"].dtype == np.float32
    assert all(s.dtype == np.float32 for s in jx._optimizer_slots[:-1])  # (Adam's step count: f64)
    assert_same_fit(c, jx, rtol=2e-5)  # float32 rounding: XLA and C sum in different orders
    assert jax.config.jax_enable_x64 == before  # the user's global flag is left alone


def test_functional_minimize_is_full_batch_adam_in_numpy_on_jax():
    """An independent reference: hand-derived gradients and Adam written in numpy."""
    X, y = regression_data(rows=64)
    x0 = {"w": np.zeros(4), "b": 0.0}
    result = skautodiff.minimize(
        squared_error,
        x0,
        args=(X, y),
        method="adam",
        backend="jax",
        options={"batch_size": 64, "shuffle": False, "max_iter": 7, "learning_rate_init": 0.1},
    )
    w, b = np.zeros(4), 0.0
    m, v = [np.zeros(4), 0.0], [np.zeros(4), 0.0]
    for t in range(1, 8):
        r = X @ w + b - y
        grads = [2 * X.T @ r / len(y), 2 * np.mean(r)]
        m = [0.9 * mi + 0.1 * g for mi, g in zip(m, grads)]
        v = [0.999 * vi + 0.001 * g * g for vi, g in zip(v, grads)]
        rate = 0.1 * np.sqrt(1 - 0.999**t) / (1 - 0.9**t)
        w, b = [p - rate * mi / (np.sqrt(vi) + 1e-8) for p, mi, vi in zip((w, b), m, v)]
    np.testing.assert_allclose(result.x["w"], w, rtol=1e-12)
    np.testing.assert_allclose(result.x["b"], b, rtol=1e-12)
    assert type(result.x["b"]) is float and result.nit == 7
    assert x0["w"].sum() == 0  # the caller's parameters are not written


def test_data_cross_once_per_fit_and_the_state_stays_on_the_device(monkeypatch):
    """Every step gets the data, the order of the rows and the state as device arrays; only the
    batch number and the hyperparameters come from numpy."""
    from skautodiff.backends import jax_steps

    seen, make = [], jax_steps._Fit._make

    def spying(self, *args):
        jitted = make(self, *args)

        def call(state, data, others, limits, count, order, k, hyper):
            seen.append((state, data, order, k, hyper))
            return jitted(state, data, others, limits, count, order, k, hyper)

        return call

    monkeypatch.setattr(jax_steps._Fit, "_make", spying)
    X, y = regression_data(rows=40)

    def fresh_loss(params, X, y):  # not compiled before: the spy sees its jitted step made
        return squared_error(params, X, y)

    AutodiffRegressor(
        fresh_loss,
        linear_init,
        linear_predict,
        optimizer="adam",
        batch_size=16,
        max_iter=2,
        random_state=0,
        backend="jax",
    ).fit(X, y)
    assert len(seen) == 6  # 2 epochs x 3 batches
    for state, data, order, k, hyper in seen:
        assert all(isinstance(a, jax.Array) for a in [*state, *data.values(), order])
        assert isinstance(k, np.integer) and isinstance(hyper, np.ndarray)
    assert seen[0][1][0] is seen[-1][1][0]  # the same device array of X all fit long


def test_fits_in_threads_keep_their_own_state_on_jax():
    X, y = regression_data(rows=96)

    def fit(seed):
        return AutodiffRegressor(
            squared_error,
            linear_init,
            linear_predict,
            optimizer="sgd",
            batch_size=8,
            learning_rate_init=0.01,
            max_iter=3,
            random_state=seed,
            backend="jax",
        ).fit(X, y)

    with warnings.catch_warnings():
        warnings.simplefilter("ignore", ConvergenceWarning)
        serial = [fit(seed).params_["w"] for seed in range(3)]
        results = {}

        def run(seed):
            results[seed] = fit(seed).params_["w"]

        threads = [threading.Thread(target=run, args=(seed,)) for seed in range(3)]
        for thread in threads:
            thread.start()
        for thread in threads:
            thread.join()
    for seed in range(3):
        np.testing.assert_array_equal(results[seed], serial[seed])


def test_sparse_data_train_on_the_c_backend_with_a_warning():
    X, y = regression_data(rows=40)
    sparse = scipy.sparse.csr_matrix(X)
    kw = dict(optimizer="adam", batch_size=16, max_iter=2, random_state=0)
    with warnings.catch_warnings():
        warnings.simplefilter("ignore", ConvergenceWarning)
        with pytest.warns(UserWarning, match="scipy.sparse .*C backend"):
            jx = AutodiffRegressor(
                squared_error, linear_init, linear_predict, backend="jax", **kw
            ).fit(sparse, y)
        c = AutodiffRegressor(squared_error, linear_init, linear_predict, **kw).fit(sparse, y)
    np.testing.assert_array_equal(jx.params_["w"], c.params_["w"])


def test_a_float32_reduction_stays_float32_on_jax():
    """PyTensor's JAX reduction returned its float64 accumulator's dtype; the backend casts it."""
    X = np.linspace(0, 1, 12, dtype=np.float32).reshape(4, 3)
    f = skautodiff.Function(lambda X: np.sum(X, axis=0) - X[0], backend="jax")
    value = f(X)
    assert value.dtype == np.float32
    np.testing.assert_allclose(value, X.sum(axis=0) - X[0], rtol=1e-6)
