"""trace(fn, args, kwargs, wrt_names) -> Trace: run the user's function in the engine and keep the graph.

Arguments are bound to the function's signature (arguments.py) and flattened: every numeric leaf
becomes a symbolic input named after the user's parameter (inputs.py), every other object stays in
the structure (objects' numeric attributes become inputs when the code reads them). The returned
value is flattened into symbolic outputs (outputs.py).
"""

import numpy as np
import pytensor
from pytensor.graph.traversal import graph_inputs

from . import pytree
from .arguments import bind, leaf_owners, resolve_callable, split
from .engine.errors import Location, TraceError, user_traceback
from .engine.interpreter import Interpreter
from .engine.outer import argument_reader
from .engine.values import Traced
from .inputs import engine_copy, input_variable, is_differentiable, leaf_names, leaf_signature
from .outputs import flatten as flatten_outputs


class Trace:
    """The symbolic form of one call: inputs, outputs, guards."""

    def __init__(
        self,
        func,
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
        handles_exceptions=False,
    ):
        self.func, self.treedef = func, treedef
        self.signature, self.inputs, self.wrt_leaves = signature, inputs, wrt_leaves
        self.outer_inputs, self.outputs, self.out_treedef = outer_inputs, outputs, out_treedef
        self.out_kinds, self.guards, self.value_guards = out_kinds, guards, value_guards
        # [(Location or None, what)]: the function changes the world outside it (compile.Call
        # then runs it natively once per call); whether it writes into its argument arrays.
        self.side_effects, self.writes_arguments = side_effects, writes_arguments
        # whether interpreted code with except/finally/with blocks ran (see compile.Entry.run)
        self.handles_exceptions = handles_exceptions

    @property
    def all_inputs(self):
        return self.inputs + [o.var for o in self.outer_inputs]


def trace(fn, args, kwargs, wrt_names):
    func, bound_self = resolve_callable(fn)
    arguments = bind(func, bound_self, args, kwargs)
    names = list(arguments)
    leaves, treedef, statics = pytree.flatten(arguments)
    owners = leaf_owners(treedef)
    paths = leaf_names(treedef, names)
    signature, inputs, traced_leaves, wrt_leaves = [], [], [], []
    for i, leaf in enumerate(leaves):
        differentiable = is_differentiable(leaf, owners[i], wrt_names)
        dtype, shape = leaf_signature(leaf, differentiable)
        var = input_variable(paths[i], dtype, shape)
        signature.append((dtype, shape))
        inputs.append(var)
        if differentiable:
            wrt_leaves.append(i)
        traced_leaves.append(Traced(engine_copy(leaf, dtype, shape), var))

    interp = Interpreter(func)
    ctx = interp.ctx
    for leaf in traced_leaves:
        if isinstance(leaf.value, np.ndarray) and not leaf.value.flags.writeable:
            ctx.shadows.argument_views.add(id(leaf.value))
            ctx.shadows.keep(leaf.value)
    outside = ctx.outside
    if bound_self is not None:
        outside.follow_argument(bound_self, "self", "self")
    # Objects kept in the structure that are not plain data (the cache key holds them by type or
    # identity: a set, an OrderedDict, a complex array, an object with attributes) reach the
    # engine as outside values do: followed, or guarded by content, and read at each call, so
    # that an in-place change or another object of the same type never reuses a stale trace.
    engine_statics = [
        obj
        if pytree.is_plain_data(obj)
        else outside.convert(obj, argument_reader(i), _argument_name(arguments, obj, i))
        for i, obj in enumerate(statics)
    ]
    traced_arguments = pytree.unflatten(treedef, traced_leaves, engine_statics)
    call_args, call_kwargs = split(func, bound_self, traced_arguments)
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
        outputs, out_treedef, out_kinds = flatten_outputs(
            result,
            ctx.shadows,
            Location(func.__qualname__, func.__code__.co_filename, func.__code__.co_firstlineno),
        )
    except BaseException:
        outside.replay_output()  # the prints before the failure, as a plain call shows them
        raise
    outside.finish()
    outer_inputs, value_guards = _used_outer_inputs(
        outside.inputs, ctx.value_guards, outputs, ctx.guards
    )
    return Trace(
        func,
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
        ctx.handles_exceptions,
    )


def _used_outer_inputs(outer_inputs, value_guards, outputs, guards):
    """The outer inputs the graph uses (each checks its own type and dtype when read), and the
    value guards left: those of the others stay, as the code may still have looked at them."""
    used_vars = set(graph_inputs(outputs + [g.var for g in guards]))
    used = [o for o in outer_inputs if o.var in used_vars]
    checked = {id(o.guard) for o in used}
    return used, [g for g in value_guards if id(g) not in checked]


def _argument_name(arguments, obj, index):
    return next((n for n, v in arguments.items() if v is obj), f"argument {index}")


__all__ = ["trace", "Trace"]
