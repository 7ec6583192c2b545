"""numpy's elementwise functions in PyTensor: ufuncs (with numpy's ufunc keywords) and elementwise
functions with other signatures (where, clip, round, isclose, ...). FUNCTIONS is keyed by the numpy
callable (identity). Rules follow the contract in doc/architecture.md ("Symbolic rules"), summed up
in _common.py.
"""

import numpy as np
import pytensor.tensor as pt
from pytensor.compile.builders import OpFromGraph

from ._common import (
    COMPLEX_DTYPES,
    FLOAT_DTYPES,
    MISSING,
    as_tensor,
    cast,
    given,
    is_nonzero,
    maximum,
    minimum,
    pullback,
    refuse,
)
from .indexing import _nonzero
from .operators import equal, greater_equal, less_equal, not_equal


# --------------------------------------------------------------------------------------------
# ufuncs: elementwise functions with numpy's ufunc keywords
# --------------------------------------------------------------------------------------------


def _ufunc(fn):
    """Wrap an elementwise PyTensor function so that it takes numpy's ufunc keywords."""
    name = getattr(fn, "__name__", "ufunc")

    def rule(
        *args,
        out=None,
        where=True,
        dtype=None,
        casting="same_kind",
        order="K",
        subok=True,
        signature=None,
    ):
        refuse(f"np.{name}", out=(out, None), where=(where, True))
        args = [as_tensor(a) if isinstance(a, (list, tuple)) else a for a in args]
        result = fn(*args)
        return result if dtype is None else cast(result, dtype)

    rule.__name__ = name
    rule.__doc__ = f"numpy ufunc rule over {fn!r}"
    return rule


_LN2 = float(np.log(2.0))


def _hypot(x, y):
    # missing in PyTensor; the naive formula is exact away from overflow and has the right gradient
    return pt.sqrt(pt.sqr(x) + pt.sqr(y))


def _cbrt(x):
    return pt.sign(x) * pt.power(pt.abs(x), 1.0 / 3.0)


class LogAddExp(OpFromGraph):
    """log(exp(x) + exp(y)) with a stable value and gradient (sigmoid(x - y), sigmoid(y - x)).

    pt.logaddexp's gradient is NaN once exp() overflows in pytensor 3.0.7 (np.logaddexp(x, e)
    with e ~ 4e5). The name lets skautodiff.printing show it as log(exp(x) + exp(y)).
    """


def _logaddexp(x, y):
    x, y = pt.broadcast_arrays(
        as_tensor(pt.as_tensor_variable(x)), as_tensor(pt.as_tensor_variable(y))
    )
    a, b = x.type(), y.type()
    top = maximum(a, b)
    value = pt.switch(pt.isinf(top), top, top + pt.log1p(pt.exp(-pt.abs(a - b))))

    def gradient(inputs, outputs, output_grads):
        u, v = inputs
        return [output_grads[0] * pt.sigmoid(u - v), output_grads[0] * pt.sigmoid(v - u)]

    return LogAddExp([a, b], [value], **pullback(gradient))(x, y)


def _logaddexp2(x, y):
    return _logaddexp(x * _LN2, y * _LN2) / _LN2


def _fmax(x, y):
    # fmax ignores a NaN operand (maximum propagates it)
    x, y = as_tensor(x), as_tensor(y)
    return pt.switch(pt.isnan(x), y, pt.switch(pt.isnan(y), x, maximum(x, y)))


def _fmin(x, y):
    x, y = as_tensor(x), as_tensor(y)
    return pt.switch(pt.isnan(x), y, pt.switch(pt.isnan(y), x, minimum(x, y)))


def _logical_and(x, y):
    return pt.and_(is_nonzero(x), is_nonzero(y))


def _logical_or(x, y):
    return pt.or_(is_nonzero(x), is_nonzero(y))


def _logical_xor(x, y):
    return pt.neq(is_nonzero(x), is_nonzero(y))


def _logical_not(x):
    return pt.eq(x, 0)


def _positive(x):
    return as_tensor(x)


def _fmod(x, y):
    # C remainder: the sign follows the dividend (np.mod/% follow the divisor)
    return x - y * pt.trunc(pt.true_div(x, y))


def _float_power(x, y):
    return pt.power(cast(x, "float64"), cast(y, "float64"))


