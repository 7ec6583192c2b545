"""Jumps, loops, returns and yields. Every conditional jump goes through lowering.truth."""

from . import handles, PY
from .. import lowering
from ..values import is_traced


@handles("JUMP")
def jump(interp, frame, ins):
    interp.jump(frame, ins.argval)


@handles("POP_JUMP_IF_TRUE")
def pop_jump_if_true(interp, frame, ins):
    if lowering.truth(interp, frame.pop()):
        interp.jump(frame, ins.argval)


@handles("POP_JUMP_IF_FALSE")
def pop_jump_if_false(interp, frame, ins):
    if not lowering.truth(interp, frame.pop()):
        interp.jump(frame, ins.argval)


@handles("POP_JUMP_IF_NONE")
def pop_jump_if_none(interp, frame, ins):
    if frame.pop() is None:
        interp.jump(frame, ins.argval)


@handles("POP_JUMP_IF_NOT_NONE")
def pop_jump_if_not_none(interp, frame, ins):
    if frame.pop() is not None:
        interp.jump(frame, ins.argval)


@handles("JUMP_IF_TRUE_OR_POP", until=(3, 11))
def jump_if_true_or_pop(interp, frame, ins):
    if lowering.truth(interp, frame.peek()):
        interp.jump(frame, ins.argval)
    else:
        frame.pop()


@handles("JUMP_IF_FALSE_OR_POP", until=(3, 11))
def jump_if_false_or_pop(interp, frame, ins):
    if not lowering.truth(interp, frame.peek()):
        interp.jump(frame, ins.argval)
    else:
        frame.pop()


@handles("GET_ITER")
def get_iter(interp, frame, ins):
    value = frame.pop()
    if not is_traced(value):
        interp.ctx.outside.observe(value, deep=False)
    frame.push(iter(lowering.iterate(interp, value)) if is_traced(value) else iter(value))


@handles("FOR_ITER")
def for_iter(interp, frame, ins):
    try:
        frame.push(next(frame.peek()))
        return
    except StopIteration:
        pass
    # Exhausted. 3.11 pops the iterator and jumps to the target; 3.12 does the same but also
    # skips the END_FOR at the target; 3.13 skips END_FOR and leaves the iterator for POP_TOP.
    target = frame.info.index_of(ins.argval)
    if frame.info.instrs[target].opname == "END_FOR":
        target += 1
    if PY < (3, 13):
        frame.pop()
    frame.pc = target


@handles("RETURN_VALUE")
def return_value(interp, frame, ins):
    return ("return", frame.pop())


@handles("RETURN_CONST", since=(3, 12))
def return_const(interp, frame, ins):
    return ("return", ins.argval)


@handles("YIELD_VALUE")
def yield_value(interp, frame, ins):
    return ("yield", frame.pop())
