"""Neural networks in plain numpy: MLPs, normalisation, RNNs unrolled over Python loops, attention."""

import numpy as np
from scipy.special import expit, log_softmax, logsumexp, softmax

from .harness import case

N, D, H, C = 6, 3, 4, 3


def _mlp(rng, sizes=(D, H, C), scale=0.5):
    return {
        f"W{i}": rng.normal(scale=scale, size=(a, b))
        for i, (a, b) in enumerate(zip(sizes[:-1], sizes[1:]))
    } | {f"b{i}": rng.normal(scale=0.1, size=b) for i, b in enumerate(sizes[1:])}


def _X(rng, n=N, d=D):
    return rng.normal(size=(n, d))


def _Y(rng, n=N, c=C):
    return np.eye(c)[rng.integers(0, c, n)]


def _layers(rng, sizes=(D, H, H, C)):
    return [
        {"W": rng.normal(scale=0.5, size=(a, b)), "b": rng.normal(scale=0.1, size=b)}
        for a, b in zip(sizes[:-1], sizes[1:])
    ]


# ----------------------------------------------------------------------------- MLPs


@case(
    lambda r: (
        {"W1": r.normal(size=(D, H)) * 0.5, "b1": np.zeros(H), "w2": r.normal(size=H), "b2": 0.0},
        _X(r),
        r.normal(size=N),
    ),
    wrt="params",
)
def mlp_tanh_regression(params, X, y):
    h = np.tanh(X @ params["W1"] + params["b1"])
    pred = h @ params["w2"] + params["b2"]
    return np.mean((pred - y) ** 2)


@case(lambda r: (_mlp(r, (D, H, H, C)), _X(r), _Y(r)), wrt="params")
def mlp_relu_softmax_classifier(params, X, Y):
    h = np.maximum(0, X @ params["W0"] + params["b0"])
    h = np.maximum(h @ params["W1"] + params["b1"], 0)
    logits = h @ params["W2"] + params["b2"]
    return -np.mean(np.sum(Y * log_softmax(logits, axis=1), axis=1))


@case(
    lambda r: (
        [r.normal(scale=0.5, size=s) for s in ((D, H), (H, H), (H, C))],
        [r.normal(scale=0.1, size=s) for s in (H, H, C)],
        _X(r),
        _Y(r),
    ),
    wrt=["Ws", "bs"],
)
def mlp_zip_layers(Ws, bs, X, Y):
    a = X
    for W, b in zip(Ws[:-1], bs[:-1]):
        a = np.tanh(a @ W + b)
    logits = a @ Ws[-1] + bs[-1]
    return np.mean(logsumexp(logits, axis=1) - np.sum(Y * logits, axis=1))


@case(lambda r: ({"layers": _layers(r)}, _X(r), _Y(r)), wrt="params")
def mlp_list_of_layer_dicts(params, X, Y, weight_decay=1e-3):
    h = X
    n_layers = len(params["layers"])
    for i, layer in enumerate(params["layers"]):
        h = h @ layer["W"] + layer["b"]
        if i < n_layers - 1:
            h = np.logaddexp(0, h)  # softplus
    loss = -np.mean((Y * log_softmax(h, axis=-1)).sum(-1))
    return loss + weight_decay * sum(np.sum(layer["W"] ** 2) for layer in params["layers"])


@case(
    lambda r: (
        {
            "W_in": r.normal(size=(D, H)) * 0.5,
            "blocks": [r.normal(size=(H, H)) * 0.3 for _ in range(2)],
            "w_out": r.normal(size=H),
        },
        _X(r),
        r.normal(size=N),
    ),
    wrt="params",
)
def residual_mlp(params, X, y):
    h = X @ params["W_in"]
    for W in params["blocks"]:
        h = h + np.tanh(h @ W)
    return 0.5 * np.sum((h @ params["w_out"] - y) ** 2)


def layer_norm(x, gamma, beta, eps=1e-5):
    mu = x.mean(axis=-1, keepdims=True)
    var = x.var(axis=-1, keepdims=True)
    return gamma * (x - mu) / np.sqrt(var + eps) + beta


