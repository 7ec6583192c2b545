"""numpy functions in PyTensor: FUNCTIONS keyed by the numpy callable (identity) and INPLACE.

Contract (doc/architecture.md, "Symbolic rules"): a rule receives numpy's own arguments with every
traced value replaced by its PyTensor variable and returns the symbolic result. The engine computes
concrete values with numpy and casts the symbolic result to numpy's dtype, so rules need the right
ndim and values, not bit-identical dtypes. Where PyTensor's function has numpy's signature it is
mapped directly; otherwise a small named adapter sits above the table.
"""
import numpy as np
import pytensor.tensor as pt
from pytensor.gradient import zero_grad
from pytensor.graph.basic import Apply, Variable
from pytensor.graph.op import Op

from .operators import equal, greater_equal, less_equal, matmul, not_equal

_MISSING = object()

# dtype families by name (pytensor.tensor does not export these lists under one stable name)
_FLOATS = ("float16", "float32", "float64")
_COMPLEX = ("complex64", "complex128")
_INTEGERS = ("int8", "int16", "int32", "int64", "uint8", "uint16", "uint32", "uint64")  # "argument not passed" (numpy's own _NoValue is treated alike)


# --------------------------------------------------------------------------------------------
# shared helpers (also used by methods.py and builtins.py)
# --------------------------------------------------------------------------------------------

def given(value):
    return value is not _MISSING and value is not getattr(np, "_NoValue", _MISSING)


def contains_var(obj):
    if isinstance(obj, Variable):
        return True
    if isinstance(obj, (list, tuple)):
        return any(contains_var(o) for o in obj)
    return False


def as_var(obj):
    """A PyTensor variable for an array-like that may hold traced values (np.array([a, b]))."""
    if isinstance(obj, Variable):
        return obj
    if isinstance(obj, (list, tuple)) and contains_var(obj):
        return pt.stack([as_var(o) for o in obj])
    return pt.as_tensor_variable(np.asarray(obj))


def dtype_name(dtype):
    return None if dtype is None else np.dtype(dtype).name


def cast(x, dtype):
    """x cast to a numpy dtype spec; bool means "nonzero", as in numpy."""
    x = as_var(x)
    name = dtype_name(dtype)
    if name is None or name == x.dtype:
        return x
    if name == "bool":
        return pt.neq(x, 0)
    return pt.cast(x, name)


def refuse(function, **options):
    """Raise for numpy options that a symbolic rule cannot honour (out=, where=, order=...)."""
    for option, (value, default) in options.items():
        if given(value) and not (value is default or (isinstance(default, str) and value == default)):
            raise NotImplementedError(f"{function}({option}={value!r}) is not supported in traced code")


def norm_axis(axis, ndim):
    """numpy axis argument (None, int, sequence, possibly negative) -> None or a tuple of ints >= 0."""
    if axis is None:
        return None
    if isinstance(axis, Variable):
        raise NotImplementedError("an axis that depends on the inputs is not supported")
    axes = tuple(axis) if isinstance(axis, (tuple, list)) else (axis,)
    return tuple(int(a) % max(ndim, 1) for a in axes)


def _shape_arg(shape):
    # np.zeros(n), np.zeros((n, 3)): traced sizes may arrive as float-typed scalars; numpy needs
    # integers, so they are cast (numpy itself already rejected non-integral values)
    parts = shape if isinstance(shape, (tuple, list)) else (shape,)
    return tuple(pt.cast(p, "int64") if isinstance(p, Variable) and p.dtype not in _INTEGERS
                 else p for p in parts)


def _slice_along(x, axis, start, stop):
    return x[(slice(None),) * axis + (slice(start, stop),)]


# --------------------------------------------------------------------------------------------
# ufuncs: elementwise functions with numpy's ufunc keywords
# --------------------------------------------------------------------------------------------

def _ufunc(fn):
    """Wrap an elementwise PyTensor function so that it takes numpy's ufunc keywords."""
    name = getattr(fn, "__name__", "ufunc")

    def rule(*args, out=None, where=True, dtype=None, casting="same_kind", order="K", subok=True,
             signature=None):
        refuse(f"np.{name}", out=(out, None), where=(where, True))
        args = [as_var(a) if isinstance(a, (list, tuple)) else a for a in args]
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


def _logaddexp2(x, y):
    return pt.logaddexp(x * _LN2, y * _LN2) / _LN2


def _fmax(x, y):
    # fmax ignores a NaN operand (maximum propagates it)
    x, y = as_var(x), as_var(y)
    return pt.switch(pt.isnan(x), y, pt.switch(pt.isnan(y), x, pt.maximum(x, y)))


def _fmin(x, y):
    x, y = as_var(x), as_var(y)
    return pt.switch(pt.isnan(x), y, pt.switch(pt.isnan(y), x, pt.minimum(x, y)))


def _truth(x):
    return pt.neq(x, 0)


def _logical_and(x, y):
    return pt.and_(_truth(x), _truth(y))


def _logical_or(x, y):
    return pt.or_(_truth(x), _truth(y))


def _logical_xor(x, y):
    return pt.neq(_truth(x), _truth(y))


def _logical_not(x):
    return pt.eq(x, 0)


def _positive(x):
    return as_var(x)


def _fmod(x, y):
    # C remainder: the sign follows the dividend (np.mod/% follow the divisor)
    return x - y * pt.trunc(pt.true_div(x, y))


def _float_power(x, y):
    return pt.power(cast(x, "float64"), cast(y, "float64"))


def _heaviside(x1, x2):
    x1 = as_var(x1)
    return pt.switch(pt.lt(x1, 0), 0.0, pt.switch(pt.gt(x1, 0), 1.0, x2))


def _sinc(x):
    # sin(pi x)/(pi x) with the removable singularity filled; the safe denominator keeps the
    # untaken branch's gradient finite at 0
    x = as_var(x)
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
    y = as_var(y)
    # -0.0 counts as negative, as in C copysign
    negative = pt.or_(pt.lt(y, 0), pt.and_(pt.eq(y, 0), pt.lt(pt.true_div(1.0, y), 0)))
    return pt.switch(negative, -pt.abs(x), pt.abs(x))


# --------------------------------------------------------------------------------------------
# elementwise functions with non-ufunc signatures
# --------------------------------------------------------------------------------------------

def _where(condition, x=_MISSING, y=_MISSING):
    if not given(x) and not given(y):
        return _nonzero(condition)
    return pt.where(as_var(condition), x, y)


def _clip(a, a_min=_MISSING, a_max=_MISSING, out=None, *, min=_MISSING, max=_MISSING, **kwargs):
    refuse("np.clip", out=(out, None), where=(kwargs.get("where", True), True))
    low = a_min if given(a_min) else min
    high = a_max if given(a_max) else max
    result = as_var(a)
    # maximum/minimum rather than pt.clip: either bound may be None, and a traced bound gets its
    # gradient where it is active
    if given(low) and low is not None:
        result = pt.maximum(result, low)
    if given(high) and high is not None:
        result = pt.minimum(result, high)
    return result


def _round(a, decimals=0, out=None):
    refuse("np.round", out=(out, None))
    a = as_var(a)
    if decimals == 0:
        return pt.round_half_to_even(a)
    # numpy's own algorithm: scale, round half to even, unscale
    scale = 10.0 ** decimals
    return pt.round_half_to_even(a * scale) / scale


