"""Minibatch training (issue 13): skautodiff's MLPClassifier(optimizer="adam") against
scikit-learn's MLPClassifier(solver="adam"), and one compiled Adam step against hand-written numpy.

    python -m benchmarks.stochastic [--quick] [--epochs N] [--repeats R] [--blas-threads T] [--json PATH] [--no-jax]

Parts, each reported as a ratio to a reference measured in the same run, interleaved:

* digits (1797x64, 10 classes, scaled to [0, 1], 75/25 split) and the suite's MLP problem
  (benchmarks/problems.py "mlp": 20000x50 -> 64 tanh -> 10, 80/20 split): the same architecture,
  hyperparameters and random_state for both estimators; test accuracy (target: within 1 point of
  scikit-learn's) and seconds per epoch (target: at most 0.7x scikit-learn's), the minimum over
  repeats of a fit of `epochs` epochs divided by its n_iter_ (wall time; the CPU-time ratio, less
  sensitive to other processes on a shared machine, is reported beside it). skautodiff's step is
  compiled to C first (one warm-up fit, tiers off), as for a steady-state benchmark.
  With JAX installed, a third contender: the same skautodiff estimator with backend="jax" (the
  whole Adam step jitted, the data on the device once per fit, doc/backends.md), warmed up by a
  one-epoch fit on the same rows (its compile counted apart); its figures are the `jax_*` keys
  (jax_time_ratio: to scikit-learn's, jax_vs_c: to the C backend's) and its accuracy must equal
  the C backend's (the same trajectory). --no-jax leaves it out.
* tiny step: a linear model's squared error on 32 rows x 10 features, one Adam step; skautodiff's
  compiled step (stochastic.Stepper.step: the batch goes in, the parameters and slots are updated
  inside) against a hand-written numpy loss, gradient and Adam update (target: at most 1.5x).
  Median over rounds of many steps.

BLAS (numpy's and scipy's) runs at one thread for both contenders by default (--blas-threads):
on a shared two-core machine a second BLAS thread only adds contention, to both alike. The last
line printed is the results as one JSON object (what `make bench`, benchmarks/run.py, reads).
"""

import argparse
import contextlib
import json
import os
import statistics
import time
import warnings

import numpy as np

os.environ.setdefault("SKAUTODIFF_TIERS", "0")  # steady state: C compiled before the first call


def _mlp_parts(quick):
    from sklearn.datasets import load_digits
    from sklearn.model_selection import train_test_split

    from benchmarks.problems import FULL, QUICK

    X, y = load_digits(return_X_y=True)
    X = X / 16.0
    parts = [
        (
            "digits 1797x64 -> 100 relu -> 10",
            train_test_split(X, y, test_size=0.25, random_state=0),
            {"hidden_layer_sizes": (100,), "activation": "relu"},
        )
    ]
    problem = next(p for p in (QUICK if quick else FULL) if p.key == "mlp")
    data = problem.make_data()
    parts.append(
        (
            f"MLP problem {problem.n}x{problem.d} -> {problem.hidden} tanh -> {problem.k}",
            train_test_split(data.X, data.labels, test_size=0.2, random_state=0),
            {"hidden_layer_sizes": (problem.hidden,), "activation": "tanh"},
        )
    )
    return parts


def _has_jax():
    try:
        import jax  # noqa: F401
    except ImportError:
        return False
    return True


def _step_compiles():
    """XLA compilations of the JAX backend's stochastic steps so far."""
    from skautodiff.backends.jax import compile_counts

    return sum(n for label, n in compile_counts().items() if label.startswith("step:"))


