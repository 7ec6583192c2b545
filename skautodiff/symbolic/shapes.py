"""numpy shape manipulation in PyTensor: reshaping, transposing, joining (concatenate, stack, ...),
splitting, flipping, rolling, tiling, padding, append and insert. FUNCTIONS is keyed by the numpy
callable (identity). Rules follow the contract in doc/architecture.md ("Symbolic rules"), summed up
in _common.py.
"""

import numpy as np
import pytensor.tensor as pt
from pytensor.graph.basic import Variable

from ._common import (
    MISSING,
    as_tensor,
    cast,
    contains_var,
    given,
    normalize_axis,
    refuse,
    register_if_present,
    shape_argument,
)


def _slice_along(x, axis, start, stop):
    return x[(slice(None),) * axis + (slice(start, stop),)]


# --------------------------------------------------------------------------------------------
# shape manipulation
# --------------------------------------------------------------------------------------------


def _reshape(a, shape=MISSING, order="C", *, newshape=MISSING, copy=None):
    a = as_tensor(a)
    shape = shape_argument(shape if given(shape) else newshape)
    if order == "C":
        return pt.reshape(a, shape, ndim=len(shape))
    if order == "F":
        # Fortran order is C order on the reversed axes
        return pt.reshape(a.T, shape[::-1], ndim=len(shape)).T
    raise NotImplementedError(
        f"np.reshape(order={order!r}) is not supported (memory layout is not traced)"
    )


def _ravel(a, order="C"):
    a = as_tensor(a)
    if order == "C" or order == "K" or order == "A":
        # a traced array is always C-contiguous in the symbolic world; K/A read in memory order,
        # which for the arrays the engine feeds is C order
        return a.flatten()
    if order == "F":
        return a.T.flatten()
    raise NotImplementedError(f"np.ravel(order={order!r}) is not supported")


def _transpose(a, axes=None):
    a = as_tensor(a)
    return pt.transpose(a, None if axes is None else [int(x) % a.ndim for x in axes])


def _permute_dims(a, axes=None):
    return _transpose(a, axes)


def _matrix_transpose(x, /):
    return pt.swapaxes(as_tensor(x), -1, -2)


def _concatenate(arrays, axis=0, out=None, *, dtype=None, casting="same_kind"):
    refuse("np.concatenate", out=(out, None))
    if isinstance(arrays, Variable):
        # concatenating the rows of one traced array merges its first axis into `axis`
        if axis is None:
            return cast(arrays.flatten(), dtype)
        axis = int(axis) % (arrays.ndim - 1)
        moved = pt.moveaxis(arrays, 0, axis)
        shape = (
            [moved.shape[d] for d in range(axis)]
            + [-1]
            + [moved.shape[d] for d in range(axis + 2, moved.ndim)]
        )
        return cast(pt.reshape(moved, shape, ndim=arrays.ndim - 1), dtype)
    parts = [as_tensor(x) for x in arrays]
    if axis is None:
        return cast(pt.concatenate([p.flatten() for p in parts]), dtype)
    return cast(pt.concatenate(parts, axis=int(axis) % parts[0].ndim), dtype)


def _stack(arrays, axis=0, out=None, *, dtype=None, casting="same_kind"):
    refuse("np.stack", out=(out, None))
    if isinstance(arrays, Variable):
        return cast(pt.moveaxis(arrays, 0, int(axis) % arrays.ndim), dtype)
    parts = [as_tensor(x) for x in arrays]
    return cast(pt.stack(parts, axis=int(axis) % (parts[0].ndim + 1)), dtype)


def _sequence(tup, name):
    if isinstance(tup, Variable):
        raise NotImplementedError(
            f"np.{name} of one traced array is not supported: pass a list of arrays"
        )
    return [as_tensor(x) for x in tup]


def _rows_joined(x, axis):
    """np.concatenate(list(x), axis): the rows of one array joined along `axis` of a row, written
    without the number of rows (which the compiled function does not fix)."""
    return _concatenate(x, axis=axis)


# np.hstack(x) & co. of one array iterate over its rows; each stacker's result, by x.ndim, as one
# expression of x. Rows of a 1-D array are 0-d, and the atleast_Nd promotions decide the layout.
def _hstack_rows(x):
    return x if x.ndim == 1 else _rows_joined(x, 0 if x.ndim == 2 else 1)


