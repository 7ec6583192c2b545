"""Arithmetic, comparison, identity, membership and truth."""

import numpy as np

from . import handles, PY
from ... import symbolic
from .. import lowering
from ..values import is_traced


@handles("BINARY_OP")
def binary_op(interp, frame, ins):
    b = frame.pop()
    a = frame.pop()
    frame.push(lowering.binary(interp, ins.argrepr, a, b))


_UNARY = {"UNARY_NEGATIVE": "-", "UNARY_POSITIVE": "+", "UNARY_INVERT": "~"}


@handles("UNARY_NEGATIVE", "UNARY_INVERT")
def unary_op(interp, frame, ins):
    frame.push(lowering.unary(interp, _UNARY[ins.opname], frame.pop()))


@handles("UNARY_POSITIVE", until=(3, 11))
def unary_positive(interp, frame, ins):
    frame.push(lowering.unary(interp, "+", frame.pop()))


@handles("UNARY_NOT")
def unary_not(interp, frame, ins):
    frame.push(not lowering.truth(interp, frame.pop()))


@handles("TO_BOOL", since=(3, 13))
def to_bool(interp, frame, ins):
    frame.push(lowering.truth(interp, frame.pop()))


@handles("COMPARE_OP")
def compare_op(interp, frame, ins):
    b = frame.pop()
    a = frame.pop()
    result = lowering.compare(interp, ins.argval, a, b)
    if PY >= (3, 13) and ins.arg & 16:  # 3.13 folds the following bool() into COMPARE_OP
        result = lowering.truth(interp, result)
    frame.push(result)


@handles("IS_OP")
def is_op(interp, frame, ins):
    b = frame.pop()
    a = frame.pop()
    # Identity of the concrete objects: a Traced pair stands for its value.
    same = (a.value if is_traced(a) else a) is (b.value if is_traced(b) else b) or a is b
    frame.push(same != bool(ins.arg))


@handles("CONTAINS_OP")
def contains_op(interp, frame, ins):
    container = frame.pop()
    item = frame.pop()
    if is_traced(container):
        # `x in array` is (array == x).any() in numpy.
        eq = lowering.compare(interp, "==", container, item)
        result = lowering.truth(
            interp, lowering.apply_rule(interp, symbolic.lookup(np.any), np.any, (eq,), {}, "in")
        )
    else:
        interp.ctx.outside.observe(container)
        result = item in container  # Python containers: membership by key or identity
    frame.push(result != bool(ins.arg))
