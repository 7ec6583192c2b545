"""scipy.stats log-densities in PyTensor (see doc/architecture.md, "Symbolic rules").

scipy's distributions are instances (`scipy.stats.norm` is a `norm_gen`), and each attribute access
builds a new bound method, so the table is keyed by (distribution instance, method name).

Each rule mirrors scipy's own recipe so that values agree everywhere, not only in the interior:
standardise z = (x - loc) / scale, evaluate the standard log-density, subtract log(scale); -inf
outside the support; nan where a parameter is invalid (scipy's `badvalue`). Points outside the
support are replaced by a point inside before the log-density is evaluated, so the branch that
switch() discards cannot leak a nan into the gradient of the parameters.
"""

import numpy as np
import pytensor.tensor as pt
from pytensor.tensor import special as pts
import scipy.stats as st

from .special import as_tensor, log_ndtr, xlog1py, xlogy

_LOG_2PI = float(np.log(2 * np.pi))
_LOG_PI = float(np.log(np.pi))
_LOG_2 = float(np.log(2.0))


_as = as_tensor


def _bind(method, names, defaults, args, kwargs):
    """Map a scipy distribution call's positional and keyword arguments onto `names`.

    scipy's signature is method(x, *shapes, loc=0, scale=1) with every name also accepted by
    keyword; this reproduces that binding (and its errors) for one distribution.
    """
    if len(args) > len(names):
        raise TypeError(f"{method}() takes at most {len(names)} arguments ({len(args)} given)")
    bound = dict(zip(names, args))
    for key, value in kwargs.items():
        if key not in names:
            raise TypeError(f"{method}() got an unexpected keyword argument {key!r}")
        if key in bound:
            raise TypeError(f"{method}() got multiple values for argument {key!r}")
        bound[key] = value
    for name in names:
        if name not in bound:
            if name not in defaults:
                raise TypeError(f"{method}() missing required argument {name!r}")
            bound[name] = defaults[name]
    return [_as(bound[name]) for name in names]


def _is_integer(k):
    return pt.eq(pt.floor(k), k)


def _continuous(dist, method, shapes, standard, valid=None, support=None, inside=0.0):
    """Rule for `dist.method(x, *shapes, loc=0, scale=1)`.

    standard(z, *shapes): the log-density (or log-cdf...) of the standardised variable.
    valid(*shapes): where the shape parameters are allowed (scale > 0 is always required).
    support(z, *shapes): where z lies in the support; None for the whole real line.
    inside: a point of the support used in place of z outside it.
    subtract_log_scale: densities pick up -log(scale); cdf-like methods do not.
    """
    names = ("x",) + shapes + ("loc", "scale")
    label = f"scipy.stats.{dist.name}.{method}"
    subtract_log_scale = method == "logpdf"

    def rule(*args, **kwargs):
        x, *params, loc, scale = _bind(label, names, {"loc": 0.0, "scale": 1.0}, args, kwargs)
        ok = scale > 0
        if valid is not None:
            ok = ok & valid(*params)
        z = (x - loc) / scale
        if support is None:
            value = standard(z, *params)
        else:
            within = support(z, *params)
            value = pt.switch(
                within | pt.isnan(z), standard(pt.switch(within, z, inside), *params), -np.inf
            )
        if subtract_log_scale:
            value = value - pt.log(scale)
        return pt.switch(ok, value, np.nan)

    rule.__name__ = f"{dist.name}_{method}"
    return (dist, method), rule


def _discrete(dist, shapes, standard, valid, support):
    """Rule for `dist.logpmf(k, *shapes, loc=0)`: -inf off the integer support, nan for bad shapes."""
    names = ("k",) + shapes + ("loc",)
    label = f"scipy.stats.{dist.name}.logpmf"

    def rule(*args, **kwargs):
        k, *params, loc = _bind(label, names, {"loc": 0.0}, args, kwargs)
        k = k - loc
        within = support(k, *params) & _is_integer(k)
        value = pt.switch(within, standard(pt.switch(within, k, 0.0), *params), -np.inf)
        return pt.switch(valid(*params), value, np.nan)

    rule.__name__ = f"{dist.name}_logpmf"
    return (dist, "logpmf"), rule


def _norm_logpdf(z):
    return -0.5 * z * z - 0.5 * _LOG_2PI


def _t_logpdf(z, df):
    # scipy switches to the normal density at df = inf, where the gammaln difference is inf - inf.
    infinite = pt.isinf(df)
    df = pt.switch(infinite, 1.0, df)
    t = (
        pt.gammaln(0.5 * (df + 1.0))
        - pt.gammaln(0.5 * df)
        - 0.5 * (pt.log(df) + _LOG_PI)
        - 0.5 * (df + 1.0) * pt.log1p(z * z / df)
    )
    return pt.switch(infinite, _norm_logpdf(z), t)


