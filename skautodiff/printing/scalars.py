"""Numbers, booleans and pytensor.scalar ops as SymPy: the scalar op table (SCALAR_OPS).

Elementwise tensor ops (also fused ``Composite`` loop bodies) apply these rules to element expressions.
"""

import re
from fractions import Fraction

import numpy as np
import sympy


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


# --------------------------------------------------------------------------------- numbers, booleans
def sympy_number(value):
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


def as_number(e):
    """A boolean used in arithmetic counts as 1 or 0 (numpy's True + 1 == 2)."""
    return sympy.Piecewise((1, e), (0, True)) if _is_bool(e) else e


def _truth(e):
    return e if _is_bool(e) else sympy.Ne(e, 0)


# ----------------------------------------------------------------------------- scalar operations
def _binary(f):
    return lambda a, b: f(as_number(a), as_number(b))


def _unary(f):
    return lambda a: f(as_number(a))


def _clip(x, lo, hi):
    return sympy.Min(sympy.Max(as_number(x), as_number(lo)), as_number(hi))


# Keyed by the class name of the pytensor.scalar op, so that it is the same on every PyTensor version.
SCALAR_OPS = {
    "Add": lambda *a: sympy.Add(*map(as_number, a)),
    "Mul": lambda *a: sympy.Mul(*map(as_number, a)),
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
    "Switch": lambda c, a, b: sympy.Piecewise((as_number(a), _truth(c)), (as_number(b), True)),
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
    "LogAddExp": lambda *a: sympy.log(sympy.Add(*(sympy.exp(as_number(x)) for x in a))),
}


def apply_scalar_op(op, args):
    """Apply one pytensor.scalar op to SymPy arguments; returns the list of its outputs."""
    name = type(op).__name__
    if name == "Composite":  # a fused loop body: walk its scalar graph
        memo = dict(zip(op.inner_inputs, args))
        for var in toposort(op.inner_outputs, memo):
            if var.owner is None:
                memo[var] = sympy_number(var.data)
                continue
            for out, res in zip(
                var.owner.outputs,
                apply_scalar_op(var.owner.op, [memo[v] for v in var.owner.inputs]),
            ):
                memo[out] = res
        return [memo[v] for v in op.inner_outputs]
    if name == "Cast":  # casts are invisible, except between booleans and numbers
        (a,) = args
        return [_truth(a) if op.o_type.dtype == "bool" else as_number(a)]
    rule = SCALAR_OPS.get(name)
    if rule is None:  # no SymPy counterpart: keep it as a named function
        return [sympy.Function(snake_case(name))(*map(as_number, args))]
    return [rule(*args)]


def toposort(outputs, known):
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


def snake_case(name):
    return re.sub(r"(?<=[a-z0-9])(?=[A-Z])", "_", name).lower()
