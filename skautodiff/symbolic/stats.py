"""scipy.stats densities, distribution functions and their logs in PyTensor (see doc/architecture.md, "Symbolic rules").

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
from pytensor.ifelse import ifelse
from pytensor.raise_op import Assert
from pytensor.tensor import special as pts
import scipy.stats as st

from ._common import as_tensor
from .special import gammaincc, log_ndtr, ndtr, xlog1py, xlogy

_LOG_2PI = float(np.log(2 * np.pi))
_LOG_PI = float(np.log(np.pi))
_LOG_2 = float(np.log(2.0))


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
    return [as_tensor(bound[name]) for name in names]


def _is_integer(k):
    return pt.eq(pt.floor(k), k)


def _continuous(dist, method, shapes, standard, valid=None, support=None, inside=0.0):
    """Rule for `dist.method(x, *shapes, loc=0, scale=1)`.

    standard(z, *shapes): the log-density (or log-cdf...) of the standardised variable.
    valid(*shapes): where the shape parameters are allowed (scale > 0 is always required).
    support(z, *shapes): where z lies in the support; None for the whole real line.
    inside: a point of the support used in place of z outside it.
    Densities pick up -log(scale); cdf-like methods do not. The cdf/sf `standard` functions
    handle the whole real line themselves (support=None).
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


def _exp_of(entry, method):
    """`dist.pdf` from the rule of `dist.logpdf` (pmf from logpmf): -inf becomes 0, nan stays."""
    (dist, _), log_rule = entry

    def rule(*args, **kwargs):
        return pt.exp(log_rule(*args, **kwargs))

    rule.__name__ = f"{dist.name}_{method}"
    return (dist, method), rule


def _log_of(entry, method):
    """`dist.logcdf` from the rule of `dist.cdf`, where the cdf keeps relative accuracy."""
    (dist, _), rule_ = entry

    def rule(*args, **kwargs):
        return pt.log(rule_(*args, **kwargs))

    rule.__name__ = f"{dist.name}_{method}"
    return (dist, method), rule


def _t_cdf(z, df):
    """Student's t cdf with the regularised incomplete beta function, in the form that keeps its
    accuracy: I(df/2, 1/2, df/(df+z^2)) in the tails, where the cdf is small or near 1, and
    I(1/2, df/2, z^2/(df+z^2)) near 0. Near 0 the derivative of I in its argument is infinite while
    that of the argument is 0; z is moved off 0 by 1e-100 so their product is the density."""
    infinite = pt.isinf(df)
    df = pt.switch(infinite, 1.0, df)
    near = z * z < df
    zn = pt.switch(near, z + pt.switch(pt.eq(z, 0), 1e-100, 0.0), pt.sqrt(df) * 0.5)
    zt = pt.switch(near, pt.sqrt(df) * 2.0, z)
    centre = 0.5 + 0.5 * pt.sign(zn) * pt.betainc(0.5, 0.5 * df, zn * zn / (df + zn * zn))
    tail = 0.5 * pt.betainc(0.5 * df, 0.5, df / (df + zt * zt))
    tail = pt.switch(zt < 0, tail, 1.0 - tail)
    return pt.switch(
        infinite, 0.5 * pt.erfc(-z * float(np.sqrt(0.5))), pt.switch(near, centre, tail)
    )


def _laplace_cdf(z):
    return pt.switch(
        z < 0, 0.5 * pt.exp(pt.minimum(z, 0.0)), 1.0 - 0.5 * pt.exp(-pt.maximum(z, 0.0))
    )


def _on_half_line(f):
    """A cdf of a variable >= 0: 0 below the support, f at points of it (given a point inside)."""

    def cdf(z, *params):
        return pt.switch(z > 0, f(pt.switch(z > 0, z, 1.0), *params), 0.0)

    return cdf


def _survival_on_half_line(f):
    """The survival function of a variable >= 0: 1 below the support."""

    def sf(z, *params):
        return pt.switch(z > 0, f(pt.switch(z > 0, z, 1.0), *params), 1.0)

    return sf


def _on_unit_interval(f, above):
    def cdf(z, *params):
        inside = (z > 0) & (z < 1)
        return pt.switch(
            inside, f(pt.switch(inside, z, 0.5), *params), pt.switch(z >= 1, above, 1.0 - above)
        )

    return cdf


def _chi2_logpdf(z, df):
    half = 0.5 * df
    return xlogy(half - 1.0, z) - 0.5 * z - pt.gammaln(half) - half * _LOG_2


def _counting_cdf(upper):
    """poisson.cdf (upper=False) and .sf (upper=True): the regularised incomplete gamma functions
    at floor(k) + 1, as scipy's pdtr/pdtrc; below the support the cdf is 0 and the sf 1."""

    def rule(*args, **kwargs):
        k, mu, loc = _bind(
            f"scipy.stats.poisson.{'sf' if upper else 'cdf'}",
            ("k", "mu", "loc"),
            {"loc": 0.0},
            args,
            kwargs,
        )
        k = pt.floor(k - loc)
        inside = k >= 0
        a = pt.switch(inside, k + 1.0, 1.0)
        value = pt.gammainc(a, mu) if upper else gammaincc(a, mu)
        return pt.switch(mu >= 0, pt.switch(inside, value, 1.0 if upper else 0.0), np.nan)

    rule.__name__ = f"poisson_{'sf' if upper else 'cdf'}"
    return (st.poisson, "sf" if upper else "cdf"), rule


