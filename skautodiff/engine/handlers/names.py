"""Loading and storing names: locals, cells, globals, attributes."""

import types

from . import handles, PY
from .. import arrays
from ..frame import UNBOUND, localsplus_value
from ..outer import NOT_GLOBAL
from ..values import NULL, is_traced


@handles("LOAD_FAST")
def load_fast(interp, frame, ins):
    frame.push(interp.ctx.shadows.resolve(localsplus_value(frame, ins.arg)))


handles("LOAD_FAST_CHECK", since=(3, 12))(load_fast)


@handles("LOAD_FAST_AND_CLEAR", since=(3, 12))
def load_fast_and_clear(interp, frame, ins):
    # Inlined comprehensions save the outer binding of their loop variable; UNBOUND is a value.
    frame.push(frame.locals[ins.arg])
    frame.locals[ins.arg] = UNBOUND


@handles("STORE_FAST")
def store_fast(interp, frame, ins):
    frame.locals[ins.arg] = frame.pop()


@handles("DELETE_FAST")
def delete_fast(interp, frame, ins):
    localsplus_value(frame, ins.arg)
    frame.locals[ins.arg] = UNBOUND


@handles("MAKE_CELL")
def make_cell(interp, frame, ins):
    value = frame.locals[ins.arg]
    cell = types.CellType() if value is UNBOUND else types.CellType(value)
    interp.ctx.shadows.own_cells.add(id(cell))
    interp.ctx.shadows.keep(cell)
    frame.locals[ins.arg] = cell


@handles("COPY_FREE_VARS")
def copy_free_vars(interp, frame, ins):
    closure = frame.func.__closure__ or ()
    n = ins.arg
    frame.locals[len(frame.locals) - n :] = closure[-n:]


@handles("LOAD_CLOSURE", until=(3, 12))
def load_closure(interp, frame, ins):
    frame.push(frame.locals[ins.arg])


@handles("LOAD_DEREF")
def load_deref(interp, frame, ins):
    cell = frame.locals[ins.arg]
    try:
        if id(cell) in interp.ctx.shadows.own_cells:
            value = cell.cell_contents
        else:  # a closure variable from outside: read at call time (outer.py)
            value = interp.ctx.outside.load_cell(cell, ins.argval)
    except ValueError:
        raise NameError(
            f"cannot access free variable '{ins.argval}' where it is not associated with a value"
        ) from None
    frame.push(interp.ctx.shadows.resolve(value))


@handles("STORE_DEREF")
def store_deref(interp, frame, ins):
    cell = frame.locals[ins.arg]
    if id(cell) in interp.ctx.shadows.own_cells:
        cell.cell_contents = frame.pop()
    else:  # `nonlocal x; x = ...` of an enclosing function's variable: a side effect
        interp.ctx.outside.rebind(
            ("cell", id(cell)), frame.pop(), f"the closure variable {ins.argval}"
        )


@handles("DELETE_DEREF")
def delete_deref(interp, frame, ins):
    cell = frame.locals[ins.arg]
    if id(cell) not in interp.ctx.shadows.own_cells:
        raise interp.error(
            f"del of the closure variable '{ins.argval}' of an enclosing function",
            "delete it outside the traced function",
        )
    del cell.cell_contents


def _global(interp, frame, name):
    value = interp.ctx.outside.load_global(frame.globals, name)  # read at call time (outer.py)
    if value is not NOT_GLOBAL:
        return value
    if name in frame.builtins:
        return frame.builtins[name]
    raise NameError(f"name '{name}' is not defined")


@handles("LOAD_GLOBAL")
def load_global(interp, frame, ins):
    value = interp.ctx.shadows.resolve(_global(interp, frame, ins.argval))
    push_null = ins.arg & 1
    if push_null and PY < (3, 13):
        frame.push(NULL)
    frame.push(value)
    if push_null and PY >= (3, 13):
        frame.push(NULL)


@handles("STORE_GLOBAL")
def store_global(interp, frame, ins):  # `global x; x = ...`: a side effect
    interp.ctx.outside.rebind(
        ("global", id(frame.globals), ins.argval), frame.pop(), f"the global {ins.argval}"
    )


def attribute(interp, obj, name):
    """obj.name as the engine holds it: a traced array's attribute, an outside object's (read
    through its reader), or a plain object's with the shadow the trace stored there."""
    if is_traced(obj):
        return arrays.attribute(interp, obj, name)
    outside = interp.ctx.outside
    if outside.is_followed(obj):
        return outside.getattr(obj, name)
    if outside.is_snapshot(obj):
        return outside.snapshot_attribute(obj, name)
    return interp.ctx.shadows.getattr(obj, name)


@handles("LOAD_ATTR")
def load_attr(interp, frame, ins):
    obj = frame.pop()
    value = attribute(interp, obj, ins.argval)
    method = PY >= (3, 12) and ins.arg & 1
    # Methods are pushed already bound, with NULL in the `self` slot: one calling convention.
    if method and PY < (3, 13):
        frame.push(NULL)
    frame.push(value)
    if method and PY >= (3, 13):
        frame.push(NULL)


@handles("LOAD_SUPER_ATTR", since=(3, 12))
def load_super_attr(interp, frame, ins):
    self_ = frame.pop()
    cls = frame.pop()
    frame.pop()  # the global `super`
    value = getattr(super(cls, self_), ins.argval)
    method = ins.arg & 1
    if method and PY < (3, 13):
        frame.push(NULL)
    frame.push(value)
    if method and PY >= (3, 13):
        frame.push(NULL)


@handles("LOAD_METHOD", until=(3, 11))
def load_method(interp, frame, ins):
    obj = frame.pop()
    frame.push(NULL)
    frame.push(attribute(interp, obj, ins.argval))


@handles("STORE_ATTR")
def store_attr(interp, frame, ins):
    obj = frame.pop()
    value = frame.pop()
    if interp.ctx.outside.is_followed(obj):
        interp.ctx.outside.setattr(obj, ins.argval, value)
    else:
        interp.ctx.shadows.setattr(obj, ins.argval, value)


@handles("DELETE_ATTR")
def delete_attr(interp, frame, ins):
    obj = frame.pop()
    if interp.ctx.outside.is_followed(obj):
        raise interp.error(
            f"del of the attribute '{ins.argval}' of an object from outside the function",
            "delete it outside the traced function",
        )
    delattr(obj, ins.argval)


@handles("IMPORT_NAME")
def import_name(interp, frame, ins):
    fromlist = frame.pop()
    level = frame.pop()
    frame.push(__import__(ins.argval, frame.globals, None, fromlist, level))


@handles("IMPORT_FROM")
def import_from(interp, frame, ins):
    module = frame.peek()
    try:
        frame.push(getattr(module, ins.argval))
    except AttributeError:
        raise ImportError(f"cannot import name '{ins.argval}' from '{module.__name__}'") from None
