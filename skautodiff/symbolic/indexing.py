"""numpy indexing, sorting and searching in PyTensor: take, diagonals and triangles, sort, argsort,
argmax, searchsorted, nonzero, index helpers (tril_indices, ix_, ...). FUNCTIONS is keyed by the
numpy callable (identity). Rules follow the contract in doc/architecture.md ("Symbolic rules"),
summed up in _common.py.
"""

import numpy as np
import pytensor.tensor as pt
from pytensor.graph.basic import Variable

from ._common import is_nonzero, as_tensor, cast, contains_var, refuse


# --------------------------------------------------------------------------------------------
# indexing, sorting, searching
# --------------------------------------------------------------------------------------------


def _take(a, indices, axis=None, out=None, mode="raise"):
    refuse("np.take", out=(out, None))
    a = as_tensor(a)
    if axis is None:
        a, axis = a.flatten(), 0
    axis = int(axis) % a.ndim
    indices = as_tensor(indices)
    size = a.shape[axis]
    if mode == "wrap":
        indices = pt.mod(indices, size)
    elif mode == "clip":
        indices = pt.clip(indices, 0, size - 1)
    return pt.take(a, indices, axis=axis)


def assign(x, index, value):
    """`x[index] = value` with numpy's meaning, also where integer-array indices repeat a position.

    numpy writes each repeated position several times and the last write (in the order of the
    elements of x[index]) stays; PyTensor's set_subtensor leaves the value unspecified and gives
    the gradient to every write. So repeated writes are dropped first and each position is set
    once. `x[idx] += v` is a read, an add and this assignment, hence numpy's "applied once".
    """
    parts, user_arrays = _write_parts(index)
    repeats = _may_repeat(parts, user_arrays)
    if not repeats and not any(isinstance(p, Variable) and p.ndim > 0 for p in parts):
        return pt.set_subtensor(x[parts], value)
    # the flat position of every element that numpy writes, in numpy's order
    written = pt.arange(x.size).reshape(x.shape)[parts]
    positions = written.flatten()
    values = pt.broadcast_to(as_tensor(value), written.shape).flatten()
    m = positions.shape[0]
    chosen = _last_writes(positions) if repeats else pt.arange(m)
    # Two more writes, of 0 to a spare slot, keep every write and gather longer than one element
    # whatever the number of indices at run time: pytensor 3.0.7's Python implementation of
    # AdvancedIncSubtensor1 (also the gradient of a gather) refuses a 1-element write into a
    # longer vector as "runtime broadcasting".
    picked = pt.concatenate([chosen, pt.stack([m, m])])
    where = pt.concatenate([positions, pt.stack([x.size])])[picked]
    what = pt.concatenate([values, pt.zeros((1,), dtype=values.dtype)])[picked]
    padded = pt.concatenate([x.flatten(), pt.zeros((1,), dtype=x.dtype)])
    return pt.set_subtensor(padded[where], what)[:-1].reshape(x.shape)


def _last_writes(positions):
    """Where in `positions` each distinct position occurs for the last time: the last of each run
    of equal positions once stably sorted."""
    order = pt.argsort(positions, kind="stable")
    ranked = positions[order]
    following = pt.concatenate([ranked[1:], ranked[-1:] - 1])  # (empty when nothing is written)
    return order[pt.nonzero(pt.neq(ranked, following))[0]]


def _write_parts(index):
    """(the index as a tuple, boolean masks replaced by the integer indices of their True entries;
    the integer arrays in it that came from the user rather than from a mask).

    Masks become integer indices because pytensor >= 3.1 drops the gradient of a value assigned
    through a mask (r[m] += 0.1 * x[m]), while integer indices are correct in every version.
    """
    parts, user_arrays = [], []
    for part in index if isinstance(index, tuple) else (index,):
        if isinstance(part, list) and not contains_var(part):
            part = np.asarray(part)
        if isinstance(part, np.ndarray) and part.dtype == bool:
            parts.extend(np.nonzero(part))
        elif isinstance(part, Variable) and part.dtype == "bool" and part.ndim > 0:
            parts.extend(pt.nonzero(part))
        else:
            part = as_tensor(part) if isinstance(part, list) else part
            if np.ndim(part) > 0 or (isinstance(part, Variable) and part.ndim > 0):
                user_arrays.append(part)
            parts.append(part)
    return tuple(parts), user_arrays


