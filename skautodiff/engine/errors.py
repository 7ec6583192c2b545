"""Errors the engine raises about the user's code, and the user's own errors.

A `TraceError` says what construct failed, where (file, line, source text, and the chain of
interpreted calls), on which Python, and a hint. The interpreter never hands it to the user's
own `except` blocks: an engine failure is not an exception of the user's program.

An exception of the user's program (raise, assert, a numpy error at the user's line) keeps its
type and message; `user_traceback` gives it the traceback a native run would have: one entry per
interpreted frame at the user's file, line and columns, and none of the engine's own frames.
"""

import ast
import functools
import linecache
import os
import sys
import types


class TraceError(Exception):
    """The engine could not trace the user's function (unsupported construct or function).

    The message names what was refused and where (file, line, the call chain), and often a hint
    with a supported alternative.

    Attributes
    ----------
    message : str
        What was refused.
    hint : str or None
        A supported alternative, when one is known.
    filename, lineno, source
        Where in the user's code, when known.
    """

    def __init__(self, message, hint=None, where=None, chain=()):
        self.message, self.hint, self.where, self.chain = message, hint, where, list(chain)
        super().__init__(self._render())

    @property
    def filename(self):
        return self.where.filename if self.where else None

    @property
    def lineno(self):
        return self.where.lineno if self.where else None

    @property
    def source(self):
        return self.where.source if self.where else None

    def located(self, where, chain):
        """This error with its location filled in (the innermost location wins)."""
        if self.where is None:
            self.where, self.chain = where, list(chain)
            self.args = (self._render(),)
        return self

    def _render(self):
        lines = [self.message]
        if self.where is not None:
            lines.append(f"  at {self.where}")
        if len(self.chain) > 1:
            lines.append("  call chain (outermost first):")
            lines.extend(f"    {loc}" for loc in self.chain)
        lines.append(f"  Python {sys.version.split()[0]}")
        if self.hint:
            lines.append(f"  hint: {self.hint}")
        return "\n".join(lines)

    def __str__(self):
        return self._render()


_ENGINE_DIR = os.path.dirname(os.path.abspath(__file__)) + os.sep


def user_traceback(tb, code=None, offset=None):
    """`tb` without the engine's frames, behind an entry for instruction `offset` of the user's
    `code` (as CPython adds one for each frame an exception passes through)."""
    entries = []
    while tb is not None:
        if not tb.tb_frame.f_code.co_filename.startswith(_ENGINE_DIR):
            entries.append((tb.tb_frame, tb.tb_lasti, tb.tb_lineno))
        tb = tb.tb_next
    if code is not None:
        # (code objects compare equal across files: the key names the file and function too)
        frame, lineno = _user_frame(code, code.co_filename, code.co_qualname, int(offset))
        entries.insert(0, (frame, frame.f_lasti, lineno))
    result = None
    for frame, lasti, lineno in reversed(entries):
        result = types.TracebackType(result, frame, lasti, lineno)
    return result


@functools.lru_cache(maxsize=4096)
def _user_frame(code, filename, qualname, offset):
    """(finished frame, line) whose code has `code`'s file and name and, at every instruction, the
    positions of the user's instruction at `offset`: traceback shows it as a native frame (source
    line and carets). A frame of the user's own code cannot be made without running that code."""
    lineno, end_lineno, col, end_col = _positions(code, offset)
    if col is None or end_col is None:  # no columns known: span the whole line (no carets)
        col, end_col = 0, len(linecache.getline(code.co_filename, lineno).rstrip("\n"))
    tree = ast.parse("def f():\n    return _getframe()\n")
    for node in ast.walk(tree):
        if "lineno" in node._attributes:
            node.lineno, node.end_lineno, node.col_offset, node.end_col_offset = (
                lineno,
                end_lineno,
                col,
                end_col,
            )
    module = compile(tree, filename, "exec", dont_inherit=True)
    body = next(c for c in module.co_consts if isinstance(c, types.CodeType))
    body = body.replace(co_name=code.co_name, co_qualname=qualname)
    return types.FunctionType(body, {"_getframe": sys._getframe})(), lineno


def _positions(code, offset):
    """(lineno, end_lineno, col, end_col) of the instruction at `offset`; columns may be None."""
    positions = list(code.co_positions())
    lineno, end_lineno, col, end_col = (
        positions[offset // 2] if offset // 2 < len(positions) else (None,) * 4
    )
    if lineno is None:  # an instruction without a line of its own: the last line before it
        lineno = next(
            (p[0] for p in reversed(positions[: offset // 2]) if p[0] is not None),
            code.co_firstlineno,
        )
        return lineno, lineno, None, None
    if (
        end_lineno is None
        or end_lineno < lineno
        or (end_lineno == lineno and (end_col or 0) < (col or 0))
    ):
        return lineno, lineno, None, None
    return lineno, end_lineno, col, end_col


class Location:
    """A point in the user's source: function, file, line and the line's text."""

    __slots__ = ("function", "filename", "lineno")

    def __init__(self, function, filename, lineno):
        self.function, self.filename, self.lineno = function, filename, lineno

    @property
    def source(self):
        return linecache.getline(self.filename, self.lineno).strip() if self.lineno else ""

    def __str__(self):
        text = self.source
        return f'{self.function} ("{self.filename}", line {self.lineno})' + (
            f": {text}" if text else ""
        )
