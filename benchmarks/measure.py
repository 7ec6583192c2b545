"""In-process measurements: per-call time of loss+gradient (interleaved) and fit times."""

import statistics
import time

import numpy as np


def per_call(vgs, x, budget_s, min_calls, max_calls=2000):
    """Median seconds per ``vg(x)`` call for each named callable.

    Calls are interleaved (one call of each per round, order rotated every round) so that the
    machine's drifting load hits every contender alike; the number of rounds fits ``budget_s``.
    """
    names = list(vgs)
    for name in names:  # warm-up: compilation, caches, first-touch of buffers
        vgs[name](x)
        vgs[name](x)
    start = time.perf_counter()
    for name in names:
        vgs[name](x)
    one_round = time.perf_counter() - start
    rounds = int(min(max_calls, max(min_calls, budget_s / max(one_round, 1e-9))))
    samples = {name: [] for name in names}
    for r in range(rounds):
        shift = r % len(names)
        for name in names[shift:] + names[:shift]:
            t0 = time.perf_counter()
            vgs[name](x)
            samples[name].append(time.perf_counter() - t0)
    return {
        name: {"median_s": statistics.median(s), "calls": len(s)} for name, s in samples.items()
    }


def gradient_error(vg, reference_vg, x):
    """Relative max-norm difference of the gradient from the reference's, and of the value."""
    value, grad = vg(x)
    ref_value, ref_grad = reference_vg(x)
    scale = max(np.max(np.abs(ref_grad)), 1e-300)
    return {
        "grad_rel_err": float(np.max(np.abs(np.asarray(grad) - ref_grad)) / scale),
        "value_rel_err": float(abs(float(value) - ref_value) / max(abs(ref_value), 1e-300)),
    }


def fits(fit, x0, repeats, budget_s):
    """First fit (includes any trace/compile/jit a contender does lazily), then refits in the
    same process until ``repeats`` refits or ``budget_s`` is spent (always at least one refit)."""
    first = fit(x0.copy())
    refits = []
    spent = 0.0
    while len(refits) < repeats and (not refits or spent < budget_s):
        r = fit(x0.copy())
        refits.append(r)
        spent += r.seconds
    return first, refits
