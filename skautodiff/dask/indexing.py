"""Integer indexing, reshapes and np.arange in the dask split (separable.py's table uses these).

Integer indexing stays row-wise when it keeps each row's own entries: `z[np.arange(len(z)), y]`
and `np.take_along_axis(p, y[:, None], axis=1)` (rows picked by np.arange over the rows, which on
a chunk is the chunk's own arange, other axes by per-row data), `W[y]` (a parameter table indexed
by per-row data) and `X[:, [0, 2]]` (columns picked by constants). Rows picked by anything else (a
permutation, another row's value, a mask) are refused.
"""

import numpy as np
from pytensor.graph.basic import Constant
from pytensor.tensor.subtensor import AdvancedSubtensor, indices_from_subtensor

from .rowclasses import GLOBAL, NROWS, PARAM, ROW, ROWPOS, values

try:  # PyTensor < 3.1 also has a one-index form of integer indexing
    from pytensor.tensor.subtensor import AdvancedSubtensor1
except ImportError:  # pragma: no cover (newer PyTensor)
    AdvancedSubtensor1 = ()
INTEGER_INDEXING = (
    (AdvancedSubtensor, AdvancedSubtensor1) if AdvancedSubtensor1 else (AdvancedSubtensor,)
)


def _constant(var):
    """var's value when it is a constant, else None."""
    return var.data if isinstance(var, Constant) else None


def arange(node, ins):
    start, stop, step = (_constant(v) for v in node.inputs)
    if ins[1] == NROWS and ins[0] == ins[2] == PARAM and start == 0 and step == 1:
        return ROWPOS
    return (
        GLOBAL,
        "an arange over a count of the rows other than np.arange(n_rows) "
        "(only np.arange(len(z)) picks each row's own entries)",
    )


def reshape(node, ins):
    """Reshapes that keep the rows on axis 0 and each row's entries in it: y.reshape(-1, 1),
    np.arange(n).reshape(-1, 1), z.reshape(-1, k * m) for a row-wise z of shape (n, k, m)."""
    x, shape = node.inputs
    if ins[0] not in (ROW, ROWPOS) or ins[1] != PARAM:
        return GLOBAL, "a reshape of a shape computed from the data"
    target, row_shape = _constant(shape), x.type.shape[1:]
    if (
        target is not None
        and len(target) >= 1
        and int(target[0]) == -1
        and all(d is not None for d in row_shape)
        and int(np.prod(target[1:])) == int(np.prod(row_shape))
        and (ins[0] == ROW or all(int(d) == 1 for d in target[1:]))
    ):
        return ins[0]
    return (
        GLOBAL,
        "a reshape that mixes rows (only reshape(-1, ...) keeping each row's entries together "
        "is row-wise)",
    )


def advanced_subtensor(node, ins):
    """Integer (advanced) indexing: row-wise when the first axes are indexed together by arrays
    whose axis 0 is the rows (np.arange over the rows for a row-wise array, per-row data for a
    parameter table), the other index arrays broadcasting along them."""
    classes = dict(zip(node.inputs[1:], ins[1:]))
    entries = (
        indices_from_subtensor(node.inputs[1:], node.op.idx_list)
        if hasattr(node.op, "idx_list")
        else tuple(node.inputs[1:])  # AdvancedSubtensor1: one index array, on axis 0
    )
    arrays = [e for e in entries if not isinstance(e, slice)]
    leading = len(arrays) and all(not isinstance(e, slice) for e in entries[: len(arrays)])
    slices_free = all(
        classes.get(part, PARAM) == PARAM
        for e in entries
        if isinstance(e, slice)
        for part in (e.start, e.stop, e.step)
        if part is not None
    )
    if not slices_free:
        return GLOBAL, "a slice computed from the data's shape"
    if not leading:
        return _columns_by_index(node, ins, entries, classes)
    ndim = max(e.ndim for e in arrays)
    per_row = [e for e in arrays if classes[e] in (ROW, ROWPOS)]
    for e in arrays:
        cls = values([classes[e]])[0]
        if cls in (ROW, ROWPOS) and e.ndim != ndim:
            return GLOBAL, "a row-wise index is broadcast along a new leading axis"
        if cls == PARAM and e.ndim == ndim and ndim and not e.type.broadcastable[0]:
            return (
                GLOBAL,
                "an index array as long as the data but not computed from it row by row (a "
                "constant such as range(len(y)) or a list? write np.arange(len(y)))",
            )
        if cls not in (ROW, ROWPOS, PARAM):
            return GLOBAL, "rows are selected by an index computed from the data's shape"
    if any(classes[e] == ROWPOS for e in arrays[1:]):
        return GLOBAL, "np.arange over the rows indexes an axis other than the rows"
    if ins[0] == ROW:
        if classes[arrays[0]] == ROWPOS:
            return ROW
        return (
            GLOBAL,
            "rows are selected by index (by other rows' values, a mask or fixed positions); "
            "pick each row's own entries with z[np.arange(len(z)), y], or multiply by a mask",
        )
    if ins[0] == PARAM and per_row and all(classes[e] == ROW for e in per_row):
        return ROW  # W[y]: a parameter table looked up by each row's data
    return GLOBAL, "an array that is not row-wise is indexed by the row positions"


def _columns_by_index(node, ins, entries, classes):
    """z[:, [0, 2]], z[:, cols]: all rows kept, other axes picked by arrays of parameters or
    constants (adjacent, so numpy keeps their axes in place, after the rows)."""
    positions = [k for k, e in enumerate(entries) if not isinstance(e, slice)]
    if (
        ins[0] == ROW
        and entries[0] == slice(None)
        and positions == list(range(positions[0], positions[-1] + 1))
        and all(values([classes[entries[k]]])[0] == PARAM for k in positions)
    ):
        return ROW
    return GLOBAL, "rows are selected by index (row-wise code indexes columns only: x[:, j])"
