"""The JAX backend against hand-written JAX and the C backend, in one run (ratios from one run).

    python -m benchmarks.jax_backend                 # CPU: every dense benchmark problem
    python -m benchmarks.jax_backend --quick         # the small problems (a smoke run, ~1 min)
    python -m benchmarks.jax_backend --preset gpu --out DIR   # the GPU check (see doc/performance.md)
    python -m benchmarks.jax_backend --preset gpu --scale 0.002   # the same script, tiny, on CPU

Per call: what an optimiser pays per evaluation, parameters crossing from and to numpy included:
  * hand JAX: ``jax.jit(jax.value_and_grad(loss))`` on the same loss source (np rebound to
    jax.numpy), data placed on the device once, flat float64 numpy vector in, (float, numpy) out;
  * skautodiff JAX / C: the objective ``skautodiff.minimize`` hands scipy (flat vector in, value
    and flat gradient out), data on the device once for JAX.
Calls are interleaved (benchmarks.measure.per_call), so a loaded machine slows all alike.
Fits: hand JAX + scipy L-BFGS-B against ``skautodiff.minimize(..., backend=...)`` and the
shipped estimator, all with the problem's L-BFGS-B settings: each contender's first fit, then
refits alternating between the contenders (A B C, B C A, ...), reported as median and min.
Writes ``jax_backend.json`` and ``jax_backend.md`` to --out (default benchmarks/results/).
"""

import argparse
import dataclasses
import json
import os
import pathlib
import platform
import statistics
import time
import warnings

import numpy as np
import scipy.optimize

os.environ.setdefault("SKAUTODIFF_TIERS", "0")  # steady state: C before the first call

from benchmarks import measure
from benchmarks.blas import scipy_blas_single_thread
from benchmarks.contenders import skautodiff_estimator
from benchmarks.losses import rebind
from benchmarks.problems import FULL, QUICK, Problem

ROOT = pathlib.Path(__file__).resolve().parent.parent
GPU = [
    Problem("logistic-1M", "logistic", 1_000_000, 100),
    Problem("mlp-200k", "mlp", 200_000, 50, k=10, hidden=64, maxiter=200, tol=0.0),
]


def _scaled(problem, scale):
    if scale == 1:
        return problem
    return dataclasses.replace(problem, n=max(200, int(problem.n * scale)))


def hand_jax(problem, layout, data):
    """Hand-written JAX: jit(value_and_grad) with the data on the device."""
    import jax
    import jax.numpy as jnp

    loss = rebind(problem.loss, jnp)
    jvg = jax.jit(jax.value_and_grad(lambda x, X, y, a: loss(layout.unflatten(x), X, y, a)))
    X, y = jax.device_put(data.X), jax.device_put(data.y)

    def vg(x):
        value, grad = jvg(x, X, y, problem.alpha)
        return float(value), np.asarray(grad)

    return vg


def skautodiff_objective(problem, layout, data, backend):
    """The objective skautodiff.minimize hands scipy, on the benchmark's flat layout."""
    from skautodiff import pytree
    from skautodiff.api import _wrt_names
    from skautodiff.optimize import _Objective

    x0 = problem.x0(layout)
    params0 = layout.unflatten(x0)
    treedef = pytree.flatten(params0)[1]
    # skautodiff's flat order is the layout's (dict order), so the flat vectors are the same
    assert np.array_equal(pytree.ravel(params0)[0], x0)

    def call_args(leaves):
        return (pytree.unflatten(treedef, leaves), data.X, data.y, problem.alpha), {}

    data_names = _wrt_names(problem.loss, [1, 2])[0]  # the loss's X and y, whatever their names
    return _Objective(problem.loss, 0, params0, call_args, True, backend, rows=data_names)


def fit_hand_jax(problem, vg):
    def fit(x0):
        with scipy_blas_single_thread():
            start = time.perf_counter()
            res = scipy.optimize.minimize(
                vg, x0, jac=True, method="L-BFGS-B", options=problem.options()
            )
            return time.perf_counter() - start, int(res.nit), float(res.fun)

    return fit


