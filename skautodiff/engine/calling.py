"""What a call from interpreted code does, decided in one place.

In order: methods of traced arrays; the engine's own versions of builtins that must see engine
values (len, range, zip, map, super, ...); randomness (refused); symbolic rules from the tables;
user code (interpreted recursively: functions, bound methods, classes, callable objects,
functools.partial); and finally native code, which never receives a Traced value: integers and
booleans are concretised under a guard, anything differentiable is an error.
"""

import builtins
import functools
import os
import sys
import sysconfig
import types

import numpy as np

from .. import symbolic
from . import arrays, lowering
from .values import contains_traced, is_traced, unwrap

# Library code runs natively: the standard library and installed packages. skautodiff's own
# models are written as user code and are interpreted like it.
_LIBRARY_DIRS = tuple(
    {
        os.path.realpath(p) + os.sep
        for key in ("stdlib", "platstdlib", "purelib", "platlib")
        if (p := sysconfig.get_paths().get(key))
    }
)
_INTERPRETED_PACKAGES = ("skautodiff.models",)
_NATIVE_PACKAGES = ("skautodiff.",)


@functools.lru_cache(maxsize=4096)
def _is_library_file(filename):
    return os.path.realpath(filename).startswith(_LIBRARY_DIRS)


def is_user_code(fn):
    module = getattr(fn, "__module__", None) or ""
    code = getattr(fn, "__code__", None)
    return is_user_module(
        module,
        lambda: (
            code.co_filename
            if code is not None
            else getattr(sys.modules.get(module), "__file__", None)
        ),
    )


def is_user_module(module, filename):
    """Whether code of the module named `module` is the user's (`filename`: a path, or a function
    giving it, asked only when the name does not decide)."""
    if module.startswith(_INTERPRETED_PACKAGES):
        return True
    if module.split(".")[0] in sys.stdlib_module_names or module.startswith(_NATIVE_PACKAGES):
        return False
    filename = filename() if callable(filename) else filename
    return filename is None or not _is_library_file(filename)


def call(interp, fn, args, kwargs):
    outside = interp.ctx.outside
    held, result = outside.output(fn, args, kwargs)  # print, logging, writes: held back
    if held:
        return result
    if (
        _user_callable(fn) is None
    ):  # native code reads what it is given (interpreted code's looks are seen)
        outside.observe_native(fn, args, kwargs)
    result = _call(interp, fn, args, kwargs)
    owner = getattr(fn, "__self__", None)
    if owner is not None:
        outside.note_change(owner, "changes")  # list.append, dict.update, ... on an outer copy
    outside.made(fn, result)
    return result


def _call(interp, fn, args, kwargs):
    if type(fn) is arrays.TracedMethod:
        return arrays.call_method(interp, fn, _materialize(args), kwargs)
    override = _override(fn)
    if override is not None:
        return override(interp, args, kwargs)
    if _is_random(fn):
        raise interp.error(
            f"randomness inside a traced function ({symbolic.display_name(fn)})",
            "draw the noise outside the function and pass it in as an argument, so the compiled "
            "function and its gradient see the same numbers",
        )
    traced = contains_traced(args) or contains_traced(kwargs)
    owner = getattr(fn, "__self__", None)
    if (
        traced
        and type(owner) is np.ndarray
        and getattr(fn, "__name__", "") in symbolic.IN_PLACE_METHODS
    ):
        return arrays.in_place_method(interp, owner, fn.__name__, args, kwargs)  # z.fill(w[0])
    if traced and _member(fn, _SHAPE_ONLY):
        return _shape_only(interp, fn, args, kwargs)
    if traced:
        rule = symbolic.lookup(fn)
        if rule is not None:
            return _apply(interp, fn, rule, _materialize(args), kwargs)
    user = _user_callable(fn)
    if user is not None:
        func, bound_self = user
        return interp.call_function(func, args, kwargs, bound_self)
    if isinstance(fn, functools.partial):
        return call(interp, fn.func, [*fn.args, *args], {**fn.keywords, **kwargs})
    if isinstance(fn, type) and is_user_code(fn) and traced and not issubclass(fn, tuple):
        obj = fn.__new__(fn)
        call(interp, fn.__init__, [obj, *args], kwargs)
        return obj
    if not traced:
        return fn(*args, **kwargs)
    return _native(interp, fn, args, kwargs)


