"""What the traced function reads from, and does to, the world outside its arguments.

Roots are the function's globals, its closure cells, user modules and argument objects; from a
root the code reaches values by attribute and item steps. A value met on the way reaches the
engine as:

* a number or numeric array: a symbolic input (`OuterInput`) that the compiled function reads
  again at every call through a reader closure built here, once; its type, dtype and length-1
  axes are checked per call (a change retraces). Arrays reach the engine as read-only views.
* a dict, list or tuple: an engine-private copy holding converted items. Its keys or length (and
  its non-numeric items) are guarded once the code *looks* at it (an item, iteration, its length,
  a call that receives it): a list the code only appends to does not retrace when it grows.
* an object with attributes (a user module too): followed, each attribute converted when read.
* anything else (functions, classes, strings, None, ...): guarded by identity or value.

Modules of libraries are not followed (np.pi is a constant). Writes to any of these values
(item and attribute assignment, container methods, in-place array updates, rebinding an outer
global or closure variable) stay inside the engine; they and output (print, writes to streams and
files, logging, held back while tracing) are the trace's side effects, recorded with their
location. compile.Call runs the user's function natively once per call of such a trace.
"""

import copy
import io
import logging
import types

import numpy as np
import pytensor.tensor as pt

from .calling import is_user_module
from .values import Traced, contains_traced, dtype_of, unwrap


NOT_GLOBAL = object()


class OuterInput:
    """A number or array read from outside: `read(call)` gives it at call time."""

    __slots__ = ("read", "var", "signature", "guard")

    def __init__(self, read, var, signature, guard):
        self.read, self.var, self.signature, self.guard = read, var, signature, guard


class ValueGuard:
    """A Python value the trace depends on: `read(call)` must still be `same` as `expected`.

    `call` is what the compiled function is being called with: `.func` (the function object),
    `.bound_self` and `.statics` (the non-numeric objects among the arguments, in flattening order).
    """

    __slots__ = ("read", "expected", "what")

    def __init__(self, read, expected, what):
        self.read, self.expected, self.what = read, expected, what

    def holds(self, call):
        try:
            return same(self.read(call), self.expected)
        except Exception:
            return False


_PLAIN_DATA = (int, float, complex, str, bytes, bool, type(None), tuple, frozenset, np.dtype, type)


def same(a, b):
    """Whether a guarded value still holds: identity, or equality for plain immutable data."""
    if a is b:
        return True
    if type(a) is not type(b) or not isinstance(a, _PLAIN_DATA):
        return False
    try:
        return bool(a == b)
    except Exception:
        return False


def input_signature(value):
    """What a compiled input depends on: type, dtype and which axes have length 1."""
    if type(value) is np.ndarray:
        return np.ndarray, value.dtype, tuple(n == 1 for n in value.shape)
    return type(value), dtype_of(value), tuple(n == 1 for n in np.shape(value))


def is_numeric(value):
    """Numbers and numeric arrays (boolean masks too); bools and huge ints are plain data."""
    if isinstance(value, np.ndarray):
        return value.dtype.kind in "biuf"
    if type(value) is int:
        return -(2**63) <= value < 2**63
    return type(value) is float or isinstance(value, (np.integer, np.floating))


def _content(array):
    """What a constant array read from outside is compared by at each call (an in-place change
    traces again): its type, dtype, shape and bytes."""
    if not isinstance(array, np.ndarray):
        return type(array)
    return type(array), array.dtype.str, array.shape, np.ascontiguousarray(array).tobytes()


def is_plain_object(value):
    """An object whose attributes the engine follows (instances, user modules are separate).

    Not an object called as native code (numpy's function dispatchers, functools.partial, ...):
    what it does is not in attributes the engine reads, so np.std and np.var, or two partials,
    would pass the same type guard. Those are guarded by identity.
    """
    if callable(value) and not isinstance(
        getattr(type(value), "__call__", None), types.FunctionType
    ):
        return False
    return (hasattr(value, "__dict__") or hasattr(type(value), "__slots__")) and not isinstance(
        value,
        (types.ModuleType, type, types.FunctionType, types.MethodType, types.BuiltinFunctionType),
    )


# ---------------------------------------------------------------- readers (built at trace time)
def global_reader(func, namespace, name):
    if func is not None and namespace is func.__globals__:
        # The traced function's own globals: those of the function being called, which may be
        # another function with equal code (exec'd twice, or a copy) and other globals.
        return lambda call: call.func.__globals__[name]
    return lambda call: namespace[name]


