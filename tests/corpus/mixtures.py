"""Mixture models, latent-variable likelihoods, HMMs and variational objectives."""

import numpy as np
from scipy.special import betaln, gammaln, log_softmax, logsumexp, softmax

from .harness import case

N, K, D = 8, 3, 2


def _gmm1d(rng):
    return {
        "logits": rng.normal(scale=0.3, size=K),
        "mu": np.array([-1.0, 0.0, 1.5]) + 0.1 * rng.normal(size=K),
        "log_sigma": rng.normal(scale=0.2, size=K),
    }


@case(lambda r: (_gmm1d(r), r.normal(size=N) * 1.5), wrt="params")
def gmm_1d(params, x):
    log_w = log_softmax(params["logits"])
    sigma = np.exp(params["log_sigma"])
    z = (x[:, None] - params["mu"][None, :]) / sigma
    log_comp = -0.5 * z**2 - np.log(sigma) - 0.5 * np.log(2 * np.pi)
    return -logsumexp(log_w + log_comp, axis=1).sum()


@case(
    lambda r: (
        r.normal(size=K) * 0.3,
        r.normal(size=(K, D)),
        r.normal(size=(K, D)) * 0.2,
        r.normal(size=(N, D)),
    ),
    wrt=["logits", "means", "log_scales"],
)
def gmm_diagonal(logits, means, log_scales, X):
    log_pi = logits - logsumexp(logits)
    diff = X[:, None, :] - means[None]
    log_det = log_scales.sum(axis=1)
    maha = np.sum((diff / np.exp(log_scales)) ** 2, axis=2)
    log_p = log_pi - log_det - 0.5 * maha - 0.5 * D * np.log(2 * np.pi)
    return -np.mean(logsumexp(log_p, axis=1))


@case(
    lambda r: (
        [
            {"mu": r.normal(size=D), "L": np.eye(D) + 0.2 * np.tril(r.normal(size=(D, D)), -1)}
            for _ in range(2)
        ],
        np.array([0.1, -0.1]),
        r.normal(size=(N, D)),
    ),
    wrt=["components", "logits"],
)
def gmm_full_covariance_loop(components, logits, X):
    log_w = logits - np.logaddexp(logits[0], logits[1])
    per_comp = []
    for k, comp in enumerate(components):
        L = np.tril(comp["L"])
        cov = L @ L.T + 1e-3 * np.eye(X.shape[1])
        diff = X - comp["mu"]
        sol = np.linalg.solve(cov, diff.T)
        maha = np.sum(diff.T * sol, axis=0)
        logdet = np.linalg.slogdet(cov)[1]
        per_comp.append(log_w[k] - 0.5 * (maha + logdet + X.shape[1] * np.log(2 * np.pi)))
    return -np.sum(logsumexp(np.stack(per_comp, axis=1), axis=1))


@case(
    lambda r: (
        {"gate": r.normal(size=(D, K)) * 0.5, "experts": r.normal(size=(D, K)), "log_noise": -0.5},
        r.normal(size=(N, D)),
        r.normal(size=N),
    ),
    wrt="params",
)
def mixture_of_experts(params, X, y):
    log_gate = log_softmax(X @ params["gate"], axis=1)
    preds = X @ params["experts"]
    s = np.exp(params["log_noise"])
    log_lik = -0.5 * ((y[:, None] - preds) / s) ** 2 - np.log(s) - 0.5 * np.log(2 * np.pi)
    return -logsumexp(log_gate + log_lik, axis=1).mean()


@case(
    lambda r: (r.normal(size=K) * 0.3, np.log([1.0, 3.0, 8.0]), r.poisson(3, size=N).astype(float)),
    wrt=["logits", "log_rates"],
)
def poisson_mixture(logits, log_rates, counts):
    log_w = log_softmax(logits)
    log_pmf = counts[:, None] * log_rates - np.exp(log_rates) - gammaln(counts[:, None] + 1)
    return -np.sum(logsumexp(log_w + log_pmf, axis=1))


@case(
    lambda r: (
        r.normal(size=2) * 0.3,
        r.normal(size=(2, 4)),
        (r.random((N, 4)) < 0.4).astype(float),
    ),
    wrt=["logits", "theta"],
)
def bernoulli_mixture(logits, theta, B):
    log_w = log_softmax(logits)
    log_p = -np.logaddexp(0, -theta)  # log sigmoid
    log_q = -np.logaddexp(0, theta)  # log (1 - sigmoid)
    ll = B @ log_p.T + (1 - B) @ log_q.T  # (N, 2)
    return -logsumexp(ll + log_w, axis=1).sum()


@case(
    lambda r: (
        {"pi": r.normal(size=K) * 0.2, "mu": r.normal(size=K), "log_s": r.normal(size=K) * 0.2},
        r.normal(size=N),
        softmax(r.normal(size=(N, K)), axis=1),
    ),
    wrt="params",
)
def expected_complete_loglik(params, x, resp):
    log_pi = log_softmax(params["pi"])
    s2 = np.exp(2 * params["log_s"])
    log_n = -0.5 * np.log(2 * np.pi * s2) - (x[:, None] - params["mu"]) ** 2 / (2 * s2)
    return -np.sum(resp * (log_pi + log_n))


