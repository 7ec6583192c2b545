"""Tensor op handlers: one function per kind of PyTensor op, turning the converted inputs (TensorExpr) of an
Apply node into its converted outputs, and the table that maps op class names to them (OPS)."""

import numpy as np
import sympy
from pytensor.graph.basic import Constant
from pytensor.tensor.subtensor import indices_from_subtensor

from .elements import INDICES, TensorExpr, LazySum
from .scalars import SCALAR_OPS, as_number, apply_scalar_op, snake_case, sigmoid


# ------------------------------------------------------------------------------------ op handlers
def opaque(c, node, ins, name=None, extra=()):
    """An op with no SymPy counterpart: a named function of its whole arguments (cholesky(A))."""
    name = name or snake_case(type(node.op).__name__)
    args = [c.whole(t) for t in ins] + list(extra)
    outs = []
    for k, var in enumerate(node.outputs):
        f = sympy.Function(name if len(node.outputs) == 1 else f"{name}_{k}")(*args)
        shape = tuple(c.dim(s) for s in var.type.shape)
        if var.type.ndim == 0:
            outs.append(TensorExpr(f, shape))
        else:
            index = tuple(0 if b else INDICES[a] for a, b in enumerate(var.type.broadcastable))
            outs.append(TensorExpr(sympy.IndexedBase(f)[index], shape))
    return outs


def _elemwise(c, node, ins):
    out = node.outputs[0].type
    args = []
    for var, t in zip(node.inputs, ins):
        sub = {
            INDICES[a]: 0
            for a, b in enumerate(var.type.broadcastable)
            if b and not out.broadcastable[a]
        }
        args.append(t.elem.xreplace(sub) if sub else t.elem)
    shape = []
    for a in range(out.ndim):
        dims = [t.shape[a] for var, t in zip(node.inputs, ins) if not var.type.broadcastable[a]]
        for d in dims[1:]:
            c.unify(dims[0], d)
        shape.append(dims[0] if dims else sympy.Integer(1))
    results = apply_scalar_op(node.op.scalar_op, args)
    mat = _elemwise_mat(node, ins) if len(results) == 1 and out.ndim in (1, 2) else None
    return [TensorExpr(r, tuple(shape), mat) for r in results]


def _elemwise_mat(node, ins):
    """Matrix form of +, -, negation and scalar multiples of values that have one."""
    name = type(node.op.scalar_op).__name__
    full = node.outputs[0].type.broadcastable
    whole = [t.mat for var, t in zip(node.inputs, ins) if var.type.broadcastable == full]
    scalars = [t.elem for var, t in zip(node.inputs, ins) if all(var.type.broadcastable)]
    if len(whole) + len(scalars) != len(ins) or None in whole or not whole:
        return None
    if scalars and any(s.free_symbols & set(INDICES) for s in scalars):
        return None
    if name == "Add" and not scalars:
        return sympy.MatAdd(*whole)
    if name == "Sub" and not scalars:
        return whole[0] - whole[1]
    if name == "Neg":
        return -whole[0]
    if name in ("Identity", "Cast"):
        return whole[0]
    if name == "Mul" and len(whole) == 1:
        return sympy.Mul(*scalars) * whole[0]
    if name == "TrueDiv" and node.inputs[0].type.broadcastable == full and scalars:
        return whole[0] / scalars[0]
    return None


def _dimshuffle(c, node, ins):
    (t,) = ins
    order = tuple(node.op.new_order)
    sub, shape = {}, []
    for pos, a in enumerate(order):
        if a == "x":
            shape.append(sympy.Integer(1))
        else:
            sub[INDICES[a]] = INDICES[pos]
            shape.append(t.shape[a])
    for a in range(t.ndim):  # axes dropped by a DimShuffle have length 1
        if a not in order:
            sub[INDICES[a]] = 0
    kept = tuple(a for a in order if a != "x")
    mat = None
    if t.mat is not None:
        column = t.ndim == 1 or node.inputs[0].type.broadcastable[1:] == (True,)
        if t.ndim == 2 and order == (1, 0):
            mat = t.mat.T
        elif order in ((0, 1), (0, "x"), (0,)) and (t.ndim == 2 or column):
            mat = t.mat
        elif order == ("x", 0) and t.ndim == 1:
            mat = t.mat.T
        elif kept == (0,) and column and len(order) == 1:
            mat = t.mat
    return [TensorExpr(t.elem.xreplace(sub), tuple(shape), mat)]


