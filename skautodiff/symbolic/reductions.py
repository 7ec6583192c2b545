"""numpy reductions (sum, mean, var, median, nan*, average, ...) and cumulative operations (cumsum,
cumprod, diff) in PyTensor. FUNCTIONS is keyed by the numpy callable (identity). Rules follow the
contract in doc/architecture.md ("Symbolic rules"), summed up in _common.py.
"""

import numpy as np
import pytensor.tensor as pt
from pytensor.compile.builders import OpFromGraph

from ._common import (
    register_if_present,
    COMPLEX_DTYPES,
    FLOAT_DTYPES,
    MISSING,
    is_nonzero,
    as_tensor,
    cast,
    given,
    maximum,
    minimum,
    normalize_axis,
    pullback,
    refuse,
)


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


def _sum(a, axis=None, dtype=None, out=None, keepdims=False, initial=MISSING, where=True):
    refuse("np.sum", out=(out, None))
    a = cast(as_tensor(a), dtype)
    axis = normalize_axis(axis, a.ndim)
    result = pt.sum(_masked(a, where, 0), axis=axis, keepdims=bool(keepdims))
    return result + initial if given(initial) else result


def _prod(a, axis=None, dtype=None, out=None, keepdims=False, initial=MISSING, where=True):
    refuse("np.prod", out=(out, None))
    a = cast(as_tensor(a), dtype)
    axis = normalize_axis(axis, a.ndim)
    result = pt.prod(_masked(a, where, 1), axis=axis, keepdims=bool(keepdims))
    return result * initial if given(initial) else result


class SharedTies(OpFromGraph):
    """max/min whose gradient is shared evenly by tied entries. PyTensor gives every tie the whole
    gradient, so the derivative of np.max(np.stack([x, x]), axis=0) = x came out as 2. The value is
    PyTensor's own reduction (one pass); the tie mask is built only in the gradient."""


def _shared_ties(reduce_, x, axis, keepdims):
    if x.dtype not in FLOAT_DTYPES:
        return reduce_(x, axis=axis, keepdims=keepdims)
    a = x.type()

    def gradient(inputs, outputs, output_grads):
        tied = pt.eq(inputs[0], outputs[0])
        return [pt.switch(tied, output_grads[0] / pt.sum(tied, axis=axis, keepdims=True), 0)]

    result = SharedTies([a], [reduce_(a, axis=axis, keepdims=True)], **pullback(gradient))(x)
    if keepdims:
        return result
    return pt.squeeze(result, axis=tuple(range(x.ndim)) if axis is None else axis)


def _extreme(kind):
    reduce_, combine, fill = (
        (pt.max, maximum, -np.inf) if kind == "max" else (pt.min, minimum, np.inf)
    )

    def rule(a, axis=None, out=None, keepdims=False, initial=MISSING, where=True):
        refuse(f"np.{kind}", out=(out, None))
        a = as_tensor(a)
        axis = normalize_axis(axis, a.ndim)
        result = _shared_ties(
            reduce_, _masked(a, where, initial if given(initial) else fill), axis, bool(keepdims)
        )
        return combine(result, initial) if given(initial) else result

    rule.__name__ = f"_{kind}"
    return rule


_max = _extreme("max")
_min = _extreme("min")


def _mean(a, axis=None, dtype=None, out=None, keepdims=False, *, where=True):
    refuse("np.mean", out=(out, None))
    a = as_tensor(a)
    if a.dtype not in FLOAT_DTYPES and dtype is None:
        a = pt.cast(a, "float64")  # numpy's mean of integers is float64
    a = cast(a, dtype)
    axis = normalize_axis(axis, a.ndim)
    if where is True or not given(where):
        return pt.mean(a, axis=axis, keepdims=bool(keepdims))
    return _sum(a, axis, keepdims=keepdims, where=where) / _count(a, axis, where, bool(keepdims))


