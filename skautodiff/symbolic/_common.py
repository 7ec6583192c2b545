"""Shared helpers of the numpy rule areas (elementwise.py, reductions.py, products.py, shapes.py,
creation.py, indexing.py, ufunc_methods.py; also used by methods.py and builtins.py).

Contract (doc/architecture.md, "Symbolic rules"): a rule receives numpy's own arguments with every
traced value replaced by its PyTensor variable and returns the symbolic result. The engine computes
concrete values with numpy and casts the symbolic result to numpy's dtype, so rules need the right
ndim and values, not bit-identical dtypes. Where PyTensor's function has numpy's signature it is
mapped directly; otherwise a small named adapter sits above the table.
"""

import inspect

import numpy as np
import pytensor.tensor as pt
from pytensor.compile.builders import OpFromGraph
from pytensor.graph.basic import Variable

_MISSING = object()  # "argument not passed" (numpy's own _NoValue is treated alike)

# dtype families by name (pytensor.tensor does not export these lists under one stable name)
_FLOATS = ("float16", "float32", "float64")
_COMPLEX = ("complex64", "complex128")
_INTEGERS = ("int8", "int16", "int32", "int64", "uint8", "uint16", "uint32", "uint64")


def given(value):
    return value is not _MISSING and value is not getattr(np, "_NoValue", _MISSING)


def contains_var(obj):
    if isinstance(obj, Variable):
        return True
    if isinstance(obj, (list, tuple)):
        return any(contains_var(o) for o in obj)
    return False


def as_var(obj):
    """A PyTensor variable for an array-like that may hold traced values (np.array([a, b]))."""
    if isinstance(obj, Variable):
        return obj
    if isinstance(obj, (list, tuple)) and contains_var(obj):
        return pt.stack([as_var(o) for o in obj])
    return pt.as_tensor_variable(np.asarray(obj))


def dtype_name(dtype):
    return None if dtype is None else np.dtype(dtype).name


def cast(x, dtype):
    """x cast to a numpy dtype spec; bool means "nonzero", as in numpy."""
    x = as_var(x)
    name = dtype_name(dtype)
    if name is None or name == x.dtype:
        return x
    if name == "bool":
        return pt.neq(x, 0)
    return pt.cast(x, name)


def refuse(function, **options):
    """Raise for numpy options that a symbolic rule cannot honour (out=, where=, order=...)."""
    for option, (value, default) in options.items():
        if given(value) and not (
            value is default or (isinstance(default, str) and value == default)
        ):
            raise NotImplementedError(
                f"{function}({option}={value!r}) is not supported in traced code"
            )


def norm_axis(axis, ndim):
    """numpy axis argument (None, int, sequence, possibly negative) -> None or a tuple of ints >= 0."""
    if axis is None:
        return None
    if isinstance(axis, Variable):
        raise NotImplementedError("an axis that depends on the inputs is not supported")
    axes = tuple(axis) if isinstance(axis, (tuple, list)) else (axis,)
    return tuple(int(a) % max(ndim, 1) for a in axes)


def _shape_arg(shape):
    # np.zeros(n), np.zeros((n, 3)): traced sizes may arrive as float-typed scalars; numpy needs
    # integers, so they are cast (numpy itself already rejected non-integral values)
    parts = shape if isinstance(shape, (tuple, list)) else (shape,)
    return tuple(
        pt.cast(p, "int64") if isinstance(p, Variable) and p.dtype not in _INTEGERS else p
        for p in parts
    )


def _truth(x):
    return pt.neq(x, 0)


# The keyword for a custom gradient: `pullback` in current PyTensor, `lop_overrides` before.
_PULLBACK = (
    "pullback"
    if "pullback" in inspect.signature(OpFromGraph.__init__).parameters
    else "lop_overrides"
)


def pullback(gradient):
    """Keywords for an OpFromGraph subclass with a custom gradient. Inlined when compiled, so that
    its inner graph fuses with the graph around it; the class name stays for skautodiff.printing."""
    return {"inline": True, _PULLBACK: gradient}


def maximum(x, y):
    """numpy's maximum (NaN propagates) built from switch: PyTensor's Maximum/Minimum have a
    gradient that fast_run rewrites break when both operands depend on one input
    (grad of sum(minimum(z, z + z)) at z = 0.64 gives 2 instead of 1, pytensor 3.0.7 and 3.3.8)."""
    return pt.switch(pt.ge(x, y) | pt.isnan(x), x, y)


def minimum(x, y):
    """numpy's minimum (NaN propagates); see `maximum` for why not pt.minimum."""
    return pt.switch(pt.le(x, y) | pt.isnan(x), x, y)
