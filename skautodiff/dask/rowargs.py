"""Which loss_kwargs are per-row data, chunked with X's rows, and which go to every chunk whole.

In memory the loss receives loss_kwargs as given, so an offset or exposure vector with one entry
per sample lines up with X's rows. On dask input each chunk of rows must get the matching slice:
a keyword is per-row when it is an array (numpy, pandas or dask) whose first axis has one entry
per row of X. Anything else (numbers, short arrays of hyperparameters, lists, objects) goes to
every chunk whole, as in memory. A dask array is always taken as per-row data (it is not
gathered to the client), so one with another length is an error. A per-row array inside a dict or
tuple keyword argument would go whole to every chunk (and with one-row chunks broadcast silently):
refused, naming it.
"""

import numpy as np

from . import is_dask


def split_kwargs(kwargs, X):
    """(kwargs passed whole, {name: dask array with X's row chunks}) from the loss's kwargs."""
    n_rows = X.shape[0]
    whole, per_row = {}, {}
    for name, value in kwargs.items():
        if is_dask(value):
            per_row[name] = _aligned(value, name, X)
        elif _is_array(value) and np.ndim(value) >= 1 and np.shape(value)[0] == n_rows:
            per_row[name] = _aligned(value, name, X)
        else:
            whole[name] = value
    _refuse_nested_per_row(whole, n_rows)
    return whole, per_row


def _refuse_nested_per_row(whole, n_rows):
    from ..stochastic import per_row_arrays  # the same walk as the minibatches' refusal

    for path, shape, nested in per_row_arrays(whole, n_rows):
        if nested:  # a keyword's own per-row array is chunked (in per_row) where it can be
            raise ValueError(
                f"loss keyword argument {path} has one entry per row of X (shape {shape}) inside "
                "a dict or tuple; on dask input only a keyword argument's own array is chunked "
                "with X's rows, so this one would reach every chunk whole: pass it as a keyword "
                "argument of its own, or as a list if it is not per-row data"
            )


def _is_array(value):
    """numpy arrays and pandas Series/DataFrames (not lists: as in memory, a list is an object
    the loss receives whole)."""
    return isinstance(value, np.ndarray) or (
        hasattr(value, "to_numpy") and hasattr(value, "shape") and not is_dask(value)
    )


def _aligned(value, name, X):
    import dask.array as da

    if hasattr(value, "to_dask_array"):  # a dask DataFrame or Series
        value = value.to_dask_array(lengths=True)
    elif not is_dask(value):
        value = da.from_array(np.asarray(value), chunks=-1)
    if value.ndim and np.isnan(value.shape[0]):  # rows of unknown length (a filtered array)
        value = value.compute_chunk_sizes()
    if value.ndim == 0 or value.shape[0] != X.shape[0]:
        raise ValueError(
            f"loss_kwargs[{name!r}] is a dask array of shape {value.shape}, but X has "
            f"{X.shape[0]} rows: a dask array in loss_kwargs is per-row data, chunked with X's "
            "rows, so it needs one entry per row; pass other arrays as numpy arrays "
            "(.compute() them), which every chunk receives whole"
        )
    return value.rechunk({0: X.chunks[0], **{a: -1 for a in range(1, value.ndim)}})
