"""One activation of an interpreted function: its localsplus slots, value stack and position."""

from .instructions import code_info


class _Unbound:
    __slots__ = ()

    def __repr__(self):
        return "<unbound>"


UNBOUND = _Unbound()


class Frame:
    __slots__ = (
        "func",
        "info",
        "locals",
        "stack",
        "pc",
        "globals",
        "builtins",
        "kw_names",
        "started",
        "caller_location",
    )

    def __init__(self, func, global_ns=None):
        code = func.__code__
        self.func = func
        self.info = code_info(code)
        self.locals = [UNBOUND] * len(self.info.varnames)
        self.stack = []
        self.pc = 0
        self.globals = func.__globals__ if global_ns is None else global_ns
        b = self.globals.get("__builtins__", __builtins__)
        self.builtins = b if isinstance(b, dict) else b.__dict__
        self.kw_names = ()
        self.started = False

    def location(self, index=None):
        return self.info.location(self.pc - 1 if index is None else index)

    # The stack, spelled as handlers use it.
    def push(self, value):
        self.stack.append(value)

    def pop(self):
        return self.stack.pop()

    def popn(self, n):
        if n == 0:
            return []
        items = self.stack[-n:]
        del self.stack[-n:]
        return items

    def peek(self, depth=1):
        return self.stack[-depth]


def localsplus_value(frame, index):
    """A local's value; UnboundLocalError (the user's error) when it has none."""
    value = frame.locals[index]
    if value is UNBOUND:
        name = frame.info.varnames[index]
        raise UnboundLocalError(
            f"cannot access local variable '{name}' where it is not associated with a value"
        )
    return value
