"""Fitting on dask arrays on a real cluster (2 worker processes): the same parameters as the
in-memory fit, chunk by chunk; losses that are not sums over rows refused at their line; lazy
predictions."""

import numpy as np
import pytest

import dask.array as da
import dask_cluster
import scipy.sparse
from dask_cluster import worker_compiles

from skautodiff import AutodiffRegressor, pytree
from skautodiff.dask.separable import NotSeparable
from skautodiff.models import LogisticRegression, MLPClassifier, PoissonRegressor, Ridge

ROWS, CHUNK = 240, 60  # 4 chunks


@pytest.fixture(scope="module")
def cluster_client():
    yield from dask_cluster.running()


def _data(seed=0, p=4):
    rng = np.random.default_rng(seed)
    X = rng.normal(size=(ROWS, p))
    score = X @ rng.normal(size=p)
    return X, rng, score


def _relative_difference(a, b):
    fa, fb = pytree.ravel(a)[0], pytree.ravel(b)[0]
    return np.max(np.abs(fa - fb)) / np.max(np.abs(fa))


def _on_cluster(X, y):
    return da.from_array(X, chunks=(CHUNK, X.shape[1])), da.from_array(y, chunks=CHUNK)


def _cases():
    X, rng, score = _data()
    three = np.digitize(score, [-1.0, 1.0])
    counts = rng.poisson(np.exp(0.3 * score)).astype(float)
    return [
        ("logistic", LogisticRegression(C=0.5), X, (score > 0).astype(int)),
        ("softmax", LogisticRegression(), X, three),
        ("poisson", PoissonRegressor(alpha=0.1), X, counts),
        pytest.param(
            "mlp",
            MLPClassifier(
                hidden_layer_sizes=(3,), activation="tanh", alpha=3.0, random_state=0, max_iter=300
            ),
            X,
            three,
            marks=pytest.mark.slow,
        ),
    ]


@pytest.mark.parametrize("name, est, X, y", _cases(), ids=["logistic", "softmax", "poisson", "mlp"])
def test_dask_fit_equals_in_memory_fit(cluster_client, name, est, X, y):
    reference = est.__class__(**est.get_params()).fit(X, y)
    before = worker_compiles(cluster_client)
    fitted = est.fit(*_on_cluster(X, y))
    after = worker_compiles(cluster_client)
    assert _relative_difference(reference.params_, fitted.params_) < 1e-6
    assert fitted.n_iter_ == reference.n_iter_
    np.testing.assert_allclose(fitted.loss_, reference.loss_, rtol=1e-10)
    # both workers evaluated chunks; each compiled the chunk function at most once for all chunks
    assert all(after[w] - before.get(w, 0) <= 1 for w in after), (before, after)


def softmax_with_offsets(params, X, y, offsets):
    """Each row's own class picked by integer indexing; a per-row (n, 3) offset in loss_kwargs."""
    z = X @ params + offsets
    return np.mean(np.log(np.sum(np.exp(z), axis=1)) - z[np.arange(len(z)), y]) + 0.01 * np.sum(
        params**2
    )


def test_integer_row_indexing_and_per_row_kwargs_on_the_cluster(cluster_client):
    from skautodiff import AutodiffClassifier

    X, rng, score = _data(6)
    y = np.digitize(score, [-1.0, 1.0])
    offsets = rng.normal(size=(ROWS, 3))

    def make(offsets):
        return AutodiffClassifier(
            loss=softmax_with_offsets,
            init_params=np.zeros((4, 3)),
            decision_fn=lambda p, X: X @ p,
            loss_kwargs={"offsets": offsets},
        )

    reference = make(offsets).fit(X, y)
    before = worker_compiles(cluster_client)
    fitted = make(da.from_array(offsets, chunks=(100, 3))).fit(*_on_cluster(X, y))
    after = worker_compiles(cluster_client)
    assert fitted.n_iter_ == reference.n_iter_ > 3
    assert _relative_difference(reference.params_, fitted.params_) < 1e-6
    np.testing.assert_allclose(fitted.loss_, reference.loss_, rtol=1e-10)
    assert all(after[w] - before.get(w, 0) <= 1 for w in after), (before, after)


def test_weights_and_dataframes(cluster_client):
    dd = pytest.importorskip("dask.dataframe")
    pd = pytest.importorskip("pandas")
    X, rng, score = _data(1)
    y = score + rng.normal(size=ROWS)
    weights = rng.uniform(0.5, 2.0, size=ROWS)
    reference = Ridge(alpha=0.5).fit(X, y, sample_weight=weights)
    frame = dd.from_pandas(pd.DataFrame(X, columns=list("abcd")), npartitions=4)
    target = dd.from_pandas(pd.Series(y), npartitions=4)
    fitted = Ridge(alpha=0.5).fit(frame, target, sample_weight=da.from_array(weights, chunks=CHUNK))
    assert _relative_difference(reference.params_, fitted.params_) < 1e-8


def test_sparse_chunks_fit_as_dense(cluster_client):
    X, _, score = _data(2)
    X[X < 0.3] = 0.0
    y = (score > 0).astype(int)
    reference = LogisticRegression().fit(X, y)
    sparse = da.from_array(X, chunks=(CHUNK, 4)).map_blocks(
        scipy.sparse.csr_matrix, meta=scipy.sparse.csr_matrix((0, 0))
    )
    fitted = LogisticRegression().fit(sparse, da.from_array(y, chunks=CHUNK))
    assert _relative_difference(reference.params_, fitted.params_) < 1e-6


