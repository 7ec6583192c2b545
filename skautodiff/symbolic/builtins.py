"""Python builtins and the math module on traced values: FUNCTIONS entries.

math functions return Python floats (or ints for floor/ceil/trunc) in untraced code; their rules
return 0-d PyTensor variables and the engine casts them to the concrete result's type.
"""

import builtins
import functools
import math

import pytensor.tensor as pt
from pytensor.graph.basic import Variable

from . import _common, elementwise


def _reduce_args(combine, name, reduce_array):
    """max/min/sum over several operands, or over one iterable of operands (a list or a traced array)."""

    def rule(*args, **kwargs):
        if "key" in kwargs:
            raise NotImplementedError(f"{name}(key=...) is not supported in traced code")
        items = args[0] if len(args) == 1 else args
        if isinstance(items, Variable):
            # iterating an array walks its first axis
            return reduce_array(items, axis=0)
        return functools.reduce(
            combine, [_common.as_tensor(i) if isinstance(i, (list, tuple)) else i for i in items]
        )

    rule.__name__ = f"_{name}"
    return rule


def _sum(iterable, /, start=0):
    if isinstance(iterable, Variable):
        return pt.sum(iterable, axis=0) + start
    return functools.reduce(pt.add, list(iterable), start)


def _prod(iterable, /, *, start=1):
    if isinstance(iterable, Variable):
        return pt.prod(iterable, axis=0) * start
    return functools.reduce(pt.mul, list(iterable), start)


def _float(x=0.0):
    return _common.cast(x, "float64")


def _int(x=0, base=None):
    if base is not None:
        raise NotImplementedError("int(x, base) of a traced value is not supported")
    # int() truncates toward zero
    x = _common.as_tensor(x)
    return _common.cast(pt.trunc(x) if x.dtype in _common.FLOAT_DTYPES else x, "int64")


def _round(number, ndigits=None):
    # Python rounds half to even, like numpy
    if ndigits is None:
        return _common.cast(pt.round_half_to_even(number), "int64")
    return elementwise._round(number, ndigits)


def _pow(base, exp, mod=None):
    if mod is not None:
        # modular exponentiation of huge integers has no floating-point counterpart
        raise NotImplementedError("pow(base, exp, mod) of a traced value is not supported")
    return pt.power(base, exp)


def _divmod(a, b):
    return pt.floor_div(a, b), pt.mod(a, b)


def _log(x, base=math.e):
    if isinstance(base, Variable):
        return pt.log(x) / pt.log(base)
    # a constant base's log is taken in Python: PyTensor would store the literal 2.0 as float32
    return pt.log(x) if base == math.e else pt.log(x) / math.log(base)


def _hypot(*coordinates):
    return pt.sqrt(functools.reduce(pt.add, [pt.sqr(c) for c in coordinates]))


def _dist(p, q):
    return pt.sqrt(functools.reduce(pt.add, [pt.sqr(a - b) for a, b in zip(p, q)]))


def _isclose(a, b, *, rel_tol=1e-09, abs_tol=0.0):
    # math.isclose is symmetric, unlike numpy's
    return pt.le(pt.abs(a - b), pt.maximum(rel_tol * pt.maximum(pt.abs(a), pt.abs(b)), abs_tol))


def _fmod(x, y):
    return elementwise._fmod(x, y)


def _sumprod(p, q):
    return functools.reduce(pt.add, [a * b for a, b in zip(p, q)])


FUNCTIONS = {
    builtins.abs: pt.abs,
    builtins.sum: _sum,
    builtins.max: _reduce_args(pt.maximum, "max", pt.max),
    builtins.min: _reduce_args(pt.minimum, "min", pt.min),
    builtins.float: _float,
    builtins.int: _int,
    builtins.round: _round,
    builtins.pow: _pow,
    builtins.divmod: _divmod,
    math.exp: pt.exp,
    math.expm1: pt.expm1,
    math.log: _log,
    math.log2: pt.log2,
    math.log10: pt.log10,
    math.log1p: pt.log1p,
    math.sqrt: pt.sqrt,
    math.pow: pt.power,
    math.fabs: pt.abs,
    math.sin: pt.sin,
    math.cos: pt.cos,
    math.tan: pt.tan,
    math.asin: pt.arcsin,
    math.acos: pt.arccos,
    math.atan: pt.arctan,
    math.atan2: pt.arctan2,
    math.sinh: pt.sinh,
    math.cosh: pt.cosh,
    math.tanh: pt.tanh,
    math.asinh: pt.arcsinh,
    math.acosh: pt.arccosh,
    math.atanh: pt.arctanh,
    math.erf: pt.erf,
    math.erfc: pt.erfc,
    math.gamma: pt.gamma,
    math.lgamma: pt.gammaln,
    math.floor: pt.floor,
    math.ceil: pt.ceil,
    math.trunc: pt.trunc,
    math.degrees: elementwise._rad2deg,
    math.radians: elementwise._deg2rad,
    math.hypot: _hypot,
    math.dist: _dist,
    math.fmod: _fmod,
    math.fsum: _sum,
    math.prod: _prod,
    math.isnan: pt.isnan,
    math.isinf: pt.isinf,
    math.isfinite: pt.isfinite,
    math.isclose: _isclose,
    math.copysign: elementwise._copysign,
}

# newer than Python 3.11
_common.register_if_present(
    FUNCTIONS, math, {"cbrt": elementwise._cbrt, "exp2": pt.exp2, "sumprod": _sumprod}
)
