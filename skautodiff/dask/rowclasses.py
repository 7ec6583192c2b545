"""The classes the dask split gives the variables of a traced loss (separable.py, indexing.py)."""

# Classes of variables. PARAM: no dependence on data values (parameters, constants, numbers from
# outside, shapes); ROW: axis 0 is the rows, row i computed from row i of the data; NROWS: the
# number of rows (an int scalar) of a row-wise tensor; SHAPE: the shape vector of a row-wise
# tensor; SUM: a row sum (a PARAM once the chunks' sums are added); GLOBAL: anything else.
# STAT: computed from row sums and parameters (np.mean(z) / 2): a PARAM on the client's side.
# ROWPOS: np.arange over the rows (axis 0 the rows, perhaps more axes of length 1): row i holds i,
# which on a chunk is the chunk's own position, so it may only pick each row's own entries.
PARAM, ROW, NROWS, SHAPE, SUM, STAT, ROWPOS, GLOBAL = (
    "param",
    "row",
    "nrows",
    "shape",
    "sum",
    "stat",
    "rowpos",
    "global",
)


def values(ins):
    """Input classes as values: a row count in arithmetic is a number like the parameters."""
    return [PARAM if c in (NROWS, SUM) else c for c in ins]
