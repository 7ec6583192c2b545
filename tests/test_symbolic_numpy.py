"""The numpy / ndarray / operator / builtin rule tables against numpy itself.

Each case calls the real numpy callable on random inputs and the table's rule on symbolic inputs of
the same dtype and ndim (length-1 axes static, as the engine builds them), compiles the rule's graph
with the fast Python linker, and compares values at 1e-10. For float outputs of float inputs it also
compares PyTensor's gradient of a random weighted sum of the outputs with central finite
differences computed by numpy, so numpy is the independent reference for values and derivatives.
Adding a function is one line in CASES; test_every_table_entry_has_a_case keeps table and cases in step.
"""

import math
import operator
import re
import types
import zlib

import numpy as np
import pytensor
import pytensor.tensor as pt
import pytest
from pytensor.compile.mode import Mode

from helpers import numeric_gradient
from skautodiff.symbolic import builtins as builtin_rules
from skautodiff.symbolic import (
    creation,
    elementwise,
    indexing,
    products,
    reductions,
    shapes,
    ufunc_methods,
)
from skautodiff.symbolic import methods as method_rules
from skautodiff.symbolic import operators as operator_rules

# the numpy areas' tables, merged as skautodiff/symbolic/__init__.py merges them
_NUMPY_AREAS = (elementwise, reductions, products, shapes, creation, indexing, ufunc_methods)
numpy_rules = types.SimpleNamespace(
    FUNCTIONS={key: rule for area in _NUMPY_AREAS for key, rule in area.FUNCTIONS.items()},
    INPLACE={
        key: position
        for area in _NUMPY_AREAS
        for key, position in getattr(area, "INPLACE", {}).items()
    },
)

FAST = Mode(linker="py", optimizer="fast_compile")


# --------------------------------------------------------------------------------------------
# inputs
# --------------------------------------------------------------------------------------------


class A:
    """A traced input: the test samples its value; the rule sees a symbolic variable in its place."""

    def __init__(self, *shape, dtype="float64", low=-2.0, high=2.0, value=None):
        self.shape, self.dtype, self.low, self.high, self.value = shape, dtype, low, high, value

    def sample(self, rng):
        if self.value is not None:
            value = np.array(self.value, dtype=self.dtype)
        elif self.dtype == "bool":
            value = rng.random(self.shape) < 0.5
        elif np.dtype(self.dtype).kind in "iu":
            value = rng.integers(int(self.low), int(self.high) + 1, size=self.shape).astype(
                self.dtype
            )
        else:
            value = rng.uniform(self.low, self.high, size=self.shape).astype(self.dtype)
        return value[()] if value.ndim == 0 else value  # 0-d inputs behave as numpy scalars

    def variable(self, value):
        value = np.asarray(value)
        return pt.tensor(
            dtype=str(value.dtype), shape=tuple(1 if s == 1 else None for s in value.shape)
        )

    def __repr__(self):
        return f"A{self.shape}"


def N(*shape):  # any real
    return A(*shape)


def P(*shape):  # positive
    return A(*shape, low=0.5, high=2.0)


def U(*shape):  # inside (-1, 1)
    return A(*shape, low=-0.9, high=0.9)


def G(*shape):  # above 1
    return A(*shape, low=1.1, high=3.0)


def I(*shape, low=-3, high=3):  # integers
    return A(*shape, dtype="int64", low=low, high=high)


def B(*shape):  # booleans
    return A(*shape, dtype="bool")


def V(value, dtype=None):  # traced, with this value
    value = np.asarray(value)
    return A(*value.shape, dtype=dtype or str(value.dtype), value=value)


# --------------------------------------------------------------------------------------------
# cases
# --------------------------------------------------------------------------------------------

OPERATORS = {
    "+": operator.add,
    "-": operator.sub,
    "*": operator.mul,
    "/": operator.truediv,
    "//": operator.floordiv,
    "%": operator.mod,
    "**": operator.pow,
    "@": operator.matmul,
    "&": operator.and_,
    "|": operator.or_,
    "^": operator.xor,
    "<<": operator.lshift,
    ">>": operator.rshift,
    "<": operator.lt,
    "<=": operator.le,
    ">": operator.gt,
    ">=": operator.ge,
    "==": operator.eq,
    "!=": operator.ne,
}
UNARY_OPERATORS = {"-": operator.neg, "+": operator.pos, "~": operator.invert}


class C:
    """One call: key (a numpy callable, (ufunc, method), ("method", name), ("attr", name),
    ("binary"|"unary"|"compare", symbol)), its arguments with A specs for traced values."""

    def __init__(self, key, /, *args, grad=True, refused=False, shape_only=False, **kwargs):
        self.key, self.args, self.kwargs, self.grad, self.refused = key, args, kwargs, grad, refused
        self.shape_only = shape_only  # np.empty*: numpy's contents are whatever memory held

    @property
    def table_key(self):
        return self.key

    def rule(self):
        key = self.key
        if isinstance(key, tuple) and key[0] in (
            "method",
            "inplace",
            "attr",
            "binary",
            "unary",
            "compare",
        ):
            table = {
                "method": method_rules.METHODS,
                "inplace": method_rules.IN_PLACE_METHODS,
                "attr": method_rules.ATTRIBUTES,
                "binary": operator_rules.BINARY,
                "unary": operator_rules.UNARY,
                "compare": operator_rules.COMPARE,
            }[key[0]]
            return table[key[1]]
        return {**numpy_rules.FUNCTIONS, **builtin_rules.FUNCTIONS}[key]

    def reference(self, args, kwargs):
        """numpy's answer; for calls that update an array in place (ufunc.at, np.put, x.sort())
        the updated array."""
        key = self.key
        if key in numpy_rules.INPLACE or (isinstance(key, tuple) and key[0] == "inplace"):
            target = np.array(args[0], copy=True)
            if not isinstance(key, tuple):
                key(target, *args[1:], **kwargs)
            elif key[0] == "inplace":
                getattr(target, key[1])(*args[1:], **kwargs)
            else:
                getattr(*key)(target, *args[1:], **kwargs)
            return target
        if isinstance(key, tuple):
            kind, name = key
            if kind == "method":
                return getattr(args[0], name)(*args[1:], **kwargs)
            if kind == "attr":
                return getattr(args[0], name)
            if kind in ("binary", "compare"):
                return OPERATORS[name](*args)
            if kind == "unary":
                return UNARY_OPERATORS[name](*args)
            return getattr(kind, name)(*args, **kwargs)
        return key(*args, **kwargs)

    def __repr__(self):
        key = self.key
        if isinstance(key, tuple):
            owner, name = key
            name = f"{owner}:{name}" if isinstance(owner, str) else f"{owner.__name__}.{name}"
        else:
            module = (getattr(key, "__module__", None) or "builtins").split(".")[0]
            name = f"{module}.{getattr(key, '__name__', key)}"
        details = ",".join(
            [repr(a) if isinstance(a, A) else type(a).__name__ for a in self.args]
            + [f"{k}={v!r}" for k, v in self.kwargs.items()]
        )
        # without memory addresses (a lambda's repr): the id and the seed are the same in every process
        return re.sub(r" at 0x[0-9a-fA-F]+", "", f"{name}({details})")[:90]


def R(key, /, *args, **kwargs):
    """A call the rule must refuse with NotImplementedError (numpy itself accepts it)."""
    return C(key, *args, refused=True, **kwargs)


