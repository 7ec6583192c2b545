"""Readable formulas: a PyTensor graph shown as mathematics (SymPy, plain text, LaTeX).

How a tensor becomes SymPy: every value is converted to the expression of *one element*, written in
canonical free index symbols (one per axis), together with its symbolic shape. Elementwise ops act on
that expression directly, a reduction turns an index into the dummy of a ``Sum``, a transpose swaps
indices, broadcasting substitutes 0 for a length-1 axis. This works for any rank and any mix of ops,
and it is what ``Formula.evaluate`` computes. Beside it, values built only from matrix algebra
(symbols, dot, transpose, sums, scalar multiples) also carry a ``MatrixExpr`` (``X*w``, ``X.T*X``).

At display time an output is shown, in order of preference, as
  * the element expression with the indices dropped, when it is elementwise in the inputs
    (``2*x + 2``),
  * the matrix expression, when there is one (``X.T*X``),
  * the indexed element expression, with the indices on the label (``∂f/∂w[j] = Sum(...)``).

Dimensions are unknown sizes (``n``, ``m``): an elementwise op or a dot product makes the dimensions
it combines equal (union-find), so ``X`` (n×m), ``w`` (m) and ``y`` (n) share their symbols.
Ops with no SymPy counterpart become named functions (``cholesky(A)``) instead of failing.
"""
from __future__ import annotations

import itertools
import re
import threading
from dataclasses import dataclass
from fractions import Fraction

import numpy as np
import sympy
from pytensor.graph.basic import Constant
from pytensor.graph.fg import FunctionGraph
from pytensor.graph.rewriting.utils import rewrite_graph
from pytensor.tensor.subtensor import indices_from_subtensor

__all__ = ["Formula", "formula", "sigmoid"]

# Above these sizes an output is shown as a summary, and sympy.simplify is not attempted.
MAX_CHARS = 2000
MAX_NODES = 200  # larger graphs are converted only near their outputs, for the summary
SUMMARY_DEPTH = 3
SIMPLIFY_MAX_OPS = 80
SIMPLIFY_TIMEOUT = 2.0

# Canonical free indices: element expressions of an n-d value use _IDX[:n], axis a <-> _IDX[a].
# Indices are nonnegative integers, so that SymPy can drop conditions like i + n < n.
_INDEX = {"integer": True, "nonnegative": True}
_IDX = tuple(sympy.Symbol(f"_i{a}", **_INDEX) for a in range(32))
_DIM_NAMES = "n m p q N M P Q K L".split()
_INDEX_NAMES = "i j k l r s t u v a b c d e g h".split()


class sigmoid(sympy.Function):
    """The logistic function 1/(1 + exp(-x)); kept by name because gradients read better with it."""

    @classmethod
    def eval(cls, x):
        if x.is_zero:
            return sympy.Rational(1, 2)

    def fdiff(self, argindex=1):
        s = sigmoid(self.args[0])
        return s * (1 - s)

    def _eval_rewrite_as_exp(self, x, **kwargs):
        return 1 / (1 + sympy.exp(-x))

    def _eval_is_real(self):
        return self.args[0].is_real

    def _eval_evalf(self, prec):
        return self.rewrite(sympy.exp)._eval_evalf(prec)


class _Sum(sympy.Sum):
    """sympy.Sum without its Piecewise folding.

    Creating a Sum folds every Piecewise that mentions its dummy up to the top level, also one that
    sits inside an inner Sum and is conditioned on the inner dummy: Sum(Sum(Piecewise((1, Eq(s, 0)),
    (0, True)), (s, ...)) * f, (r, ...)) comes out with Eq(s, 0) outside the inner sum, which changes
    its meaning. The gradient of x[:, 0] builds exactly that, so Piecewise is masked while the
    Sum is made. ``_plain_sums`` turns these back into sympy.Sum wherever that is safe."""

    def __new__(cls, function, *limits, **kwargs):
        masks = {p: sympy.Dummy() for p in function.atoms(sympy.Piecewise)}
        obj = sympy.Sum.__new__(cls, function.xreplace(masks), *limits, **kwargs)
        if masks and isinstance(obj, cls):
            obj._args = (obj.function.xreplace({v: p for p, v in masks.items()}), *obj.limits)
        return obj


def _plain_sums(expr):
    """_Sum -> sympy.Sum where no Piecewise is inside (there the two are the same)."""
    return expr.replace(lambda e: type(e) is _Sum and not e.function.has(sympy.Piecewise),
                        lambda e: sympy.Sum(*e.args))


_LAMBDIFY_MODULES = [{"sigmoid": lambda x: 1 / (1 + np.exp(-x))}, "scipy", "numpy"]


@dataclass
class _T:
    """A converted tensor: element expression in _IDX, symbolic shape, optional matrix form."""

    elem: sympy.Basic
    shape: tuple
    mat: sympy.MatrixExpr | None = None

    @property
    def ndim(self):
        return len(self.shape)


# --------------------------------------------------------------------------------- numbers, booleans
def _number(value):
    """A numpy scalar as the SymPy number a person would write (2, 1/10, 0.3172)."""
    value = value.item() if hasattr(value, "item") else value
    if isinstance(value, (bool, np.bool_)):
        return sympy.true if value else sympy.false
    if isinstance(value, (int, np.integer)):
        return sympy.Integer(int(value))
    value = float(value)
    if np.isnan(value):
        return sympy.nan
    if np.isinf(value):
        return sympy.oo if value > 0 else -sympy.oo
    if value.is_integer() and abs(value) < 1e15:
        return sympy.Integer(int(value))
    frac = Fraction(value).limit_denominator(1000)
    if float(frac) == value:
        return sympy.Rational(frac.numerator, frac.denominator)
    return sympy.Float(value)


def _is_bool(e):
    # sympy.Symbol is a Boolean too: only relations, True/False and logic functions count here
    return isinstance(e, sympy.logic.boolalg.Boolean) and not isinstance(e, sympy.Expr)