def _apply(interp, fn, rule, args, kwargs):
    what = symbolic.display_name(fn)
    native = lambda: fn(*unwrap(args), **unwrap(kwargs))  # reads arrays copied on write
    target = symbolic.inplace_argument(fn)
    if target is not None:
        # A call that updates an argument in place (np.add.at, np.copyto): the rule returns
        # that argument's new symbolic value.
        def new_value(before):
            return lowering.run_rule(
                interp, rule, [*args[:target], before, *args[target + 1 :]], kwargs, what
            )

        return lowering.update_in_place(interp, args[target], native, new_value, what)[1]
    out, args_, kwargs_ = _out_argument(fn, args, kwargs)
    if out is not None:
        return lowering.apply_with_out(interp, rule, native, args_, kwargs_, out, what)
    return lowering.apply_rule(interp, rule, fn, args, kwargs, what)


def _out_argument(fn, args, kwargs):
    """(the one array a call writes its result into, or None; args and kwargs without it)."""
    if kwargs.get("out") is not None:
        out = kwargs["out"]
        if isinstance(out, tuple) and len(out) == 1:
            out = out[0]
        if isinstance(unwrap(out), np.ndarray):
            return out, args, {k: v for k, v in kwargs.items() if k != "out"}
    if (
        isinstance(fn, np.ufunc)
        and fn.nout == 1
        and len(args) == fn.nin + 1
        and isinstance(unwrap(args[-1]), np.ndarray)
    ):
        return args[-1], args[:-1], kwargs  # np.add(a, b, a): a ufunc's output given by position
    return None, args, kwargs


def _user_callable(fn):
    """(function, bound self) when fn is user code to interpret, else None."""
    if isinstance(fn, types.FunctionType):
        return (fn, None) if is_user_code(fn) else None
    if isinstance(fn, types.MethodType) and isinstance(fn.__func__, types.FunctionType):
        return (fn.__func__, fn.__self__) if is_user_code(fn.__func__) else None
    if not isinstance(fn, type) and not isinstance(fn, types.BuiltinFunctionType):
        call_ = getattr(type(fn), "__call__", None)
        if isinstance(call_, types.FunctionType) and is_user_code(call_):
            return call_, fn
    return None


def _is_random(fn):
    module = getattr(fn, "__module__", None) or ""
    if module.startswith("numpy.random") or module == "random":
        return True
    owner = getattr(fn, "__self__", None)
    return isinstance(
        owner, (np.random.Generator, np.random.RandomState, np.random.BitGenerator)
    ) or (owner is not None and type(owner).__module__ == "random")


# ---------------------------------------------------------------- native code
_INSPECT = {
    print,
    repr,
    str,
    format,
    isinstance,
    issubclass,
    type,
    id,
    callable,
    hasattr,
    ascii,
    hash,
}
_STRUCTURAL = {list, tuple, dict, set, frozenset, zip, enumerate, reversed, iter, next, sorted}


