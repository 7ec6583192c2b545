"""Generalised linear models and regression losses, as people write them."""

import numpy as np
import scipy.special
import scipy.stats
from scipy.special import expit, gammaln, log_expit, log_ndtr, logsumexp, softmax, log_softmax

from .harness import Call, case

N, D, K = 7, 3, 3


def _X(rng, n=N, d=D):
    return rng.normal(size=(n, d))


def _params(rng, d=D):
    return {"w": rng.normal(scale=0.5, size=d), "b": float(rng.normal(scale=0.3))}


def _binary(rng, n=N):
    y = (rng.random(n) < 0.5).astype(np.float64)
    y[:2] = [0.0, 1.0]
    return y


def _pm1(rng, n=N):
    return 2.0 * _binary(rng, n) - 1.0


def _counts(rng, n=N):
    return rng.poisson(2.0, size=n).astype(np.float64)


def _onehot(rng, n=N, k=K):
    labels = rng.integers(0, k, size=n)
    return np.eye(k)[labels]


# ----------------------------------------------------------------------------- binary outcomes


@case(lambda r: (_params(r), _X(r), _pm1(r)), wrt="params", cbackend=True)
def logistic_logaddexp(params, X, y, alpha=0.1):
    z = X @ params["w"] + params["b"]
    return np.mean(np.logaddexp(0, -y * z)) + alpha * np.sum(params["w"] ** 2)


@case(lambda r: (r.normal(size=D), 0.1, _X(r), _binary(r)), wrt=["w", "b"])
def logistic_expit_log(w, b, X, y):
    p = expit(X.dot(w) + b)
    return -np.mean(y * np.log(p) + (1 - y) * np.log(1 - p))


@case(lambda r: (r.normal(size=D), _X(r), _binary(r)), wrt="w")
def logistic_log_expit(w, X, y):
    z = X @ w
    return -(y * log_expit(z) + (1.0 - y) * log_expit(-z)).sum()


@case(lambda r: ([r.normal(size=D), np.array(0.2)], _X(r), _binary(r)), wrt="params")
def logistic_list_params_no_intercept_penalty(params, X, y, C=10.0):
    w, b = params
    logits = X @ w + b
    nll = np.sum(np.logaddexp(0.0, logits) - y * logits)
    return nll + 0.5 / C * np.dot(w, w)


@case(
    lambda r: ((r.normal(size=D), np.float64(0.3)), _X(r), _binary(r), r.uniform(0.5, 2, N)),
    wrt="theta",
)
def weighted_logistic_average(theta, X, y, sample_weight):
    w, b = theta
    z = X @ w + b
    losses = np.logaddexp(0, z) - y * z
    return np.average(losses, weights=sample_weight)


@case(lambda r: (r.normal(size=D) * 0.5, _X(r), _binary(r)), wrt="beta")
def probit_log_ndtr(beta, X, y):
    eta = X @ beta
    return -np.sum(y * log_ndtr(eta) + (1 - y) * log_ndtr(-eta))


@case(lambda r: (r.normal(size=D) * 0.3, _X(r), _binary(r)), wrt="beta")
def complementary_log_log(beta, X, y):
    eta = X @ beta
    log_1mp = -np.exp(eta)  # log(1 - p) with p = 1 - exp(-exp(eta))
    log_p = np.log(-np.expm1(log_1mp))
    return -np.mean(y * log_p + (1 - y) * log_1mp)


@case(lambda r: (r.normal(size=D), _X(r), _pm1(r)), wrt="w")
def squared_hinge_smooth_point(w, X, y, lam=0.01):
    margin = 1 - y * (X @ w)
    return np.mean(np.maximum(0, margin) ** 2) + lam * w @ w


@case(
    lambda r: (r.normal(size=D), _X(r), _binary(r), r.normal(size=D) * 0.1, 2.0),
    wrt=["w", "prior_mean"],
)
def bayesian_logistic_norm_logpdf(w, X, y, prior_mean, prior_scale):
    z = X @ w
    loglik = np.sum(y * z - np.logaddexp(0, z))
    logprior = np.sum(scipy.stats.norm.logpdf(w, loc=prior_mean, scale=prior_scale))
    return -(loglik + logprior)


# ----------------------------------------------------------------------------- continuous outcomes


@case(lambda r: (r.normal(size=D), _X(r), r.normal(size=N)), wrt="w")
def least_squares(w, X, y):
    residual = X @ w - y
    return 0.5 * np.mean(residual**2)


@case(lambda r: Call((r.normal(size=D), _X(r), r.normal(size=N)), {"alpha": 0.3}), wrt="w")
def ridge_kwarg(w, X, y, alpha=1.0):
    return np.sum((y - X @ w) ** 2) / (2 * X.shape[0]) + alpha * np.linalg.norm(w) ** 2


@case(lambda r: (r.normal(size=D), _X(r), r.normal(size=N)), wrt="w")
def lasso_pseudo_huber(w, X, y, lam=0.1, eps=1e-3):
    return np.mean(np.square(X @ w - y)) + lam * np.sum(np.sqrt(w * w + eps * eps))


