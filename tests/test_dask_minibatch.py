"""The stochastic optimisers on dask arrays (2 worker processes): minibatches chunk by chunk.

References: a hand-written numpy Adam on the hand-derived gradient, over the minibatches that
doc/scaling.md documents (chunk order and row shuffles drawn from random_state); and, with
shuffle=False and chunks a multiple of batch_size, the in-memory fit (the same minibatches).
"""

import warnings

import numpy as np
import pytest

import dask.array as da
import dask_cluster
from dask_cluster import worker_compiles
from sklearn.exceptions import ConvergenceWarning
from sklearn.utils import gen_batches

from skautodiff import models, pytree
from skautodiff.estimators import AutodiffRegressor

ROWS, CHUNK = 240, 60  # 4 chunks


@pytest.fixture(scope="module")
def cluster_client():
    yield from dask_cluster.running()


def squared_error(params, X, y, sample_weight=None):
    residual = X @ params["w"] + params["b"] - y
    if sample_weight is None:
        return np.mean(residual**2)
    return np.sum(sample_weight * residual**2) / np.sum(sample_weight)


def linear_init(X, y, rng):
    return {"w": rng.normal(size=X.shape[1]), "b": 0.0}


def linear_predict(params, X):
    return X @ params["w"] + params["b"]


def _regression(seed=0, p=4):
    rng = np.random.default_rng(seed)
    X = rng.normal(size=(ROWS, p))
    return X, X @ np.arange(1.0, p + 1) + 0.5 + 0.1 * rng.normal(size=ROWS)


def _chunked(*arrays):
    return [da.from_array(a, chunks=(CHUNK, *a.shape[1:])) for a in arrays]


def _hand_adam(X, y, chunks, batch_size, epochs, lr, seed):
    """Adam (scikit-learn's bias correction on the rate) on d/dw mean((Xw + b - y)^2) = 2 X^T r / m,
    d/db = 2 mean(r), over the documented minibatches: per epoch the chunk order
    rng.permutation(K), then one seed per chunk, rng.randint(2**31 - 1, size=K), shuffling the
    chunk's rows with RandomState(seed).permutation; batches cut within each chunk."""
    rng = np.random.RandomState(seed)
    w, b = rng.normal(size=X.shape[1]), 0.0  # linear_init, from the same random_state first
    m, v, t = [np.zeros_like(w), 0.0], [np.zeros_like(w), 0.0], 0
    curve = []
    starts = np.cumsum([0, *chunks])
    for _ in range(epochs):
        order = rng.permutation(len(chunks))
        seeds = rng.randint(2**31 - 1, size=len(chunks))
        total = 0.0
        for k in order:
            rows = starts[k] + np.random.RandomState(seeds[k]).permutation(chunks[k])
            for batch in gen_batches(chunks[k], batch_size) if chunks[k] else ():
                Xb, yb = X[rows[batch]], y[rows[batch]]
                r = Xb @ w + b - yb
                total += np.mean(r**2) * len(yb)
                grads = [2 * Xb.T @ r / len(yb), 2 * np.mean(r)]
                t += 1
                m = [0.9 * mi + 0.1 * g for mi, g in zip(m, grads)]
                v = [0.999 * vi + 0.001 * g * g for vi, g in zip(v, grads)]
                rate = lr * np.sqrt(1 - 0.999**t) / (1 - 0.9**t)
                w, b = [p - rate * mi / (np.sqrt(vi) + 1e-8) for p, mi, vi in zip((w, b), m, v)]
        curve.append(total / len(y))
    return {"w": w, "b": b}, curve


def _adam_fit(X, y, chunks):
    with warnings.catch_warnings():
        warnings.simplefilter("ignore", ConvergenceWarning)
        return AutodiffRegressor(
            squared_error,
            linear_init,
            linear_predict,
            optimizer="adam",
            batch_size=25,
            learning_rate_init=0.05,
            max_iter=3,
            random_state=0,
        ).fit(da.from_array(X, chunks=(chunks, X.shape[1])), da.from_array(y, chunks=(chunks,)))