def _reduce(c, node, ins):
    (t,) = ins
    kind = type(node.op.scalar_op).__name__
    axes = range(t.ndim) if node.op.axis is None else sorted(a % t.ndim for a in node.op.axis)
    if kind not in ("Add", "Mul"):
        name = {"Maximum": "max", "Minimum": "min", "AND": "all", "OR": "any"}.get(
            kind, snake_case(kind)
        )
        extra = () if node.op.axis is None or len(axes) == t.ndim else (sympy.Tuple(*axes),)
        return opaque(c, node, ins, name=name, extra=extra)
    elem, limits = t.elem, []
    for a in axes:
        if node.inputs[0].type.broadcastable[a]:
            elem = elem.xreplace({INDICES[a]: 0})
            continue
        k = c.fresh_index()
        elem = elem.xreplace({INDICES[a]: k})
        limits.append((k, 0, t.shape[a] - 1))
    keep = [a for a in range(t.ndim) if a not in axes]
    elem = elem.xreplace({INDICES[a]: INDICES[p] for p, a in enumerate(keep)})
    if limits:
        elem = (LazySum if kind == "Add" else sympy.Product)(elem, *limits)
    return [TensorExpr(elem, tuple(t.shape[a] for a in keep))]


def _contract(c, a, b, var_a, var_b):
    """numpy.dot for operands of rank <= 2: sum over a's last axis and b's first axis."""
    if a.ndim == 0 or b.ndim == 0:
        return None
    ax_a, ax_b = a.ndim - 1, 0
    k = c.fresh_index()
    out_a = list(range(a.ndim - 1))
    out_b = list(range(1, b.ndim))
    sub_a = {INDICES[ax_a]: k, **{INDICES[x]: INDICES[p] for p, x in enumerate(out_a)}}
    sub_b = {INDICES[ax_b]: k, **{INDICES[x]: INDICES[len(out_a) + p] for p, x in enumerate(out_b)}}
    c.unify(a.shape[ax_a], b.shape[ax_b])
    body = as_number(a.elem).xreplace(sub_a) * as_number(b.elem).xreplace(sub_b)
    if var_a.type.broadcastable[ax_a] or var_b.type.broadcastable[ax_b]:
        elem = body.xreplace({k: 0})
    else:
        elem = LazySum(body, (k, 0, a.shape[ax_a] - 1))
    shape = tuple(a.shape[x] for x in out_a) + tuple(b.shape[x] for x in out_b)
    mat = None
    if a.mat is not None and b.mat is not None:
        if a.ndim == 2:  # matrix @ matrix, matrix @ vector (vectors are columns)
            mat = a.mat * b.mat
        elif b.ndim == 2:  # vector @ matrix is a column again: B.T * a
            mat = b.mat.T * a.mat
    return TensorExpr(elem, shape, mat)


def _dot(c, node, ins):
    if len(ins) != 2 or max(t.ndim for t in ins) > 2:
        return opaque(c, node, ins)
    out = _contract(c, ins[0], ins[1], *node.inputs)
    return [out] if out is not None else opaque(c, node, ins)


def _blockwise(c, node, ins):
    if type(node.op.core_op).__name__ in ("Dot", "Matmul") and all(t.ndim == 2 for t in ins):
        return _dot(c, node, ins)
    return opaque(c, node, ins, name=snake_case(type(node.op.core_op).__name__))


def _identity(c, node, ins):
    return [ins[0]]


def _parts(parts):
    """A short vector given by its entries (a shape): entry k where the index equals k."""
    if len(parts) == 1:
        return parts[0]
    pieces = [(p, sympy.Eq(INDICES[0], k)) for k, p in enumerate(parts[:-1])]
    return sympy.Piecewise(*pieces, (parts[-1], True))


def _shape(c, node, ins):
    return [TensorExpr(_parts(list(ins[0].shape)), (sympy.Integer(ins[0].ndim),))]


def _shape_i(c, node, ins):
    return [TensorExpr(ins[0].shape[node.op.i], ())]


