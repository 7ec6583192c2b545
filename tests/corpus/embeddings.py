"""Embedding models: word2vec, GloVe, knowledge-graph embeddings, metric learning, t-SNE."""

import numpy as np
from scipy.special import expit, log_expit, logsumexp, log_softmax

from .harness import case

V, E = 6, 3  # vocabulary size, embedding dimension


def _emb(rng, v=V, e=E, scale=0.5):
    return rng.normal(scale=scale, size=(v, e))


@case(
    lambda r: (
        _emb(r),
        _emb(r),
        r.integers(0, V, 5),
        r.integers(0, V, 5),
        r.integers(0, V, (5, 3)),
    ),
    wrt=["W_in", "W_out"],
    cbackend=True,
)
def skipgram_negative_sampling(W_in, W_out, centers, contexts, negatives):
    h = W_in[centers]  # (B, E)
    pos = np.sum(h * W_out[contexts], axis=1)  # (B,)
    neg = np.einsum("be,bke->bk", h, W_out[negatives])  # (B, K)
    return -np.mean(log_expit(pos) + np.sum(log_expit(-neg), axis=1))


@case(
    lambda r: (
        _emb(r),
        _emb(r),
        r.normal(size=V) * 0.1,
        r.normal(size=V) * 0.1,
        r.poisson(3, size=(V, V)).astype(float),
    ),
    wrt=["W", "W_tilde", "b", "b_tilde"],
)
def glove(W, W_tilde, b, b_tilde, Xcooc, x_max=10.0, a=0.75):
    nz = Xcooc > 0
    f = np.where(nz, np.minimum((Xcooc / x_max) ** a, 1.0), 0.0)
    logX = np.log(np.where(nz, Xcooc, 1.0))
    pred = W @ W_tilde.T + b[:, None] + b_tilde[None, :]
    return np.sum(f * (pred - logX) ** 2)


@case(
    lambda r: (
        _emb(r),
        _emb(r, v=2),
        r.integers(0, V, (5, 3)),
        r.integers(0, V, 5),
        r.integers(0, 2, 5),
    ),
    wrt=["ent", "rel"],
)
def transe_soft_margin(ent, rel, triples, corrupt_tails, rel_idx, margin=1.0):
    h, t = ent[triples[:, 0]], ent[triples[:, 2]]
    rr = rel[rel_idx]
    d_pos = np.linalg.norm(h + rr - t, axis=1)
    d_neg = np.linalg.norm(h + rr - ent[corrupt_tails], axis=1)
    return np.mean(np.logaddexp(0, margin + d_pos - d_neg))


@case(
    lambda r: (
        _emb(r),
        _emb(r, v=2),
        r.integers(0, V, 6),
        r.integers(0, 2, 6),
        r.integers(0, V, 6),
        (r.random(6) < 0.5).astype(float),
    ),
    wrt=["ent", "rel"],
)
def distmult(ent, rel, heads, rels, tails, labels):
    score = np.sum(ent[heads] * rel[rels] * ent[tails], axis=-1)
    return np.sum(np.logaddexp(0, score) - labels * score) + 0.01 * (ent**2).sum()


@case(
    lambda r: (
        r.normal(size=(4, E)),
        r.normal(size=(4, E)),
        r.normal(size=(4, E)),
        r.normal(size=(E, E)) * 0.5,
    ),
    wrt="W",
)
def triplet_soft_margin(anchor, positive, negative, W):
    fa, fp, fn = anchor @ W, positive @ W, negative @ W
    d_ap = np.sum((fa - fp) ** 2, axis=1)
    d_an = np.sum((fa - fn) ** 2, axis=1)
    return np.mean(np.log1p(np.exp(d_ap - d_an)))


@case(lambda r: (r.normal(size=(E, E)), r.normal(size=(5, E)), r.normal(size=(5, E))), wrt=["W"])
def info_nce_cosine(W, X1, X2, temperature=0.5):
    Z1, Z2 = X1 @ W, X2 @ W
    Z1 = Z1 / np.linalg.norm(Z1, axis=1, keepdims=True)
    Z2 = Z2 / np.linalg.norm(Z2, axis=1, keepdims=True)
    logits = Z1 @ Z2.T / temperature
    labels = np.arange(len(X1))
    return -np.mean(log_softmax(logits, axis=1)[labels, labels])


@case(
    lambda r: (
        np.eye(E) + 0.2 * r.normal(size=(E, E)),
        r.normal(size=(6, E)),
        r.normal(size=(6, E)),
        (r.random(6) < 0.5).astype(float),
    ),
    wrt="L",
)
def mahalanobis_metric_learning(L, X1, X2, similar, margin=2.0):
    M = L.T @ L
    d = X1 - X2
    dist2 = np.einsum("ni,ij,nj->n", d, M, d)
    loss_sim = similar * dist2
    loss_dis = (1 - similar) * np.logaddexp(0, margin - dist2)
    return np.mean(loss_sim + loss_dis)


