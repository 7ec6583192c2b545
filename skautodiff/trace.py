"""trace(fn, args, kwargs) -> Trace: run the user's function in the engine and keep the graph.

Arguments are bound to the function's signature and flattened: every numeric leaf becomes a
symbolic input (named after the user's parameter), every other object stays in the structure
(objects' numeric attributes become inputs when the code reads them). Arguments being
differentiated are traced as floating point, as are integers among them.
"""

import functools
import inspect
import types

import numpy as np
import pytensor
import pytensor.sparse as ps
import pytensor.tensor as pt
import scipy.sparse
from pytensor.graph.traversal import graph_inputs

from . import pytree
from .engine.context import TraceContext
from .engine.errors import TraceError, user_traceback
from .engine.interpreter import Interpreter, bind_arguments
from .engine.values import Traced, dtype_of, is_traced


def resolve_callable(fn):
    """(plain function, bound self or None): what the engine interprets for fn."""
    if isinstance(fn, types.MethodType) and isinstance(fn.__func__, types.FunctionType):
        return fn.__func__, fn.__self__
    if isinstance(fn, types.FunctionType):
        return fn, None
    if isinstance(fn, functools.partial):
        raise TypeError("pass functools.partial's arguments as args/kwargs instead of a partial")
    call = getattr(type(fn), "__call__", None)
    if isinstance(call, types.FunctionType):
        return call, fn
    raise TypeError(f"skautodiff needs a Python function, got {type(fn).__name__}: {fn!r}")


@functools.lru_cache(maxsize=1024)
def signature(func):
    """inspect.signature, cached: it is asked on every call of a compiled function."""
    return inspect.signature(func)


def parameters(func, bound_self):
    """The parameters a caller passes (without the bound `self`)."""
    params = list(signature(func).parameters.values())
    return params[1:] if bound_self is not None else params


@functools.lru_cache(maxsize=1024)
def _plain_parameters(func):
    """The parameter names when every parameter is positional-or-keyword, else None."""
    params = signature(func).parameters.values()
    if any(p.kind is not inspect.Parameter.POSITIONAL_OR_KEYWORD for p in params):
        return None
    return tuple(p.name for p in params)


def bind(func, bound_self, args, kwargs):
    """{parameter name: value} for a call, defaults applied (as the function holds them now: a
    default is an argument, read at each call), in signature order."""
    full = (bound_self, *args) if bound_self is not None else tuple(args)
    names = _plain_parameters(func)
    if names is not None and not kwargs and len(full) <= len(names):
        # The usual call, without inspect's binder (it costs more than a small compiled call).
        defaults = func.__defaults__ or ()
        missing = len(names) - len(full)
        if missing <= len(defaults):
            arguments = dict(zip(names, full))
            if missing:
                arguments.update(zip(names[len(full) :], defaults[len(defaults) - missing :]))
            if bound_self is not None:
                del arguments[names[0]]
            return arguments
    arguments = bind_arguments(func, full, kwargs)
    if bound_self is not None:
        arguments.pop(next(iter(arguments)))
    return arguments


def is_differentiable(leaf, owner, wrt_names):
    """A numeric leaf of a differentiated argument (boolean masks never are)."""
    if type(leaf) is np.ndarray:
        return owner in wrt_names and leaf.dtype.kind != "b"
    return owner in wrt_names and (scipy.sparse.issparse(leaf) or dtype_of(leaf).kind != "b")


_ARRAY_SIGNATURES = {}  # (dtype, shape, differentiable) -> signature
# ndarray subclasses on which numpy computes differently: compiled functions would silently compute
# as on their plain data. Other subclasses (np.memmap, ...) are taken as their data.
_OWN_SEMANTICS = {
    np.matrix: "`*` and `**` are matrix products and every result stays 2-D, which compiled "
    "functions do not follow; pass np.asarray(x)",
    np.ma.MaskedArray: "numpy skips masked entries (in sums, means, ...), which compiled functions do "
    "not follow; pass x.filled(value), or the data and a boolean mask array",
}


