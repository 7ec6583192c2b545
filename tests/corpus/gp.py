"""Gaussian processes and Gaussian densities: kernels, Cholesky, log-determinants."""

import numpy as np
import scipy.linalg
import scipy.stats
from scipy.linalg import cho_factor, cho_solve, solve_triangular

from .harness import case

N, D = 6, 2


def _data(rng, n=N, d=D):
    X = rng.normal(size=(n, d))
    y = np.sin(X[:, 0]) + 0.1 * rng.normal(size=n)
    return X, y


def _hyp(rng):
    return {
        "log_ell": float(rng.normal(scale=0.2)),
        "log_sf": float(rng.normal(scale=0.2)),
        "log_sn": -1.0 + float(rng.normal(scale=0.1)),
    }


def sq_dists(A, B):
    return np.sum(A**2, 1)[:, None] + np.sum(B**2, 1)[None, :] - 2 * A @ B.T


def rbf(A, B, ell, sf):
    return sf**2 * np.exp(-0.5 * sq_dists(A / ell, B / ell))


@case(lambda r: (_hyp(r), *_data(r)), wrt="hyp", cbackend=True)
def gp_nlml_cholesky(hyp, X, y):
    ell, sf, sn = np.exp(hyp["log_ell"]), np.exp(hyp["log_sf"]), np.exp(hyp["log_sn"])
    K = rbf(X, X, ell, sf) + sn**2 * np.eye(len(X))
    L = np.linalg.cholesky(K)
    alpha = np.linalg.solve(L.T, np.linalg.solve(L, y))
    return 0.5 * y @ alpha + np.sum(np.log(np.diag(L))) + 0.5 * len(X) * np.log(2 * np.pi)


@case(lambda r: (_hyp(r), *_data(r)), wrt="hyp")
def gp_nlml_slogdet_solve(hyp, X, y):
    ell, sf, sn = (np.exp(hyp[k]) for k in ("log_ell", "log_sf", "log_sn"))
    diff = X[:, None, :] - X[None, :, :]
    K = sf**2 * np.exp(-0.5 * np.sum(diff**2, axis=-1) / ell**2)
    K += sn**2 * np.eye(X.shape[0])
    sign, logdet = np.linalg.slogdet(K)
    return 0.5 * (y @ np.linalg.solve(K, y) + logdet)


@case(lambda r: (_hyp(r), *_data(r)), wrt="hyp")
def gp_nlml_inverse_det(hyp, X, y):
    ell, sf, sn = np.exp(hyp["log_ell"]), np.exp(hyp["log_sf"]), np.exp(hyp["log_sn"])
    K = rbf(X, X, ell, sf) + np.diag(np.full(len(y), sn**2))
    Kinv = np.linalg.inv(K)
    return 0.5 * y.dot(Kinv).dot(y) + 0.5 * np.log(np.linalg.det(K))


@case(
    lambda r: (r.normal(scale=0.2, size=D), 0.1, -1.0, *_data(r)),
    wrt=["log_ells", "log_sf", "log_sn"],
)
def gp_ard_kernel(log_ells, log_sf, log_sn, X, y):
    Z = X / np.exp(log_ells)
    d2 = ((Z[:, None, :] - Z[None, :, :]) ** 2).sum(-1)
    K = np.exp(2 * log_sf) * np.exp(-0.5 * d2) + np.exp(2 * log_sn) * np.eye(len(y))
    L = np.linalg.cholesky(K)
    a = solve_triangular(L, y, lower=True)
    return 0.5 * a @ a + np.log(np.diag(L)).sum()


@case(lambda r: (_hyp(r), *_data(r)), wrt="hyp")
def gp_matern32(hyp, X, y):
    ell, sf, sn = np.exp(hyp["log_ell"]), np.exp(hyp["log_sf"]), np.exp(hyp["log_sn"])
    d2 = sq_dists(X, X)
    r = np.sqrt(np.maximum(d2, 0.0) + 1e-12) / ell
    K = sf**2 * (1 + np.sqrt(3) * r) * np.exp(-np.sqrt(3) * r) + sn**2 * np.eye(len(y))
    c, low = cho_factor(K, lower=True)
    return 0.5 * y @ cho_solve((c, low), y) + np.sum(np.log(np.diag(c)))


@case(lambda r: (np.array([0.0, 0.3, 0.2, -1.0]), *_data(r)), wrt="theta")
def gp_periodic_kernel(theta, X, y):
    log_ell, log_p, log_sf, log_sn = theta
    x = X[:, 0]
    dist = np.sqrt((x[:, None] - x[None, :]) ** 2 + 1e-12)
    K = np.exp(2 * log_sf) * np.exp(
        -2 * np.sin(np.pi * dist / np.exp(log_p)) ** 2 / np.exp(2 * log_ell)
    )
    K = K + np.exp(2 * log_sn) * np.eye(len(x))
    return 0.5 * (y @ np.linalg.solve(K, y) + np.linalg.slogdet(K)[1])


