"""backend="jax": the functional API, minimize and the estimators through PyTensor's JAX linker.

References are independent of skautodiff: hand-derived gradients and Hessians of the logistic
loss, and the C (here Python-tier) backend's fit of the same objective. Row buckets are checked
against the exact-shape compilation at several data sizes.
"""

import sys
import threading
import warnings

import numpy as np
import pytest
import scipy.sparse

import skautodiff
from skautodiff import backends, models
from skautodiff.backends import rows as row_buckets
from skautodiff.backends.jax import UnsupportedOnJax, compile_counts  # (imports jax lazily)
from skautodiff.compile import Call

jax = pytest.importorskip("jax")


def logistic(params, X, y, alpha=0.1):
    z = X @ params["w"] + params["b"]
    return np.mean(np.logaddexp(0, -y * z)) + alpha * np.sum(params["w"] ** 2)


def logistic_by_hand(params, X, y, alpha=0.1):
    """(value, gradient, Hessian over [w, b]) derived by hand."""
    z = X @ params["w"] + params["b"]
    s = 1 / (1 + np.exp(y * z))  # sigmoid(-y z)
    n = len(y)
    value = np.mean(np.logaddexp(0, -y * z)) + alpha * np.sum(params["w"] ** 2)
    grad = {"w": -(X.T @ (y * s)) / n + 2 * alpha * params["w"], "b": -np.sum(y * s) / n}
    A = np.column_stack([X, np.ones(n)])
    H = A.T @ (A * (s * (1 - s))[:, None]) / n
    H[:-1, :-1] += 2 * alpha * np.eye(X.shape[1])
    return value, grad, H


def _data(n=60, d=4, seed=0, dtype=np.float64):
    rng = np.random.default_rng(seed)
    X = rng.standard_normal((n, d)).astype(dtype)
    y = np.where(X @ rng.standard_normal(d) + 0.3 * rng.standard_normal(n) > 0, 1.0, -1.0).astype(
        dtype
    )
    params = {"w": (0.1 * rng.standard_normal(d)).astype(dtype), "b": dtype(0.2)}
    return params, X, y


def test_backend_names_are_validated_in_one_place():
    with pytest.raises(ValueError, match='backend must be "c".* or "jax"'):
        skautodiff.value_and_grad(logistic, backend="gpu")
    with pytest.raises(ValueError, match="got 'tpu'"):
        skautodiff.minimize(logistic, _data()[0], args=_data()[1:], backend="tpu")
    with pytest.raises(ValueError, match="backend must be"):
        models.LogisticRegression(backend="cuda").fit(*_data()[1:])
    assert backends.check("JAX") == "jax"


def test_without_jax_the_error_says_how_to_install_it(monkeypatch):
    monkeypatch.setitem(sys.modules, "jax", None)  # `import jax` raises ImportError
    with pytest.raises(ImportError, match=r'pip install "skautodiff\[jax\]"'):
        skautodiff.Function(logistic, backend="jax")
    with pytest.raises(ImportError, match="skautodiff.jax"):
        models.Ridge(backend="jax").fit(*_data()[1:])
    skautodiff.Function(logistic)(*_data())  # the C backend does not need it


def test_every_estimator_has_the_backend_parameter():
    from skautodiff.estimators import AutodiffClassifier, AutodiffRegressor

    classes = [AutodiffRegressor, AutodiffClassifier] + [
        getattr(models, name) for name in models.__all__ if isinstance(getattr(models, name), type)
    ]
    for cls in classes:
        assert cls().get_params()["backend"] == "c", cls.__name__
        assert cls(backend="jax").get_params()["backend"] == "jax", cls.__name__


