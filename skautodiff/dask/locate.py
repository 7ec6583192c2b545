"""The user's line that built a node of a traced graph, for error messages.

Traced graphs carry no source locations (tracing skips PyTensor's stack records for speed), so
when a loss is refused the loss is traced once more while every new node records the line the
engine is interpreting; the refused node is then found at the same place in the new graph (a
trace of the same function on the same values builds the same graph). This only runs on the way
to an error message.
"""

import sys
import threading

from pytensor.graph.basic import Apply
from pytensor.graph.traversal import graph_inputs, io_toposort

from ..engine.interpreter import Interpreter

_lock = threading.Lock()


def line_of(retrace, trace, var):
    """'function ("file", line n): source' for var's node, or None when it cannot be told."""
    if var.owner is None or retrace is None:
        return None
    position = _position(trace.outputs, var.owner)
    if position is None:
        return None
    made, thread = {}, threading.get_ident()
    original = Apply.__init__

    def recording(self, *args, **kwargs):
        original(self, *args, **kwargs)
        if threading.get_ident() == thread:
            made[self] = _interpreted_line()

    with _lock:  # patched for this thread's retrace only; other threads' nodes are not recorded
        Apply.__init__ = recording
        try:
            again = retrace()
        except Exception:  # noqa: BLE001 (whatever fails, the message goes out without the line)
            return None
        finally:
            Apply.__init__ = original
    nodes = io_toposort(list(graph_inputs(again.outputs)), list(again.outputs))
    if position >= len(nodes):
        return None
    where = made.get(nodes[position])
    return str(where) if where is not None else None


def _position(outputs, node):
    nodes = io_toposort(list(graph_inputs(outputs)), list(outputs))
    try:
        return nodes.index(node)
    except ValueError:
        return None


_RUN = Interpreter.run.__code__


def _interpreted_line():
    """The location of the instruction the innermost interpreted frame is running."""
    frame = sys._getframe(2)
    while frame is not None:
        if frame.f_code is _RUN:
            engine_frame, ins = frame.f_locals.get("frame"), frame.f_locals.get("ins")
            if engine_frame is not None and ins is not None:
                return engine_frame.location(ins.index)
            return None
        frame = frame.f_back
    return None