def _nan_to_num(x, copy=True, nan=0.0, posinf=None, neginf=None):
    x = as_var(x)
    if x.dtype not in _FLOATS:
        return x
    info = np.finfo(x.dtype)
    posinf = info.max if posinf is None else posinf
    neginf = info.min if neginf is None else neginf
    result = pt.switch(pt.isnan(x), nan, x)
    result = pt.switch(pt.eq(result, np.inf), posinf, result)
    return pt.switch(pt.eq(result, -np.inf), neginf, result)


def _isclose(a, b, rtol=1e-05, atol=1e-08, equal_nan=False):
    a, b = as_var(a), as_var(b)
    close = pt.le(pt.abs(a - b), atol + rtol * pt.abs(b))
    # equal infinities are close; |inf - inf| is nan
    close = pt.or_(close, pt.and_(pt.isinf(a), pt.eq(a, b)))
    if equal_nan:
        close = pt.or_(close, pt.and_(pt.isnan(a), pt.isnan(b)))
    return close


def _allclose(a, b, rtol=1e-05, atol=1e-08, equal_nan=False):
    return pt.all(_isclose(a, b, rtol, atol, equal_nan))


# --------------------------------------------------------------------------------------------
# reductions
# --------------------------------------------------------------------------------------------

def _masked(a, where, fill):
    return a if where is True or not given(where) else pt.switch(where, a, fill)


def _count(a, axis, where, keepdims):
    """Number of elements reduced over (symbolic), honouring where=."""
    if where is True or not given(where):
        axes = range(a.ndim) if axis is None else axis
        count = pt.as_tensor_variable(1, dtype="int64")
        for ax in axes:
            count = count * a.shape[ax]
        return count
    return pt.sum(pt.ones_like(a) * pt.neq(where, 0), axis=axis, keepdims=keepdims)


def _sum(a, axis=None, dtype=None, out=None, keepdims=False, initial=_MISSING, where=True):
    refuse("np.sum", out=(out, None))
    a = cast(as_var(a), dtype)
    axis = norm_axis(axis, a.ndim)
    result = pt.sum(_masked(a, where, 0), axis=axis, keepdims=bool(keepdims))
    return result + initial if given(initial) else result


def _prod(a, axis=None, dtype=None, out=None, keepdims=False, initial=_MISSING, where=True):
    refuse("np.prod", out=(out, None))
    a = cast(as_var(a), dtype)
    axis = norm_axis(axis, a.ndim)
    result = pt.prod(_masked(a, where, 1), axis=axis, keepdims=bool(keepdims))
    return result * initial if given(initial) else result


def _extreme(kind):
    reduce_, combine, fill = (pt.max, pt.maximum, -np.inf) if kind == "max" else (pt.min, pt.minimum, np.inf)

    def rule(a, axis=None, out=None, keepdims=False, initial=_MISSING, where=True):
        refuse(f"np.{kind}", out=(out, None))
        a = as_var(a)
        axis = norm_axis(axis, a.ndim)
        result = reduce_(_masked(a, where, initial if given(initial) else fill), axis=axis,
                         keepdims=bool(keepdims))
        return combine(result, initial) if given(initial) else result

    rule.__name__ = f"_{kind}"
    return rule


_max = _extreme("max")
_min = _extreme("min")


def _mean(a, axis=None, dtype=None, out=None, keepdims=False, *, where=True):
    refuse("np.mean", out=(out, None))
    a = as_var(a)
    if a.dtype not in _FLOATS and dtype is None:
        a = pt.cast(a, "float64")  # numpy's mean of integers is float64
    a = cast(a, dtype)
    axis = norm_axis(axis, a.ndim)
    if where is True or not given(where):
        return pt.mean(a, axis=axis, keepdims=bool(keepdims))
    return _sum(a, axis, keepdims=keepdims, where=where) / _count(a, axis, where, bool(keepdims))


def _var(a, axis=None, dtype=None, out=None, ddof=0, keepdims=False, *, where=True, mean=_MISSING,
         correction=_MISSING):
    refuse("np.var", out=(out, None))
    a = as_var(a)
    if a.dtype not in _FLOATS:
        a = pt.cast(a, "float64")
    a = cast(a, dtype)
    if given(correction):
        ddof = correction
    axis = norm_axis(axis, a.ndim)
    centre = as_var(mean) if given(mean) else _mean(a, axis, keepdims=True, where=where)
    deviation = a - centre
    squares = pt.real(deviation * pt.conj(deviation)) if a.dtype in _COMPLEX else pt.sqr(deviation)
    total = _sum(squares, axis, keepdims=keepdims, where=where)
    return total / (_count(a, axis, where, bool(keepdims)) - ddof)


def _std(a, axis=None, dtype=None, out=None, ddof=0, keepdims=False, *, where=True, mean=_MISSING,
         correction=_MISSING):
    return pt.sqrt(_var(a, axis, dtype, out, ddof, keepdims, where=where, mean=mean, correction=correction))


def _cov(m, y=None, rowvar=True, bias=False, ddof=None, fweights=None, aweights=None, *, dtype=None):
    refuse("np.cov", fweights=(fweights, None), aweights=(aweights, None))
    rows = []
    for data in (m, y):
        if data is None:
            continue
        data = as_var(data)
        if data.dtype not in _FLOATS:
            data = pt.cast(data, "float64")
        data = data[None, :] if data.ndim == 1 else (data if rowvar else data.T)
        rows.append(data)
    x = pt.concatenate(rows, axis=0) if len(rows) > 1 else rows[0]
    ddof = (0 if bias else 1) if ddof is None else ddof
    centred = x - pt.mean(x, axis=1, keepdims=True)
    c = pt.dot(centred, centred.T) / (x.shape[1] - ddof)
    return cast(pt.squeeze(c), dtype)   # numpy squeezes length-1 axes (a single variable -> 0-d)


def _corrcoef(x, y=None, rowvar=True, *, dtype=None):
    c = _cov(x, y, rowvar, dtype=dtype)
    if c.ndim == 0:
        return c / c
    d = pt.sqrt(pt.diagonal(c))
    return pt.clip(c / d[:, None] / d[None, :], -1, 1)


