"""try / except / finally, with, raise and assert, driven by the exception table.

The interpreter's loop jumps to handlers (interpreter._dispatch_exception); these opcodes are
what the handler blocks execute. Engine errors (TraceError) never reach them.
"""

from . import handles
from ..values import unwrap


@handles("PUSH_EXC_INFO")
def push_exc_info(interp, frame, ins):
    exc = frame.pop()
    frame.push(interp.current_exc)
    interp.current_exc = exc
    frame.push(exc)


@handles("POP_EXCEPT")
def pop_except(interp, frame, ins):
    interp.current_exc = frame.pop()


@handles("CHECK_EXC_MATCH")
def check_exc_match(interp, frame, ins):
    kind = frame.pop()
    frame.push(isinstance(frame.peek(), kind))


@handles("RERAISE")
def reraise(interp, frame, ins):
    exc = frame.pop()
    if ins.arg:
        frame.pop()  # the saved offset CPython would restore into f_lasti
    raise exc


@handles("RAISE_VARARGS")
def raise_varargs(interp, frame, ins):
    if ins.arg == 0:
        if interp.current_exc is None:
            raise RuntimeError("No active exception to reraise")
        raise interp.current_exc
    cause = frame.pop() if ins.arg == 2 else None
    exc = frame.pop()
    exc = unwrap(exc)
    if ins.arg == 2:
        raise exc from unwrap(cause)
    raise exc


@handles("LOAD_ASSERTION_ERROR")
def load_assertion_error(interp, frame, ins):
    frame.push(AssertionError)


@handles("BEFORE_WITH")
def before_with(interp, frame, ins):
    manager = frame.pop()
    kind = type(manager)
    exit_ = kind.__exit__.__get__(manager, kind)
    frame.push(exit_)
    frame.push(interp.call(kind.__enter__.__get__(manager, kind), [], {}))


@handles("WITH_EXCEPT_START")
def with_except_start(interp, frame, ins):
    exc = frame.peek(1)
    exit_ = frame.peek(4)
    frame.push(interp.call(exit_, [type(exc), exc, exc.__traceback__], {}))
