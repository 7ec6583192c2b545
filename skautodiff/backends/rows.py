"""Row buckets for the JAX backend: one XLA compilation serves data sets of different sizes.

XLA compiles a function once per input shapes, so a grid search whose folds differ by a row would
compile once per fold. Here the data's rows are padded up to one of a few sizes (`bucket`) and the
graph is rewritten (`mask_rows`) so that padded rows change nothing, exactly:

* every reduction over the rows sees padded rows as its identity (0 for a sum, 1 for a product,
  -inf for a max, ...), and a matrix product that contracts the rows multiplies them by 0;
* every shape the graph reads is the true one: `X.shape[0]` (so `np.mean`, which divides by it,
  and the user's own `/ len(X)`) is the row count `n`, an input of the compiled function.

Padded rows are copies of the first row, so every value computed on them is finite wherever the
loss is: their gradient contributions are 0 times a finite number, exactly 0. The rewrite is
applied to the traced loss before it is differentiated, so the gradient is that of the rewritten
loss, which equals the original at every point.

The rewrite follows the row axis of every value from the data to the outputs and knows a small
set of operations (elementwise operations, transposes and broadcasts, reductions, matrix
products, basic indexing that keeps every row, shapes). Anything else that touches the rows (a
sort, a reshape, indexing rows, an array of fixed length combined with the rows) raises
`NotRowwise`, and the function is compiled for the data's exact shapes instead: correct, one
compilation per size.
"""

import math

import numpy as np


class NotRowwise(Exception):
    """The graph does something with the rows that padding could change."""


