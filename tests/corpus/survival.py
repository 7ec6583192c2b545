"""Survival models: censored likelihoods, proportional hazards, AFT models."""

import numpy as np
from scipy.special import expit, gammaln, log_ndtr, logsumexp

from .harness import case

N, D = 8, 2


def _surv(rng, n=N, d=D, sort=False):
    X = rng.normal(size=(n, d))
    t = rng.exponential(1.0, size=n) + 0.1
    if sort:
        t = np.sort(t)
    event = (rng.random(n) < 0.7).astype(np.float64)
    event[0] = 1.0
    return X, t, event


def _w(rng, d=D):
    return rng.normal(scale=0.5, size=d)


@case(lambda r: (_w(r), *_surv(r)), wrt="beta")
def exponential_ph_censored(beta, X, time, event):
    eta = X @ beta
    hazard = np.exp(eta)
    return -np.sum(event * eta - hazard * time)


@case(lambda r: ({"beta": _w(r), "log_k": 0.2, "log_lambda": -0.1}, *_surv(r)), wrt="params")
def weibull_ph(params, X, time, event):
    k = np.exp(params["log_k"])
    lam = np.exp(params["log_lambda"])
    eta = X @ params["beta"]
    log_h = np.log(k) - np.log(lam) + (k - 1) * (np.log(time) - np.log(lam)) + eta
    H = (time / lam) ** k * np.exp(eta)
    return -(event * log_h - H).sum()


@case(lambda r: (_w(r), 0.1, -0.2, *_surv(r)), wrt=["beta", "mu0", "log_sigma"])
def lognormal_aft(beta, mu0, log_sigma, X, time, event):
    sigma = np.exp(log_sigma)
    z = (np.log(time) - mu0 - X @ beta) / sigma
    log_pdf = -0.5 * z**2 - 0.5 * np.log(2 * np.pi) - np.log(sigma) - np.log(time)
    log_surv = log_ndtr(-z)
    return -np.sum(event * log_pdf + (1 - event) * log_surv)


@case(lambda r: (_w(r), 0.0, -0.3, *_surv(r)), wrt=["beta", "mu0", "log_s"])
def loglogistic_aft(beta, mu0, log_s, X, time, event):
    s = np.exp(log_s)
    z = (np.log(time) - mu0 - X @ beta) / s
    # logistic errors: log f = z - 2 log(1+e^z) - log s - log t ; log S = -log(1+e^z)
    log_f = z - 2 * np.logaddexp(0, z) - np.log(s) - np.log(time)
    log_S = -np.logaddexp(0, z)
    return -(event * log_f + (1 - event) * log_S).mean()


@case(lambda r: (_w(r), 0.0, -0.3, *_surv(r)), wrt=["beta", "mu0", "log_s"])
def gumbel_aft_weibull(beta, mu0, log_s, X, time, event):
    s = np.exp(log_s)
    z = (np.log(time) - mu0 - X @ beta) / s
    log_f = z - np.exp(z) - np.log(s) - np.log(time)
    log_S = -np.exp(z)
    return -np.sum(np.where(event > 0, log_f, log_S))


@case(lambda r: (_w(r), *_surv(r, sort=True)), wrt="beta", cbackend=True)
def cox_breslow_reverse_cumsum(beta, X, time, event):
    # times sorted ascending: the risk set of i is {j >= i}
    eta = X @ beta
    log_risk = np.log(np.cumsum(np.exp(eta)[::-1])[::-1])
    return -np.sum(event * (eta - log_risk))


@case(lambda r: (_w(r), *_surv(r, sort=True)), wrt="beta")
def cox_logaddexp_accumulate(beta, X, time, event):
    eta = X @ beta
    log_risk = np.logaddexp.accumulate(eta[::-1])[::-1]
    return -(event * (eta - log_risk)).sum() / event.sum()


@case(lambda r: (_w(r), *_surv(r)), wrt="beta")
def cox_risk_matrix(beta, X, time, event):
    at_risk = (time[None, :] >= time[:, None]).astype(float)  # row i: who is at risk at t_i
    eta = X @ beta
    log_denominator = np.log(at_risk @ np.exp(eta))
    return -np.sum(event * (eta - log_denominator))


@case(lambda r: (_w(r), *_surv(r)), wrt="beta")
def cox_python_loop_logsumexp(beta, X, time, event):
    eta = X @ beta
    loglik = 0.0
    for i in range(len(time)):
        if event[i] == 0:
            continue
        risk = time >= time[i]
        loglik += eta[i] - logsumexp(eta[risk])
    return -loglik


@case(lambda r: ({"beta": _w(r), "log_a": -1.0, "b": 0.3}, *_surv(r)), wrt="params")
def gompertz_ph(params, X, time, event):
    a, b = np.exp(params["log_a"]), params["b"]
    eta = X @ params["beta"]
    log_h = np.log(a) + b * time + eta
    H = a / b * np.expm1(b * time) * np.exp(eta)
    return -np.sum(event * log_h - H)


@case(lambda r: (r.normal(size=3) * 0.3, _w(r), *_surv(r)), wrt=["log_rates", "beta"])
def piecewise_constant_hazard(log_rates, beta, X, time, event, cuts=(0.0, 0.5, 1.5)):
    edges = np.append(np.array(cuts), np.inf)
    exposure = np.clip(time[:, None] - edges[None, :-1], 0.0, np.diff(edges)[None, :])
    interval = np.searchsorted(edges, time, side="right") - 1
    eta = X @ beta
    rates = np.exp(log_rates)
    H = exposure @ rates * np.exp(eta)
    log_h = log_rates[interval] + eta
    return -np.sum(event * log_h - H)


