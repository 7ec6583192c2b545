"""The user's line that built a node of a traced graph, for error messages.

The engine records, on every node it builds for the user's code, the location of the instruction
that built it (engine/locations.py); this looks it up. Nodes built outside the user's code (the
outputs' casts) have none: their first input that has one stands for them.
"""

from ..engine.locations import location_of


def line_of(var):
    """'function ("file", line n): source' for var's node, or None when it cannot be told."""
    seen, todo = set(), [var]
    while todo:  # breadth first: the nearest recorded node
        current = todo.pop(0)
        where = location_of(current)
        if where is not None:
            return str(where)
        node = current.owner
        if node is not None and node not in seen:
            seen.add(node)
            todo.extend(node.inputs)
    return None
