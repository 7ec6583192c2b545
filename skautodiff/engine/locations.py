"""The user's line that built each node of a traced graph, recorded as the engine builds it.

Every symbolic value the interpreted code sees is wrapped in a `Traced` (values.py); when one is
made, the nodes behind it that carry no location yet were built by the instruction now running,
so they get its location in their tag (`node.tag.user_location`: the code and instruction index,
made a Location by `location_of`). Later analyses of
the graph (the dask split naming the line that mixes rows) then look the line up.

The running interpreter is per thread (threading.local): traces in other threads record their own
lines. Nodes built outside interpreted code (the outputs' casts, guards) stay without one.
"""

import threading

from .errors import Location

_running = threading.local()


class _Where:
    """An instruction of a code object: a Location when looked up (or pickled: a compiled
    function's graph carries its tags, and code objects do not pickle)."""

    __slots__ = ("info", "index")

    def __init__(self, info, index):
        self.info, self.index = info, index

    def location(self):
        return self.info.location(self.index)

    def __reduce__(self):
        where = self.location()
        return Location, (where.function, where.filename, where.lineno)


def enter(interp):
    """From now on (in this thread) `interp`'s current instruction builds the nodes; returns
    the interpreter that did before, for `leave`."""
    previous = getattr(_running, "interp", None)
    _running.interp = interp
    return previous


def leave(previous):
    _running.interp = previous


def record(var):
    """Tag the nodes behind var that have no location with the current instruction's."""
    node = getattr(var, "owner", None)
    if node is None or "user_location" in node.tag.__dict__:
        return
    interp = getattr(_running, "interp", None)
    if interp is None or not interp.frames:
        return
    frame = interp.frames[-1]
    where = _Where(frame.info, frame.pc - 1)  # a Location only when looked up: tracing stays fast
    todo = [node]
    while todo:
        node = todo.pop()
        tag = node.tag.__dict__
        if "user_location" in tag:
            continue
        tag["user_location"] = where
        todo.extend(i.owner for i in node.inputs if i.owner is not None)


def location_of(var):
    """The Location (function, file, line) recorded for the node that made var, or None."""
    node = getattr(var, "owner", None)
    where = None if node is None else node.tag.__dict__.get("user_location")
    return where.location() if isinstance(where, _Where) else where