def leaf_signature(leaf, differentiable):
    """(dtype, static shape): what a compiled function depends on for one numeric leaf."""
    if type(leaf) is np.ndarray:  # the common case first: this runs on every call
        key = (leaf.dtype, leaf.shape, differentiable)
        sig = _ARRAY_SIGNATURES.get(key)
        if sig is None:
            if len(_ARRAY_SIGNATURES) > 4096:
                _ARRAY_SIGNATURES.clear()
            dt = np.dtype(np.float64) if differentiable and leaf.dtype.kind in "iu" else leaf.dtype
            sig = _ARRAY_SIGNATURES[key] = (
                _dtype_name(dt),
                tuple(1 if n == 1 else None for n in leaf.shape),
            )
        return sig
    if isinstance(leaf, tuple(_OWN_SEMANTICS)):
        cls, why = next((cls, why) for cls, why in _OWN_SEMANTICS.items() if isinstance(leaf, cls))
        raise TypeError(
            f"skautodiff does not take {cls.__module__}.{cls.__name__} arguments: {why}"
        )
    if scipy.sparse.issparse(leaf):
        if differentiable:
            raise TypeError(
                "cannot differentiate with respect to a sparse matrix; pass it as data "
                "(a non-differentiated argument) and differentiate the dense parameters"
            )
        # sparse arrays and sparse matrices differ (`*` multiplies elementwise or as matrices)
        kind = "array" if isinstance(leaf, scipy.sparse.sparray) else "matrix"
        return leaf.dtype.name if leaf.dtype.kind == "f" else "float64", (
            "sparse",
            _sparse_format(leaf),
            kind,
        )
    dt = dtype_of(leaf)
    if differentiable and dt.kind in "iu":
        dt = np.dtype(np.float64)
    return _dtype_name(dt), tuple(1 if n == 1 else None for n in getattr(leaf, "shape", ()))


@functools.lru_cache(maxsize=None)
def _dtype_name(dtype):
    return dtype.name  # numpy computes it on every access (about 1.5 us)


def _sparse_format(leaf):
    return leaf.format if leaf.format in ("csr", "csc") else "csr"


def input_variable(name, dtype, shape):
    """The symbolic input for a leaf signature."""
    if shape and shape[0] == "sparse":
        return ps.matrix(shape[1], name=name, dtype=dtype)
    return pt.tensor(name=name, dtype=dtype, shape=shape)


def input_value(leaf, dtype, shape):
    """A leaf converted to what the compiled function takes (no copy when it already fits)."""
    if shape and shape[0] == "sparse":  # PyTensor takes scipy's sparse *matrix* classes
        matrix = scipy.sparse.csr_matrix if shape[1] == "csr" else scipy.sparse.csc_matrix
        return matrix(leaf, dtype=dtype)
    return aligned(np.asarray(leaf, dtype=dtype))


def aligned(array):
    """The array, or an aligned copy: PyTensor's C code reads only aligned memory, which numpy does
    not require (np.frombuffer at an odd offset, arrays unpickled from out-of-band buffers)."""
    return array if array.flags.aligned else array.copy()


class Trace:
    """The symbolic form of one call: inputs, outputs, guards."""

    def __init__(
        self,
        func,
        bound_self,
        names,
        treedef,
        signature,
        inputs,
        wrt_leaves,
        outer_inputs,
        outputs,
        out_treedef,
        out_kinds,
        guards,
        value_guards,
        side_effects=(),
        writes_arguments=False,
    ):
        self.func, self.bound_self, self.names, self.treedef = func, bound_self, names, treedef
        self.signature, self.inputs, self.wrt_leaves = signature, inputs, wrt_leaves
        self.outer_inputs, self.outputs, self.out_treedef = outer_inputs, outputs, out_treedef
        self.out_kinds, self.guards, self.value_guards = out_kinds, guards, value_guards
        # [(Location or None, what)]: the function changes the world outside it (compile.Call
        # then runs it natively once per call); whether it writes into its argument arrays.
        self.side_effects, self.writes_arguments = side_effects, writes_arguments

    @property
    def all_inputs(self):
        return self.inputs + [o.var for o in self.outer_inputs]