def M(name, *args, **kwargs):
    return C(("method", name), *args, **kwargs)


def OP(symbol, *args, **kwargs):
    kind = (
        "compare"
        if symbol in ("<", "<=", ">", ">=", "==", "!=")
        else "unary"
        if len(args) == 1
        else "binary"
    )
    return C((kind, symbol), *args, **kwargs)


IDX = np.array([0, 2, 2, 1, 0, 2])  # repeats on purpose: ufunc.at accumulates
X = np.arange(12.0).reshape(3, 4) / 7.0  # an untraced operand

CASES = [
    # ---- operators
    OP("+", N(3, 4), N(4)),
    OP("+", N(3), 2.5),
    OP("-", N(3, 1), N(1, 4)),
    OP("-", 1.0, N(3)),
    OP("*", N(3, 4), X),
    OP("/", N(3), P(3)),
    OP("/", 1, P(2, 2)),
    OP("//", N(5), P(5)),
    OP("//", I(6), V([1, 2, -3, 4, -1, 2])),
    OP("%", N(5), P(5)),
    OP("%", I(6), V([1, 2, -3, 4, -1, 2])),
    OP("**", P(4), N(4)),
    OP("**", N(4), 2),
    OP("**", 2.0, N(3)),
    OP("@", N(3), N(3)),
    OP("@", N(2, 3), N(3)),
    OP("@", N(3), N(3, 2)),
    OP("@", N(2, 3), N(3, 4)),
    OP("@", N(2, 3, 4), N(4, 5)),
    OP("@", N(2, 3, 4), N(2, 4, 5)),
    OP("@", N(4), N(2, 4, 5)),
    OP("@", N(1, 3, 4), N(2, 4, 2)),
    OP("@", X, N(4)),
    OP("&", B(5), B(5)),
    OP("|", B(5), B(5)),
    OP("^", B(5), B(5)),
    OP("&", I(5, low=0, high=9), 6),
    OP("<<", I(5, low=0, high=9), V([0, 1, 2, 3, 1])),
    OP(">>", I(5, low=-9, high=9), 1),
    OP("-", N(3)),
    OP("+", N(3)),
    OP("~", B(4)),
    OP("~", I(4)),
    OP("<", N(5), N(5)),
    OP("<=", I(5), I(5)),
    OP(">", N(5), 0.0),
    OP(">=", I(5), I(5)),
    OP("==", I(6), I(6)),
    OP("!=", I(6), I(6)),
    # ---- attributes and methods
    C(("attr", "T"), N(3, 4)),
    C(("attr", "T"), N(2, 3, 4)),
    C(("attr", "mT"), N(2, 3, 4)),
    C(("attr", "real"), N(3)),
    C(("attr", "imag"), N(3)),
    M("sum", N(3, 4)),
    M("sum", N(3, 4), 1),
    M("sum", N(2, 3, 4), axis=(0, 2), keepdims=True),
    M("prod", N(3, 4), axis=0),
    M("mean", N(3, 4), axis=-1),
    M("max", N(3, 4), axis=1),
    M("min", N(3, 4)),
    M("var", N(3, 4), axis=0, ddof=1),
    M("std", N(3, 4), 1),
    M("any", B(3, 4), axis=0),
    M("all", N(3, 4)),
    M("cumsum", N(3, 4), axis=1),
    M("cumprod", N(5)),
    M("argmax", N(3, 4), axis=1),
    M("argmin", N(3, 4)),
    M("argsort", N(3, 4)),
    M("round", N(5), 2),
    M("dot", N(2, 3), N(3)),
    M("squeeze", N(3, 1)),
    M("squeeze", N(1, 3, 1), axis=0),
    M("swapaxes", N(2, 3, 4), 0, 2),
    M("repeat", N(3), 2),
    M("repeat", N(2, 3), [1, 2], axis=0),
    M("take", N(5), np.array([4, 0, 1])),
    M("take", N(3, 4), [2, 0], axis=1),
    M("diagonal", N(3, 4)),
    M("diagonal", N(2, 3, 3), 1, 1, 2),
    M("trace", N(3, 3)),
    M("nonzero", I(3, 4)),
    M("searchsorted", V([0.1, 0.5, 0.9]), N(4)),
    M("ravel", N(3, 4)),
    M("ravel", N(3, 4), order="F"),
    M("reshape", N(12), 3, 4),
    M("reshape", N(12), (2, -1)),
    M("reshape", N(3, 4), -1),
    M("reshape", N(12), (3, 4), order="F"),
    M("transpose", N(2, 3, 4)),
    M("transpose", N(2, 3, 4), 2, 0, 1),
    M("transpose", N(2, 3, 4), (1, 0, 2)),
    M("astype", N(4), np.float32),
    M("astype", N(4), "int64"),
    M("astype", I(4), float),
    M("item", N(1)),
    M("item", N(3, 4), 5),
    M("item", N(3, 4), 2, 1),
    M("item", N(3, 4), (1, 3)),
    M("copy", N(3)),
    M("flatten", N(3, 4)),
    M("flatten", N(3, 4), "F"),
    M("clip", N(6), -0.5, 0.5),
    M("clip", N(6), max=0.3),
    M("conj", N(3)),
    M("conjugate", N(3)),
    # ---- ndarray methods that update the array in place (the new array is compared)
    C(("inplace", "sort"), N(4)),
    C(("inplace", "sort"), N(3, 4), axis=0),
    C(("inplace", "fill"), N(3, 2), N()),
    C(("inplace", "fill"), N(4), 0.5),
    C(("inplace", "fill"), I(3), 2.7),
    C(("inplace", "put"), N(5), np.array([0, 3, 0, 1]), N(4)),  # index 0 twice: the last write wins
    C(("inplace", "put"), N(5), np.array([4, 1, 4]), N(2)),  # values repeat when shorter
    C(("inplace", "put"), N(2, 3), np.array([-1, -6]), 1.5),
    C(("inplace", "put"), N(4), np.array([0, -1, -4, 3]), N(3)),  # mixed signs, repeats
    R(("inplace", "put"), N(4), np.array([0, 5]), N(2), mode="wrap"),
    R(("inplace", "resize"), N(4), 2),
    # ---- elementwise ufuncs
    C(np.exp, N(3, 4)),
    C(np.exp2, N(4)),
    C(np.expm1, N(4)),
    C(np.log, P(3, 4)),
    C(np.log2, P(4)),
    C(np.log10, P(4)),
    C(np.log1p, P(4)),
    C(np.sqrt, P(4)),
    C(np.cbrt, N(6)),
    C(np.square, N(4)),
    C(np.reciprocal, P(4)),
    C(np.abs, N(4)),
    C(np.absolute, I(4)),
    C(np.fabs, N(4)),
    C(np.sign, N(5)),
    C(np.negative, N(4)),
    C(np.positive, N(4)),
    C(np.sin, N(4)),
    C(np.cos, N(4)),
    C(np.tan, U(4)),
    C(np.arcsin, U(4)),
    C(np.arccos, U(4)),
    C(np.arctan, N(4)),
    C(np.arctan2, N(5), N(5)),
    C(np.sinh, N(4)),
    C(np.cosh, N(4)),
    C(np.tanh, N(4)),
    C(np.arcsinh, N(4)),
    C(np.arccosh, G(4)),
    C(np.arctanh, U(4)),
    C(np.hypot, N(5), N(5)),
    C(np.hypot, N(3, 1), 2.0),
    C(np.deg2rad, N(3)),
    C(np.radians, N(3)),
    C(np.rad2deg, N(3)),
    C(np.degrees, N(3)),
    C(np.sinc, N(5)),
    C(np.sinc, V([0.0, 0.5, -1.5])),
    C(np.floor, N(6)),
    C(np.ceil, N(6)),
    C(np.trunc, N(6)),
    C(np.fix, N(6)),
    C(np.rint, V([0.5, 1.5, 2.5, -0.5, -1.7, 0.2]), grad=False),
    C(np.rint, N(5)),
    C(np.round, V([0.5, 1.5, 2.5, -0.5, -1.7, 0.2]), grad=False),
    C(np.round, N(5), 2),
    C(np.around, N(5), decimals=1),
    C(np.power, P(4), N(4)),
    C(np.power, N(4), 3),
    C(np.float_power, P(4), N(4)),
    C(np.maximum, N(5), N(5)),
    C(np.maximum, N(3, 4), 0.0),
    C(np.minimum, N(5), N(1)),
    C(np.fmax, V([1.0, np.nan, 3.0, np.nan]), V([np.nan, 2.0, 1.0, np.nan]), grad=False),
    C(np.fmax, N(4), N(4)),
    C(np.fmin, N(4), N(4)),
    C(np.fmin, V([1.0, np.nan, 3.0, np.nan]), V([np.nan, 2.0, 1.0, np.nan]), grad=False),
    C(np.logaddexp, N(5), N(5)),
    C(np.logaddexp, 0.0, N(3)),
    C(np.logaddexp2, N(5), N(5)),
    C(np.add, N(3), N(3)),
    C(np.add, N(3), N(3), dtype=np.float32),
    C(np.subtract, N(3), 1.0),
    C(np.multiply, N(3, 4), N(4)),
    C(np.divide, N(3), P(3)),
    C(np.true_divide, N(3), P(3)),
    C(np.floor_divide, N(5), P(5)),
    C(np.mod, N(5), P(5)),
    C(np.remainder, I(5), V([2, -3, 4, 1, -2])),
    C(np.fmod, N(5), P(5)),
    C(np.fmod, V([-5, 5, 7, -7]), V([3, -3, 2, 2])),
    C(np.divmod, N(5), P(5)),
    C(np.modf, N(5)),
    C(np.copysign, P(4), V([-1.0, 0.0, -0.0, 2.0]), grad=False),
    C(np.copysign, N(4), N(4)),
    C(np.heaviside, V([-1.0, 0.0, 2.0, 0.0]), 0.5, grad=False),
    C(np.heaviside, N(4), N(4)),
    C(np.greater, N(5), N(5)),
    C(np.greater_equal, I(5), 0),
    C(np.less, N(5), 0.1),
    C(np.less_equal, I(5), I(5)),
    C(np.equal, I(5), I(5)),
    C(np.not_equal, I(5), 1),
    C(np.logical_and, B(5), B(5)),
    C(np.logical_and, N(4), I(4)),
    C(np.logical_or, B(5), I(5)),
    C(np.logical_xor, B(5), B(5)),
    C(np.logical_not, I(5)),
    C(np.bitwise_and, I(5, low=0, high=9), 5),
    C(np.bitwise_or, B(5), B(5)),
    C(np.bitwise_xor, I(5, low=0, high=9), I(5, low=0, high=9)),
    C(np.invert, B(4)),
    C(np.isnan, V([1.0, np.nan, np.inf])),
    C(np.isinf, V([1.0, np.nan, -np.inf])),
    C(np.isfinite, V([1.0, np.nan, np.inf])),
    C(np.select, [B(3, 4), B(4)], [N(3, 4), N(3, 4)]),
    C(np.select, [B(5), B(5)], [N(5), 2.0], N()),
    C(np.select, [B(3)], [I(3)], default=-1),
    C(np.real, N(3)),
    C(np.imag, N(3)),
    C(np.real, I(2, 2)),
    C(np.where, B(3, 4), N(3, 4), N(4)),
    C(np.where, B(5), N(5), 0.0),
    C(np.where, B(4)),
    C(np.clip, N(6), -0.5, 0.5),
    C(np.clip, N(6), None, 0.5),
    C(np.clip, N(5), A(5, low=-3, high=-1), A(5, low=1, high=3)),
    C(np.clip, N(6), min=-0.1),
    C(np.nan_to_num, V([1.0, np.nan, np.inf, -np.inf]), grad=False),
    C(np.nan_to_num, N(3)),
    C(np.nan_to_num, V([np.nan, np.inf, 2.0]), nan=-1.0, posinf=9.0),
    C(np.isclose, N(4), V([0.1, 0.2, 0.3, 0.4])),
    C(np.isclose, V([1.0, np.inf, np.nan]), V([1.0 + 1e-9, np.inf, np.nan]), equal_nan=True),
    C(np.allclose, N(4), N(4)),
    C(np.allclose, V([1.0, 2.0]), V([1.0, 2.0 + 1e-9])),
    # ---- reductions
    C(np.sum, N(3, 4)),
    C(np.sum, N(3, 4), axis=0),
    C(np.sum, N(2, 3, 4), axis=(0, -1), keepdims=True),
    C(np.sum, N(3, 4), 1, np.float32),
    C(np.sum, N(3, 4), initial=2.0),
    C(np.sum, N(3, 4), axis=1, where=X > 0.5),
    C(np.sum, [N(3), N(3)]),
    C(np.sum, I(3, 4)),
    C(np.prod, N(3, 4), axis=1),
    C(np.prod, N(4), initial=2.0),
    C(np.prod, N(3, 4), where=X < 1.0),
    C(np.mean, N(3, 4)),
    C(np.mean, N(3, 4), axis=0, keepdims=True),
    C(np.mean, I(5)),
    C(np.mean, N(3, 4), axis=1, where=X > 0.3),
    C(np.max, N(3, 4)),
    C(np.max, N(3, 4), axis=0),
    C(np.max, N(3, 4), axis=1, keepdims=True),
    C(np.max, N(3, 4), axis=1, initial=0.5),
    C(np.max, N(3, 4), axis=0, initial=-5.0, where=X > 0.5),
    C(np.amax, N(3, 4), 1),
    C(np.min, N(3, 4), axis=(0, 1)),
    C(np.amin, N(3, 4), axis=-1),
    C(np.min, N(3, 4), initial=0.0),
    C(np.cov, N(3, 5)),
    C(np.cov, N(5, 3), rowvar=False, bias=True),
    C(np.cov, N(4), N(4)),
    C(np.corrcoef, N(3, 5)),
    C(np.median, N(3, 4)),
    C(np.median, N(3, 5), axis=1, keepdims=True),
    C(np.var, N(3, 4)),
    C(np.var, N(3, 4), axis=0, ddof=1),
    C(np.var, N(2, 3, 4), axis=(0, 2), keepdims=True),
    C(np.var, N(3, 4), axis=1, correction=1),
    C(np.var, N(3, 4), axis=1, where=X > 0.2),
    C(np.std, N(3, 4), axis=1),
    C(np.std, N(5), ddof=1),
    C(np.std, I(6)),
    C(np.any, B(3, 4)),
    C(np.any, N(3, 4), axis=0),
    C(np.all, I(3, 4), axis=1, keepdims=True),
    C(np.count_nonzero, I(3, 4)),
    C(np.count_nonzero, I(3, 4), axis=0),
    C(np.count_nonzero, B(3, 4), axis=1, keepdims=True),
    C(np.nansum, V([[1.0, np.nan], [2.5, 3.0]])),
    C(np.nansum, N(3, 4), axis=0),
    C(np.nansum, V([[1.0, np.nan], [2.5, 3.0]]), axis=1),
    C(np.nanprod, V([[1.5, np.nan], [2.5, 3.0]]), axis=0),
    C(np.nanprod, N(4)),
    C(np.nanmean, V([[1.0, np.nan], [2.5, 3.0]])),
    C(np.nanmean, V([[1.0, np.nan], [2.5, 3.0]]), axis=0),
    C(np.nanmean, N(3, 4), axis=1),
    C(np.nanmax, V([[1.0, np.nan], [2.5, 3.0]]), axis=1),
    C(np.nanmax, N(3, 4)),
    C(np.nanmin, V([[1.0, np.nan], [2.5, 3.0]]), axis=1),
    C(np.nanmin, N(3, 4), axis=0),
    C(np.nanvar, V([[1.0, np.nan, 2.0], [2.5, 3.0, 0.5]]), axis=1),
    C(np.nanvar, N(3, 4), ddof=1),
    C(np.nanstd, V([[1.0, np.nan, 2.0], [2.5, 3.0, 0.5]]), axis=1),
    C(np.nanstd, N(3, 4), axis=0),
    C(np.average, N(3, 4)),
    C(np.average, N(3, 4), axis=0, weights=np.array([1.0, 2.0, 3.0])),
    C(np.average, N(3, 4), weights=P(3, 4)),
    C(np.average, N(3, 4), axis=1, weights=P(4), returned=True),
    C(np.average, N(2, 3, 4), axis=(2, 0), weights=P(4, 2)),
    C(np.average, N(3, 4), axis=1, keepdims=True),
    # ---- cumulative
    C(np.cumsum, N(3, 4)),
    C(np.cumsum, N(3, 4), axis=0),
    C(np.cumsum, N(3, 4), -1),
    C(np.cumprod, N(3, 4), axis=1),
    C(np.cumprod, N(5)),
    *[
        C(np.convolve, N(n), N(m), mode=mode)
        for n, m in ((5, 3), (3, 5), (4, 4), (5, 2), (2, 5), (1, 3))
        for mode in ("full", "valid", "same")
    ],
    C(np.convolve, N(5), X[0]),
    R(np.convolve, N(2, 3), N(2)),
    C(np.interp, N(7), V([-1.5, -0.5, 0.2, 1.0, 1.7]), N(5)),
    C(np.interp, N(3, 2), [-1.0, 0.0, 1.0], N(3)),
    C(
        np.interp,
        V([-2.0, -1.0, 0.5, 1.0, 1.5]),
        [-1.0, 0.0, 1.0],
        N(3),
        left=N(),
        right=-4.0,
        grad=False,
    ),
    C(np.interp, N(8), [-1.0, 0.0, 1.0], N(3), left=N(), right=-4.0),
    C(np.interp, N(4), V([-1.0, 0.0, 1.0]), [2.0, 3.0, -1.0], grad=False),
    C(np.interp, N(4), V([0.5]), N(1)),
    R(np.interp, N(4), [0.0, 1.0], N(2), period=2.0),
    C(np.gradient, N(6)),
    C(np.gradient, N(6), 0.5),
    C(np.gradient, N(6), P()),
    C(np.gradient, N(5), edge_order=2),
    C(np.gradient, N(3, 4)),
    C(np.gradient, N(3, 4), 2.0, axis=1),
    C(np.gradient, N(3, 4), 2.0, 0.5, edge_order=2),
    C(np.gradient, N(4, 3), axis=(-1,)),
    C(np.gradient, I(5)),
    R(np.gradient, N(4), np.array([0.0, 1.0, 3.0, 4.0])),
    C(np.diff, N(6)),
    C(np.diff, N(3, 4), axis=0),
    C(np.diff, N(6), n=2),
    C(np.diff, N(3, 4), prepend=0.0),
    C(np.diff, N(3, 4), axis=0, append=N(1, 4)),
    # ---- products
    C(np.dot, N(3), N(3)),
    C(np.dot, N(2, 3), N(3, 4)),
    C(np.dot, N(2, 3, 4), N(5, 4, 2)),
    C(np.dot, 2.0, N(3)),
    C(np.dot, X, N(4)),
    C(np.matmul, N(2, 3), N(3)),
    C(np.matmul, N(2, 2, 3), N(3, 2)),
    C(np.outer, N(3), N(4)),
    C(np.outer, N(2, 2), N(3)),
    C(np.inner, N(3), N(3)),
    C(np.inner, N(2, 3), N(4, 3)),
    C(np.inner, 2.0, N(3)),
    C(np.vdot, N(2, 3), N(3, 2)),
    C(np.tensordot, N(2, 3), N(3, 4), axes=1),
    C(np.tensordot, N(3, 4, 5), N(4, 3, 2), ([1, 0], [0, 1])),
    C(np.tensordot, N(2, 3), N(2, 3)),
    C(np.einsum, "ij,jk->ik", N(2, 3), N(3, 4)),
    C(np.einsum, "ij,jk", N(2, 3), N(3, 4)),
    C(np.einsum, "ii->i", N(3, 3)),
    C(np.einsum, "ii", N(3, 3)),
    C(np.einsum, "...ij,...jk->...ik", N(2, 2, 3), N(2, 3, 4)),
    C(np.einsum, "i,i", N(3), N(3)),
    C(np.einsum, "ij->", N(2, 3)),
    C(np.einsum, "ji", N(2, 3)),
    C(np.einsum, "i, j -> ij", N(2), N(3)),
    C(np.einsum, "ij,j->i", X, N(4)),
    C(np.einsum, N(2, 3), [0, 1], N(3, 4), [1, 2], [0, 2]),
    C(np.einsum, N(2, 3), [0, 1], N(3), [1]),
    C(np.kron, N(2, 3), N(3, 2)),
    C(np.kron, N(3), N(2)),
    C(np.kron, N(2), N(2, 3)),
    C(np.kron, X[:2, :2], N(2, 2)),
    C(np.cross, N(3), N(3)),
    C(np.cross, N(4, 3), N(4, 3)),
    C(np.cross, N(3, 4), N(4, 3), axisa=0),
    C(np.cross, N(2, 3), N(2, 3), axis=1),
    # ---- shapes
    C(np.reshape, N(12), (3, 4)),
    C(np.reshape, N(3, 4), -1),
    C(np.reshape, N(12), (2, -1, 3), order="F"),
    C(np.reshape, N(3, 4), shape=(4, 3)),
    R(np.reshape, N(3, 4), (4, 3), order="A"),
    C(np.reshape, N(6, 2), (V(np.int64(4)), 3)),
    C(np.ravel, N(3, 4)),
    C(np.ravel, N(3, 4), order="F"),
    C(np.transpose, N(3, 4)),
    C(np.transpose, N(2, 3, 4), (2, 0, 1)),
    C(np.transpose, N(2, 3, 4), axes=(-1, 0, 1)),
    C(np.concatenate, [N(2, 3), N(1, 3)]),
    C(np.concatenate, (N(2, 3), X[:, :3]), axis=0),
    C(np.concatenate, [N(2, 3), N(2, 1)], axis=-1),
    C(np.concatenate, [N(2, 3), N(4)], axis=None),
    C(np.concatenate, N(3, 2, 4)),
    C(np.concatenate, N(3, 2, 4), axis=1),
    C(np.concatenate, N(3, 2), axis=None),
    C(np.stack, [N(3), N(3)]),
    C(np.stack, [N(2, 3), N(2, 3)], axis=-1),
    C(np.stack, (N(3), X[0, :3]), 1),
    C(np.stack, N(2, 3, 4), axis=1),
    C(np.stack, [N(), N(), 1.0]),
    C(np.hstack, [N(3), N(2)]),
    C(np.hstack, [N(2, 3), N(2, 1)]),
    C(np.hstack, [N(), N(2)]),
    C(np.vstack, [N(3), N(3)]),
    C(np.vstack, [N(2, 3), N(3)]),
    C(np.dstack, [N(3), N(3)]),
    C(np.dstack, [N(2, 3), N(2, 3, 2)]),
    C(np.column_stack, [N(3), N(3, 2), N(3)]),
    # one array stands for the list of its rows
    *[
        C(stacker, N(*shape))
        for stacker in (np.hstack, np.vstack, np.dstack, np.column_stack)
        for shape in ((4,), (3, 4), (2, 3, 4), (2, 3, 2, 2))
    ],
    C(np.vstack, N(1, 3)),
    C(np.column_stack, N(3, 1)),
    C(np.hstack, I(3, 2)),
    C(np.expand_dims, N(3, 4), 1),
    C(np.expand_dims, N(3, 4), (0, 3)),
    C(np.expand_dims, N(3), -1),
    C(np.squeeze, N(3, 1)),
    C(np.squeeze, N(1, 3, 1), axis=2),
    C(np.squeeze, N(1, 1)),
    C(np.atleast_1d, N()),
    C(np.atleast_1d, N(3), N()),
    C(np.atleast_2d, N(3)),
    C(np.atleast_2d, N(2, 3)),
    C(np.atleast_3d, N()),
    C(np.atleast_3d, N(3)),
    C(np.atleast_3d, N(2, 3)),
    C(np.atleast_3d, N(2, 3, 4), N(3)),
    C(np.broadcast_to, N(3), (2, 3)),
    C(np.broadcast_to, N(3, 1), (2, 3, 4)),
    C(np.broadcast_to, N(), 4),
    C(np.broadcast_arrays, N(3, 1), N(4)),
    C(np.flip, N(3, 4)),
    C(np.flip, N(3, 4), 1),
    C(np.flip, N(2, 3, 4), axis=(0, 2)),
    C(np.fliplr, N(3, 4)),
    C(np.flipud, N(3, 4)),
    C(np.flipud, N(3)),
    C(np.moveaxis, N(2, 3, 4), 0, -1),
    C(np.moveaxis, N(2, 3, 4), [0, 1], [2, 0]),
    C(np.swapaxes, N(2, 3, 4), 0, 2),
    C(np.roll, N(5), 2),
    C(np.roll, N(3, 4), -1, axis=1),
    C(np.roll, N(3, 4), (1, 2), axis=(0, 1)),
    C(np.roll, N(3, 4), 1, axis=(0, 1)),
    C(np.roll, N(3, 4), 5),
    C(np.rollaxis, N(2, 3, 4), 2),
    C(np.rollaxis, N(2, 3, 4), 0, 2),
    C(np.rollaxis, N(2, 3, 4), 1, 3),
    C(np.rollaxis, N(2, 3, 4), -1, -2),
    C(np.rollaxis, N(2, 3), 1, 1),
    *[C(np.rot90, N(3, 4), k) for k in (0, 1, 2, 3, -1, 5)],
    C(np.rot90, N(2, 3, 4), 1, axes=(2, 0)),
    C(np.rot90, N(2, 3, 4), 3, (1, 2)),
    C(np.fft.fftshift, N(5)),
    C(np.fft.fftshift, N(4, 5)),
    C(np.fft.fftshift, N(4, 5), axes=1),
    C(np.fft.fftshift, N(1, 3), axes=(0,)),
    C(np.fft.ifftshift, N(5)),
    C(np.fft.ifftshift, N(4, 3), axes=(-1, 0)),
    C(np.tile, N(3), 2),
    C(np.tile, N(2, 3), (2, 1)),
    C(np.tile, N(3), (2, 2)),
    C(np.tile, N(2, 3), (2, 1, 2)),
    C(np.repeat, N(3), 2),
    C(np.repeat, N(2, 3), [1, 0, 2], axis=1),
    C(np.repeat, N(2, 3), 2),
    C(np.pad, N(3, 4), 1),
    C(np.pad, N(3, 4), ((1, 2), (0, 1)), constant_values=2.5),
    C(np.pad, N(3, 4), ((1, 2), (2, 1)), mode="edge"),
    C(np.pad, N(3, 4), (0, 2), mode="edge"),
    C(np.pad, N(3, 4), ((1, 2), (2, 1)), mode="symmetric"),
    C(np.pad, N(3, 4), 1, mode="maximum"),
    C(np.pad, N(5), 2, mode="reflect"),
    C(np.pad, N(5), (1, 3), mode="wrap"),
    R(np.pad, N(3), 1, mode=lambda v, w, i, k: None),
    C(np.split, N(6), 3),
    C(np.split, N(4, 3), [1, 3]),
    C(np.split, N(3, 4), 2, axis=1),
    C(np.array_split, N(7), 3),
    C(np.array_split, N(3, 5), 2, axis=1),
    C(np.array_split, N(5), [2, 9]),
    C(np.hsplit, N(2, 4), 2),
    C(np.hsplit, N(6), [2]),
    C(np.vsplit, N(4, 2), 2),
    C(np.dsplit, N(1, 2, 4), 2),
    C(np.append, N(3), N(2)),
    C(np.append, N(2, 3), N(1, 3), axis=0),
    C(np.append, N(2, 2), 1.5),
    C(np.insert, N(5), 2, 9.0),
    C(np.insert, N(5), -1, N()),
    C(np.insert, N(3, 4), 1, N(3), axis=1),
    C(np.insert, N(3, 4), 0, N(4), axis=0),
    C(np.insert, N(2, 2), 3, N(2)),
    R(np.insert, N(5), [1, 2], 0.0),
    # ---- creation (shapes and sizes may be traced integers)
    C(np.zeros, (V(np.int64(3)), 2)),
    C(np.zeros, V(np.int64(4)), dtype=np.int32),
    C(np.ones, (2, V(np.int64(3)))),
    C(np.empty, (V(np.int64(3)),), shape_only=True),
    C(np.full, (2, 3), N()),
    C(np.full, V(np.int64(3)), 1.5),
    C(np.full, (V(np.int64(2)), 2), N(2)),
    C(np.zeros_like, N(3, 4)),
    C(np.ones_like, N(3), dtype=np.int64),
    C(np.empty_like, N(2), shape_only=True),
    C(np.full_like, N(3, 4), 7.5),
    C(np.full_like, I(3), 2.7),
    C(np.full_like, N(3), N()),
    C(np.zeros_like, N(3), shape=(2, 2)),
    C(np.eye, V(np.int64(3))),
    C(np.eye, V(np.int64(3)), 4, k=1),
    C(np.identity, V(np.int64(3))),
    C(np.arange, V(np.int64(5))),
    C(np.arange, V(np.int64(1)), 7, 2),
    C(np.arange, N(), 3.0, 0.5, grad=False),
    C(np.arange, 0.0, V(np.float64(2.5)), 0.5, grad=False),
    C(np.linspace, N(), N(), 5),
    C(np.linspace, 0.0, N(), 4, endpoint=False),
    C(np.linspace, N(), 1.0, 1),
    C(np.linspace, N(), N(), 4, retstep=True),
    C(np.linspace, N(3), N(3), 4),
    C(np.linspace, N(2), 5.0, 3, axis=1),
    R(np.linspace, 0.0, 1.0, V(np.int64(3))),
    C(np.array, [N(), N()]),
    C(np.array, [[N(), 1.0], [2.0, N()]]),
    C(np.array, [N(3), N(3)]),
    C(np.array, N(3)),
    C(np.array, N(3), ndmin=2),
    C(np.array, [N(2), X[0, :2]], dtype=np.float32),
    C(np.array, [I(), 2.5]),
    C(np.asarray, N(3)),
    C(np.asarray, [N(), N()]),
    C(np.asarray, I(3), dtype=float),
    C(np.asanyarray, [N(2), N(2)]),
    C(np.ascontiguousarray, N(2, 3)),
    C(np.copy, N(3)),
    C(np.float64, N()),
    C(np.float64, I(3)),
    C(np.float32, N(3)),
    C(np.int64, V([1.7, -1.7, 2.2])),
    C(np.int32, N()),
    C(np.bool_, V([0.0, 1.5, -2.0])),
    # ---- indexing, sorting, searching
    C(np.take, N(5), np.array([4, 0, 1, 1])),
    C(np.take, N(3, 4), V([2, 0]), axis=1),
    C(np.take, N(3, 4), [[0, 5], [11, 3]]),
    C(np.take, N(4), [5, -6], mode="wrap"),
    C(np.take, N(4), [5, -6], mode="clip"),
    C(np.take_along_axis, N(3, 4), np.array([[0, 3], [1, 1], [2, 0]]), axis=1),
    C(np.take_along_axis, N(3, 4), np.array([[0, 2, 1, 0]]), axis=0),
    C(np.take_along_axis, N(5), np.array([4, 0]), None),
    C(np.tril, N(3, 4)),
    C(np.tril, N(2, 3, 3), -1),
    C(np.triu, N(3, 4), k=1),
    C(np.triu, N(4, 3)),
    C(np.diag, N(3)),
    C(np.diag, N(3, 4)),
    C(np.diag, N(3), 1),
    C(np.diag, N(4, 3), k=-1),
    C(np.diagonal, N(3, 4)),
    C(np.diagonal, N(2, 3, 4), 1, 1, 2),
    C(np.diagonal, N(3, 3), offset=-1),
    C(np.trace, N(3, 3)),
    C(np.trace, N(3, 4), 1),
    C(np.trace, N(2, 3, 3), axis1=1, axis2=2),
    C(np.sort, N(3, 4)),
    C(np.sort, N(3, 4), axis=0),
    C(np.sort, N(3, 4), axis=None),
    C(np.sort, I(6)),
    C(np.argsort, N(3, 4)),
    C(np.argsort, N(3, 4), axis=0),
    C(np.argsort, N(3, 4), axis=None),
    C(np.argmax, N(3, 4)),
    C(np.argmax, N(3, 4), axis=0),
    C(np.argmax, N(3, 4), axis=1, keepdims=True),
    C(np.argmax, N(3, 4), keepdims=True),
    C(np.argmin, N(3, 4), -1),
    C(np.argmin, I(5)),
    C(np.searchsorted, V([0.1, 0.4, 0.9]), N(5)),
    C(np.searchsorted, np.array([-1.0, 0.0, 1.0]), N(4), side="right"),
    C(np.searchsorted, N(4), 0.0, sorter=np.array([0, 1, 2, 3]), grad=False),
    C(np.put, N(5), IDX, N(6)),
    C(np.put, N(3, 2), 4, N()),
    C(np.put, N(5), V(IDX), N(6)),
    C(np.copyto, N(3, 4), N(4)),
    C(np.copyto, N(3), N(3), where=B(3)),
    C(np.copyto, N(3), 2),
    C(np.nonzero, I(3, 4)),
    C(np.nonzero, B(5)),
    C(np.flatnonzero, I(3, 4)),
    C(np.argwhere, I(3, 4)),
    C(np.tril_indices, V(np.int64(3))),
    C(np.tril_indices, V(np.int64(3)), 1, 4),
    C(np.triu_indices, V(np.int64(4)), -1),
    C(np.diag_indices, V(np.int64(3))),
    C(np.diag_indices, V(np.int64(2)), 3),
    C(np.ix_, I(2, low=0, high=3), np.array([1, 2, 3])),
    C(np.ix_, B(3), I(2)),
    # ---- ufunc methods
    C((np.add, "reduce"), N(3, 4)),
    C((np.add, "reduce"), N(3, 4), axis=1),
    C((np.add, "reduce"), N(3, 4), axis=None),
    C((np.multiply, "reduce"), N(3, 4)),
    C((np.maximum, "reduce"), N(3, 4), 1),
    C((np.minimum, "reduce"), N(3, 4), keepdims=True),
    C((np.logaddexp, "reduce"), N(3, 4)),
    C((np.logaddexp, "reduce"), N(3, 4), axis=1, keepdims=True),
    C((np.logaddexp, "reduce"), N(2, 3, 4), axis=(0, 2)),
    C((np.logaddexp, "reduce"), N(2, 3), axis=None),
    C((np.logaddexp, "reduce"), V([-1000.0, -1001.0, -np.inf]), grad=False),
    C((np.logaddexp, "reduce"), V([800.0, 799.0, 10.0])),
    C((np.logical_and, "reduce"), B(3, 4)),
    C((np.logical_or, "reduce"), B(3, 4), axis=1),
    C((np.add, "accumulate"), N(3, 4)),
    C((np.add, "accumulate"), N(3, 4), axis=1),
    C((np.multiply, "accumulate"), N(5)),
    C((np.maximum, "accumulate"), N(7)),
    C((np.maximum, "accumulate"), N(3, 5), axis=1),
    C((np.minimum, "accumulate"), N(4, 3)),
    C((np.maximum, "accumulate"), V([1.0, np.nan, 3.0, 0.5]), grad=False),
    C((np.maximum, "accumulate"), I(6)),
    C((np.logaddexp, "accumulate"), N(6)),
    C((np.logaddexp, "accumulate"), N(3, 4), axis=1),
    C((np.logaddexp, "accumulate"), V([-600.0, 0.0, 500.0, 499.0])),
    C((np.logaddexp, "accumulate"), V([-np.inf, 1.0, -np.inf, 2.0]), grad=False),
    C((np.add, "outer"), N(3), N(4)),
    C((np.subtract, "outer"), N(2, 2), N(3)),
    C((np.multiply, "outer"), N(3), N(2)),
    C((np.divide, "outer"), N(3), P(2)),
    C((np.maximum, "outer"), N(3), N(2)),
    C((np.minimum, "outer"), N(3), N(2)),
    C((np.add, "at"), N(3), IDX, N(6)),
    C((np.add, "at"), N(3, 2), IDX, N(6, 2)),
    C((np.add, "at"), N(4), IDX, 1.0),
    C((np.add, "at"), N(4, 3), (IDX, IDX % 3), N(6)),
    C((np.add, "at"), np.zeros(3), V(IDX), N(6)),
    C((np.add, "at"), N(3, 4), (slice(None), IDX % 4), N(3, 6)),
    C((np.subtract, "at"), N(3), IDX, N(6)),
    C((np.multiply, "at"), N(3), IDX, N(6)),
    C((np.multiply, "at"), N(3, 2), np.array([2, -1, 0, -3]), N(4, 2)),
    C((np.maximum, "at"), N(4), IDX, N(6)),
    C((np.minimum, "at"), N(4, 3), (IDX, IDX % 3), N(6)),
    R((np.multiply, "at"), N(3), V(IDX), N(6)),
    # ---- version-dependent numpy names
    *[
        C(getattr(np, name), *args, **kw)
        for name, args, kw in [
            ("row_stack", ([N(3), N(3)],), {}),
            ("permute_dims", (N(2, 3, 4), (2, 0, 1)), {}),
            ("matrix_transpose", (N(2, 3, 4),), {}),
            ("vecdot", (N(3, 4), N(4)), {}),
            ("astype", (N(3), np.int32), {}),
            ("cumulative_sum", (N(3, 4),), {"axis": 1, "include_initial": True}),
            ("cumulative_sum", (N(4),), {}),
            ("cumulative_prod", (N(3, 2),), {"axis": 0, "include_initial": True}),
        ]
        if hasattr(np, name)
    ],
    # ---- refusals of options that a graph cannot express
    R(np.exp, N(3), out=np.zeros(3)),  # zeros, not empty: the id and seed repr it
    R(np.add, N(3), 1.0, where=np.array([True, False, True])),
    R(np.sum, N(3), out=np.zeros(())),
    R(np.sort, N(3), order="x"),
    # ---- builtins and math
    C(abs, N(4)),
    C(sum, [N(), N(), 2.0]),
    C(sum, N(3, 2)),
    C(sum, [N(2), N(2)], 1.0),
    C(max, N(), N()),
    C(max, [N(), N(), 0.5]),
    C(max, N(4)),
    C(min, N(), N(), N()),
    C(min, N(3)),
    R(max, [N(), N()], key=abs),
    C(float, N()),
    C(float, I()),
    C(int, V(np.float64(-2.7))),
    C(int, V(np.float64(3.9))),
    C(int, I()),
    C(round, V(np.float64(2.5))),
    C(round, V(np.float64(-1.6))),
    C(round, N(), 2),
    C(pow, P(), N()),
    C(pow, I(low=1, high=5), 2),
    R(pow, I(low=1, high=5), 2, 3),
    C(divmod, N(), P()),
    C(divmod, I(), V(np.int64(2))),
    C(math.exp, N()),
    C(math.expm1, N()),
    C(math.log, P()),
    C(math.log, P(), 2.0),
    C(math.log, P(), G()),
    C(math.log2, P()),
    C(math.log10, P()),
    C(math.log1p, P()),
    C(math.sqrt, P()),
    C(math.pow, P(), N()),
    C(math.fabs, N()),
    C(math.sin, N()),
    C(math.cos, N()),
    C(math.tan, U()),
    C(math.asin, U()),
    C(math.acos, U()),
    C(math.atan, N()),
    C(math.atan2, N(), N()),
    C(math.sinh, N()),
    C(math.cosh, N()),
    C(math.tanh, N()),
    C(math.asinh, N()),
    C(math.acosh, G()),
    C(math.atanh, U()),
    C(math.erf, N()),
    C(math.erfc, N()),
    C(math.gamma, P()),
    C(math.lgamma, P()),
    C(math.floor, N()),
    C(math.ceil, N()),
    C(math.trunc, N()),
    C(math.degrees, N()),
    C(math.radians, N()),
    C(math.hypot, N(), N()),
    C(math.hypot, N(), N(), N()),
    C(math.dist, [N(), N()], [N(), 1.0]),
    C(math.fmod, N(), P()),
    C(math.fsum, [N(), N(), 0.1]),
    C(math.prod, [N(), N(), 2.0]),
    C(math.isnan, V(np.float64(np.nan))),
    C(math.isinf, N()),
    C(math.isfinite, V(np.float64(np.inf))),
    C(math.isclose, N(), N()),
    C(math.isclose, V(np.float64(1.0)), 1.0 + 1e-12),
    C(math.copysign, N(), -1.0),
    *[
        C(getattr(math, name), *args)
        for name, args in [
            ("cbrt", (N(),)),
            ("exp2", (N(),)),
            ("sumprod", ([N(), N()], [N(), 2.0])),
        ]
        if hasattr(math, name)
    ],
]