def _make_vector(c, node, ins):
    return [TensorExpr(_parts([t.elem for t in ins]), (sympy.Integer(len(ins)),))]


def _alloc(c, node, ins):
    value, dims = ins[0], ins[1:]
    out = node.outputs[0].type
    off = out.ndim - value.ndim
    bcast = node.inputs[0].type.broadcastable
    sub = {INDICES[b]: 0 if bcast[b] else INDICES[off + b] for b in range(value.ndim)}
    shape = tuple(c.dim(s) if s is not None else d.elem for s, d in zip(out.shape, dims))
    return [TensorExpr(value.elem.xreplace(sub), shape)]


def _slice_parts(c, entry, dim):
    """(start, length, step) of a slice with symbolic bounds; None when the step is not constant."""
    start, stop, step = (
        None if v is None else c.memo[v].elem for v in (entry.start, entry.stop, entry.step)
    )
    step = sympy.Integer(1) if step is None else step
    if not (step.is_Integer and step > 0):
        return None
    start = sympy.Integer(0) if start is None else (dim + start if start.is_negative else start)
    stop = dim if stop is None else (dim + stop if stop.is_negative else sympy.Min(stop, dim))
    return start, sympy.ceiling((stop - start) / step), step


def _index_entries(c, node, t, idx):
    """Per axis of the indexed value: ('slice', start, length, step) or ('int', value)."""
    entries = []
    for a in range(t.ndim):
        entry = idx[a] if a < len(idx) else slice(None)
        if isinstance(entry, slice):
            parts = _slice_parts(c, entry, t.shape[a])
            if parts is None:
                return None
            entries.append(("slice", *parts))
        else:
            v = c.memo[entry].elem
            entries.append(("int", t.shape[a] + v if v.is_negative else v))
    return entries


def _subtensor(c, node, ins):
    t = ins[0]
    entries = _index_entries(c, node, t, indices_from_subtensor(node.inputs[1:], node.op.idx_list))
    if entries is None:
        return opaque(c, node, ins)
    sub, shape = {}, []
    for a, entry in enumerate(entries):
        if entry[0] == "slice":
            _, start, length, step = entry
            sub[INDICES[a]] = start + step * INDICES[len(shape)]
            shape.append(length)
        else:
            sub[INDICES[a]] = entry[1]
    return [TensorExpr(t.elem.xreplace(sub), tuple(shape))]


def _inc_subtensor(c, node, ins):
    x, y = ins[0], ins[1]
    entries = _index_entries(c, node, x, indices_from_subtensor(node.inputs[2:], node.op.idx_list))
    if entries is None:
        return opaque(c, node, ins)
    conds, ypos = [], []
    for a, entry in enumerate(entries):
        i = INDICES[a]
        if entry[0] == "slice":
            _, start, length, step = entry
            end = start + step * length
            conds += [
                c for c in (i >= start, i < end) if c not in (i >= 0, i < x.shape[a])
            ]  # not 0:n
            if step != 1:
                conds.append(sympy.Eq(sympy.Mod(i - start, step), 0))
            ypos.append((i - start) / step)
        else:
            conds.append(sympy.Eq(i, entry[1]))
    ybcast = node.inputs[1].type.broadcastable
    off = len(ypos) - y.ndim
    ye = y.elem.xreplace({INDICES[b]: 0 if ybcast[b] else ypos[off + b] for b in range(y.ndim)})
    new = ye if node.op.set_instead_of_inc else as_number(x.elem) + as_number(ye)
    cond = sympy.And(*conds)
    elem = new if cond is sympy.true else sympy.Piecewise((new, cond), (x.elem, True))
    return [TensorExpr(elem, x.shape)]


def _single_index(node, first):
    """The integer index vector of x[idx] (advanced indexing on axis 0 only), else None."""
    rest = node.inputs[first:]
    if len(rest) == 1 and rest[0].type.ndim == 1 and rest[0].type.dtype.startswith(("int", "uint")):
        return rest[0]
    return None


def _advanced_subtensor(c, node, ins):
    idx = _single_index(node, 1)
    if idx is None:
        return opaque(c, node, ins)
    x, i = ins[0], c.memo[idx]
    return [TensorExpr(x.elem.xreplace({INDICES[0]: i.elem}), (i.shape[0], *x.shape[1:]))]