def _vstack_rows(x):
    return x[:, None] if x.ndim == 1 else x if x.ndim == 2 else _rows_joined(x, 0)


def _dstack_rows(x):
    if x.ndim == 1:
        return x[None, None, :]
    if x.ndim == 2:
        return x.T[None]
    return pt.moveaxis(x, 0, 2) if x.ndim == 3 else _rows_joined(x, 2)


def _column_stack_rows(x):
    return x[None, :] if x.ndim == 1 else x.T if x.ndim == 2 else _rows_joined(x, 1)


def _atleast(ndim):
    def one(x):
        x = as_tensor(x)
        if x.ndim >= ndim:
            return x
        if ndim == 3 and x.ndim == 1:
            return x.dimshuffle("x", 0, "x")  # numpy: (N,) -> (1, N, 1)
        if ndim == 3 and x.ndim == 2:
            return x.dimshuffle(0, 1, "x")  # numpy: (M, N) -> (M, N, 1)
        return pt.shape_padleft(x, ndim - x.ndim)

    def rule(*arys):
        results = tuple(one(x) for x in arys)
        return results[0] if len(results) == 1 else results

    rule.__name__ = f"_atleast_{ndim}d"
    rule.one = one
    return rule


_atleast_1d = _atleast(1)
_atleast_2d = _atleast(2)
_atleast_3d = _atleast(3)


def _hstack(tup, *, dtype=None, casting="same_kind"):
    if isinstance(tup, Variable):
        return cast(_hstack_rows(tup), dtype)
    parts = [_atleast_1d.one(x) for x in _sequence(tup, "hstack")]
    return cast(pt.concatenate(parts, axis=0 if parts[0].ndim == 1 else 1), dtype)


def _vstack(tup, *, dtype=None, casting="same_kind"):
    if isinstance(tup, Variable):
        return cast(_vstack_rows(tup), dtype)
    return cast(
        pt.concatenate([_atleast_2d.one(x) for x in _sequence(tup, "vstack")], axis=0), dtype
    )


def _dstack(tup):
    if isinstance(tup, Variable):
        return _dstack_rows(tup)
    return pt.concatenate([_atleast_3d.one(x) for x in _sequence(tup, "dstack")], axis=2)


def _column_stack(tup):
    if isinstance(tup, Variable):
        return _column_stack_rows(tup)
    # 0-d and 1-D inputs become columns; others are stacked as they are
    parts = [
        x if x.ndim >= 2 else pt.shape_padleft(x, 2 - x.ndim).T
        for x in _sequence(tup, "column_stack")
    ]
    return pt.concatenate(parts, axis=1)


def _expand_dims(a, axis):
    return pt.expand_dims(as_tensor(a), axis)


def _squeeze(a, axis=None):
    # axis=None squeezes the axes known to have length 1: the engine gives length-1 axes a static
    # length of 1 (they are part of the compile cache key), and PyTensor propagates static shapes
    a = as_tensor(a)
    return pt.squeeze(a, axis=normalize_axis(axis, a.ndim))


def _broadcast_to(array, shape, subok=False):
    return pt.broadcast_to(as_tensor(array), shape_argument(shape))


def _broadcast_arrays(*args, subok=False):
    return tuple(pt.broadcast_arrays(*[as_tensor(x) for x in args]))


def _flip(m, axis=None):
    m = as_tensor(m)
    return pt.flip(m, axis=normalize_axis(axis, m.ndim))


def _fliplr(m):
    return as_tensor(m)[:, ::-1]


def _flipud(m):
    return as_tensor(m)[::-1]


def _moveaxis(a, source, destination):
    return pt.moveaxis(as_tensor(a), source, destination)


def _swapaxes(a, axis1, axis2):
    return pt.swapaxes(as_tensor(a), axis1, axis2)


def _roll(a, shift, axis=None):
    a = as_tensor(a)
    if axis is None:
        return pt.reshape(pt.roll(a.flatten(), shift), a.shape, ndim=a.ndim)
    axes = axis if isinstance(axis, (tuple, list)) else (axis,)
    shifts = shift if isinstance(shift, (tuple, list)) else (shift,) * len(axes)
    if len(shifts) == 1:
        shifts = tuple(shifts) * len(axes)
    # PyTensor rolls one axis at a time; numpy adds up shifts given twice for one axis, as this does
    for s, ax in zip(shifts, axes):
        a = pt.roll(a, s, axis=int(ax) % a.ndim)
    return a