# --------------------------------------------------------------------------------------------
# machinery
# --------------------------------------------------------------------------------------------


def _map(obj, fn):
    """Replace every A spec in nested lists/tuples of obj by fn(spec)."""
    if isinstance(obj, A):
        return fn(obj)
    if isinstance(obj, (list, tuple)):
        return type(obj)(_map(o, fn) for o in obj)
    return obj


def _specs(case):
    found = {}  # one input per spec, even where a spec is passed twice (x != x)
    _map((case.args, tuple(case.kwargs.values())), lambda s: found.setdefault(id(s), s))
    return list(found.values())


def _leaves(result):
    return list(result) if isinstance(result, (tuple, list)) else [result]


def _is_float(x):
    return np.asarray(x).dtype.kind == "f"


def _prepare(case):
    rng = np.random.default_rng(zlib.crc32(repr(case).encode()))
    specs = _specs(case)
    values = {id(s): s.sample(rng) for s in specs}
    symbols = {id(s): s.variable(values[id(s)]) for s in specs}
    concrete = lambda values: (
        _map(case.args, lambda s: values[id(s)]),
        {k: _map(v, lambda s: values[id(s)]) for k, v in case.kwargs.items()},
    )
    symbolic_args = _map(case.args, lambda s: symbols[id(s)])
    symbolic_kwargs = {k: _map(v, lambda s: symbols[id(s)]) for k, v in case.kwargs.items()}
    return rng, specs, values, symbols, concrete, symbolic_args, symbolic_kwargs