def _heaviside(x1, x2):
    x1 = as_tensor(x1)
    return pt.switch(pt.lt(x1, 0), 0.0, pt.switch(pt.gt(x1, 0), 1.0, x2))


def _sinc(x):
    # sin(pi x)/(pi x) with the removable singularity filled; the safe denominator keeps the
    # untaken branch's gradient finite at 0
    x = as_tensor(x)
    zero = pt.eq(x, 0)
    px = np.pi * pt.switch(zero, 1.0, x)
    return pt.switch(zero, 1.0, pt.sin(px) / px)


def _divmod(x, y):
    return pt.floor_div(x, y), pt.mod(x, y)


def _modf(x):
    whole = pt.trunc(x)
    return x - whole, whole


def _deg2rad(x):
    return x * (np.pi / 180.0)


def _rad2deg(x):
    return x * (180.0 / np.pi)


def _copysign(x, y):
    y = as_tensor(y)
    # -0.0 counts as negative, as in C copysign
    negative = pt.or_(pt.lt(y, 0), pt.and_(pt.eq(y, 0), pt.lt(pt.true_div(1.0, y), 0)))
    return pt.switch(negative, -pt.abs(x), pt.abs(x))


# --------------------------------------------------------------------------------------------
# elementwise functions with non-ufunc signatures
# --------------------------------------------------------------------------------------------


def _where(condition, x=MISSING, y=MISSING):
    if not given(x) and not given(y):
        return _nonzero(condition)
    return pt.where(as_tensor(condition), x, y)


def _select(condlist, choicelist, default=0):
    # the first true condition wins: fold from the last one, as numpy does
    if len(condlist) != len(choicelist):
        raise NotImplementedError(
            "np.select: condlist and choicelist differ in length"
        )  # numpy raised
    result = as_tensor(default)
    for condition, choice in reversed(list(zip(condlist, choicelist))):
        result = pt.where(as_tensor(condition), as_tensor(choice), result)
    return result


def _real(val):
    val = as_tensor(val)
    return pt.real(val) if val.dtype in COMPLEX_DTYPES else val


def _imag(val):
    val = as_tensor(val)
    return pt.imag(val) if val.dtype in COMPLEX_DTYPES else pt.zeros_like(val)


def _clip(a, a_min=MISSING, a_max=MISSING, out=None, *, min=MISSING, max=MISSING, **kwargs):
    refuse("np.clip", out=(out, None), where=(kwargs.get("where", True), True))
    low = a_min if given(a_min) else min
    high = a_max if given(a_max) else max
    result = as_tensor(a)
    # maximum/minimum rather than pt.clip: either bound may be None, and a traced bound gets its
    # gradient where it is active
    if given(low) and low is not None:
        result = maximum(result, low)
    if given(high) and high is not None:
        result = minimum(result, high)
    return result


def _round(a, decimals=0, out=None):
    refuse("np.round", out=(out, None))
    a = as_tensor(a)
    if decimals == 0:
        return pt.round_half_to_even(a)
    # numpy's own algorithm: scale, round half to even, unscale
    scale = 10.0**decimals
    return pt.round_half_to_even(a * scale) / scale


def _nan_to_num(x, copy=True, nan=0.0, posinf=None, neginf=None):
    x = as_tensor(x)
    if x.dtype not in FLOAT_DTYPES:
        return x
    info = np.finfo(x.dtype)
    posinf = info.max if posinf is None else posinf
    neginf = info.min if neginf is None else neginf
    result = pt.switch(pt.isnan(x), nan, x)
    result = pt.switch(pt.eq(result, np.inf), posinf, result)
    return pt.switch(pt.eq(result, -np.inf), neginf, result)


def _isclose(a, b, rtol=1e-05, atol=1e-08, equal_nan=False):
    a, b = as_tensor(a), as_tensor(b)
    close = pt.le(pt.abs(a - b), atol + rtol * pt.abs(b))
    # equal infinities are close; |inf - inf| is nan
    close = pt.or_(close, pt.and_(pt.isinf(a), pt.eq(a, b)))
    if equal_nan:
        close = pt.or_(close, pt.and_(pt.isnan(a), pt.isnan(b)))
    return close


def _allclose(a, b, rtol=1e-05, atol=1e-08, equal_nan=False):
    return pt.all(_isclose(a, b, rtol, atol, equal_nan))


# --------------------------------------------------------------------------------------------
# the table
# --------------------------------------------------------------------------------------------

