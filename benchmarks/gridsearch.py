"""GridSearchCV, 5 folds x 10 regularisation strengths, on the logistic problem, in a fresh process.

    python -m benchmarks.gridsearch --contender sklearn|skautodiff [--quick]

Runs in its own process so that the compile count starts from an empty in-process cache (the
PyTensor disk cache is whatever the parent provides). Prints one JSON line.
C is matched to each alpha for the training-fold size: C = 1 / (alpha * n_train).
"""

import argparse
import json
import time
import warnings

import numpy as np

ALPHAS = np.logspace(-6, -2, 10)
FOLDS = 5


def _compiles():
    import skautodiff

    info = skautodiff.cache_info()
    return int(getattr(info, "compiles", info[1]))


def _search(contender, problem):
    """Both contenders take scikit-learn's parameter C, so one grid serves both."""
    from sklearn.model_selection import GridSearchCV

    from benchmarks.contenders import skautodiff_estimator

    n_train = problem.n * (FOLDS - 1) // FOLDS
    grid = {"C": list(1.0 / (ALPHAS * n_train))}
    est = problem.sklearn_estimator() if contender == "sklearn" else skautodiff_estimator(problem)
    return GridSearchCV(est, grid, cv=FOLDS)


def main(argv=None):
    parser = argparse.ArgumentParser()
    parser.add_argument("--contender", choices=("sklearn", "skautodiff"), required=True)
    parser.add_argument("--quick", action="store_true")
    args = parser.parse_args(argv)

    from sklearn.exceptions import ConvergenceWarning

    from benchmarks.blas import scipy_blas_single_thread
    from benchmarks.contenders import skautodiff_estimator_missing
    from benchmarks.problems import problems

    (problem,) = problems(args.quick, only=["logistic-large"])
    if args.contender == "skautodiff":
        reason = skautodiff_estimator_missing(problem)
        if reason:
            print(json.dumps({"unsupported": reason}))
            return
    data = problem.make_data()
    search = _search(args.contender, problem)  # imports the libraries: not timed
    start = time.perf_counter()
    before = _compiles() if args.contender == "skautodiff" else None
    with scipy_blas_single_thread(), warnings.catch_warnings():
        warnings.simplefilter("ignore", ConvergenceWarning)
        search.fit(data.X, data.labels)
    seconds = time.perf_counter() - start
    result = {
        "problem": problem.label,
        "seconds": seconds,
        "fits": FOLDS * len(ALPHAS) + 1,
        "best_params": {k: float(v) for k, v in search.best_params_.items()},
        "best_score": float(search.best_score_),
    }
    if before is not None:
        result["compiles"] = _compiles() - before
    print(json.dumps(result))


if __name__ == "__main__":
    main()
