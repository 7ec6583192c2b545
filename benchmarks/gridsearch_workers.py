"""GridSearchCV over the demo's loss (5 folds x 10 C values, breast cancer) with n_jobs=1 and 2, and
where each process spent its time, next to scikit-learn's LogisticRegression on the same grid.

    python -m benchmarks.gridsearch_workers [--n-jobs 1 2] [--backend loky]

Each n_jobs runs in a fresh process (the compile cache is whatever PyTensor's flags give), which
runs three searches one after the other:
- "skautodiff": the demo's classifier, first in the process, so its search starts the workers;
- "sklearn": LogisticRegression on the same grid in another fresh process, the reference for what
  joblib's workers cost with no skautodiff in them;
- "skautodiff, workers started": the demo's classifier again in that second process, right after
  the reference search, whose workers joblib reuses (skautodiff is not imported in them yet).
Every skautodiff fit records, in the process that ran it: when the fit started and ended, and the
tier its compiled loss ended on. Prints one JSON line per search: total seconds and, per process,
the time from the search's start to its first fit, that first fit (import of PyTensor, trace,
compile), the other fits, and its tiers.
"""

import argparse
import json
import os
import subprocess
import sys
import tempfile
import time

import numpy as np

from skautodiff import AutodiffClassifier

sys.path.insert(
    0, os.path.join(os.path.dirname(os.path.dirname(os.path.abspath(__file__))), "examples")
)
import demo  # noqa: E402

LOG_DIR = os.environ.get("GRIDSEARCH_WORKERS_LOG")


class TimedClassifier(AutodiffClassifier):
    """The demo's classifier, writing one JSON line per fit to LOG_DIR/<pid>.jsonl."""

    def fit(self, X, y):
        imported = "pytensor" in sys.modules
        start = time.time()
        super().fit(X, y)
        end = time.time()
        from skautodiff import tiers

        record = {
            "pid": os.getpid(),
            "start": start,
            "end": end,
            "pytensor_imported_before": imported,
            "tiers": sorted({t.tier for t in tiers.call_counts()}),
            "c_pending": tiers.pending(),
        }
        with open(os.path.join(LOG_DIR, f"{os.getpid()}.jsonl"), "a") as out:
            out.write(json.dumps(record) + "\n")
        return self


def _search(contender, n_jobs, backend):
    import joblib
    from sklearn.datasets import load_breast_cancer
    from sklearn.linear_model import LogisticRegression
    from sklearn.model_selection import GridSearchCV
    from sklearn.preprocessing import StandardScaler

    X, y = load_breast_cancer(return_X_y=True)
    X = StandardScaler().fit_transform(X)
    strengths = np.logspace(-2, 2, 10)
    if contender == "sklearn":
        est, grid = LogisticRegression(), {"C": strengths}
    else:
        est = TimedClassifier(
            loss=demo.loss,
            init_params=demo.init_params,
            proba_fn=demo.positive_proba,
            loss_kwargs={"C": 1.0},
        )
        grid = {"loss_kwargs": [{"C": c} for c in strengths]}
    start = time.time()
    with joblib.parallel_config(backend=backend):
        GridSearchCV(est, grid, cv=5, n_jobs=n_jobs).fit(X, y)
    return start, time.time()


def _summary(contender, start, end, n_jobs, backend):
    processes = {}
    for name in os.listdir(LOG_DIR):
        with open(os.path.join(LOG_DIR, name)) as lines:
            fits = [json.loads(line) for line in lines]
        os.remove(os.path.join(LOG_DIR, name))  # the next search in this process starts afresh
        first = fits[0]
        processes[str(first["pid"]) + (" (parent)" if first["pid"] == os.getpid() else "")] = {
            "to_first_fit_s": round(first["start"] - start, 2),
            "first_fit_s": round(first["end"] - first["start"], 2),
            "other_fits": len(fits) - 1,
            "other_fits_s": round(sum(f["end"] - f["start"] for f in fits[1:]), 2),
            "tiers_at_end": fits[-1]["tiers"],
            "c_pending_at_end": fits[-1]["c_pending"],
        }
    return {
        "search": contender,
        "n_jobs": n_jobs,
        "backend": backend,
        "seconds": round(end - start, 2),
        "load_average": os.getloadavg()[0],
        "processes": processes,
    }


def main(argv=None):
    parser = argparse.ArgumentParser()
    parser.add_argument("--n-jobs", type=int, nargs="*", default=[1, 2])
    parser.add_argument("--backend", default="loky")
    # the child process: searches in this order
    parser.add_argument("--searches", nargs="+", help=argparse.SUPPRESS)
    args = parser.parse_args(argv)
    if args.searches:
        for contender in args.searches:
            start, end = _search(contender, args.n_jobs[0], args.backend)
            label = "skautodiff, workers started" if contender != args.searches[0] else contender
            print(json.dumps(_summary(label, start, end, args.n_jobs[0], args.backend)))
        return
    for n_jobs in args.n_jobs:
        for searches in (["skautodiff"], ["sklearn", "skautodiff"]):
            with tempfile.TemporaryDirectory() as log_dir:
                env = dict(os.environ, GRIDSEARCH_WORKERS_LOG=log_dir)
                command = [sys.executable, "-m", "benchmarks.gridsearch_workers"]
                options = ["--n-jobs", str(n_jobs), "--backend", args.backend, "--searches"]
                subprocess.run(command + options + searches, env=env, check=True)


if __name__ == "__main__":
    main()