@pytest.mark.parametrize("case", CASES, ids=repr)
def test_rule_matches_numpy(case):
    rng, specs, values, symbols, concrete, symbolic_args, symbolic_kwargs = _prepare(case)
    rule = case.rule()
    if case.refused:
        with pytest.raises(NotImplementedError):
            rule(*symbolic_args, **symbolic_kwargs)
        return

    def reference(values):
        args, kwargs = concrete(values)
        with np.errstate(all="ignore"):
            return case.reference(args, kwargs)

    expected = _leaves(reference(values))
    symbolic = _leaves(rule(*symbolic_args, **symbolic_kwargs))
    assert len(symbolic) == len(expected), f"{len(symbolic)} outputs, numpy gives {len(expected)}"

    inputs = [symbols[id(s)] for s in specs]
    differentiable = [s for s in specs if _is_float(values[id(s)])]
    # gradients are checked on float64 outputs only: finite differences in float32 are too coarse
    weighted = [i for i, e in enumerate(expected) if np.asarray(e).dtype == np.float64]
    weights = [rng.normal(size=np.shape(expected[i])) for i in weighted]
    gradients = []
    if case.grad and not case.shape_only and differentiable and weighted:
        objective = sum(
            pt.sum(pt.as_tensor_variable(symbolic[i]) * w) for i, w in zip(weighted, weights)
        )
        gradients = pytensor.grad(
            objective, [symbols[id(s)] for s in differentiable], disconnected_inputs="ignore"
        )
    outputs = [pt.as_tensor_variable(s) for s in symbolic] + list(gradients)
    function = pytensor.function(inputs, outputs, mode=FAST, on_unused_input="ignore")
    got = function(*[values[id(s)] for s in specs])

    for index, (value, want) in enumerate(zip(got, expected)):
        want = np.asarray(want)
        value = np.asarray(value).astype(want.dtype)  # the engine casts to numpy's dtype likewise
        assert value.shape == want.shape, f"output {index}: shape {value.shape}, numpy {want.shape}"
        if case.shape_only:
            continue
        # float32 results (dtype=np.float32) are computed in float64 here, in float32 by numpy
        rtol, atol = (1e-10, 1e-12) if want.dtype != np.float32 else (1e-6, 1e-6)
        np.testing.assert_allclose(
            value, want, rtol=rtol, atol=atol, equal_nan=True, err_msg=f"output {index}"
        )

    for spec, gradient in zip(differentiable, got[len(expected) :]):

        def weighted_sum(moved, spec=spec):
            dtype = np.asarray(
                values[id(spec)]
            ).dtype  # the input's own dtype (float32 stays float32)
            moved = moved.astype(dtype)
            outs = _leaves(reference({**values, id(spec): moved[()] if moved.ndim == 0 else moved}))
            return sum(
                float(np.sum(np.asarray(outs[i], dtype=float) * w))
                for i, w in zip(weighted, weights)
            )

        numeric = numeric_gradient(weighted_sum, values[id(spec)], step=1e-6)
        np.testing.assert_allclose(
            gradient, numeric, rtol=1e-5, atol=1e-6, err_msg=f"gradient wrt {spec!r}"
        )