FUNCTIONS = {
    # elementwise (ufuncs)
    np.exp: _ufunc(pt.exp),
    np.exp2: _ufunc(pt.exp2),
    np.expm1: _ufunc(pt.expm1),
    np.log: _ufunc(pt.log),
    np.log2: _ufunc(pt.log2),
    np.log10: _ufunc(pt.log10),
    np.log1p: _ufunc(pt.log1p),
    np.sqrt: _ufunc(pt.sqrt),
    np.cbrt: _ufunc(_cbrt),
    np.square: _ufunc(pt.sqr),
    np.reciprocal: _ufunc(pt.reciprocal),
    np.absolute: _ufunc(pt.abs),  # np.abs is the same object
    np.fabs: _ufunc(pt.abs),
    np.sign: _ufunc(pt.sign),
    np.negative: _ufunc(pt.neg),
    np.positive: _ufunc(_positive),
    np.sin: _ufunc(pt.sin),
    np.cos: _ufunc(pt.cos),
    np.tan: _ufunc(pt.tan),
    np.arcsin: _ufunc(pt.arcsin),  # np.asin etc. (numpy 2) are the same objects
    np.arccos: _ufunc(pt.arccos),
    np.arctan: _ufunc(pt.arctan),
    np.arctan2: _ufunc(pt.arctan2),
    np.sinh: _ufunc(pt.sinh),
    np.cosh: _ufunc(pt.cosh),
    np.tanh: _ufunc(pt.tanh),
    np.arcsinh: _ufunc(pt.arcsinh),
    np.arccosh: _ufunc(pt.arccosh),
    np.arctanh: _ufunc(pt.arctanh),
    np.hypot: _ufunc(_hypot),
    np.deg2rad: _ufunc(_deg2rad),
    np.radians: _ufunc(_deg2rad),
    np.rad2deg: _ufunc(_rad2deg),
    np.degrees: _ufunc(_rad2deg),
    np.sinc: _sinc,
    np.floor: _ufunc(pt.floor),
    np.ceil: _ufunc(pt.ceil),
    np.trunc: _ufunc(pt.trunc),
    np.fix: _ufunc(pt.trunc),
    np.rint: _ufunc(pt.round_half_to_even),
    np.round: _round,
    np.around: _round,
    np.power: _ufunc(pt.power),
    np.float_power: _ufunc(_float_power),
    np.maximum: _ufunc(maximum),
    np.minimum: _ufunc(minimum),
    np.fmax: _ufunc(_fmax),
    np.fmin: _ufunc(_fmin),
    np.logaddexp: _ufunc(_logaddexp),
    np.logaddexp2: _ufunc(_logaddexp2),
    np.add: _ufunc(pt.add),
    np.subtract: _ufunc(pt.sub),
    np.multiply: _ufunc(pt.mul),
    np.divide: _ufunc(pt.true_div),  # np.true_divide is the same object
    np.floor_divide: _ufunc(pt.floor_div),
    np.remainder: _ufunc(pt.mod),  # np.mod is the same object
    np.fmod: _ufunc(_fmod),
    np.divmod: _ufunc(_divmod),
    np.modf: _ufunc(_modf),
    np.copysign: _ufunc(_copysign),
    np.heaviside: _ufunc(_heaviside),
    np.greater: _ufunc(pt.gt),
    np.greater_equal: _ufunc(greater_equal),
    np.less: _ufunc(pt.lt),
    np.less_equal: _ufunc(less_equal),
    np.equal: _ufunc(equal),
    np.not_equal: _ufunc(not_equal),
    np.logical_and: _ufunc(_logical_and),
    np.logical_or: _ufunc(_logical_or),
    np.logical_xor: _ufunc(_logical_xor),
    np.logical_not: _ufunc(_logical_not),
    np.bitwise_and: _ufunc(pt.and_),
    np.bitwise_or: _ufunc(pt.or_),
    np.bitwise_xor: _ufunc(pt.xor),
    np.invert: _ufunc(pt.invert),
    np.isnan: _ufunc(pt.isnan),
    np.isinf: _ufunc(pt.isinf),
    np.isfinite: _ufunc(pt.isfinite),
    # elementwise, other signatures
    np.where: _where,
    np.select: _select,
    np.real: _real,
    np.imag: _imag,
    np.clip: _clip,
    np.nan_to_num: _nan_to_num,
    np.isclose: _isclose,
    np.allclose: _allclose,
}