def test_predictions_are_lazy_dask_arrays_equal_to_in_memory_ones(cluster_client):
    X, rng, score = _data(3)
    y = np.digitize(score, [-1.0, 1.0])
    est = LogisticRegression().fit(X, y)
    Xd, yd = _on_cluster(X, y)
    for method in ("predict", "predict_proba", "decision_function", "predict_log_proba"):
        lazy = getattr(est, method)(Xd)
        assert isinstance(lazy, da.Array), method
        np.testing.assert_allclose(
            lazy.compute(), getattr(est, method)(X), rtol=1e-12, err_msg=method
        )
    accuracy = est.score(Xd, yd)
    assert isinstance(accuracy, da.Array)
    assert accuracy.compute() == pytest.approx(est.score(X, y), abs=1e-12)
    regression = Ridge().fit(X, score)
    noisy = score + rng.normal(size=ROWS)
    r2 = regression.score(*_on_cluster(X, noisy))
    assert isinstance(r2, da.Array)
    assert r2.compute() == pytest.approx(regression.score(X, noisy), abs=1e-12)


def _regressor(loss):
    return AutodiffRegressor(loss=loss, init_params=np.zeros(4), predict_fn=lambda p, X: X @ p)


def centred(params, X, y):
    z = X @ params
    residual = z - np.mean(z)
    return np.mean((residual - y) ** 2)


def largest(params, X, y):
    return np.max(X @ params - y) + np.sum(params**2)


@pytest.mark.parametrize(
    "loss, line, why",
    [
        (centred, "residual = z - np.mean(z)", "per-row term"),
        (largest, "np.max(X @ params - y)", "reduces over the rows"),
    ],
)
def test_a_loss_that_is_not_a_sum_over_rows_is_refused_at_its_line(loss, line, why):
    X, _, score = _data(4)
    with pytest.raises(NotSeparable, match="chunk by chunk") as info:
        _regressor(loss).fit(*_on_cluster(X, score))
    message = str(info.value)
    assert line in message and why in message and "np.sum or np.mean" in message


def squared_total(params, X, y):
    """Not linear in its row sum: the client weights the chunk gradients at the totals."""
    return np.sum(X @ params - y) ** 2 / len(X) + np.mean((X @ params - y) ** 2) + np.sum(params**2)


def test_a_loss_nonlinear_in_its_row_sums_fits_as_in_memory():
    X, _, score = _data(5)
    reference = _regressor(squared_total).fit(X, score)
    fitted = _regressor(squared_total).fit(*_on_cluster(X, score))
    assert _relative_difference(reference.params_, fitted.params_) < 1e-8


def test_the_client_receives_no_chunk_of_the_data(cluster_client, monkeypatch):
    """Everything the client gathers during the fit (results, heads, classes) is small next to a
    single chunk of X."""
    import distributed
    from dask.sizeof import sizeof

    received = []
    gather = distributed.Client._gather

    async def recording_gather(self, futures, *args, **kwargs):
        result = await gather(self, futures, *args, **kwargs)
        received.append(sizeof(result))
        return result

    monkeypatch.setattr(distributed.Client, "_gather", recording_gather)
    random = da.random.RandomState(0)
    X = random.standard_normal((8000, 20), chunks=(2000, 20))  # made on the workers; 320 kB chunks
    y = (X[:, 0] + random.standard_normal(8000, chunks=2000) > 0).astype(int)
    LogisticRegression().fit(X, y)
    assert received and max(received) < 2000 * 20 * 8 / 20, sorted(received)[-5:]


def squares(params, X, y):
    return np.mean((X @ params["w"] + params["b"] - y) ** 2)


def unscaled_float32(seed=0):
    """float32 features of size ~1e3 and an intercept of 5: float32 rounding stops L-BFGS-B short
    of the optimum (the intercept off by ~1e-3); numpy's float64 least squares on the same float32
    numbers is the optimum."""
    rng = np.random.default_rng(seed)
    X = rng.normal(size=(ROWS, 3)) * 1000
    y = X @ np.array([1.0, -2.0, 3.0]) + 5 + rng.normal(size=ROWS)
    X, y = X.astype(np.float32), y.astype(np.float32)
    A = np.column_stack([X, np.ones(ROWS)]).astype(np.float64)
    return X, y, np.linalg.lstsq(A, y.astype(np.float64), rcond=None)[0]


def test_a_float32_fit_is_refined_in_float64_as_in_memory(cluster_client):
    X, y, optimum = unscaled_float32()
    est = AutodiffRegressor(
        loss=squares, init_params={"w": np.zeros(3), "b": 0.0}, predict_fn=lambda p, X: X @ p["w"]
    ).fit(*_on_cluster(X, y))
    assert est.converged_
    assert est.params_["w"].dtype == np.float32 and type(est.params_["b"]) is float
    np.testing.assert_allclose(np.r_[est.params_["w"], est.params_["b"]], optimum, rtol=1e-6)
    X64, y64 = X.astype(np.float64), y.astype(np.float64)
    at_optimum = squares({"w": optimum[:3], "b": optimum[3]}, X64, y64)
    assert est.loss_ == pytest.approx(at_optimum, rel=1e-10)
