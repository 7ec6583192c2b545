"""Building, unpacking and subscripting containers; strings and f-strings."""

from . import handles
from .. import lowering
from ..values import is_traced, unwrap


@handles("BUILD_TUPLE")
def build_tuple(interp, frame, ins):
    frame.push(tuple(frame.popn(ins.arg)))


@handles("BUILD_LIST")
def build_list(interp, frame, ins):
    frame.push(frame.popn(ins.arg))


@handles("BUILD_SET")
def build_set(interp, frame, ins):
    frame.push(set(frame.popn(ins.arg)))


@handles("BUILD_MAP")
def build_map(interp, frame, ins):
    items = frame.popn(2 * ins.arg)
    frame.push(dict(zip(items[::2], items[1::2])))


@handles("BUILD_CONST_KEY_MAP")
def build_const_key_map(interp, frame, ins):
    keys = frame.pop()
    frame.push(dict(zip(keys, frame.popn(ins.arg))))


@handles("BUILD_STRING")
def build_string(interp, frame, ins):
    frame.push("".join(frame.popn(ins.arg)))


@handles("BUILD_SLICE")
def build_slice(interp, frame, ins):
    frame.push(slice(*frame.popn(ins.arg)))


@handles("LIST_APPEND")
def list_append(interp, frame, ins):
    item = frame.pop()
    frame.peek(ins.arg).append(item)


@handles("SET_ADD")
def set_add(interp, frame, ins):
    item = frame.pop()
    frame.peek(ins.arg).add(item)


@handles("MAP_ADD")
def map_add(interp, frame, ins):
    value = frame.pop()
    key = frame.pop()
    frame.peek(ins.arg)[key] = value


def _items(interp, iterable):
    """The items of an iterable as the engine sees them (traced arrays by row, guarded)."""
    if is_traced(iterable):
        return lowering.iterate(interp, iterable)
    interp.ctx.outside.observe(iterable, deep=False)
    return iterable


@handles("LIST_EXTEND")
def list_extend(interp, frame, ins):
    items = frame.pop()
    frame.peek(ins.arg).extend(_items(interp, items))


@handles("SET_UPDATE")
def set_update(interp, frame, ins):
    items = frame.pop()
    frame.peek(ins.arg).update(_items(interp, items))


@handles("DICT_UPDATE")
def dict_update(interp, frame, ins):
    items = frame.pop()
    interp.ctx.outside.observe(items, deep=False)
    frame.peek(ins.arg).update(items)


@handles("DICT_MERGE")
def dict_merge(interp, frame, ins):
    items = frame.pop()
    interp.ctx.outside.observe(items, deep=False)
    target = frame.peek(ins.arg)
    for key in items:
        if key in target:
            raise TypeError(f"got multiple values for keyword argument '{key}'")
    target.update(items)


@handles("LIST_TO_TUPLE", until=(3, 11))
def list_to_tuple(interp, frame, ins):
    frame.push(tuple(frame.pop()))


@handles("UNPACK_SEQUENCE")
def unpack_sequence(interp, frame, ins):
    items = list(_items(interp, frame.pop()))
    if len(items) != ins.arg:
        raise ValueError(f"expected {ins.arg} values to unpack, got {len(items)}")
    frame.stack.extend(reversed(items))


@handles("UNPACK_EX")
def unpack_ex(interp, frame, ins):
    before, after = ins.arg & 0xFF, ins.arg >> 8
    items = list(_items(interp, frame.pop()))
    if len(items) < before + after:
        raise ValueError(
            f"not enough values to unpack (expected at least {before + after}, got {len(items)})"
        )
    rest = items[before : len(items) - after]
    frame.stack.extend(reversed(items[:before] + [rest] + items[len(items) - after :]))


@handles("BINARY_SUBSCR")
def binary_subscr(interp, frame, ins):
    index = frame.pop()
    container = frame.pop()
    frame.push(lowering.getitem(interp, container, index))


@handles("STORE_SUBSCR")
def store_subscr(interp, frame, ins):
    index = frame.pop()
    container = frame.pop()
    value = frame.pop()
    lowering.setitem(interp, container, index, value)


@handles("DELETE_SUBSCR")
def delete_subscr(interp, frame, ins):
    index = frame.pop()
    container = frame.pop()
    if is_traced(container):
        raise interp.error("del on an array element is not supported")
    interp.ctx.outside.observe(container, deep=False)
    del container[lowering.concretize_all(interp, index, "del")]
    interp.ctx.outside.note_change(container, "deletes an item of")


@handles("BINARY_SLICE", since=(3, 12))
def binary_slice(interp, frame, ins):
    stop = frame.pop()
    start = frame.pop()
    container = frame.pop()
    frame.push(lowering.getitem(interp, container, slice(start, stop)))


@handles("STORE_SLICE", since=(3, 12))
def store_slice(interp, frame, ins):
    stop = frame.pop()
    start = frame.pop()
    container = frame.pop()
    value = frame.pop()
    lowering.setitem(interp, container, slice(start, stop), value)


# ---------------------------------------------------------------- f-strings (values are only looked at)
_CONVERSIONS = {0: lambda v: v, 1: str, 2: repr, 3: ascii}


def _looked_at(interp, value):
    interp.ctx.outside.observe(value)
    return unwrap(value)


@handles("FORMAT_VALUE", until=(3, 12))
def format_value(interp, frame, ins):
    spec = frame.pop() if ins.arg & 4 else ""
    value = _looked_at(interp, frame.pop())
    frame.push(format(_CONVERSIONS[ins.arg & 3](value), spec))


@handles("CONVERT_VALUE", since=(3, 13))
def convert_value(interp, frame, ins):
    frame.push(_CONVERSIONS[ins.arg](_looked_at(interp, frame.pop())))


@handles("FORMAT_SIMPLE", since=(3, 13))
def format_simple(interp, frame, ins):
    frame.push(format(_looked_at(interp, frame.pop())))


@handles("FORMAT_WITH_SPEC", since=(3, 13))
def format_with_spec(interp, frame, ins):
    spec = frame.pop()
    frame.push(format(_looked_at(interp, frame.pop()), spec))


@handles("CALL_INTRINSIC_1", since=(3, 12))
def call_intrinsic_1(interp, frame, ins):
    value = frame.pop()
    name = ins.argrepr
    if name == "INTRINSIC_LIST_TO_TUPLE":
        frame.push(tuple(value))
    elif name == "INTRINSIC_UNARY_POSITIVE":
        frame.push(lowering.unary(interp, "+", value))
    elif name == "INTRINSIC_STOPITERATION_ERROR":
        if isinstance(value, StopIteration):
            raise RuntimeError("generator raised StopIteration") from value
        raise value
    else:
        raise interp.error(f"unsupported construct: {name}")