def cell_reader(func, cell):
    closure = (func.__closure__ or ()) if func is not None else ()
    index = next((i for i, c in enumerate(closure) if c is cell), None)
    if index is None:  # a cell of a function reached through other guarded values
        return lambda call: cell.cell_contents
    return lambda call: call.func.__closure__[index].cell_contents


def argument_reader(root):
    if root == "self":
        return lambda call: call.bound_self
    return lambda call: call.statics[root]


def attribute_reader(read, name):
    return lambda call: getattr(read(call), name)


def item_reader(read, key):
    return lambda call: read(call)[key]


def _fingerprint(obj):
    """Which objects an object's attributes are (a new value of any of them differs)."""
    if hasattr(obj, "__dict__"):
        return tuple((k, id(v)) for k, v in vars(obj).items())
    return tuple(id(getattr(obj, s, None)) for s in type(obj).__slots__)


def _structure(value):
    return (type(value), tuple(value)) if isinstance(value, dict) else (type(value), len(value))


# Container methods that change the container without looking at what it holds: a list the
# code only appends to is not guarded (it grows between calls when the function runs natively).
_PURE_INSPECTION = (isinstance, issubclass, type, id, callable, super)
_BLIND = frozenset(
    {"append", "extend", "insert", "add", "update", "clear", "sort", "reverse", "discard"}
)
_LOGGING = frozenset(
    {"debug", "info", "warning", "warn", "error", "exception", "critical", "fatal", "log"}
)
_STREAM_WRITES = frozenset({"write", "writelines", "flush", "truncate"})


_PLAIN_SETATTR = (object.__setattr__, types.ModuleType.__setattr__)


class _Snapshot:
    """An engine-private copy of an outer container, with what it held when copied."""

    __slots__ = ("copy", "items", "pending", "what", "reported")

    def __init__(self, copy_, pending, what):
        self.copy, self.pending, self.what, self.reported = copy_, pending, what, False
        self.items = self._contents()

    def _contents(self):
        c = self.copy
        if isinstance(c, dict):
            return [(k, id(v)) for k, v in c.items()]
        if isinstance(c, (set, frozenset)):
            return frozenset(c)
        return [id(v) for v in c]

    def changed(self):
        return self._contents() != self.items


