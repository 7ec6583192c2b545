"""Errors the engine raises about the user's code.

A `TraceError` says what construct failed, where (file, line, source text, and the chain of
interpreted calls), on which Python, and a hint. The interpreter never hands it to the user's
own `except` blocks: an engine failure is not an exception of the user's program.
"""
import linecache
import sys


class TraceError(Exception):
    """The engine could not trace the user's function (unsupported construct or function)."""

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
        return f'{self.function} ("{self.filename}", line {self.lineno})' + (f": {text}" if text else "")