def _num(e):
    """A boolean used in arithmetic counts as 1 or 0 (numpy's True + 1 == 2)."""
    return sympy.Piecewise((1, e), (0, True)) if _is_bool(e) else e


def _truth(e):
    return e if _is_bool(e) else sympy.Ne(e, 0)


# ----------------------------------------------------------------------------- scalar operations
def _binary(f):
    return lambda a, b: f(_num(a), _num(b))


def _unary(f):
    return lambda a: f(_num(a))


def _clip(x, lo, hi):
    return sympy.Min(sympy.Max(_num(x), _num(lo)), _num(hi))


# Keyed by the class name of the pytensor.scalar op, so that it is the same on every PyTensor version.
_SCALAR = {
    "Add": lambda *a: sympy.Add(*map(_num, a)),
    "Mul": lambda *a: sympy.Mul(*map(_num, a)),
    "Sub": _binary(lambda a, b: a - b),
    "TrueDiv": _binary(lambda a, b: a / b),
    "IntDiv": _binary(lambda a, b: sympy.floor(a / b)),
    "Mod": _binary(sympy.Mod),
    "Pow": _binary(sympy.Pow),
    "Neg": _unary(lambda a: -a),
    "Reciprocal": _unary(lambda a: 1 / a),
    "Sqr": _unary(lambda a: a**2),
    "Sqrt": _unary(sympy.sqrt),
    "Exp": _unary(sympy.exp),
    "Exp2": _unary(lambda a: 2**a),
    "Expm1": _unary(lambda a: sympy.exp(a) - 1),
    "Log": _unary(sympy.log),
    "Log2": _unary(lambda a: sympy.log(a, 2)),
    "Log10": _unary(lambda a: sympy.log(a, 10)),
    "Log1p": _unary(lambda a: sympy.log(1 + a)),
    "Log1mexp": _unary(lambda a: sympy.log(1 - sympy.exp(a))),
    "Softplus": _unary(lambda a: sympy.log(1 + sympy.exp(a))),
    "Sigmoid": _unary(sigmoid),
    "Abs": _unary(sympy.Abs),
    "Sign": _unary(sympy.sign),
    "Floor": _unary(sympy.floor),
    "Ceil": _unary(sympy.ceiling),
    "Tanh": _unary(sympy.tanh),
    "Sinh": _unary(sympy.sinh),
    "Cosh": _unary(sympy.cosh),
    "Sin": _unary(sympy.sin),
    "Cos": _unary(sympy.cos),
    "Tan": _unary(sympy.tan),
    "ArcSin": _unary(sympy.asin),
    "ArcCos": _unary(sympy.acos),
    "ArcTan": _unary(sympy.atan),
    "ArcTan2": _binary(sympy.atan2),
    "ArcTanh": _unary(sympy.atanh),
    "ArcSinh": _unary(sympy.asinh),
    "ArcCosh": _unary(sympy.acosh),
    "Erf": _unary(sympy.erf),
    "Erfc": _unary(sympy.erfc),
    "Erfinv": _unary(sympy.erfinv),
    "GammaLn": _unary(sympy.loggamma),
    "Gamma": _unary(sympy.gamma),
    "Psi": _unary(sympy.digamma),
    "TriGamma": _unary(lambda a: sympy.polygamma(1, a)),
    "Maximum": _binary(sympy.Max),
    "Minimum": _binary(sympy.Min),
    "Clip": _clip,
    "Switch": lambda c, a, b: sympy.Piecewise((_num(a), _truth(c)), (_num(b), True)),
    "GT": _binary(sympy.Gt),
    "GE": _binary(sympy.Ge),
    "LT": _binary(sympy.Lt),
    "LE": _binary(sympy.Le),
    "EQ": _binary(sympy.Eq),
    "NEQ": _binary(sympy.Ne),
    "AND": lambda *a: sympy.And(*map(_truth, a)),
    "OR": lambda *a: sympy.Or(*map(_truth, a)),
    "XOR": lambda a, b: sympy.Xor(_truth(a), _truth(b)),
    "Invert": lambda a: sympy.Not(_truth(a)),
    "IsInf": _unary(lambda a: sympy.Eq(sympy.Abs(a), sympy.oo)),
    "IsNan": _unary(lambda a: sympy.Ne(a, a)),
    "Second": lambda a, b: b,
    "Identity": lambda a: a,
    "Conj": lambda a: a,
    "Real": lambda a: a,
    "LogAddExp": lambda *a: sympy.log(sympy.Add(*(sympy.exp(_num(x)) for x in a))),
}


def _scalar_op(op, args):
    """Apply one pytensor.scalar op to SymPy arguments; returns the list of its outputs."""
    name = type(op).__name__
    if name == "Composite":  # a fused loop body: walk its scalar graph
        memo = dict(zip(op.inner_inputs, args))
        for var in _toposort(op.inner_outputs, memo):
            if var.owner is None:
                memo[var] = _number(var.data)
                continue
            for out, res in zip(var.owner.outputs, _scalar_op(var.owner.op, [memo[v] for v in var.owner.inputs])):
                memo[out] = res
        return [memo[v] for v in op.inner_outputs]
    if name == "Cast":  # casts are invisible, except between booleans and numbers
        (a,) = args
        return [_truth(a) if op.o_type.dtype == "bool" else _num(a)]
    rule = _SCALAR.get(name)
    if rule is None:  # no SymPy counterpart: keep it as a named function
        return [sympy.Function(_snake(name))(*map(_num, args))]
    return [rule(*args)]


def _toposort(outputs, known):
    """Variables in an order where every owner's inputs come first (iterative: graphs are deep)."""
    order, seen, stack = [], set(known), list(reversed(outputs))
    while stack:
        var = stack[-1]
        if var in seen:
            stack.pop()
            continue
        todo = [] if var.owner is None else [v for v in var.owner.inputs if v not in seen]
        if todo:
            stack.extend(reversed(todo))
            continue
        stack.pop()
        if var.owner is not None:
            seen.update(var.owner.outputs)
        else:
            seen.add(var)
        order.append(var)
    return order


