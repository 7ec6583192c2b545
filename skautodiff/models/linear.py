"""Linear models with scikit-learn's objectives, written as AutodiffEstimator subclasses.

Each loss divides scikit-learn's objective by the total sample weight where scikit-learn's is a
sum: the minimiser is the same, and the gradient's scale stays independent of n, which keeps the
optimiser's tolerance meaningful.
"""

import numpy as np
from scipy.special import expit, softmax

from ..estimators import AutodiffClassifier, AutodiffRegressor
from ._common import linear, linear_init, log_sum_exp, total_weight, weighted_mean


class _LinearCoefficients:
    """coef_ and intercept_ in scikit-learn's shapes, read from params_."""

    @property
    def coef_(self):
        return self.params_["w"].T

    @property
    def intercept_(self):
        return self.params_.get("b", np.zeros(np.shape(self.params_["w"])[1:]))


class LogisticRegression(_LinearCoefficients, AutodiffClassifier):
    """L2-penalised logistic regression, binary or multinomial (softmax over all classes).

    Minimises, like ``sklearn.linear_model.LogisticRegression(solver="lbfgs")``,
    ``mean(log-loss) + ||w||^2 / (2 C n)`` with n the total sample weight; the intercept is
    not penalised.

    Parameters
    ----------
    C : float, default 1.0
        Inverse of the penalty's strength.
    fit_intercept : bool, default True
        Whether to fit an intercept.
    max_iter : int, default 1000
        L-BFGS's iteration limit.
    tol : float, optional
        L-BFGS's gradient tolerance.
    warm_start : bool, default False
        Start the next fit from ``params_``.
    verbose : int, default 0
        1 prints a line per iteration.
    backend : {"c", "jax"}, default "c"
        What compiles the loss (see :class:`~skautodiff.AutodiffRegressor` and doc/backends.md).

    Attributes
    ----------
    coef_ : ndarray
        The coefficients ``params_["w"]``.
    intercept_ : float or ndarray
        The intercept ``params_["b"]`` (0 without one).
    params_, loss_, loss_curve_, n_iter_, converged_
        As for :class:`~skautodiff.AutodiffRegressor`.
    classes_ : ndarray
        The class labels.
    """

    target_encoding = "onehot"

    def __init__(
        self,
        C=1.0,
        fit_intercept=True,
        max_iter=1000,
        tol=None,
        warm_start=False,
        verbose=0,
        backend="c",
    ):
        self.C = C
        self.fit_intercept = fit_intercept
        self.max_iter = max_iter
        self.tol = tol
        self.backend = backend
        self.warm_start = warm_start
        self.verbose = verbose

    def init_params(self, X, y, rng):
        n_classes = y.shape[1]
        return linear_init(X, 1 if n_classes == 2 else n_classes, self.fit_intercept)

    def loss(self, params, X, y, sample_weight=None):
        z = linear(params, X)
        if z.ndim == 1:  # two classes: z is the positive class's log-odds
            log_loss = np.logaddexp(0, z) - y[:, 1] * z
        else:
            log_loss = log_sum_exp(z) - np.sum(y * z, axis=1)
        penalty = np.sum(params["w"] ** 2) / (2 * self.C * total_weight(X, sample_weight))
        return weighted_mean(log_loss, sample_weight) + penalty

    def decision_fn(self, params, X):
        return linear(params, X)

    def proba_fn(self, params, X):
        z = linear(params, X)
        return expit(z) if z.ndim == 1 else softmax(z, axis=1)


class Ridge(_LinearCoefficients, AutodiffRegressor):
    """Least squares with an L2 penalty: ``sklearn.linear_model.Ridge``'s objective,
    ``||y - Xw - b||^2 + alpha ||w||^2`` (weighted), divided by the total weight.

    Parameters
    ----------
    alpha : float, default 1.0
        The penalty's strength.
    fit_intercept : bool, default True
        Whether to fit an intercept.
    max_iter : int, default 1000
        L-BFGS's iteration limit.
    tol : float, optional
        L-BFGS's gradient tolerance.
    backend : {"c", "jax"}, default "c"
        What compiles the loss (see :class:`~skautodiff.AutodiffRegressor` and doc/backends.md).

    Attributes
    ----------
    coef_ : ndarray
        The coefficients ``params_["w"]``.
    intercept_ : float or ndarray
        The intercept ``params_["b"]`` (0 without one).
    params_, loss_, loss_curve_, n_iter_, converged_
        As for :class:`~skautodiff.AutodiffRegressor`.
    """

    def __init__(self, alpha=1.0, fit_intercept=True, max_iter=1000, tol=None, backend="c"):
        self.alpha = alpha
        self.fit_intercept = fit_intercept
        self.max_iter = max_iter
        self.tol = tol
        self.backend = backend

    def init_params(self, X, y, rng):
        return linear_init(X, 1, self.fit_intercept)

    def loss(self, params, X, y, sample_weight=None):
        squared_error = (y - linear(params, X)) ** 2
        penalty = self.alpha * np.sum(params["w"] ** 2) / total_weight(X, sample_weight)
        return weighted_mean(squared_error, sample_weight) + penalty

    def predict_fn(self, params, X):
        return linear(params, X)


