"""Dask support: fitting on dask arrays and dataframes chunk by chunk, and predicting lazily.

AutodiffEstimator's methods hand dask input here (see `is_dask`); nothing here is imported, and
neither is dask, until such input arrives. See doc/scaling.md.
"""

import functools
import sys


def is_dask(value):
    """Whether value is a dask collection (array, dataframe, series). Without dask imported
    nothing can be one, so plain fits never import it."""
    dask = sys.modules.get("dask")
    return dask is not None and dask.is_dask_collection(value)


def dask_aware(method):
    """An estimator method taking X first that hands dask X to this package: `fit` and
    `partial_fit` fit chunk by chunk, `score` and the prediction methods return lazy dask arrays."""

    @functools.wraps(method)
    def method_or_dask(self, X, *args, **kwargs):
        if not is_dask(X):
            return method(self, X, *args, **kwargs)
        if method.__name__ in ("fit", "partial_fit"):
            from . import fit

            return getattr(fit, method.__name__)(self, X, *args, **kwargs)
        if method.__name__ == "score":
            from .predict import score

            return score(self, X, *args, **kwargs)
        from .predict import per_row

        return per_row(self, method.__name__, X, *args, **kwargs)

    return method_or_dask