def _var(
    a,
    axis=None,
    dtype=None,
    out=None,
    ddof=0,
    keepdims=False,
    *,
    where=True,
    mean=MISSING,
    correction=MISSING,
):
    refuse("np.var", out=(out, None))
    a = as_tensor(a)
    if a.dtype not in FLOAT_DTYPES:
        a = pt.cast(a, "float64")
    a = cast(a, dtype)
    if given(correction):
        ddof = correction
    axis = normalize_axis(axis, a.ndim)
    centre = as_tensor(mean) if given(mean) else _mean(a, axis, keepdims=True, where=where)
    deviation = a - centre
    squares = (
        pt.real(deviation * pt.conj(deviation)) if a.dtype in COMPLEX_DTYPES else pt.sqr(deviation)
    )
    total = _sum(squares, axis, keepdims=keepdims, where=where)
    divisor = _count(a, axis, where, bool(keepdims)) - ddof
    # numpy divides by max(count - ddof, 0): inf, or NaN where the sum is 0 too (a length-1 axis).
    # Spelled out, as PyTensor's rewrites fold 0 / divisor to 0 (pytensor 3.3) before the
    # divisor is known to be 0.
    variance = total / divisor
    invalid = pt.switch(
        pt.eq(total, 0), np.asarray(np.nan, variance.dtype), np.asarray(np.inf, variance.dtype)
    )
    return pt.switch(pt.gt(divisor, 0), variance, invalid)


def _std(
    a,
    axis=None,
    dtype=None,
    out=None,
    ddof=0,
    keepdims=False,
    *,
    where=True,
    mean=MISSING,
    correction=MISSING,
):
    """sqrt(var), with gradient 0 where the spread is 0.

    Over a length-1 axis std is 0 whatever the input, so its gradient is exactly 0; plain
    sqrt(var) gives 0 * inf there, which PyTensor's rewrites turned into 0, NaN or 2 depending
    on keepdims and static shapes. Where equal values give a zero spread over a longer axis std is
    not differentiable (like |x| at 0) and 0 is a subgradient; PyTensor's abs uses the same one.
    """
    variance = _var(
        a, axis, dtype, out, ddof, keepdims, where=where, mean=mean, correction=correction
    )
    spread = pt.gt(variance, 0)
    # the inner switch keeps sqrt's infinite slope at 0 out of the gradient; elsewhere the
    # variance itself is the value: 0, or numpy's NaN when ddof >= the count (0 * variance
    # would not do: PyTensor's rewrites fold 0 * NaN to 0)
    return pt.switch(spread, pt.sqrt(pt.switch(spread, variance, 1)), variance)


def _cov(
    m, y=None, rowvar=True, bias=False, ddof=None, fweights=None, aweights=None, *, dtype=None
):
    refuse("np.cov", fweights=(fweights, None), aweights=(aweights, None))
    rows = []
    for data in (m, y):
        if data is None:
            continue
        data = as_tensor(data)
        if data.dtype not in FLOAT_DTYPES:
            data = pt.cast(data, "float64")
        data = data[None, :] if data.ndim == 1 else (data if rowvar else data.T)
        rows.append(data)
    x = pt.concatenate(rows, axis=0) if len(rows) > 1 else rows[0]
    ddof = (0 if bias else 1) if ddof is None else ddof
    centred = x - pt.mean(x, axis=1, keepdims=True)
    c = pt.dot(centred, centred.T) / (x.shape[1] - ddof)
    return cast(pt.squeeze(c), dtype)  # numpy squeezes length-1 axes (a single variable -> 0-d)


def _corrcoef(x, y=None, rowvar=True, *, dtype=None):
    c = _cov(x, y, rowvar, dtype=dtype)
    if c.ndim == 0:
        return c / c
    d = pt.sqrt(pt.diagonal(c))
    return pt.clip(c / d[:, None] / d[None, :], -1, 1)


def _median(a, axis=None, out=None, overwrite_input=False, keepdims=False):
    refuse("np.median", out=(out, None))
    a = as_tensor(a)
    if a.dtype not in FLOAT_DTYPES:
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
    a = is_nonzero(as_tensor(a))
    return pt.any(
        _masked(a, where, False), axis=normalize_axis(axis, a.ndim), keepdims=bool(keepdims)
    )


