"""Calls and function creation.

CPython puts NULL beside the callable: before it on 3.11/3.12, after it on 3.13; a method load
puts (method, self). The engine always pushes methods already bound, so the pair below the
arguments is one of (NULL, f), (f, NULL) or (f, self-argument).
"""

import types

from . import handles, PY
from .. import lowering
from ..values import NULL, is_traced


def _callable_and_args(frame, argc):
    args = frame.popn(argc)
    second = frame.pop()
    first = frame.pop()
    if first is NULL:
        return second, args
    if second is NULL:
        return first, args
    return first, [second, *args]


def _split_kwargs(args, kw_names):
    if not kw_names:
        return args, {}
    n = len(kw_names)
    return args[:-n], dict(zip(kw_names, args[-n:]))


@handles("KW_NAMES", until=(3, 12))
def kw_names(interp, frame, ins):
    frame.kw_names = ins.argval


@handles("CALL")
def call(interp, frame, ins):
    fn, args = _callable_and_args(frame, ins.arg)
    args, kwargs = _split_kwargs(args, frame.kw_names)
    frame.kw_names = ()
    frame.push(interp.call(fn, args, kwargs))


@handles("CALL_KW", since=(3, 13))
def call_kw(interp, frame, ins):
    names = frame.pop()
    fn, args = _callable_and_args(frame, ins.arg)
    args, kwargs = _split_kwargs(args, names)
    frame.push(interp.call(fn, args, kwargs))


@handles("CALL_FUNCTION_EX")
def call_function_ex(interp, frame, ins):
    kwargs = frame.pop() if ins.arg & 1 else {}
    star = frame.pop()
    fn, bound = _callable_and_args(frame, 0)
    interp.ctx.outside.observe(star, deep=False)
    interp.ctx.outside.observe(kwargs, deep=False)
    star = lowering.iterate(interp, star) if is_traced(star) else star
    frame.push(interp.call(fn, [*bound, *star], dict(kwargs)))


def _function(interp, frame, code, defaults=None, kwdefaults=None, annotations=None, closure=None):
    fn = types.FunctionType(code, frame.globals, code.co_name, defaults, closure)
    fn.__qualname__ = code.co_qualname
    fn.__kwdefaults__ = kwdefaults
    if annotations:
        fn.__annotations__ = (
            dict(annotations)
            if isinstance(annotations, dict)
            else dict(zip(annotations[::2], annotations[1::2]))
        )
    interp.ctx.shadows.keep(fn)
    return fn


@handles("MAKE_FUNCTION")
def make_function(interp, frame, ins):
    code = frame.pop()
    if PY >= (3, 13):
        # The closure arrives in SET_FUNCTION_ATTRIBUTE; until then empty cells stand in.
        placeholder = tuple(types.CellType() for _ in code.co_freevars) or None
        frame.push(_function(interp, frame, code, closure=placeholder))
        return
    flags = ins.arg
    closure = frame.pop() if flags & 0x08 else None
    annotations = frame.pop() if flags & 0x04 else None
    kwdefaults = frame.pop() if flags & 0x02 else None
    defaults = frame.pop() if flags & 0x01 else None
    frame.push(_function(interp, frame, code, defaults, kwdefaults, annotations, closure))


@handles("SET_FUNCTION_ATTRIBUTE", since=(3, 13))
def set_function_attribute(interp, frame, ins):
    fn = frame.pop()
    value = frame.pop()
    parts = {
        "defaults": fn.__defaults__,
        "kwdefaults": fn.__kwdefaults__,
        "annotations": fn.__annotations__ or None,
        "closure": fn.__closure__,
    }
    parts[{1: "defaults", 2: "kwdefaults", 4: "annotations", 8: "closure"}[ins.arg]] = value
    # A function's closure cannot be assigned after creation: rebuild it with every part known.
    frame.push(_function(interp, frame, fn.__code__, **parts))
