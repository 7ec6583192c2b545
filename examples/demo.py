"""`make demo`: a loss written in plain numpy becomes a scikit-learn classifier.

Fits an L2-penalised logistic regression, written below as one numpy function, on scikit-learn's
breast cancer data, and prints its test accuracy and fit time next to scikit-learn's
LogisticRegression on the same objective, then what skautodiff traced and compiled to do it:
the first fit runs on PyTensor's Python tier at once, the C tier compiles in the background once
that fit has ended (g++ runs on a cold compile cache: the first run on a machine), and later fits
run on C once it is ready.
"""

import time

import numpy as np
from sklearn.datasets import load_breast_cancer
from sklearn.linear_model import LogisticRegression
from sklearn.model_selection import train_test_split
from sklearn.pipeline import make_pipeline
from sklearn.preprocessing import StandardScaler

import skautodiff
from skautodiff import AutodiffClassifier

STARTED = time.time()  # C modules written to the compile cache since then were compiled here


def loss(params, X, y, C=1.0):
    """Mean logistic loss + ||w||^2 / (2 C n): scikit-learn's objective (y is 0/1)."""
    z = X @ params["w"] + params["b"]
    return np.mean(np.logaddexp(0, z) - y * z) + np.sum(params["w"] ** 2) / (2 * C * X.shape[0])


def init_params(X, y, rng):
    return {"w": np.zeros(X.shape[1]), "b": 0.0}


def positive_proba(params, X):
    return 1 / (1 + np.exp(-(X @ params["w"] + params["b"])))


def timed_fit(estimator, X, y):
    start = time.perf_counter()
    estimator.fit(X, y)
    return time.perf_counter() - start


def main():
    X, y = load_breast_cancer(return_X_y=True)
    X_train, X_test, y_train, y_test = train_test_split(X, y, test_size=0.3, random_state=0)

    ours = make_pipeline(
        StandardScaler(),
        AutodiffClassifier(
            loss=loss, init_params=init_params, proba_fn=positive_proba, loss_kwargs={"C": 1.0}
        ),
    )
    theirs = make_pipeline(StandardScaler(), LogisticRegression(C=1.0))

    first = timed_fit(ours, X_train, y_train)  # traces and compiles the loss
    first_tiers = tier_calls()
    again = timed_fit(ours.set_params(autodiffclassifier__loss_kwargs={"C": 0.5}), X_train, y_train)
    ours.set_params(autodiffclassifier__loss_kwargs={"C": 1.0})
    refit = timed_fit(ours, X_train, y_train)
    reference = timed_fit(theirs, X_train, y_train)

    model = ours[-1]
    print("L2 logistic regression on breast cancer (398 train / 171 test rows, 30 features)\n")
    print(f"{'estimator':<44}{'test accuracy':>14}{'fit time':>12}")
    print(
        f"{'skautodiff AutodiffClassifier, first fit':<44}{ours.score(X_test, y_test):>14.4f}{first:>11.3f}s"
    )
    print(f"{'skautodiff, refit with C changed':<44}{'':>14}{again:>11.3f}s")
    print(f"{'skautodiff, refit':<44}{'':>14}{refit:>11.3f}s")
    print(
        f"{'scikit-learn LogisticRegression(lbfgs)':<44}{theirs.score(X_test, y_test):>14.4f}{reference:>11.3f}s"
    )
    # Both at their default tolerances: compare the objective each reached.
    X_scaled = theirs[0].transform(X_train)
    reference = {"w": theirs[-1].coef_[0], "b": theirs[-1].intercept_[0]}
    print(
        f"\nobjective reached: skautodiff {model.loss_:.6f} in {model.n_iter_} iterations, "
        f"scikit-learn {loss(reference, X_scaled, y_train):.6f}"
    )
    info = skautodiff.cache_info()
    print(
        f"compiled: {info.traces} trace(s), {info.compiles} compilation(s) for 3 fits "
        "(changing C reuses the compiled loss; prediction runs the numpy functions)"
    )
    print(f"first fit: {first:.2f} s on {', '.join(first_tiers) or 'no compiled function'}")
    print(compile_cache_state())


def tier_calls():
    """'the Python tier (25 calls)' and the like, for the compiled functions that ran so far."""
    from skautodiff import tiers

    ran = []
    for calls in tiers.call_counts().values():
        ran += [f"the {tier} tier ({n} calls)" for tier, n in calls.items() if n]
    return ran


def compile_cache_state():
    """Whether this process found its C modules in PyTensor's compile cache or compiled them (in the
    background: the process waits for that compile, so that the next run finds them)."""
    from skautodiff import compiledir, tiers

    start = time.perf_counter()
    tiers.wait(timeout=120)
    built = compiledir.modules_built_since(STARTED)
    if not built:
        return "compile cache: warm (no C module compiled by this process)"
    return (
        f"compile cache: cold, {built} C modules compiled in this process (in the background; "
        f"the last {time.perf_counter() - start:.1f} s after the fits)"
    )


if __name__ == "__main__":
    main()
