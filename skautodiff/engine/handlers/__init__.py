"""Opcode handlers, one module per family, registered by name with a version gate.

A handler is `handler(interp, frame, instr)`; it returns None to continue, or a (kind, value)
pair ("return" / "yield") to leave the frame.
"""

import dis
import sys

from ..instructions import FOLDED_NAMES

HANDLERS = {}
PY = sys.version_info[:2]


def handles(*names, since=(3, 11), until=(3, 13)):
    """Register a handler for the opcodes `names` on Python versions since..until (inclusive)."""

    def register(fn):
        if since <= PY <= until:
            for name in names:
                folded = name in FOLDED_NAMES  # normalised names (instructions.py)
                assert folded or name in dis.opmap, f"{name} is not an opcode on Python {PY}"
                HANDLERS[name] = fn
        return fn

    return register


def _load_all():
    # imported for their registrations (each module fills HANDLERS through `handles`)
    from . import stack, names, operators, containers, control, calls, exceptions  # noqa: F401


_load_all()