def _all(a, axis=None, out=None, keepdims=False, *, where=True):
    refuse("np.all", out=(out, None))
    a = is_nonzero(as_tensor(a))
    return pt.all(
        _masked(a, where, True), axis=normalize_axis(axis, a.ndim), keepdims=bool(keepdims)
    )


def _count_nonzero(a, axis=None, *, keepdims=False):
    a = as_tensor(a)
    return pt.sum(
        is_nonzero(a), axis=normalize_axis(axis, a.ndim), keepdims=bool(keepdims), dtype="int64"
    )


def _nansum(a, axis=None, dtype=None, out=None, keepdims=False, initial=MISSING, where=True):
    a = as_tensor(a)
    return _sum(pt.switch(pt.isnan(a), 0, a), axis, dtype, out, keepdims, initial, where)


def _nanprod(a, axis=None, dtype=None, out=None, keepdims=False, initial=MISSING, where=True):
    a = as_tensor(a)
    return _prod(pt.switch(pt.isnan(a), 1, a), axis, dtype, out, keepdims, initial, where)


def _nanmean(a, axis=None, dtype=None, out=None, keepdims=False, *, where=True):
    a = as_tensor(a)
    present = pt.bitwise_not(pt.isnan(a))
    if given(where) and where is not True:
        present = pt.and_(present, is_nonzero(where))
    return _nansum(a, axis, dtype, out, keepdims, where=present) / _sum(
        present, axis, keepdims=keepdims
    )


def _nan_extreme(kind):
    base = _extreme(kind)
    fill = -np.inf if kind == "max" else np.inf

    def rule(a, axis=None, out=None, keepdims=False, initial=MISSING, where=True):
        a = as_tensor(a)
        nan = pt.isnan(a)
        result = base(pt.switch(nan, fill, a), axis, out, keepdims, initial, where)
        # numpy answers NaN (with a warning) where every element was NaN
        return pt.switch(_all(nan, axis, keepdims=keepdims), np.nan, result)

    rule.__name__ = f"_nan{kind}"
    return rule


def _nanvar(
    a,
    axis=None,
    dtype=None,
    out=None,
    ddof=0,
    keepdims=False,
    *,
    where=True,
    mean=MISSING,
    correction=MISSING,
):
    a = as_tensor(a)
    present = pt.bitwise_not(pt.isnan(a))
    if given(where) and where is not True:
        present = pt.and_(present, is_nonzero(where))
    return _var(
        pt.switch(present, a, 0),
        axis,
        dtype,
        out,
        ddof,
        keepdims,
        where=present,
        mean=mean,
        correction=correction,
    )


def _nanstd(
    a,
    axis=None,
    dtype=None,
    out=None,
    ddof=0,
    keepdims=False,
    *,
    where=True,
    mean=MISSING,
    correction=MISSING,
):
    return pt.sqrt(
        _nanvar(a, axis, dtype, out, ddof, keepdims, where=where, mean=mean, correction=correction)
    )


def _average(a, axis=None, weights=None, returned=False, *, keepdims=False):
    a = as_tensor(a)
    if a.dtype not in FLOAT_DTYPES:
        a = pt.cast(a, "float64")
    axes = normalize_axis(axis, a.ndim)
    keep = bool(given(keepdims) and keepdims)
    if weights is None:
        avg = pt.mean(a, axis=axes, keepdims=keep)
        scale = pt.cast(_count(a, axes, True, keep), a.dtype) + pt.zeros_like(avg)
    else:
        w = as_tensor(weights)
        if w.ndim != a.ndim:
            # numpy: 1-D weights run along the single reduced axis
            if axes is None or len(axes) != w.ndim:
                raise NotImplementedError(
                    "np.average: weights of another shape need a matching axis"
                )
            order = list(axes)
            w = pt.transpose(w, np.argsort(np.argsort(order)))  # weights' axes follow `axis`' order
            pattern = ["x"] * a.ndim
            for position, ax in enumerate(sorted(order)):
                pattern[ax] = position
            w = w.dimshuffle(pattern)
        scale = pt.sum(w + pt.zeros_like(a), axis=axes, keepdims=keep)
        avg = pt.sum(a * w, axis=axes, keepdims=keep) / scale
    return (avg, scale) if returned else avg