def _snake(name):
    return re.sub(r"(?<=[a-z0-9])(?=[A-Z])", "_", name).lower()


# ------------------------------------------------------------------------------------- converter
class _Converter:
    """Turns PyTensor variables into _T values; owns the dimension symbols and their unification."""

    def __init__(self, names):
        self.names = names
        self.parent = {}
        self.counter = itertools.count()
        self.memo = {}

    # dimensions -------------------------------------------------------------------------------
    def dim(self, static=None):
        if static is not None:
            return sympy.Integer(static)
        return sympy.Symbol(f"_d{next(self.counter)}", integer=True, positive=True)

    def find(self, d):
        while d in self.parent:
            d = self.parent[d]
        return d

    def unify(self, a, b):
        """Record that two dimensions are equal (they met in an elementwise op or a dot)."""
        a, b = self.find(a), self.find(b)
        if a == b:
            return
        if isinstance(b, sympy.Symbol) and b not in a.free_symbols:
            self.parent[b] = a
        elif isinstance(a, sympy.Symbol) and a not in b.free_symbols:
            self.parent[a] = b

    def resolve(self, expr):
        for _ in range(10):
            subs = {s: self.find(s) for s in expr.atoms(sympy.Symbol) if s in self.parent}  # atoms: also inside MatrixSymbol
            if not subs:
                break
            expr = expr.xreplace(subs)
        return expr

    def fresh_index(self):
        return sympy.Symbol(f"_s{next(self.counter)}", **_INDEX)

    # graph walk -------------------------------------------------------------------------------
    def convert(self, outputs):
        for var in _toposort(outputs, self.memo):
            if var.owner is None:
                self.memo[var] = self.leaf(var)
            else:
                self.apply(var.owner)
        return [self.memo[v] for v in outputs]

    def apply(self, node):
        ins = [self.memo[v] for v in node.inputs]
        handler = None
        for cls in type(node.op).__mro__:
            handler = _OPS.get(cls.__name__)
            if handler is not None:
                break
        outs = (handler or _opaque)(self, node, ins)
        for var, t in zip(node.outputs, outs):
            self.memo[var] = t

    def leaf(self, var):
        if not hasattr(var.type, "broadcastable"):  # pytensor.scalar values (indices of x[0])
            return _T(_number(var.data) if isinstance(var, Constant) else sympy.Symbol(self.names[var]), ())
        bcast = var.type.broadcastable
        if isinstance(var, Constant):
            return self.constant(var)
        shape = tuple(self.dim(s) for s in var.type.shape)
        name = self.names[var]
        kind = {"integer": True} if var.type.dtype.startswith(("int", "uint")) else {"real": True}
        if var.type.ndim == 0:
            return _T(sympy.Symbol(name, **kind), ())
        base = sympy.IndexedBase(name, **kind)
        elem = base[tuple(0 if b else _IDX[a] for a, b in enumerate(bcast))]
        mat = None
        if var.type.ndim in (1, 2) and not any(bcast):
            mat = sympy.MatrixSymbol(name, shape[0], shape[1] if var.type.ndim == 2 else 1)
        return _T(elem, shape, mat)

    def constant(self, var):
        data = np.asarray(var.data)
        shape = tuple(sympy.Integer(s) for s in data.shape)
        if data.size and (data == data.flat[0]).all():
            return _T(_number(data.flat[0]), shape)
        nums = np.vectorize(_number, otypes=[object])(data).tolist() if data.size else []
        index = tuple(_IDX[: data.ndim])
        return _T(sympy.Array(nums, data.shape)[index] if data.ndim else nums, shape)

    def cut_below(self, outputs, depth):
        """Stand an ellipsis in for every value more than ``depth`` ops below the outputs."""
        level = list(outputs)
        for _ in range(depth):
            level = [v for var in level if var.owner is not None for v in var.owner.inputs]
        for var in level:
            if var.owner is not None and var not in self.memo:
                shape = tuple(self.dim(s) for s in var.type.shape)
                dots = sympy.Symbol(f"…{len(self.memo)}")  # distinct, or SymPy would merge …*… into …**2
                self.memo[var] = _T(sympy.IndexedBase(dots)[_IDX[: len(shape)]] if shape else dots, shape)

    def whole(self, t):
        """A value as one SymPy object (for arguments of named functions): x, X.T, Lambda(i, ...)."""
        if t.ndim == 0:
            return t.elem
        if t.mat is not None:
            return t.mat
        stripped = _strip(t.elem, t.ndim)
        if stripped is not None:
            return stripped
        return sympy.Lambda(_IDX[: t.ndim], t.elem)


def _strip(elem, ndim):
    """x[i]*2 + 2 -> x*2 + 2 when every indexed input is read at exactly the output's indices."""
    free = _IDX[:ndim]
    subs = {}
    for ix in elem.atoms(sympy.Indexed):
        if ix.indices != free:
            return None
        label = ix.base.label
        subs[ix] = sympy.Symbol(label.name, **label.assumptions0) if isinstance(label, sympy.Symbol) else label
    out = elem.xreplace(subs)
    if out.free_symbols & set(free):
        return None
    return out


# ------------------------------------------------------------------------------------ op handlers
def _opaque(c, node, ins, name=None, extra=()):
    """An op with no SymPy counterpart: a named function of its whole arguments (cholesky(A))."""
    name = name or _snake(type(node.op).__name__)
    args = [c.whole(t) for t in ins] + list(extra)
    outs = []
    for k, var in enumerate(node.outputs):
        f = sympy.Function(name if len(node.outputs) == 1 else f"{name}_{k}")(*args)
        shape = tuple(c.dim(s) for s in var.type.shape)
        if var.type.ndim == 0:
            outs.append(_T(f, shape))
        else:
            index = tuple(0 if b else _IDX[a] for a, b in enumerate(var.type.broadcastable))
            outs.append(_T(sympy.IndexedBase(f)[index], shape))
    return outs


