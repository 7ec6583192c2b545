"""The bytecode interpreter: the run loop, exception-table dispatch and calling.

It executes a user function's CPython bytecode instruction by instruction with real values. The
symbolic side (what a call means in PyTensor, guards, inputs) is delegated to `lowering` and to
the trace context `ctx`; this module only knows about frames and control.
"""

import functools
import inspect
import sys

from . import calling
from .context import TraceContext
from .errors import TraceError, user_traceback
from .frame import Frame
from .handlers import HANDLERS
from .locations import enter, leave


@functools.lru_cache(maxsize=4096)
def signature(func):
    """func's own parameters, which its code binds: not those of a function it wraps
    (functools.wraps sets __wrapped__, which inspect.signature follows by default)."""
    return inspect.signature(func, follow_wrapped=False)


class Interpreter:
    """Runs user code for one trace of `func`. `ctx` is the trace's state (guards, shadows,
    the outside world)."""

    def __init__(self, func):
        self.ctx = TraceContext(func, self)
        self.frames = []
        self.current_exc = None  # what sys.exc_info() would say inside interpreted code

    # ------------------------------------------------------------------ frames
    def chain(self):
        return [f.location() for f in self.frames]

    def location(self):
        return self.frames[-1].location() if self.frames else None

    def error(self, message, hint=None):
        """A TraceError located at the current instruction of the innermost frame."""
        return TraceError(message, hint, self.location(), self.chain())

    def call_function(self, func, args, kwargs, bound_self=None):
        """Interpret a user function; returns its result (or a generator for generator code)."""
        frame = Frame(func)
        if frame.info.handles_exceptions:
            self.ctx.handles_exceptions = True
        self._bind(frame, func, args if bound_self is None else (bound_self, *args), kwargs)
        flags = func.__code__.co_flags
        if flags & (
            inspect.CO_COROUTINE | inspect.CO_ASYNC_GENERATOR | inspect.CO_ITERABLE_COROUTINE
        ):
            raise self.error(
                f"async function {func.__qualname__} is not supported",
                "write the loss as a plain function",
            )
        if flags & inspect.CO_GENERATOR:
            return self._generator(frame)
        kind, value = self.run(frame)
        return value

    def _bind(self, frame, func, args, kwargs):
        slots = _parameter_slots(func.__code__)
        for index, value in enumerate(
            bind_arguments(func, args, kwargs, self.ctx.outside.default).values()
        ):
            frame.locals[slots[index]] = value

    def _generator(self, frame):
        """A Python generator driving an interpreted generator frame lazily."""
        sent = None
        while True:
            kind, value = self.run(frame, sent)
            if kind == "return":
                return value
            sent = yield value

    # ------------------------------------------------------------------ the loop
    def run(self, frame, sent=None):
        if frame.started:
            frame.push(sent)  # the value of the `yield` expression we stopped at
        frame.started = True
        instrs = frame.info.instrs
        self.frames.append(frame)
        previous = enter(self)  # nodes built from here on record this frame's lines
        try:
            while True:
                ins = instrs[frame.pc]
                frame.pc += 1
                handler = HANDLERS.get(ins.opname)
                if handler is None:
                    raise self.error(
                        f"unsupported construct: opcode {ins.original} on Python "
                        f"{sys.version_info.major}.{sys.version_info.minor}",
                        "rewrite this line with plain arithmetic, calls, loops and conditionals",
                    )
                try:
                    result = handler(self, frame, ins)
                except TraceError as exc:  # the engine's own error, located here unless deeper
                    exc.located(frame.location(ins.index), self.chain())
                    raise
                except Exception as exc:
                    # The user's exception: its traceback gets this frame's line, as natively (a
                    # re-raise, like CPython's RERAISE, adds none) and loses the engine's frames.
                    exc.__traceback__ = user_traceback(
                        exc.__traceback__,
                        *((frame.info.code, ins.offset) if ins.opname != "RERAISE" else ()),
                    )
                    if not self._dispatch_exception(frame, ins, exc):
                        raise
                    continue
                if result is not None:
                    return result
        finally:
            self.frames.pop()
            leave(previous)

    def _dispatch_exception(self, frame, ins, exc):
        """Jump to the handler the exception table names for `ins`, as CPython does."""
        entry = frame.info.handler_for(int(ins.offset))
        if entry is None:
            return False
        del frame.stack[entry.depth :]
        if entry.lasti:
            frame.push(int(ins.offset))
        frame.push(exc)
        frame.pc = frame.info.index_of(entry.target)
        return True

    def jump(self, frame, target_offset):
        frame.pc = frame.info.index_of(target_offset)

    # ------------------------------------------------------------------ calls
    def call(self, fn, args, kwargs):
        """Call any callable from interpreted code, with engine values as arguments."""
        return calling.call(self, fn, args, kwargs)


def live_defaults(func):
    """{parameter: default} as the function holds them now (a later `f.__defaults__ = ...`
    counts; inspect's signatures, cached here, keep the defaults of when they were made)."""
    code = func.__code__
    names = code.co_varnames[: code.co_argcount]
    defaults = func.__defaults__ or ()
    found = dict(zip(names[len(names) - len(defaults) :], defaults))
    found.update(func.__kwdefaults__ or {})
    return found


def bind_arguments(func, args, kwargs, default=None):
    """{parameter name: value} for a call of func, in signature order, live defaults applied
    (each through `default(func, name, value)` when given)."""
    sig = signature(func)
    try:
        given = sig.bind(*args, **kwargs).arguments
    except TypeError as exc:
        raise TypeError(f"{func.__qualname__}(): {exc}") from None
    defaults = live_defaults(func)
    arguments = {}
    for name, p in sig.parameters.items():
        if name in given:
            arguments[name] = given[name]
        elif name in defaults:
            arguments[name] = (
                defaults[name] if default is None else default(func, name, defaults[name])
            )
        elif p.kind in (p.VAR_POSITIONAL, p.VAR_KEYWORD):
            arguments[name] = () if p.kind is p.VAR_POSITIONAL else {}
        else:
            raise TypeError(f"{func.__qualname__}(): missing a required argument: '{name}'")
    return arguments


def _parameter_slots(code):
    """Local slot of each parameter, in signature order (positional, *args, keyword-only, **kw).

    By position, not name: signature() renames comprehensions' `.0` to `implicit0`.
    """
    n, k = code.co_argcount, code.co_kwonlyargcount
    slots = list(range(n))
    extra = n + k
    if code.co_flags & inspect.CO_VARARGS:
        slots.append(extra)
        extra += 1
    slots.extend(range(n, n + k))
    if code.co_flags & inspect.CO_VARKEYWORDS:
        slots.append(extra)
    return slots


__all__ = ["Interpreter", "bind_arguments"]
