"""The state of one trace: guards, shadows kept beside objects, and the outside world.

The interpreter asks the context about everything that involves identity: truth tests on traced
values (guards), shadows of arrays updated in place, shadows stored on attributes, and, through
`outside` (outer.py), what the function reads from and does to the world outside its arguments.
"""

import numpy as np
from pytensor.graph.basic import Constant

from .outer import Outside, ValueGuard, same
from .values import Traced, contains_traced, is_traced, unwrap


class Guard:
    """A truth test the trace depends on: `var` must evaluate to `outcome` (computed at call time)."""

    __slots__ = ("var", "outcome", "where")

    def __init__(self, var, outcome, where):
        self.var, self.outcome, self.where = var, outcome, where


class TraceContext:
    def __init__(self, func=None):
        self.func = func  # the traced function: its globals and cells are roots
        self.interp = None
        self.guards = []
        self.value_guards = []
        self.own_cells = set()
        self._kept = []  # keeps ids used as keys below alive for the whole trace
        self._promoted = {}  # id(ndarray) -> Traced, for arrays updated in place
        self.argument_views = (
            set()
        )  # ids of the read-only views of the caller's arrays (copied on write)
        self._attr_shadows = {}  # (id(obj), name) -> (concrete stored, engine value)
        self.outside = Outside(self)

    def keep(self, obj):
        self._kept.append(obj)

    # ------------------------------------------------------------ guards
    def guard(self, var, outcome, where):
        if not isinstance(var, Constant):
            self.guards.append(Guard(var, outcome, where))

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

    # ------------------------------------------------------------ attributes
    def getattr(self, obj, name):
        if is_traced(obj):
            from . import arrays

            return arrays.attribute(self.interp, obj, name)
        outside = self.outside
        if outside.is_followed(obj):
            return outside.getattr(obj, name)
        if outside.is_snapshot(obj):
            return outside.snapshot_attribute(obj, name)
        shadow = self._attr_shadows.get((id(obj), name))
        if shadow is not None:
            stored, engine_value = shadow
            if getattr(obj, name, None) is stored:
                return engine_value
        return self.resolve(getattr(obj, name))

    def setattr(self, obj, name, value):
        if self.outside.is_followed(obj):
            return self.outside.setattr(obj, name, value)
        concrete = unwrap(value)
        setattr(obj, name, concrete)
        if contains_traced(value):
            self._attr_shadows[(id(obj), name)] = (concrete, value)
            self.keep(obj)


__all__ = ["TraceContext", "Guard", "ValueGuard", "same"]