@case(lambda r: (r.normal(size=D), _X(r), r.normal(size=N)), wrt="w")
def elastic_net_smooth(w, X, y, alpha=0.5, l1_ratio=0.3):
    l1 = np.sum(np.sqrt(w**2 + 1e-4))
    l2 = 0.5 * np.sum(w**2)
    r = y - np.dot(X, w)
    return 0.5 * r.dot(r) / len(y) + alpha * (l1_ratio * l1 + (1 - l1_ratio) * l2)


@case(lambda r: (r.normal(size=D), _X(r), r.normal(size=N) * 2), wrt="w")
def huber_where(w, X, y, delta=1.0):
    r = y - X @ w
    quad = 0.5 * r**2
    lin = delta * (np.abs(r) - 0.5 * delta)
    return np.where(np.abs(r) <= delta, quad, lin).mean()


@case(lambda r: (r.normal(size=D), _X(r), r.standard_cauchy(size=N)), wrt="w")
def cauchy_robust(w, X, y, c=1.5):
    r = (y - X @ w) / c
    return np.sum(np.log1p(r**2))


@case(lambda r: (r.normal(size=D), _X(r), r.normal(size=N)), wrt="w")
def pinball_softplus_smoothed(w, X, y, tau=0.7, s=0.1):
    r = y - X @ w
    smooth_pos = s * np.logaddexp(0, r / s)
    return np.mean(tau * r + smooth_pos - r)


@case(lambda r: (r.normal(size=D), _X(r), r.normal(size=N), r.uniform(0.5, 3.0, size=N)), wrt="w")
def weighted_least_squares(w, X, y, weights):
    r = y - X @ w
    return (weights * r * r).sum() / weights.sum()


@case(
    lambda r: ({"w": r.normal(size=D), "log_sigma": np.float64(0.1)}, _X(r), r.normal(size=N)),
    wrt="params",
)
def gaussian_nll_learned_scale(params, X, y):
    mu = X @ params["w"]
    log_sigma = params["log_sigma"]
    sigma = np.exp(log_sigma)
    n = len(y)
    return n * log_sigma + 0.5 * np.sum(((y - mu) / sigma) ** 2) + 0.5 * n * np.log(2 * np.pi)


@case(
    lambda r: (
        {"w": r.normal(size=D), "log_scale": 0.2, "log_df": 1.0},
        _X(r),
        r.standard_t(4, size=N),
    ),
    wrt="params",
)
def student_t_regression(params, X, y):
    nu = np.exp(params["log_df"])
    s = np.exp(params["log_scale"])
    z = (y - X @ params["w"]) / s
    ll = (
        gammaln((nu + 1) / 2)
        - gammaln(nu / 2)
        - 0.5 * np.log(nu * np.pi)
        - np.log(s)
        - (nu + 1) / 2 * np.log1p(z**2 / nu)
    )
    return -ll.sum()


@case(
    lambda r: (r.normal(size=D), r.normal(size=D) * 0.3, _X(r), r.normal(size=N)),
    wrt=["w_mean", "w_logvar"],
)
def heteroscedastic_gaussian(w_mean, w_logvar, X, y):
    mean = X @ w_mean
    logvar = X @ w_logvar
    return 0.5 * np.mean(logvar + (y - mean) ** 2 * np.exp(-logvar))


@case(lambda r: (r.normal(size=(D, 2)), _X(r), r.normal(size=(N, 2))), wrt="W")
def multi_output_frobenius(W, X, Y, alpha=0.05):
    R = X @ W - Y
    return 0.5 * np.linalg.norm(R, "fro") ** 2 / X.shape[0] + alpha * np.sum(W * W)


@case(lambda r: (r.normal(size=D) * 0.3, _X(r), r.beta(2, 3, size=N), 0.7), wrt=["beta", "log_phi"])
def beta_regression(beta, X, y, log_phi):
    mu = expit(X @ beta)
    phi = np.exp(log_phi)
    a, b = mu * phi, (1 - mu) * phi
    ll = gammaln(phi) - gammaln(a) - gammaln(b) + (a - 1) * np.log(y) + (b - 1) * np.log1p(-y)
    return -np.sum(ll)


# ----------------------------------------------------------------------------- counts and positive outcomes


@case(lambda r: (r.normal(size=D) * 0.3, _X(r), _counts(r)), wrt="w")
def poisson_regression(w, X, y):
    eta = X @ w
    return np.mean(np.exp(eta) - y * eta)


@case(lambda r: (r.normal(size=D) * 0.3, 0.2, _X(r), _counts(r)), wrt=["w", "b"])
def poisson_full_nll_gammaln(w, b, X, y):
    eta = X @ w + b
    return np.sum(np.exp(eta) - y * eta + gammaln(y + 1))


@case(lambda r: (r.normal(size=D) * 0.3, _X(r), _counts(r), r.uniform(0.5, 3, N)), wrt="w")
def poisson_with_exposure_offset(w, X, y, exposure):
    log_mu = X @ w + np.log(exposure)
    return -np.sum(scipy.stats.poisson.logpmf(y, np.exp(log_mu)))