def fit_minimize(problem, layout, data, backend):
    import skautodiff

    def fit(x0):
        start = time.perf_counter()
        res = skautodiff.minimize(
            problem.loss,
            layout.unflatten(x0),
            args=(data.X, data.y, problem.alpha),
            method="L-BFGS-B",
            options=problem.options(),
            backend=backend,
            rows=(1, 2),
        )
        return time.perf_counter() - start, int(res.nit), float(res.fun)

    return fit


def fit_estimator(problem, data, backend):
    from sklearn.base import clone
    from sklearn.exceptions import ConvergenceWarning

    template = skautodiff_estimator(problem).set_params(backend=backend)

    def fit(x0):
        est = clone(template)
        with warnings.catch_warnings():
            warnings.simplefilter("ignore", ConvergenceWarning)
            start = time.perf_counter()
            est.fit(data.X, data.labels)
            return time.perf_counter() - start, est.n_iter_, est.loss_

    return fit


def run_problem(problem, settings, with_c, with_fits):
    layout, data = problem.layout(), problem.make_data()
    x0 = problem.x0(layout)
    vgs = {
        "hand JAX": hand_jax(problem, layout, data),
        "skautodiff JAX": skautodiff_objective(problem, layout, data, "jax"),
    }
    if with_c:
        vgs["skautodiff C"] = skautodiff_objective(problem, layout, data, "c")
    rng = np.random.default_rng(0)
    x = x0 + 0.1 * rng.standard_normal(x0.size)
    out = {
        "problem": problem.key,
        "label": problem.label,
        "agreement": {
            name: measure.gradient_error(vg, vgs["hand JAX"], x) for name, vg in vgs.items()
        },
        "per_call": measure.per_call(vgs, x, settings["call_budget"], settings["min_calls"]),
    }
    hand = out["per_call"]["hand JAX"]["median_s"]
    out["per_call_ratio"] = {name: r["median_s"] / hand for name, r in out["per_call"].items()}
    if with_fits:
        fits = {
            "hand JAX + L-BFGS-B": fit_hand_jax(problem, vgs["hand JAX"]),
            "skautodiff.minimize JAX": fit_minimize(problem, layout, data, "jax"),
            "estimator JAX": fit_estimator(problem, data, "jax"),
        }
        if with_c:
            fits["estimator C"] = fit_estimator(problem, data, "c")
        out["fits"] = alternating_fits(fits, x0, settings["refits"])
        hand = out["fits"]["hand JAX + L-BFGS-B"]
        for r in out["fits"].values():
            r["refit_ratio"] = r["refit_median_s"] / hand["refit_median_s"]
            r["refit_min_ratio"] = r["refit_min_s"] / hand["refit_min_s"]
    return out


def alternating_fits(fits, x0, refits):
    """First fit of each contender (compiles), then `refits` rounds of one refit each, in an
    order rotated every round (A B C, B C A, ...): a load that drifts during the run (other
    processes on the machine) then hits every contender alike. Median and min of the refits."""
    names = list(fits)
    firsts = {name: fits[name](x0.copy()) for name in names}
    samples = {name: [] for name in names}
    for r in range(refits):
        for name in names[r % len(names) :] + names[: r % len(names)]:
            samples[name].append(fits[name](x0.copy()))
    out = {}
    for name in names:
        seconds = [s[0] for s in samples[name]]
        last = samples[name][-1]
        out[name] = {
            "first_s": firsts[name][0],
            "refit_s": seconds,
            "refit_median_s": statistics.median(seconds),
            "refit_min_s": min(seconds),
            "nit": last[1],
            "loss": last[2],
        }
    return out


def _device():
    import jax

    d = jax.devices()[0]
    return f"{d.platform}: {getattr(d, 'device_kind', d)} ({len(jax.devices())} device(s))"