def _may_repeat(parts, user_arrays):
    """Whether the integer arrays of an index may address one element twice. Concrete indices are
    checked (a negative one may alias a positive one once the length is known: assumed so)."""
    if not user_arrays:
        return False
    arrays = [
        p for p in parts if (isinstance(p, Variable) and p.ndim > 0) or isinstance(p, np.ndarray)
    ]
    if any(isinstance(p, Variable) for p in arrays):
        return True
    rows = np.stack([a.ravel() for a in np.broadcast_arrays(*arrays)], axis=1)
    return bool((rows < 0).any()) or len(np.unique(rows, axis=0)) < len(rows)


def _take_along_axis(arr, indices, axis=-1):
    arr = as_tensor(arr)
    if axis is None:
        return pt.take_along_axis(arr.flatten(), as_tensor(indices), axis=0)
    return pt.take_along_axis(arr, as_tensor(indices), axis=int(axis) % arr.ndim)


def _tril(m, k=0):
    return pt.tril(as_tensor(m), k)


def _triu(m, k=0):
    return pt.triu(as_tensor(m), k)


def _diag(v, k=0):
    return pt.diag(as_tensor(v), k)


def _diagonal(a, offset=0, axis1=0, axis2=1):
    return pt.diagonal(as_tensor(a), offset, axis1, axis2)


def _trace(a, offset=0, axis1=0, axis2=1, dtype=None, out=None):
    refuse("np.trace", out=(out, None))
    return cast(pt.sum(pt.diagonal(as_tensor(a), offset, axis1, axis2), axis=-1), dtype)


def _sort(a, axis=-1, kind=None, order=None, *, stable=None):
    refuse("np.sort", order=(order, None))
    a = as_tensor(a)
    if axis is None:
        return pt.sort(a.flatten(), axis=0)
    return pt.sort(a, axis=int(axis) % a.ndim)


def _argsort(a, axis=-1, kind=None, order=None, *, stable=None):
    refuse("np.argsort", order=(order, None))
    a = as_tensor(a)
    if axis is None:
        return pt.argsort(a.flatten(), axis=0)
    # a stable sort, as numpy's default quicksort is not guaranteed to be; ties are measure-zero
    # for float inputs and both answers are valid orderings
    return pt.argsort(a, axis=int(axis) % a.ndim, kind="stable")


def _put(a, ind, v, mode="raise"):
    """np.put(a, ind, v) and a.put(ind, v): the new value of a, i.e. `a.flat[ind] = v` with v
    repeated when it is shorter (`assign` keeps numpy's last write where indices repeat)."""
    if mode != "raise":
        raise NotImplementedError(
            "np.put with mode='wrap' or 'clip' is not supported; "
            "wrap or clip the indices first (np.mod / np.clip)"
        )
    a, v = as_tensor(a), as_tensor(v).flatten()
    ind = as_tensor(ind).flatten() if contains_var(ind) else np.ravel(ind)
    values = v[pt.arange(ind.shape[0]) % v.shape[0]]
    return assign(a.flatten(), ind, cast(values, a.dtype)).reshape(a.shape)


def _copyto(dst, src, casting="same_kind", where=True):
    """np.copyto(dst, src, where=...): the new value of dst."""
    dst = as_tensor(dst)
    if where is True:
        return pt.second(dst, cast(src, dst.dtype))
    return pt.where(as_tensor(where), cast(src, dst.dtype), dst)


def _arg_extreme(fn, name):
    def rule(a, axis=None, out=None, *, keepdims=False):
        refuse(f"np.{name}", out=(out, None))
        a = as_tensor(a)
        if axis is None:
            result = fn(a.flatten(), axis=0)
            return pt.shape_padleft(result, a.ndim) if keepdims else result
        return fn(a, axis=int(axis) % a.ndim, keepdims=bool(keepdims))

    rule.__name__ = f"_{name}"
    return rule


