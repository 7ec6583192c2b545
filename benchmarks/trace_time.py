"""Trace time of a 50-line loss: how long skautodiff's engine takes to run a realistic loss once
and build its graph (no compile). Issue 5's target: under 50 ms.

The loss below is written the way a user writes a bigger model: a zero-inflated Poisson
regression with a gating network, an elastic-net penalty, per-group offsets, loops over
components and features and three short helpers: 49 lines of body (`body_lines`).
"""

import statistics
import time

import numpy as np


def _softplus(z):
    return np.logaddexp(0.0, z)


def _log_poisson(k, log_rate):
    return k * log_rate - np.exp(log_rate) - _log_factorial(k)


def _log_factorial(k):
    # Stirling's series beyond 1, exact enough for a benchmark
    k = np.maximum(k, 1.0)
    return k * np.log(k) - k + 0.5 * np.log(2 * np.pi * k) + 1.0 / (12.0 * k)


def zero_inflated_mixture(
    params,
    X,
    counts,
    groups,
    alpha,
    l1_ratio=0.5,
    n_components=3,
    sample_weight=None,
    temperature=1.0,
):
    n, d = X.shape
    if sample_weight is None:
        sample_weight = np.ones(n)
    weights_total = np.sum(sample_weight)
    X = (X - np.mean(X, axis=0)) / (np.std(X, axis=0) + 1e-12)
    W, b = params["W"], params["b"]
    gate_W, gate_b = params["gate_W"], params["gate_b"]
    zero_w, zero_b = params["zero_w"], params["zero_b"]
    offsets = params["offsets"]

    # per-component log-rates with a per-group offset
    log_rates = X @ W + b
    log_rates = log_rates + offsets[groups][:, None]
    log_rates = np.clip(log_rates, -20.0, 20.0)

    # gating network: softmax over components
    gate = (X @ gate_W + gate_b) / temperature
    gate = gate - np.max(gate, axis=1, keepdims=True)
    log_gate = gate - np.log(np.sum(np.exp(gate), axis=1, keepdims=True))

    # zero-inflation probability (log space)
    zero_logit = X @ zero_w + zero_b
    log_pi = -_softplus(-zero_logit)
    log_not_pi = -_softplus(zero_logit)

    # mixture of Poissons, component by component
    per_component = []
    for c in range(n_components):
        lp = _log_poisson(counts, log_rates[:, c])
        per_component.append(log_gate[:, c] + lp)
    stacked = np.stack(per_component, axis=1)
    top = np.max(stacked, axis=1)
    log_mix = top + np.log(np.sum(np.exp(stacked - top[:, None]), axis=1))

    # zeros come from the inflation or from the mixture
    is_zero = counts == 0
    zero_branch = np.logaddexp(log_pi, log_not_pi + log_mix)
    count_branch = log_not_pi + log_mix
    log_lik = np.where(is_zero, zero_branch, count_branch)
    nll = -np.sum(sample_weight * log_lik) / weights_total

    # calibration: the mean predicted count should match the observed mean
    mean_rate = np.sum(np.exp(log_gate + log_rates), axis=1) * np.exp(log_not_pi)
    calibration = (np.mean(mean_rate) - np.mean(counts)) ** 2
    nll = nll + 1e-2 * calibration

    # elastic-net penalty on every weight matrix, smooth L1 (pseudo-Huber)
    penalty = 0.0
    for weights in (W, gate_W, zero_w):
        l2 = 0.5 * np.sum(weights**2)
        l1 = np.sum(np.sqrt(weights**2 + 1e-8))
        penalty = penalty + l1_ratio * l1 + (1.0 - l1_ratio) * l2
    for j in range(d):  # a per-feature smoothness term between neighbouring features
        if j > 0:
            penalty = penalty + 1e-4 * np.sum((W[j] - W[j - 1]) ** 2)
    group_shrinkage = 0.5 * np.sum(offsets**2) / max(len(offsets), 1)
    entropy = -np.mean(np.sum(np.exp(log_gate) * log_gate, axis=1))
    if n_components > 1:
        balance = 1e-3 * entropy
    else:
        balance = 0.0
    return nll + alpha * penalty + group_shrinkage - balance


def example(n=200, d=8, components=3, groups=5, seed=0):
    rng = np.random.default_rng(seed)
    X = rng.standard_normal((n, d))
    params = {
        "W": rng.standard_normal((d, components)) * 0.1,
        "b": np.zeros(components),
        "gate_W": rng.standard_normal((d, components)) * 0.1,
        "gate_b": np.zeros(components),
        "zero_w": rng.standard_normal(d) * 0.1,
        "zero_b": np.float64(0.0),
        "offsets": np.zeros(groups),
    }
    counts = rng.poisson(2.0, n).astype(float) * (rng.random(n) > 0.3)
    group = rng.integers(0, groups, n)
    return params, (X, counts, group, 1e-3)


def body_lines(fn=zero_inflated_mixture):
    import inspect

    source = inspect.getsource(fn).splitlines()[1:]
    return sum(1 for line in source if line.strip() and not line.strip().startswith("#"))


def measure(repeats=15):
    """Median seconds of one trace (engine run + graph building), after one warm-up trace."""
    from skautodiff.trace import trace

    params, args = example()
    trace(zero_inflated_mixture, (params, *args), {}, {"params"})  # imports, first-use caches
    times = []
    for _ in range(repeats):
        start = time.perf_counter()
        trace(zero_inflated_mixture, (params, *args), {}, {"params"})
        times.append(time.perf_counter() - start)
    return {"trace_s": statistics.median(times), "lines": body_lines(), "repeats": repeats}


if __name__ == "__main__":
    print(measure())