def test_value_gradient_and_hessian_vector_match_hand_derived_ones():
    params, X, y = _data()
    value, grad, H = logistic_by_hand(params, X, y)
    v, g = skautodiff.value_and_grad(logistic, wrt="params", backend="jax")(params, X, y)
    assert v == pytest.approx(value, rel=1e-12)
    np.testing.assert_allclose(g["w"], grad["w"], rtol=1e-10, atol=1e-14)
    assert g["b"] == pytest.approx(grad["b"], rel=1e-10)
    assert skautodiff.Function(logistic, backend="jax")(params, X, y) == pytest.approx(
        value, rel=1e-12
    )
    g2 = skautodiff.Gradient(logistic, wrt="params", backend="jax")(params, X, y)
    np.testing.assert_allclose(g2["w"], grad["w"], rtol=1e-10, atol=1e-14)
    vec = {"w": np.arange(1.0, 5.0), "b": np.float64(-1.0)}
    hv = skautodiff.HessianVector(logistic, wrt="params", backend="jax")(params, X, y, vectors=vec)
    expected = H @ np.append(vec["w"], vec["b"])
    np.testing.assert_allclose(np.append(hv["w"], hv["b"]), expected, rtol=1e-10, atol=1e-14)
    g["w"][0] = 123.0  # results are the caller's own, writable arrays


def quadratic_form_of_inverse(s, A, y):
    return 0.5 * y.dot(np.linalg.inv(A + np.exp(s) * np.eye(len(y)))).dot(y)


def test_products_of_one_column_operands_compile_on_jax():
    """The gradient of y K^-1 y holds products of two one-column operands; the JAX-only rewrite
    X.T @ v -> (v.T @ X).T once turned them into each other forever (compiling never ended)."""
    rng = np.random.default_rng(3)
    B = rng.normal(size=(5, 5))
    A, y, s = B @ B.T, rng.normal(size=5), np.float64(0.3)
    value, grad = skautodiff.value_and_grad(quadratic_form_of_inverse, wrt="s", backend="jax")(
        s, A, y
    )
    Kinv = np.linalg.inv(A + np.exp(s) * np.eye(5))
    assert value == pytest.approx(0.5 * y @ Kinv @ y, rel=1e-12)
    # d/ds of 0.5 y'K^-1 y with dK/ds = exp(s) I: -0.5 exp(s) y'K^-2 y
    assert grad == pytest.approx(-0.5 * np.exp(s) * y @ Kinv @ Kinv @ y, rel=1e-10)


def product(x):
    return np.prod(x)


@pytest.mark.parametrize("x", [[1.5, -2.0, 0.5, 3.0], [1.5, 0.0, 0.5, 3.0], [0.0, 2.0, 0.0, 1.0]])
def test_the_gradient_of_a_product_runs_on_jax(x):
    """np.prod's gradient uses PyTensor's product of nonzero entries, which PyTensor 3.0.7 has no
    JAX implementation of (skautodiff registers one): against the hand-derived gradient."""
    x = np.array(x)
    value, grad = skautodiff.value_and_grad(product, wrt="x", backend="jax")(x)
    by_hand = [np.prod(np.delete(x, i)) for i in range(len(x))]  # d/dx_i prod(x)
    assert value == pytest.approx(np.prod(x), abs=1e-15)
    np.testing.assert_allclose(grad, by_hand, rtol=1e-12, atol=1e-15)


def test_float32_runs_in_float32_and_the_global_jax_flag_is_left_alone():
    before = jax.config.jax_enable_x64
    params, X, y = _data(dtype=np.float32)
    v, g = skautodiff.value_and_grad(logistic, wrt="params", backend="jax")(params, X, y)
    assert np.asarray(v).dtype == np.float32 and g["w"].dtype == np.float32
    value, grad, _ = logistic_by_hand(*_data())
    assert float(v) == pytest.approx(value, rel=1e-5)
    np.testing.assert_allclose(g["w"], grad["w"], rtol=1e-4, atol=1e-6)
    assert jax.config.jax_enable_x64 == before