def trace(fn, args, kwargs, wrt_names):
    func, bound_self = resolve_callable(fn)
    arguments = bind(func, bound_self, args, kwargs)
    names = list(arguments)
    leaves, treedef, statics = pytree.flatten(arguments)
    owners = leaf_owners(treedef)
    paths = _leaf_names(treedef, names)
    signature, inputs, traced_leaves, wrt_leaves = [], [], [], []
    for i, leaf in enumerate(leaves):
        differentiable = is_differentiable(leaf, owners[i], wrt_names)
        dtype, shape = leaf_signature(leaf, differentiable)
        var = input_variable(paths[i], dtype, shape)
        signature.append((dtype, shape))
        inputs.append(var)
        if differentiable:
            wrt_leaves.append(i)
        traced_leaves.append(Traced(_engine_copy(leaf, dtype, shape), var))

    ctx = TraceContext(func)
    for leaf in traced_leaves:
        if isinstance(leaf.value, np.ndarray) and not leaf.value.flags.writeable:
            ctx.argument_views.add(id(leaf.value))
            ctx.keep(leaf.value)
    interp = Interpreter(ctx)
    ctx.interp = interp
    outside = ctx.outside
    if bound_self is not None:
        outside.follow_argument(bound_self, "self", "self")
    for i, obj in enumerate(statics):
        if _is_argument_object(obj):
            outside.follow_argument(
                obj, i, next((n for n, v in arguments.items() if v is obj), f"argument {i}")
            )
    traced_arguments = pytree.unflatten(treedef, traced_leaves)
    call_args, call_kwargs = _split(func, bound_self, traced_arguments)
    # PyTensor records a Python stack on every node it builds; the engine reports locations
    # itself, and skipping those stacks makes tracing about twice as fast.
    try:
        with pytensor.config.change_flags(traceback__limit=0):
            try:
                result = interp.call_function(func, call_args, call_kwargs, bound_self)
            except TraceError:
                raise
            except Exception as exc:  # the user's own error: shown from the user's line on
                exc.__traceback__ = user_traceback(exc.__traceback__)
                raise
        outside.observe(result)  # what is returned is looked at
        outputs, out_treedef, out_kinds = _outputs(interp, result)
    except BaseException:
        outside.replay_output()  # the prints before the failure, as a plain call shows them
        raise
    outside.finish()
    outer_inputs, value_guards = _used_outer_inputs(
        outside.inputs, ctx.value_guards, outputs, ctx.guards
    )
    return Trace(
        func,
        bound_self,
        names,
        treedef,
        tuple(signature),
        inputs,
        wrt_leaves,
        outer_inputs,
        outputs,
        out_treedef,
        out_kinds,
        ctx.guards,
        value_guards,
        tuple(outside.effects),
        outside.copied_arguments,
    )


def _used_outer_inputs(outer_inputs, value_guards, outputs, guards):
    """The outer inputs the graph uses (each checks its own type and dtype when read), and the
    value guards left: those of the others stay, as the code may still have looked at them."""
    used_vars = set(graph_inputs(outputs + [g.var for g in guards]))
    used = [o for o in outer_inputs if o.var in used_vars]
    checked = {id(o.guard) for o in used}
    return used, [g for g in value_guards if id(g) not in checked]


