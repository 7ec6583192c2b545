"""Stack shuffling and no-ops."""

from . import handles
from ..values import NULL


@handles("NOP", "RESUME", "EXTENDED_ARG")
def nop(interp, frame, ins):
    pass


handles("PRECALL", until=(3, 11))(nop)


@handles("POP_TOP")
def pop_top(interp, frame, ins):
    frame.pop()


@handles("PUSH_NULL")
def push_null(interp, frame, ins):
    frame.push(NULL)


@handles("COPY")
def copy(interp, frame, ins):
    frame.push(frame.peek(ins.arg))


@handles("SWAP")
def swap(interp, frame, ins):
    s = frame.stack
    s[-1], s[-ins.arg] = s[-ins.arg], s[-1]


@handles("LOAD_CONST")
def load_const(interp, frame, ins):
    frame.push(ins.argval)


@handles("RETURN_GENERATOR")
def return_generator(interp, frame, ins):
    # The generator object already exists (the engine made it at call time); CPython's
    # following POP_TOP discards what this pushes.
    frame.push(None)