def _elemwise(c, node, ins):
    out = node.outputs[0].type
    args = []
    for var, t in zip(node.inputs, ins):
        sub = {_IDX[a]: 0 for a, b in enumerate(var.type.broadcastable) if b and not out.broadcastable[a]}
        args.append(t.elem.xreplace(sub) if sub else t.elem)
    shape = []
    for a in range(out.ndim):
        dims = [t.shape[a] for var, t in zip(node.inputs, ins) if not var.type.broadcastable[a]]
        for d in dims[1:]:
            c.unify(dims[0], d)
        shape.append(dims[0] if dims else sympy.Integer(1))
    results = _scalar_op(node.op.scalar_op, args)
    mat = _elemwise_mat(node, ins) if len(results) == 1 and out.ndim in (1, 2) else None
    return [_T(r, tuple(shape), mat) for r in results]


def _elemwise_mat(node, ins):
    """Matrix form of +, -, negation and scalar multiples of values that have one."""
    name = type(node.op.scalar_op).__name__
    full = node.outputs[0].type.broadcastable
    whole = [t.mat for var, t in zip(node.inputs, ins) if var.type.broadcastable == full]
    scalars = [t.elem for var, t in zip(node.inputs, ins) if all(var.type.broadcastable)]
    if len(whole) + len(scalars) != len(ins) or None in whole or not whole:
        return None
    if scalars and any(s.free_symbols & set(_IDX) for s in scalars):
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
            sub[_IDX[a]] = _IDX[pos]
            shape.append(t.shape[a])
    for a in range(t.ndim):  # axes dropped by a DimShuffle have length 1
        if a not in order:
            sub[_IDX[a]] = 0
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
    return [_T(t.elem.xreplace(sub), tuple(shape), mat)]


def _reduce(c, node, ins):
    (t,) = ins
    kind = type(node.op.scalar_op).__name__
    axes = range(t.ndim) if node.op.axis is None else sorted(a % t.ndim for a in node.op.axis)
    if kind not in ("Add", "Mul"):
        name = {"Maximum": "max", "Minimum": "min", "AND": "all", "OR": "any"}.get(kind, _snake(kind))
        extra = () if node.op.axis is None or len(axes) == t.ndim else (sympy.Tuple(*axes),)
        return _opaque(c, node, ins, name=name, extra=extra)
    elem, limits = t.elem, []
    for a in axes:
        if node.inputs[0].type.broadcastable[a]:
            elem = elem.xreplace({_IDX[a]: 0})
            continue
        k = c.fresh_index()
        elem = elem.xreplace({_IDX[a]: k})
        limits.append((k, 0, t.shape[a] - 1))
    keep = [a for a in range(t.ndim) if a not in axes]
    elem = elem.xreplace({_IDX[a]: _IDX[p] for p, a in enumerate(keep)})
    if limits:
        elem = (_Sum if kind == "Add" else sympy.Product)(elem, *limits)
    return [_T(elem, tuple(t.shape[a] for a in keep))]


def _contract(c, a, b, var_a, var_b):
    """numpy.dot for operands of rank <= 2: sum over a's last axis and b's first axis."""
    if a.ndim == 0 or b.ndim == 0:
        return None
    ax_a, ax_b = a.ndim - 1, 0
    k = c.fresh_index()
    out_a = list(range(a.ndim - 1))
    out_b = list(range(1, b.ndim))
    sub_a = {_IDX[ax_a]: k, **{_IDX[x]: _IDX[p] for p, x in enumerate(out_a)}}
    sub_b = {_IDX[ax_b]: k, **{_IDX[x]: _IDX[len(out_a) + p] for p, x in enumerate(out_b)}}
    c.unify(a.shape[ax_a], b.shape[ax_b])
    body = _num(a.elem).xreplace(sub_a) * _num(b.elem).xreplace(sub_b)
    if var_a.type.broadcastable[ax_a] or var_b.type.broadcastable[ax_b]:
        elem = body.xreplace({k: 0})
    else:
        elem = _Sum(body, (k, 0, a.shape[ax_a] - 1))
    shape = tuple(a.shape[x] for x in out_a) + tuple(b.shape[x] for x in out_b)
    mat = None
    if a.mat is not None and b.mat is not None:
        if a.ndim == 2:  # matrix @ matrix, matrix @ vector (vectors are columns)
            mat = a.mat * b.mat
        elif b.ndim == 2:  # vector @ matrix is a column again: B.T * a
            mat = b.mat.T * a.mat
    return _T(elem, shape, mat)


def _dot(c, node, ins):
    if len(ins) != 2 or max(t.ndim for t in ins) > 2:
        return _opaque(c, node, ins)
    out = _contract(c, ins[0], ins[1], *node.inputs)
    return [out] if out is not None else _opaque(c, node, ins)


def _blockwise(c, node, ins):
    if type(node.op.core_op).__name__ in ("Dot", "Matmul") and all(t.ndim == 2 for t in ins):
        return _dot(c, node, ins)
    return _opaque(c, node, ins, name=_snake(type(node.op.core_op).__name__))


def _identity(c, node, ins):
    return [ins[0]]


def _parts(parts):
    """A short vector given by its entries (a shape): entry k where the index equals k."""
    if len(parts) == 1:
        return parts[0]
    pieces = [(p, sympy.Eq(_IDX[0], k)) for k, p in enumerate(parts[:-1])]
    return sympy.Piecewise(*pieces, (parts[-1], True))


def _shape(c, node, ins):
    return [_T(_parts(list(ins[0].shape)), (sympy.Integer(ins[0].ndim),))]


def _shape_i(c, node, ins):
    return [_T(ins[0].shape[node.op.i], ())]


def _make_vector(c, node, ins):
    return [_T(_parts([t.elem for t in ins]), (sympy.Integer(len(ins)),))]


def _alloc(c, node, ins):
    value, dims = ins[0], ins[1:]
    out = node.outputs[0].type
    off = out.ndim - value.ndim
    bcast = node.inputs[0].type.broadcastable
    sub = {_IDX[b]: 0 if bcast[b] else _IDX[off + b] for b in range(value.ndim)}
    shape = tuple(c.dim(s) if s is not None else d.elem for s, d in zip(out.shape, dims))
    return [_T(value.elem.xreplace(sub), shape)]