def markdown(results, meta):
    lines = [
        f"JAX backend benchmark: {meta['device']}, {meta['cpus']} CPUs, {meta['when']}, "
        f"jax {meta['jax']}, pytensor {meta['pytensor']}, numpy {meta['numpy']}"
        + (f" (load average at start {meta['load']})" if meta.get("load") else ""),
        "",
        "| problem | hand JAX per call | skautodiff JAX | ratio | skautodiff C | ratio |",
        "|---|---|---|---|---|---|",
    ]
    for r in results:
        pc, ratio = r["per_call"], r["per_call_ratio"]
        c = (
            f"{pc['skautodiff C']['median_s'] * 1e3:.3f} ms | {ratio['skautodiff C']:.2f}x"
            if "skautodiff C" in pc
            else "- | -"
        )
        lines.append(
            f"| {r['label']} | {pc['hand JAX']['median_s'] * 1e3:.3f} ms | "
            f"{pc['skautodiff JAX']['median_s'] * 1e3:.3f} ms | {ratio['skautodiff JAX']:.2f}x | {c} |"
        )
    fitted = [r for r in results if "fits" in r]
    if fitted:
        lines += [
            "",
            "| problem | fit | first fit | refits: median | min | ratio to hand JAX: median "
            "| min | iterations | loss |",
            "|---|---|---|---|---|---|---|---|---|",
        ]
        for r in fitted:
            for name, f in r["fits"].items():
                lines.append(
                    f"| {r['label']} | {name} | {f['first_s']:.2f} s | "
                    f"{f['refit_median_s']:.3f} s | {f['refit_min_s']:.3f} s | "
                    f"{f['refit_ratio']:.2f}x | {f['refit_min_ratio']:.2f}x | {f['nit']} | "
                    f"{f['loss']:.10g} |"
                )
    return "\n".join(lines) + "\n"


def main(argv=None):
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--quick", action="store_true", help="the small problems, short budgets")
    parser.add_argument("--preset", choices=["cpu", "gpu"], default="cpu")
    parser.add_argument("--scale", type=float, default=1.0, help="multiply the problems' rows")
    parser.add_argument("--only", nargs="*", help="problem keys")
    parser.add_argument("--no-c", action="store_true", help="leave out the C backend")
    parser.add_argument("--no-fits", action="store_true", help="per call only")
    parser.add_argument(
        "--refits", type=int, help="alternating refit rounds (default 3 quick, 5 full, 2 gpu)"
    )
    parser.add_argument("--out", default=str(ROOT / "benchmarks" / "results"))
    args = parser.parse_args(argv)

    import jax
    import pytensor

    jax.config.update(
        "jax_enable_x64", True
    )  # the hand-written contender's float64 (as a user sets it)
    chosen = (
        GPU
        if args.preset == "gpu"
        else [p for p in (QUICK if args.quick else FULL) if not p.sparse]
    )
    chosen = [_scaled(p, args.scale) for p in chosen if not args.only or p.key in args.only]
    settings = {
        "call_budget": 0.3 if args.quick else 3.0,
        "min_calls": 5 if args.quick else 20,
        "refits": args.refits or (2 if args.preset == "gpu" else 3 if args.quick else 5),
    }
    meta = {
        "device": _device(),
        "cpus": os.cpu_count(),
        "python": platform.python_version(),
        "jax": jax.__version__,
        "pytensor": pytensor.__version__,
        "numpy": np.__version__,
        "when": time.strftime("%Y-%m-%d %H:%M UTC", time.gmtime()),
        "load": " ".join(f"{v:.1f}" for v in os.getloadavg())
        if hasattr(os, "getloadavg")
        else None,
        "preset": args.preset,
        "scale": args.scale,
    }
    results = []
    for problem in chosen:
        start = time.perf_counter()
        results.append(
            run_problem(problem, settings, with_c=not args.no_c, with_fits=not args.no_fits)
        )
        print(f"{problem.label}: {time.perf_counter() - start:.1f} s", flush=True)
    from skautodiff.backends.jax import compile_counts

    meta["xla_compiles"] = compile_counts()
    text = markdown(results, meta)
    print(text)
    out = pathlib.Path(args.out)
    out.mkdir(parents=True, exist_ok=True)
    stem = "jax_backend" if args.preset == "cpu" else "jax_backend_gpu"
    (out / f"{stem}.json").write_text(json.dumps({"meta": meta, "results": results}, indent=1))
    (out / f"{stem}.md").write_text(text)


if __name__ == "__main__":
    main()
