"""Splitting a traced loss into sums over rows and a part of the parameters alone.

A loss fits chunk by chunk when every path from its value to the data (the arguments whose first
axis is the rows: X, y, sample weights) goes through a *row sum*: a Sum over an axis set holding
the row axis, of a *row-wise* tensor (row i depends on row i of the data only). Then

    loss = G(params, n, S_1, ..., S_K),   S_k = sum over chunks of the row sum k on that chunk,

with n the total number of rows, and the chain rule gives the gradient from the workers' chunk
gradients of sum_k c_k S_k (c_k = dG/dS_k, computed by the client) plus dG/dparams. np.mean(v) is
traced as Sum(v) / v.shape[0]: a row sum divided by the row count, which here is the total n, so
means come out over all rows (not means of chunk means).

The proof is local: each variable of the traced graph gets a class from its op and its inputs'
classes (table `_ROW_WISE_OPS` and the functions below); anything not shown row-wise or free of
data is "global", and a global variable reaching the loss is refused, naming the user's line.

Integer indexing that keeps each row's own entries (`z[np.arange(len(z)), y]`) is row-wise too:
indexing.py.
"""

import pytensor.tensor as pt
from pytensor.compile.builders import OpFromGraph
from pytensor.graph.basic import Constant
from pytensor.graph.traversal import graph_inputs, io_toposort
from pytensor.scalar import Add as ScalarAdd
from pytensor.scalar import Cast as ScalarCast
from pytensor.tensor.basic import Alloc, ARange
from pytensor.tensor.elemwise import CAReduce, DimShuffle, Elemwise
from pytensor.tensor.math import Dot
from pytensor.tensor.shape import Reshape, Shape, Shape_i, SpecifyShape
from pytensor.tensor.subtensor import Subtensor

from .indexing import INTEGER_INDEXING, advanced_subtensor, arange, reshape
from .rowclasses import GLOBAL, NROWS, PARAM, ROW, ROWPOS, SHAPE, STAT, SUM
from .rowclasses import values as _values

# Ops that use a row count as a shape (the chunk's), not as a number (the total).
_SHAPE_USES = (Alloc, ARange)

# Row positions are used by these ops only (as indices, or reshaped into a column for them).
_ROWPOS_USES = (*INTEGER_INDEXING, Reshape, DimShuffle, Shape, Shape_i, SpecifyShape)


class NotSeparable(ValueError):
    """The loss could not be shown to be a sum over rows plus a part of the parameters alone."""


def _sparse_products():
    """PyTensor's products of a sparse matrix with a dense one (X @ w for sparse X)."""
    try:
        from pytensor.sparse import math as sparse_math
    except ImportError:  # pragma: no cover (older PyTensor)
        return ()
    return tuple(
        getattr(sparse_math, name)
        for name in ("StructuredDot", "Dot", "TrueDot")
        if hasattr(sparse_math, name)
    )


def _sparse_conversions():
    """Ops that change a sparse matrix's storage but not its rows (todense: X.shape reads it)."""
    try:
        from pytensor.sparse import basic as sparse_basic
    except ImportError:  # pragma: no cover
        return ()
    return tuple(
        getattr(sparse_basic, name)
        for name in ("DenseFromSparse", "Cast")
        if hasattr(sparse_basic, name)
    )


def _softmax_ops():
    try:
        from pytensor.tensor.special import LogSoftmax, Softmax

        return (Softmax, LogSoftmax)
    except ImportError:  # pragma: no cover (older PyTensor)
        return ()


_SOFTMAX = _softmax_ops()
_PRODUCTS = (Dot, *_sparse_products())