def _slice_parts(c, entry, dim):
    """(start, length, step) of a slice with symbolic bounds; None when the step is not constant."""
    start, stop, step = (None if v is None else c.memo[v].elem for v in (entry.start, entry.stop, entry.step))
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
        return _opaque(c, node, ins)
    sub, shape = {}, []
    for a, entry in enumerate(entries):
        if entry[0] == "slice":
            _, start, length, step = entry
            sub[_IDX[a]] = start + step * _IDX[len(shape)]
            shape.append(length)
        else:
            sub[_IDX[a]] = entry[1]
    return [_T(t.elem.xreplace(sub), tuple(shape))]


def _inc_subtensor(c, node, ins):
    x, y = ins[0], ins[1]
    entries = _index_entries(c, node, x, indices_from_subtensor(node.inputs[2:], node.op.idx_list))
    if entries is None:
        return _opaque(c, node, ins)
    conds, ypos = [], []
    for a, entry in enumerate(entries):
        i = _IDX[a]
        if entry[0] == "slice":
            _, start, length, step = entry
            end = start + step * length
            conds += [c for c in (i >= start, i < end) if c not in (i >= 0, i < x.shape[a])]  # not 0:n
            if step != 1:
                conds.append(sympy.Eq(sympy.Mod(i - start, step), 0))
            ypos.append((i - start) / step)
        else:
            conds.append(sympy.Eq(i, entry[1]))
    ybcast = node.inputs[1].type.broadcastable
    off = len(ypos) - y.ndim
    ye = y.elem.xreplace({_IDX[b]: 0 if ybcast[b] else ypos[off + b] for b in range(y.ndim)})
    new = ye if node.op.set_instead_of_inc else _num(x.elem) + _num(ye)
    cond = sympy.And(*conds)
    elem = new if cond is sympy.true else sympy.Piecewise((new, cond), (x.elem, True))
    return [_T(elem, x.shape)]


def _single_index(node, first):
    """The integer index vector of x[idx] (advanced indexing on axis 0 only), else None."""
    rest = node.inputs[first:]
    if len(rest) == 1 and rest[0].type.ndim == 1 and rest[0].type.dtype.startswith(("int", "uint")):
        return rest[0]
    return None


def _advanced_subtensor(c, node, ins):
    idx = _single_index(node, 1)
    if idx is None:
        return _opaque(c, node, ins)
    x, i = ins[0], c.memo[idx]
    return [_T(x.elem.xreplace({_IDX[0]: i.elem}), (i.shape[0], *x.shape[1:]))]


def _advanced_inc_subtensor(c, node, ins):
    idx = _single_index(node, 2)
    if idx is None or node.op.set_instead_of_inc:
        return _opaque(c, node, ins)
    x, y, i = ins[0], ins[1], c.memo[idx]
    k = c.fresh_index()
    ybcast = node.inputs[1].type.broadcastable
    off = x.ndim - y.ndim  # y broadcasts against x[idx], whose axis 0 runs over idx
    ysub = {_IDX[b]: 0 if ybcast[b] else (k if off + b == 0 else _IDX[off + b]) for b in range(y.ndim)}
    hit = sympy.Piecewise((_num(y.elem.xreplace(ysub)), sympy.Eq(i.elem.xreplace({_IDX[0]: k}), _IDX[0])), (0, True))
    return [_T(_num(x.elem) + _Sum(hit, (k, 0, i.shape[0] - 1)), x.shape)]


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
        return _opaque(c, node, ins)
    axis %= parts[0].ndim
    i, offset, pieces = _IDX[axis], sympy.Integer(0), []
    for t in parts:
        pieces.append((t.elem.xreplace({i: i - offset}), i < offset + t.shape[axis]))
        offset = offset + t.shape[axis]
        for a in range(t.ndim):
            if a != axis:
                c.unify(parts[0].shape[a], t.shape[a])
    pieces[-1] = (pieces[-1][0], True)
    shape = tuple(offset if a == axis else d for a, d in enumerate(parts[0].shape))
    return [_T(sympy.Piecewise(*pieces), shape)]


def _split(c, node, ins):
    """The gradient of concatenate: output k is x shifted by the sizes of the parts before it."""
    axis, operands = _axis_and_operands(node, ins, 1)
    if axis is None:
        return _opaque(c, node, ins)
    x, sizes = operands
    axis %= x.ndim
    i, offset, outs = _IDX[axis], sympy.Integer(0), []
    for k in range(len(node.outputs)):
        size = sizes.elem.xreplace({_IDX[0]: k}) if sizes.ndim else sizes.elem
        shape = tuple(size if a == axis else d for a, d in enumerate(x.shape))
        outs.append(_T(x.elem.xreplace({i: i + offset}), shape))
        offset = offset + size
    return outs


def _softmax_parts(c, node, t):
    """The element and sum(exp(...)) over the softmax axes (an int, a tuple, or None for all)."""
    axis = node.op.axis
    axes = range(t.ndim) if axis is None else [a % t.ndim for a in ((axis,) if isinstance(axis, int) else axis)]
    body, limits = sympy.exp(t.elem), []
    for a in axes:
        k = c.fresh_index()
        body = body.xreplace({_IDX[a]: k})
        limits.append((k, 0, t.shape[a] - 1))
    return t.elem, _Sum(body, *limits)


def _softmax(c, node, ins):
    x, total = _softmax_parts(c, node, ins[0])
    return [_T(sympy.exp(x) / total, ins[0].shape)]


def _log_softmax(c, node, ins):
    x, total = _softmax_parts(c, node, ins[0])
    return [_T(x - sympy.log(total), ins[0].shape)]


