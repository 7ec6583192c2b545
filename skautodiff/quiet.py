"""Warnings ignored for the length of a block, in a way other threads cannot undo or be hurt by.

`warnings.catch_warnings()` saves the whole, process-global filter list and puts it back at the
end: a block running in one thread (tiers' background C compiles) would then wipe out the
filters another thread (the user's code, pytest's per-test `catch_warnings`) set meanwhile, or
leak its own. `ignoring(message)` instead adds one filter entry and afterwards removes that one
entry, leaving every other filter as it finds it. Nested and concurrent blocks for one message
share the entry (a count); an identical filter the user had set before is never removed.
"""

import contextlib
import re
import threading
import warnings

_lock = threading.Lock()
_active = {}  # message -> [blocks inside which it is ignored, whether this module added the filter]


def _entry(message):
    """The filter tuple `warnings.filterwarnings("ignore", message=message)` inserts."""
    return ("ignore", re.compile(message, re.IGNORECASE), Warning, None, 0)


@contextlib.contextmanager
def ignoring(message):
    """Inside the block, warnings whose text starts with `message` (a regular expression, as for
    `warnings.filterwarnings`) are ignored, whatever filters are set around it."""
    entry = _entry(message)
    with _lock:
        state = _active.setdefault(message, [0, False])
        if state[0] == 0 and entry not in warnings.filters:
            warnings.filterwarnings("ignore", message=message)
            state[1] = True
        state[0] += 1
    try:
        yield
    finally:
        with _lock:
            state[0] -= 1
            if state[0] == 0:
                del _active[message]
                if state[1]:
                    _remove(entry)


def _remove(entry):
    with contextlib.suppress(ValueError):  # another thread's catch_warnings may have dropped it
        warnings.filters.remove(entry)
        mutated = getattr(warnings, "_filters_mutated", None)  # resets the filters' cache
        if mutated is not None:
            mutated()