@case(
    lambda r: (
        r.normal(size=(D, H)) * 0.5,
        1 + 0.1 * r.normal(size=H),
        0.1 * r.normal(size=H),
        r.normal(size=H),
        _X(r),
        r.normal(size=N),
    ),
    wrt=["W", "gamma", "beta", "v"],
)
def layer_norm_mlp(W, gamma, beta, v, X, y):
    h = np.tanh(layer_norm(X @ W, gamma, beta))
    return np.mean((h @ v - y) ** 2)


@case(
    lambda r: (
        r.normal(size=(D, H)) * 0.5,
        np.ones(H),
        np.zeros(H),
        r.normal(size=H),
        _X(r),
        r.normal(size=N),
    ),
    wrt=["W", "gamma", "beta", "v"],
)
def batch_norm_training(W, gamma, beta, v, X, y, eps=1e-5):
    z = X @ W
    mean = np.mean(z, axis=0)
    std = np.std(z, axis=0)
    z_hat = (z - mean) / np.sqrt(std**2 + eps)
    h = np.tanh(gamma * z_hat + beta)
    return np.mean((h @ v - y) ** 2)


@case(
    lambda r: (_mlp(r, (D, H, 1)), _X(r), r.normal(size=N), (r.random((N, H)) < 0.8).astype(float)),
    wrt="params",
)
def dropout_with_given_mask(params, X, y, mask, p=0.2):
    h = np.tanh(X @ params["W0"] + params["b0"])
    h = h * mask / (1 - p)
    pred = (h @ params["W1"] + params["b1"])[:, 0]
    return np.mean((pred - y) ** 2)


@case(lambda r: (_mlp(r, (D, H, 1)), _X(r), r.normal(size=N)), wrt="params")
def gelu_tanh_approximation(params, X, y):
    z = X @ params["W0"] + params["b0"]
    h = 0.5 * z * (1 + np.tanh(np.sqrt(2 / np.pi) * (z + 0.044715 * z**3)))
    return np.mean((h @ params["W1"] + params["b1"] - y[:, None]) ** 2)


@case(lambda r: (_mlp(r, (D, H, 1)), _X(r), r.normal(size=N)), wrt="params")
def silu_and_elu(params, X, y):
    z = X @ params["W0"] + params["b0"]
    silu = z * expit(z)
    elu = np.where(z > 0, z, np.expm1(np.minimum(z, 0)))
    h = silu + 0.5 * elu
    out = h @ params["W1"] + params["b1"]
    return np.sum((out.ravel() - y) ** 2)


@case(lambda r: (_mlp(r, (D, H, 1)), _X(r), (r.random(N) < 0.5).astype(float)), wrt="params")
def leaky_relu_binary(params, X, y, slope=0.1):
    z = X @ params["W0"] + params["b0"]
    h = np.where(z > 0, z, slope * z)
    logit = (h @ params["W1"]).squeeze(-1) + params["b1"][0]
    return np.mean(np.logaddexp(0, logit) - y * logit)


@case(
    lambda r: (
        {"W": r.normal(size=(D, 2 * H)) * 0.5, "v": r.normal(size=H)},
        _X(r),
        r.normal(size=N),
    ),
    wrt="params",
)
def gated_linear_unit(params, X, y):
    a, b = np.split(X @ params["W"], 2, axis=1)
    h = a * expit(b)
    return np.mean((h @ params["v"] - y) ** 2)


@case(
    lambda r: (
        {"W": r.normal(size=(D, 3, H)) * 0.5, "v": r.normal(size=H)},
        _X(r),
        r.normal(size=N),
    ),
    wrt="params",
)
def maxout_network(params, X, y):
    z = np.einsum("nd,dkh->nkh", X, params["W"])
    h = z.max(axis=1)
    return np.mean((h @ params["v"] - y) ** 2)


@case(
    lambda r: (
        {
            "W_h": r.normal(size=(D, D)) * 0.5,
            "W_t": r.normal(size=(D, D)) * 0.5,
            "b_t": -np.ones(D),
            "v": r.normal(size=D),
        },
        _X(r),
        r.normal(size=N),
    ),
    wrt="params",
)
def highway_layers(params, X, y, depth=2):
    h = X
    for _ in range(depth):
        t = expit(h @ params["W_t"] + params["b_t"])
        h = t * np.tanh(h @ params["W_h"]) + (1 - t) * h
    return 0.5 * np.mean((h @ params["v"] - y) ** 2)


# ----------------------------------------------------------------------------- autoencoders, VAEs, ODEs