def _searchsorted(a, v, side="left", sorter=None):
    return pt.searchsorted(as_tensor(a), as_tensor(v), side=side, sorter=sorter)


def _interp(x, xp, fp, left=None, right=None, period=None):
    """Piecewise-linear interpolation as numpy computes it: on the segment [xp[j], xp[j+1]] that
    holds x, slope * (x - xp[j]) + fp[j]; fp[-1] at x == xp[-1]; left/right (default fp[0], fp[-1])
    outside. The derivative in x is the segment's slope (one-sided at the knots)."""
    if period is not None:
        raise NotImplementedError("np.interp(period=...) is not supported in traced code")
    x, xp, fp = as_tensor(x), as_tensor(xp), as_tensor(fp)
    if fp.dtype.startswith("complex"):
        raise NotImplementedError("np.interp of complex values is not supported in traced code")
    last = xp.shape[0] - 1
    j = pt.clip(pt.searchsorted(xp, x, side="right") - 1, 0, pt.maximum(last - 1, 0))
    x0, x1, f0, f1 = xp[j], xp[pt.minimum(j + 1, last)], fp[j], fp[pt.minimum(j + 1, last)]
    width = x1 - x0
    slope = (f1 - f0) / pt.switch(pt.eq(width, 0), 1.0, width)
    inside = slope * (x - x0) + f0
    low = fp[0] if left is None else as_tensor(left)
    high = fp[-1] if right is None else as_tensor(right)
    value = pt.switch(pt.eq(x, xp[-1]), fp[-1], inside)
    return pt.switch(x < xp[0], low, pt.switch(x > xp[-1], high, value))


def _nonzero(a):
    a = as_tensor(a)
    if a.ndim == 0:
        raise NotImplementedError(
            "np.nonzero of a 0-d array is not supported (numpy deprecates it)"
        )
    return tuple(pt.nonzero(is_nonzero(a)))


def _flatnonzero(a):
    return pt.nonzero(is_nonzero(as_tensor(a).flatten()))[0]


def _argwhere(a):
    a = as_tensor(a)
    return pt.stack(pt.nonzero(is_nonzero(a)), axis=1)


def _tril_indices(n, k=0, m=None):
    return tuple(pt.tril_indices(n, k, m))


def _triu_indices(n, k=0, m=None):
    return tuple(pt.triu_indices(n, k, m))


def _diag_indices(n, ndim=2):
    return (pt.arange(n),) * ndim


def _ix(*args):
    results = []
    for position, seq in enumerate(args):
        seq = as_tensor(seq)
        if seq.dtype == "bool":
            seq = pt.nonzero(seq)[0]
        pattern = ["x"] * len(args)
        pattern[position] = 0
        results.append(seq.dimshuffle(pattern))
    return tuple(results)


# --------------------------------------------------------------------------------------------
# the table
# --------------------------------------------------------------------------------------------

FUNCTIONS = {
    np.interp: _interp,
    # indexing, sorting, searching
    np.take: _take,
    np.take_along_axis: _take_along_axis,
    np.tril: _tril,
    np.triu: _triu,
    np.diag: _diag,
    np.diagonal: _diagonal,
    np.trace: _trace,
    np.sort: _sort,
    np.argsort: _argsort,
    np.argmax: _arg_extreme(pt.argmax, "argmax"),
    np.argmin: _arg_extreme(pt.argmin, "argmin"),
    np.searchsorted: _searchsorted,
    np.nonzero: _nonzero,
    np.flatnonzero: _flatnonzero,
    np.argwhere: _argwhere,
    np.tril_indices: _tril_indices,
    np.triu_indices: _triu_indices,
    np.diag_indices: _diag_indices,
    np.ix_: _ix,
    # write into their first argument (see INPLACE)
    np.put: _put,
    np.copyto: _copyto,
}

# The functions above that update an argument in place: its position. Their rule returns the
# argument's new value.
INPLACE = {np.put: 0, np.copyto: 0}