def bucket(n):
    """The padded row count for n rows: n rounded up to a multiple of 2**(floor(log2 n) - 3), so
    at most 1/8 of the rows are padding and each power of two holds at most 8 sizes."""
    if n <= 16:
        return n
    step = 2 ** (int(math.log2(n)) - 3)
    return -(-n // step) * step


def pad(array, size):
    """`array` with copies of its first row appended up to `size` rows (a JAX array is padded
    where it lives, on its device)."""
    from ..pytree import is_jax_array

    if is_jax_array(array):
        import jax.numpy as jnp

        from .jax import x64

        if size <= array.shape[0]:
            return array
        with x64():  # (float64 stays float64)
            return jnp.concatenate([array, jnp.repeat(array[:1], size - array.shape[0], axis=0)])
    array = np.asarray(array)
    extra = size - array.shape[0]
    if extra <= 0:
        return array
    return np.concatenate([array, np.repeat(array[:1], extra, axis=0)])


def paddable(trace, rows):
    """Of the leaf positions `rows` (data whose first axis is the samples), those that padding
    can lengthen: not optimised, and with a first axis that is not fixed at length 1."""
    inputs = trace.all_inputs
    return tuple(
        i
        for i in rows
        if i not in trace.wrt_leaves
        and inputs[i].type.ndim >= 1
        and not inputs[i].type.broadcastable[0]
    )


def mask_rows(inputs, outputs, rows):
    """(inputs, outputs) of a graph equal to `outputs` in which the inputs at positions `rows`
    may carry padded rows: the inputs come back with the row count `n` (an int64 scalar) and the
    mask of real rows (a bool vector, `np.arange(padded) < n`) last. (The mask is an input rather
    than `arange(X.shape[0]) < n` in the graph: PyTensor's JAX arange needs constant arguments.)

    Raises NotRowwise naming the first operation the rewrite cannot prove row-wise."""
    import pytensor.tensor as pt
    from pytensor.graph.traversal import io_toposort

    n = pt.lscalar("n_rows")
    mask = pt.vector("real_rows", dtype="bool")
    new, axis = {}, {}
    for i, var in enumerate(inputs):
        new[var], axis[var] = var, (0 if i in rows else None)
    for node in io_toposort(list(inputs), list(outputs)):
        ins = [new.get(v, v) for v in node.inputs]
        axes = [axis.get(v) for v in node.inputs]
        if all(a is None for a in axes):
            outs = (
                node.outputs
                if all(a is b for a, b in zip(ins, node.inputs))
                else node.op.make_node(*ins).outputs
            )
            out_axes = [None] * len(outs)
        else:
            outs, out_axes = _rule(node, ins, axes, n, mask)
        for old, var, a in zip(node.outputs, outs, out_axes):
            new[old], axis[old] = var, a
    results = []
    for out in outputs:
        if axis.get(out) is not None:
            raise NotRowwise("an output has one entry per row")
        results.append(new.get(out, out))
    return [*inputs, n, mask], results


def _rule(node, ins, axes, n, mask):
    """(outputs, their row axes) of one node with at least one input carrying rows."""
    import pytensor.tensor as pt
    from pytensor.tensor.elemwise import CAReduce, DimShuffle, Elemwise
    from pytensor.tensor.math import Dot
    from pytensor.tensor.shape import Shape, Shape_i
    from pytensor.tensor.subtensor import Subtensor

    from ..symbolic.elementwise import LogAddExp
    from ..symbolic.reductions import SharedTies

    op = node.op
    name = type(op).__name__
    if isinstance(op, (Elemwise, LogAddExp)):
        row = {a for a in axes if a is not None}
        if len(row) != 1:
            raise NotRowwise(f"{name} combines values whose rows lie on different axes")
        a = row.pop()
        for var, ax in zip(ins, axes):
            if ax is None and var.type.ndim > a and not var.type.broadcastable[a]:
                raise NotRowwise(f"{name} combines the rows with an array of fixed length")
        outs = op.make_node(*ins).outputs
        return outs, [a] * len(outs)
    if isinstance(op, DimShuffle):
        a = axes[0]
        if a not in op.new_order:
            raise NotRowwise("a transpose drops the row axis")
        return op.make_node(*ins).outputs, [op.new_order.index(a)]
    if isinstance(op, CAReduce):
        x, a = ins[0], axes[0]
        reduced = tuple(range(x.ndim)) if op.axis is None else tuple(op.axis)
        if a not in reduced:
            return op.make_node(x).outputs, [a - sum(r < a for r in reduced)]
        identity = _identity(op.scalar_op, x.dtype)
        where = mask.dimshuffle([0 if i == a else "x" for i in range(x.ndim)])
        masked = pt.switch(where, x, np.asarray(identity, dtype=x.dtype))
        return op.make_node(masked).outputs, [None]
    if isinstance(op, SharedTies):  # max/min with shared ties: keepdims over the inner axes
        inner = op.inner_outputs[0].owner
        while not isinstance(inner.op, CAReduce):  # keepdims: a DimShuffle of the reduction
            inner = inner.inputs[0].owner
        reduced = tuple(range(ins[0].ndim)) if inner.op.axis is None else tuple(inner.op.axis)
        if axes[0] in reduced:
            raise NotRowwise("a max or min over the rows")
        return op.make_node(*ins).outputs, [axes[0]]
    if isinstance(op, Shape):
        x, a = ins[0], axes[0]
        return [pt.stack([n if i == a else x.shape[i] for i in range(x.ndim)]).astype("int64")], [
            None
        ]
    if isinstance(op, Shape_i):
        if op.i == axes[0]:
            return [n.astype(node.outputs[0].dtype)], [None]
        return op.make_node(*ins).outputs, [None]
    if isinstance(op, Dot):
        return _dot(op, ins, axes, mask)
    if isinstance(op, Subtensor):
        return _subtensor(op, ins, axes)
    if _takes_rows(node) and axes[0] is None and axes[1] == 0:
        return op.make_node(*ins).outputs, [0]  # rows of a fixed table, chosen per data row
    raise NotRowwise(f"{name} on the rows")


def _takes_rows(node):
    """Whether the node is `table[index]` with one integer vector index: PyTensor < 3.3's
    AdvancedSubtensor1, which later releases fold into AdvancedSubtensor (one index, idx_list)."""
    from pytensor.tensor import subtensor

    take = getattr(subtensor, "AdvancedSubtensor1", None)
    if take is not None:
        return isinstance(node.op, take)
    idx_list = getattr(node.op, "idx_list", None)
    return (
        isinstance(node.op, subtensor.AdvancedSubtensor)
        and idx_list is not None
        and len(idx_list) == 1
        and not isinstance(idx_list[0], slice)
        and len(node.inputs) == 2
        and node.inputs[1].ndim == 1
        and node.inputs[1].dtype.startswith(("int", "uint"))
    )


def _identity(scalar_op, dtype):
    from pytensor.scalar import AND, OR, Add, Mul, ScalarMaximum, ScalarMinimum

    kind = np.dtype(dtype).kind
    if isinstance(scalar_op, Add):
        return 0
    if isinstance(scalar_op, Mul):
        return 1
    if isinstance(scalar_op, (ScalarMaximum, ScalarMinimum)):
        low = isinstance(scalar_op, ScalarMaximum)
        if kind == "f":
            return -np.inf if low else np.inf
        if kind == "b":
            return not low
        info = np.iinfo(dtype)
        return info.min if low else info.max
    if isinstance(scalar_op, AND):
        return True
    if isinstance(scalar_op, OR):
        return False
    raise NotRowwise(f"a {type(scalar_op).__name__} reduction over the rows")


def _dot(op, ins, axes, mask):
    import pytensor.tensor as pt

    (x, y), (ax, ay) = ins, axes
    x_contracted = ax is not None and ax == x.ndim - 1
    y_contracted = ay is not None and ay == 0
    if x_contracted and y_contracted:  # the rows are summed over: padded ones must add 0
        where = mask.dimshuffle([0 if i == 0 else "x" for i in range(y.ndim)])
        return op.make_node(x, pt.switch(where, y, np.asarray(0, dtype=y.dtype))).outputs, [None]
    if x_contracted or y_contracted:
        raise NotRowwise("a matrix product pairs the rows with an array of fixed length")
    if ax is not None and ay is not None:
        raise NotRowwise("a matrix product of the rows with the rows (n x n)")
    if ax is not None:
        return op.make_node(x, y).outputs, [ax]
    return op.make_node(x, y).outputs, [x.ndim - 1 + ay - 1]


def _subtensor(op, ins, axes):
    """Basic indexing that keeps every row (a full slice on the row axis, or no index there)."""
    from pytensor.scalar import ScalarType

    a = axes[0]
    if any(ax is not None for ax in axes[1:]):
        raise NotRowwise("an index computed from the rows")
    entries = list(op.idx_list)
    if a < len(entries):
        entry = entries[a]
        if not (isinstance(entry, slice) and entry == slice(None, None, None)):
            raise NotRowwise("indexing selects rows")
    dropped = sum(isinstance(e, ScalarType) or not isinstance(e, slice) for e in entries[:a])
    return op.make_node(*ins).outputs, [a - dropped]