@case(
    lambda r: (
        {"alpha": r.normal(size=3) * 0.3, "beta": _w(r)},
        r.normal(size=(12, D)),
        r.integers(0, 3, size=12),
        (r.random(12) < 0.3).astype(float),
    ),
    wrt="params",
)
def discrete_time_hazard(params, X_pp, period, died):
    # person-period data: one row per subject per period survived
    logit = params["alpha"][period] + X_pp @ params["beta"]
    return np.sum(np.logaddexp(0, logit) - died * logit)


@case(lambda r: (_w(r), _w(r), 0.1, *_surv(r)), wrt=["beta_cure", "beta_lat", "log_lam"])
def mixture_cure_exponential(beta_cure, beta_lat, log_lam, X, time, event):
    p_uncured = expit(X @ beta_cure)
    lam = np.exp(log_lam + X @ beta_lat)
    f = lam * np.exp(-lam * time)
    S = np.exp(-lam * time)
    lik = np.where(event == 1, p_uncured * f, 1 - p_uncured + p_uncured * S)
    return -np.log(lik).sum()


@case(
    lambda r: (_w(r), 0.0, -0.5, r.normal(size=(8, D)), r.uniform(0.1, 1, 8), r.uniform(1.2, 3, 8)),
    wrt=["beta", "log_lam0", "log_k"],
)
def interval_censored_weibull(beta, log_lam0, log_k, X, left, right):
    k = np.exp(log_k)
    scale = np.exp(log_lam0 + X @ beta)
    S_left = np.exp(-((left / scale) ** k))
    S_right = np.exp(-((right / scale) ** k))
    return -np.sum(np.log(S_left - S_right))


@case(
    lambda r: (_w(r), _w(r), r.normal(size=(N, D)), r.exponential(1, N) + 0.1, r.integers(0, 3, N)),
    wrt=["beta1", "beta2"],
)
def competing_risks_exponential(beta1, beta2, X, time, cause):
    h1 = np.exp(X @ beta1)
    h2 = np.exp(X @ beta2)
    log_h = np.zeros(len(time))
    log_h[cause == 1] = np.log(h1[cause == 1])
    log_h[cause == 2] = np.log(h2[cause == 2])
    return -np.sum(log_h - (h1 + h2) * time)


@case(
    lambda r: ({"beta": _w(r), "log_theta": -0.5}, *_surv(r), np.repeat(np.arange(4), 2)),
    wrt="params",
)
def shared_gamma_frailty_exponential(params, X, time, event, cluster):
    theta = np.exp(params["log_theta"])
    eta = X @ params["beta"]
    H = np.exp(eta) * time
    total = 0.0
    for c in np.unique(cluster):
        idx = cluster == c
        d = event[idx].sum()
        Hc = H[idx].sum()
        total += (
            np.sum(event[idx] * eta[idx])
            + gammaln(1 / theta + d)
            - gammaln(1 / theta)
            + d * np.log(theta)
            - (1 / theta + d) * np.log1p(theta * Hc)
        )
    return -total


@case(lambda r: (np.array([-0.5, 1.3, 0.1]), _w(r), *_surv(r)), wrt=["gamma", "beta"])
def royston_parmar_quadratic(gamma, beta, X, time, event):
    x = np.log(time)
    log_H = gamma[0] + gamma[1] * x + gamma[2] * x**2 + X @ beta
    dlogH_dx = gamma[1] + 2 * gamma[2] * x
    dlogH_dx = np.sqrt(dlogH_dx**2 + 1e-3)  # keep the hazard positive
    log_h = log_H + np.log(dlogH_dx) - np.log(time)
    return -np.sum(event * log_h - np.exp(log_H))


@case(
    lambda r: (
        _w(r),
        0.3,
        -0.2,
        r.normal(size=(N, D)),
        r.uniform(0, 0.5, N),
        r.uniform(0.6, 2.5, N),
        (r.random(N) < 0.6).astype(float),
    ),
    wrt=["beta", "log_k", "log_lam"],
)
def left_truncated_weibull(beta, log_k, log_lam, X, entry, time, event):
    k, lam = np.exp(log_k), np.exp(log_lam)
    eta = X @ beta

    def cumhaz(t):
        return (t / lam) ** k * np.exp(eta)

    log_h = np.log(k / lam) + (k - 1) * np.log(time / lam) + eta
    return -np.sum(event * log_h - (cumhaz(time) - cumhaz(entry)))


@case(lambda r: (_w(r), *_surv(r, sort=True)), wrt="beta")
def cox_efron_free_concordance_smooth(beta, X, time, event, sigma=0.5):
    # smoothed concordance index (sigmoid of risk differences over comparable pairs)
    risk = X @ beta
    comparable = (time[:, None] < time[None, :]) & (event[:, None] == 1)
    diff = risk[:, None] - risk[None, :]
    return -np.sum(expit(diff / sigma) * comparable) / comparable.sum()


@case(lambda r: (r.normal(size=(D, 2)) * 0.5, *_surv(r)), wrt="B")
def weibull_aft_two_parameter_regression(B, X, time, event):
    params = X @ B
    log_scale, log_shape = params[:, 0], params[:, 1]
    k = np.exp(log_shape)
    z = k * (np.log(time) - log_scale)
    log_f = log_shape + z - np.exp(z) - np.log(time)
    return -np.mean(event * log_f + (1 - event) * (-np.exp(z)))
