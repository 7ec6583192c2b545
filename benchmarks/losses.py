"""The objectives as a user writes them: plain numpy, parameters in a dict.

skautodiff runs these functions as they are. autograd and JAX run the very same code objects with
``np`` rebound to ``autograd.numpy`` / ``jax.numpy`` (see ``rebind``), so every autodiff contender
differentiates identical source. This module must only ever refer to numpy as the global ``np``.

Each objective is a mean over samples plus ``alpha / 2`` times the squared weights (intercepts
unpenalised): scikit-learn's own scaling, so its estimators can be matched exactly.
"""

import builtins
import types

import numpy as np


def logistic(params, X, y, alpha):
    # y in {-1, +1}
    z = X @ params["w"] + params["b"]
    return np.mean(np.logaddexp(0.0, -y * z)) + 0.5 * alpha * np.sum(params["w"] ** 2)


def least_squares(params, X, y, alpha):
    r = X @ params["w"] + params["b"] - y
    return 0.5 * np.mean(r**2) + 0.5 * alpha * np.sum(params["w"] ** 2)


def softmax(params, X, Y, alpha):
    # Y one-hot, n x k
    z = X @ params["W"] + params["b"]
    m = np.max(z, axis=1, keepdims=True)
    lse = m + np.log(np.sum(np.exp(z - m), axis=1, keepdims=True))
    nll = np.mean(lse) - np.sum(Y * z) / X.shape[0]
    return nll + 0.5 * alpha * np.sum(params["W"] ** 2)


def mlp(params, X, Y, alpha):
    # one tanh hidden layer, softmax output; Y one-hot
    H = np.tanh(X @ params["W1"] + params["b1"])
    z = H @ params["W2"] + params["b2"]
    m = np.max(z, axis=1, keepdims=True)
    lse = m + np.log(np.sum(np.exp(z - m), axis=1, keepdims=True))
    nll = np.mean(lse) - np.sum(Y * z) / X.shape[0]
    return nll + 0.5 * alpha * (np.sum(params["W1"] ** 2) + np.sum(params["W2"] ** 2))


def rebind(fn, numpy_like):
    """The same code object with the global ``np`` pointing at another numpy-like module."""
    scope = {"np": numpy_like, "__builtins__": builtins}
    return types.FunctionType(fn.__code__, scope, fn.__name__, fn.__defaults__)
