"""The state of one trace: guards, shadows kept beside objects, and inputs found on the way.

The interpreter asks the context about everything that involves identity or the world outside
the function: globals and closure cells (constants, guarded so rebinding retraces), attributes of
argument objects (numbers become symbolic inputs, everything else is guarded), shadows of arrays
that were updated in place, and shadows stored on attributes.
"""
import types

import numpy as np
import pytensor.tensor as pt
from pytensor.graph.basic import Constant

from .values import Traced, contains_traced, dtype_of, is_traced, unwrap

_PLAIN_DATA = (int, float, complex, str, bytes, bool, type(None), tuple, frozenset, np.dtype, type)


def same(a, b):
    """Whether a guarded value still holds: identity, or equality for plain immutable data."""
    if a is b:
        return True
    if type(a) is not type(b) or not isinstance(a, _PLAIN_DATA):
        return False
    try:
        return bool(a == b)
    except Exception:
        return False


class Guard:
    """A truth test the trace depends on: `var` must evaluate to `outcome` (computed at call time)."""

    __slots__ = ("var", "outcome", "where")

    def __init__(self, var, outcome, where):
        self.var, self.outcome, self.where = var, outcome, where


class ValueGuard:
    """A Python value the trace depends on: `read(call)` must still be `same` as `expected`.

    `call` is what the compiled function is being called with: `.func` (the function object)
    and `.statics` (the non-numeric objects among the arguments, in flattening order).
    """

    __slots__ = ("read", "expected", "what")

    def __init__(self, read, expected, what):
        self.read, self.expected, self.what = read, expected, what

    def holds(self, call):
        try:
            return same(self.read(call), self.expected)
        except Exception:
            return False


class TraceContext:
    def __init__(self, func=None):
        self.func = func              # the traced function: its closure cells are read per call
        self.guards = []
        self.value_guards = []
        self.attr_inputs = []         # (path, var): numbers read from argument objects
        self.own_cells = set()
        self._kept = []               # keeps ids used as keys below alive for the whole trace
        self._promoted = {}           # id(ndarray) -> Traced, for arrays updated in place
        self.argument_views = set()   # ids of the read-only views of the caller's arrays (copied on write)
        self._attr_shadows = {}       # (id(obj), name) -> (concrete stored, engine value)
        self._arg_objects = {}        # id(obj) -> path from the argument leaves
        self._attr_cache = {}         # (id(obj), name) -> value returned before
        self._guarded = set()

    def keep(self, obj):
        self._kept.append(obj)

    # ------------------------------------------------------------ guards
    def guard(self, var, outcome, where):
        if not isinstance(var, Constant):
            self.guards.append(Guard(var, outcome, where))

    def _value_guard(self, key, read, expected, what):
        if key not in self._guarded:
            self._guarded.add(key)
            self.value_guards.append(ValueGuard(read, expected, what))

    def guard_global(self, namespace, name, value):
        if isinstance(value, types.ModuleType):
            return   # modules are not rebound in practice; their attributes are looked up live
        if self.func is not None and namespace is self.func.__globals__:
            # The traced function's own globals: read those of the function being called, which
            # may be another function with equal code (exec'd twice, or a copy) and other globals.
            read = lambda call: call.func.__globals__[name]  # noqa: E731
        else:
            read = lambda _call: namespace[name]  # noqa: E731
        self._value_guard(("global", id(namespace), name), read, value, f"global {name}")

    def guard_cell(self, cell, value):
        closure = (self.func.__closure__ or ()) if self.func is not None else ()
        index = next((i for i, c in enumerate(closure) if c is cell), None)
        if index is None:   # a cell of a function reached through other guarded values
            read = lambda _call: cell.cell_contents  # noqa: E731
        else:               # the traced function's own closure: read the called function's cell
            read = lambda call: call.func.__closure__[index].cell_contents  # noqa: E731
        self._value_guard(("cell", id(cell)), read, value, "closure variable")

    # ------------------------------------------------------------ arrays updated in place
    def resolve(self, value):
        """The engine value for a concrete object: a plain array updated in place has a shadow."""
        if type(value) is np.ndarray and self._promoted:
            traced = self._promoted.get(id(value))
            if traced is not None and traced.value is value:
                return traced
        return value

    def promote(self, array, var):
        traced = Traced(array, var)
        self._promoted[id(array)] = traced
        self.keep(array)
        return traced

    # ------------------------------------------------------------ argument objects
    def register_argument_object(self, obj, path):
        self._arg_objects[id(obj)] = path
        self.keep(obj)

    def getattr(self, obj, name):
        if is_traced(obj):
            from . import arrays
            return arrays.attribute(self.interp, obj, name)
        shadow = self._attr_shadows.get((id(obj), name))
        if shadow is not None:
            stored, engine_value = shadow
            if getattr(obj, name, None) is stored:
                return engine_value
        path = self._arg_objects.get(id(obj))
        if path is None:
            return self.resolve(getattr(obj, name))
        key = (id(obj), name)
        if key in self._attr_cache:
            return self._attr_cache[key]
        value = getattr(obj, name)
        result = self._argument_attribute(value, path + (name,))
        self._attr_cache[key] = result
        return result

    def _argument_attribute(self, value, path):
        """An attribute of an argument object: numbers become inputs, objects are followed."""
        dt = dtype_of(value)
        read = _path_reader(path)
        what = "attribute " + ".".join(str(p) for p in path[1:])
        if dt is not None and dt.kind in "biuf" and not isinstance(value, bool) and (
                not isinstance(value, np.ndarray) or value.dtype != object):
            var = pt.tensor(name=str(path[-1]), dtype=dt.name, shape=_static_shape(value))
            self.attr_inputs.append((path, var))
            self._value_guard(("type", path), lambda call: _input_signature(read(call)),
                              _input_signature(value), what)
            return Traced(np.array(value, copy=True) if isinstance(value, np.ndarray) else value, var)
        if _is_plain_object(value):
            self.register_argument_object(value, path)
            self._value_guard(("type", path), lambda call: type(read(call)), type(value), what)
            return value
        if isinstance(value, types.MethodType):
            self._value_guard(("method", path), lambda call: read(call).__func__, value.__func__, what)
            return value
        self._value_guard(("value", path), read, value, what)
        return value

    def setattr(self, obj, name, value):
        concrete = unwrap(value)
        setattr(obj, name, concrete)
        if contains_traced(value):
            self._attr_shadows[(id(obj), name)] = (concrete, value)
            self.keep(obj)
        self._attr_cache.pop((id(obj), name), None)


def _is_plain_object(value):
    return (hasattr(value, "__dict__") and not isinstance(value, (types.ModuleType, type, types.FunctionType,
                                                                  types.MethodType, types.BuiltinFunctionType)))


def _static_shape(value):
    return tuple(1 if n == 1 else None for n in np.shape(value))


def _input_signature(value):
    """What a compiled input depends on: dtype and which axes have length 1."""
    dt = dtype_of(value)
    return (dt.name if dt is not None else type(value).__name__, _static_shape(value))


def _path_reader(path):
    root, names = path[0], path[1:]

    def read(call):
        obj = call.bound_self if root == "self" else call.statics[root]
        for name in names:
            obj = getattr(obj, name)
        return obj

    return read


def read_path(call, path):
    return _path_reader(path)(call)


__all__ = ["TraceContext", "Guard", "ValueGuard", "same", "read_path"]