class Split:
    """The analysis of one traced graph: its row sums, the row counts it uses as numbers, and the
    class of every variable."""

    def __init__(self, outputs, data_inputs, guards=()):
        self.classes = {}
        self.why = {}  # global variable -> why it is not row-wise
        for var in graph_inputs(list(outputs) + [g.var for g in guards]):
            self.classes[var] = (
                ROW
                if var in data_inputs and var.ndim >= 1
                else (GLOBAL if var in data_inputs else PARAM)
            )
            if self.classes[var] == GLOBAL:
                self.why[var] = f"the data argument {var.name} is a scalar"
        self.consumers = {}
        self._classify(list(outputs) + [g.var for g in guards], self.classes)
        self.row_sums = [v for v, c in self.classes.items() if c == SUM]
        for var, cls in list(self.classes.items()):
            if cls == NROWS:
                self._separate_shape_uses(var)
        # row counts used as numbers (in arithmetic) become the total row count; those used as
        # shapes (np.ones(len(X)), np.arange(len(X))) stay the chunk's
        self.counts = [
            v
            for v, c in self.classes.items()
            if c == NROWS
            and not all(isinstance(n.op, _SHAPE_USES) for n in self.consumers.get(v, ()))
        ]

    def _separate_shape_uses(self, count):
        """`n = len(y)` used as a shape (np.arange(n)) and as a number (/ n): the shape uses get
        their own copy of the count (a clone of its node, in place in this trace's graph, which
        is the split's own), so that the number uses alone become the total row count."""
        uses = self.consumers.get(count, [])
        as_shape = [node for node in uses if isinstance(node.op, _SHAPE_USES)]
        if not as_shape or len(as_shape) == len(uses):
            return
        copy = count.owner.clone().outputs[count.owner.outputs.index(count)]
        self.classes[copy] = NROWS
        for node in as_shape:
            node.inputs = [copy if i is count else i for i in node.inputs]
        self.consumers[count] = [node for node in uses if node not in as_shape]
        self.consumers[copy] = as_shape

    def _classify(self, outputs, classes):
        for node in io_toposort([v for v in graph_inputs(outputs)], outputs):
            for var in node.inputs:
                self.consumers.setdefault(var, []).append(node)
            if all(out in classes for out in node.outputs):
                continue
            for out, (cls, why) in zip(node.outputs, _node_classes(node, classes)):
                classes[out] = cls
                if cls == GLOBAL:
                    self.why[out] = why

    def first_global(self, outputs):
        """The first global variable on the way to `outputs` that is built from non-global ones
        (where separability is lost), or None."""
        for node in io_toposort(list(graph_inputs(outputs)), outputs):
            for out in node.outputs:
                if self.classes.get(out) == GLOBAL and not any(
                    self.classes.get(i) == GLOBAL for i in node.inputs
                ):
                    return out
        for var in outputs:
            if self.classes.get(var) == GLOBAL:
                return var
        return None


def _node_classes(node, classes):
    """[(class, why if global)] for each output of node."""
    op, ins = node.op, [classes.get(i, PARAM) for i in node.inputs]
    if all(c == PARAM for c in ins):
        return [(PARAM, None)] * len(node.outputs)
    if isinstance(op, OpFromGraph):
        return _inner_graph(node, ins)
    if GLOBAL in ins:
        return [(GLOBAL, None)] * len(node.outputs)
    if ROWPOS in ins and not isinstance(op, _ROWPOS_USES):
        return [
            (
                GLOBAL,
                "np.arange over the rows is used as a value (on a chunk it counts from the "
                "chunk's first row); use it only to pick each row's own entries: "
                "z[np.arange(len(z)), y]",
            )
        ] * len(node.outputs)
    rule = next((r for types, r in _ROW_WISE_OPS if isinstance(op, types)), None)
    if rule is None:
        return [(GLOBAL, f"{type(op).__name__} is not known to work row by row")] * len(
            node.outputs
        )
    result = rule(node, [PARAM if c == STAT else c for c in ins])
    cls = result if isinstance(result, str) else result[0]
    if cls in (ROW, SUM) and (SUM in ins or STAT in ins):
        # a row sum inside a per-row term (x - np.mean(x)) would be the chunk's sum on a worker
        result = (
            GLOBAL,
            (
                "a sum or mean over the rows is used inside a per-row term (centring by the "
                "mean?); compute such statistics first and pass them to the loss as arguments"
            ),
        )
    elif cls == PARAM and (SUM in ins or STAT in ins):
        result = STAT
    return [result if isinstance(result, tuple) else (result, None)] * len(node.outputs)


