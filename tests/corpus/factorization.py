"""Matrix and tensor factorisation: recommenders, NMF, PCA variants, factor analysis."""

import numpy as np
from scipy.special import expit, gammaln, kl_div, xlogy

from .harness import case

M, N, R = 5, 4, 2


def _UV(rng, m=M, n=N, r=R):
    return rng.normal(scale=0.5, size=(m, r)), rng.normal(scale=0.5, size=(n, r))


def _ratings(rng, m=M, n=N):
    return rng.normal(size=(m, n)), rng.random((m, n)) < 0.6


@case(lambda r: (*_UV(r), *_ratings(r)), wrt=["U", "V"])
def mf_masked_squared_error(U, V, ratings, observed, lam=0.1):
    pred = U @ V.T
    err = (pred - ratings)[observed]
    return 0.5 * np.sum(err**2) + 0.5 * lam * (np.sum(U**2) + np.sum(V**2))


@case(
    lambda r: (
        {
            "U": _UV(r)[0],
            "V": _UV(r)[1],
            "bu": r.normal(size=M) * 0.1,
            "bi": r.normal(size=N) * 0.1,
            "mu": 0.2,
        },
        *_ratings(r),
    ),
    wrt="params",
)
def mf_with_biases(params, ratings, observed, lam=0.05):
    U, V = params["U"], params["V"]
    pred = params["mu"] + params["bu"][:, None] + params["bi"][None, :] + U @ V.T
    mask = observed.astype(float)
    sse = np.sum(mask * (ratings - pred) ** 2)
    reg = lam * sum(np.sum(params[k] ** 2) for k in ("U", "V", "bu", "bi"))
    return sse + reg


@case(
    lambda r: (*_UV(r), r.integers(0, M, 9), r.integers(0, N, 9), r.normal(size=9)),
    wrt=["U", "V"],
    cbackend=True,
)
def mf_index_arrays(U, V, users, items, ratings):
    pred = np.sum(U[users] * V[items], axis=1)
    return np.mean((pred - ratings) ** 2)


@case(
    lambda r: (r.normal(size=(M, R)), r.normal(size=(R, N)), r.gamma(2, 1, size=(M, N))),
    wrt=["W_raw", "H_raw"],
)
def nmf_softplus_frobenius(W_raw, H_raw, V):
    W = np.logaddexp(0, W_raw)
    H = np.logaddexp(0, H_raw)
    return 0.5 * np.linalg.norm(V - W @ H) ** 2


@case(
    lambda r: (
        r.normal(size=(M, R)) * 0.3,
        r.normal(size=(R, N)) * 0.3,
        r.gamma(2, 1, size=(M, N)),
    ),
    wrt=["log_W", "log_H"],
)
def nmf_kl_divergence(log_W, log_H, V):
    WH = np.exp(log_W) @ np.exp(log_H)
    return np.sum(kl_div(V, WH))


@case(
    lambda r: (
        r.normal(size=(M, R)) * 0.3,
        r.normal(size=(R, N)) * 0.3,
        r.gamma(2, 1, size=(M, N)),
    ),
    wrt=["log_W", "log_H"],
)
def nmf_generalized_kl_xlogy(log_W, log_H, V):
    WH = np.exp(log_W).dot(np.exp(log_H))
    return np.sum(xlogy(V, V / WH) - V + WH)


@case(lambda r: (*_UV(r), r.poisson(2.0, size=(M, N)).astype(float)), wrt=["U", "V"])
def poisson_mf(U, V, counts):
    log_rate = U @ V.T
    return np.sum(np.exp(log_rate) - counts * log_rate + gammaln(counts + 1))


@case(lambda r: (*_UV(r), np.zeros(N), (r.random((M, N)) < 0.5).astype(float)), wrt=["U", "V", "b"])
def logistic_pca(U, V, b, B):
    theta = U @ V.T + b
    return np.sum(np.logaddexp(0, theta) - B * theta)


@case(lambda r: (r.normal(size=(3, R)), -0.5, r.normal(size=(10, 3))), wrt=["W", "log_s2"])
def ppca_marginal_likelihood(W, log_s2, X):
    n, d = X.shape
    C = W @ W.T + np.exp(log_s2) * np.eye(d)
    S = np.cov(X, rowvar=False, bias=True)
    _, logdet = np.linalg.slogdet(C)
    return 0.5 * n * (d * np.log(2 * np.pi) + logdet + np.trace(np.linalg.solve(C, S)))


@case(
    lambda r: (r.normal(size=(3, 1)), r.normal(size=3) * 0.2 - 0.5, r.normal(size=(10, 3))),
    wrt=["Lambda", "log_psi"],
)
def factor_analysis(Lambda, log_psi, X):
    Xc = X - X.mean(axis=0)
    Sigma = Lambda @ Lambda.T + np.diag(np.exp(log_psi))
    L = np.linalg.cholesky(Sigma)
    Z = np.linalg.solve(L, Xc.T)
    return 0.5 * np.sum(Z**2) + X.shape[0] * np.sum(np.log(np.diag(L)))


@case(
    lambda r: (
        r.normal(size=(3, R)),
        r.normal(size=(4, R)),
        r.normal(size=(2, R)),
        r.normal(size=(3, 4, 2)),
    ),
    wrt=["A", "B", "C"],
)
def cp_decomposition_einsum(A, B, C, T):
    approx = np.einsum("ir,jr,kr->ijk", A, B, C)
    return 0.5 * np.sum((T - approx) ** 2)


