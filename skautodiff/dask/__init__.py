"""Dask support: fitting on dask arrays and dataframes chunk by chunk, and predicting lazily.

AutodiffEstimator's methods hand dask input here (see `is_dask`); nothing here is imported, and
neither is dask, until such input arrives. See doc/scaling.md.
"""
import sys


def is_dask(value):
    """Whether value is a dask collection (array, dataframe, series). Without dask imported
    nothing can be one, so plain fits never import it."""
    dask = sys.modules.get("dask")
    return dask is not None and dask.is_dask_collection(value)