def _op_from_graph(c, node, ins):
    """Ops defined by an inner graph (LogAddExp and its derivative on PyTensor 3.3): inline them."""
    op = node.op
    if type(op).__name__ == "LogAddExp":
        return _elemwise_rule(c, node, ins, _SCALAR["LogAddExp"])
    forward = node.inputs[-2].owner if len(node.inputs) > 2 else None
    if forward is not None and type(forward.op).__name__ == "LogAddExp" and forward.inputs == node.inputs[:-2]:
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
        sub = {_IDX[b]: 0 if var.type.broadcastable[b] else _IDX[off + b] for b in range(var.type.ndim)}
        args.append(t.elem.xreplace(sub))
    total = sympy.Add(*(sympy.exp(a) for a in args))
    results = []
    for k, (var, t, a) in enumerate(zip(node.inputs[:-2], operands, args)):
        if len(args) == 2:  # exp(a)/(exp(a) + exp(b)) is sigmoid(a - b)
            elem = grad.elem * sigmoid(a - args[1 - k])
        else:
            elem = grad.elem * sympy.exp(a) / total
        off = out_type.ndim - var.type.ndim
        summed = [ax for ax in range(out_type.ndim) if ax < off or (var.type.broadcastable[ax - off] and not out_type.broadcastable[ax])]
        limits = []
        for ax in summed:
            k = c.fresh_index()
            elem = elem.xreplace({_IDX[ax]: k})
            limits.append((k, 0, out.shape[ax] - 1))
        elem = elem.xreplace({_IDX[off + b]: _IDX[b] for b in range(var.type.ndim)})
        results.append(_T(_Sum(elem, *limits) if limits else elem, t.shape))
    return results


def _elemwise_rule(c, node, ins, rule):
    """A tensor op that is elementwise with broadcasting, given by a scalar rule."""
    out = node.outputs[0].type
    args = []
    for var, t in zip(node.inputs, ins):
        off = out.ndim - var.type.ndim
        sub = {_IDX[b]: 0 if var.type.broadcastable[b] else _IDX[off + b] for b in range(var.type.ndim)}
        args.append(t.elem.xreplace(sub))
    shape = tuple(c.dim(s) for s in out.shape)
    for a in range(out.ndim):
        for var, t in zip(node.inputs, ins):
            off = out.ndim - var.type.ndim
            if a >= off and not var.type.broadcastable[a - off]:
                c.unify(shape[a], t.shape[a - off])
    return [_T(rule(*args), shape)]


