"""Values as the engine holds them: a concrete value, and beside it a PyTensor shadow.

`Traced` pairs exist only inside the engine (its stack, locals, cells and the containers the
traced code builds). Everything handed to native code is unwrapped first.
"""

import numpy as np

from .locations import record


class _Null:
    """The engine's own NULL stack marker (CPython's NULL before/after a callable); not None."""

    __slots__ = ()

    def __repr__(self):
        return "NULL"


NULL = _Null()


class Traced:
    """A concrete value (exactly what native numpy returns) and its PyTensor variable.

    `view_of` is (base Traced, index) when the value is a numpy view made by indexing another
    traced array, so that an in-place update of the view also updates the base.
    """

    __slots__ = ("value", "var", "view_of")

    def __init__(self, value, var, view_of=None):
        self.value, self.var, self.view_of = value, var, view_of
        record(var)  # the user's line on the nodes behind var that have none yet

    def __repr__(self):
        return f"Traced({self.value!r}, {self.var})"

    def __bool__(self):  # a leak into code that truth-tests it: always an engine bug
        raise AssertionError("internal error: a Traced value reached native code")


def is_traced(obj):
    return type(obj) is Traced


def traced_in(obj, _depth=0):
    """The Traced values hiding in obj (through lists, tuples, dicts, sets, slices)."""
    t = type(obj)
    if t is Traced:
        yield obj
    elif _depth > 8:
        return
    elif t in (list, tuple, set, frozenset) or isinstance(obj, tuple):
        for x in obj:
            yield from traced_in(x, _depth + 1)
    elif t is dict:
        for x in obj.values():
            yield from traced_in(x, _depth + 1)
    elif t is slice:
        for x in (obj.start, obj.stop, obj.step):
            yield from traced_in(x, _depth + 1)


def contains_traced(obj):
    return next(traced_in(obj), None) is not None


def map_traced(obj, leaf):
    """Rebuild obj's containers with `leaf` applied to every Traced value inside."""
    t = type(obj)
    if t is Traced:
        return leaf(obj)
    if t is list:
        return [map_traced(x, leaf) for x in obj]
    if t is tuple:
        return tuple(map_traced(x, leaf) for x in obj)
    if isinstance(obj, tuple) and hasattr(obj, "_fields"):  # namedtuple
        return t(*(map_traced(x, leaf) for x in obj))
    if t is dict:
        return {k: map_traced(v, leaf) for k, v in obj.items()}
    if t in (set, frozenset):
        return t(map_traced(x, leaf) for x in obj)
    if t is slice:
        return slice(
            map_traced(obj.start, leaf), map_traced(obj.stop, leaf), map_traced(obj.step, leaf)
        )
    return obj


def unwrap(obj):
    """The concrete value, with every Traced inside containers replaced by its value."""
    return map_traced(obj, lambda tr: tr.value) if contains_traced(obj) else obj


def to_variables(obj):
    """The symbolic form for a rule: every Traced replaced by its PyTensor variable."""
    return map_traced(obj, lambda tr: tr.var) if contains_traced(obj) else obj


def snapshot(obj, _depth=0):
    """obj with every plain numpy array (also inside lists, tuples, dicts) replaced by a copy.

    What a rule receives becomes a constant of the graph, and PyTensor's constants share memory
    with the array they were made from: without a copy, a later in-place write to that array by
    the traced code (np.add.at(acc, ...), acc[0] = 1.0) would change the graph's constant too.
    """
    t = type(obj)
    if isinstance(obj, np.ndarray):
        return obj.copy()
    if _depth > 8:
        return obj
    if t is list:
        return [snapshot(x, _depth + 1) for x in obj]
    if t is tuple:
        return tuple(snapshot(x, _depth + 1) for x in obj)
    if t is dict:
        return {k: snapshot(v, _depth + 1) for k, v in obj.items()}
    return obj


def dtype_of(value):
    """numpy's dtype of a concrete value (Python scalars as numpy sees them)."""
    if isinstance(value, (np.ndarray, np.generic)):
        return value.dtype
    if isinstance(value, bool):
        return np.dtype(bool)
    if isinstance(value, int):
        return np.dtype(np.int64)
    if isinstance(value, float):
        return np.dtype(np.float64)
    if isinstance(value, complex):
        return np.dtype(np.complex128)
    return None
