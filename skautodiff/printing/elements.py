"""How a converted tensor is held: the expression of one element in canonical free indices (INDICES),
its symbolic shape and, for matrix algebra, a MatrixExpr (TensorExpr); sums that keep their Piecewise
(LazySum); and dropping the indices of elementwise results (strip_indices)."""

from __future__ import annotations

from dataclasses import dataclass

import sympy

# Canonical free indices: element expressions of an n-d value use INDICES[:n], axis a <-> INDICES[a].
# Indices are nonnegative integers, so that SymPy can drop conditions like i + n < n.
INDEX_ASSUMPTIONS = {"integer": True, "nonnegative": True}
INDICES = tuple(sympy.Symbol(f"_i{a}", **INDEX_ASSUMPTIONS) for a in range(32))
DIM_NAMES = "n m p q N M P Q K L".split()
INDEX_NAMES = "i j k l r s t u v a b c d e g h".split()


@dataclass
class TensorExpr:
    """A converted tensor: element expression in INDICES, symbolic shape, optional matrix form."""

    elem: sympy.Basic
    shape: tuple
    mat: sympy.MatrixExpr | None = None

    @property
    def ndim(self):
        return len(self.shape)


class LazySum(sympy.Sum):
    """sympy.Sum without its Piecewise folding.

    Creating a Sum folds every Piecewise that mentions its dummy up to the top level, also one that
    sits inside an inner Sum and is conditioned on the inner dummy: Sum(Sum(Piecewise((1, Eq(s, 0)),
    (0, True)), (s, ...)) * f, (r, ...)) comes out with Eq(s, 0) outside the inner sum, which changes
    its meaning. The gradient of x[:, 0] builds exactly that, so Piecewise is masked while the
    Sum is made. ``plain_sums`` turns these back into sympy.Sum wherever that is safe."""

    def __new__(cls, function, *limits, **kwargs):
        masks = {p: sympy.Dummy() for p in function.atoms(sympy.Piecewise)}
        obj = sympy.Sum.__new__(cls, function.xreplace(masks), *limits, **kwargs)
        if masks and isinstance(obj, cls):
            obj._args = (obj.function.xreplace({v: p for p, v in masks.items()}), *obj.limits)
        return obj


def plain_sums(expr):
    """LazySum -> sympy.Sum where no Piecewise is inside (there the two are the same)."""
    return expr.replace(
        lambda e: type(e) is LazySum and not e.function.has(sympy.Piecewise),
        lambda e: sympy.Sum(*e.args),
    )


def strip_indices(elem, ndim):
    """x[i]*2 + 2 -> x*2 + 2 when every indexed input is read at exactly the output's indices."""
    free = INDICES[:ndim]
    subs = {}
    for ix in elem.atoms(sympy.Indexed):
        if ix.indices != free:
            return None
        label = ix.base.label
        subs[ix] = (
            sympy.Symbol(label.name, **label.assumptions0)
            if isinstance(label, sympy.Symbol)
            else label
        )
    out = elem.xreplace(subs)
    if out.free_symbols & set(free):
        return None
    return out