@case(
    lambda r: (
        np.zeros(2),
        np.array([-1.0, 1.0]),
        np.array([0.0, 0.0]),
        1.0,
        r.standard_t(3, size=N),
    ),
    wrt=["logits", "loc", "log_scale", "log_df"],
)
def student_t_mixture(logits, loc, log_scale, log_df, x):
    nu = np.exp(log_df)
    s = np.exp(log_scale)
    z = (x[:, None] - loc) / s
    log_t = (
        gammaln((nu + 1) / 2)
        - gammaln(nu / 2)
        - 0.5 * np.log(nu * np.pi)
        - log_scale
        - (nu + 1) / 2 * np.log1p(z * z / nu)
    )
    return -logsumexp(log_t + log_softmax(logits), axis=-1).sum()


def _hmm(rng):
    return {
        "init": rng.normal(size=2) * 0.3,
        "trans": rng.normal(size=(2, 2)) * 0.5,
        "mu": np.array([-1.0, 1.0]),
        "log_s": np.zeros(2),
    }


@case(lambda r: (_hmm(r), r.normal(size=6)), wrt="params", cbackend=True)
def hmm_forward_log_space(params, obs):
    log_A = log_softmax(params["trans"], axis=1)
    s = np.exp(params["log_s"])
    log_B = -0.5 * ((obs[:, None] - params["mu"]) / s) ** 2 - np.log(s) - 0.5 * np.log(2 * np.pi)
    log_alpha = log_softmax(params["init"]) + log_B[0]
    for t in range(1, len(obs)):
        log_alpha = logsumexp(log_alpha[:, None] + log_A, axis=0) + log_B[t]
    return -logsumexp(log_alpha)


@case(lambda r: (_hmm(r), r.normal(size=6)), wrt="params")
def hmm_forward_scaled(params, obs):
    A = softmax(params["trans"], axis=1)
    pi = softmax(params["init"])
    s = np.exp(params["log_s"])
    B = np.exp(-0.5 * ((obs[:, None] - params["mu"]) / s) ** 2) / (s * np.sqrt(2 * np.pi))
    alpha = pi * B[0]
    c = alpha.sum()
    log_lik = np.log(c)
    alpha = alpha / c
    for b in B[1:]:
        alpha = (alpha @ A) * b
        c = alpha.sum()
        log_lik = log_lik + np.log(c)
        alpha /= c
    return -log_lik


@case(
    lambda r: (
        r.normal(size=4) * 0.3,
        r.multinomial(10, [0.1, 0.2, 0.3, 0.4], size=5).astype(float),
    ),
    wrt="log_alpha",
)
def dirichlet_multinomial(log_alpha, counts):
    alpha = np.exp(log_alpha)
    n = counts.sum(axis=1)
    A = alpha.sum()
    ll = (
        gammaln(A)
        - gammaln(n + A)
        + np.sum(gammaln(counts + alpha) - gammaln(alpha), axis=1)
        + gammaln(n + 1)
        - np.sum(gammaln(counts + 1), axis=1)
    )
    return -ll.sum()


@case(
    lambda r: (
        r.normal(size=2) * 0.3,
        r.normal(size=(2, 3, 3)) * 0.5,
        r.integers(0, 3, size=(N, 3)),
    ),
    wrt=["class_logits", "item_logits"],
)
def latent_class_model(class_logits, item_logits, responses):
    log_pc = log_softmax(class_logits)  # (C,)
    log_item = log_softmax(item_logits, axis=-1)  # (C, J items, R categories)
    n_items = responses.shape[1]
    ll = np.zeros((responses.shape[0], len(log_pc)))
    for j in range(n_items):
        ll = ll + log_item[:, j, responses[:, j]].T
    return -logsumexp(ll + log_pc, axis=1).sum()


@case(lambda r: (r.normal(size=(D, 3 * K)) * 0.4, r.normal(size=(N, D)), r.normal(size=N)), wrt="W")
def mixture_density_network_head(W, X, y):
    out = X @ W
    logits, mu, log_sigma = out[:, :K], out[:, K : 2 * K], out[:, 2 * K :]
    log_pi = logits - logsumexp(logits, axis=1, keepdims=True)
    log_n = (
        -0.5 * ((y[:, None] - mu) * np.exp(-log_sigma)) ** 2 - log_sigma - 0.5 * np.log(2 * np.pi)
    )
    return -logsumexp(log_pi + log_n, axis=1).mean()


@case(
    lambda r: (np.zeros(2), np.array([-1.0, 1.2]), np.array([-0.3, 0.1]), r.laplace(size=N)),
    wrt=["logits", "loc", "log_b"],
)
def laplace_mixture(logits, loc, log_b, x):
    log_comp = -np.abs(x[:, None] - loc) / np.exp(log_b) - log_b - np.log(2)
    return -logsumexp(log_comp + log_softmax(logits), axis=1).sum()