def _binom_logpmf(k, n, p):
    combiln = pt.gammaln(n + 1.0) - (pt.gammaln(k + 1.0) + pt.gammaln(n - k + 1.0))
    return combiln + xlogy(k, p) + xlog1py(n - k, -p)


def _probability(p):
    return (p >= 0) & (p <= 1)


# ---------------------------------------------------------------- multivariate normal


def _static_length_one(var):
    # The engine compiles per pattern of length-1 axes, so a length that is statically 1 is
    # reliable and an unknown one is not 1: scipy's shape-dependent branches can be decided here.
    return var.ndim == 0 or var.type.shape[-1] == 1


def _squeeze_static(out, shape):
    # scipy squeezes every length-1 axis of the result (_squeeze_output); `shape` is the static
    # shape the result has (the reshape that computed it lost it).
    out = pt.specify_shape(out, shape)
    ones = tuple(i for i, n in enumerate(shape) if n == 1)
    return pt.squeeze(out, axis=ones) if ones else out


def _mvn_logpdf(x, mean=None, cov=1, allow_singular=False):
    if allow_singular:
        raise NotImplementedError(
            "scipy.stats.multivariate_normal.logpdf: allow_singular=True "
            "(a pseudo-determinant and a support test) is not supported"
        )
    if isinstance(cov, st.Covariance):
        raise NotImplementedError(
            "scipy.stats.multivariate_normal.logpdf: Covariance objects are "
            "not supported; pass the covariance matrix"
        )
    x = _as(x)
    cov = _as(cov)
    if mean is not None:
        mean = _as(mean)
        if mean.ndim > 1:
            raise ValueError("Array 'mean' must be a vector")
        dim_is_one = _static_length_one(mean)
    else:
        dim_is_one = cov.ndim < 2 or _static_length_one(cov)
    if x.ndim == 0:
        x = x[None]
    elif x.ndim == 1:
        x = x[:, None] if dim_is_one else x[None, :]
    dev = x if mean is None else x - mean
    d = dev.shape[-1]
    if cov.ndim == 0:
        maha = pt.sum(dev * dev, axis=-1) / cov
        logdet = d * pt.log(cov)
    elif cov.ndim == 1:
        maha = pt.sum(dev * dev / cov, axis=-1)
        logdet = pt.sum(pt.log(cov))
    else:
        chol = pt.linalg.cholesky(cov, lower=True)
        rows = dev.reshape((-1, d))
        solved = pt.linalg.solve_triangular(chol, rows.T, lower=True, b_ndim=2)
        maha = pt.sum(solved * solved, axis=0).reshape(dev.shape[:-1], ndim=dev.ndim - 1)
        logdet = 2.0 * pt.sum(pt.log(pt.diagonal(chol)))
    out = -0.5 * (d * _LOG_2PI + logdet + maha)
    return _squeeze_static(out, dev.type.shape[:-1])


FUNCTIONS = dict(
    [
        _continuous(st.norm, "logpdf", (), _norm_logpdf),
        _continuous(st.norm, "logcdf", (), log_ndtr),
        _continuous(st.norm, "logsf", (), lambda z: log_ndtr(-z)),
        _continuous(st.t, "logpdf", ("df",), _t_logpdf, valid=lambda df: df > 0),
        _continuous(st.laplace, "logpdf", (), lambda z: -pt.abs(z) - _LOG_2),
        _continuous(
            st.gamma,
            "logpdf",
            ("a",),
            lambda z, a: xlogy(a - 1.0, z) - z - pt.gammaln(a),
            valid=lambda a: a > 0,
            support=lambda z, a: z >= 0,
            inside=1.0,
        ),
        _continuous(
            st.beta,
            "logpdf",
            ("a", "b"),
            lambda z, a, b: xlog1py(b - 1.0, -z) + xlogy(a - 1.0, z) - pts.betaln(a, b),
            valid=lambda a, b: (a > 0) & (b > 0),
            support=lambda z, a, b: (z >= 0) & (z <= 1),
            inside=0.5,
        ),
        _discrete(
            st.poisson,
            ("mu",),
            lambda k, mu: xlogy(k, mu) - pt.gammaln(k + 1.0) - mu,
            valid=lambda mu: mu >= 0,
            support=lambda k, mu: k >= 0,
        ),
        _discrete(
            st.binom,
            ("n", "p"),
            _binom_logpmf,
            valid=lambda n, p: (n >= 0) & _is_integer(n) & _probability(p),
            support=lambda k, n, p: (k >= 0) & (k <= n),
        ),
        _discrete(
            st.bernoulli,
            ("p",),
            lambda k, p: _binom_logpmf(k, 1.0, p),
            valid=_probability,
            support=lambda k, p: (k >= 0) & (k <= 1),
        ),
        ((st.multivariate_normal, "logpdf"), _mvn_logpdf),
    ]
)
