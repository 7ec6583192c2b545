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

from ._common import as_tensor, normalize_axis, refuse_ufunc_options

_SQRT1_2 = float(np.sqrt(0.5))
_LOG_HALF = float(np.log(0.5))


def _ufunc(name, expression):
    """Rule for an elementwise scipy.special ufunc whose value is `expression(*inputs)`."""

    def rule(*args, **kwargs):
        refuse_ufunc_options(f"scipy.special.{name}", kwargs)
        return expression(*(as_tensor(a) for a in args))

    rule.__name__ = f"special_{name}"
    return rule


def log_ndtr(x):
    """log(Phi(x)), accurate in both tails.

    Lower tail: Phi(x) = erfcx(z) exp(-z^2) / 2 with z = -x/sqrt(2) > 0, so the log never sees an
    underflowed Phi. Upper tail: log1p(-Phi(-x)). Each branch gets an input clipped into its own
    half-line so the branch that switch() discards cannot put inf*0 = nan into the gradient.
    """
    x = as_tensor(x)
    neg = pt.minimum(x, 0.0)
    pos = pt.maximum(x, 0.0)
    z = -neg * _SQRT1_2
    lower = _LOG_HALF + pt.log(pt.erfcx(z)) - z * z
    upper = pt.log1p(-0.5 * pt.erfc(pos * _SQRT1_2))
    return pt.switch(x < 0, lower, upper)


def ndtr(x):
    # erfc keeps relative accuracy in the lower tail, where 0.5 * (1 + erf) would cancel.
    return 0.5 * pt.erfc(-as_tensor(x) * _SQRT1_2)


def log_expit(x):
    # log(1/(1+e^-x)) = -log1p(e^-x) = -softplus(-x); softplus is evaluated stably by PyTensor.
    return -pt.softplus(-x)


def _x_times_log(x, y, log):
    # x * log(y) with 0 * log(0) = 0. Written out instead of pytensor.tensor.special.xlogy, whose
    # gradient keeps the broadcast shape: for xlogy(a, x) with a of shape (1,) and x of shape (5,),
    # grad w.r.t. a has shape (5,) (pytensor 3.0.7 and 3.3.8). y is replaced where x == 0 so the
    # discarded branch of the gradient stays finite; nan in y still gives nan, as in scipy.
    x, y = as_tensor(x), as_tensor(y)
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
    a = as_tensor(a)
    if b is not None:
        b = as_tensor(b)
        a = a + pt.zeros_like(b)  # broadcast first: the reduction runs over the joint shape
    axes = normalize_axis(axis, a.ndim, none_means_all=True)
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
    x = as_tensor(x)
    axes = normalize_axis(axis, x.ndim, none_means_all=True)
    if axis is None or len(axes) == 1:
        return pts.log_softmax(x, axis=None if axis is None else axes[0])
    shifted, _ = _shifted(x, axes)
    return shifted - pt.log(pt.sum(pt.exp(shifted), axis=axes, keepdims=True))


def softmax(x, axis=None):
    x = as_tensor(x)
    axes = normalize_axis(axis, x.ndim, none_means_all=True)
    if axis is None or len(axes) == 1:
        return pts.softmax(x, axis=None if axis is None else axes[0])
    return pt.exp(log_softmax(x, axis=axes))


def polygamma(n, x, **kwargs):
    # The order n must be a known integer: the derivative order selects which function is computed.
    refuse_ufunc_options("scipy.special.polygamma", kwargs)
    if not isinstance(n, (int, np.integer)) and not (isinstance(n, np.ndarray) and n.ndim == 0):
        raise NotImplementedError(
            "scipy.special.polygamma: the order n must be a constant integer, "
            "not a traced or array value"
        )
    return pt.polygamma(int(n), as_tensor(x))


def gammasgn(x):
    """The sign of gamma(x): 1 for x > 0 (and +0), -1 for -0, (-1)^ceil(-x) for non-integral
    x < 0, nan at the poles and for nan. Piecewise constant, so its gradient is 0."""
    pole = (x <= 0) & pt.eq(pt.floor(x), x) & pt.neq(x, 0)
    negative = pt.switch(pt.eq(pt.mod(pt.ceil(-x), 2), 0), 1.0, -1.0)
    zero = pt.switch(pt.lt(pt.true_div(1.0, x), 0), -1.0, 1.0)  # +0 -> 1, -0 -> -1 (1/-0 = -inf)
    value = pt.switch(x > 0, 1.0, pt.switch(pt.eq(x, 0), zero, negative))
    return pt.switch(pole | pt.isnan(x), np.nan, value)


