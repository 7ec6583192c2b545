"""What scipy.sparse matrices mean in PyTensor (pytensor.sparse), without densifying.

A sparse argument is data: gradients flow to the dense operands it meets. Supported: `X @ w`,
`w @ X`, `X.dot(w)`, `X.T`, `X.multiply(...)`, `X.sum(axis=...)`, `X.toarray()`, row selection
by slice or integer array; everything else refuses with a clear message.
"""

import numpy as np
import pytensor.sparse as ps
import pytensor.tensor as pt
from pytensor.sparse.basic import get_item_list
from pytensor.sparse.variable import SparseVariable


def is_sparse(var):
    return isinstance(var, SparseVariable)


def _dense(x):
    return pt.as_tensor_variable(x)


def matmul(a, b):
    """a @ b where a or b is sparse; dense operands may be 1-D (numpy's matmul rules)."""
    if is_sparse(a) and is_sparse(b):
        return ps.structured_dot(a, b)
    if is_sparse(a):
        b = _dense(b)
        return ps.structured_dot(a, b[:, None])[:, 0] if b.ndim == 1 else ps.structured_dot(a, b)
    a = _dense(a)  # dense @ sparse = (sparse.T @ dense.T).T
    if a.ndim == 1:
        return ps.structured_dot(b.T, a[:, None])[:, 0]
    return ps.structured_dot(b.T, a.T).T


# pytensor 3.0.7 has only `mul`; later versions rename it `multiply` and deprecate `mul`.
_mul = getattr(ps, "multiply", None) or ps.mul


def multiply(x, other):
    """Elementwise product, broadcasting a row or a column vector as scipy does."""
    if is_sparse(other):
        return _mul(x, other)
    other = _dense(other)
    if other.ndim == 0:
        return _mul(x, other)
    if other.ndim == 1 or other.type.shape[0] == 1:  # one factor per column
        return ps.col_scale(x, other.reshape((-1,)))
    if other.type.shape[1] == 1:  # one factor per row
        return ps.row_scale(x, other[:, 0])
    return _mul(x, other)


def sum_(x, axis=None, dtype=None, out=None):
    if dtype is not None or out is not None:
        raise NotImplementedError("sparse .sum(dtype=, out=) is not supported")
    # scipy's sparse *matrix* returns a 2-D np.matrix for an axis; the engine fits the shape.
    return ps.sp_sum(x, axis=axis)


def getitem(x, index):
    rows, cols = (index + (slice(None),))[:2] if isinstance(index, tuple) else (index, slice(None))
    if cols != slice(None):
        raise NotImplementedError("sparse indexing selects rows only (X[rows] or X[rows, :])")
    if isinstance(rows, slice):
        return x[rows]
    rows = pt.as_tensor_variable(np.asarray(rows) if not hasattr(rows, "type") else rows)
    if rows.ndim != 1 or rows.dtype.startswith("float") or rows.dtype == "bool":
        raise NotImplementedError("sparse row selection takes a slice or a 1-D integer array")
    return get_item_list(x, rows)


# `*` is matmul for scipy's sparse *matrices* and elementwise for sparse *arrays*; the engine
# picks by the concrete operand's type.
SPARSE_BINARY = {"@": matmul, "*": multiply, "matrix *": matmul}
SPARSE_METHODS = {
    "dot": matmul,
    "multiply": multiply,
    "sum": sum_,
    "toarray": lambda x, order=None, out=None: ps.dense_from_sparse(x),
    "todense": lambda x, order=None, out=None: ps.dense_from_sparse(x),
    "transpose": lambda x, axes=None, copy=False: x.T,
}
SPARSE_ATTRIBUTES = {"T": lambda x: x.T}