def _elemwise(node, ins):
    if ins == [SHAPE] and isinstance(node.op.scalar_op, ScalarCast):
        return SHAPE  # np.mean's divisor: the shape, cast to float, then its first entry
    ins = _values(ins)
    if SHAPE in ins:
        return GLOBAL, "a shape vector of the data is used in arithmetic"
    out_ndim = node.outputs[0].ndim
    if ROW not in ins:
        return PARAM
    for var, cls in zip(node.inputs, ins):
        if cls == ROW and var.ndim != out_ndim:
            return GLOBAL, "a row-wise array is broadcast along a new leading axis"
        if cls == PARAM and var.ndim == out_ndim and out_ndim and not var.type.broadcastable[0]:
            return (
                GLOBAL,
                "an array as long as the data (not computed from it row by row) is combined with the rows",
            )
    return ROW


def _dimshuffle(node, ins):
    order = node.op.new_order
    if ins[0] in (ROW, ROWPOS):
        return (
            ins[0]
            if order and order[0] == 0
            else (GLOBAL, "the row axis is moved (a transpose of the data)")
        )
    return (
        _values(ins)[0] if ins[0] != SHAPE else (GLOBAL, "a shape vector of the data is reshaped")
    )


def _reduce(node, ins):
    if ins[0] != ROW:
        return (
            _values(ins)[0]
            if ins[0] != SHAPE
            else (GLOBAL, "a shape vector of the data is reduced")
        )
    axes = node.op.axis
    if axes is not None and 0 not in axes:
        return ROW
    if isinstance(node.op.scalar_op, ScalarAdd) and node.outputs[0].ndim == 0:
        return SUM
    if isinstance(node.op.scalar_op, ScalarAdd):
        return GLOBAL, "a sum over the rows that keeps other axes (sum to a scalar instead)"
    return (
        GLOBAL,
        f"{node.op} reduces over the rows (only sums and means over rows split into chunks)",
    )


def _dot(node, ins):
    a, b = ins
    if a == ROW and b in (PARAM, NROWS) and node.inputs[0].ndim == 2:
        return ROW
    return GLOBAL, "a matrix product contracts over the rows"


def _subtensor(node, ins):
    idx = node.op.idx_list
    if ins[0] == ROW:
        first = idx[0] if idx else slice(None)
        full = isinstance(first, slice) and first == slice(None) if idx else True
        if full and all(c == PARAM for c in _values(ins[1:])):
            return ROW
        return GLOBAL, "rows are selected by index (row-wise code indexes columns only: x[:, j])"
    if ins[0] == SHAPE:
        index = node.inputs[1] if len(node.inputs) > 1 else None
        if len(idx) == 1 and isinstance(index, Constant) and int(index.data) == 0:
            return NROWS
        return PARAM
    return GLOBAL, "a row count indexes an array"


def _shape(node, ins):
    return SHAPE if ins[0] in (ROW, ROWPOS) else PARAM


def _shape_i(node, ins):
    return NROWS if ins[0] in (ROW, ROWPOS) and node.op.i == 0 else PARAM


def _alloc(node, ins):
    value, *dims = ins
    if (
        dims
        and dims[0] == NROWS
        and _values([value])[0] == PARAM
        and all(c in (PARAM,) for c in _values(dims[1:]))
    ):
        return ROW
    return GLOBAL, "an array is allocated with a shape computed from the data"


def _same_rows(node, ins):
    return ins[0] if ins[0] in (ROW, PARAM) else (GLOBAL, None)


def _specify_shape(node, ins):
    return ins[0] if ins[0] in (ROW, ROWPOS, PARAM) else (GLOBAL, None)


