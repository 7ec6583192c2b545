"""Ordinal logistic regression (proportional odds), a model scikit-learn does not have.

Classes are ordered (as ``np.unique`` sorts them). One linear score z = Xw is shared by all
classes, and K-1 increasing thresholds t_0 < ... < t_{K-2} cut it:

    P(y <= k | x) = sigmoid(t_k - z)

The thresholds are kept ordered without constraints by fitting the first one and the logarithms
of the gaps between them.
"""

import numpy as np

from ..estimators import AutodiffClassifier
from ._common import weighted_mean


def _thresholds(params):
    cuts = params["cuts"]
    return np.cumsum(np.concatenate([cuts[:1], np.exp(cuts[1:])]))


def _cumulative(params, X):
    """P(y <= k) for k = 0..K-2, shape (n, K-1)."""
    z = X @ params["w"]
    return 1 / (1 + np.exp(z[:, None] - _thresholds(params)[None, :]))


class OrdinalLogisticRegression(AutodiffClassifier):
    """Proportional-odds model for ordered classes, with ``alpha/2 ||w||^2`` added to the mean
    negative log-likelihood. With two classes it is logistic regression (intercept = -t_0).

    The classes are ordered as ``np.unique`` sorts them; ``P(y <= k) = sigmoid(t_k - X @ w)``
    with increasing thresholds ``t_0 < ... < t_{K-2}``.

    Parameters
    ----------
    alpha : float, default 0.0
        The strength of the L2 penalty on ``w``.
    max_iter : int, default 1000
        L-BFGS's iteration limit.
    tol : float, optional
        L-BFGS's gradient tolerance.
    verbose : int, default 0
        1 prints a line per iteration.
    backend : {"c", "jax"}, default "c"
        What compiles the loss (see :class:`~skautodiff.AutodiffRegressor` and doc/backends.md).

    Attributes
    ----------
    coef_ : ndarray of shape (n_features,)
        The coefficients ``w``.
    thresholds_ : ndarray of shape (n_classes - 1,)
        The increasing thresholds ``t_k``.
    classes_ : ndarray
        The class labels, in their order.
    params_, loss_, loss_curve_, n_iter_, converged_
        As for :class:`~skautodiff.AutodiffRegressor`.
    """

    target_encoding = "onehot"

    def __init__(self, alpha=0.0, max_iter=1000, tol=None, verbose=0, backend="c"):
        self.alpha = alpha
        self.max_iter = max_iter
        self.tol = tol
        self.verbose = verbose
        self.backend = backend

    def init_params(self, X, y, rng):
        n_classes = y.shape[1]
        # Thresholds start evenly spaced, one unit apart, around zero.
        cuts = np.zeros(n_classes - 1)
        cuts[0] = -(n_classes - 2) / 2
        return {"w": np.zeros(X.shape[1]), "cuts": cuts}

    def loss(self, params, X, y, sample_weight=None):
        # In log space, so that no score overflows (a line search's trial step on unscaled data
        # would otherwise make the loss infinite). With a_k = t_k - z and s the sigmoid,
        # P(y = k) = s(a_k) - s(a_{k-1}) = s(a_k) s(-a_{k-1}) (1 - exp(a_{k-1} - a_k)),
        # where a_{k-1} - a_k = -exp(cuts[k]); the first class keeps only s(a_0), the last s(-a_{K-2}).
        a = _thresholds(params)[None, :] - (X @ params["w"])[:, None]
        log_gap = np.log(-np.expm1(-np.exp(params["cuts"][1:])))
        log_p = (
            np.sum(y[:, :-1] * -np.logaddexp(0, -a), axis=1)
            + np.sum(y[:, 1:] * -np.logaddexp(0, a), axis=1)
            + y[:, 1:-1] @ log_gap
        )
        return weighted_mean(-log_p, sample_weight) + self.alpha / 2 * np.sum(params["w"] ** 2)

    def proba_fn(self, params, X):
        cdf = _cumulative(params, X)
        ones = np.ones((len(X), 1), dtype=cdf.dtype)
        return np.diff(np.hstack([0 * ones, cdf, ones]), axis=1)

    @property
    def coef_(self):
        return self.params_["w"]

    @property
    def thresholds_(self):
        return _thresholds(self.params_)