@case(lambda r: (r.normal(size=D) * 0.3, _X(r), r.gamma(2.0, 1.0, size=N)), wrt="w")
def gamma_log_link_deviance(w, X, y):
    eta = X @ w
    return np.mean(y * np.exp(-eta) + eta)


@case(
    lambda r: (r.normal(size=D) * 0.3, _X(r), r.gamma(2.0, 1.0, size=N) * (r.random(N) > 0.3)),
    wrt="w",
)
def tweedie_deviance(w, X, y, power=1.5):
    mu = np.exp(X @ w)
    dev = 2 * (
        np.power(y, 2 - power) / ((1 - power) * (2 - power))
        - y * np.power(mu, 1 - power) / (1 - power)
        + np.power(mu, 2 - power) / (2 - power)
    )
    return dev.mean()


@case(lambda r: ({"w": r.normal(size=D) * 0.3, "log_alpha": -0.5}, _X(r), _counts(r)), wrt="params")
def negative_binomial_nb2(params, X, y):
    mu = np.exp(X @ params["w"])
    alpha = np.exp(params["log_alpha"])
    r = 1.0 / alpha
    ll = (
        gammaln(y + r)
        - gammaln(r)
        - gammaln(y + 1)
        + r * np.log(r / (r + mu))
        + y * np.log(mu / (r + mu))
    )
    return -ll.sum()


@case(
    lambda r: (
        r.normal(size=D) * 0.3,
        r.normal(size=D) * 0.3,
        _X(r),
        _counts(r) * (r.random(N) > 0.4),
    ),
    wrt=["w_count", "w_zero"],
)
def zero_inflated_poisson(w_count, w_zero, X, y):
    lam = np.exp(X @ w_count)
    logit_pi = X @ w_zero
    log_pi = log_expit(logit_pi)
    log_1mpi = log_expit(-logit_pi)
    ll_zero = np.logaddexp(log_pi, log_1mpi - lam)
    ll_pos = log_1mpi + y * np.log(lam) - lam - gammaln(y + 1)
    return -np.sum(np.where(y == 0, ll_zero, ll_pos))


# ----------------------------------------------------------------------------- multiclass and ordinal


@case(
    lambda r: ({"W": r.normal(size=(D, K)) * 0.5, "b": np.zeros(K)}, _X(r), _onehot(r)),
    wrt="params",
)
def softmax_regression_log_softmax(params, X, Y):
    logits = X @ params["W"] + params["b"]
    return -np.sum(Y * log_softmax(logits, axis=1)) / len(X)


@case(lambda r: (r.normal(size=(D, K)) * 0.5, _X(r), _onehot(r)), wrt="W")
def softmax_regression_manual_stable(W, X, Y):
    z = X @ W
    z = z - z.max(axis=1, keepdims=True)
    log_p = z - np.log(np.exp(z).sum(axis=1, keepdims=True))
    return -(Y * log_p).sum(axis=1).mean()


@case(lambda r: (r.normal(size=(D, K)) * 0.5, _X(r), r.integers(0, K, size=N)), wrt="W")
def softmax_regression_integer_labels(W, X, labels, l2=0.01):
    logits = X @ W
    lse = logsumexp(logits, axis=1)
    picked = logits[np.arange(len(labels)), labels]
    return np.mean(lse - picked) + l2 * np.sum(W**2)


@case(lambda r: (r.normal(size=(D, K)) * 0.5, _X(r), _onehot(r)), wrt="W")
def softmax_with_label_smoothing(W, X, Y, eps=0.1):
    p = softmax(X @ W, axis=-1)
    k = Y.shape[1]
    target = (1 - eps) * Y + eps / k
    return -np.mean(np.sum(target * np.log(p), axis=1))


@case(
    lambda r: (
        {"w": r.normal(size=D) * 0.5, "theta0": -0.5, "log_gaps": np.array([0.0, -0.3])},
        _X(r),
        r.integers(0, 4, size=N),
    ),
    wrt="params",
)
def ordinal_cumulative_logit(params, X, y):
    cut = params["theta0"] + np.concatenate([[0.0], np.cumsum(np.exp(params["log_gaps"]))])
    eta = X @ params["w"]
    cdf = expit(cut[None, :] - eta[:, None])  # P(Y <= k)
    cdf = np.hstack([np.zeros((len(y), 1)), cdf, np.ones((len(y), 1))])
    probs = cdf[:, 1:] - cdf[:, :-1]
    return -np.sum(np.log(probs[np.arange(len(y)), y]))


@case(lambda r: (r.normal(size=D) * 0.5, _X(r), _binary(r)), wrt="w")
def logistic_scipy_special_namespace(w, X, y):
    z = X @ w
    return np.sum(
        -scipy.special.xlogy(y, scipy.special.expit(z))
        - scipy.special.xlog1py(1 - y, -scipy.special.expit(z))
    )