class Outside:
    """The outside world as one trace sees it. `ctx` is its TraceContext (guards, location)."""

    def __init__(self, ctx):
        self.ctx = ctx
        self.inputs = []  # OuterInput
        self.effects = []  # (location or None, what): side effects, in order
        self.held_output = []  # output calls held back while tracing: (fn, args, kwargs)
        self.copied_arguments = False  # the code wrote into an argument array (copy on write)
        self._roots = {}  # ("global", id(ns), name) / ("cell", id(cell)) -> engine value
        self._rebound = {}  # the same keys -> engine value the code assigned
        self._seen = {}  # id(outer object) -> (object, engine value, reader)
        self._followed = {}  # id(followed object) -> (reader, what)
        self._attributes = {}  # (id(obj), name) -> engine value read or written
        self._snapshots = {}  # id(engine copy) -> _Snapshot
        self._pending = {}  # id(engine copy) -> _Snapshot whose guards wait for a look
        self._arrays = {}  # id(Traced) -> [Traced, var, value, what, reported]
        self._by_var = {}  # outer input variable -> OuterInput
        self._fresh = set()  # ids of in-memory streams made by the traced code
        self._fingerprinted = set()  # ids of followed objects guarded by _fingerprint

    # ------------------------------------------------------------ roots
    def load_global(self, namespace, name):
        """The engine value of a global; NOT_GLOBAL when there is none (a builtin, or an error)."""
        key = ("global", id(namespace), name)
        if key in self._rebound:
            return self._rebound[key]
        if key not in self._roots:
            if name not in namespace:
                return NOT_GLOBAL
            read = global_reader(self.ctx.func, namespace, name)
            self._roots[key] = self.convert(namespace[name], read, name)
        return self._roots[key]

    def load_cell(self, cell, name):
        key = ("cell", id(cell))
        if key in self._rebound:
            return self._rebound[key]
        if key not in self._roots:
            value = cell.cell_contents  # ValueError when empty: the caller reports it
            self.ctx.shadows.keep(cell)
            self._roots[key] = self.convert(value, cell_reader(self.ctx.func, cell), name)
        return self._roots[key]

    def default(self, func, name, value):
        """A default an interpreted function takes: read from the function at each call."""
        if contains_traced(value):  # a function made during the call, from engine values
            return value
        key = ("default", id(func), name)
        if key not in self._roots:
            self.ctx.shadows.keep(func)
            self._roots[key] = self.convert(
                value, self._default_reader(func, name), f"{func.__qualname__}({name}=...)"
            )
        return self._roots[key]

    def _default_reader(self, func, name):
        kwdefaults = func.__kwdefaults__ or {}
        if name in kwdefaults:
            return lambda call: func.__kwdefaults__[name]
        names, n = func.__code__.co_varnames[: func.__code__.co_argcount], len(func.__defaults__)
        index = names.index(name) - (len(names) - n)
        self.ctx.value_guards.append(
            ValueGuard(
                lambda call: len(func.__defaults__ or ()), n, f"the defaults of {func.__qualname__}"
            )
        )
        return lambda call: func.__defaults__[index]

    def rebind(self, key, value, what):
        """`global x; x = ...` or `nonlocal x; x = ...` for a variable of the outside world."""
        self._rebound[key] = value
        self.effect(f"assigns {what}")

    def follow_argument(self, obj, root, what):
        self._seen[id(obj)] = (obj, obj, argument_reader(root))
        self._follow(obj, argument_reader(root), what)

    # ------------------------------------------------------------ converting what is read
    def convert(self, value, read, what, pending=None):
        """The engine's value for `value`, which `read(call)` reads at call time."""
        guards = self.ctx.value_guards if pending is None else pending
        if isinstance(value, types.ModuleType):  # np, math, ...: not followed (np.pi is a constant)
            if _is_user_module(value):
                self._follow(value, read, what)
            return value
        if is_numeric(value):
            return self._input(value, read, what, guards)
        seen = self._seen.get(id(value))
        if seen is not None and seen[0] is value:  # reached before (maybe by another path)
            if seen[2] is not read:
                first = seen[2]
                guards.append(
                    ValueGuard(
                        lambda call: read(call) is first(call), True, f"{what} (same object)"
                    )
                )
            return seen[1]
        t = type(value)
        if (
            t in (dict, list, tuple, set, frozenset)
            or (isinstance(value, tuple) and hasattr(value, "_fields"))
            or isinstance(value, dict)
        ):
            snap = self._snapshot(value, read, what)
            if snap is not None:
                guards.append(ValueGuard(lambda call: type(read(call)), t, what))
                return snap
        if is_plain_object(value):
            self._remember(value, value, read)
            self._follow(value, read, what)
            guards.append(ValueGuard(lambda call: type(read(call)), t, what))
            return value
        self._remember(value, value, read)
        if isinstance(value, types.MethodType):
            guards.append(ValueGuard(lambda call: read(call).__func__, value.__func__, what))
        elif isinstance(value, np.ndarray):  # complex or object: a constant, guarded by content
            guards.append(ValueGuard(lambda call: _content(read(call)), _content(value), what))
        else:
            guards.append(ValueGuard(read, value, what))
        return value

    def _remember(self, value, engine_value, read):
        self._seen[id(value)] = (value, engine_value, read)
        self.ctx.shadows.keep(value)
        return engine_value

    def _input(self, value, read, what, guards):
        seen = self._seen.get(id(value)) if isinstance(value, np.ndarray) else None
        if seen is not None and seen[0] is value:  # the same array by another path
            first = seen[2]
            guards.append(
                ValueGuard(lambda call: read(call) is first(call), True, f"{what} (same array)")
            )
            return seen[1]
        shape = tuple(1 if n == 1 else None for n in np.shape(value))
        var = pt.tensor(name=what, dtype=dtype_of(value).name, shape=shape)
        signature = input_signature(value)
        guard = ValueGuard(lambda call: input_signature(read(call)), signature, what)
        guards.append(guard)
        self.inputs.append(OuterInput(read, var, signature, guard))
        self._by_var[var] = self.inputs[-1]
        if isinstance(value, np.ndarray):
            view = value.view()
            view.flags.writeable = False  # the trace never writes into the caller's array
            traced = Traced(view, var)
            self._remember(value, traced, read)
            self._arrays[id(traced)] = [traced, var, view, what, False]
        else:
            traced = Traced(value, var)
        return traced

    def _snapshot(self, value, read, what):
        """An engine-private copy of a container, items converted; guarded once looked at."""
        pending = []
        if isinstance(value, dict):
            try:
                snap = {} if type(value) is dict else copy.copy(value)
                snap.clear()
            except Exception:
                return None
            self._remember(value, snap, read)
            for k, v in value.items():
                snap[k] = self.convert(v, item_reader(read, k), f"{what}[{k!r}]", pending)
        elif type(value) is list:
            snap = []
            self._remember(value, snap, read)
            snap.extend(
                self.convert(v, item_reader(read, i), f"{what}[{i}]", pending)
                for i, v in enumerate(value)
            )
        elif isinstance(value, tuple):
            items = [
                self.convert(v, item_reader(read, i), f"{what}[{i}]", pending)
                for i, v in enumerate(value)
            ]
            snap = type(value)(*items) if hasattr(value, "_fields") else tuple(items)
            self._remember(value, snap, read)
        else:  # sets hold hashable plain data: guarded by value
            snap = set(value) if type(value) is set else value
            self._remember(value, snap, read)
            pending.append(ValueGuard(lambda call: frozenset(read(call)), frozenset(value), what))
        pending.insert(0, ValueGuard(lambda call: _structure(read(call)), _structure(value), what))
        record = _Snapshot(snap, pending, what)
        self._snapshots[id(snap)] = self._pending[id(snap)] = record
        self.ctx.shadows.keep(snap)
        return snap

    def _follow(self, obj, read, what):
        self._followed[id(obj)] = (read, what)
        self.ctx.shadows.keep(obj)
        return True

    # ------------------------------------------------------------ attributes of followed objects
    def is_followed(self, obj):
        return id(obj) in self._followed

    def getattr(self, obj, name):
        """obj.name for a followed object: converted once, read again at each call."""
        key = (id(obj), name)
        if key in self._attributes:
            return self._attributes[key]
        read, what = self._followed[id(obj)]
        value = self.convert(getattr(obj, name), attribute_reader(read, name), f"{what}.{name}")
        self._attributes[key] = value
        return value

    def setattr(self, obj, name, value):
        """obj.name = value on a followed object: seen by the rest of the trace, a side effect."""
        cls = type(obj)
        if cls.__setattr__ not in _PLAIN_SETATTR or hasattr(getattr(cls, name, None), "__set__"):
            raise self.ctx.interp.error(
                f"assignment to {self._followed[id(obj)][1]}.{name} (a property or custom __setattr__) "
                "inside a traced function",
                "return the value instead, or set it outside the loss",
            )
        self._attributes[(id(obj), name)] = value
        self.effect(f"sets {self._followed[id(obj)][1]}.{name}")

    def snapshot_attribute(self, obj, name):
        """The engine value of a snapshot's method or attribute (a look, unless it only writes)."""
        if name not in _BLIND:
            self.observe(obj, deep=False)
        return getattr(obj, name)

    # ------------------------------------------------------------ looks and writes
    def observe(self, value, deep=True, _depth=0):
        """The code looked at `value`: the guards of the outer containers in it now apply, and
        a followed object handed to native code is guarded on what its attributes are."""
        if _depth > 8 or not (self._pending or self._followed):
            return
        t = type(value)
        if t in (dict, list, tuple, set, frozenset) or isinstance(value, (dict, tuple)):
            record = self._pending.pop(id(value), None)
            if record is not None and record.copy is value:
                self.ctx.value_guards.extend(record.pending)
            if deep and not isinstance(value, (set, frozenset)):
                for item in value.values() if isinstance(value, dict) else value:
                    self.observe(item, True, _depth + 1)
        elif id(value) in self._followed and id(value) not in self._fingerprinted:
            # Native code reads the object's state unseen (a method, or its __getitem__ or
            # __len__: `df["a"]`): a refit (`scaler.mean_ = ...`) or another object retraces.
            self._fingerprinted.add(id(value))
            read, what = self._followed[id(value)]
            self.ctx.value_guards.append(
                ValueGuard(lambda call: _fingerprint(read(call)), _fingerprint(value), what)
            )

    def observe_native(self, fn, args, kwargs):
        """Native code is called: it reads its arguments, and the object a method is bound to."""
        if fn in _PURE_INSPECTION:
            return
        self.observe((args, kwargs))
        owner = getattr(fn, "__self__", None)
        if owner is not None and id(owner) in self._followed:
            self.observe(owner)

    def is_snapshot(self, obj):
        record = self._snapshots.get(id(obj))
        return record is not None and record.copy is obj

    def note_change(self, obj, what="changes"):
        """After code that may have changed obj: record a side effect when an outer copy did."""
        record = self._snapshots.get(id(obj)) if obj is not None else None
        if record is not None and record.copy is obj and not record.reported and record.changed():
            record.reported = True
            self.effect(f"{what} {record.what}")

    def written(self, traced):
        """An outer array is about to be written in place; False for other read-only arrays."""
        record = self._arrays.get(id(traced))
        if record is None or record[0] is not traced:
            self.copied_arguments = True  # an argument's read-only view: copy on write
            return False
        if not record[4]:
            record[4] = True
            self.effect(f"writes into {record[3]} in place")
        return True

    def effect(self, what, where=None):
        self.effects.append((where if where is not None else self.ctx.interp.location(), what))

    # ------------------------------------------------------------ output
    def output(self, fn, args, kwargs):
        """(True, result) for an output call (held back while tracing), else (False, None)."""
        what = self._output_kind(fn, args, kwargs)
        if what is None:
            return False, None
        self.effect(what)
        args, kwargs = unwrap(args), unwrap(kwargs)
        if fn is open:  # an in-memory stand-in: the native run writes the file
            stand_in = io.BytesIO() if "b" in _mode(args, kwargs) else io.StringIO()
            self._fresh.add(id(stand_in))
            self.ctx.shadows.keep(stand_in)
            return True, stand_in
        self.held_output.append((fn, args, kwargs))
        name = getattr(fn, "__name__", "")
        if name == "write" and args and hasattr(args[0], "__len__"):
            return True, len(args[0])
        return True, None

    def made(self, fn, result):
        """Note in-memory streams made by the traced code: writing to them is no side effect."""
        if fn is io.StringIO or fn is io.BytesIO:
            self._fresh.add(id(result))
            self.ctx.shadows.keep(result)

    def replay_output(self):
        """The trace failed: show the output it held back, as the plain call would have."""
        for fn, args, kwargs in self.held_output:
            try:
                fn(*args, **kwargs)
            except Exception:
                pass
        self.held_output.clear()

    def _output_kind(self, fn, args, kwargs):
        if fn is print:
            target = kwargs.get("file")
            return "print" if target is None or id(target) not in self._fresh else None
        if fn is open:
            mode = _mode(args, kwargs)
            return f"open(..., {mode!r})" if any(c in mode for c in "wax+") else None
        owner = getattr(fn, "__self__", None)
        name = getattr(fn, "__name__", "")
        if isinstance(owner, io.IOBase) and name in _STREAM_WRITES and id(owner) not in self._fresh:
            return f"{name} to a stream"
        if name in _LOGGING and (
            isinstance(owner, (logging.Logger, logging.LoggerAdapter))
            or getattr(fn, "__module__", None) == "logging"
        ):
            return f"logging.{name}"
        return None

    # ------------------------------------------------------------ the end of the trace
    def finish(self):
        """Side effects no handler saw at their line (a write through an alias, native code)."""
        for record in self._snapshots.values():
            if not record.reported and record.changed():
                record.reported = True
                self.effects.append((None, f"changes {record.what}"))
        for traced, var, view, what, reported in self._arrays.values():
            if not reported and (traced.var is not var or traced.value is not view):
                self.effects.append((None, f"writes into {what} in place"))

    def is_input(self, traced):
        """Whether `traced` is a number or array read from outside, unchanged since."""
        return traced.var in self._by_var

    def constant(self, traced):
        """A guard that keeps an outer input at its value, so code without a symbolic rule may
        use it as a constant; False when `traced` is not an unchanged outer input."""
        outer = self._by_var.get(traced.var)
        if outer is None:
            return False
        value = np.array(traced.value, copy=True)
        read = outer.read
        self.ctx.value_guards.append(
            ValueGuard(
                lambda call: bool(
                    np.array_equal(read(call), value, equal_nan=value.dtype.kind in "fc")
                ),
                True,
                str(traced.var.name),
            )
        )
        return True


def _mode(args, kwargs):
    mode = kwargs.get("mode", args[1] if len(args) > 1 else "r")
    return mode if isinstance(mode, str) else "r"


def _is_user_module(module):
    file = getattr(module, "__file__", None)
    return file is not None and is_user_module(module.__name__, file)


__all__ = ["Outside", "OuterInput", "ValueGuard", "same", "input_signature"]