@case(
    lambda r: (
        r.normal(size=2) * 0.3,
        np.log([2.0, 4.0]),
        np.array([0.0, 0.5]),
        (r.poisson(2, size=N) * (r.random(N) > 0.3)).astype(float),
    ),
    wrt=["zero_logit", "log_mu", "log_r"],
)
def zero_inflated_negative_binomial(zero_logit, log_mu, log_r, y):
    # two groups (even/odd rows) with their own parameters
    g = np.arange(len(y)) % 2
    mu, rr = np.exp(log_mu[g]), np.exp(log_r[g])
    log_nb = (
        gammaln(y + rr)
        - gammaln(rr)
        - gammaln(y + 1)
        + rr * (np.log(rr) - np.log(rr + mu))
        + y * (np.log(mu) - np.log(rr + mu))
    )
    log_pi = -np.logaddexp(0, -zero_logit[g])
    log_1m = -np.logaddexp(0, zero_logit[g])
    ll = np.where(y == 0, np.logaddexp(log_pi, log_1m + log_nb), log_1m + log_nb)
    return -np.sum(ll)


@case(
    lambda r: (
        {"m": r.normal(size=D) * 0.3, "log_s": np.full(D, -0.5)},
        r.normal(size=(4, D)),
        r.normal(size=(N, D)),
        (r.random(N) < 0.5).astype(float),
    ),
    wrt="q",
)
def elbo_bayesian_logistic_reparam(q, eps, X, y):
    s = np.exp(q["log_s"])
    W = q["m"] + s * eps  # (S, D) samples via reparameterisation
    logits = X @ W.T  # (N, S)
    loglik = np.sum(y[:, None] * logits - np.logaddexp(0, logits), axis=0).mean()
    kl = 0.5 * np.sum(s**2 + q["m"] ** 2 - 1 - 2 * q["log_s"])
    return kl - loglik


@case(
    lambda r: (r.normal(size=D), r.normal(size=D) * 0.3, r.normal(size=D), r.normal(size=D) * 0.3),
    wrt=["mu_q", "log_sq", "mu_p", "log_sp"],
)
def kl_diagonal_gaussians(mu_q, log_sq, mu_p, log_sp):
    var_q, var_p = np.exp(2 * log_sq), np.exp(2 * log_sp)
    return np.sum(log_sp - log_sq + (var_q + (mu_q - mu_p) ** 2) / (2 * var_p) - 0.5)


@case(
    lambda r: (np.zeros(2), np.log([[2.0, 5.0], [5.0, 2.0]]), r.beta(2, 5, size=N)),
    wrt=["logits", "log_ab"],
)
def beta_mixture_betaln(logits, log_ab, x):
    a, b = np.exp(log_ab[:, 0]), np.exp(log_ab[:, 1])
    log_pdf = (a - 1) * np.log(x[:, None]) + (b - 1) * np.log1p(-x[:, None]) - betaln(a, b)
    return -np.sum(logsumexp(log_pdf + log_softmax(logits), axis=1))


@case(
    lambda r: (
        r.normal(size=(K, D)),
        r.normal(size=(N, D)),
        softmax(r.normal(size=(N, K)), axis=1),
    ),
    wrt="means",
)
def einsum_responsibility_weighted_distance(means, X, resp):
    diff = X[:, None, :] - means[None, :, :]
    return 0.5 * np.einsum("nk,nkd,nkd->", resp, diff, diff)


@case(lambda r: (r.normal(size=K) * 0.3, r.normal(size=K), r.normal(size=N)), wrt=["logits", "mu"])
def gmm_manual_logsumexp(logits, mu, x):
    log_w = logits - np.log(np.sum(np.exp(logits)))
    a = log_w - 0.5 * (x[:, None] - mu) ** 2
    m = np.max(a, axis=1, keepdims=True)
    lse = m[:, 0] + np.log(np.sum(np.exp(a - m), axis=1))
    return -lse.sum()


@case(lambda r: (r.normal(size=K) * 0.3, r.normal(size=K), r.normal(size=N)), wrt=["logits", "mu"])
def gmm_global_max_logsumexp(logits, mu, x):
    # one max over the whole (N, K) matrix (np.max without axis) stabilises every row at once
    a = logits - 0.5 * (x[:, None] - mu) ** 2
    m = np.max(a)
    return -np.sum(np.log(np.sum(np.exp(a - m), axis=1)) + m) + len(x) * np.log(
        np.sum(np.exp(logits))
    )


@case(lambda r: (np.array([0.5, 0.5, 0.5]), r.dirichlet([1, 1, 1], size=4)), wrt="log_alpha")
def dirichlet_log_likelihood(log_alpha, P):
    alpha = np.exp(log_alpha)
    log_B = np.sum(gammaln(alpha)) - gammaln(np.sum(alpha))
    return -(np.sum((alpha - 1) * np.log(P)) - len(P) * log_B)