def _dirichlet_logpdf(x, alpha):
    x, alpha = as_tensor(x), as_tensor(alpha)
    if alpha.ndim != 1:
        raise ValueError("Parameter vector 'a' must be one dimensional")
    k = alpha.shape[0]
    # scipy accepts the first k - 1 components and completes them to the simplex
    completed = pt.concatenate([x, 1.0 - pt.sum(x, axis=0, keepdims=True)], axis=0)
    x = ifelse(pt.eq(x.shape[0], k), x, completed)
    shape = (slice(None),) + (None,) * (x.ndim - 1)
    log_beta = pt.sum(pt.gammaln(alpha)) - pt.gammaln(pt.sum(alpha))
    return pt.sum(xlogy(alpha[shape] - 1.0, x), axis=0) - log_beta


def _dirichlet_pdf(x, alpha):
    return pt.exp(_dirichlet_logpdf(x, alpha))


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


# scipy's threshold below which an eigenvalue of the covariance counts as 0 (_multivariate._eigvalsh_to_eps)
_SINGULAR_CUTOFF = 1e6 * float(np.finfo(np.float64).eps)


def _nonsingular(cov):
    """cov, checked at run time to be one that scipy does not treat as singular.

    With allow_singular=True scipy uses a pseudo-determinant and a support test; for a covariance
    of full rank its result is the ordinary density, which is what the rule computes. A singular
    one raises (its density's gradient through the pseudo-inverse is not supported)."""
    if cov.ndim == 2:
        spectrum = pt.linalg.eigvalsh(cov)
    else:
        spectrum = pt.atleast_1d(cov)
    full_rank = pt.min(spectrum) > _SINGULAR_CUTOFF * pt.max(pt.abs(spectrum))
    return Assert(
        "scipy.stats.multivariate_normal with allow_singular=True: this covariance is singular, "
        "which traced code does not support (a pseudo-determinant); add a small ridge, "
        "e.g. cov + 1e-9 * np.eye(d)"
    )(cov, full_rank)


def _mvn_logpdf(x, mean=None, cov=1, allow_singular=False):
    if isinstance(cov, st.Covariance):
        raise NotImplementedError(
            "scipy.stats.multivariate_normal.logpdf: Covariance objects are "
            "not supported; pass the covariance matrix"
        )
    x = as_tensor(x)
    cov = as_tensor(cov)
    if allow_singular:
        cov = _nonsingular(cov)
    if mean is not None:
        mean = as_tensor(mean)
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


def _mvn_pdf(x, mean=None, cov=1, allow_singular=False):
    return pt.exp(_mvn_logpdf(x, mean, cov, allow_singular))


def _mvn_entropy(mean=None, cov=1):
    # 0.5 log det(2 pi e cov); the dimension comes from mean when cov is a scalar or a diagonal
    if isinstance(cov, st.Covariance):
        raise NotImplementedError(
            "scipy.stats.multivariate_normal.entropy: Covariance objects are "
            "not supported; pass the covariance matrix"
        )
    cov = as_tensor(cov)
    d = as_tensor(mean).shape[0] if mean is not None and as_tensor(mean).ndim == 1 else None
    if cov.ndim == 0:
        d = 1 if d is None else d
        logdet = d * pt.log(cov)
    elif cov.ndim == 1:
        d = cov.shape[0]
        logdet = pt.sum(pt.log(cov))
    else:
        d = cov.shape[0]
        logdet = 2.0 * pt.sum(pt.log(pt.diagonal(pt.linalg.cholesky(cov, lower=True))))
    return 0.5 * (d * (1.0 + _LOG_2PI) + logdet)