def _advanced_inc_subtensor(c, node, ins):
    idx = _single_index(node, 2)
    if idx is None or node.op.set_instead_of_inc:
        return opaque(c, node, ins)
    x, y, i = ins[0], ins[1], c.memo[idx]
    k = c.fresh_index()
    ybcast = node.inputs[1].type.broadcastable
    off = x.ndim - y.ndim  # y broadcasts against x[idx], whose axis 0 runs over idx
    ysub = {
        INDICES[b]: 0 if ybcast[b] else (k if off + b == 0 else INDICES[off + b])
        for b in range(y.ndim)
    }
    hit = sympy.Piecewise(
        (as_number(y.elem.xreplace(ysub)), sympy.Eq(i.elem.xreplace({INDICES[0]: k}), INDICES[0])),
        (0, True),
    )
    return [TensorExpr(as_number(x.elem) + LazySum(hit, (k, 0, i.shape[0] - 1)), x.shape)]


def _axis_and_operands(node, ins, position):
    """Join/Split take the axis as an input on PyTensor 3.0 and as a property on 3.3."""
    axis = getattr(node.op, "axis", None)
    if isinstance(axis, (int, np.integer)):
        return int(axis), list(ins)
    axis_var = node.inputs[position]
    if not isinstance(axis_var, Constant):
        return None, None
    return int(axis_var.data), ins[:position] + ins[position + 1 :]


def _join(c, node, ins):
    axis, parts = _axis_and_operands(node, ins, 0)
    if axis is None:
        return opaque(c, node, ins)
    axis %= parts[0].ndim
    i, offset, pieces = INDICES[axis], sympy.Integer(0), []
    for t in parts:
        pieces.append((t.elem.xreplace({i: i - offset}), i < offset + t.shape[axis]))
        offset = offset + t.shape[axis]
        for a in range(t.ndim):
            if a != axis:
                c.unify(parts[0].shape[a], t.shape[a])
    pieces[-1] = (pieces[-1][0], True)
    shape = tuple(offset if a == axis else d for a, d in enumerate(parts[0].shape))
    return [TensorExpr(sympy.Piecewise(*pieces), shape)]


def _split(c, node, ins):
    """The gradient of concatenate: output k is x shifted by the sizes of the parts before it."""
    axis, operands = _axis_and_operands(node, ins, 1)
    if axis is None:
        return opaque(c, node, ins)
    x, sizes = operands
    axis %= x.ndim
    i, offset, outs = INDICES[axis], sympy.Integer(0), []
    for k in range(len(node.outputs)):
        size = sizes.elem.xreplace({INDICES[0]: k}) if sizes.ndim else sizes.elem
        shape = tuple(size if a == axis else d for a, d in enumerate(x.shape))
        outs.append(TensorExpr(x.elem.xreplace({i: i + offset}), shape))
        offset = offset + size
    return outs


def _softmax_parts(c, node, t):
    """The element and sum(exp(...)) over the softmax axes (an int, a tuple, or None for all)."""
    axis = node.op.axis
    axes = (
        range(t.ndim)
        if axis is None
        else [a % t.ndim for a in ((axis,) if isinstance(axis, int) else axis)]
    )
    body, limits = sympy.exp(t.elem), []
    for a in axes:
        k = c.fresh_index()
        body = body.xreplace({INDICES[a]: k})
        limits.append((k, 0, t.shape[a] - 1))
    return t.elem, LazySum(body, *limits)


def _softmax(c, node, ins):
    x, total = _softmax_parts(c, node, ins[0])
    return [TensorExpr(sympy.exp(x) / total, ins[0].shape)]


def _log_softmax(c, node, ins):
    x, total = _softmax_parts(c, node, ins[0])
    return [TensorExpr(x - sympy.log(total), ins[0].shape)]