@pytest.mark.slow
def test_minimize_and_estimators_fit_as_the_default_backend():
    params, X, y = _data(n=120)
    on_c = skautodiff.minimize(logistic, params, args=(X, y))
    on_jax = skautodiff.minimize(logistic, params, args=(X, y), backend="jax", rows=(1, 2))
    np.testing.assert_allclose(on_jax.x["w"], on_c.x["w"], rtol=1e-6, atol=1e-8)
    assert on_jax.fun == pytest.approx(on_c.fun, rel=1e-10)
    # Newton-CG uses Hessian-vector products
    newton = skautodiff.minimize(logistic, params, args=(X, y), method="Newton-CG", backend="jax")
    np.testing.assert_allclose(newton.x["w"], on_c.x["w"], rtol=1e-4, atol=1e-6)
    labels = (y > 0).astype(int)
    for make in (
        lambda b: models.LogisticRegression(C=2.0, backend=b),
        lambda b: models.MLPClassifier(
            hidden_layer_sizes=(4,), activation="tanh", max_iter=30, random_state=0, backend=b
        ),
    ):
        with warnings.catch_warnings():
            warnings.simplefilter("ignore")  # the MLP stops at max_iter
            c, j = make("c").fit(X, labels), make("jax").fit(X, labels)
        assert j.loss_ == pytest.approx(c.loss_, rel=1e-7)
        np.testing.assert_array_equal(j.predict(X), c.predict(X))


def test_data_crosses_to_the_device_once_per_fit(monkeypatch):
    from skautodiff.backends import jax as jax_backend

    placed, evaluations, unpacked = [], [], []
    to_device, flat_call = jax_backend.Compiled.to_device, jax_backend._Flat.__call__

    def spy_to_device(self, values):
        placed.append(len(values))
        return to_device(self, values)

    def spy_flat(self, flat):
        evaluations.append(
            (type(flat).__module__, {type(v).__module__.split(".")[0] for v in self._others})
        )
        return flat_call(self, flat)

    monkeypatch.setattr(jax_backend.Compiled, "to_device", spy_to_device)
    monkeypatch.setattr(jax_backend._Flat, "__call__", spy_flat)
    monkeypatch.setattr(jax_backend.Compiled, "__call__", lambda *a: unpacked.append(a))
    params, X, y = _data(n=80)
    result = skautodiff.minimize(logistic, params, args=(X, y), backend="jax", rows=("X", "y"))
    assert len(placed) == 1  # X, y (padded), alpha, the row count and mask: once
    # every evaluation: one flat numpy vector crosses, the data are device arrays already
    assert result.nfev == len(evaluations) > 3
    assert all(module == "numpy" and others <= {"jaxlib", "jax"} for module, others in evaluations)
    assert not unpacked  # the unpacked function never ran: XLA compiled the loss once
    c = skautodiff.minimize(logistic, params, args=(X, y))
    for name in params:
        np.testing.assert_allclose(result.x[name], c.x[name], rtol=1e-7, atol=1e-10)
    assert result.fun == pytest.approx(c.fun, rel=1e-12)


def branchy(params, X, y):
    if params["s"] > -10:  # a branch on a parameter's value: the trace has a guard
        return np.mean((X @ params["w"] - y) ** 2) + (params["s"] - 1) ** 2
    return np.mean(np.abs(X @ params["w"] - y)) + (params["s"] - 1) ** 2


calls = []


def noisy(params, X, y):
    calls.append(1)  # a side effect: every evaluation runs it natively once too
    return np.mean((X @ params["w"] - y) ** 2)


def test_minimize_with_guards_or_side_effects_on_jax_fits_as_the_default_backend():
    rng = np.random.default_rng(3)
    X = rng.standard_normal((70, 3))
    y = X @ np.array([1.0, 2.0, 3.0]) + 0.1 * rng.standard_normal(70)
    p0 = {"w": np.zeros(3), "s": np.array(0.0)}
    j = skautodiff.minimize(branchy, p0, args=(X, y), backend="jax", rows=(1, 2))
    c = skautodiff.minimize(branchy, p0, args=(X, y))
    assert j.success and j.fun == pytest.approx(c.fun, rel=1e-9)
    np.testing.assert_allclose(j.x["w"], np.linalg.lstsq(X, y, rcond=None)[0], rtol=1e-5)
    assert j.x["s"] == pytest.approx(1.0, rel=1e-5)
    # a second fit finds the guarded entry in the cache and takes the cache's path: same fit
    again = skautodiff.minimize(branchy, p0, args=(X, y), backend="jax", rows=(1, 2))
    assert again.fun == pytest.approx(j.fun, rel=1e-12) and again.nit == j.nit
    calls.clear()
    j = skautodiff.minimize(noisy, {"w": np.zeros(3)}, args=(X, y), backend="jax", rows=(1, 2))
    assert len(calls) == j.nfev
    np.testing.assert_allclose(j.x["w"], np.linalg.lstsq(X, y, rcond=None)[0], rtol=1e-6)