def _check_against_hand_adam(fitted, X, y, chunks):
    expected, curve = _hand_adam(X, y, chunks, batch_size=25, epochs=3, lr=0.05, seed=0)
    np.testing.assert_allclose(fitted.params_["w"], expected["w"], rtol=1e-8, atol=1e-10)
    np.testing.assert_allclose(fitted.params_["b"], expected["b"], rtol=1e-8, atol=1e-10)
    np.testing.assert_allclose(fitted.loss_curve_, curve, rtol=1e-8)
    assert fitted.n_iter_ == 3 and fitted.t_ == 3 * len(y)
    assert isinstance(fitted.params_["b"], float)  # the kinds of leaves init_params gave


def _mlp(**settings):
    return models.MLPClassifier(
        hidden_layer_sizes=(3,),
        optimizer="sgd",
        batch_size=20,  # divides the chunks' 60 rows: the in-memory fit's minibatches
        shuffle=False,
        learning_rate_init=0.1,
        random_state=0,
        **settings,
    )


def _three_classes():
    X, _ = _regression(1)
    return X, np.digitize(X @ np.array([1.0, -1.0, 0.5, 0.0]), [-0.7, 0.7])


def _no_client():
    try:
        from distributed import get_client

        get_client()
    except (ImportError, ValueError):
        return True
    return False


# Before the first test that starts the cluster: these run without a distributed Client (the
# chunks computed into this process, the same tasks run here one after another).


def test_without_a_client_uneven_chunks_follow_the_documented_minibatches():
    if not _no_client():
        pytest.skip("a distributed Client is active")
    X, y = _regression()
    chunks = (70, 1, 79, 90)  # a 1-row chunk: a 1-row minibatch (its own compiled step)
    _check_against_hand_adam(_adam_fit(X, y, chunks), X, y, chunks)


def test_without_a_client_an_empty_chunk_is_a_chunk_without_minibatches():
    """A chunk left empty (rows filtered out of a dask array) has no minibatches; it still
    takes its draws (its place in the chunk order and its seed), as the documentation says."""
    if not _no_client():
        pytest.skip("a distributed Client is active")
    X, y = _regression()
    chunks = (70, 0, 80, 90)
    _check_against_hand_adam(_adam_fit(X, y, chunks), X, y, chunks)


def test_early_stopping_on_dask_input_is_refused_clearly():
    X, labels = _three_classes()
    with pytest.raises(ValueError, match="early_stopping=True is not supported on dask input"):
        _mlp(early_stopping=True).fit(*_chunked(X, labels))


def offset_squared_error(params, X, y, offset):
    return np.mean((X @ params["w"] + offset - y) ** 2)


def test_a_per_row_keyword_argument_is_refused_for_minibatches_on_dask_input():
    """As in memory (test_stochastic): a chunk's per-row offset would go whole to each of its
    minibatches."""
    X, y = _regression()
    est = AutodiffRegressor(
        loss=offset_squared_error,
        init_params=linear_init,
        loss_kwargs={"offset": np.zeros(len(y))},
        optimizer="adam",
        batch_size=1,
        max_iter=1,
    )
    with pytest.raises(ValueError, match="'offset' has one entry per row of X"):
        est.fit(*_chunked(X, y))


def offset_in_a_dict(params, X, y, extra):
    return np.mean((X @ params["w"] + extra["offset"] - y) ** 2)


def test_a_per_row_array_inside_a_keyword_argument_is_refused_on_dask_input_too():
    X, y = _regression()
    est = AutodiffRegressor(
        loss=offset_in_a_dict,
        init_params=linear_init,
        loss_kwargs={"extra": {"offset": np.zeros(len(y))}},
        optimizer="sgd",
        batch_size=1,
        max_iter=1,
    )
    with pytest.raises(ValueError, match=r"extra\['offset'\] has one entry per row of X"):
        est.fit(*_chunked(X, y))


