"""Hand-written numpy value-and-gradient for each objective: the reference contender.

Written the way a careful numpy user would (one pass forward, one pass back, BLAS for the
products). Each takes the flat parameter vector as scipy passes it and returns (value, gradient).
tests/test_benchmarks_smoke.py checks every one against finite differences.
"""

import numpy as np
from scipy.special import expit


def logistic(layout, x, X, y, alpha):
    p = layout.unflatten(x)
    w = p["w"]
    yz = y * (X @ w + p["b"])
    value = np.mean(np.logaddexp(0.0, -yz)) + 0.5 * alpha * (w @ w)
    dz = -y * expit(-yz) / X.shape[0]
    g = np.empty_like(x)
    g[layout.slices["w"]] = X.T @ dz + alpha * w
    g[layout.slices["b"]] = dz.sum()
    return value, g


def least_squares(layout, x, X, y, alpha):
    p = layout.unflatten(x)
    w = p["w"]
    r = X @ w + p["b"] - y
    value = 0.5 * np.mean(r * r) + 0.5 * alpha * (w @ w)
    dz = r / X.shape[0]
    g = np.empty_like(x)
    g[layout.slices["w"]] = X.T @ dz + alpha * w
    g[layout.slices["b"]] = dz.sum()
    return value, g


def _softmax_head(z, Y):
    """Mean cross-entropy of logits z against one-hot Y, and its gradient with respect to z."""
    z = z - z.max(axis=1, keepdims=True)
    e = np.exp(z)
    s = e.sum(axis=1, keepdims=True)
    n = z.shape[0]
    value = (np.log(s).sum() - np.vdot(Y, z)) / n
    dz = (e / s - Y) / n
    return value, dz


def softmax(layout, x, X, Y, alpha):
    p = layout.unflatten(x)
    W = p["W"]
    value, dz = _softmax_head(X @ W + p["b"], Y)
    g = np.empty_like(x)
    g[layout.slices["W"]] = (X.T @ dz + alpha * W).ravel()
    g[layout.slices["b"]] = dz.sum(axis=0)
    return value + 0.5 * alpha * np.vdot(W, W), g


def mlp(layout, x, X, Y, alpha):
    p = layout.unflatten(x)
    W1, W2 = p["W1"], p["W2"]
    H = np.tanh(X @ W1 + p["b1"])
    value, dz = _softmax_head(H @ W2 + p["b2"], Y)
    dA = (dz @ W2.T) * (1.0 - H * H)
    g = np.empty_like(x)
    g[layout.slices["W2"]] = (H.T @ dz + alpha * W2).ravel()
    g[layout.slices["b2"]] = dz.sum(axis=0)
    g[layout.slices["W1"]] = (X.T @ dA + alpha * W1).ravel()
    g[layout.slices["b1"]] = dA.sum(axis=0)
    value += 0.5 * alpha * (np.vdot(W1, W1) + np.vdot(W2, W2))
    return value, g