def _table_keys():
    keys = set()
    for module in (numpy_rules, builtin_rules):
        keys |= set(module.FUNCTIONS)
    keys |= {("method", name) for name in method_rules.METHODS}
    keys |= {("inplace", name) for name in method_rules.IN_PLACE_METHODS}
    keys |= {("attr", name) for name in method_rules.ATTRIBUTES}
    keys |= {
        (kind, symbol)
        for kind, table in (
            ("binary", operator_rules.BINARY),
            ("unary", operator_rules.UNARY),
            ("compare", operator_rules.COMPARE),
        )
        for symbol in table
    }
    return keys


def test_every_table_entry_has_a_case():
    covered = {case.key for case in CASES}
    missing = [k for k in _table_keys() if k not in covered]
    assert not missing, f"table entries without a test case: {missing}"


def test_inplace_entries_name_an_argument_the_rule_returns():
    assert numpy_rules.INPLACE, "ufunc.at rules must be declared in INPLACE"
    for key, position in numpy_rules.INPLACE.items():
        assert key in numpy_rules.FUNCTIONS and position == 0


def test_equality_is_elementwise_not_identity():
    # PyTensor's `==` on variables is identity; the table must not fall back on it
    x, y = pt.vector("x"), pt.vector("y")
    result = operator_rules.COMPARE["=="](x, y)
    assert isinstance(result, pt.TensorVariable)
    same = np.array([1.0, np.nan, 2.0])
    assert pytensor.function([x, y], result, mode=FAST)(same, same).tolist() == [True, False, True]