def _rollaxis(a, axis, start=0):
    # numpy's older moveaxis: `axis` goes before position `start` (counted before the move)
    a = as_tensor(a)
    n = a.ndim
    axis = int(axis) % n
    start = int(start) + n if int(start) < 0 else int(start)
    if not 0 <= start <= n:
        raise NotImplementedError(
            f"np.rollaxis: start={start} is out of range"
        )  # numpy raised already
    if axis < start:
        start -= 1
    return pt.moveaxis(a, axis, start) if axis != start else a


def _rot90(m, k=1, axes=(0, 1)):
    m = as_tensor(m)
    first, second = (int(ax) % m.ndim for ax in axes)
    k = int(k) % 4
    if k == 0:
        return m
    if k == 2:
        return pt.flip(pt.flip(m, axis=first), axis=second)
    order = list(range(m.ndim))
    order[first], order[second] = order[second], order[first]
    if k == 1:
        return pt.transpose(pt.flip(m, axis=second), order)
    return pt.flip(pt.transpose(m, order), axis=second)


def _fftshift(x, axes=None, inverse=False):
    # a roll by half of each axis' length (rounded down forwards, up backwards); lengths are
    # symbolic, so the shift is too
    x = as_tensor(x)
    axes = range(x.ndim) if axes is None else normalize_axis(axes, x.ndim)
    for axis in axes:
        n = x.shape[axis]
        x = pt.roll(x, -(n // 2) if inverse else n // 2, axis=axis)
    return x


def _ifftshift(x, axes=None):
    return _fftshift(x, axes, inverse=True)


def _tile(A, reps):
    return pt.tile(as_tensor(A), reps)


def _repeat(a, repeats, axis=None):
    a = as_tensor(a)
    if axis is None:
        return pt.repeat(a.flatten(), repeats, axis=0)
    return pt.repeat(a, repeats, axis=int(axis) % a.ndim)


def _pad_edge(x, widths):
    # pytensor 3.0.7's pad(mode="edge") has a wrong gradient for unequal or per-axis widths
    # (fixed by 3.3.8); repeating the edge slices is exact in every version
    for axis, (before, after) in enumerate(widths):
        parts = [x]
        if before:
            parts.insert(0, pt.repeat(_slice_along(x, axis, 0, 1), int(before), axis=axis))
        if after:
            parts.append(pt.repeat(_slice_along(x, axis, -1, None), int(after), axis=axis))
        x = pt.concatenate(parts, axis=axis) if len(parts) > 1 else x
    return x


def _pad(array, pad_width, mode="constant", **kwargs):
    if callable(mode):
        raise NotImplementedError("np.pad with a callable mode is not supported")
    array = as_tensor(array)
    if mode == "edge" and not contains_var(pad_width):
        return _pad_edge(array, np.broadcast_to(np.asarray(pad_width, dtype=int), (array.ndim, 2)))
    return pt.pad(array, pad_width, mode=mode, **kwargs)


def _split_bounds(length, indices_or_sections, even):
    """Symbolic (start, stop) pairs of np.split / np.array_split."""
    if isinstance(indices_or_sections, (list, tuple, np.ndarray)):
        edges = [0] + list(indices_or_sections) + [length]
        return list(zip(edges[:-1], edges[1:]))
    n = int(indices_or_sections)
    size, extra = length // n, length % n
    # numpy's array_split: the first `length % n` pieces get one more element
    starts = [i * size + (0 if even else pt.minimum(i, extra)) for i in range(n + 1)]
    return list(zip(starts[:-1], starts[1:]))


def _splitter(even, default_axis=0, name="split"):
    def rule(ary, indices_or_sections, axis=default_axis):
        ary = as_tensor(ary)
        axis = int(axis) % ary.ndim
        return [
            _slice_along(ary, axis, start, stop)
            for start, stop in _split_bounds(ary.shape[axis], indices_or_sections, even)
        ]

    rule.__name__ = f"_{name}"
    return rule


_split = _splitter(True)
_array_split = _splitter(False, name="array_split")
_vsplit = _splitter(True, name="vsplit")


def _hsplit(ary, indices_or_sections):
    ary = as_tensor(ary)
    return _split(ary, indices_or_sections, axis=1 if ary.ndim > 1 else 0)


def _dsplit(ary, indices_or_sections):
    return _split(ary, indices_or_sections, axis=2)


def _append(arr, values, axis=None):
    arr, values = as_tensor(arr), as_tensor(values)
    if axis is None:
        return pt.concatenate([arr.flatten(), values.flatten()])
    return pt.concatenate([arr, values], axis=int(axis) % arr.ndim)


def _insert(arr, obj, values, axis=None):
    if not isinstance(obj, (int, np.integer)):
        raise NotImplementedError("np.insert is supported for a single integer position only")
    arr, values = as_tensor(arr), as_tensor(values)
    if axis is None:
        arr, axis = arr.flatten(), 0
    axis = int(axis) % arr.ndim
    obj = int(obj)
    if obj < 0:
        obj = arr.shape[axis] + obj
    # numpy: values get ndmin=arr.ndim, their first axis becomes `axis`, then broadcast to the slot
    values = pt.moveaxis(pt.shape_padleft(values, arr.ndim - values.ndim), 0, axis)
    shape = [values.shape[d] if d == axis else arr.shape[d] for d in range(arr.ndim)]
    values = pt.broadcast_to(values, shape)
    return pt.concatenate(
        [_slice_along(arr, axis, None, obj), values, _slice_along(arr, axis, obj, None)], axis=axis
    )


# --------------------------------------------------------------------------------------------
# the table
# --------------------------------------------------------------------------------------------

FUNCTIONS = {
    # shapes
    np.reshape: _reshape,
    np.ravel: _ravel,
    np.transpose: _transpose,
    np.concatenate: _concatenate,  # np.concat (numpy 2) is the same object
    np.stack: _stack,
    np.hstack: _hstack,
    np.vstack: _vstack,
    np.dstack: _dstack,
    np.column_stack: _column_stack,
    np.expand_dims: _expand_dims,
    np.squeeze: _squeeze,
    np.atleast_1d: _atleast_1d,
    np.atleast_2d: _atleast_2d,
    np.atleast_3d: _atleast_3d,
    np.broadcast_to: _broadcast_to,
    np.broadcast_arrays: _broadcast_arrays,
    np.flip: _flip,
    np.fliplr: _fliplr,
    np.flipud: _flipud,
    np.moveaxis: _moveaxis,
    np.swapaxes: _swapaxes,
    np.roll: _roll,
    np.rollaxis: _rollaxis,
    np.rot90: _rot90,
    np.fft.fftshift: _fftshift,
    np.fft.ifftshift: _ifftshift,
    np.tile: _tile,
    np.repeat: _repeat,
    np.pad: _pad,
    np.split: _split,
    np.array_split: _array_split,
    np.hsplit: _hsplit,
    np.vsplit: _vsplit,
    np.dsplit: _dsplit,
    np.append: _append,
    np.insert: _insert,
}


def _concatenator(name, to_piece, axis):
    """np.r_[...] / np.c_[...] of arrays and numbers (no slices or directive strings)."""

    def rule(index):
        items = index if isinstance(index, tuple) else (index,)
        for item in items:
            if isinstance(item, (slice, str)):
                raise NotImplementedError(
                    f"{type(item).__name__}s are not supported in traced code; pass "
                    "arrays and numbers only (np.arange(a, b) for a:b)"
                )
        return pt.concatenate([to_piece(as_tensor(item)) for item in items], axis=axis)

    rule.__name__ = f"_{name}"
    rule.label = f"np.{name}[...]"
    return rule


def _c_piece(x):
    # np.c_ is np.r_['-1,2,0', ...]: numbers become (1, 1), vectors columns, the rest stays
    return x.dimshuffle("x", "x") if x.ndim == 0 else x[:, None] if x.ndim == 1 else x


SUBSCRIPTS = {
    np.r_: _concatenator("r_", _atleast_1d.one, 0),
    np.c_: _concatenator("c_", _c_piece, -1),
}

# names that exist only in some numpy versions (all of ours are numpy 2.x; row_stack left in 2.5)
register_if_present(
    FUNCTIONS,
    np,
    {
        "row_stack": _vstack,
        "permute_dims": _permute_dims,
        "matrix_transpose": _matrix_transpose,
    },
)