def test_functional_api_takes_device_arrays_without_transfer(monkeypatch):
    from skautodiff.backends import jax as jax_backend

    params, X, y = _data(n=50)
    value, grad, _ = logistic_by_hand(params, X, y)
    with jax_backend.x64():  # float64 on the device (JAX's default would make them float32)
        Xd, yd = jax.device_put(X), jax.device_put(y)
    received, original = [], jax_backend.Compiled.__call__

    def spy(self, *values):
        received.append(values)
        return original(self, *values)

    monkeypatch.setattr(jax_backend.Compiled, "__call__", spy)
    vg = skautodiff.value_and_grad(logistic, wrt="params", backend="jax")
    for _ in range(2):
        v, g = vg(params, Xd, yd)
        assert v == pytest.approx(value, rel=1e-12)
        np.testing.assert_allclose(g["w"], grad["w"], rtol=1e-10)
        assert g["b"] == pytest.approx(grad["b"], rel=1e-10)
    # the very arrays the caller placed reached the jitted function: nothing was transferred
    assert len(received) == 2
    assert all(any(v is Xd for v in vs) and any(v is yd for v in vs) for vs in received)
    # the C backend takes them too (copied to numpy at each call)
    v_c, g_c = skautodiff.value_and_grad(logistic, wrt="params")(params, Xd, yd)
    assert v_c == pytest.approx(value, rel=1e-12)
    np.testing.assert_allclose(g_c["w"], grad["w"], rtol=1e-10)


def test_minimize_takes_device_data_and_pads_it_on_the_device():
    from skautodiff.backends import jax as jax_backend

    params, X, y = _data(n=90)  # 90 rows: padded to a bucket of 96
    with jax_backend.x64():
        Xd, yd = jax.device_put(X), jax.device_put(y)
    padded = row_buckets.pad(Xd, 96)
    assert isinstance(padded, jax.Array) and padded.dtype == np.float64
    np.testing.assert_array_equal(np.asarray(padded), row_buckets.pad(X, 96))
    on_device = skautodiff.minimize(logistic, params, args=(Xd, yd), backend="jax", rows=(1, 2))
    on_host = skautodiff.minimize(logistic, params, args=(X, y), backend="jax", rows=(1, 2))
    assert on_device.fun == on_host.fun and on_device.nit == on_host.nit
    for name in params:
        np.testing.assert_array_equal(on_device.x[name], on_host.x[name])


def test_functional_api_reads_numpy_data_at_every_call():
    params, X, y = _data(n=50)
    vg = skautodiff.value_and_grad(logistic, wrt="params", backend="jax")
    X = X.copy()
    before = vg(params, X, y)
    X *= 2.0  # mutated in place between calls: the next call must see it
    value, grad, _ = logistic_by_hand(params, X, y)
    v, g = vg(params, X, y)
    assert v == pytest.approx(value, rel=1e-12) and v != pytest.approx(before[0], rel=1e-6)
    np.testing.assert_allclose(g["w"], grad["w"], rtol=1e-10)


def test_sparse_data_stays_on_the_c_backend_with_a_message():
    params, X, y = _data()
    Xs = scipy.sparse.csr_matrix(np.where(np.abs(X) > 1, X, 0))
    with pytest.warns(UserWarning, match=r"scipy.sparse.*runs on the C backend"):
        v, g = skautodiff.value_and_grad(logistic, wrt="params", backend="jax")(params, Xs, y)
    value, grad, _ = logistic_by_hand(params, Xs.toarray(), y)
    assert v == pytest.approx(value, rel=1e-12)
    np.testing.assert_allclose(g["w"], grad["w"], rtol=1e-10, atol=1e-14)


def _pytensor_older_than(version):
    import re

    import pytensor

    def numbers(text):
        return tuple(int(part) for part in re.findall(r"\d+", text)[:3])

    return numbers(pytensor.__version__) < numbers(version)