SAME = A(4, value=[1.0, np.nan, np.inf, -2.0])


@pytest.mark.parametrize(
    "case",
    [
        OP("==", SAME, SAME),
        OP("!=", SAME, SAME),
        OP("<=", SAME, SAME),
        OP(">=", SAME, SAME),
        OP("<", SAME, SAME),
        C(np.not_equal, SAME, SAME),
        C(np.equal, SAME, SAME),
        C(np.less_equal, SAME, SAME),
    ],
    ids=repr,
)
def test_comparing_a_value_with_itself_sees_nan(case):
    # `x != x` is numpy's NaN test; PyTensor's rewrites fold eq(x, x) to True regardless of NaN
    test_rule_matches_numpy(case)


def test_second_derivatives_of_running_reductions():
    # the engine's Hessian-vector products differentiate these gradients again
    x, v = pt.vector("x"), pt.vector("v")
    value, direction = np.array([0.3, -1.2, 2.0, 0.7, -0.1]), np.array([0.5, -1.0, 0.25, 2.0, 1.0])
    weights = np.array([1.0, 0.0, 2.0, -1.0, 0.5])
    for key, reference, w in [
        ((np.logaddexp, "accumulate"), np.logaddexp.accumulate, weights),
        ((np.maximum, "accumulate"), np.maximum.accumulate, weights),
        ((np.logaddexp, "reduce"), np.logaddexp.reduce, 1.5),
    ]:
        # exp(0.3 * output) makes the objective curved, so the Hessian is not trivially zero
        objective = pt.sum(pt.exp(0.3 * numpy_rules.FUNCTIONS[key](x)) * w)
        gradient = pytensor.grad(objective, x)
        hvp = pytensor.grad(pt.sum(gradient * v), x)
        got = pytensor.function([x, v], hvp, mode=FAST)(value, direction)

        def numpy_gradient(a, reference=reference, w=w):
            return numeric_gradient(
                lambda b: np.sum(np.exp(0.3 * reference(b)) * w), a, step=1e-5, relative=False
            )

        def along_direction(
            t,
        ):  # the gradient's derivative along `direction` is the Hessian-vector product
            return numpy_gradient(value + t * direction)

        step = 1e-4
        want = (along_direction(step) - along_direction(-step)) / (2 * step)
        np.testing.assert_allclose(got, want, rtol=1e-4, atol=1e-5, err_msg=str(key))


def test_log_cumsum_exp_stays_finite_over_a_wide_range():
    # risk sets in survival losses: log(sum over j <= i of exp(x_j)); a naive exp overflows here
    x = pt.vector("x")
    rule = numpy_rules.FUNCTIONS[(np.logaddexp, "accumulate")]
    value = np.array([-650.0, 3.0, 700.0, 690.0, -5.0])
    output = rule(x)
    grad = pytensor.grad(pt.sum(output), x)
    got, got_grad = pytensor.function([x], [output, grad], mode=FAST)(value)
    np.testing.assert_allclose(got, np.logaddexp.accumulate(value), rtol=1e-12)
    # d/dx_j sum_i lcse_i = sum_{i >= j} exp(x_j - lcse_i)
    lcse = np.logaddexp.accumulate(value)
    want = [
        sum(np.exp(value[j] - lcse[i]) for i in range(j, len(value))) for j in range(len(value))
    ]
    np.testing.assert_allclose(got_grad, want, rtol=1e-10, atol=1e-300)