def encode(x, p):
    return np.tanh(x @ p["enc"])


def decode(z, p):
    return z @ p["dec"]


@case(
    lambda r: (
        {"enc": r.normal(size=(4, 2)) * 0.5, "dec": r.normal(size=(2, 4)) * 0.5},
        r.normal(size=(N, 4)),
    ),
    wrt="p",
)
def autoencoder_helper_functions(p, X):
    recon = decode(encode(X, p), p)
    return np.mean(np.sum((recon - X) ** 2, axis=1))


@case(
    lambda r: (
        {"enc": r.normal(size=(4, 4)) * 0.5, "dec": r.normal(size=(2, 4)) * 0.5, "log_noise": 0.0},
        r.normal(size=(N, 4)),
        r.normal(size=(N, 2)),
    ),
    wrt="p",
)
def vae_elbo_reparameterized(p, X, eps):
    stats = X @ p["enc"]
    mu, log_var = stats[:, :2], stats[:, 2:]
    z = mu + np.exp(0.5 * log_var) * eps
    recon = z @ p["dec"]
    s2 = np.exp(2 * p["log_noise"])
    rec = 0.5 * np.sum((X - recon) ** 2) / s2 + X.size * p["log_noise"]
    kl = -0.5 * np.sum(1 + log_var - mu**2 - np.exp(log_var))
    return (rec + kl) / len(X)


@case(
    lambda r: (
        {"W": r.normal(size=(2, 2)) * 0.5, "b": np.zeros(2)},
        r.normal(size=(4, 2)),
        r.normal(size=(4, 2)),
    ),
    wrt="theta",
)
def neural_ode_euler(theta, x0, x1, steps=5, T=1.0):
    dt = T / steps
    x = x0
    for _ in range(steps):
        x = x + dt * np.tanh(x @ theta["W"] + theta["b"])
    return np.mean((x - x1) ** 2)


# ----------------------------------------------------------------------------- recurrent networks


def _rnn(rng, d=2, h=3):
    return {
        "Wx": rng.normal(size=(d, h)) * 0.5,
        "Wh": rng.normal(size=(h, h)) * 0.4,
        "b": np.zeros(h),
        "v": rng.normal(size=h),
    }


@case(lambda r: (_rnn(r), r.normal(size=(4, 5, 2)), r.normal(size=4)), wrt="params")
def elman_rnn_range_loop(params, X, y):
    batch, T, _ = X.shape
    h = np.zeros((batch, params["Wh"].shape[0]))
    for t in range(T):
        h = np.tanh(X[:, t, :] @ params["Wx"] + h @ params["Wh"] + params["b"])
    return np.mean((h @ params["v"] - y) ** 2)


@case(lambda r: (_rnn(r), r.normal(size=(5, 2)), 0.3), wrt="params")
def rnn_iterate_over_sequence_rows(params, seq, target):
    h = np.zeros(3)
    for x_t in seq:
        h = np.tanh(x_t @ params["Wx"] + params["Wh"].T @ h + params["b"])
    return (h @ params["v"] - target) ** 2


def _gru(rng, d=2, h=3):
    return {k: rng.normal(size=(d + h, h)) * 0.4 for k in ("Wz", "Wr", "Wc")} | {
        "v": rng.normal(size=h)
    }


def gru_cell(x, h, p):
    xh = np.concatenate([x, h], axis=-1)
    z = expit(xh @ p["Wz"])
    r = expit(xh @ p["Wr"])
    c = np.tanh(np.concatenate([x, r * h], axis=-1) @ p["Wc"])
    return (1 - z) * h + z * c


@case(lambda r: (_gru(r), r.normal(size=(3, 4, 2)), r.normal(size=3)), wrt="p")
def gru_unrolled(p, X, y):
    h = np.zeros((X.shape[0], 3))
    for t in range(X.shape[1]):
        h = gru_cell(X[:, t], h, p)
    return np.sum((h @ p["v"] - y) ** 2)