# --------------------------------------------------------------------------------------------
# cumulative operations
# --------------------------------------------------------------------------------------------


def _cumulative(fn, name):
    def rule(a, axis=None, dtype=None, out=None):
        refuse(f"np.{name}", out=(out, None))
        a = cast(as_tensor(a), dtype)
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
        x = as_tensor(x)
        axis = 0 if axis is None else int(axis) % x.ndim
        result = _cumulative(fn, name)(x, axis, dtype, out)
        if include_initial:
            shape = [result.shape[d] if d != axis else 1 for d in range(result.ndim)]
            result = pt.concatenate(
                [pt.full(shape, neutral, dtype=result.dtype), result], axis=axis
            )
        return result

    rule.__name__ = f"_{name}"
    return rule


def _diff(a, n=1, axis=-1, prepend=MISSING, append=MISSING):
    a = as_tensor(a)
    axis = int(axis) % a.ndim
    parts = [a]
    for position, extra in ((0, prepend), (None, append)):
        if given(extra):
            extra = as_tensor(extra)
            if extra.ndim == 0:
                # numpy broadcasts a scalar to the shape of one slice along the axis
                shape = [a.shape[d] if d != axis else 1 for d in range(a.ndim)]
                extra = pt.broadcast_to(extra, shape)
            parts.insert(0, extra) if position == 0 else parts.append(extra)
    if len(parts) > 1:
        a = pt.concatenate(parts, axis=axis)
    return pt.diff(a, n=n, axis=axis)


def _gradient_along(f, axis, spacing, edge_order):
    """np.gradient of f along one axis with a uniform (scalar) spacing: central differences
    inside, one-sided ones of order `edge_order` at both ends, with numpy's coefficients."""

    def part(start, stop):
        return f[(slice(None),) * axis + (slice(start, stop),)]

    inside = (part(2, None) - part(None, -2)) / (2.0 * spacing)
    if edge_order == 1:
        first = (part(1, 2) - part(0, 1)) / spacing
        last = (part(-1, None) - part(-2, -1)) / spacing
    else:
        first = (-1.5 * part(0, 1) + 2.0 * part(1, 2) - 0.5 * part(2, 3)) / spacing
        last = (0.5 * part(-3, -2) - 2.0 * part(-2, -1) + 1.5 * part(-1, None)) / spacing
    return pt.concatenate([first, inside, last], axis=axis)


def _gradient(f, *varargs, axis=None, edge_order=1):
    f = as_tensor(f)
    if f.dtype not in FLOAT_DTYPES:
        f = pt.cast(f, "float64")  # numpy differentiates integers in float64
    axes = tuple(range(f.ndim)) if axis is None else normalize_axis(axis, f.ndim)
    if len(varargs) == 1 and len(axes) > 1:
        varargs = varargs * len(axes)
    spacings = varargs or (1.0,) * len(axes)
    if len(spacings) != len(axes):
        raise NotImplementedError("np.gradient: one spacing per axis is needed")  # numpy raised
    if any(as_tensor(h).ndim != 0 for h in spacings):
        raise NotImplementedError(
            "np.gradient with coordinate arrays is not supported; pass a scalar "
            "spacing per axis (uniform grids)"
        )
    if edge_order not in (1, 2):
        raise NotImplementedError(f"np.gradient: edge_order={edge_order!r}")  # numpy raised
    parts = [_gradient_along(f, ax, h, edge_order) for ax, h in zip(axes, spacings)]
    return parts[0] if len(parts) == 1 else tuple(parts)


# --------------------------------------------------------------------------------------------
# the table
# --------------------------------------------------------------------------------------------

FUNCTIONS = {
    # reductions
    np.sum: _sum,
    np.gradient: _gradient,
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
}

# names that exist only in some numpy versions (all of ours are numpy 2.x)
register_if_present(
    FUNCTIONS,
    np,
    {
        "cumulative_sum": _cumulative_2(pt.cumsum, "cumulative_sum", 0),
        "cumulative_prod": _cumulative_2(pt.cumprod, "cumulative_prod", 1),
    },
)
