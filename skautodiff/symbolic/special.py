"""scipy.special in PyTensor: one rule per function (see doc/architecture.md, "Symbolic rules").

Every rule is written so that its values stay finite where scipy's are, without relying on
PyTensor's graph rewrites (tests compile with the fast_compile optimizer, and a rule must not
depend on which rewrites happen to run): logsumexp shifts by the maximum itself, log_ndtr picks
the erfcx form in the lower tail, and so on.
"""

import numpy as np
import pytensor.tensor as pt
from pytensor.gradient import zero_grad
from pytensor.graph.basic import Variable
from pytensor.tensor import special as pts
import scipy.special as sc

_SQRT1_2 = float(np.sqrt(0.5))
_LOG_HALF = float(np.log(0.5))


def as_tensor(x):
    """A PyTensor variable for a rule argument, keeping numpy's dtype for untraced values.

    pt.as_tensor_variable(2.0) is a float32 constant (and 2 an int8 one): PyTensor picks the
    smallest dtype that holds the value, so log(2.0) would be computed in float32 (off by 2e-9).
    np.asarray gives numpy's own dtypes (float64, int64), which is what the concrete call saw.
    """
    if isinstance(x, Variable):
        return x
    try:
        x = np.asarray(x)
    except (TypeError, ValueError):  # a list holding traced values: let PyTensor stack it
        pass
    else:
        if x.dtype == object:
            return pt.as_tensor_variable(x.tolist())
    return pt.as_tensor_variable(x)


_as = as_tensor


def _check_ufunc_kwargs(name, kwargs):
    # scipy.special functions are ufuncs: out=/where=/casting=... change what is written where,
    # which a pure expression cannot express. Defaults are harmless and accepted.
    for key, value in kwargs.items():
        if key == "out" and value is None:
            continue
        if key == "where" and value is True:
            continue
        if key in ("casting", "order", "subok") and value in ("same_kind", "K", True):
            continue
        raise NotImplementedError(
            f"scipy.special.{name}: the ufunc argument {key}={value!r} is not supported"
        )


def _ufunc(name, expression):
    """Rule for an elementwise scipy.special ufunc whose value is `expression(*inputs)`."""

    def rule(*args, **kwargs):
        _check_ufunc_kwargs(name, kwargs)
        return expression(*(_as(a) for a in args))

    rule.__name__ = f"special_{name}"
    return rule


def log_ndtr(x):
    """log(Phi(x)), accurate in both tails.

    Lower tail: Phi(x) = erfcx(z) exp(-z^2) / 2 with z = -x/sqrt(2) > 0, so the log never sees an
    underflowed Phi. Upper tail: log1p(-Phi(-x)). Each branch gets an input clipped into its own
    half-line so the branch that switch() discards cannot put inf*0 = nan into the gradient.
    """
    x = _as(x)
    neg = pt.minimum(x, 0.0)
    pos = pt.maximum(x, 0.0)
    z = -neg * _SQRT1_2
    lower = _LOG_HALF + pt.log(pt.erfcx(z)) - z * z
    upper = pt.log1p(-0.5 * pt.erfc(pos * _SQRT1_2))
    return pt.switch(x < 0, lower, upper)


def ndtr(x):
    # erfc keeps relative accuracy in the lower tail, where 0.5 * (1 + erf) would cancel.
    return 0.5 * pt.erfc(-_as(x) * _SQRT1_2)


def log_expit(x):
    # log(1/(1+e^-x)) = -log1p(e^-x) = -softplus(-x); softplus is evaluated stably by PyTensor.
    return -pt.softplus(-x)


def _x_times_log(x, y, log):
    # x * log(y) with 0 * log(0) = 0. Written out instead of pytensor.tensor.special.xlogy, whose
    # gradient keeps the broadcast shape: for xlogy(a, x) with a of shape (1,) and x of shape (5,),
    # grad w.r.t. a has shape (5,) (pytensor 3.0.7 and 3.3.8). y is replaced where x == 0 so the
    # discarded branch of the gradient stays finite; nan in y still gives nan, as in scipy.
    x, y = _as(x), _as(y)
    zero = pt.eq(x, 0) & ~pt.isnan(y)
    return pt.switch(zero, 0.0, x * log(pt.switch(zero, 1.0, y)))


def xlogy(x, y):
    return _x_times_log(x, y, pt.log)


def xlog1py(x, y):
    return _x_times_log(x, y, pt.log1p)


def entr(x):
    positive = x > 0
    safe = pt.switch(positive, x, 1.0)
    return pt.switch(positive, -safe * pt.log(safe), pt.switch(pt.eq(x, 0), 0.0, -np.inf))