def test_an_unsupported_operation_is_refused_by_name():
    from scipy.special import log_ndtr

    def probit(w, X, y):
        return -np.sum(log_ndtr(y * (X @ w)))

    params, X, y = _data()
    if _pytensor_older_than("3.3.8"):  # 3.0.7 has no JAX erfcx (without tfp-nightly); 3.3.8 has
        with pytest.raises(UnsupportedOnJax, match=r'erfcx.*use backend="c"'):
            skautodiff.value_and_grad(probit, backend="jax")(params["w"], X, y)
    else:
        value, grad = skautodiff.value_and_grad(probit, wrt="w", backend="jax")(params["w"], X, y)
        z = y * (X @ params["w"])
        assert value == pytest.approx(-np.sum(log_ndtr(z)), rel=1e-12)
        # d/dz log Phi(z) = phi(z) / Phi(z)
        phi_over_cdf = np.exp(-(z**2) / 2 - log_ndtr(z)) / np.sqrt(2 * np.pi)
        np.testing.assert_allclose(grad, -X.T @ (y * phi_over_cdf), rtol=1e-10)

    def boolean_mask(w, X):
        return np.sum((X @ w)[X[:, 0] > 0] ** 2)

    with pytest.raises(UnsupportedOnJax, match=r"Subtensor.*NonConcreteBooleanIndexError"):
        skautodiff.value_and_grad(boolean_mask, backend="jax")(params["w"], X)


def test_threads_share_one_compiled_function():
    params, X, y = _data()
    vg = skautodiff.value_and_grad(logistic, wrt="params", backend="jax")
    expected = vg(params, X, y)
    results, errors = [], []

    def work(seed):
        try:
            p = {"w": params["w"] + seed, "b": params["b"]}
            results.append((seed, vg(p, X, y)[0]))
        except Exception as error:  # noqa: BLE001  (reported below, from the main thread)
            errors.append(error)

    threads = [threading.Thread(target=work, args=(s,)) for s in range(6)]
    for t in threads:
        t.start()
    for t in threads:
        t.join()
    assert not errors
    for seed, value in results:
        p = {"w": params["w"] + seed, "b": params["b"]}
        assert value == pytest.approx(logistic_by_hand(p, X, y)[0], rel=1e-12)
    assert vg(params, X, y)[0] == expected[0]


# ----------------------------------------------------------------- row buckets