def _tsne_P(rng, n=6):
    X = rng.normal(size=(n, 4))
    d2 = ((X[:, None] - X[None]) ** 2).sum(-1)
    P = np.exp(-d2)
    np.fill_diagonal(P, 0.0)
    return P / P.sum()


@case(lambda r: (r.normal(size=(6, 2)), _tsne_P(r)), wrt="Y")
def tsne_kl(Y, P):
    d2 = np.sum((Y[:, None, :] - Y[None, :, :]) ** 2, axis=-1)
    num = 1.0 / (1.0 + d2)
    num = num * (1 - np.eye(len(Y)))
    Q = num / num.sum()
    off = ~np.eye(len(Y), dtype=bool)
    return np.sum(P[off] * np.log(P[off] / Q[off]))


@case(lambda r: (r.normal(size=(6, 2)), _tsne_P(r) * 6), wrt="Y")
def umap_cross_entropy(Y, W, a=1.6, b=0.9):
    iu = np.triu_indices(len(Y), k=1)
    d2 = np.sum((Y[iu[0]] - Y[iu[1]]) ** 2, axis=1)
    q = 1.0 / (1.0 + a * d2**b)
    w = np.clip(W[iu], 1e-6, 1 - 1e-6)
    return -np.sum(w * np.log(q) + (1 - w) * np.log(1 - q + 1e-4))


def _poincare_pairs(rng, n=5, batch=4, k=3):
    # no self-pairs: arccosh(1 + 2|u - v|^2 / ...) has a kink at u == v
    anchors = rng.integers(0, n, batch)
    others = (anchors[:, None] + rng.integers(1, n, (batch, k + 1))) % n
    return np.stack([anchors, others[:, 0]], axis=1), others[:, 1:]


@case(lambda r: (r.uniform(-0.3, 0.3, size=(5, 2)), *_poincare_pairs(r)), wrt="theta")
def poincare_embedding(theta, pos_pairs, neg_ids):
    def dist(u, v):
        sq = np.sum((u - v) ** 2, axis=-1)
        alpha = 1 - np.sum(u**2, axis=-1)
        beta = 1 - np.sum(v**2, axis=-1)
        return np.arccosh(1 + 2 * sq / (alpha * beta))

    u = theta[pos_pairs[:, 0]]
    d_pos = dist(u, theta[pos_pairs[:, 1]])
    d_neg = dist(u[:, None, :], theta[neg_ids])
    all_d = np.concatenate([d_pos[:, None], d_neg], axis=1)
    return np.mean(d_pos + logsumexp(-all_d, axis=1))


@case(lambda r: (_emb(r), _emb(r), r.integers(0, V, 5), r.integers(0, V, 5)), wrt=["W_in", "W_out"])
def skipgram_full_softmax(W_in, W_out, centers, contexts):
    scores = W_in[centers] @ W_out.T
    log_p = scores - logsumexp(scores, axis=1, keepdims=True)
    return -log_p[np.arange(len(centers)), contexts].sum()


@case(
    lambda r: (
        _emb(r),
        r.normal(size=E),
        [r.integers(0, V, k) for k in (2, 3, 1)],
        np.array([1.0, 0.0, 1.0]),
    ),
    wrt=["emb", "w"],
)
def bag_of_embeddings_classifier(emb, w, bags, labels):
    feats = np.stack([emb[idx].mean(axis=0) for idx in bags])
    z = feats @ w
    return np.sum(np.logaddexp(0, z) - labels * z)


@case(
    lambda r: (
        _emb(r),
        r.integers(0, V, 7),
        r.normal(size=(7, E)),
        np.array([0, 1, 1, 2, 0, 2, 1]),
    ),
    wrt="emb",
)
def add_at_scatter_pooling(emb, tokens, noise, segment):
    pooled = np.zeros((3, emb.shape[1]))
    np.add.at(pooled, segment, emb[tokens] + 0.1 * noise)
    return np.sum(np.tanh(pooled) ** 2)


@case(
    lambda r: (
        r.normal(size=(E, 2)),
        r.normal(size=(6, E)),
        r.normal(size=(6, E)),
        (r.random(6) < 0.5).astype(float),
    ),
    wrt="W",
)
def siamese_contrastive_hadsell(W, X1, X2, same, margin=1.0):
    d = np.sqrt(np.sum((X1 @ W - X2 @ W) ** 2, axis=1) + 1e-9)
    smooth_hinge = np.logaddexp(0, 5 * (margin - d)) / 5
    return np.mean(same * d**2 + (1 - same) * smooth_hinge**2)


