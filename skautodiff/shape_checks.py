"""Shape assertions out of the compiled graph, into one Python check per call.

PyTensor's shape inference guards every elementwise op whose operands' lengths are not known to
match with an `Assert` (extra_ops.broadcast_shape_iter: "Could not broadcast dimensions"), fed by
`Shape_i`, an `Eq` and a `ScalarFromTensor`: `np.mean(X @ w - y)` checks that `X @ w` and `y`
have the same length. On the C tier each of those ops is a C module of its own, compiled on a cold
cache (a g++ run each), for a comparison of two integers.

This rewrite (tag `TAG`, run before elementwise fusion) replaces each `CheckAndRaise` whose
conditions depend only on the shapes of the function's inputs and on constants by its value, and
records the conditions on the FunctionGraph; `checker()` turns them into one generated Python
function of the input values, which compile.Copies runs before every call, on both tiers. The
check is the removed condition itself, evaluated on the same input shapes by each op's own scalar
implementation, so a call the graph would have refused is still refused (with a message naming
the inputs and their lengths), and no op ever runs on shapes the graph did not allow. Conditions
that depend on anything else (values, shapes of intermediate results) stay in the graph.
"""

import itertools

from pytensor.compile import SharedVariable, optdb
from pytensor.graph.basic import Constant
from pytensor.graph.rewriting.basic import GraphRewriter
from pytensor.raise_op import CheckAndRaise
from pytensor.scalar.basic import EQ, ScalarOp
from pytensor.tensor.basic import ScalarFromTensor, TensorFromScalar
from pytensor.tensor.elemwise import Elemwise
from pytensor.tensor.shape import Shape_i

TAG = "skautodiff_shape_checks"
FGRAPH_ATTRIBUTE = "skautodiff_shape_checks"  # the list of Condition a compile hoisted
_names = itertools.count()  # for the generated checks: unique across the conditions of any graph


class Condition:
    """One hoisted condition: Python source over `v` (the input values), the constants and op
    implementations it names, the input lengths it reads ((input index, axis)), and the
    assertion's message."""

    def __init__(self, source, namespace, lengths, message):
        self.source, self.namespace = source, namespace
        self.lengths, self.message = lengths, message


class _Unsupported(Exception):
    """The condition depends on something other than input shapes and constants."""


class _Source:
    """Python source for a scalar graph over input shapes, and what it names."""

    def __init__(self, fgraph):
        self._inputs = {var: i for i, var in enumerate(fgraph.inputs)}
        self.namespace, self.lengths = {}, []  # lengths: (input index, axis) it reads

    def _name(self, value):
        name = f"_c{next(_names)}"
        self.namespace[name] = value
        return name

    def of(self, var):
        if isinstance(var, Constant):
            return self._name(var.data.item() if hasattr(var.data, "item") else var.data)
        node = var.owner
        if node is None:
            raise _Unsupported()  # an input's value, not its shape
        op = node.op
        if (
            isinstance(op, Shape_i)
            and node.inputs[0] in self._inputs
            and not isinstance(node.inputs[0], SharedVariable)  # not among the values passed
        ):
            where = (self._inputs[node.inputs[0]], op.i)
            if where not in self.lengths:
                self.lengths.append(where)
            return f"v[{where[0]}].shape[{where[1]}]"
        if isinstance(op, ScalarFromTensor | TensorFromScalar):
            return self.of(node.inputs[0])
        if isinstance(op, Elemwise) and all(i.type.ndim == 0 for i in node.inputs):
            op = op.scalar_op
        if not isinstance(op, ScalarOp) or len(node.outputs) != 1:
            raise _Unsupported()
        args = [self.of(i) for i in node.inputs]
        if isinstance(op, EQ):  # symmetric: sorted, so that a == b and b == a are checked once
            return "({} == {})".format(*sorted(args))
        return f"{self._name(op.impl)}({', '.join(args)})"


class HoistShapeAsserts(GraphRewriter):
    """Replace shape-only assertions by their value; record their conditions on the fgraph."""

    def apply(self, fgraph):
        hoisted = getattr(fgraph, FGRAPH_ATTRIBUTE, None)
        if hoisted is None:
            hoisted = []
            setattr(fgraph, FGRAPH_ATTRIBUTE, hoisted)
        for node in fgraph.toposort():
            if not isinstance(node.op, CheckAndRaise) or node not in fgraph.apply_nodes:
                continue
            message = node.op.msg or f"{node.op.exc_type.__name__} in the compiled graph"
            try:
                conditions = [_condition(fgraph, c, message) for c in node.inputs[1:]]
            except _Unsupported:
                continue
            hoisted.extend(conditions)
            fgraph.replace(node.outputs[0], node.inputs[0], reason="skautodiff_shape_checks")


def _condition(fgraph, var, message):
    source = _Source(fgraph)
    return Condition(source.of(var), source.namespace, source.lengths, message)


# Before elementwise fusion (49), so that the comparisons never become part of a fused op.
optdb.register("skautodiff_hoist_shape_asserts", HoistShapeAsserts(), TAG, position=48.9)


def checker(fn):
    """A function of the input values raising ValueError where the conditions hoisted from
    compiled function `fn`'s graph fail; None when nothing was hoisted."""
    conditions = getattr(fn.maker.fgraph, FGRAPH_ATTRIBUTE, None)
    if not conditions:
        return None
    # One expression for all (the same condition often guards several ops: checked once), in a
    # generated function of its own: one Python call per compiled call
    terms = dict.fromkeys(c.source for c in conditions)
    namespace = {k: v for c in conditions for k, v in c.namespace.items()}
    names = [var.name or f"input {i}" for i, var in enumerate(fn.maker.fgraph.inputs)]
    namespace["fail"] = lambda values: _raise(conditions, names, values)
    source = f"def check(v):\n    if not ({' and '.join(terms)}):\n        fail(v)\n"
    exec(source, namespace)  # noqa: S102 (source built above from the graph's ops only)
    return namespace["check"]


def _raise(conditions, names, values):
    """The ValueError naming the first failed condition's input lengths."""
    for condition in conditions:
        if not eval(f"lambda v: {condition.source}", condition.namespace)(values):  # noqa: S307
            lengths = ", ".join(
                f"{names[i]}.shape[{axis}] = {values[i].shape[axis]}"
                for i, axis in condition.lengths
            )
            raise ValueError(
                f"skautodiff: the arguments' shapes do not fit together: {lengths} "
                f"(PyTensor: {condition.message.split('. ')[0].rstrip('.')})"
            )
    raise RuntimeError("internal error: a hoisted shape check failed and then held")
