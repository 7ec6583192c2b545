"""Compile the C modules of the shipped models (and of your own estimators) ahead of time.

    python -m skautodiff.warm_cache [--dir DIR] [--models NAME ...] [--estimator MODULE:FACTORY ...]
                                    [--dtype float64 float32]

PyTensor keeps compiled C modules in its compile directory, shared by every process that points at
it; a process that finds its modules there starts fitting at C speed at once. This command fits
each model on small synthetic data, with C compiled before the first call (no tiering), into
`--dir` (PyTensor's `base_compiledir`; default: PyTensor's own, ~/.pytensor), so that a cluster's
workers can share that directory or an image can bake it in: point them at it with
`PYTENSOR_FLAGS=base_compiledir=DIR`.

A compiled module depends on the data's dtype, on which axes have length 1 and on what the loss is
given (sample weights or not, binary or multiclass targets), never on the number of rows:
`--estimator my_package.models:example` warms your own model, where `example()` returns
`(estimator, X, y)` with data shaped like yours (a few rows are enough).
"""

import argparse
import importlib
import os
import sys
import time


def _problems(dtype):
    """(name, estimator factory, X, y, sample weights) for each shipped model."""
    import numpy as np

    from . import models

    rng = np.random.default_rng(0)
    X = rng.normal(size=(40, 3)).astype(dtype)
    linear = X @ np.array([1.0, -2.0, 0.5])
    binary = (linear > 0).astype(int)
    three = np.digitize(linear, [-1.0, 1.0])
    counts = rng.poisson(np.exp(0.3 * linear)).astype(dtype)
    small = {"hidden_layer_sizes": (4,), "max_iter": 5}
    return [
        ("Ridge", models.Ridge, linear.astype(dtype)),
        ("HuberRegressor", models.HuberRegressor, linear.astype(dtype)),
        ("PoissonRegressor", models.PoissonRegressor, counts),
        ("LogisticRegression", models.LogisticRegression, binary),
        ("LogisticRegression", models.LogisticRegression, three),
        ("OrdinalLogisticRegression", models.OrdinalLogisticRegression, three),
        ("MLPRegressor", lambda: models.MLPRegressor(**small), linear.astype(dtype)),
        ("MLPClassifier", lambda: models.MLPClassifier(**small), binary),
        ("MLPClassifier", lambda: models.MLPClassifier(**small), three),
    ], X


def _fit_quietly(estimator, X, y, **fit_params):
    import warnings

    with warnings.catch_warnings():
        warnings.simplefilter("ignore")  # a few iterations on random data: convergence warnings
        estimator.fit(X, y, **fit_params)


def warm(names=None, estimators=(), dtypes=("float64", "float32"), out=sys.stdout):
    """Fit the shipped models named (all when None) and each `module:factory` estimator; returns
    the number of functions compiled."""
    import numpy as np

    from .compile import cache_info

    for dtype in dtypes:
        problems, X = _problems(np.dtype(dtype))
        for name, make, y in problems:
            if names is None or name in names:
                _fit_quietly(make(), X, y)
                _fit_quietly(make(), X, y, sample_weight=np.ones(len(y), dtype=dtype))
                print(
                    f"  {name} ({dtype}, {len(np.unique(y)) if y.dtype.kind == 'i' else 'real'} "
                    f"targets): compiled",
                    file=out,
                )
    for spec in estimators:
        module, _, factory = spec.partition(":")
        estimator, X, y = getattr(importlib.import_module(module), factory)()
        _fit_quietly(estimator, X, y)
        print(f"  {spec}: compiled", file=out)
    return cache_info().compiles


def main(argv=None):
    parser = argparse.ArgumentParser(
        prog="python -m skautodiff.warm_cache", description=__doc__.split("\n\n")[0]
    )
    parser.add_argument(
        "--dir", help="PyTensor's base_compiledir to fill (default: PyTensor's own)"
    )
    parser.add_argument(
        "--models", nargs="*", metavar="NAME", help="shipped models to warm (default: all)"
    )
    parser.add_argument(
        "--estimator",
        nargs="*",
        default=[],
        metavar="MODULE:FACTORY",
        help="a function returning (estimator, X, y) to warm your own model",
    )
    parser.add_argument(
        "--dtype", nargs="*", default=["float64", "float32"], choices=["float64", "float32"]
    )
    args = parser.parse_args(argv)
    if args.dir:  # before PyTensor is imported: it reads its flags once
        if "pytensor" in sys.modules:
            raise SystemExit(
                "--dir must be chosen before PyTensor is imported; set "
                "PYTENSOR_FLAGS=base_compiledir=... instead"
            )
        flags = os.environ.get("PYTENSOR_FLAGS")
        os.environ["PYTENSOR_FLAGS"] = ",".join(
            filter(None, [flags, f"base_compiledir={os.path.abspath(args.dir)}"])
        )
    os.environ["SKAUTODIFF_TIERS"] = "0"  # compile C now, not in the background
    os.environ.pop("SKAUTODIFF_MODE", None)
    start = time.perf_counter()
    compiled = warm(args.models or None, args.estimator, args.dtype)
    import pytensor

    print(
        f"{compiled} functions compiled (or found) in {time.perf_counter() - start:.1f} s into "
        f"{pytensor.config.base_compiledir}"
    )


if __name__ == "__main__":
    main()