@case(
    lambda r: (
        {"W": r.normal(size=(2 + 3, 12)) * 0.4, "b": np.zeros(12), "v": r.normal(size=3)},
        r.normal(size=(4, 3, 2)),
        (r.random(3) < 0.5).astype(float),
    ),
    wrt="p",
    cbackend=True,
)
def lstm_unrolled_split_gates(p, X, y):
    T, B, _ = X.shape
    h = np.zeros((B, 3))
    c = np.zeros((B, 3))
    for t in range(T):
        gates = np.hstack([X[t], h]) @ p["W"] + p["b"]
        i, f, o, g = np.split(gates, 4, axis=1)
        c = expit(f + 1.0) * c + expit(i) * np.tanh(g)
        h = expit(o) * np.tanh(c)
    logit = h @ p["v"]
    return np.mean(np.logaddexp(0, logit) - y * logit)


@case(
    lambda r: ({"fwd": _rnn(r), "bwd": _rnn(r)}, r.normal(size=(4, 2)), r.normal(size=4)),
    wrt="params",
)
def bidirectional_rnn(params, seq, targets):
    def run(p, xs):
        h = np.zeros(3)
        states = []
        for x in xs:
            h = np.tanh(x @ p["Wx"] + h @ p["Wh"] + p["b"])
            states.append(h)
        return states

    fwd = run(params["fwd"], seq)
    bwd = run(params["bwd"], seq[::-1])[::-1]
    preds = np.array([f @ params["fwd"]["v"] + b @ params["bwd"]["v"] for f, b in zip(fwd, bwd)])
    return np.mean((preds - targets) ** 2)


@case(
    lambda r: (
        {
            "E": r.normal(size=(5, 3)) * 0.5,
            "Wh": r.normal(size=(3, 3)) * 0.4,
            "Wo": r.normal(size=(3, 5)) * 0.5,
        },
        r.integers(0, 5, 6),
    ),
    wrt="p",
)
def rnn_language_model(p, tokens):
    h = np.zeros(3)
    losses = []
    for t in range(len(tokens) - 1):
        h = np.tanh(p["E"][tokens[t]] + h @ p["Wh"])
        logits = h @ p["Wo"]
        losses.append(logsumexp(logits) - logits[tokens[t + 1]])
    return sum(losses) / len(losses)


# ----------------------------------------------------------------------------- attention and convolution


def _attn(rng, d=4, dk=4):
    return {k: rng.normal(size=(d, dk)) * 0.5 for k in ("Wq", "Wk", "Wv")}


@case(lambda r: (_attn(r), r.normal(size=(5, 4)), r.normal(size=(5, 4))), wrt="p")
def single_head_attention(p, X, target):
    Q, K, V = X @ p["Wq"], X @ p["Wk"], X @ p["Wv"]
    A = softmax(Q @ K.T / np.sqrt(K.shape[-1]), axis=-1)
    return np.mean((A @ V - target) ** 2)


@case(
    lambda r: (
        _attn(r) | {"Wo": r.normal(size=(4, 4)) * 0.5},
        r.normal(size=(2, 5, 4)),
        r.normal(size=(2, 5, 4)),
    ),
    wrt="p",
)
def multi_head_attention_reshape(p, X, target, heads=2):
    B, T, Dm = X.shape
    dh = Dm // heads

    def split(Z):
        return Z.reshape(B, T, heads, dh).transpose(0, 2, 1, 3)

    Q, K, V = split(X @ p["Wq"]), split(X @ p["Wk"]), split(X @ p["Wv"])
    scores = Q @ K.swapaxes(-1, -2) / np.sqrt(dh)
    A = np.exp(scores - scores.max(axis=-1, keepdims=True))
    A /= A.sum(axis=-1, keepdims=True)
    out = (A @ V).transpose(0, 2, 1, 3).reshape(B, T, Dm) @ p["Wo"]
    return np.mean((out - target) ** 2)


@case(lambda r: (_attn(r), r.normal(size=(5, 4)), r.normal(size=(5, 4))), wrt="p")
def causal_masked_attention(p, X, target):
    T = X.shape[0]
    Q, K, V = X @ p["Wq"], X @ p["Wk"], X @ p["Wv"]
    scores = Q @ K.T / np.sqrt(Q.shape[1])
    mask = np.triu(np.ones((T, T), dtype=bool), k=1)
    scores = np.where(mask, -1e9, scores)
    A = softmax(scores, axis=1)
    return np.sum((A @ V - target) ** 2) / T