def _x_log_x_over_y(x, y):
    # The positive-quadrant branch of rel_entr/kl_div, written as scipy evaluates it
    # (x * log(x / y)); other points get safe stand-ins so their discarded gradient is finite.
    both = (x > 0) & (y > 0)
    xs = pt.switch(both, x, 1.0)
    ys = pt.switch(both, y, 1.0)
    return both, xs, ys, xs * pt.log(xs / ys)


def rel_entr(x, y):
    both, _, _, value = _x_log_x_over_y(x, y)
    return pt.switch(both, value, pt.switch(pt.eq(x, 0) & (y >= 0), 0.0, np.inf))


def kl_div(x, y):
    both, xs, ys, value = _x_log_x_over_y(x, y)
    return pt.switch(both, value - xs + ys, pt.switch(pt.eq(x, 0) & (y >= 0), y, np.inf))


def _axes(axis, ndim):
    if axis is None:
        return tuple(range(ndim))
    if isinstance(axis, (tuple, list)):
        return tuple(int(a) % ndim for a in axis)
    return (int(axis) % ndim,)


def _shifted(a, axes):
    """a - max(a) over axes (keepdims), with the shift held constant for the gradient.

    The result of logsumexp does not depend on the shift, so cutting its gradient is exact and
    keeps argmax bookkeeping out of the graph. An infinite maximum becomes a zero shift, which
    makes all -inf inputs give -inf (not nan) as scipy does.
    """
    m = pt.max(a, axis=axes, keepdims=True) if axes else a
    m = zero_grad(pt.switch(pt.isinf(m), 0.0, m))
    return a - m, m


def logsumexp(a, axis=None, b=None, keepdims=False, return_sign=False):
    a = _as(a)
    if b is not None:
        b = _as(b)
        a = a + pt.zeros_like(b)  # broadcast first: the reduction runs over the joint shape
    axes = _axes(axis, a.ndim)
    shifted, m = _shifted(a, axes)
    terms = pt.exp(shifted) if b is None else b * pt.exp(shifted)
    total = pt.sum(terms, axis=axes, keepdims=True)
    if return_sign:
        sign = pt.sign(total)
        total = pt.abs(total)
    out = pt.log(total) + m
    if not keepdims:
        out = pt.squeeze(out, axis=axes) if axes else out
        if return_sign:
            sign = pt.squeeze(sign, axis=axes) if axes else sign
    return (out, sign) if return_sign else out


def log_softmax(x, axis=None):
    x = _as(x)
    axes = _axes(axis, x.ndim)
    if axis is None or len(axes) == 1:
        return pts.log_softmax(x, axis=None if axis is None else axes[0])
    shifted, _ = _shifted(x, axes)
    return shifted - pt.log(pt.sum(pt.exp(shifted), axis=axes, keepdims=True))


def softmax(x, axis=None):
    x = _as(x)
    axes = _axes(axis, x.ndim)
    if axis is None or len(axes) == 1:
        return pts.softmax(x, axis=None if axis is None else axes[0])
    return pt.exp(log_softmax(x, axis=axes))


def polygamma(n, x, **kwargs):
    # The order n must be a known integer: the derivative order selects which function is computed.
    _check_ufunc_kwargs("polygamma", kwargs)
    if not isinstance(n, (int, np.integer)) and not (isinstance(n, np.ndarray) and n.ndim == 0):
        raise NotImplementedError(
            "scipy.special.polygamma: the order n must be a constant integer, "
            "not a traced or array value"
        )
    return pt.polygamma(int(n), _as(x))


FUNCTIONS = {
    sc.expit: _ufunc("expit", pt.sigmoid),
    sc.logit: _ufunc("logit", pts.logit),
    sc.log_expit: _ufunc("log_expit", log_expit),
    sc.logsumexp: logsumexp,
    sc.softmax: softmax,
    sc.log_softmax: log_softmax,
    sc.gammaln: _ufunc("gammaln", pt.gammaln),
    sc.gamma: _ufunc("gamma", pt.gamma),
    sc.digamma: _ufunc("digamma", pt.digamma),
    sc.psi: _ufunc("psi", pt.digamma),
    sc.polygamma: polygamma,
    sc.betaln: _ufunc("betaln", pts.betaln),
    sc.beta: _ufunc("beta", pts.beta),
    sc.erf: _ufunc("erf", pt.erf),
    sc.erfc: _ufunc("erfc", pt.erfc),
    sc.erfinv: _ufunc("erfinv", pt.erfinv),
    sc.erfcx: _ufunc("erfcx", pt.erfcx),
    sc.ndtr: _ufunc("ndtr", ndtr),
    sc.log_ndtr: _ufunc("log_ndtr", log_ndtr),
    sc.xlogy: _ufunc("xlogy", xlogy),
    sc.xlog1py: _ufunc("xlog1py", xlog1py),
    sc.entr: _ufunc("entr", entr),
    sc.rel_entr: _ufunc("rel_entr", rel_entr),
    sc.kl_div: _ufunc("kl_div", kl_div),
}