def compare_mlp(name, split, architecture, epochs, repeats, jax=False):
    from sklearn.neural_network import MLPClassifier as SklearnMLP

    from skautodiff import models

    X_train, X_test, y_train, y_test = split
    # tol=0 and n_iter_no_change=epochs: both run exactly `epochs` epochs.
    common = dict(
        architecture,
        alpha=1e-4,
        batch_size="auto",
        learning_rate_init=1e-3,
        max_iter=epochs,
        tol=0.0,
        n_iter_no_change=epochs,
        random_state=0,
    )
    makers = {
        "skautodiff": lambda: models.MLPClassifier(optimizer="adam", **common),
        "sklearn": lambda: SklearnMLP(solver="adam", **common),
    }
    if jax:
        makers["jax"] = lambda: models.MLPClassifier(optimizer="adam", backend="jax", **common)
    compile_s, compiles_before = None, _step_compiles() if jax else 0
    with warnings.catch_warnings():
        warnings.simplefilter("ignore")
        makers["skautodiff"]().set_params(max_iter=1).fit(X_train[:400], y_train[:400])  # compile
        if jax:  # XLA compiles per data size (row bucket): warm up on the same rows
            start = time.perf_counter()
            makers["jax"]().set_params(max_iter=1).fit(X_train, y_train)
            compile_s = time.perf_counter() - start
        per_epoch = {k: [] for k in makers}
        cpu_per_epoch = {k: [] for k in makers}
        accuracy = {}
        for _ in range(repeats):
            for key, make in makers.items():  # interleaved: the same machine load for both
                est = make()
                start, cpu_start = time.perf_counter(), time.process_time()
                est.fit(X_train, y_train)
                per_epoch[key].append((time.perf_counter() - start) / est.n_iter_)
                cpu_per_epoch[key].append((time.process_time() - cpu_start) / est.n_iter_)
                accuracy[key] = est.score(X_test, y_test)
    ours, theirs = min(per_epoch["skautodiff"]), min(per_epoch["sklearn"])
    extra = {}
    if jax:
        on_jax = min(per_epoch["jax"])
        extra = {
            "jax_s_per_epoch": on_jax,
            "jax_time_ratio": on_jax / theirs,
            "jax_vs_c": on_jax / ours,
            "jax_accuracy": accuracy["jax"],
            "jax_first_fit_s": compile_s,
            "jax_step_compiles": _step_compiles() - compiles_before,  # warm-up and timed fits
        }
    return {
        **extra,
        "part": name,
        "epochs": epochs,
        "skautodiff_s_per_epoch": ours,
        "sklearn_s_per_epoch": theirs,
        "time_ratio": ours / theirs,
        # CPU seconds (one BLAS thread: the work itself), less sensitive to other processes' load
        "cpu_time_ratio": min(cpu_per_epoch["skautodiff"]) / min(cpu_per_epoch["sklearn"]),
        "skautodiff_accuracy": accuracy["skautodiff"],
        "sklearn_accuracy": accuracy["sklearn"],
        "accuracy_difference_points": 100 * (accuracy["skautodiff"] - accuracy["sklearn"]),
    }


def squared_error(params, X, y):
    residual = X @ params["w"] + params["b"] - y
    return np.mean(residual**2)


class NumpyAdam:
    """The reference: hand-written loss, gradient and Adam update on (w, b), in place."""

    def __init__(self, w, b, lr=1e-3, beta_1=0.9, beta_2=0.999, epsilon=1e-8):
        self.w, self.b = w.copy(), float(b)
        self.mw, self.vw, self.mb, self.vb, self.t = np.zeros_like(w), np.zeros_like(w), 0.0, 0.0, 0
        self.lr, self.beta_1, self.beta_2, self.epsilon = lr, beta_1, beta_2, epsilon

    def step(self, X, y):
        residual = X @ self.w + self.b - y
        loss = residual @ residual / len(y)
        gw, gb = (2.0 / len(y)) * (X.T @ residual), 2.0 * residual.mean()
        self.t += 1
        b1, b2 = self.beta_1, self.beta_2
        self.mw *= b1
        self.mw += (1 - b1) * gw
        self.vw *= b2
        self.vw += (1 - b2) * gw * gw
        self.mb = b1 * self.mb + (1 - b1) * gb
        self.vb = b2 * self.vb + (1 - b2) * gb * gb
        rate = self.lr * np.sqrt(1 - b2**self.t) / (1 - b1**self.t)
        self.w -= rate * self.mw / (np.sqrt(self.vw) + self.epsilon)
        self.b -= rate * self.mb / (np.sqrt(self.vb) + self.epsilon)
        return loss