def _softmax(node, ins):
    axis = node.op.axis
    if ins[0] == ROW and axis is not None and axis != 0 and axis != -node.inputs[0].ndim:
        return ROW
    return GLOBAL, "a softmax over the rows"


_ROW_WISE_OPS = [
    (Elemwise, _elemwise),
    (DimShuffle, _dimshuffle),
    (CAReduce, _reduce),
    (_PRODUCTS, _dot),
    (Subtensor, _subtensor),
    (INTEGER_INDEXING, advanced_subtensor),
    (ARange, arange),
    (Reshape, reshape),
    (Shape, _shape),
    (Shape_i, _shape_i),
    (Alloc, _alloc),
    (SpecifyShape, _specify_shape),
    (_sparse_conversions(), _same_rows),
    *([(_SOFTMAX, _softmax)] if _SOFTMAX else []),
]


def _inner_graph(node, ins):
    """An OpFromGraph (skautodiff's max with shared ties, ...): its inner graph classified with its
    inputs' classes."""
    inner = node.op.fgraph if hasattr(node.op, "fgraph") else None
    inner_inputs = inner.inputs if inner is not None else node.op.inner_inputs
    inner_outputs = inner.outputs if inner is not None else node.op.inner_outputs
    classes = dict(zip(inner_inputs, ins))
    for var in graph_inputs(inner_outputs):
        classes.setdefault(var, PARAM)
    first_why = None
    for inner_node in io_toposort(list(graph_inputs(inner_outputs)), inner_outputs):
        for out, (cls, why) in zip(inner_node.outputs, _node_classes(inner_node, classes)):
            classes[out] = cls
            first_why = first_why or (why if cls == GLOBAL else None)
    result = []
    for out in inner_outputs:
        cls = classes[out]
        if cls in (SUM, STAT):
            result.append((GLOBAL, "a sum over the rows inside a compound operation"))
        else:
            result.append((cls, first_why if cls == GLOBAL else None))
    return result


def _describe(var):
    node = var.owner
    return f"{node.op}" if node is not None else str(var)


def split(trace, data_names):
    """The Split of a trace whose arguments named in data_names are row-indexed data; raises
    NotSeparable when the loss is not a function of row sums, naming the line when it can."""
    data_inputs = {var for var, owner in zip(trace.inputs, _owners(trace)) if owner in data_names}
    outputs = list(trace.outputs)
    result = Split(outputs, data_inputs, trace.guards)
    for guard in trace.guards:
        if result.classes.get(guard.var) not in (PARAM, NROWS):
            raise NotSeparable(
                f"the loss branches on the values of the data at {guard.where}: "
                "a fit chunk by chunk needs the same branch for every chunk; "
                "compute both branches with np.where instead of `if`"
            )
    cls = result.classes.get(outputs[0])
    if cls == ROW:
        return _refuse(trace, outputs[0], "the loss returns a row-wise array, not a scalar")
    bad = result.first_global(outputs)
    if bad is not None:
        return _refuse(trace, bad, result.why.get(bad))
    if not result.row_sums:
        raise NotSeparable("the loss does not depend on the data")
    return result


def _owners(trace):
    from ..arguments import leaf_owners

    return leaf_owners(trace.treedef)


def _refuse(trace, var, why):
    from .locate import line_of

    where = line_of(var)
    raise NotSeparable(
        f"cannot fit {getattr(trace.func, '__qualname__', 'the loss')} chunk by chunk: "
        f"{why or 'this step mixes rows'} ({_describe(var)}"
        f"{', at ' + where if where else ''}). A dask fit needs the loss to be sums or means over "
        "rows of per-row terms (np.mean(per_row), np.sum(w * per_row) / np.sum(w)) plus terms of "
        "the parameters alone; write the per-row term first, then reduce it over the rows with "
        "np.sum or np.mean (or fit on an in-memory array: X.compute())"
    )


def count_input():
    """The total row count, an input of the split graphs in place of the chunk's."""
    return pt.scalar("n_rows", dtype="int64")
