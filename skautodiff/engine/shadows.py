"""Shadows the engine keeps beside plain objects, by identity, for one trace.

An array the traced code updates in place (`acc[i] = ...`, `np.add.at(acc, ...)`) keeps its concrete
value in the array itself and its PyTensor variable here; so does a traced value stored on an
attribute of a plain object (`self.cache = w * 2`), which the object itself can hold only
unwrapped. Every object whose id is a key stays alive (`keep`) for the whole trace, so an id is
never reused by another object meanwhile.
"""

import numpy as np

from .values import Traced, contains_traced, unwrap


class Shadows:
    def __init__(self):
        self._kept = []  # keeps ids used as keys below alive for the whole trace
        self._promoted = {}  # id(ndarray) -> Traced, for arrays updated in place
        self.argument_views = (
            set()
        )  # ids of the read-only views of the caller's arrays (copied on write)
        self.own_cells = set()  # ids of the closure cells the traced code made itself
        self._attributes = {}  # (id(obj), name) -> (concrete stored, engine value)

    def keep(self, obj):
        self._kept.append(obj)

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

    # ------------------------------------------------------------ attributes of plain objects
    def getattr(self, obj, name):
        shadow = self._attributes.get((id(obj), name))
        if shadow is not None:
            stored, engine_value = shadow
            if getattr(obj, name, None) is stored:
                return engine_value
        return self.resolve(getattr(obj, name))

    def holds_traced(self, obj, _depth=0):
        """Whether a plain object holds, on an attribute (or on an object it holds), a value that
        depends on the inputs: it cannot carry that value out of a trace."""
        if any(key[0] == id(obj) for key in self._attributes):
            return True
        attributes = getattr(obj, "__dict__", None)
        return (
            _depth < 8
            and isinstance(attributes, dict)
            and any(self.holds_traced(v, _depth + 1) for v in list(attributes.values()))
        )

    def setattr(self, obj, name, value):
        concrete = unwrap(value)
        setattr(obj, name, concrete)
        if contains_traced(value):
            self._attributes[(id(obj), name)] = (concrete, value)
            self.keep(obj)


__all__ = ["Shadows"]