@case(
    lambda r: (
        _attn(r)
        | {
            "W1": r.normal(size=(4, 6)) * 0.4,
            "W2": r.normal(size=(6, 4)) * 0.4,
            "g1": np.ones(4),
            "g2": np.ones(4),
        },
        r.normal(size=(5, 4)),
        r.normal(size=(5, 4)),
    ),
    wrt="p",
)
def transformer_block(p, X, target):
    def ln(x, g):
        m = x.mean(-1, keepdims=True)
        s = np.sqrt(((x - m) ** 2).mean(-1, keepdims=True) + 1e-5)
        return g * (x - m) / s

    def attention(x):
        q, k, v = x @ p["Wq"], x @ p["Wk"], x @ p["Wv"]
        return softmax(q @ k.T / 2.0, axis=-1) @ v

    h = X + attention(ln(X, p["g1"]))
    h = h + np.tanh(ln(h, p["g2"]) @ p["W1"]) @ p["W2"]
    return np.mean((h - target) ** 2)


@case(
    lambda r: (r.normal(size=3), 0.0, r.normal(size=10), r.normal(size=8)), wrt=["kernel", "bias"]
)
def conv1d_python_loop(kernel, bias, signal, target):
    k = len(kernel)
    out = []
    for i in range(len(signal) - k + 1):
        out.append(np.dot(signal[i : i + k], kernel) + bias)
    out = np.array(out)
    return np.sum((np.tanh(out) - target) ** 2)


@case(
    lambda r: (r.normal(size=(3, 2, 4)) * 0.5, r.normal(size=(2, 9, 2)), r.normal(size=2)), wrt="K"
)
def conv1d_stacked_windows_einsum(K, X, y):
    width = K.shape[0]
    T = X.shape[1] - width + 1
    windows = np.stack([X[:, i : i + T, :] for i in range(width)], axis=2)  # (B, T, width, C)
    feat = np.einsum("btwc,wco->bto", windows, K)
    pooled = np.logaddexp.reduce(feat, axis=1)  # smooth max over time
    return np.mean((pooled.sum(axis=1) - y) ** 2)


@case(
    lambda r: (
        {"phi": r.normal(size=(2, 4)) * 0.5, "rho": r.normal(size=4)},
        r.normal(size=(3, 5, 2)),
        r.normal(size=3),
    ),
    wrt="p",
)
def deep_sets_attention_pooling(p, sets, y):
    feats = np.tanh(sets @ p["phi"])  # (S, n, 4)
    weights = softmax(feats @ p["rho"], axis=1)  # (S, n)
    pooled = np.sum(weights[..., np.newaxis] * feats, axis=1)
    return np.mean((pooled.sum(-1) - y) ** 2)


@case(
    lambda r: (r.normal(size=(4, 4)) * 0.5, r.normal(size=(6, 4)), r.normal(size=(6, 4))), wrt="W"
)
def sinusoidal_positional_encoding(W, X, target):
    T, d = X.shape
    pos = np.arange(T)[:, None]
    i = np.arange(d)[None, :]
    angle = pos / np.power(10000.0, (2 * (i // 2)) / d)
    pe = np.where(i % 2 == 0, np.sin(angle), np.cos(angle))
    return np.mean((np.tanh((X + pe) @ W) - target) ** 2)


@case(
    lambda r: (
        {
            "shared": r.normal(size=(D, H)) * 0.5,
            "heads": {"reg": r.normal(size=H), "clf": r.normal(size=H)},
        },
        _X(r),
        r.normal(size=N),
        (r.random(N) < 0.5).astype(float),
    ),
    wrt="params",
)
def multi_task_heads_dict_comprehension(params, X, y_reg, y_clf):
    h = np.tanh(X @ params["shared"])
    out = {name: h @ w for name, w in params["heads"].items()}
    losses = {
        "reg": np.mean((out["reg"] - y_reg) ** 2),
        "clf": np.mean(np.logaddexp(0, out["clf"]) - y_clf * out["clf"]),
    }
    return sum(losses.values())


@case(lambda r: (_mlp(r), _X(r), _Y(r)), wrt="params")
def weight_decay_generator_over_params(params, X, Y, lam=1e-2):
    h = np.tanh(X @ params["W0"] + params["b0"])
    logits = h @ params["W1"] + params["b1"]
    nll = -np.sum(Y * (logits - logsumexp(logits, axis=1, keepdims=True)))
    return nll + lam * sum((v**2).sum() for k, v in params.items() if k.startswith("W"))
