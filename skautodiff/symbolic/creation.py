"""numpy array creation in PyTensor: zeros, ones, full, *_like, eye, arange, linspace, array, asarray,
copy, and the scalar types used as casts (np.float64(x), ...). FUNCTIONS is keyed by the numpy
callable (identity). Rules follow the contract in doc/architecture.md ("Symbolic rules"), summed up
in _common.py.
"""

import numpy as np
import pytensor.tensor as pt
from pytensor.graph.basic import Variable

from ._common import FLOAT_DTYPES, as_tensor, cast, dtype_name, register_if_present, shape_argument


# --------------------------------------------------------------------------------------------
# creation
# --------------------------------------------------------------------------------------------


def _zeros(shape, dtype=float, order="C", *, device=None, like=None):
    return pt.zeros(shape_argument(shape), dtype=dtype_name(dtype))


def _ones(shape, dtype=None, order="C", *, device=None, like=None):
    return pt.ones(shape_argument(shape), dtype=dtype_name(dtype) or "float64")


def _full(shape, fill_value, dtype=None, order="C", *, device=None, like=None):
    fill = as_tensor(fill_value)
    return pt.full(shape_argument(shape), fill, dtype=dtype_name(dtype) or fill.dtype)


def _like(fill):
    def rule(a, dtype=None, order="K", subok=True, shape=None, *, device=None):
        a = as_tensor(a)
        dtype = dtype_name(dtype) or a.dtype
        size = a.shape if shape is None else shape_argument(shape)
        return pt.full(size, pt.as_tensor_variable(fill).astype(dtype), dtype=dtype)

    rule.__name__ = f"_like_{fill}"
    return rule


_zeros_like = _like(0)
_ones_like = _like(1)


def _full_like(a, fill_value, dtype=None, order="K", subok=True, shape=None, *, device=None):
    a = as_tensor(a)
    dtype = dtype_name(dtype) or a.dtype
    size = a.shape if shape is None else shape_argument(shape)
    # numpy casts the fill value to the array's dtype (full_like(ints, 0.5) is all zeros)
    return pt.full(size, cast(fill_value, dtype), dtype=dtype)


def _eye(N, M=None, k=0, dtype=float, order="C", *, device=None, like=None):
    return pt.eye(N, M, k, dtype=dtype_name(dtype))


def _identity(n, dtype=None, *, like=None):
    return pt.eye(n, dtype=dtype_name(dtype) or "float64")


def _arange(start, stop=None, step=None, dtype=None, *, device=None, like=None):
    if stop is None:
        start, stop = 0, start
    return pt.arange(start, stop, 1 if step is None else step, dtype=dtype_name(dtype))


def _linspace(
    start, stop, num=50, endpoint=True, retstep=False, dtype=None, axis=0, *, device=None
):
    if isinstance(num, Variable):
        raise NotImplementedError(
            "np.linspace with a traced num is not supported (num fixes the shape)"
        )
    num = int(num)
    start, stop = as_tensor(start), as_tensor(stop)
    if start.dtype not in FLOAT_DTYPES:
        start = pt.cast(start, "float64")
    divisions = num - 1 if endpoint else num
    step = (stop - start) / divisions if divisions > 0 else (stop - start) * np.nan
    extra = max(start.ndim, stop.ndim)
    index = pt.shape_padright(pt.arange(num, dtype="float64"), extra)
    result = start + index * (step if divisions > 0 else 0)
    if endpoint and num > 1:
        result = pt.set_subtensor(result[-1], stop + pt.zeros_like(result[-1]))
    result = pt.moveaxis(result, 0, int(axis) % result.ndim) if extra else result
    result = result if dtype is None else cast(result, dtype)
    return (result, step) if retstep else result


def _array(object, dtype=None, *, copy=True, order="K", subok=False, ndmin=0, ndmax=0, like=None):
    result = cast(as_tensor(object), dtype)
    if ndmin > result.ndim:
        result = pt.shape_padleft(result, ndmin - result.ndim)
    return result


def _asarray(a, dtype=None, order=None, *, device=None, copy=None, like=None):
    return cast(as_tensor(a), dtype)


def _copy(a, order="K", subok=False):
    # PyTensor variables are immutable, so the copy is the variable itself
    return as_tensor(a)


def _astype(x, dtype, /, *, copy=True, device=None):
    return cast(x, dtype)


def _scalar_type(dtype):
    """np.float64(x), np.int64(x), ... used as cast functions."""

    def rule(x=0, *args, **kwargs):
        if args or kwargs:
            raise NotImplementedError(
                f"np.{dtype_name(dtype)}(...) with extra arguments is not supported"
            )
        x = as_tensor(x)
        if dtype_name(dtype) != "bool" and np.dtype(dtype).kind in "iu" and x.dtype in FLOAT_DTYPES:
            x = pt.trunc(x)  # C casts truncate toward zero; say so explicitly
        return cast(x, dtype)

    rule.__name__ = f"_as_{dtype_name(dtype)}"
    return rule


# --------------------------------------------------------------------------------------------
# the table
# --------------------------------------------------------------------------------------------

FUNCTIONS = {
    # creation
    np.zeros: _zeros,
    np.ones: _ones,
    np.empty: _zeros,  # numpy's contents are arbitrary; zeros are one valid choice
    np.full: _full,
    np.zeros_like: _zeros_like,
    np.ones_like: _ones_like,
    np.empty_like: _zeros_like,
    np.full_like: _full_like,
    np.eye: _eye,
    np.identity: _identity,
    np.arange: _arange,
    np.linspace: _linspace,
    np.array: _array,
    np.asarray: _asarray,
    np.asanyarray: _asarray,
    np.ascontiguousarray: _asarray,
    np.copy: _copy,
    np.float64: _scalar_type(np.float64),
    np.float32: _scalar_type(np.float32),
    np.int64: _scalar_type(np.int64),
    np.int32: _scalar_type(np.int32),
    np.bool_: _scalar_type(np.bool_),
}

# names that exist only in some numpy versions (all of ours are numpy 2.x)
register_if_present(
    FUNCTIONS,
    np,
    {
        "astype": _astype,
    },
)