def _engine_copy(leaf, dtype, shape):
    """The value the traced code sees. Never the caller's writable array: a read-only view when
    no conversion is needed (the engine copies on the first in-place write), else a converted copy."""
    if scipy.sparse.issparse(leaf):  # the user's own class (array or matrix), in the traced format
        return leaf.asformat(shape[1]).astype(dtype, copy=True)
    if isinstance(leaf, np.ndarray):
        if leaf.dtype != dtype:
            return leaf.astype(dtype)
        view = leaf.view()
        view.flags.writeable = False
        return view
    if isinstance(leaf, np.generic):
        return leaf.astype(dtype)
    return float(leaf) if np.dtype(dtype).kind == "f" else leaf


def _is_argument_object(obj):
    return hasattr(obj, "__dict__") and not isinstance(
        obj, (types.ModuleType, type, types.FunctionType)
    )


def _split(func, bound_self, arguments):
    """Positional and keyword arguments from {name: value}, honouring *args/**kwargs."""
    args, kwargs = [], {}
    params = parameters(func, bound_self)
    for p in params:
        value = arguments[p.name]
        if p.kind in (p.POSITIONAL_ONLY, p.POSITIONAL_OR_KEYWORD):
            args.append(value)
        elif p.kind == p.VAR_POSITIONAL:
            args.extend(value)
        elif p.kind == p.KEYWORD_ONLY:
            kwargs[p.name] = value
        else:
            kwargs.update(value)
    return args, kwargs


@functools.lru_cache(maxsize=1024)
def leaf_owners(treedef):
    """The parameter name of each numeric leaf of a bound call's treedef."""
    owners = []
    for name, child in zip(treedef.meta, treedef.children):
        owners.extend([name] * child.num_leaves)
    return tuple(owners)


def _leaf_names(treedef, names):
    """Readable input names: the parameter name, or the innermost key when it is unique."""
    paths = []
    for name, child in zip(names, treedef.children):
        sub = pytree.leaf_paths(child, name)
        paths.extend(sub)
    short = [p.split("[")[-1].strip("]'\"") if "[" in p else p for p in paths]
    return [s if short.count(s) == 1 and s.isidentifier() else p for s, p in zip(short, paths)]


def _outputs(interp, result):
    """Flatten the returned value into symbolic outputs (constants where nothing is traced)."""
    leaves = []

    def keep_leaf(x):
        return is_traced(x) or pytree.is_numeric_leaf(x) or isinstance(x, (bool, np.bool_))

    def walk(x):
        if keep_leaf(x):
            leaves.append(x)
            return pytree.TreeDef("leaf")
        if type(x) is dict:
            return pytree.TreeDef("dict", tuple(x), [walk(v) for v in x.values()])
        if type(x) in (list, tuple):
            return pytree.TreeDef(type(x).__name__, None, [walk(v) for v in x])
        if isinstance(x, tuple) and hasattr(x, "_fields"):
            return pytree.TreeDef("namedtuple", type(x), [walk(v) for v in x])
        if isinstance(x, types.GeneratorType):
            raise TraceError(
                "the traced function returned a generator", "return a list or an array"
            )
        return pytree.TreeDef("static", x)

    treedef = walk(result)
    outputs, kinds = [], []
    for leaf in leaves:
        value = leaf.value if is_traced(leaf) else leaf
        var = leaf.var if is_traced(leaf) else pt.as_tensor_variable(np.asarray(value))
        outputs.append(var)
        kinds.append(_kind(value))
    return outputs, treedef, kinds


def _kind(value):
    """How to give a compiled result back the type native code returned."""
    if isinstance(value, np.ndarray):
        return ("array", value.dtype)
    if isinstance(value, np.generic):
        return ("numpy", value.dtype)
    return ("python", type(value))


def restore(kind, array):
    tag, t = kind
    if tag == "array":
        return np.asarray(array, dtype=t)
    if tag == "numpy":
        return t.type(np.asarray(array)[()])
    return t(np.asarray(array)[()])


__all__ = ["trace", "Trace", "bind", "parameters", "resolve_callable", "restore"]