# Keyed by op class name (looked up along the MRO), so PyTensor's renames between versions only add keys.
_OPS = {
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


# ------------------------------------------------------------------------------------ the Formula
@dataclass
class _Output:
    label: str
    expr: sympy.Basic  # what is shown: stripped element, matrix expression, or indexed element
    free: tuple  # the indices that the label carries (indexed display only)
    shape: tuple


def _tidy_sum(e):
    """A sum of a constant is a product; constant factors move out; a sum of a one-hot Piecewise
    (what the gradient of x[0] produces) is the one term it picks."""
    if len(e.limits) != 1:
        return e
    f, (k, lo, hi) = e.function, e.limits[0]
    if k not in f.free_symbols:
        return f * (hi - lo + 1)
    const, f = f.as_independent(k, as_Add=False)
    if isinstance(f, sympy.Piecewise) and len(f.args) == 2 and f.args[1].cond == sympy.true and f.args[1].expr == 0:
        term, cond = f.args[0]
        conds = list(cond.args) if isinstance(cond, sympy.And) else [cond]
        for q in conds:
            if isinstance(q, sympy.Eq) and k in q.args:
                c = q.rhs if q.lhs == k else q.lhs
                if k not in c.free_symbols:
                    rest = [r.xreplace({k: c}) for r in conds if r is not q]
                    keep = sympy.And(*rest, sympy.Ge(c, lo), sympy.Le(c, hi))
                    return const * sympy.Piecewise((term.xreplace({k: c}), keep), (0, True))
    return const * _Sum(f, (k, lo, hi)) if const != 1 else e


def _prefer_sigmoid(expr):
    """1/(1 + exp(u)) -> sigmoid(-u): how gradients of logistic losses are usually written."""
    def is_logistic(e):
        return (e.is_Pow and e.exp == -1 and isinstance(e.base, sympy.Add) and len(e.base.args) == 2
                and sympy.S.One in e.base.args and any(isinstance(t, sympy.exp) for t in e.base.args))

    def to_sigmoid(e):
        (u,) = next(t for t in e.base.args if isinstance(t, sympy.exp)).args
        return sigmoid(-u)

    return expr.replace(is_logistic, to_sigmoid)


def _is_delta(e):
    return (isinstance(e, sympy.Piecewise) and len(e.args) == 2 and e.args[0].expr == 1
            and isinstance(e.args[0].cond, sympy.Eq) and e.args[1].expr == 0 and e.args[1].cond == sympy.true
            and all(a.is_integer for a in e.args[0].cond.args))  # index equalities, not x == max(x)


def _tidy(expr):
    """Cheap rewrites that always help, run before (and whatever becomes of) sympy.simplify:
    one-hot sums picked, sigmoid by name, Piecewise((1, Eq(j, 0)), (0, True)) as KroneckerDelta(j, 0)."""
    expr = _prefer_sigmoid(expr.replace(lambda e: isinstance(e, sympy.Sum), _tidy_sum))
    return expr.replace(_is_delta, lambda e: sympy.KroneckerDelta(*e.args[0].cond.args))


def _simplify(expr, timeout):
    """sympy.simplify, given up after ``timeout`` seconds so that printing stays prompt.

    A thread cannot be stopped, so a simplification that runs over keeps going in the background;
    the op-count limit (SIMPLIFY_MAX_OPS) keeps such leftovers small. The result is kept only when
    it is strictly shorter and brings no Product (SymPy turns exp(Sum) into Product(exp))."""
    expr = _tidy(expr)
    size = sympy.count_ops(expr)
    if timeout <= 0 or size > SIMPLIFY_MAX_OPS:
        return expr
    # SymPy's simplify mishandles Piecewise under Sum (conditions escape their dummy); leave those
    if any(s.function.has(sympy.Piecewise) for s in expr.atoms(sympy.Sum)):
        return expr
    done = []
    # simplify would rewrite sigmoid(u) as 1/(1 + exp(-u)); an undefined function of the same
    # name keeps it as written
    hidden = sympy.Function("sigmoid")
    masked = expr.replace(sigmoid, hidden)

    def work():
        try:
            done.append(sympy.simplify(masked, ratio=1.0).replace(hidden, sigmoid))
        except Exception:  # SymPy gives up on some Piecewise/Sum mixes: keep the unsimplified form
            pass

    thread = threading.Thread(target=work, daemon=True)
    thread.start()
    thread.join(timeout)
    if not done or done[0].has(sympy.Product) and not expr.has(sympy.Product):
        return expr
    result = _prefer_sigmoid(done[0])
    return result if sympy.count_ops(result) < size else expr


def _graph_inputs(outputs):
    return [v for v in _toposort(outputs, set()) if v.owner is None and not isinstance(v, Constant)]


def _input_names(inputs, names):
    """Display names: the given ones, else var.name, made unique and never empty."""
    out, used = [], set()
    for k, var in enumerate(inputs):
        name = (names or {}).get(var) or var.name or f"x{k}"
        base, n = name, 1
        while name in used:
            name, n = f"{base}_{n}", n + 1
        used.add(name)
        out.append(name)
    return out


def _fresh_names(pool, taken):
    for name in pool:
        if name not in taken:
            taken.add(name)
            yield name
    for n in itertools.count(1):
        for name in pool:
            if f"{name}{n}" not in taken:
                taken.add(f"{name}{n}")
                yield f"{name}{n}"


def _top_level(expr, depth=3):
    """The expression with everything below ``depth`` replaced by an ellipsis (for summaries)."""
    if not expr.args:
        return expr
    if depth == 0:
        return sympy.Symbol("…")
    args = [_top_level(a, depth - 1) for a in expr.args]
    try:  # unevaluated, or SymPy would merge …*… into …**2
        return expr.func(*args, evaluate=False)
    except TypeError:  # classes without an evaluate flag
        pass
    try:
        return expr.func(*args)
    except Exception:  # some classes (Sum limits, Indexed) reject an ellipsis argument
        return sympy.Symbol("…")


def _latex_label(label, free):
    m = re.fullmatch(r"∂(.+)/∂(.+)", label)
    sub = "_{%s}" % ",".join(map(sympy.latex, free)) if free else ""
    if m:
        num, den = (sympy.latex(sympy.Symbol(s)) for s in m.groups())
        return r"\frac{\partial %s}{\partial %s%s}" % (num, den, sub)
    return sympy.latex(sympy.Symbol(label)) + sub


class Formula:
    """Named outputs of a traced function (or of its derivatives) as mathematics.

    Build with ``Formula.from_graph([("f", var)])``; ``str()`` gives plain text, ``latex()`` and
    ``_repr_latex_()`` LaTeX, ``sympy()`` the SymPy expressions, ``evaluate()`` the formula computed
    with numpy (to check it against the compiled function)."""

    def __init__(self, outputs, inputs, n_nodes, complete=True):
        self._outputs = outputs
        self._inputs = inputs  # [(name, display shape)]
        self.n_nodes = n_nodes
        self.complete = complete  # False: only the expression near the outputs was converted

    @classmethod
    def from_graph(cls, outputs, names=None, rewrite=True, simplify_timeout=SIMPLIFY_TIMEOUT):
        """``outputs``: [(label, TensorVariable)]; ``names``: {input variable: display name}.

        With ``rewrite``, PyTensor's canonicalize and stabilize rewrites run first on a clone of the
        graph: they remove the fill/ones/broadcast clutter of gradient graphs."""
        labels = [label for label, _ in outputs]
        variables = [var for _, var in outputs]
        inputs = _graph_inputs(variables)
        display = _input_names(inputs, names)
        fg = FunctionGraph(inputs, variables, clone=True)
        # A graph far over MAX_NODES ends as a summary anyway: rewriting it would only cost time.
        if rewrite and len(fg.apply_nodes) <= 5 * MAX_NODES:
            try:
                rewrite_graph(fg, include=("canonicalize", "stabilize"))
            except Exception:  # a rewrite that fails here only costs readability
                fg = FunctionGraph(inputs, variables, clone=True)
        conv = _Converter(dict(zip(fg.inputs, display)))
        for var in fg.inputs:  # inputs the rewritten outputs no longer use still get their shapes
            conv.memo[var] = conv.leaf(var)
        complete = len(fg.apply_nodes) <= MAX_NODES
        if complete:
            try:
                values = conv.convert(list(fg.outputs))
            except RecursionError:  # a graph this deep would not be readable anyway
                complete = False
        if not complete:
            conv.cut_below(fg.outputs, SUMMARY_DEPTH)
            values = conv.convert(list(fg.outputs))
            simplify_timeout = 0
        shapes = [tuple(conv.resolve(d) for d in conv.memo[v].shape) for v in fg.inputs]
        shown = []
        for label, t in zip(labels, values):
            elem = _simplify(conv.resolve(t.elem), simplify_timeout)
            mat = conv.resolve(t.mat) if t.mat is not None else None
            stripped = _strip(elem, t.ndim)
            if stripped is not None:
                shown.append((label, stripped, ()))
            elif mat is not None:
                shown.append((label, mat, ()))
            else:
                shown.append((label, elem, _IDX[: t.ndim]))
        shape_out = [tuple(conv.resolve(d) for d in t.shape) for t in values]
        formula = cls._named(shown, shape_out, list(zip(display, shapes)), len(fg.apply_nodes))
        formula.complete = complete
        return formula

    @classmethod
    def _named(cls, shown, out_shapes, inputs, n_nodes):
        """Give internal dimension and index symbols their display letters (n, m; i, j, k)."""
        taken = {name for name, _ in inputs}
        dims = {}
        dim_names = _fresh_names(_DIM_NAMES, taken)
        everything = [d for _, shape in inputs for d in shape] + [e for _, e, _ in shown] + [d for s in out_shapes for d in s]
        for item in everything:
            for s in sorted(item.atoms(sympy.Symbol), key=lambda s: s.name):
                if s.name.startswith("_d") and s not in dims:
                    dims[s] = sympy.Symbol(next(dim_names), integer=True, positive=True)
        outputs = []
        for (label, expr, free), shape in zip(shown, out_shapes):
            letters = _fresh_names(_INDEX_NAMES, set(taken))
            rename = dict(dims)
            for s in [*free, *(s for s in sympy.preorder_traversal(expr) if isinstance(s, sympy.Symbol))]:
                if s.name.startswith(("_i", "_s")) and s not in rename:
                    rename[s] = sympy.Symbol(next(letters), **_INDEX)
            outputs.append(_Output(label, _plain_sums(expr.xreplace(rename)), tuple(rename[i] for i in free),
                                   tuple(d.xreplace(dims) for d in shape)))
        named_inputs = [(name, tuple(d.xreplace(dims) for d in shape)) for name, shape in inputs]
        return cls(outputs, named_inputs, n_nodes)

    # ---------------------------------------------------------------------------------- views
    def sympy(self):
        """The SymPy expression; a dict {label: expression} when there are several outputs."""
        if len(self._outputs) == 1:
            return self._outputs[0].expr
        return {o.label: o.expr for o in self._outputs}

    @property
    def labels(self):
        return [o.label for o in self._outputs]

    @property
    def inputs(self):
        """Display names of the graph's inputs, in the order they are first used."""
        return [name for name, _ in self._inputs]

    def _label(self, out):
        if not out.free:
            return out.label
        return "%s[%s]" % (out.label, ", ".join(map(str, out.free)))

    def _too_large(self):
        return not self.complete or any(len(sympy.sstr(o.expr)) > MAX_CHARS for o in self._outputs)

    def _summary_lines(self):
        ins = ", ".join(
            name + ("" if not shape else " (%s)" % "×".join(map(str, shape))) for name, shape in self._inputs
        )
        lines = [f"{len(self._outputs)} output(s) from {self.n_nodes} graph nodes, too large to show in full",
                 f"inputs: {ins or 'none'}"]
        for o in self._outputs:
            lines.append(f"{self._label(o)} = {sympy.sstr(_top_level(o.expr), full_prec=False)}")
        return lines

    def __str__(self):
        if self._too_large():
            return "\n".join(self._summary_lines())
        return "\n".join(f"{self._label(o)} = {sympy.sstr(o.expr, full_prec=False)}" for o in self._outputs)

    def __repr__(self):
        return "Formula(%s)" % "; ".join(str(self).splitlines())

    def latex(self):
        """LaTeX without the surrounding $ signs (one aligned row per output)."""
        if self._too_large():
            return r"\begin{array}{l}%s\end{array}" % r" \\ ".join(
                r"\text{%s}" % line.replace("_", r"\_") for line in self._summary_lines()
            )
        rows = [f"{_latex_label(o.label, o.free)} = {sympy.latex(o.expr)}" for o in self._outputs]
        if len(rows) == 1:
            return rows[0]
        return r"\begin{aligned} %s \end{aligned}" % r" \\ ".join(r.replace(" = ", " &= ", 1) for r in rows)

    def _repr_latex_(self):
        return f"${self.latex()}$"

    # ------------------------------------------------------------------------------ evaluation
    def evaluate(self, values):
        """The formula as shown, computed with numpy at ``values`` ({input name: array}).

        Returns one array per output. It checks the printed mathematics against the compiled
        function; it is slow (Python loops over indices) and meant for small arrays."""
        if not self.complete:
            raise ValueError("this formula is a summary of a large graph; it cannot be evaluated")
        values = {k: np.asarray(v) for k, v in values.items()}
        dims = {}
        for name, shape in self._inputs:
            for d, size in zip(shape, values[name].shape):
                if isinstance(d, sympy.Symbol):
                    dims[d] = sympy.Integer(size)
        return [self._evaluate_one(o, values, dims) for o in self._outputs]

    def _evaluate_one(self, out, values, dims):
        expr = out.expr.xreplace(dims)
        shape = tuple(int(d.xreplace(dims)) for d in out.shape)
        args, vals = [], []
        bases = {b.label.name: b for b in expr.atoms(sympy.IndexedBase) if isinstance(b.label, sympy.Symbol)}
        for m in expr.atoms(sympy.MatrixSymbol):
            args.append(m)
            vals.append(values[m.name].reshape(int(m.shape[0]), int(m.shape[1])))
        for name, b in bases.items():
            args.append(b)
            vals.append(values[name])
        for s in expr.atoms(sympy.Symbol):
            if s.name in values and s.name not in bases and not isinstance(s, sympy.MatrixSymbol):
                args.append(s)
                vals.append(values[s.name])
        # Element by element, Python's conditional expression keeps Piecewise branches lazy
        # (numpy.select would read x[i - 3] out of bounds in the branches not taken).
        elementwise = expr.has(sympy.Indexed) and not expr.has(sympy.MatrixSymbol)
        modules = [_LAMBDIFY_MODULES[0], "math"] if elementwise else _LAMBDIFY_MODULES
        f = sympy.lambdify(args + list(out.free), expr, modules=modules)
        if out.free:
            result = np.empty(shape)
            for ix in np.ndindex(*shape):
                result[ix] = f(*vals, *ix)
            return result
        result = np.asarray(f(*vals), dtype=float)
        return result.reshape(shape) if result.size == int(np.prod(shape)) else np.broadcast_to(result, shape).copy()


def formula(fn, *example_args, wrt=None, **example_kwargs):
    """``fn`` traced at the example arguments, as a Formula: its value when ``wrt`` is None, else
    its gradient with respect to ``wrt`` (a parameter name or a list of them)."""
    from . import api

    wrapper = api.Function(fn) if wrt is None else api.Gradient(fn, wrt=wrt)
    wrapper(*example_args, **example_kwargs)
    return wrapper.formula()
