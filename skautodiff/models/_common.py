"""Small numpy helpers the shipped losses share (plain numpy: the engine traces them)."""

import numpy as np


def weighted_mean(values, sample_weight=None):
    """Mean over samples, weighted when weights are given."""
    if sample_weight is None:
        return np.mean(values)
    return np.sum(sample_weight * values) / np.sum(sample_weight)


def total_weight(X, sample_weight=None):
    """How many samples count: n, or the sum of the weights."""
    return X.shape[0] if sample_weight is None else np.sum(sample_weight)


def linear(params, X):
    """X @ w (+ b when the model has an intercept)."""
    z = X @ params["w"]
    return z + params["b"] if "b" in params else z


def linear_init(X, n_outputs, fit_intercept, intercept=0.0):
    """Zero coefficients, shaped (p,) for one output and (p, K) for several."""
    shape = (X.shape[1],) if n_outputs == 1 else (X.shape[1], n_outputs)
    params = {"w": np.zeros(shape)}
    if fit_intercept:
        params["b"] = np.full(shape[1:], intercept)
    return params


def log_sum_exp(z):
    """log(sum(exp(z), axis=1)) without overflow."""
    top = np.max(z, axis=1, keepdims=True)
    return np.log(np.sum(np.exp(z - top), axis=1)) + top[:, 0]