def rgamma(x):
    # 1/gamma(x) = gammasgn(x) exp(-gammaln(x)): 0 at the poles (where gammaln is inf), as scipy.
    # Its gradient at a pole is nan: the derivative there is not 0, and nan is not a wrong number.
    pole = (x <= 0) & pt.eq(pt.floor(x), x)
    return pt.switch(pole, 0.0, gammasgn(x) * pt.exp(-pt.gammaln(x)))


def gammaincc(a, x):
    """The regularised upper incomplete gamma function with an exact derivative in a.

    PyTensor's derivative of gammaincc in a is off by up to 1e-3 relative (a = 3, x = 6, pytensor
    3.0.7), that of gammainc is not; d/da gammaincc = -d/da gammainc. The value is gammaincc's (it
    keeps its relative accuracy in the upper tail); the a-derivative comes from gammainc through a
    term that is exactly 0 (one function evaluated twice at the same point) and whose derivatives
    of every order are those of -gammainc."""
    a, x = as_tensor(a), as_tensor(x)
    fixed = zero_grad(a)
    return pt.gammaincc(fixed, x) - (pt.gammainc(a, x) - pt.gammainc(fixed, x))


def multigammaln(a, d):
    # log of the multivariate gamma function: sum_j gammaln(a - j/2) + d(d-1)/4 log(pi); scipy has
    # already refused a <= (d - 1)/2 when the concrete call ran
    if not isinstance(d, (int, np.integer)) and not (isinstance(d, np.ndarray) and d.ndim == 0):
        raise NotImplementedError(
            "scipy.special.multigammaln: the dimension d must be a constant integer"
        )
    a, d = as_tensor(a), int(d)
    return sum(pt.gammaln(a - 0.5 * j) for j in range(d)) + 0.25 * d * (d - 1) * float(
        np.log(np.pi)
    )


def _order(name, expression):
    """Bessel functions of order v: PyTensor differentiates them in x only, so an order that
    depends on the parameters is refused here rather than by a cryptic error at differentiation."""

    def rule(v, x, **kwargs):
        refuse_ufunc_options(f"scipy.special.{name}", kwargs)
        if isinstance(v, Variable) and v.dtype.startswith("float"):
            raise NotImplementedError(
                f"scipy.special.{name}: the order (first argument) must not be a traced float: PyTensor "
                "has no derivative in the order; pass it as a constant or an integer array"
            )
        return expression(as_tensor(v), as_tensor(x))

    rule.__name__ = f"special_{name}"
    return rule


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
    sc.erfcinv: _ufunc("erfcinv", pt.erfcinv),
    sc.betainc: _ufunc("betainc", pt.betainc),
    sc.gammainc: _ufunc("gammainc", pt.gammainc),
    sc.gammaincc: _ufunc("gammaincc", gammaincc),
    sc.gammasgn: _ufunc("gammasgn", gammasgn),
    sc.rgamma: _ufunc("rgamma", rgamma),
    sc.multigammaln: multigammaln,
    sc.j0: _ufunc("j0", pt.j0),
    sc.j1: _ufunc("j1", pt.j1),
    sc.jv: _order("jv", pt.jv),  # scipy.special.jn is jv
    sc.i0: _ufunc("i0", pt.i0),
    sc.i1: _ufunc("i1", pt.i1),
    sc.iv: _order("iv", pt.iv),
    sc.ive: _order("ive", pt.ive),
    sc.kv: _order("kv", pt.kv),
    sc.kve: _order("kve", pt.kve),
    sc.k0: _ufunc("k0", lambda x: pt.kv(0.0, x)),
    sc.k1: _ufunc("k1", lambda x: pt.kv(1.0, x)),
    sc.k0e: _ufunc("k0e", lambda x: pt.kve(0.0, x)),
    sc.k1e: _ufunc("k1e", lambda x: pt.kve(1.0, x)),
}