class PoissonRegressor(_LinearCoefficients, AutodiffRegressor):
    """Poisson regression with a log link: ``sklearn.linear_model.PoissonRegressor``'s
    ``mean(half Poisson deviance) + alpha/2 ||w||^2``, up to terms that do not depend on w.

    Parameters
    ----------
    alpha : float, default 1.0
        The penalty's strength.
    fit_intercept : bool, default True
        Whether to fit an intercept.
    max_iter : int, default 1000
        L-BFGS's iteration limit.
    tol : float, optional
        L-BFGS's gradient tolerance.
    backend : {"c", "jax"}, default "c"
        What compiles the loss (see :class:`~skautodiff.AutodiffRegressor` and doc/backends.md).

    Attributes
    ----------
    coef_ : ndarray
        The coefficients ``params_["w"]``.
    intercept_ : float or ndarray
        The intercept ``params_["b"]`` (0 without one).
    params_, loss_, loss_curve_, n_iter_, converged_
        As for :class:`~skautodiff.AutodiffRegressor`.
    """

    def __init__(self, alpha=1.0, fit_intercept=True, max_iter=1000, tol=None, backend="c"):
        self.alpha = alpha
        self.fit_intercept = fit_intercept
        self.max_iter = max_iter
        self.tol = tol
        self.backend = backend

    def __sklearn_tags__(self):
        tags = super().__sklearn_tags__()
        tags.target_tags.positive_only = True
        return tags

    def init_params(self, X, y, rng):
        if np.any(y < 0):
            raise ValueError("PoissonRegressor needs non-negative targets y")
        mean = np.mean(y)
        # Start at the constant model when there is one (log of the mean count).
        return linear_init(X, 1, self.fit_intercept, intercept=np.log(mean) if mean > 0 else 0.0)

    def loss(self, params, X, y, sample_weight=None):
        eta = linear(params, X)
        return weighted_mean(np.exp(eta) - y * eta, sample_weight) + self.alpha / 2 * np.sum(
            params["w"] ** 2
        )

    def predict_fn(self, params, X):
        return np.exp(linear(params, X))


class HuberRegressor(_LinearCoefficients, AutodiffRegressor):
    """Linear regression robust to outliers: ``sklearn.linear_model.HuberRegressor``'s objective,
    fitted jointly in the coefficients and the scale sigma (kept positive by a bound):

    .. code-block:: text

        sigma + mean(sigma * H(r / sigma)) + alpha ||w||^2 / n,   r = y - Xw - b,
        H(z) = z^2 if |z| <= epsilon else 2 epsilon |z| - epsilon^2

    Parameters
    ----------
    epsilon : float, default 1.35
        Residuals beyond ``epsilon * sigma`` count linearly, not squared.
    alpha : float, default 1e-4
        The penalty's strength.
    fit_intercept : bool, default True
        Whether to fit an intercept.
    max_iter : int, default 1000
        L-BFGS's iteration limit.
    tol : float, optional
        L-BFGS's gradient tolerance.
    backend : {"c", "jax"}, default "c"
        What compiles the loss (see :class:`~skautodiff.AutodiffRegressor` and doc/backends.md).

    Attributes
    ----------
    coef_ : ndarray
        The coefficients ``params_["w"]``.
    intercept_ : float or ndarray
        The intercept ``params_["b"]`` (0 without one).
    params_, loss_, loss_curve_, n_iter_, converged_
        As for :class:`~skautodiff.AutodiffRegressor`.
    scale_ : float
        The fitted scale sigma.
    """

    bounds = {"sigma": (10 * np.finfo(np.float64).eps, None)}

    _not_optimizer_settings = ("epsilon",)  # the Huber threshold here; Adam's keeps its default

    def __init__(
        self, epsilon=1.35, alpha=1e-4, fit_intercept=True, max_iter=1000, tol=None, backend="c"
    ):
        self.epsilon = epsilon
        self.alpha = alpha
        self.fit_intercept = fit_intercept
        self.max_iter = max_iter
        self.tol = tol
        self.backend = backend

    def init_params(self, X, y, rng):
        return {**linear_init(X, 1, self.fit_intercept), "sigma": 1.0}

    def loss(self, params, X, y, sample_weight=None):
        sigma, epsilon = params["sigma"], self.epsilon
        residual = np.abs(y - linear(params, X))
        huber = np.where(
            residual > epsilon * sigma,
            2 * epsilon * residual - sigma * epsilon**2,
            residual**2 / sigma,
        )
        penalty = self.alpha * np.sum(params["w"] ** 2) / total_weight(X, sample_weight)
        return sigma + weighted_mean(huber, sample_weight) + penalty

    def predict_fn(self, params, X):
        return linear(params, X)

    @property
    def scale_(self):
        return self.params_["sigma"]