def _native(interp, fn, args, kwargs):
    owner = getattr(fn, "__self__", None)
    if _member(fn, _INSPECT):
        return fn(*unwrap(args), **unwrap(kwargs))
    if isinstance(owner, (list, dict, set, tuple)):
        # Containers only move values around: they may hold engine values. The methods that
        # consume an iterable (extend, update) see a traced array as its rows.
        if getattr(fn, "__name__", "") in ("extend", "update", "__iadd__"):
            args = [lowering.iterate(interp, a) if is_traced(a) else a for a in args]
        return fn(*args, **kwargs)
    if _member(fn, _STRUCTURAL):  # list(x), zip(x, y), ...: iterate traced arrays by row
        args = [lowering.iterate(interp, a) if is_traced(a) else a for a in args]
        return fn(*args, **kwargs)
    if isinstance(owner, str):  # "...".format(x), ", ".join(...)
        return fn(*unwrap(args), **unwrap(kwargs))
    name = symbolic.display_name(fn)
    module = getattr(fn, "__module__", None) or type(owner if owner is not None else fn).__module__
    if module.split(".")[0] in ("numpy", "scipy") and not lowering.constants_only(
        interp, (args, kwargs)
    ):
        if isinstance(fn, np.vectorize):
            raise _vectorize_error(interp, fn)
        short = name.rsplit(".", 1)[-1]
        close = symbolic.closest_names(short, symbolic.home(fn))
        known = symbolic.alternative(fn)
        raise interp.error(
            f"{name} has no symbolic rule, so its result cannot be differentiated",
            (
                f"instead: {known}"
                if known
                else f"supported {symbolic.home(fn)} functions with similar names: {', '.join(close)}"
                if close
                else "see doc/supported.md for what is supported"
            )
            + "; computing it outside the traced "
            "function and passing the result in as an argument also works",
        )
    # Integers and booleans (labels, indices, masks) are used at their values, guarded.
    args = lowering.concretize_all(interp, list(args), f"calling {name}")
    kwargs = lowering.concretize_all(interp, dict(kwargs), f"calling {name}")
    return fn(*args, **kwargs)


def _vectorize_error(interp, fn):
    """np.vectorize runs a Python function once per element, natively: nothing to trace."""
    pyfunc = fn.pyfunc
    code = getattr(pyfunc, "__code__", None)
    where = f" ({code.co_filename}, line {code.co_firstlineno})" if code is not None else ""
    what = getattr(pyfunc, "__qualname__", None) or repr(pyfunc)
    return interp.error(
        f"np.vectorize({what}){where} calls {what} once per element, outside the trace, so its "
        "result cannot be differentiated",
        f"call {what} on the whole arrays instead, written with numpy operations (np.where(t > 0, "
        "t, 0.0) for `t if t > 0 else 0.0`, np.maximum, np.exp, ...), which computes the same "
        "values elementwise and is traced",
    )


# numpy functions whose result depends only on the shapes of their array arguments.
_SHAPE_ONLY = {
    np.shape,
    np.ndim,
    np.size,
    np.diag_indices_from,
    np.tril_indices_from,
    np.triu_indices_from,
}


def _shape_only(interp, fn, args, kwargs):
    if fn is np.shape:
        return arrays.shape(args[0]) if is_traced(args[0]) else np.shape(args[0])
    if fn is np.size and is_traced(args[0]) and len(args) == 1 and not kwargs:
        return arrays.attribute(interp, args[0], "size")
    for a in [*args, *kwargs.values()]:  # the result is a constant for these shapes
        if is_traced(a):
            for n in arrays.shape(a):
                lowering.concretize(interp, n, symbolic.display_name(fn))
    return fn(*unwrap(args), **unwrap(kwargs))


def _member(fn, table):
    """fn in table, for callables that may be unhashable."""
    try:
        return fn in table
    except TypeError:
        return False


def _materialize(args):
    """Generators the engine created are consumed before a rule sees them (np.stack(gen))."""
    return [list(a) if isinstance(a, types.GeneratorType) else a for a in args]


# ---------------------------------------------------------------- builtins that see engine values
def _builtin_len(interp, args, kwargs):
    (value,) = args
    if is_traced(value):
        return arrays.shape(value)[0] if np.ndim(value.value) else len(value.value)
    return len(value)


def _builtin_range(interp, args, kwargs):
    return range(*(lowering.concretize(interp, a, "range()") for a in args))