def test_the_jax_backend_on_dask_input_is_refused_clearly():
    pytest.importorskip("jax")
    X, labels = _three_classes()
    with pytest.raises(ValueError, match="dask input runs on the C backend only"):
        _mlp(backend="jax").fit(*_chunked(X, labels))
    with pytest.raises(ValueError, match="dask input runs on the C backend only"):
        _mlp(backend="jax").partial_fit(*_chunked(X, labels), classes=[0, 1, 2])


def test_partial_fit_on_dask_input_checks_classes_and_features():
    X, labels = _three_classes()
    with pytest.raises(ValueError, match="classes must be passed on the first call"):
        _mlp().partial_fit(*_chunked(X, labels))
    fitted = _mlp().partial_fit(*_chunked(X, labels), classes=[0, 1, 2])
    with pytest.raises(ValueError, match="X has 3 features, but MLPClassifier is expecting 4"):
        fitted.partial_fit(*_chunked(X[:, :3], labels))


# ----------------------------------------------------------------------------- on the cluster


def test_adam_on_chunks_follows_the_documented_minibatches(cluster_client):
    X, y = _regression()
    before = worker_compiles(cluster_client)
    # batch_size 25 does not divide the chunks' 60 rows: each chunk ends with a 10-row batch
    fitted = _adam_fit(X, y, (CHUNK,) * 4)
    after = worker_compiles(cluster_client)
    _check_against_hand_adam(fitted, X, y, (CHUNK,) * 4)
    # the workers ran the steps, each compiling the step once at most
    assert sum(after[w] - before.get(w, 0) for w in after) >= 1, (before, after)
    assert all(after[w] - before.get(w, 0) <= 1 for w in after), (before, after)


def test_sgd_in_order_equals_the_in_memory_fit_with_weights(cluster_client):
    X, labels = _three_classes()
    weights = np.random.default_rng(2).uniform(0.5, 2.0, size=ROWS)
    with warnings.catch_warnings():
        warnings.simplefilter("ignore", ConvergenceWarning)
        reference = _mlp(max_iter=4).fit(X, labels, sample_weight=weights)
        fitted = _mlp(max_iter=4).fit(*_chunked(X, labels), sample_weight=_chunked(weights)[0])
    assert fitted.n_iter_ == reference.n_iter_ == 4
    np.testing.assert_array_equal(fitted.classes_, reference.classes_)
    np.testing.assert_allclose(fitted.loss_curve_, reference.loss_curve_, rtol=1e-8)
    a, b = pytree.ravel(fitted.params_)[0], pytree.ravel(reference.params_)[0]
    np.testing.assert_allclose(a, b, rtol=1e-8, atol=1e-10)


def test_partial_fit_on_chunks_continues_as_in_memory(cluster_client):
    X, labels = _three_classes()
    classes = np.array([0, 1, 2, 3])  # one class never seen: classes_ still has it
    reference, fitted = _mlp(), _mlp()
    halves = (slice(0, 120), slice(120, ROWS))  # 2 chunks each
    for rows in halves:
        reference.partial_fit(X[rows], labels[rows], classes=classes)
        fitted.partial_fit(*_chunked(X[rows], labels[rows]), classes=classes)
    np.testing.assert_array_equal(fitted.classes_, classes)
    np.testing.assert_allclose(fitted.loss_curve_, reference.loss_curve_, rtol=1e-8)
    a, b = pytree.ravel(fitted.params_)[0], pytree.ravel(reference.params_)[0]
    np.testing.assert_allclose(a, b, rtol=1e-8, atol=1e-10)
    assert fitted.t_ == reference.t_ == ROWS
    # a label outside the first call's classes is refused, as in memory
    with pytest.raises(
        ValueError, match=r"y contains classes not in classes=\[0, 1, 2, 3\]: \[7\]"
    ):
        fitted.partial_fit(*_chunked(X[:120], np.full(120, 7)))