_NORM_LOGPDF = _continuous(st.norm, "logpdf", (), _norm_logpdf)
_T_LOGPDF = _continuous(st.t, "logpdf", ("df",), _t_logpdf, valid=lambda df: df > 0)
_T_CDF = _continuous(st.t, "cdf", ("df",), _t_cdf, valid=lambda df: df > 0)
_LAPLACE_LOGPDF = _continuous(st.laplace, "logpdf", (), lambda z: -pt.abs(z) - _LOG_2)
_GAMMA_LOGPDF = _continuous(
    st.gamma,
    "logpdf",
    ("a",),
    lambda z, a: xlogy(a - 1.0, z) - z - pt.gammaln(a),
    valid=lambda a: a > 0,
    support=lambda z, a: z >= 0,
    inside=1.0,
)
_BETA_LOGPDF = _continuous(
    st.beta,
    "logpdf",
    ("a", "b"),
    lambda z, a, b: xlog1py(b - 1.0, -z) + xlogy(a - 1.0, z) - pts.betaln(a, b),
    valid=lambda a, b: (a > 0) & (b > 0),
    support=lambda z, a, b: (z >= 0) & (z <= 1),
    inside=0.5,
)
_CHI2_LOGPDF = _continuous(
    st.chi2,
    "logpdf",
    ("df",),
    _chi2_logpdf,
    valid=lambda df: df > 0,
    support=lambda z, df: z >= 0,
    inside=1.0,
)
_EXPON_LOGPDF = _continuous(
    st.expon, "logpdf", (), lambda z: -z, support=lambda z: z >= 0, inside=1.0
)
_POISSON_LOGPMF = _discrete(
    st.poisson,
    ("mu",),
    lambda k, mu: xlogy(k, mu) - pt.gammaln(k + 1.0) - mu,
    valid=lambda mu: mu >= 0,
    support=lambda k, mu: k >= 0,
)
_BINOM_LOGPMF = _discrete(
    st.binom,
    ("n", "p"),
    _binom_logpmf,
    valid=lambda n, p: (n >= 0) & _is_integer(n) & _probability(p),
    support=lambda k, n, p: (k >= 0) & (k <= n),
)
_BERNOULLI_LOGPMF = _discrete(
    st.bernoulli,
    ("p",),
    lambda k, p: _binom_logpmf(k, 1.0, p),
    valid=_probability,
    support=lambda k, p: (k >= 0) & (k <= 1),
)

FUNCTIONS = dict(
    [
        _NORM_LOGPDF,
        _exp_of(_NORM_LOGPDF, "pdf"),
        _continuous(st.norm, "logcdf", (), log_ndtr),
        _continuous(st.norm, "logsf", (), lambda z: log_ndtr(-z)),
        _continuous(st.norm, "cdf", (), ndtr),
        _continuous(st.norm, "sf", (), lambda z: ndtr(-z)),
        _T_LOGPDF,
        _exp_of(_T_LOGPDF, "pdf"),
        _T_CDF,
        _log_of(_T_CDF, "logcdf"),
        _continuous(st.t, "sf", ("df",), lambda z, df: _t_cdf(-z, df), valid=lambda df: df > 0),
        _LAPLACE_LOGPDF,
        _exp_of(_LAPLACE_LOGPDF, "pdf"),
        _continuous(st.laplace, "cdf", (), _laplace_cdf),
        _continuous(st.laplace, "sf", (), lambda z: _laplace_cdf(-z)),
        _GAMMA_LOGPDF,
        _exp_of(_GAMMA_LOGPDF, "pdf"),
        _continuous(
            st.gamma,
            "cdf",
            ("a",),
            _on_half_line(lambda z, a: pt.gammainc(a, z)),
            valid=lambda a: a > 0,
        ),
        _continuous(
            st.gamma,
            "sf",
            ("a",),
            _survival_on_half_line(lambda z, a: gammaincc(a, z)),
            valid=lambda a: a > 0,
        ),
        _BETA_LOGPDF,
        _exp_of(_BETA_LOGPDF, "pdf"),
        _continuous(
            st.beta,
            "cdf",
            ("a", "b"),
            _on_unit_interval(lambda z, a, b: pt.betainc(a, b, z), above=1.0),
            valid=lambda a, b: (a > 0) & (b > 0),
        ),
        _CHI2_LOGPDF,
        _exp_of(_CHI2_LOGPDF, "pdf"),
        _continuous(
            st.chi2,
            "cdf",
            ("df",),
            _on_half_line(lambda z, df: pt.gammainc(0.5 * df, 0.5 * z)),
            valid=lambda df: df > 0,
        ),
        _continuous(
            st.chi2,
            "sf",
            ("df",),
            _survival_on_half_line(lambda z, df: gammaincc(0.5 * df, 0.5 * z)),
            valid=lambda df: df > 0,
        ),
        _EXPON_LOGPDF,
        _exp_of(_EXPON_LOGPDF, "pdf"),
        _continuous(st.expon, "cdf", (), _on_half_line(lambda z: -pt.expm1(-z))),
        _continuous(st.expon, "sf", (), lambda z: pt.exp(-pt.maximum(z, 0.0))),
        _POISSON_LOGPMF,
        _exp_of(_POISSON_LOGPMF, "pmf"),
        _counting_cdf(upper=False),
        _counting_cdf(upper=True),
        _BINOM_LOGPMF,
        _exp_of(_BINOM_LOGPMF, "pmf"),
        _BERNOULLI_LOGPMF,
        _exp_of(_BERNOULLI_LOGPMF, "pmf"),
        ((st.dirichlet, "logpdf"), _dirichlet_logpdf),
        ((st.dirichlet, "pdf"), _dirichlet_pdf),
        ((st.multivariate_normal, "logpdf"), _mvn_logpdf),
        ((st.multivariate_normal, "pdf"), _mvn_pdf),
        ((st.multivariate_normal, "entropy"), _mvn_entropy),
    ]
)
