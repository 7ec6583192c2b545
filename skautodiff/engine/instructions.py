"""Bytecode, normalised once per code object so handlers see one shape on 3.11, 3.12 and 3.13.

Built on `dis.get_instructions`, which hides CACHE entries, folds EXTENDED_ARG, resolves jump
targets to absolute offsets and spells COMPARE_OP's operator. What is left to absorb:
- alias spellings (3.11's POP_JUMP_FORWARD_IF_*, JUMP_BACKWARD_NO_INTERRUPT, ...) fold to one name;
- 3.11's KW_NAMES has no resolved argval: read co_consts[arg];
- 3.13's superinstructions LOAD_FAST_LOAD_FAST & co. split in two.
"""

import dis
import sys
from functools import lru_cache

from .errors import Location

PY = sys.version_info[:2]

_ALIASES = {
    "POP_JUMP_FORWARD_IF_FALSE": "POP_JUMP_IF_FALSE",
    "POP_JUMP_BACKWARD_IF_FALSE": "POP_JUMP_IF_FALSE",
    "POP_JUMP_FORWARD_IF_TRUE": "POP_JUMP_IF_TRUE",
    "POP_JUMP_BACKWARD_IF_TRUE": "POP_JUMP_IF_TRUE",
    "POP_JUMP_FORWARD_IF_NONE": "POP_JUMP_IF_NONE",
    "POP_JUMP_BACKWARD_IF_NONE": "POP_JUMP_IF_NONE",
    "POP_JUMP_FORWARD_IF_NOT_NONE": "POP_JUMP_IF_NOT_NONE",
    "POP_JUMP_BACKWARD_IF_NOT_NONE": "POP_JUMP_IF_NOT_NONE",
    "JUMP_BACKWARD_NO_INTERRUPT": "JUMP",
    "JUMP_BACKWARD": "JUMP",
    "JUMP_FORWARD": "JUMP",
    "JUMP_NO_INTERRUPT": "JUMP",
}

FOLDED_NAMES = set(_ALIASES.values())

# 3.13 superinstructions: name -> the two instructions they stand for.
_SPLIT = {
    "LOAD_FAST_LOAD_FAST": ("LOAD_FAST", "LOAD_FAST"),
    "STORE_FAST_LOAD_FAST": ("STORE_FAST", "LOAD_FAST"),
    "STORE_FAST_STORE_FAST": ("STORE_FAST", "STORE_FAST"),
}


class Instr:
    """One normalised instruction. `opname` is the folded name; `original` what dis printed."""

    __slots__ = ("opname", "original", "arg", "argval", "argrepr", "offset", "lineno", "index")

    def __init__(self, opname, original, arg, argval, argrepr, offset, lineno):
        self.opname, self.original, self.arg, self.argval = opname, original, arg, argval
        self.argrepr, self.offset, self.lineno, self.index = argrepr, offset, lineno, -1

    def __repr__(self):
        return f"{self.offset} {self.opname} {self.argrepr}"


class Code:
    """A code object's normalised instructions, the offset -> index map and its exception table."""

    def __init__(self, code):
        self.code = code
        self.instrs = _normalise(code)
        self.by_offset = {}
        for i, ins in enumerate(self.instrs):
            ins.index = i
            self.by_offset.setdefault(ins.offset, i)
        self.exception_table = _exception_entries(code)
        # An except, finally or with block: an exception raised inside may be handled here.
        self.handles_exceptions = any(ins.opname == "PUSH_EXC_INFO" for ins in self.instrs)
        self.varnames = _localsplus_names(code)

    def index_of(self, offset):
        return self.by_offset[offset]

    def location(self, index):
        lineno = None
        for ins in reversed(self.instrs[: index + 1]):
            if ins.lineno is not None:
                lineno = ins.lineno
                break
        return Location(
            self.code.co_qualname, self.code.co_filename, lineno or self.code.co_firstlineno
        )

    def handler_for(self, offset):
        """The innermost exception-table entry covering `offset`, or None."""
        for entry in self.exception_table:
            if entry.start <= offset < entry.end:
                return entry
        return None


def code_info(code):
    # Code objects compare equal across files (same text and lines): the key names the file and
    # function too, or errors would point at the other file.
    return _code_info(code, code.co_filename, code.co_qualname)


@lru_cache(maxsize=None)
def _code_info(code, filename, qualname):
    return Code(code)


def _exception_entries(code):
    # dis.Bytecode.exception_entries is undocumented; this is the only place that touches it.
    return list(dis.Bytecode(code).exception_entries)


def _localsplus_names(code):
    """Names of the 'localsplus' slots LOAD_FAST/LOAD_DEREF index into."""
    cells = [c for c in code.co_cellvars if c not in code.co_varnames]
    return list(code.co_varnames) + cells + list(code.co_freevars)


def _normalise(code):
    out = []
    for ins in dis.get_instructions(code):
        lineno = ins.positions.lineno if ins.positions else None
        name = _ALIASES.get(ins.opname, ins.opname)
        argval = ins.argval
        if name == "KW_NAMES" and PY == (3, 11):
            argval = code.co_consts[ins.arg]
        if name in _SPLIT:
            first, second = _SPLIT[name]
            names = _localsplus_names(code)
            a, b = ins.arg >> 4, ins.arg & 15
            out.append(Instr(first, ins.opname, a, names[a], names[a], ins.offset, lineno))
            # The second half gets a fractional offset so both stay addressable and ordered.
            out.append(Instr(second, ins.opname, b, names[b], names[b], ins.offset + 0.5, lineno))
            continue
        out.append(Instr(name, ins.opname, ins.arg, argval, ins.argrepr, ins.offset, lineno))
    return out
