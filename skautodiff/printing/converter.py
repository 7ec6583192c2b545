"""The graph walk: PyTensor variables -> TensorExpr values, with the dimension symbols and their
unification (union-find: an elementwise op or a dot product makes the dimensions it combines equal)."""

import itertools

import numpy as np
import sympy
from pytensor.graph.basic import Constant

from .elements import INDICES, INDEX_ASSUMPTIONS, TensorExpr, strip_indices
from .ops import OPS, opaque
from .scalars import sympy_number, toposort


# ------------------------------------------------------------------------------------- converter
class Converter:
    """Turns PyTensor variables into TensorExpr values; owns the dimension symbols and their unification."""

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
            subs = {
                s: self.find(s) for s in expr.atoms(sympy.Symbol) if s in self.parent
            }  # atoms: also inside MatrixSymbol
            if not subs:
                break
            expr = expr.xreplace(subs)
        return expr

    def fresh_index(self):
        return sympy.Symbol(f"_s{next(self.counter)}", **INDEX_ASSUMPTIONS)

    # graph walk -------------------------------------------------------------------------------
    def convert(self, outputs):
        for var in toposort(outputs, self.memo):
            if var.owner is None:
                self.memo[var] = self.leaf(var)
            else:
                self.apply(var.owner)
        return [self.memo[v] for v in outputs]

    def apply(self, node):
        ins = [self.memo[v] for v in node.inputs]
        handler = None
        for cls in type(node.op).__mro__:
            handler = OPS.get(cls.__name__)
            if handler is not None:
                break
        outs = (handler or opaque)(self, node, ins)
        for var, t in zip(node.outputs, outs):
            self.memo[var] = t

    def leaf(self, var):
        if not hasattr(var.type, "broadcastable"):  # pytensor.scalar values (indices of x[0])
            return TensorExpr(
                sympy_number(var.data)
                if isinstance(var, Constant)
                else sympy.Symbol(self.names[var]),
                (),
            )
        bcast = var.type.broadcastable
        if isinstance(var, Constant):
            return self.constant(var)
        shape = tuple(self.dim(s) for s in var.type.shape)
        name = self.names[var]
        kind = {"integer": True} if var.type.dtype.startswith(("int", "uint")) else {"real": True}
        if var.type.ndim == 0:
            return TensorExpr(sympy.Symbol(name, **kind), ())
        base = sympy.IndexedBase(name, **kind)
        elem = base[tuple(0 if b else INDICES[a] for a, b in enumerate(bcast))]
        mat = None
        if var.type.ndim in (1, 2) and not any(bcast):
            mat = sympy.MatrixSymbol(name, shape[0], shape[1] if var.type.ndim == 2 else 1)
        return TensorExpr(elem, shape, mat)

    def constant(self, var):
        data = np.asarray(var.data)
        shape = tuple(sympy.Integer(s) for s in data.shape)
        if data.size and (data == data.flat[0]).all():
            return TensorExpr(sympy_number(data.flat[0]), shape)
        nums = np.vectorize(sympy_number, otypes=[object])(data).tolist() if data.size else []
        index = tuple(INDICES[: data.ndim])
        return TensorExpr(sympy.Array(nums, data.shape)[index] if data.ndim else nums, shape)

    def cut_below(self, outputs, depth):
        """Stand an ellipsis in for every value more than ``depth`` ops below the outputs."""
        level = list(outputs)
        for _ in range(depth):
            level = [v for var in level if var.owner is not None for v in var.owner.inputs]
        for var in level:
            if var.owner is not None and var not in self.memo:
                shape = tuple(self.dim(s) for s in var.type.shape)
                dots = sympy.Symbol(
                    f"…{len(self.memo)}"
                )  # distinct, or SymPy would merge …*… into …**2
                self.memo[var] = TensorExpr(
                    sympy.IndexedBase(dots)[INDICES[: len(shape)]] if shape else dots, shape
                )

    def whole(self, t):
        """A value as one SymPy object (for arguments of named functions): x, X.T, Lambda(i, ...)."""
        if t.ndim == 0:
            return t.elem
        if t.mat is not None:
            return t.mat
        stripped = strip_indices(t.elem, t.ndim)
        if stripped is not None:
            return stripped
        return sympy.Lambda(INDICES[: t.ndim], t.elem)