@case(lambda r: ({"log_ell": 0.1, "log_alpha": 0.2, "log_sn": -1.0}, *_data(r)), wrt="hyp")
def gp_rational_quadratic(hyp, X, y):
    ell, alpha, sn = np.exp(hyp["log_ell"]), np.exp(hyp["log_alpha"]), np.exp(hyp["log_sn"])
    K = (1 + sq_dists(X, X) / (2 * alpha * ell**2)) ** (-alpha)
    K[np.diag_indices_from(K)] += sn**2
    L = np.linalg.cholesky(K)
    v = solve_triangular(L, y, lower=True)
    return 0.5 * np.dot(v, v) + np.log(L.diagonal()).sum()


@case(lambda r: ({"rbf": np.array([0.1, 0.0]), "lin": -0.5, "noise": -1.0}, *_data(r)), wrt="hyp")
def gp_sum_of_kernels(hyp, X, y):
    def k_rbf(A, B, log_ell, log_sf):
        return np.exp(2 * log_sf - 0.5 * sq_dists(A, B) / np.exp(2 * log_ell))

    def k_lin(A, B, log_c):
        return np.exp(log_c) * A @ B.T

    K = (
        k_rbf(X, X, *hyp["rbf"])
        + k_lin(X, X, hyp["lin"])
        + np.exp(2 * hyp["noise"]) * np.eye(len(y))
    )
    L = np.linalg.cholesky(K)
    alpha = scipy.linalg.cho_solve((L, True), y)
    return 0.5 * y @ alpha + np.sum(np.log(np.diagonal(L)))


@case(lambda r: ({"log_ell": 0.0, "log_p": 0.5, "log_sn": -1.0}, *_data(r)), wrt="hyp")
def gp_product_kernel(hyp, X, y):
    x = X[:, 0]
    d = x[:, None] - x[None, :]
    k_se = np.exp(-0.5 * d**2 / np.exp(2 * hyp["log_ell"]))
    k_per = np.exp(-2 * np.sin(np.pi * d / np.exp(hyp["log_p"])) ** 2)
    K = k_se * k_per + np.exp(2 * hyp["log_sn"]) * np.eye(x.size)
    return 0.5 * y @ np.linalg.solve(K, y) + 0.5 * np.linalg.slogdet(K)[1]


@case(lambda r: (_hyp(r), *_data(r), r.normal(size=(3, D)), r.normal(size=3)), wrt="hyp")
def gp_predictive_mse(hyp, X, y, X_test, y_test):
    ell, sf, sn = np.exp(hyp["log_ell"]), np.exp(hyp["log_sf"]), np.exp(hyp["log_sn"])
    K = rbf(X, X, ell, sf) + sn**2 * np.eye(len(X))
    Ks = rbf(X_test, X, ell, sf)
    mean = Ks @ np.linalg.solve(K, y)
    var = sf**2 - np.sum(Ks * np.linalg.solve(K, Ks.T).T, axis=1) + sn**2
    return np.mean(0.5 * np.log(var) + 0.5 * (y_test - mean) ** 2 / var)


@case(lambda r: (r.normal(size=(3, D)), _hyp(r), *_data(r)), wrt=["Z", "hyp"])
def sparse_gp_dtc_inducing_points(Z, hyp, X, y):
    ell, sf, sn = np.exp(hyp["log_ell"]), np.exp(hyp["log_sf"]), np.exp(hyp["log_sn"])
    Kuu = rbf(Z, Z, ell, sf) + 1e-6 * np.eye(len(Z))
    Kuf = rbf(Z, X, ell, sf)
    Luu = np.linalg.cholesky(Kuu)
    A = solve_triangular(Luu, Kuf, lower=True) / sn
    B = np.eye(len(Z)) + A @ A.T
    LB = np.linalg.cholesky(B)
    c = solve_triangular(LB, A @ y, lower=True) / sn
    n = len(y)
    bound = (
        -0.5 * n * np.log(2 * np.pi)
        - np.sum(np.log(np.diag(LB)))
        - n * np.log(sn)
        - 0.5 * y @ y / sn**2
        + 0.5 * c @ c
        - 0.5 * (n * sf**2 - np.sum(A**2) * sn**2) / sn**2
    )
    return -bound


@case(lambda r: (0.0, -1.0, *_data(r)), wrt=["log_ell", "log_lam"])
def kernel_ridge_loo_error(log_ell, log_lam, X, y):
    K = np.exp(-0.5 * sq_dists(X, X) / np.exp(2 * log_ell))
    G = np.linalg.inv(K + np.exp(log_lam) * np.eye(len(y)))
    loo_residual = (G @ y) / np.diag(G)
    return np.mean(loo_residual**2)


@case(
    lambda r: (
        np.array([0.1, -0.2]),
        np.array([[1.0, 0.3], [0.3, 1.0]]),
        -1.5,
        r.normal(size=(4, 1)),
        r.normal(size=(4, 2)),
    ),
    wrt=["log_ells", "B", "log_sn"],
)
def multi_output_gp_kronecker(log_ells, B, log_sn, x, Y):
    Kx = np.exp(-0.5 * (x - x.T) ** 2 / np.exp(2 * log_ells[0]))
    Kt = B @ B.T + np.exp(log_ells[1]) * np.eye(2)
    K = np.kron(Kt, Kx) + np.exp(2 * log_sn) * np.eye(8)
    yv = Y.T.reshape(-1)
    L = np.linalg.cholesky(K)
    a = np.linalg.solve(L, yv)
    return 0.5 * a @ a + np.sum(np.log(np.diag(L)))


