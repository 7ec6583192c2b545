"""Shared helpers of the numpy rule areas (elementwise.py, reductions.py, products.py, shapes.py,
creation.py, indexing.py, ufunc_methods.py; also used by methods.py and builtins.py).

Contract (doc/architecture.md, "Symbolic rules"): a rule receives numpy's own arguments with every
traced value replaced by its PyTensor variable and returns the symbolic result. The engine computes
concrete values with numpy and casts the symbolic result to numpy's dtype, so rules need the right
ndim and values, not bit-identical dtypes. Where PyTensor's function has numpy's signature it is
mapped directly; otherwise a small named adapter sits above the table.
"""

import numpy as np
import pytensor.tensor as pt
from pytensor.graph.basic import Variable

MISSING = object()  # "argument not passed" (numpy's own _NoValue is treated alike)

# dtype families by name (pytensor.tensor does not export these lists under one stable name)
FLOAT_DTYPES = ("float16", "float32", "float64")
COMPLEX_DTYPES = ("complex64", "complex128")
INTEGER_DTYPES = ("int8", "int16", "int32", "int64", "uint8", "uint16", "uint32", "uint64")


def given(value):
    return value is not MISSING and value is not getattr(np, "_NoValue", MISSING)


def contains_var(obj):
    if isinstance(obj, Variable):
        return True
    if isinstance(obj, (list, tuple)):
        return any(contains_var(o) for o in obj)
    return False


def as_tensor(obj):
    """A PyTensor variable for a rule argument: an array-like that may hold traced values
    (np.array([a, b])) is stacked; an untraced value keeps numpy's dtype (pt.as_tensor_variable(2.0)
    alone is a float32 constant, and 2 an int8 one, so log(2.0) would be computed in float32, off by
    2e-9; np.asarray gives the float64 and int64 the concrete call saw)."""
    if isinstance(obj, Variable):
        return obj
    if isinstance(obj, (list, tuple)) and contains_var(obj):
        return pt.stack([as_tensor(o) for o in obj])
    return pt.as_tensor_variable(np.asarray(obj))


def dtype_name(dtype):
    return None if dtype is None else np.dtype(dtype).name


def cast(x, dtype):
    """x cast to a numpy dtype spec; bool means "nonzero", as in numpy."""
    x = as_tensor(x)
    name = dtype_name(dtype)
    if name is None or name == x.dtype:
        return x
    if name == "bool":
        return pt.neq(x, 0)
    return pt.cast(x, name)


REFUSED = object()  # the default of an option `refuse` refuses whatever its value


def raises_unless_finite(var):
    """Mark a rule's result whose numpy or scipy callable raises where PyTensor's op (or what its
    rewrites make of it) gives NaN or inf: a Cholesky factor of a matrix that is not positive
    definite, the inverse of a singular one. The engine guards that the result is as finite as
    when traced, so such a call traces again and raises, or takes the user's except branch, as
    natively."""
    var.tag.raises_unless_finite = True
    return var


def refuse(function, **options):
    """Raise for options a symbolic rule cannot honour (out=, where=, order=...): each option is
    (value, default), and only its default (or not passing it) is accepted."""
    for option, (value, default) in options.items():
        if given(value) and not (
            value is default or (isinstance(default, str) and value == default)
        ):
            raise NotImplementedError(
                f"{function}({option}={value!r}) is not supported in traced code"
            )


# A ufunc's keyword arguments (scipy.special's functions are ufuncs) at their harmless defaults:
# any other value changes what is written where, which a pure expression cannot express.
UFUNC_DEFAULTS = {"out": None, "where": True, "casting": "same_kind", "order": "K", "subok": True}


def refuse_ufunc_options(function, kwargs):
    """`refuse` for the keyword arguments a ufunc received; those that are not ufunc options at all
    are refused too."""
    refuse(
        function,
        **{key: (value, UFUNC_DEFAULTS.get(key, REFUSED)) for key, value in kwargs.items()},
    )


def normalize_axis(axis, ndim, none_means_all=False):
    """numpy axis argument (None, int, sequence, possibly negative) -> a tuple of ints >= 0, or
    None for None (every axis, as a tuple, with none_means_all)."""
    if axis is None:
        return tuple(range(ndim)) if none_means_all else None
    if isinstance(axis, Variable):
        raise NotImplementedError("an axis that depends on the inputs is not supported")
    axes = tuple(axis) if isinstance(axis, (tuple, list)) else (axis,)
    return tuple(int(a) % max(ndim, 1) for a in axes)


def register_if_present(table, module, rules):
    """Add {name: rule} to a FUNCTIONS table for the names `module` has: numpy and math gained
    functions in versions this package supports but does not require."""
    for name, rule in rules.items():
        if hasattr(module, name):
            table[getattr(module, name)] = rule


def shape_argument(shape):
    # np.zeros(n), np.zeros((n, 3)): traced sizes may arrive as float-typed scalars; numpy needs
    # integers, so they are cast (numpy itself already rejected non-integral values)
    parts = shape if isinstance(shape, (tuple, list)) else (shape,)
    return tuple(
        pt.cast(p, "int64") if isinstance(p, Variable) and p.dtype not in INTEGER_DTYPES else p
        for p in parts
    )


def is_nonzero(x):
    return pt.neq(x, 0)


def pullback(gradient):
    """Keywords for an OpFromGraph subclass with a custom gradient, inlined when compiled so that
    its inner graph fuses with the graph around it (the class name stays for skautodiff.printing).
    Every PyTensor this package supports (>= 3.0.7, also 3.3) takes `pullback=`; linalg.py's
    factorisations pass it directly, as they are not inlined."""
    return {"inline": True, "pullback": gradient}


def maximum(x, y):
    """numpy's maximum (NaN propagates) built from switch: PyTensor's Maximum/Minimum have a
    gradient that fast_run rewrites break when both operands depend on one input
    (grad of sum(minimum(z, z + z)) at z = 0.64 gives 2 instead of 1, pytensor 3.0.7 and 3.3.8)."""
    return pt.switch(pt.ge(x, y) | pt.isnan(x), x, y)


def minimum(x, y):
    """numpy's minimum (NaN propagates); see `maximum` for why not pt.minimum."""
    return pt.switch(pt.le(x, y) | pt.isnan(x), x, y)