@case(lambda r: (_emb(r), _emb(r), r.integers(0, V, (8, 2)), r.random(8) + 0.5), wrt=["emb", "ctx"])
def line_second_order_proximity(emb, ctx, edges, weights):
    src, dst = edges[:, 0], edges[:, 1]
    logits = emb[src] @ ctx.T
    return -np.sum(weights * (logits[np.arange(len(src)), dst] - logsumexp(logits, axis=1)))


@case(
    lambda r: (
        0.1,
        r.normal(size=4) * 0.3,
        r.normal(size=(4, 2)) * 0.3,
        r.normal(size=(6, 4)),
        r.normal(size=6),
    ),
    wrt=["w0", "w", "Vf"],
)
def factorization_machine(w0, w, Vf, X, y):
    linear = w0 + X @ w
    inter = 0.5 * np.sum((X @ Vf) ** 2 - (X**2) @ (Vf**2), axis=1)
    return np.mean((linear + inter - y) ** 2)


@case(
    lambda r: (
        {
            "emb_a": _emb(r, v=4, e=2),
            "emb_b": _emb(r, v=3, e=2),
            "W": r.normal(size=(4, 3)) * 0.5,
            "v": r.normal(size=3),
        },
        r.integers(0, 4, 6),
        r.integers(0, 3, 6),
        (r.random(6) < 0.5).astype(float),
    ),
    wrt="params",
)
def categorical_embeddings_mlp(params, cat_a, cat_b, y):
    h = np.concatenate([params["emb_a"][cat_a], params["emb_b"][cat_b]], axis=1)
    h = np.tanh(h @ params["W"])
    z = h @ params["v"]
    return np.mean(np.logaddexp(0, z) - y * z)


@case(
    lambda r: (
        _emb(r),
        _emb(r, v=4),
        r.integers(0, V, 6),
        r.integers(0, 4, 6),
        r.integers(0, 4, 6),
    ),
    wrt=["users", "items"],
)
def bpr_ranking(users, items, u, i_pos, i_neg, lam=0.01):
    x_uij = np.sum(users[u] * (items[i_pos] - items[i_neg]), axis=1)
    return -np.sum(log_expit(x_uij)) + lam * (np.sum(users[u] ** 2) + np.sum(items[i_pos] ** 2))


@case(
    lambda r: (
        r.normal(size=(4, E)),
        r.normal(size=(3, E)),
        r.normal(size=(6, 4)),
        r.integers(0, 3, 6),
    ),
    wrt=["W", "centers"],
)
def center_loss(W, centers, X, labels, lam=0.5):
    feats = X @ W
    logits = feats @ centers.T
    ce = np.mean(logsumexp(logits, axis=1) - logits[np.arange(len(labels)), labels])
    return ce + lam * np.mean(np.sum((feats - centers[labels]) ** 2, axis=1))


@case(lambda r: (_emb(r), r.integers(0, V, (5, 2)), (r.random(5) < 0.5).astype(float)), wrt="emb")
def spherical_embeddings_cosine(emb, pairs, labels, scale=4.0):
    unit = emb / np.linalg.norm(emb, axis=1, keepdims=True)
    cos = np.sum(unit[pairs[:, 0]] * unit[pairs[:, 1]], axis=1)
    z = scale * cos
    return np.mean(np.logaddexp(0, z) - labels * z)


@case(
    lambda r: (
        r.normal(size=(4, E)),
        r.normal(size=(6, 4)),
        np.array([0, 0, 1, 1, 2, 2]),
        r.normal(size=(4, 4)),
        r.integers(0, 3, 4),
    ),
    wrt="W",
)
def prototypical_network(W, support, support_labels, query, query_labels):
    fs, fq = support @ W, query @ W
    protos = np.stack([fs[support_labels == c].mean(axis=0) for c in range(3)])
    d2 = ((fq[:, None, :] - protos[None, :, :]) ** 2).sum(-1)
    log_p = log_softmax(-d2, axis=1)
    return -np.mean(log_p[np.arange(len(query_labels)), query_labels])


@case(lambda r: (_emb(r), r.integers(0, V, (4, 3)), expit(r.normal(size=(4, 3)))), wrt="emb")
def cbow_average_context(emb, windows, soft_targets):
    ctx = emb[windows].mean(axis=1)  # (B, E)
    scores = ctx @ emb.T  # (B, V)
    logp = log_softmax(scores, axis=1)
    return -np.sum(soft_targets * logp[:, :3])
