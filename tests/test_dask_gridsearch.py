"""Grid searches on a real dask.distributed cluster through joblib's "dask" backend: the same
results as n_jobs=1, and each worker compiles the loss once however many fits it runs."""

import numpy as np
import pytest

pytest.importorskip("distributed")
import dask_cluster
import joblib
from dask_cluster import worker_compiles
from sklearn.model_selection import GridSearchCV, cross_val_score

from skautodiff.models import LogisticRegression, PoissonRegressor


@pytest.fixture(scope="module")
def cluster_client():
    yield from dask_cluster.running()


def _classification(n=120, p=4, seed=0):
    rng = np.random.default_rng(seed)
    X = rng.normal(size=(n, p))
    y = (X @ rng.normal(size=p) + 0.5 * rng.normal(size=n) > 0).astype(int)
    return X, y


def test_grid_search_on_the_cluster_equals_n_jobs_1_and_compiles_once_per_worker(cluster_client):
    X, y = _classification()
    grid = {"C": [0.01, 0.1, 1.0, 10.0]}
    local = GridSearchCV(LogisticRegression(), grid, cv=3, n_jobs=1).fit(X, y)
    before = worker_compiles(cluster_client)
    with joblib.parallel_config("dask"):
        remote = GridSearchCV(LogisticRegression(), grid, cv=3).fit(X, y)
    after = worker_compiles(cluster_client)
    np.testing.assert_allclose(
        remote.cv_results_["mean_test_score"],
        local.cv_results_["mean_test_score"],
        rtol=0,
        atol=1e-12,
    )
    assert remote.best_params_ == local.best_params_
    np.testing.assert_allclose(
        remote.best_estimator_.coef_, local.best_estimator_.coef_, rtol=1e-10
    )
    # 12 fits over 2 workers: each worker that ran fits compiled value-and-gradient once
    new = {worker: after[worker] - before.get(worker, 0) for worker in after}
    assert set(new.values()) <= {0, 1} and sum(new.values()) >= 1, new


def test_cross_val_score_on_the_cluster_equals_n_jobs_1(cluster_client):
    rng = np.random.default_rng(1)
    X = rng.normal(size=(90, 3))
    y = rng.poisson(np.exp(0.3 * X @ np.array([1.0, -0.5, 0.2]))).astype(float)
    local = cross_val_score(PoissonRegressor(alpha=0.1), X, y, cv=3, n_jobs=1)
    with joblib.parallel_config("dask"):
        remote = cross_val_score(PoissonRegressor(alpha=0.1), X, y, cv=3)
    np.testing.assert_allclose(remote, local, rtol=0, atol=1e-12)
