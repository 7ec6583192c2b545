"""The traced function's return value: flattened into symbolic outputs (a structure and one
output per numeric leaf) at trace time, and each compiled output given back the type native code
returned at call time.
"""

import types

import numpy as np
import pytensor.tensor as pt

from . import pytree
from .engine.errors import TraceError
from .engine.values import is_traced


def flatten(result, shadows=None, where=None):
    """Flatten the returned value into symbolic outputs (constants where nothing is traced).
    `shadows` (the trace's engine.shadows.Shadows): an object returned that holds values
    depending on the inputs on its attributes is refused (it would be returned as traced, the
    same object with the same values, at every call); `where`: the function's Location."""
    leaves = []

    def keep_leaf(x):
        return is_traced(x) or pytree.is_numeric_leaf(x) or isinstance(x, (bool, np.bool_))

    def walk(x):
        if keep_leaf(x):
            leaves.append(x)
            return pytree.TreeDef("leaf")
        if type(x) is dict:
            return pytree.TreeDef("dict", tuple(x), [walk(v) for v in x.values()])
        if type(x) in (list, tuple):
            return pytree.TreeDef(type(x).__name__, None, [walk(v) for v in x])
        if isinstance(x, tuple) and hasattr(x, "_fields"):
            return pytree.TreeDef("namedtuple", type(x), [walk(v) for v in x])
        if isinstance(x, types.GeneratorType):
            raise TraceError(
                "the traced function returned a generator", "return a list or an array"
            )
        if shadows is not None and shadows.holds_traced(x):
            raise TraceError(
                f"the traced function returned a {type(x).__name__} object holding values that "
                "depend on its inputs; a compiled function returns only numbers and arrays in "
                "dicts, lists, tuples and namedtuples",
                "return those values in a dict or a namedtuple (and build the object from them "
                "outside the function)",
                where,
            )
        return pytree.TreeDef("static", x)

    treedef = walk(result)
    outputs, kinds = [], []
    for leaf in leaves:
        value = leaf.value if is_traced(leaf) else leaf
        var = leaf.var if is_traced(leaf) else pt.as_tensor_variable(np.asarray(value))
        outputs.append(var)
        kinds.append(_kind(value))
    return outputs, treedef, kinds


def _kind(value):
    """How to give a compiled result back the type native code returned."""
    if isinstance(value, np.ndarray):
        return ("array", value.dtype)
    if isinstance(value, np.generic):
        return ("numpy", value.dtype)
    return ("python", type(value))


def restore(kind, array):
    tag, t = kind
    if tag == "array":
        return np.asarray(array, dtype=t)
    if tag == "numpy":
        return t.type(np.asarray(array)[()])
    return t(np.asarray(array)[()])


__all__ = ["flatten", "restore"]