@case(lambda r: (0.0, *_data(r)), wrt="log_ell")
def kernel_target_alignment(log_ell, X, y):
    K = np.exp(-0.5 * sq_dists(X, X) * np.exp(-2 * log_ell))
    Y = np.outer(y, y)
    return -np.sum(K * Y) / (np.linalg.norm(K) * np.linalg.norm(Y))


@case(
    lambda r: (
        np.tril(r.normal(size=(3, 3)) * 0.3) + np.eye(3),
        r.normal(size=3),
        r.normal(size=(5, 3)),
    ),
    wrt=["L_raw", "mu"],
)
def gaussian_nll_cholesky_factor(L_raw, mu, X):
    L = np.tril(L_raw, -1) + np.diag(np.exp(np.diag(L_raw)))  # positive diagonal
    Z = solve_triangular(L, (X - mu).T, lower=True)
    n, d = X.shape
    return 0.5 * np.sum(Z**2) + n * np.sum(np.log(np.diag(L))) + 0.5 * n * d * np.log(2 * np.pi)


@case(
    lambda r: (r.normal(size=3), np.eye(3) + 0.2 * r.normal(size=(3, 3)), r.normal(size=(5, 3))),
    wrt=["mu", "A"],
)
def multivariate_normal_logpdf(mu, A, X):
    cov = A @ A.T + 0.1 * np.eye(3)
    return -np.sum(scipy.stats.multivariate_normal.logpdf(X, mean=mu, cov=cov))


@case(lambda r: (r.normal(size=(5, 3)) * 0.5,), wrt="F")
def dpp_log_likelihood(F, subset=(0, 2, 3)):
    L = F @ F.T + 0.1 * np.eye(F.shape[0])
    idx = np.array(subset)
    L_S = L[np.ix_(idx, idx)]
    return -(np.linalg.slogdet(L_S)[1] - np.linalg.slogdet(L + np.eye(len(L)))[1])


@case(lambda r: (_hyp(r), *_data(r)), wrt="hyp")
def gp_eigh_logdet(hyp, X, y):
    ell, sf, sn = np.exp(hyp["log_ell"]), np.exp(hyp["log_sf"]), np.exp(hyp["log_sn"])
    K = rbf(X, X, ell, sf) + sn**2 * np.eye(len(y))
    evals, evecs = np.linalg.eigh(K)
    proj = evecs.T @ y
    return 0.5 * np.sum(proj**2 / evals) + 0.5 * np.sum(np.log(evals))


@case(lambda r: (_hyp(r), *_data(r)), wrt="hyp")
def gp_eigvalsh_logdet(hyp, X, y):
    ell, sf, sn = np.exp(hyp["log_ell"]), np.exp(hyp["log_sf"]), np.exp(hyp["log_sn"])
    K = rbf(X, X, ell, sf) + sn**2 * np.eye(len(y))
    return 0.5 * y @ np.linalg.solve(K, y) + 0.5 * np.log(np.linalg.eigvalsh(K)).sum()


@case(lambda r: (_hyp(r), *_data(r)), wrt="hyp")
def gp_fill_diagonal_jitter_trace(hyp, X, y):
    ell, sf, sn = np.exp(hyp["log_ell"]), np.exp(hyp["log_sf"]), np.exp(hyp["log_sn"])
    K = rbf(X, X, ell, sf)
    idx = np.diag_indices(len(y))
    K[idx] = K[idx] + sn**2
    Kinv = np.linalg.inv(K)
    S = np.outer(y, y)
    # expected negative log-likelihood with trace form
    return 0.5 * np.trace(Kinv @ S) + 0.5 * np.linalg.slogdet(K)[1]


@case(lambda r: (r.normal(size=(3, 3)) * 0.4, r.normal(size=(6, 3))), wrt="A")
def wishart_like_trace_logdet(A, X, nu=5.0):
    Sigma = A @ A.T + np.eye(3)
    S = X.T @ X
    return 0.5 * np.trace(np.linalg.solve(Sigma, S)) + 0.5 * nu * np.linalg.slogdet(Sigma)[1]


@case(lambda r: (_hyp(r), *_data(r)), wrt="hyp")
def gp_cho_factor_upper(hyp, X, y):
    ell, sf, sn = np.exp(hyp["log_ell"]), np.exp(hyp["log_sf"]), np.exp(hyp["log_sn"])
    K = rbf(X, X, ell, sf) + sn**2 * np.eye(len(y))
    U = scipy.linalg.cholesky(K, lower=False)
    alpha = cho_solve((U, False), y)
    return 0.5 * y @ alpha + np.log(np.diag(U)).sum()
