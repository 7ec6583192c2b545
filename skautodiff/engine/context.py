"""The state of one trace: the guards it depends on, the shadows kept beside plain objects
(shadows.py) and the outside world (outer.py).

The interpreter that runs the trace creates its context and is named in it, so that what the
context records (an error, a side effect) is located at the interpreter's current instruction.
"""

from pytensor.graph.basic import Constant

from .outer import Outside
from .shadows import Shadows


class Guard:
    """A truth test the trace depends on: `var` must evaluate to `outcome` (computed at call time)."""

    __slots__ = ("var", "outcome", "where")

    def __init__(self, var, outcome, where):
        self.var, self.outcome, self.where = var, outcome, where


class TraceContext:
    def __init__(self, func, interp):
        self.func = func  # the traced function: its globals and cells are roots
        self.interp = interp  # the interpreter running the trace: errors are located there
        self.guards = []
        self.value_guards = []
        self.shadows = Shadows()
        self.outside = Outside(self)
        # Code that handles exceptions ran: which branch it took may depend on whether an
        # operation raised, which no guard records (compile.Entry.run traces again on an error).
        self.handles_exceptions = False

    def guard(self, var, outcome, where):
        if not isinstance(var, Constant):
            self.guards.append(Guard(var, outcome, where))


__all__ = ["TraceContext", "Guard"]