@case(
    lambda r: (
        r.normal(size=(2, 2, 2)),
        r.normal(size=(3, 2)),
        r.normal(size=(4, 2)),
        r.normal(size=(2, 2)),
        r.normal(size=(3, 4, 2)),
    ),
    wrt=["G", "A", "B", "C"],
)
def tucker_decomposition(G, A, B, C, T):
    approx = np.einsum("abc,ia,jb,kc->ijk", G, A, B, C)
    return np.mean((T - approx) ** 2)


@case(
    lambda r: (r.normal(size=(4, 2)) * 0.5, r.normal(size=4) * 0.2, r.normal(size=(9, 4))),
    wrt=["F", "log_d"],
)
def low_rank_plus_diagonal_woodbury(F, log_d, X):
    d = np.exp(log_d)
    Dinv = 1.0 / d
    k = F.shape[1]
    cap = np.eye(k) + (F.T * Dinv) @ F
    # Woodbury: (D + F F^T)^-1 = D^-1 - D^-1 F cap^-1 F^T D^-1
    XD = X * Dinv
    quad = np.sum(X * XD, axis=1) - np.sum((XD @ F) * np.linalg.solve(cap, (XD @ F).T).T, axis=1)
    logdet = np.sum(log_d) + np.linalg.slogdet(cap)[1]
    return 0.5 * np.sum(quad) + 0.5 * len(X) * logdet


@case(
    lambda r: (
        np.linalg.qr(r.normal(size=(4, R)))[0] + 0.1 * r.normal(size=(4, R)),
        r.normal(size=(8, 4)),
    ),
    wrt="W",
)
def orthogonality_penalized_pca(W, X, lam=1.0):
    recon = X @ W @ W.T
    ortho = W.T @ W - np.eye(W.shape[1])
    return np.sum((X - recon) ** 2) / len(X) + lam * np.sum(ortho**2)


@case(lambda r: (r.normal(size=(4, 3)),), wrt="A")
def nuclear_norm_svd(A, target=1.0):
    s = np.linalg.svd(A, compute_uv=False)
    return (np.sum(s) - target) ** 2 + 0.1 * np.sum(A**2)


@case(
    lambda r: (*_UV(r), r.poisson(1.0, size=(M, N)).astype(float)),
    wrt=["X_u", "Y_i"],
    name="implicit_feedback_weighted_als_loss",
)
def implicit_als(X_u, Y_i, counts, alpha=2.0, lam=0.1):
    P = (counts > 0).astype(float)
    C = 1 + alpha * counts
    return np.sum(C * (P - X_u @ Y_i.T) ** 2) + lam * (np.sum(X_u**2) + np.sum(Y_i**2))


@case(
    lambda r: (*_UV(r), r.normal(size=(M, 2)), r.normal(size=(2, R)), *_ratings(r)),
    wrt=["U", "V", "W_side"],
)
def mf_with_side_features(U, V, user_features, W_side, ratings, observed):
    user_repr = U + user_features @ W_side
    residual = np.where(observed, ratings - user_repr @ V.T, 0.0)
    return np.sum(residual**2)


@case(lambda r: (*_UV(r), r.normal(size=(M, N)) + 3 * (r.random((M, N)) < 0.1)), wrt=["U", "V"])
def robust_pca_pseudo_huber(U, V, Y, delta=0.5):
    E = Y - U @ V.T
    return np.sum(delta**2 * (np.sqrt(1 + (E / delta) ** 2) - 1))


@case(
    lambda r: (r.normal(size=(3, 4)), r.normal(size=(6, 3)) * 0.5, r.normal(size=(6, 4))),
    wrt=["dictionary", "codes"],
)
def dictionary_learning_smooth_l1(dictionary, codes, X, lam=0.1):
    atoms = dictionary / np.linalg.norm(dictionary, axis=1, keepdims=True)
    recon = codes @ atoms
    return 0.5 * np.sum((X - recon) ** 2) + lam * np.sum(np.sqrt(codes**2 + 1e-6))


@case(lambda r: (r.normal(size=(4, 2)) * 0.5, np.zeros(4), r.normal(size=(7, 4))), wrt=["W", "c"])
def tied_linear_autoencoder(W, c, X):
    code = X @ W
    recon = code @ W.T + c
    return np.mean(np.sum((X - recon) ** 2, axis=1))


@case(
    lambda r: (r.normal(size=(M, R)), r.normal(size=(N, R)), r.normal(size=(M, N))), wrt=["A", "B"]
)
def mf_transpose_and_trace_form(A, B, Y):
    # ||Y - A B^T||_F^2 written with traces
    P = A @ B.T
    return np.trace(Y.T @ Y) - 2 * np.trace(Y.T @ P) + np.trace(P.T @ P)


@case(
    lambda r: (
        r.normal(size=(M, R)),
        r.normal(size=(N, R)),
        (r.random((M, N)) < 0.5).astype(float),
    ),
    wrt=["U", "V"],
)
def binary_mf_expit_cross_entropy(U, V, Y, eps=1e-9):
    P = expit(U @ V.T)
    return -np.mean(Y * np.log(P + eps) + (1 - Y) * np.log(1 - P + eps))