def compare_tiny_step(steps, rounds):
    from skautodiff.stochastic import Stepper

    rng = np.random.default_rng(0)
    X, y = rng.standard_normal((32, 10)), rng.standard_normal(32)
    w0 = rng.standard_normal(10)
    ours = Stepper(
        squared_error, {"w": w0.copy(), "b": np.float64(0)}, {}, "adam", [1e-3, 0.9, 0.999, 1e-8]
    )
    reference = NumpyAdam(w0, 0.0)
    for _ in range(3):
        ours.step(X, y, None)
        reference.step(X, y)
    # The same steps from the same start: the same parameters to round-off (both do the work). Not
    # checked after the timing: thousands of Adam steps near the optimum amplify round-off.
    np.testing.assert_allclose(ours.params()["w"], reference.w, rtol=1e-12)
    times = {"skautodiff": [], "numpy": []}
    calls = {"skautodiff": lambda: ours.step(X, y, None), "numpy": lambda: reference.step(X, y)}
    for _ in range(rounds):
        for key, call in calls.items():
            start = time.perf_counter()
            for _ in range(steps):
                call()
            times[key].append((time.perf_counter() - start) / steps)
    ours.detach()
    mine, theirs = statistics.median(times["skautodiff"]), statistics.median(times["numpy"])
    return {
        "part": "tiny Adam step (32x10 linear, squared error)",
        "skautodiff_us_per_step": 1e6 * mine,
        "numpy_us_per_step": 1e6 * theirs,
        "time_ratio": mine / theirs,
    }


def main(argv=None):
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--quick", action="store_true", help="small sizes (a smoke run)")
    parser.add_argument("--epochs", type=int, default=None)
    parser.add_argument("--repeats", type=int, default=None)
    parser.add_argument("--blas-threads", type=int, default=1, help="0: leave BLAS as it is")
    parser.add_argument("--json", default=None, help="also write the results here")
    parser.add_argument("--no-jax", action="store_true", help="leave out backend='jax'")
    args = parser.parse_args(argv)
    epochs = args.epochs or (3 if args.quick else 20)
    repeats = args.repeats or (1 if args.quick else 5)
    from threadpoolctl import threadpool_limits

    with threadpool_limits(args.blas_threads) if args.blas_threads else contextlib.nullcontext():
        results = [
            compare_mlp(name, split, arch, epochs, repeats, jax=not args.no_jax and _has_jax())
            for name, split, arch in _mlp_parts(args.quick)
        ]
        results.append(compare_tiny_step(200 if args.quick else 5000, 3 if args.quick else 7))
    for r in results:
        if "skautodiff_s_per_epoch" in r:
            print(
                f"{r['part']}: {1e3 * r['skautodiff_s_per_epoch']:.1f} ms/epoch vs scikit-learn "
                f"{1e3 * r['sklearn_s_per_epoch']:.1f} ms -> {r['time_ratio']:.2f}x (target <= 0.7; "
                f"CPU time {r['cpu_time_ratio']:.2f}x); "
                f"test accuracy {r['skautodiff_accuracy']:.4f} vs {r['sklearn_accuracy']:.4f} "
                f"({r['accuracy_difference_points']:+.2f} points, target within 1)"
            )
            if "jax_s_per_epoch" in r:
                print(
                    f"  backend='jax': {1e3 * r['jax_s_per_epoch']:.1f} ms/epoch -> "
                    f"{r['jax_time_ratio']:.2f}x scikit-learn's, {r['jax_vs_c']:.2f}x the C "
                    f"backend's; accuracy {r['jax_accuracy']:.4f}; first fit (compiles) "
                    f"{r['jax_first_fit_s']:.2f} s; step compilations (all its fits) "
                    f"{r['jax_step_compiles']}"
                )
        else:
            print(
                f"{r['part']}: {r['skautodiff_us_per_step']:.1f} us/step vs numpy "
                f"{r['numpy_us_per_step']:.1f} us -> {r['time_ratio']:.2f}x (target <= 1.5)"
            )
    record = {"blas_threads": args.blas_threads or "default", "rows": results}
    if args.json:
        with open(args.json, "w") as f:
            json.dump(record, f, indent=1)
    print(json.dumps(record))
    return record


if __name__ == "__main__":
    main()
