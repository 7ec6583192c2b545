"""Pipeline + GridSearchCV over a numpy loss's hyperparameter: 5 folds x 10 values, one compilation.

`loss_kwargs__alpha` sets one entry of the estimator's loss_kwargs; numbers there are inputs of
the compiled loss, so every candidate and fold reuses it. n_jobs=2 runs folds in two processes
(each compiles once, or loads PyTensor's disk cache).
"""

import time

import numpy as np
from sklearn.datasets import load_breast_cancer
from sklearn.model_selection import GridSearchCV
from sklearn.pipeline import make_pipeline
from sklearn.preprocessing import StandardScaler

import skautodiff
from skautodiff import AutodiffClassifier


def squared_hinge(params, X, y, alpha=1.0):
    """A linear SVM's objective (y is +1/-1): mean squared hinge + alpha ||w||^2."""
    margin = y * (X @ params["w"] + params["b"])
    return np.mean(np.maximum(0, 1 - margin) ** 2) + alpha * np.sum(params["w"] ** 2)


def init_params(X, y, rng):
    return {"w": np.zeros(X.shape[1]), "b": 0.0}


def decision_fn(params, X):
    return X @ params["w"] + params["b"]


X, y = load_breast_cancer(return_X_y=True)
pipeline = make_pipeline(
    StandardScaler(),
    AutodiffClassifier(
        loss=squared_hinge, init_params=init_params, decision_fn=decision_fn, target_encoding="sign"
    ),
)
grid = {"autodiffclassifier__loss_kwargs__alpha": np.logspace(-4, 1, 10)}

before = skautodiff.cache_info()
start = time.perf_counter()
search = GridSearchCV(pipeline, grid, cv=5).fit(X, y)
elapsed = time.perf_counter() - start
after = skautodiff.cache_info()
print(
    f"51 fits (5 folds x 10 alphas + refit) in {elapsed:.2f} s; "
    f"traces: {after.traces - before.traces}, compilations: {after.compiles - before.compiles}"
)
print(
    f"best alpha {search.best_params_['autodiffclassifier__loss_kwargs__alpha']:.2g}, "
    f"cross-validated accuracy {search.best_score_:.4f}"
)

start = time.perf_counter()
GridSearchCV(pipeline, grid, cv=5, n_jobs=2).fit(X, y)
print(f"the same search with n_jobs=2: {time.perf_counter() - start:.2f} s")