def _builtin_map(interp, args, kwargs):
    fn, *iterables = args
    iterables = [lowering.iterate(interp, it) if is_traced(it) else it for it in iterables]
    return (call(interp, fn, list(items), {}) for items in zip(*iterables))


def _builtin_filter(interp, args, kwargs):
    fn, iterable = args
    iterable = lowering.iterate(interp, iterable) if is_traced(iterable) else iterable
    keep = (
        (lambda x: lowering.truth(interp, x))
        if fn is None
        else (lambda x: lowering.truth(interp, call(interp, fn, [x], {})))
    )
    return (x for x in iterable if keep(x))


def _builtin_reduce(interp, args, kwargs):
    fn, iterable, *initial = args
    items = list(lowering.iterate(interp, iterable) if is_traced(iterable) else iterable)
    acc = initial[0] if initial else items.pop(0)
    for item in items:
        acc = call(interp, fn, [acc, item], {})
    return acc


def _builtin_bool(interp, args, kwargs):
    return lowering.truth(interp, args[0]) if args else False


def _builtin_super(interp, args, kwargs):
    if args:
        return super(*unwrap(args))
    frame = interp.frames[-1]
    names = frame.info.varnames
    cls = frame.locals[names.index("__class__")].cell_contents
    first = frame.locals[0]
    if isinstance(first, types.CellType):
        first = first.cell_contents
    return super(cls, first)


def _builtin_reducer(name):
    """sum / max / min / any / all over an iterable of engine values, by folding."""

    def fold(interp, args, kwargs):
        if len(args) == 1 and not is_traced(args[0]):
            items = list(args[0])
        elif len(args) == 1:
            items = lowering.iterate(interp, args[0])
        else:
            items = list(args)
        if not contains_traced(items):
            return getattr(builtins, name)(*([items] if len(args) == 1 else items), **kwargs)
        if name == "sum":
            acc = kwargs.get("start", 0)
            for item in items:
                acc = lowering.binary(interp, "+", acc, item)
            return acc
        if name in ("any", "all"):
            for item in items:
                if lowering.truth(interp, item) == (name == "any"):
                    return name == "any"
            return name == "all"
        # max/min: Python picks an element by comparing; the engine picks the same one (guarded).
        best = items[0]
        for item in items[1:]:
            better = lowering.compare(interp, ">" if name == "max" else "<", item, best)
            if lowering.truth(interp, better):
                best = item
        return best

    return fold


_OVERRIDES = {
    len: _builtin_len,
    range: _builtin_range,
    map: _builtin_map,
    filter: _builtin_filter,
    functools.reduce: _builtin_reduce,
    bool: _builtin_bool,
    super: _builtin_super,
    sum: _builtin_reducer("sum"),
    max: _builtin_reducer("max"),
    min: _builtin_reducer("min"),
    any: _builtin_reducer("any"),
    all: _builtin_reducer("all"),
}


def _operator_function(kind, symbol):
    """operator.add(a, b) and the like: the expression they name, through the engine's operators."""

    def evaluate(interp, args, kwargs):
        if kwargs:
            raise TypeError("operator functions take no keyword arguments")
        if kind == "binary":
            return lowering.binary(interp, symbol, *args)
        if kind == "unary":
            return lowering.unary(interp, symbol, *args)
        if kind == "compare":
            return lowering.compare(interp, symbol, *args)
        if kind == "getitem":
            return lowering.getitem(interp, *args)
        return call(interp, getattr(builtins, symbol), list(args), {})

    return evaluate


_OPERATOR_OVERRIDES = {
    fn: _operator_function(*how) for fn, how in symbolic.OPERATOR_FUNCTIONS.items()
}


def _override(fn):
    if _member(fn, _OPERATOR_OVERRIDES):
        return _OPERATOR_OVERRIDES[fn]
    return _OVERRIDES.get(fn) if _member(fn, _OVERRIDES) else None


__all__ = ["call", "is_user_code"]
