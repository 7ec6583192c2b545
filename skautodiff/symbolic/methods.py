"""ndarray methods and attributes in PyTensor: METHODS and ATTRIBUTES.

A method rule receives the array's variable first, then the method's own arguments. Where a
method's signature is numpy function's signature minus the array (x.sum(axis) == np.sum(x, axis)),
the function's rule is reused; adapters cover the methods whose signatures differ (x.reshape(2, 3),
x.transpose(1, 0), x.item(), ...). shape, ndim, dtype and size are answered by the engine.
"""

import numpy as np
import pytensor.tensor as pt

from . import _common, creation, elementwise, indexing, products, reductions, shapes


def _shape_from(args, kwargs, name):
    # x.reshape(2, 3) and x.reshape((2, 3)) mean the same; so do x.transpose(1, 0) and x.transpose((1, 0))
    if name in kwargs:
        return kwargs.pop(name)
    if len(args) == 1 and (isinstance(args[0], (tuple, list)) or args[0] is None):
        return args[0]
    return tuple(args)


def _reshape(x, *shape, order="C", copy=None, **kwargs):
    return shapes._reshape(x, _shape_from(shape, kwargs, "shape"), order=order)


def _transpose(x, *axes):
    axes = _shape_from(axes, {}, "axes")
    return shapes._transpose(x, axes if axes else None)


def _astype(x, dtype, order="K", casting="unsafe", subok=True, copy=True):
    return creation._scalar_type(dtype)(x)


def _item(x, *args):
    if not args:
        # numpy requires exactly one element; the engine ran numpy first
        return pt.reshape(x, (), ndim=0)
    if len(args) == 1 and isinstance(args[0], tuple):
        args = args[0]
    if len(args) == 1:
        return x.flatten()[args[0]]  # one index: a flat (C order) position
    return x[tuple(args)]


def _copy(x, order="C"):
    return x


def _flatten(x, order="C"):
    return shapes._ravel(x, order)


def _clip(x, min=None, max=None, out=None, **kwargs):
    return elementwise._clip(x, min, max, out, **kwargs)


def _conj(x):
    return pt.conj(x) if x.dtype in _common.COMPLEX_DTYPES else x


def _sort_in_place(x, axis=-1, kind=None, order=None, *, stable=None):
    return indexing._sort(x, axis, kind, order)


def _fill(x, value):
    return pt.second(x, _common.as_tensor(value))


def _put(x, indices, values, mode="raise"):
    return indexing._put(x, indices, values, mode)


def _resize(x, *args, **kwargs):
    raise NotImplementedError(
        "ndarray.resize() changes the array's shape in place, which traced code cannot "
        "follow; build the new array instead, e.g. x = np.concatenate([x, np.zeros(k)]) "
        "or x = x[:n]"
    )


def _real(x):
    return pt.real(x) if x.dtype in _common.COMPLEX_DTYPES else x


def _imag(x):
    return pt.imag(x) if x.dtype in _common.COMPLEX_DTYPES else pt.zeros_like(x)


METHODS = {
    # same signature as the numpy function, minus the array
    "sum": reductions._sum,
    "prod": reductions._prod,
    "mean": reductions._mean,
    "max": reductions._max,
    "min": reductions._min,
    "var": reductions._var,
    "std": reductions._std,
    "any": reductions._any,
    "all": reductions._all,
    "cumsum": reductions._cumsum,
    "cumprod": reductions._cumprod,
    "argmax": indexing.FUNCTIONS[np.argmax],
    "argmin": indexing.FUNCTIONS[np.argmin],
    "argsort": indexing._argsort,
    "round": elementwise._round,
    "dot": products._dot,
    "squeeze": shapes._squeeze,
    "swapaxes": shapes._swapaxes,
    "repeat": shapes._repeat,
    "take": indexing._take,
    "diagonal": indexing._diagonal,
    "trace": indexing._trace,
    "nonzero": indexing._nonzero,
    "searchsorted": indexing._searchsorted,
    "ravel": shapes._ravel,
    # different signatures
    "reshape": _reshape,
    "transpose": _transpose,
    "astype": _astype,
    "item": _item,
    "copy": _copy,
    "flatten": _flatten,
    "clip": _clip,
    "conj": _conj,
    "conjugate": _conj,
}

# Methods that update the array itself: the rule returns the array's new value (the engine copies
# an argument's array on the first write, so the caller's array never changes).
IN_PLACE_METHODS = {
    "sort": _sort_in_place,
    "fill": _fill,
    "put": _put,
    "resize": _resize,  # refused with a hint
}

ATTRIBUTES = {
    "T": lambda x: x.T,
    "mT": lambda x: pt.swapaxes(x, -1, -2),
    "real": _real,
    "imag": _imag,
}