def _median(a, axis=None, out=None, overwrite_input=False, keepdims=False):
    refuse("np.median", out=(out, None))
    a = as_var(a)
    if a.dtype not in _FLOATS:
        a = pt.cast(a, "float64")
    if axis is None:
        result = _median(a.ravel(), 0)
        return pt.reshape(result, (1,) * a.ndim) if keepdims else result
    if not isinstance(axis, (int, np.integer)):
        raise NotImplementedError("np.median over several axes is not supported; reshape first")
    axis = int(axis) % a.ndim
    ordered = pt.sort(a, axis=axis)
    n = ordered.shape[axis]
    middle = (pt.take(ordered, (n - 1) // 2, axis=axis) + pt.take(ordered, n // 2, axis=axis)) / 2
    return pt.expand_dims(middle, axis) if keepdims else middle


def _any(a, axis=None, out=None, keepdims=False, *, where=True):
    refuse("np.any", out=(out, None))
    a = _truth(as_var(a))
    return pt.any(_masked(a, where, False), axis=norm_axis(axis, a.ndim), keepdims=bool(keepdims))


def _all(a, axis=None, out=None, keepdims=False, *, where=True):
    refuse("np.all", out=(out, None))
    a = _truth(as_var(a))
    return pt.all(_masked(a, where, True), axis=norm_axis(axis, a.ndim), keepdims=bool(keepdims))


def _count_nonzero(a, axis=None, *, keepdims=False):
    a = as_var(a)
    return pt.sum(_truth(a), axis=norm_axis(axis, a.ndim), keepdims=bool(keepdims), dtype="int64")


def _nansum(a, axis=None, dtype=None, out=None, keepdims=False, initial=_MISSING, where=True):
    a = as_var(a)
    return _sum(pt.switch(pt.isnan(a), 0, a), axis, dtype, out, keepdims, initial, where)


def _nanprod(a, axis=None, dtype=None, out=None, keepdims=False, initial=_MISSING, where=True):
    a = as_var(a)
    return _prod(pt.switch(pt.isnan(a), 1, a), axis, dtype, out, keepdims, initial, where)


def _nanmean(a, axis=None, dtype=None, out=None, keepdims=False, *, where=True):
    a = as_var(a)
    present = pt.bitwise_not(pt.isnan(a))
    if given(where) and where is not True:
        present = pt.and_(present, _truth(where))
    return _nansum(a, axis, dtype, out, keepdims, where=present) / _sum(present, axis, keepdims=keepdims)


def _nan_extreme(kind):
    base = _extreme(kind)
    fill = -np.inf if kind == "max" else np.inf

    def rule(a, axis=None, out=None, keepdims=False, initial=_MISSING, where=True):
        a = as_var(a)
        nan = pt.isnan(a)
        result = base(pt.switch(nan, fill, a), axis, out, keepdims, initial, where)
        # numpy answers NaN (with a warning) where every element was NaN
        return pt.switch(_all(nan, axis, keepdims=keepdims), np.nan, result)

    rule.__name__ = f"_nan{kind}"
    return rule


def _nanvar(a, axis=None, dtype=None, out=None, ddof=0, keepdims=False, *, where=True, mean=_MISSING,
            correction=_MISSING):
    a = as_var(a)
    present = pt.bitwise_not(pt.isnan(a))
    if given(where) and where is not True:
        present = pt.and_(present, _truth(where))
    return _var(pt.switch(present, a, 0), axis, dtype, out, ddof, keepdims, where=present, mean=mean,
                correction=correction)


def _nanstd(a, axis=None, dtype=None, out=None, ddof=0, keepdims=False, *, where=True, mean=_MISSING,
            correction=_MISSING):
    return pt.sqrt(_nanvar(a, axis, dtype, out, ddof, keepdims, where=where, mean=mean, correction=correction))


def _average(a, axis=None, weights=None, returned=False, *, keepdims=False):
    a = as_var(a)
    if a.dtype not in _FLOATS:
        a = pt.cast(a, "float64")
    axes = norm_axis(axis, a.ndim)
    keep = bool(given(keepdims) and keepdims)
    if weights is None:
        avg = pt.mean(a, axis=axes, keepdims=keep)
        scale = pt.cast(_count(a, axes, True, keep), a.dtype) + pt.zeros_like(avg)
    else:
        w = as_var(weights)
        if w.ndim != a.ndim:
            # numpy: 1-D weights run along the single reduced axis
            if axes is None or len(axes) != w.ndim:
                raise NotImplementedError("np.average: weights of another shape need a matching axis")
            order = list(axes)
            w = pt.transpose(w, np.argsort(np.argsort(order)))  # weights' axes follow `axis`' order
            pattern = ["x"] * a.ndim
            for position, ax in enumerate(sorted(order)):
                pattern[ax] = position
            w = w.dimshuffle(pattern)
        scale = pt.sum(w + pt.zeros_like(a), axis=axes, keepdims=keep)
        avg = pt.sum(a * w, axis=axes, keepdims=keep) / scale
    return (avg, scale) if returned else avg


def _logsumexp_reduce(a, axis=0, dtype=None, out=None, keepdims=False, initial=_MISSING, where=True):
    """np.logaddexp.reduce: log(sum(exp(a))) along axis, shifted by the maximum for stability."""
    refuse("np.logaddexp.reduce", out=(out, None), where=(where, True))
    a = cast(as_var(a), dtype)
    axes = norm_axis(axis, a.ndim)
    if given(initial):
        raise NotImplementedError("np.logaddexp.reduce(initial=...) is not supported")
    # the shift cancels mathematically; zero_grad keeps max's tie-breaking out of the gradient
    shift = zero_grad(pt.max(a, axis=axes, keepdims=True))
    shift = pt.switch(pt.isfinite(shift), shift, 0)
    result = shift + pt.log(pt.sum(pt.exp(a - shift), axis=axes, keepdims=True))
    if keepdims:
        return result
    return result.dimshuffle([d for d in range(a.ndim) if axes is not None and d not in axes])


# --------------------------------------------------------------------------------------------
# cumulative operations
# --------------------------------------------------------------------------------------------

def _cumulative(fn, name):
    def rule(a, axis=None, dtype=None, out=None):
        refuse(f"np.{name}", out=(out, None))
        a = cast(as_var(a), dtype)
        if axis is None:
            return fn(a.flatten(), axis=0)
        return fn(a, axis=int(axis) % a.ndim)

    rule.__name__ = f"_{name}"
    return rule


_cumsum = _cumulative(pt.cumsum, "cumsum")
_cumprod = _cumulative(pt.cumprod, "cumprod")


def _cumulative_2(fn, name, neutral):
    # numpy >= 2.1 array-API spellings, which may prepend the neutral element
    def rule(x, /, *, axis=None, dtype=None, out=None, include_initial=False):
        x = as_var(x)
        axis = 0 if axis is None else int(axis) % x.ndim
        result = _cumulative(fn, name)(x, axis, dtype, out)
        if include_initial:
            shape = [result.shape[d] if d != axis else 1 for d in range(result.ndim)]
            result = pt.concatenate([pt.full(shape, neutral, dtype=result.dtype), result], axis=axis)
        return result

    rule.__name__ = f"_{name}"
    return rule


class ArgCumExtreme(Op):
    """Index of the running maximum (or minimum) along an axis.

    PyTensor has no cummax; taking `x` at these indices gives the running extreme with the gradient
    routed to the element that attains it (take_along_axis differentiates). The indices themselves
    are piecewise constant in x, hence the zero gradient.
    """

    __props__ = ("kind", "axis")

    def __init__(self, kind, axis):
        self.kind = kind
        self.axis = axis

    def make_node(self, x):
        x = pt.as_tensor_variable(x)
        return Apply(self, [x], [pt.tensor(dtype="int64", shape=x.type.shape)])

    def perform(self, node, inputs, outputs):
        (x,) = inputs
        ufunc = np.maximum if self.kind == "max" else np.minimum
        running = ufunc.accumulate(x, axis=self.axis)
        shape = [1] * x.ndim
        shape[self.axis] = x.shape[self.axis]
        position = np.arange(x.shape[self.axis]).reshape(shape)
        # a NaN (for floats) takes over the running extreme from its position on, as in numpy
        hit = (x == running) | (np.isnan(x) if x.dtype.kind in "fc" else False)
        outputs[0][0] = np.maximum.accumulate(np.where(hit, position, 0), axis=self.axis).astype("int64")

    def infer_shape(self, fgraph, node, shapes):
        return shapes

    def grad(self, inputs, output_grads):
        return [pt.zeros_like(inputs[0], dtype=pt.config.floatX)]


def _cum_extreme(kind):
    def rule(a, axis=0, dtype=None, out=None):
        refuse(f"np.{kind}imum.accumulate", out=(out, None))
        a = cast(as_var(a), dtype)
        axis = int(axis) % a.ndim
        return pt.take_along_axis(a, ArgCumExtreme(kind, axis)(a), axis=axis)

    rule.__name__ = f"_cum{kind}"
    return rule


def _logcumsumexp(a, axis=0, dtype=None, out=None):
    """np.logaddexp.accumulate: running log(sum(exp)), e.g. survival risk sets.

    The shift c is the midpoint of the range along the axis, so exp(a - c) neither overflows nor
    underflows while max(a) - min(a) < ~1400 (float64; ~170 in float32). c cancels mathematically
    and zero_grad keeps it out of the gradient. Pure PyTensor ops, so every order of derivative and
    the C backend work.
    """
    refuse("np.logaddexp.accumulate", out=(out, None))
    a = cast(as_var(a), dtype)
    axis = int(axis) % a.ndim
    high = pt.max(a, axis=axis, keepdims=True)
    low = pt.min(pt.switch(pt.eq(a, -np.inf), high, a), axis=axis, keepdims=True)
    shift = (high + low) / 2
    shift = zero_grad(pt.switch(pt.isfinite(shift), shift, 0))
    return shift + pt.log(pt.cumsum(pt.exp(a - shift), axis=axis))


def _diff(a, n=1, axis=-1, prepend=_MISSING, append=_MISSING):
    a = as_var(a)
    axis = int(axis) % a.ndim
    parts = [a]
    for position, extra in ((0, prepend), (None, append)):
        if given(extra):
            extra = as_var(extra)
            if extra.ndim == 0:
                # numpy broadcasts a scalar to the shape of one slice along the axis
                shape = [a.shape[d] if d != axis else 1 for d in range(a.ndim)]
                extra = pt.broadcast_to(extra, shape)
            parts.insert(0, extra) if position == 0 else parts.append(extra)
    if len(parts) > 1:
        a = pt.concatenate(parts, axis=axis)
    return pt.diff(a, n=n, axis=axis)


# --------------------------------------------------------------------------------------------
# products
# --------------------------------------------------------------------------------------------

def _dot(a, b, out=None):
    refuse("np.dot", out=(out, None))
    return pt.dot(as_var(a), as_var(b))


def _matmul(a, b, /, out=None, **kwargs):
    refuse("np.matmul", out=(out, None), axes=(kwargs.get("axes"), None), axis=(kwargs.get("axis"), None))
    return matmul(as_var(a), as_var(b))


def _outer(a, b, out=None):
    refuse("np.outer", out=(out, None))
    return pt.outer(as_var(a).flatten(), as_var(b).flatten())


def _inner(a, b):
    a, b = as_var(a), as_var(b)
    if a.ndim == 0 or b.ndim == 0:
        return a * b
    return pt.tensordot(a, b, axes=[[a.ndim - 1], [b.ndim - 1]])


def _vdot(a, b):
    a, b = as_var(a).flatten(), as_var(b).flatten()
    if a.dtype in _COMPLEX:
        a = pt.conj(a)
    return pt.dot(a, b)


def _vecdot(x1, x2, /, *, axis=-1, out=None, **kwargs):
    refuse("np.vecdot", out=(out, None))
    x1, x2 = as_var(x1), as_var(x2)
    if x1.dtype in _COMPLEX:
        x1 = pt.conj(x1)
    return pt.sum(x1 * x2, axis=axis)


def _tensordot(a, b, axes=2):
    return pt.tensordot(as_var(a), as_var(b), axes=axes)


def _einsum_letters(sublist):
    letters = "abcdefghijklmnopqrstuvwxyzABCDEFGHIJKLMNOPQRSTUVWXYZ"
    return "".join("..." if s is Ellipsis else letters[s] for s in sublist)


def _einsum(*operands, out=None, optimize=False, dtype=None, order="K", casting="safe"):
    refuse("np.einsum", out=(out, None))
    if isinstance(operands[0], str):
        subscripts, arrays = operands[0].replace(" ", ""), list(operands[1:])
    else:
        # interleaved form: einsum(a, [0, 1], b, [1, 2], [0, 2])
        arrays = list(operands[0::2])
        inputs = [_einsum_letters(s) for s in operands[1::2]]
        if len(operands) % 2:
            subscripts = ",".join(inputs[:len(arrays) - 1]) + "->" + _einsum_letters(operands[-1])
            arrays = arrays[:-1]
        else:
            subscripts = ",".join(inputs)
    result = pt.einsum(subscripts, *[as_var(x) for x in arrays])
    return result if dtype is None else cast(result, dtype)


def _kron(a, b):
    """Kronecker product for any ndim: interleave the axes of a and b and merge each pair."""
    a, b = as_var(a), as_var(b)
    ndim = max(a.ndim, b.ndim)
    a = pt.shape_padleft(a, ndim - a.ndim)
    b = pt.shape_padleft(b, ndim - b.ndim)
    a_spread = a.dimshuffle([p for d in range(ndim) for p in (d, "x")])
    b_spread = b.dimshuffle([p for d in range(ndim) for p in ("x", d)])
    return pt.reshape(a_spread * b_spread, [a.shape[d] * b.shape[d] for d in range(ndim)], ndim=ndim)


def _cross(a, b, axisa=-1, axisb=-1, axisc=-1, axis=None):
    """Cross product of 3-vectors (or 2-vectors where the static length says 2) along an axis."""
    if axis is not None:
        axisa = axisb = axisc = axis
    a = pt.moveaxis(as_var(a), axisa, -1)
    b = pt.moveaxis(as_var(b), axisb, -1)
    lengths = {a.type.shape[-1], b.type.shape[-1]}
    if lengths & {2} and not lengths - {2}:
        # 2-vectors: numpy returns the z component only
        return a[..., 0] * b[..., 1] - a[..., 1] * b[..., 0]
    if lengths & {2}:
        raise NotImplementedError("np.cross of a 2-vector with a 3-vector is not supported")
    # otherwise 3-vectors: a shorter axis fails at run time with an index error
    a0, a1, a2 = a[..., 0], a[..., 1], a[..., 2]
    b0, b1, b2 = b[..., 0], b[..., 1], b[..., 2]
    result = pt.stack([a1 * b2 - a2 * b1, a2 * b0 - a0 * b2, a0 * b1 - a1 * b0], axis=-1)
    return pt.moveaxis(result, -1, axisc)


# --------------------------------------------------------------------------------------------
# shape manipulation
# --------------------------------------------------------------------------------------------

def _reshape(a, shape=_MISSING, order="C", *, newshape=_MISSING, copy=None):
    a = as_var(a)
    shape = _shape_arg(shape if given(shape) else newshape)
    if order == "C":
        return pt.reshape(a, shape, ndim=len(shape))
    if order == "F":
        # Fortran order is C order on the reversed axes
        return pt.reshape(a.T, shape[::-1], ndim=len(shape)).T
    raise NotImplementedError(f"np.reshape(order={order!r}) is not supported (memory layout is not traced)")


def _ravel(a, order="C"):
    a = as_var(a)
    if order == "C" or order == "K" or order == "A":
        # a traced array is always C-contiguous in the symbolic world; K/A read in memory order,
        # which for the arrays the engine feeds is C order
        return a.flatten()
    if order == "F":
        return a.T.flatten()
    raise NotImplementedError(f"np.ravel(order={order!r}) is not supported")


def _transpose(a, axes=None):
    a = as_var(a)
    return pt.transpose(a, None if axes is None else [int(x) % a.ndim for x in axes])


def _permute_dims(a, axes=None):
    return _transpose(a, axes)


def _matrix_transpose(x, /):
    return pt.swapaxes(as_var(x), -1, -2)


def _concatenate(arrays, axis=0, out=None, *, dtype=None, casting="same_kind"):
    refuse("np.concatenate", out=(out, None))
    if isinstance(arrays, Variable):
        # concatenating the rows of one traced array merges its first axis into `axis`
        if axis is None:
            return cast(arrays.flatten(), dtype)
        axis = int(axis) % (arrays.ndim - 1)
        moved = pt.moveaxis(arrays, 0, axis)
        shape = [moved.shape[d] for d in range(axis)] + [-1] + [moved.shape[d] for d in range(axis + 2, moved.ndim)]
        return cast(pt.reshape(moved, shape, ndim=arrays.ndim - 1), dtype)
    parts = [as_var(x) for x in arrays]
    if axis is None:
        return cast(pt.concatenate([p.flatten() for p in parts]), dtype)
    return cast(pt.concatenate(parts, axis=int(axis) % parts[0].ndim), dtype)


def _stack(arrays, axis=0, out=None, *, dtype=None, casting="same_kind"):
    refuse("np.stack", out=(out, None))
    if isinstance(arrays, Variable):
        return cast(pt.moveaxis(arrays, 0, int(axis) % arrays.ndim), dtype)
    parts = [as_var(x) for x in arrays]
    return cast(pt.stack(parts, axis=int(axis) % (parts[0].ndim + 1)), dtype)


def _sequence(tup, name):
    if isinstance(tup, Variable):
        raise NotImplementedError(f"np.{name} of one traced array is not supported: pass a list of arrays")
    return [as_var(x) for x in tup]


def _atleast(ndim):
    def one(x):
        x = as_var(x)
        if x.ndim >= ndim:
            return x
        if ndim == 3 and x.ndim == 1:
            return x.dimshuffle("x", 0, "x")  # numpy: (N,) -> (1, N, 1)
        if ndim == 3 and x.ndim == 2:
            return x.dimshuffle(0, 1, "x")    # numpy: (M, N) -> (M, N, 1)
        return pt.shape_padleft(x, ndim - x.ndim)

    def rule(*arys):
        results = tuple(one(x) for x in arys)
        return results[0] if len(results) == 1 else results

    rule.__name__ = f"_atleast_{ndim}d"
    rule.one = one
    return rule


_atleast_1d = _atleast(1)
_atleast_2d = _atleast(2)
_atleast_3d = _atleast(3)


def _hstack(tup, *, dtype=None, casting="same_kind"):
    parts = [_atleast_1d.one(x) for x in _sequence(tup, "hstack")]
    return cast(pt.concatenate(parts, axis=0 if parts[0].ndim == 1 else 1), dtype)


def _vstack(tup, *, dtype=None, casting="same_kind"):
    return cast(pt.concatenate([_atleast_2d.one(x) for x in _sequence(tup, "vstack")], axis=0), dtype)


def _dstack(tup):
    return pt.concatenate([_atleast_3d.one(x) for x in _sequence(tup, "dstack")], axis=2)


def _column_stack(tup):
    # 0-d and 1-D inputs become columns; others are stacked as they are
    parts = [x if x.ndim >= 2 else pt.shape_padleft(x, 2 - x.ndim).T for x in _sequence(tup, "column_stack")]
    return pt.concatenate(parts, axis=1)


def _expand_dims(a, axis):
    return pt.expand_dims(as_var(a), axis)


def _squeeze(a, axis=None):
    # axis=None squeezes the axes known to have length 1: the engine gives length-1 axes a static
    # length of 1 (they are part of the compile cache key), and PyTensor propagates static shapes
    a = as_var(a)
    return pt.squeeze(a, axis=norm_axis(axis, a.ndim))


def _broadcast_to(array, shape, subok=False):
    return pt.broadcast_to(as_var(array), _shape_arg(shape))


def _broadcast_arrays(*args, subok=False):
    return tuple(pt.broadcast_arrays(*[as_var(x) for x in args]))


def _flip(m, axis=None):
    m = as_var(m)
    return pt.flip(m, axis=norm_axis(axis, m.ndim))


def _fliplr(m):
    return as_var(m)[:, ::-1]


def _flipud(m):
    return as_var(m)[::-1]


def _moveaxis(a, source, destination):
    return pt.moveaxis(as_var(a), source, destination)


def _swapaxes(a, axis1, axis2):
    return pt.swapaxes(as_var(a), axis1, axis2)


def _roll(a, shift, axis=None):
    a = as_var(a)
    if axis is None:
        return pt.reshape(pt.roll(a.flatten(), shift), a.shape, ndim=a.ndim)
    axes = axis if isinstance(axis, (tuple, list)) else (axis,)
    shifts = shift if isinstance(shift, (tuple, list)) else (shift,) * len(axes)
    if len(shifts) == 1:
        shifts = tuple(shifts) * len(axes)
    # PyTensor rolls one axis at a time; numpy adds up shifts given twice for one axis, as this does
    for s, ax in zip(shifts, axes):
        a = pt.roll(a, s, axis=int(ax) % a.ndim)
    return a


def _tile(A, reps):
    return pt.tile(as_var(A), reps)


def _repeat(a, repeats, axis=None):
    a = as_var(a)
    if axis is None:
        return pt.repeat(a.flatten(), repeats, axis=0)
    return pt.repeat(a, repeats, axis=int(axis) % a.ndim)


def _pad_edge(x, widths):
    # pytensor 3.0.7's pad(mode="edge") has a wrong gradient for unequal or per-axis widths
    # (fixed by 3.3.8); repeating the edge slices is exact in every version
    for axis, (before, after) in enumerate(widths):
        parts = [x]
        if before:
            parts.insert(0, pt.repeat(_slice_along(x, axis, 0, 1), int(before), axis=axis))
        if after:
            parts.append(pt.repeat(_slice_along(x, axis, -1, None), int(after), axis=axis))
        x = pt.concatenate(parts, axis=axis) if len(parts) > 1 else x
    return x


def _pad(array, pad_width, mode="constant", **kwargs):
    if callable(mode):
        raise NotImplementedError("np.pad with a callable mode is not supported")
    array = as_var(array)
    if mode == "edge" and not contains_var(pad_width):
        return _pad_edge(array, np.broadcast_to(np.asarray(pad_width, dtype=int), (array.ndim, 2)))
    return pt.pad(array, pad_width, mode=mode, **kwargs)


def _split_bounds(length, indices_or_sections, even):
    """Symbolic (start, stop) pairs of np.split / np.array_split."""
    if isinstance(indices_or_sections, (list, tuple, np.ndarray)):
        edges = [0] + list(indices_or_sections) + [length]
        return list(zip(edges[:-1], edges[1:]))
    n = int(indices_or_sections)
    size, extra = length // n, length % n
    # numpy's array_split: the first `length % n` pieces get one more element
    starts = [i * size + (0 if even else pt.minimum(i, extra)) for i in range(n + 1)]
    return list(zip(starts[:-1], starts[1:]))


def _splitter(even, default_axis=0, name="split"):
    def rule(ary, indices_or_sections, axis=default_axis):
        ary = as_var(ary)
        axis = int(axis) % ary.ndim
        return [_slice_along(ary, axis, start, stop)
                for start, stop in _split_bounds(ary.shape[axis], indices_or_sections, even)]

    rule.__name__ = f"_{name}"
    return rule


_split = _splitter(True)
_array_split = _splitter(False, name="array_split")
_vsplit = _splitter(True, name="vsplit")


def _hsplit(ary, indices_or_sections):
    ary = as_var(ary)
    return _split(ary, indices_or_sections, axis=1 if ary.ndim > 1 else 0)


def _dsplit(ary, indices_or_sections):
    return _split(ary, indices_or_sections, axis=2)


def _append(arr, values, axis=None):
    arr, values = as_var(arr), as_var(values)
    if axis is None:
        return pt.concatenate([arr.flatten(), values.flatten()])
    return pt.concatenate([arr, values], axis=int(axis) % arr.ndim)


def _insert(arr, obj, values, axis=None):
    if not isinstance(obj, (int, np.integer)):
        raise NotImplementedError("np.insert is supported for a single integer position only")
    arr, values = as_var(arr), as_var(values)
    if axis is None:
        arr, axis = arr.flatten(), 0
    axis = int(axis) % arr.ndim
    obj = int(obj)
    if obj < 0:
        obj = arr.shape[axis] + obj
    # numpy: values get ndmin=arr.ndim, their first axis becomes `axis`, then broadcast to the slot
    values = pt.moveaxis(pt.shape_padleft(values, arr.ndim - values.ndim), 0, axis)
    shape = [values.shape[d] if d == axis else arr.shape[d] for d in range(arr.ndim)]
    values = pt.broadcast_to(values, shape)
    return pt.concatenate([_slice_along(arr, axis, None, obj), values, _slice_along(arr, axis, obj, None)], axis=axis)


# --------------------------------------------------------------------------------------------
# creation
# --------------------------------------------------------------------------------------------

def _zeros(shape, dtype=float, order="C", *, device=None, like=None):
    return pt.zeros(_shape_arg(shape), dtype=dtype_name(dtype))


def _ones(shape, dtype=None, order="C", *, device=None, like=None):
    return pt.ones(_shape_arg(shape), dtype=dtype_name(dtype) or "float64")


def _full(shape, fill_value, dtype=None, order="C", *, device=None, like=None):
    fill = as_var(fill_value)
    return pt.full(_shape_arg(shape), fill, dtype=dtype_name(dtype) or fill.dtype)


def _like(fill):
    def rule(a, dtype=None, order="K", subok=True, shape=None, *, device=None):
        a = as_var(a)
        dtype = dtype_name(dtype) or a.dtype
        size = a.shape if shape is None else _shape_arg(shape)
        return pt.full(size, pt.as_tensor_variable(fill).astype(dtype), dtype=dtype)

    rule.__name__ = f"_like_{fill}"
    return rule


_zeros_like = _like(0)
_ones_like = _like(1)


def _full_like(a, fill_value, dtype=None, order="K", subok=True, shape=None, *, device=None):
    a = as_var(a)
    dtype = dtype_name(dtype) or a.dtype
    size = a.shape if shape is None else _shape_arg(shape)
    # numpy casts the fill value to the array's dtype (full_like(ints, 0.5) is all zeros)
    return pt.full(size, cast(fill_value, dtype), dtype=dtype)


def _eye(N, M=None, k=0, dtype=float, order="C", *, device=None, like=None):
    return pt.eye(N, M, k, dtype=dtype_name(dtype))


def _identity(n, dtype=None, *, like=None):
    return pt.eye(n, dtype=dtype_name(dtype) or "float64")


def _arange(start, stop=None, step=None, dtype=None, *, device=None, like=None):
    if stop is None:
        start, stop = 0, start
    return pt.arange(start, stop, 1 if step is None else step, dtype=dtype_name(dtype))


def _linspace(start, stop, num=50, endpoint=True, retstep=False, dtype=None, axis=0, *, device=None):
    if isinstance(num, Variable):
        raise NotImplementedError("np.linspace with a traced num is not supported (num fixes the shape)")
    num = int(num)
    start, stop = as_var(start), as_var(stop)
    if start.dtype not in _FLOATS:
        start = pt.cast(start, "float64")
    divisions = num - 1 if endpoint else num
    step = (stop - start) / divisions if divisions > 0 else (stop - start) * np.nan
    extra = max(start.ndim, stop.ndim)
    index = pt.shape_padright(pt.arange(num, dtype="float64"), extra)
    result = start + index * (step if divisions > 0 else 0)
    if endpoint and num > 1:
        result = pt.set_subtensor(result[-1], stop + pt.zeros_like(result[-1]))
    result = pt.moveaxis(result, 0, int(axis) % result.ndim) if extra else result
    result = result if dtype is None else cast(result, dtype)
    return (result, step) if retstep else result


def _array(object, dtype=None, *, copy=True, order="K", subok=False, ndmin=0, ndmax=0, like=None):
    result = cast(as_var(object), dtype)
    if ndmin > result.ndim:
        result = pt.shape_padleft(result, ndmin - result.ndim)
    return result


def _asarray(a, dtype=None, order=None, *, device=None, copy=None, like=None):
    return cast(as_var(a), dtype)


def _copy(a, order="K", subok=False):
    # PyTensor variables are immutable, so the copy is the variable itself
    return as_var(a)


def _astype(x, dtype, /, *, copy=True, device=None):
    return cast(x, dtype)


def _scalar_type(dtype):
    """np.float64(x), np.int64(x), ... used as cast functions."""
    def rule(x=0, *args, **kwargs):
        if args or kwargs:
            raise NotImplementedError(f"np.{dtype_name(dtype)}(...) with extra arguments is not supported")
        x = as_var(x)
        if dtype_name(dtype) != "bool" and np.dtype(dtype).kind in "iu" and x.dtype in _FLOATS:
            x = pt.trunc(x)  # C casts truncate toward zero; say so explicitly
        return cast(x, dtype)

    rule.__name__ = f"_as_{dtype_name(dtype)}"
    return rule


# --------------------------------------------------------------------------------------------
# indexing, sorting, searching
# --------------------------------------------------------------------------------------------

def _take(a, indices, axis=None, out=None, mode="raise"):
    refuse("np.take", out=(out, None))
    a = as_var(a)
    if axis is None:
        a, axis = a.flatten(), 0
    axis = int(axis) % a.ndim
    indices = as_var(indices)
    size = a.shape[axis]
    if mode == "wrap":
        indices = pt.mod(indices, size)
    elif mode == "clip":
        indices = pt.clip(indices, 0, size - 1)
    return pt.take(a, indices, axis=axis)


def _take_along_axis(arr, indices, axis=-1):
    arr = as_var(arr)
    if axis is None:
        return pt.take_along_axis(arr.flatten(), as_var(indices), axis=0)
    return pt.take_along_axis(arr, as_var(indices), axis=int(axis) % arr.ndim)


def _tril(m, k=0):
    return pt.tril(as_var(m), k)


def _triu(m, k=0):
    return pt.triu(as_var(m), k)


def _diag(v, k=0):
    return pt.diag(as_var(v), k)


def _diagonal(a, offset=0, axis1=0, axis2=1):
    return pt.diagonal(as_var(a), offset, axis1, axis2)


def _trace(a, offset=0, axis1=0, axis2=1, dtype=None, out=None):
    refuse("np.trace", out=(out, None))
    return cast(pt.sum(pt.diagonal(as_var(a), offset, axis1, axis2), axis=-1), dtype)


def _sort(a, axis=-1, kind=None, order=None, *, stable=None):
    refuse("np.sort", order=(order, None))
    a = as_var(a)
    if axis is None:
        return pt.sort(a.flatten(), axis=0)
    return pt.sort(a, axis=int(axis) % a.ndim)


def _argsort(a, axis=-1, kind=None, order=None, *, stable=None):
    refuse("np.argsort", order=(order, None))
    a = as_var(a)
    if axis is None:
        return pt.argsort(a.flatten(), axis=0)
    # a stable sort, as numpy's default quicksort is not guaranteed to be; ties are measure-zero
    # for float inputs and both answers are valid orderings
    return pt.argsort(a, axis=int(axis) % a.ndim, kind="stable")


def _arg_extreme(fn, name):
    def rule(a, axis=None, out=None, *, keepdims=False):
        refuse(f"np.{name}", out=(out, None))
        a = as_var(a)
        if axis is None:
            result = fn(a.flatten(), axis=0)
            return pt.shape_padleft(result, a.ndim) if keepdims else result
        return fn(a, axis=int(axis) % a.ndim, keepdims=bool(keepdims))

    rule.__name__ = f"_{name}"
    return rule


def _searchsorted(a, v, side="left", sorter=None):
    return pt.searchsorted(as_var(a), as_var(v), side=side, sorter=sorter)


def _nonzero(a):
    a = as_var(a)
    if a.ndim == 0:
        raise NotImplementedError("np.nonzero of a 0-d array is not supported (numpy deprecates it)")
    return tuple(pt.nonzero(_truth(a)))


def _flatnonzero(a):
    return pt.nonzero(_truth(as_var(a).flatten()))[0]


def _argwhere(a):
    a = as_var(a)
    return pt.stack(pt.nonzero(_truth(a)), axis=1)


def _tril_indices(n, k=0, m=None):
    return tuple(pt.tril_indices(n, k, m))


def _triu_indices(n, k=0, m=None):
    return tuple(pt.triu_indices(n, k, m))


def _diag_indices(n, ndim=2):
    return (pt.arange(n),) * ndim


def _ix(*args):
    results = []
    for position, seq in enumerate(args):
        seq = as_var(seq)
        if seq.dtype == "bool":
            seq = pt.nonzero(seq)[0]
        pattern = ["x"] * len(args)
        pattern[position] = 0
        results.append(seq.dimshuffle(pattern))
    return tuple(results)


# --------------------------------------------------------------------------------------------
# ufunc methods: (ufunc, "reduce" | "accumulate" | "outer" | "at")
# --------------------------------------------------------------------------------------------

def _reduce_via(fn, name):
    # ufunc.reduce defaults to axis=0, unlike np.sum
    def rule(array, axis=0, dtype=None, out=None, keepdims=False, initial=_MISSING, where=True):
        return fn(array, axis, dtype, out, keepdims, initial, where)

    rule.__name__ = f"_{name}_reduce"
    return rule


def _reduce_logical(fn, name):
    def rule(array, axis=0, dtype=None, out=None, keepdims=False, initial=_MISSING, where=True):
        refuse(f"np.{name}.reduce", initial=(initial, _MISSING))
        return fn(array, axis, out, keepdims, where=where)

    rule.__name__ = f"_{name}_reduce"
    return rule


def _outer_via(binary, name):
    def rule(A, B, /, **kwargs):
        refuse(f"np.{name}.outer", out=(kwargs.get("out"), None), where=(kwargs.get("where", True), True))
        A, B = as_var(A), as_var(B)
        return binary(pt.shape_padright(A, B.ndim), pt.shape_padleft(B, A.ndim))

    rule.__name__ = f"_{name}_outer"
    return rule


def _index_key(indices):
    if isinstance(indices, tuple):
        return tuple(as_var(i) if contains_var(i) else i for i in indices)
    return as_var(indices) if contains_var(indices) else indices


def _at_add(sign):
    def rule(a, indices, b=_MISSING, /):
        if not given(b):
            raise NotImplementedError("ufunc.at without a value operand is not supported")
        a = as_var(a)
        # AdvancedIncSubtensor adds every occurrence of a repeated index, like np.add.at
        return pt.inc_subtensor(a[_index_key(indices)], b if sign > 0 else -as_var(b))

    rule.__name__ = "_add_at" if sign > 0 else "_subtract_at"
    return rule


def _at_rounds(combine, name):
    """ufunc.at for non-additive ufuncs, with concrete indices: one set_subtensor per repetition.

    Indices that repeat are split into rounds (round r holds each index's r-th occurrence), so each
    round has unique indices and applying the rounds in order is numpy's sequential semantics.
    """
    def rule(a, indices, b=_MISSING, /):
        if not given(b):
            raise NotImplementedError(f"np.{name}.at without a value operand is not supported")
        if contains_var(indices):
            raise NotImplementedError(f"np.{name}.at needs indices that do not depend on the inputs")
        arrays = indices if isinstance(indices, tuple) else (indices,)
        if not all(isinstance(i, (list, np.ndarray)) and np.ndim(i) == 1 and np.asarray(i).dtype.kind in "iu"
                   for i in arrays):
            raise NotImplementedError(f"np.{name}.at is supported with 1-D integer index arrays only")
        a = as_var(a)
        arrays = [np.asarray(i) for i in arrays]
        # the ufuncs here are commutative, so rounds may run in any order; they need only unique
        # indices. A negative index may alias a positive one (the length is not known when the
        # graph is built), so each position holding one gets a round of its own.
        negative = np.any([i < 0 for i in arrays], axis=0)
        seen, occurrence = {}, np.zeros(len(arrays[0]), dtype=int)
        for position, key in enumerate(zip(*[i.tolist() for i in arrays])):
            if not negative[position]:
                occurrence[position] = seen.get(key, 0)
                seen[key] = occurrence[position] + 1
        rounds = int(occurrence.max()) + 1 if len(occurrence) else 0
        for position in np.flatnonzero(negative):
            occurrence[position], rounds = rounds, rounds + 1
        values = pt.broadcast_to(as_var(b), a[tuple(arrays)].shape)
        for round_ in range(rounds):
            chosen = np.flatnonzero(occurrence == round_)
            key = tuple(i[chosen] for i in arrays)
            a = pt.set_subtensor(a[key], combine(a[key], values[chosen]))
        return a

    rule.__name__ = f"_{name}_at"
    return rule


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
    np.maximum: _ufunc(pt.maximum),
    np.minimum: _ufunc(pt.minimum),
    np.fmax: _ufunc(_fmax),
    np.fmin: _ufunc(_fmin),
    np.logaddexp: _ufunc(pt.logaddexp),
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
    np.matmul: _matmul,
    # elementwise, other signatures
    np.where: _where,
    np.clip: _clip,
    np.nan_to_num: _nan_to_num,
    np.isclose: _isclose,
    np.allclose: _allclose,
    # reductions
    np.sum: _sum,
    np.prod: _prod,
    np.mean: _mean,
    np.max: _max,
    np.amax: _max,
    np.min: _min,
    np.amin: _min,
    np.var: _var,
    np.cov: _cov,
    np.corrcoef: _corrcoef,
    np.median: _median,
    np.std: _std,
    np.any: _any,
    np.all: _all,
    np.count_nonzero: _count_nonzero,
    np.nansum: _nansum,
    np.nanprod: _nanprod,
    np.nanmean: _nanmean,
    np.nanmax: _nan_extreme("max"),
    np.nanmin: _nan_extreme("min"),
    np.nanvar: _nanvar,
    np.nanstd: _nanstd,
    np.average: _average,
    # cumulative
    np.cumsum: _cumsum,
    np.cumprod: _cumprod,
    np.diff: _diff,
    # products
    np.dot: _dot,
    np.outer: _outer,
    np.inner: _inner,
    np.vdot: _vdot,
    np.tensordot: _tensordot,
    np.einsum: _einsum,
    np.kron: _kron,
    np.cross: _cross,
    # shapes
    np.reshape: _reshape,
    np.ravel: _ravel,
    np.transpose: _transpose,
    np.concatenate: _concatenate,  # np.concat (numpy 2) is the same object
    np.stack: _stack,
    np.hstack: _hstack,
    np.vstack: _vstack,
    np.dstack: _dstack,
    np.column_stack: _column_stack,
    np.expand_dims: _expand_dims,
    np.squeeze: _squeeze,
    np.atleast_1d: _atleast_1d,
    np.atleast_2d: _atleast_2d,
    np.atleast_3d: _atleast_3d,
    np.broadcast_to: _broadcast_to,
    np.broadcast_arrays: _broadcast_arrays,
    np.flip: _flip,
    np.fliplr: _fliplr,
    np.flipud: _flipud,
    np.moveaxis: _moveaxis,
    np.swapaxes: _swapaxes,
    np.roll: _roll,
    np.tile: _tile,
    np.repeat: _repeat,
    np.pad: _pad,
    np.split: _split,
    np.array_split: _array_split,
    np.hsplit: _hsplit,
    np.vsplit: _vsplit,
    np.dsplit: _dsplit,
    np.append: _append,
    np.insert: _insert,
    # creation
    np.zeros: _zeros,
    np.ones: _ones,
    np.empty: _zeros,  # numpy's contents are arbitrary; zeros are one valid choice
    np.full: _full,
    np.zeros_like: _zeros_like,
    np.ones_like: _ones_like,
    np.empty_like: _zeros_like,
    np.full_like: _full_like,
    np.eye: _eye,
    np.identity: _identity,
    np.arange: _arange,
    np.linspace: _linspace,
    np.array: _array,
    np.asarray: _asarray,
    np.asanyarray: _asarray,
    np.ascontiguousarray: _asarray,
    np.copy: _copy,
    np.float64: _scalar_type(np.float64),
    np.float32: _scalar_type(np.float32),
    np.int64: _scalar_type(np.int64),
    np.int32: _scalar_type(np.int32),
    np.bool_: _scalar_type(np.bool_),
    # indexing, sorting, searching
    np.take: _take,
    np.take_along_axis: _take_along_axis,
    np.tril: _tril,
    np.triu: _triu,
    np.diag: _diag,
    np.diagonal: _diagonal,
    np.trace: _trace,
    np.sort: _sort,
    np.argsort: _argsort,
    np.argmax: _arg_extreme(pt.argmax, "argmax"),
    np.argmin: _arg_extreme(pt.argmin, "argmin"),
    np.searchsorted: _searchsorted,
    np.nonzero: _nonzero,
    np.flatnonzero: _flatnonzero,
    np.argwhere: _argwhere,
    np.tril_indices: _tril_indices,
    np.triu_indices: _triu_indices,
    np.diag_indices: _diag_indices,
    np.ix_: _ix,
    # ufunc methods
    (np.add, "reduce"): _reduce_via(_sum, "add"),
    (np.multiply, "reduce"): _reduce_via(_prod, "multiply"),
    (np.maximum, "reduce"): _reduce_via(lambda a, axis, dtype, out, keepdims, initial, where:
                                        _max(cast(a, dtype), axis, out, keepdims, initial, where), "maximum"),
    (np.minimum, "reduce"): _reduce_via(lambda a, axis, dtype, out, keepdims, initial, where:
                                        _min(cast(a, dtype), axis, out, keepdims, initial, where), "minimum"),
    (np.logaddexp, "reduce"): _logsumexp_reduce,
    (np.logical_and, "reduce"): _reduce_logical(_all, "logical_and"),
    (np.logical_or, "reduce"): _reduce_logical(_any, "logical_or"),
    (np.add, "accumulate"): lambda array, axis=0, dtype=None, out=None: _cumsum(array, axis, dtype, out),
    (np.multiply, "accumulate"): lambda array, axis=0, dtype=None, out=None: _cumprod(array, axis, dtype, out),
    (np.maximum, "accumulate"): _cum_extreme("max"),
    (np.minimum, "accumulate"): _cum_extreme("min"),
    (np.logaddexp, "accumulate"): _logcumsumexp,
    (np.add, "outer"): _outer_via(pt.add, "add"),
    (np.subtract, "outer"): _outer_via(pt.sub, "subtract"),
    (np.multiply, "outer"): _outer_via(pt.mul, "multiply"),
    (np.divide, "outer"): _outer_via(pt.true_div, "divide"),
    (np.maximum, "outer"): _outer_via(pt.maximum, "maximum"),
    (np.minimum, "outer"): _outer_via(pt.minimum, "minimum"),
    (np.add, "at"): _at_add(+1),
    (np.subtract, "at"): _at_add(-1),
    (np.multiply, "at"): _at_rounds(pt.mul, "multiply"),
    (np.maximum, "at"): _at_rounds(pt.maximum, "maximum"),
    (np.minimum, "at"): _at_rounds(pt.minimum, "minimum"),
}

# names that exist only in some numpy versions (all of ours are numpy 2.x; row_stack left in 2.5)
for _name, _rule in {
    "row_stack": _vstack,
    "permute_dims": _permute_dims,
    "matrix_transpose": _matrix_transpose,
    "vecdot": _vecdot,
    "astype": _astype,
    "cumulative_sum": _cumulative_2(pt.cumsum, "cumulative_sum", 0),
    "cumulative_prod": _cumulative_2(pt.cumprod, "cumulative_prod", 1),
}.items():
    if hasattr(np, _name):
        FUNCTIONS[getattr(np, _name)] = _rule

# The rule returns the updated version of this positional argument; the engine stores it back.
INPLACE = {key: 0 for key in FUNCTIONS if isinstance(key, tuple) and key[1] == "at"}