def test_buckets_are_few_and_waste_at_most_an_eighth():
    sizes = {row_buckets.bucket(n) for n in range(800, 1000)}
    assert len(sizes) <= 4
    for n in (1, 5, 16, 17, 100, 801, 10_001, 1_000_003):
        b = row_buckets.bucket(n)
        assert n <= b <= max(n, n * 9 // 8 + 1)


def _row_call(fn, args, kwargs):
    call = Call(fn, args, kwargs, {"params"})
    rows = tuple(i for i, owner in enumerate(call.owners) if owner in ("X", "y", "sample_weight"))
    return call, rows


@pytest.mark.slow
@pytest.mark.parametrize(
    "model",
    [
        models.LogisticRegression(),
        models.Ridge(),
        models.PoissonRegressor(),
        models.HuberRegressor(),
        models.MLPClassifier(hidden_layer_sizes=(3,), activation="tanh"),
    ],
    ids=lambda m: type(m).__name__,
)
def test_padded_rows_change_neither_value_nor_gradient(model):
    rng = np.random.default_rng(1)
    for n, weighted in ((37, False), (41, True)):
        X = rng.standard_normal((n, 3))
        if isinstance(model, (models.LogisticRegression, models.MLPClassifier)):
            y = np.eye(3)[rng.integers(0, 3, n)]
        else:
            y = np.abs(rng.standard_normal(n)) + 0.1
        params = model.init_params(X, y, rng)
        kwargs = {"sample_weight": rng.random(n) + 0.5} if weighted else {}
        call, rows = _row_call(model.loss, (params, X, y), kwargs)
        _, exact = call.run("value_and_grad", backend="c")
        entry, padded = call.run("value_and_grad", backend="jax", rows=rows)
        fn = entry.function("value_and_grad", "jax", rows)
        assert fn.rows, "the model's loss is row-wise: it must be bucketed"
        padded_sizes = {shapes[rows[0]][0] for shapes in fn.shapes}  # (earlier tests' sizes too)
        assert row_buckets.bucket(n) in padded_sizes and n not in padded_sizes
        scale = max(np.max(np.abs(b)) for b in exact)  # round-off is relative to the largest
        for a, b in zip(padded, exact):
            np.testing.assert_allclose(a, b, rtol=1e-12, atol=1e-13 * scale)


def test_a_loss_that_is_not_row_wise_compiles_per_size_and_stays_exact():
    def trimmed(params, X, y):  # a median over the rows: padding would move it
        r = (X @ params["w"] + params["b"] - y) ** 2
        return np.median(r) + np.mean(r)

    rng = np.random.default_rng(2)
    params = {"w": rng.standard_normal(3), "b": 0.5}
    for n in (33, 35):
        X, y = rng.standard_normal((n, 3)), rng.standard_normal(n)
        call, rows = _row_call(trimmed, (params, X, y), {})
        entry, got = call.run("value_and_grad", backend="jax", rows=rows)
        assert not entry.function("value_and_grad", "jax", rows).rows
        r = (X @ params["w"] + params["b"] - y) ** 2
        assert got[0] == pytest.approx(np.median(r) + np.mean(r), rel=1e-12)


@pytest.mark.slow
def test_folds_of_unequal_size_share_one_compilation():
    from sklearn.model_selection import GridSearchCV

    _, X, y = _data(n=203, d=3, seed=3)
    labels = (y > 0).astype(int)
    label = "value and grad of LogisticRegression.loss"
    before = compile_counts().get(label, 0)  # earlier tests' sizes
    search = GridSearchCV(models.LogisticRegression(backend="jax"), {"C": [0.5, 2.0]}, cv=5)
    search.fit(X, labels)  # training folds of 162 and 163 rows, then the refit on 203
    # bucket(162) == bucket(163) == 176, bucket(203) == 208: two compilations for eleven fits
    assert compile_counts()[label] - before == 2
    reference = GridSearchCV(models.LogisticRegression(), {"C": [0.5, 2.0]}, cv=5).fit(X, labels)
    assert search.best_params_ == reference.best_params_
    assert search.best_score_ == pytest.approx(reference.best_score_)


def test_cox_model_on_jax_matches_statsmodels_phreg():
    """CoxPHRegressor sorts its rows (risk sets), so on JAX it is compiled per data size; the fit
    is statsmodels' Breslow partial likelihood maximum all the same."""
    sm = pytest.importorskip("statsmodels.api")
    rng = np.random.default_rng(4)
    X = rng.standard_normal((80, 3))
    time = np.round(rng.exponential(np.exp(-X @ np.array([0.5, -0.3, 0.2]))), 1)  # tied times
    event = (rng.random(80) < 0.75).astype(float)
    est = models.CoxPHRegressor(backend="jax").fit(X, np.column_stack([time, event]))
    reference = sm.PHReg(time, X, status=event, ties="breslow").fit()
    np.testing.assert_allclose(est.coef_, reference.params, rtol=1e-6)
    assert est.log_likelihood_ == pytest.approx(reference.llf, rel=1e-8)


def test_multi_output_regressor_on_jax_is_least_squares():
    rng = np.random.default_rng(5)
    X = rng.standard_normal((50, 3))
    Y = X @ rng.standard_normal((3, 2)) + 0.1 * rng.standard_normal((50, 2))
    est = skautodiff.AutodiffRegressor(
        loss=lambda p, X, y: np.mean((X @ p["W"] - y) ** 2),
        init_params=lambda X, y, rng: {"W": np.zeros((X.shape[1], y.shape[1]))},
        predict_fn=lambda p, X: X @ p["W"],
        multi_output=True,
        tol=1e-12,
        backend="jax",
    ).fit(X, Y)
    np.testing.assert_allclose(est.params_["W"], np.linalg.lstsq(X, Y, rcond=None)[0], atol=1e-7)
    assert est.predict(X).shape == (50, 2)


def test_dask_input_refuses_the_jax_backend_clearly():
    da = pytest.importorskip("dask.array")
    params, X, y = _data()
    est = models.LogisticRegression(backend="jax")
    with pytest.raises(ValueError, match="dask input runs on the C backend only"):
        est.fit(da.from_array(X, chunks=20), da.from_array(y, chunks=20))