def _op_from_graph(c, node, ins):
    """Ops defined by an inner graph (LogAddExp and its derivative on PyTensor 3.3): inline them."""
    op = node.op
    if type(op).__name__ == "LogAddExp":
        return _elemwise_rule(c, node, ins, SCALAR_OPS["LogAddExp"])
    forward = node.inputs[-2].owner if len(node.inputs) > 2 else None
    if (
        forward is not None
        and type(forward.op).__name__ == "LogAddExp"
        and forward.inputs == node.inputs[:-2]
    ):
        return _logaddexp_derivative(c, node, ins)
    saved, c.memo = c.memo, dict(zip(op.inner_inputs, ins))
    try:
        return c.convert(list(op.inner_outputs))
    finally:
        c.memo = saved


def _logaddexp_derivative(c, node, ins):
    """Pullback of logaddexp(a_0, a_1, ...): g * exp(a_k) / sum_j exp(a_j), summed over the axes
    along which a_k was broadcast. Inlining PyTensor's own graph would show its max-shift trick."""
    *operands, out, grad = ins
    out_type = node.inputs[-2].type
    args = []
    for var, t in zip(node.inputs[:-2], operands):
        off = out_type.ndim - var.type.ndim
        sub = {
            INDICES[b]: 0 if var.type.broadcastable[b] else INDICES[off + b]
            for b in range(var.type.ndim)
        }
        args.append(t.elem.xreplace(sub))
    total = sympy.Add(*(sympy.exp(a) for a in args))
    results = []
    for k, (var, t, a) in enumerate(zip(node.inputs[:-2], operands, args)):
        if len(args) == 2:  # exp(a)/(exp(a) + exp(b)) is sigmoid(a - b)
            elem = grad.elem * sigmoid(a - args[1 - k])
        else:
            elem = grad.elem * sympy.exp(a) / total
        off = out_type.ndim - var.type.ndim
        summed = [
            ax
            for ax in range(out_type.ndim)
            if ax < off or (var.type.broadcastable[ax - off] and not out_type.broadcastable[ax])
        ]
        limits = []
        for ax in summed:
            k = c.fresh_index()
            elem = elem.xreplace({INDICES[ax]: k})
            limits.append((k, 0, out.shape[ax] - 1))
        elem = elem.xreplace({INDICES[off + b]: INDICES[b] for b in range(var.type.ndim)})
        results.append(TensorExpr(LazySum(elem, *limits) if limits else elem, t.shape))
    return results


def _elemwise_rule(c, node, ins, rule):
    """A tensor op that is elementwise with broadcasting, given by a scalar rule."""
    out = node.outputs[0].type
    args = []
    for var, t in zip(node.inputs, ins):
        off = out.ndim - var.type.ndim
        sub = {
            INDICES[b]: 0 if var.type.broadcastable[b] else INDICES[off + b]
            for b in range(var.type.ndim)
        }
        args.append(t.elem.xreplace(sub))
    shape = tuple(c.dim(s) for s in out.shape)
    for a in range(out.ndim):
        for var, t in zip(node.inputs, ins):
            off = out.ndim - var.type.ndim
            if a >= off and not var.type.broadcastable[a - off]:
                c.unify(shape[a], t.shape[a - off])
    return [TensorExpr(rule(*args), shape)]


# Keyed by op class name (looked up along the MRO), so PyTensor's renames between versions only add keys.
OPS = {
    "Elemwise": _elemwise,
    "DimShuffle": _dimshuffle,
    "CAReduce": _reduce,
    "Dot": _dot,
    "Matmul": _dot,
    "Dot22": _dot,
    "Blockwise": _blockwise,
    "Shape": _shape,
    "Shape_i": _shape_i,
    "MakeVector": _make_vector,
    "Alloc": _alloc,
    "Subtensor": _subtensor,
    "IncSubtensor": _inc_subtensor,
    "AdvancedSubtensor1": _advanced_subtensor,
    "AdvancedSubtensor": _advanced_subtensor,
    "AdvancedIncSubtensor1": _advanced_inc_subtensor,
    "AdvancedIncSubtensor": _advanced_inc_subtensor,
    "Join": _join,
    "Split": _split,
    "Softmax": _softmax,
    "LogSoftmax": _log_softmax,
    "OpFromGraph": _op_from_graph,
    "SpecifyShape": _identity,
    "CheckAndRaise": _identity,
    "DeepCopyOp": _identity,
    "ViewOp": _identity,
    "OutputGuard": _identity,
    "ScalarFromTensor": _identity,
    "TensorFromScalar": _identity,
}
