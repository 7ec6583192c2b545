"""predict, predict_proba, decision_function and score on dask input: lazy dask results, computed
chunk by chunk (map_blocks) by the estimator's own in-memory method on each chunk."""

import numpy as np

from .fit import _aligned_arrays, _as_dask_array


def _rows(X):
    X = _as_dask_array(X, "X")
    if X.ndim != 2:
        raise ValueError(
            f"X must be 2-dimensional (rows, features); got a dask array of shape {X.shape}"
        )
    return X.rechunk({1: -1})


def per_row(est, method, X):
    """est.<method>(X) as a dask array: one (n,) or (n, k) block per row chunk of X."""
    X = _rows(X)
    expected = getattr(est, "n_features_in_", X.shape[1])
    if X.shape[1] != expected:  # scikit-learn's check, now rather than when the result is computed
        raise ValueError(
            f"X has {X.shape[1]} features, but {type(est).__name__} is expecting "
            f"{expected} features as input."
        )
    fn = getattr(est, method)
    sample = fn(_example(est, X))  # the output's trailing shape and dtype, from 2 rows
    if sample.ndim == 1:
        return X.map_blocks(
            _apply, fn, dtype=sample.dtype, drop_axis=1, meta=np.empty((0,), dtype=sample.dtype)
        )
    return X.map_blocks(
        _apply,
        fn,
        dtype=sample.dtype,
        chunks=(X.chunks[0], sample.shape[1:]),
        meta=np.empty((0,) * sample.ndim, dtype=sample.dtype),
    )


def _apply(block, fn):
    return fn(block)


def _example(est, X):
    """Two rows shaped like X's (zeros: the prediction functions only need the shape and dtype)."""
    import scipy.sparse

    dtype = X.dtype if X.dtype in (np.float32, np.float64) else np.float64
    meta = getattr(X, "_meta", None)
    if scipy.sparse.issparse(meta):
        return scipy.sparse.csr_matrix((2, X.shape[1]), dtype=dtype)
    return np.zeros((2, X.shape[1]), dtype=dtype)


def score(est, X, y, sample_weight=None):
    """Accuracy (classifiers) or R^2 (regressors), as scikit-learn's score, as a lazy 0-d dask array."""
    import dask.array as da
    from sklearn.base import ClassifierMixin

    X, y, weights = _aligned_arrays(X, y, sample_weight)
    predicted = per_row(est, "predict", X)
    w = weights if weights is not None else da.ones(y.shape[0], chunks=y.chunks[0])
    if isinstance(est, ClassifierMixin):
        return da.sum((predicted == y) * w) / da.sum(w)
    if y.ndim == 1:
        y, predicted = y[:, None], predicted.reshape((-1, 1)) if predicted.ndim == 1 else predicted
    mean = da.sum(y * w[:, None], axis=0) / da.sum(w)
    residual = da.sum(w[:, None] * (y - predicted) ** 2, axis=0)
    total = da.sum(w[:, None] * (y - mean) ** 2, axis=0)
    # scikit-learn's r2_score: a constant y scores 1 when predicted exactly, else 0
    r2 = da.where(
        total != 0, 1 - residual / da.where(total != 0, total, 1), da.where(residual == 0, 1.0, 0.0)
    )
    return da.mean(r2)
