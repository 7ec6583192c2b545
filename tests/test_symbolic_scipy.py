"""scipy.special and scipy.stats rules against scipy itself.

Each case runs its call twice: once with the real scipy functions on numpy inputs (the reference)
and once with the table's rules on PyTensor inputs. Values must agree to 1e-10 relative, and the
PyTensor gradient of a random weighted sum of the outputs must agree with central finite
differences of the same sum computed with the real functions. The harness is shared with
test_symbolic_linalg.py.
"""

from dataclasses import dataclass
from typing import Callable

import numpy as np
import pytensor
import pytensor.tensor as pt
import pytest
import scipy.signal
import scipy.spatial.distance as ssd
import scipy.special as sc
import scipy.stats as st
from pytensor.compile.mode import Mode
from pytensor.graph.basic import Variable

from helpers import numeric_gradient
from skautodiff.symbolic import lookup, table_key
from skautodiff.symbolic import signal as signal_table
from skautodiff.symbolic import spatial as spatial_table
from skautodiff.symbolic import special as special_table
from skautodiff.symbolic import stats as stats_table

MODE = Mode(linker="py", optimizer="fast_compile")


@dataclass
class Case:
    id: str
    fn: object  # the table key this case is about (for the coverage test)
    call: Callable  # call(F, *inputs); F(fn) is fn itself or its rule
    inputs: tuple  # the traced inputs, as numpy arrays
    grad: bool = True  # also check the gradient against finite differences
    rtol: float = 1e-10
    tails: bool = False  # values must be relatively exact even where they are tiny


def real(fn):
    return fn


def symbolic(fn):
    rule = lookup(fn)
    assert rule is not None, f"no rule for {fn!r}"
    return rule


def _flat(result):
    return list(result) if isinstance(result, (tuple, list)) else [result]


def _symbolic_input(value, i):
    # Like the engine: length-1 axes are static, every other length is unknown.
    value = np.asarray(value)
    return pt.tensor(
        f"in{i}", dtype=value.dtype, shape=tuple(1 if n == 1 else None for n in value.shape)
    )


def _is_float_var(v):
    return isinstance(v, Variable) and v.dtype.startswith("float")


def _scale(a):
    finite = np.abs(np.asarray(a, dtype=float))
    finite = finite[np.isfinite(finite)]
    return max(1.0, float(finite.max())) if finite.size else 1.0


def check_case(case):
    rng = np.random.default_rng(0)
    inputs = [np.asarray(x, dtype=float) for x in case.inputs]
    expected = _flat(case.call(real, *inputs))
    sym_in = [_symbolic_input(x, i) for i, x in enumerate(inputs)]
    got = _flat(case.call(symbolic, *sym_in))
    assert len(got) == len(expected)

    variables = [i for i, g in enumerate(got) if isinstance(g, Variable)]
    for i, g in enumerate(got):
        if i not in variables:  # a plain value returned beside the arrays (cho_factor's `lower`)
            assert g == expected[i]
    weights = {
        i: rng.normal(size=np.shape(expected[i])) for i in variables if _is_float_var(got[i])
    }
    outputs = [got[i] for i in variables]
    if case.grad:
        cost = sum(pt.sum(w * got[i]) for i, w in weights.items())
        outputs += pytensor.grad(cost, sym_in, disconnected_inputs="ignore")
    values = pytensor.function(sym_in, outputs, mode=MODE, on_unused_input="ignore")(*inputs)

    for i, value in zip(variables, values):
        want = np.asarray(expected[i])
        assert np.shape(value) == want.shape, f"output {i}: shape {np.shape(value)} != {want.shape}"
        np.testing.assert_allclose(
            np.asarray(value, dtype=float),
            want.astype(float),
            rtol=case.rtol,
            atol=0.0 if case.tails else case.rtol * _scale(want),
            err_msg=f"output {i}",
        )

    if case.grad:

        def cost_np(*xs):
            out = _flat(case.call(real, *xs))
            return sum(float(np.sum(w * np.asarray(out[i]))) for i, w in weights.items())

        for k, (x, g) in enumerate(zip(inputs, values[len(variables) :])):
            fd = numeric_gradient(
                lambda moved, k=k: cost_np(*inputs[:k], moved, *inputs[k + 1 :]), x, step=1e-6
            )
            np.testing.assert_allclose(
                g, fd, rtol=1e-5, atol=1e-6 * _scale(fd), err_msg=f"gradient of input {k}"
            )


def check_coverage(table, cases):
    covered = {table_key(c.fn) for c in cases}
    missing = [k for k in table if k not in covered]
    assert not missing, f"table entries without a test case: {missing}"


# ---------------------------------------------------------------- cases

R = np.random.default_rng(42)
X = R.normal(size=5)
X23 = R.normal(size=(2, 3))
POS = R.uniform(0.5, 3.0, size=5)
UNIT = R.uniform(0.05, 0.95, size=5)
SCALE = np.array([1.5])
LARGE = np.array([-40.0, -30.0, -5.0, -0.5, 0.0, 0.3, 5.0, 12.0])

SPECIAL = [
    Case("expit", sc.expit, lambda F, x: F(sc.expit)(x), (LARGE,), tails=True),
    Case("logit", sc.logit, lambda F, p: F(sc.logit)(p), (UNIT,)),
    Case("log_expit", sc.log_expit, lambda F, x: F(sc.log_expit)(x), (LARGE,), tails=True),
    Case("logsumexp", sc.logsumexp, lambda F, a: F(sc.logsumexp)(a), (X,)),
    Case("logsumexp-large", sc.logsumexp, lambda F, a: F(sc.logsumexp)(a + 1000.0, axis=1), (X23,)),
    Case(
        "logsumexp-axes-keepdims",
        sc.logsumexp,
        lambda F, a: F(sc.logsumexp)(a, axis=(0, -1), keepdims=True),
        (R.normal(size=(2, 3, 2)),),
    ),
    Case(
        "logsumexp-b", sc.logsumexp, lambda F, a, b: F(sc.logsumexp)(a, axis=0, b=b), (X23, POS[:3])
    ),
    Case(
        "logsumexp-sign",
        sc.logsumexp,
        lambda F, a: F(sc.logsumexp)(a, b=np.array([1.0, -2.0, 0.5, -0.1, 1.5]), return_sign=True),
        (X,),
    ),
    Case(
        "logsumexp-neginf",
        sc.logsumexp,
        lambda F, a: F(sc.logsumexp)(a - np.inf, axis=1),
        (X23,),
        grad=False,
    ),
    Case("softmax", sc.softmax, lambda F, x: F(sc.softmax)(x), (X23,)),
    Case("softmax-axis", sc.softmax, lambda F, x: F(sc.softmax)(x, axis=1), (X23,)),
    Case(
        "softmax-axes",
        sc.softmax,
        lambda F, x: F(sc.softmax)(x, axis=(0, 2)),
        (R.normal(size=(2, 2, 3)),),
    ),
    Case("log_softmax", sc.log_softmax, lambda F, x: F(sc.log_softmax)(x, axis=0), (X23 * 50,)),
    Case("log_softmax-all", sc.log_softmax, lambda F, x: F(sc.log_softmax)(x), (X23,)),
    Case("gammaln", sc.gammaln, lambda F, x: F(sc.gammaln)(x), (POS,)),
    Case("gamma", sc.gamma, lambda F, x: F(sc.gamma)(x), (POS,)),
    Case("digamma", sc.digamma, lambda F, x: F(sc.digamma)(x), (POS,)),
    Case("psi", sc.psi, lambda F, x: F(sc.psi)(x), (POS,)),
    Case("polygamma", sc.polygamma, lambda F, x: F(sc.polygamma)(1, x), (POS,)),
    Case("betaln", sc.betaln, lambda F, a, b: F(sc.betaln)(a, b), (POS, POS[::-1])),
    Case("beta", sc.beta, lambda F, a, b: F(sc.beta)(a, b), (POS, POS[::-1])),
    Case("erf", sc.erf, lambda F, x: F(sc.erf)(x), (X,)),
    Case("erfc", sc.erfc, lambda F, x: F(sc.erfc)(x), (X * 3,), tails=True),
    Case("erfinv", sc.erfinv, lambda F, x: F(sc.erfinv)(x), (UNIT * 1.8 - 0.9,)),
    Case("erfcx", sc.erfcx, lambda F, x: F(sc.erfcx)(x), (X * 3,)),
    Case(
        "ndtr",
        sc.ndtr,
        lambda F, x: F(sc.ndtr)(x),
        (np.array([-20.0, -3.0, 0.1, 2.0, 9.0]),),
        tails=True,
    ),
    Case("log_ndtr", sc.log_ndtr, lambda F, x: F(sc.log_ndtr)(x), (LARGE,), tails=True),
    Case(
        "log_ndtr-extremes",
        sc.log_ndtr,
        lambda F, x: F(sc.log_ndtr)(x),
        (np.array([-1e5, -np.inf, np.inf, 40.0]),),
        grad=False,
    ),
    Case("xlogy", sc.xlogy, lambda F, x, y: F(sc.xlogy)(x, y), (POS, POS[::-1])),
    Case(
        "xlogy-zero",
        sc.xlogy,
        lambda F, y: F(sc.xlogy)(np.array([0.0, 1.0, 2.0]), y),
        (np.array([0.0, 2.0, 3.0]),),
        grad=False,
    ),
    Case("xlogy-broadcast", sc.xlogy, lambda F, a, y: F(sc.xlogy)(a, y), (SCALE, POS)),
    Case("xlog1py", sc.xlog1py, lambda F, x, y: F(sc.xlog1py)(x, y), (POS, UNIT - 0.5)),
    Case("entr", sc.entr, lambda F, x: F(sc.entr)(x), (POS,)),
    Case(
        "entr-edges", sc.entr, lambda F, x: F(sc.entr)(x), (np.array([0.0, -1.0, 0.5]),), grad=False
    ),
    Case("rel_entr", sc.rel_entr, lambda F, x, y: F(sc.rel_entr)(x, y), (POS, POS[::-1])),
    Case(
        "rel_entr-edges",
        sc.rel_entr,
        lambda F, x, y: F(sc.rel_entr)(x, y),
        (np.array([0.0, 0.0, 1.0, -1.0, 1.0]), np.array([1.0, 0.0, -1.0, 1.0, 0.0])),
        grad=False,
    ),
    Case("kl_div", sc.kl_div, lambda F, x, y: F(sc.kl_div)(x, y), (POS, POS[::-1])),
    Case("erfcinv", sc.erfcinv, lambda F, x: F(sc.erfcinv)(x), (UNIT * 1.8 + 0.1,)),
    Case("betainc", sc.betainc, lambda F, a, b, x: F(sc.betainc)(a, b, x), (POS, POS[::-1], UNIT)),
    Case("gammainc", sc.gammainc, lambda F, a, x: F(sc.gammainc)(a, x), (POS, POS[::-1] * 2)),
    Case("gammaincc", sc.gammaincc, lambda F, a, x: F(sc.gammaincc)(a, x), (POS, POS[::-1] * 2)),
    Case(
        "gammaincc-tail",
        sc.gammaincc,
        lambda F, a, x: F(sc.gammaincc)(a, x),
        (np.array([0.5, 1.2, 2.3, 3.0, 5.0, 0.9]), np.array([0.3, 1.0, 2.0, 6.0, 12.0, 3.0])),
        tails=True,
    ),
    Case(
        "gammasgn",
        sc.gammasgn,
        lambda F, x: F(sc.gammasgn)(x),
        (np.array([2.5, 0.3, -0.5, -1.5, -2.5, -3.2]),),
    ),
    Case(
        "gammasgn-edges",
        sc.gammasgn,
        lambda F, x: F(sc.gammasgn)(x),
        (np.array([0.0, -0.0, -1.0, -2.0, np.inf, -np.inf, np.nan]),),
        grad=False,
    ),
    Case(
        "rgamma",
        sc.rgamma,
        lambda F, x: F(sc.rgamma)(x),
        (np.array([2.5, 0.3, -0.5, -1.5, -2.7, 7.0]),),
    ),
    Case(
        "rgamma-poles",
        sc.rgamma,
        lambda F, x: F(sc.rgamma)(x),
        (np.array([0.0, -1.0, -3.0, 200.0]),),
        grad=False,
    ),
    Case("multigammaln", sc.multigammaln, lambda F, a: F(sc.multigammaln)(a, 3), (POS + 1.5,)),
    Case("j0", sc.j0, lambda F, x: F(sc.j0)(x), (X * 4,)),
    Case("j1", sc.j1, lambda F, x: F(sc.j1)(x), (X * 4,)),
    Case("jv", sc.jv, lambda F, x: F(sc.jv)(np.array([0.0, 1.0, 2.0, 2.5, 3.0]), x), (POS * 2,)),
    Case("jn", sc.jn, lambda F, x: F(sc.jn)(2, x), (X * 3,)),
    Case("i0", sc.i0, lambda F, x: F(sc.i0)(x), (X * 2,)),
    Case("i1", sc.i1, lambda F, x: F(sc.i1)(x), (X * 2,)),
    Case("iv", sc.iv, lambda F, x: F(sc.iv)(np.array([0.0, 1.0, 2.0, 0.5, 3.0]), x), (POS * 2,)),
    Case("ive", sc.ive, lambda F, x: F(sc.ive)(1.5, x), (POS * 5,)),
    Case("kv", sc.kv, lambda F, x: F(sc.kv)(np.array([0.0, 1.0, 2.0, 0.5, 3.5]), x), (POS * 2,)),
    Case("kve", sc.kve, lambda F, x: F(sc.kve)(2.5, x), (POS * 5,)),
    *[
        Case(f.__name__, f, lambda F, x, f=f: F(f)(x), (POS * 2,))
        for f in (sc.k0, sc.k1, sc.k0e, sc.k1e)
    ],
    Case(
        "kl_div-edges",
        sc.kl_div,
        lambda F, x, y: F(sc.kl_div)(x, y),
        (np.array([0.0, 0.0, 1.0, -1.0, 1.0]), np.array([2.0, 0.0, -1.0, 1.0, 0.0])),
        grad=False,
    ),
]

MU = np.array([0.3, -0.2, 1.1])
K = np.array([0.0, 1.0, 3.0, 7.0])
A3 = R.normal(size=(3, 3))


def _spd(a):
    return a @ a.T + 3.0 * np.eye(3)


def _simplex(x):
    # works on numpy arrays and PyTensor variables alike: columns normalised to sum 1
    return x / x.sum(axis=0)


CHI2_POINTS = np.array([-1.0, 0.5, 2.0, 4.0, 9.0])
T_POINTS = np.array([-40.0, -6.0, -1.5, -0.3, 0.0, 0.2, 1.0, 3.0, 25.0])
T_DF = np.array([3.0, 1.5, 4.0, 0.7, 2.0, 6.0, 30.0, 1.0, 5.0])


STATS = [
    Case("norm.logpdf", st.norm.logpdf, lambda F, x: F(st.norm.logpdf)(x), (X,)),
    Case(
        "norm.logpdf-pos",
        st.norm.logpdf,
        lambda F, x, m, s: F(st.norm.logpdf)(x, m, s),
        (X, X[::-1], POS),
    ),
    Case(
        "norm.logpdf-kw",
        st.norm.logpdf,
        lambda F, x, s: F(st.norm.logpdf)(x, scale=s, loc=0.5),
        (X, SCALE),
    ),
    Case(
        "norm.logpdf-bad-scale",
        st.norm.logpdf,
        lambda F, x, s: F(st.norm.logpdf)(x, 0.0, s),
        (X[:3], np.array([1.0, -1.0, 0.0])),
        grad=False,
    ),
    Case(
        "norm.logcdf",
        st.norm.logcdf,
        lambda F, x, m, s: F(st.norm.logcdf)(x, loc=m, scale=s),
        (LARGE, np.array([0.2]), np.array([1.3])),
    ),
    Case("norm.logsf", st.norm.logsf, lambda F, x, s: F(st.norm.logsf)(x, 0.1, s), (LARGE, SCALE)),
    Case(
        "t.logpdf",
        st.t.logpdf,
        lambda F, x, df, m, s: F(st.t.logpdf)(x, df, m, s),
        (X, POS, X[::-1], POS[::-1]),
    ),
    Case(
        "t.logpdf-kw",
        st.t.logpdf,
        lambda F, x, df: F(st.t.logpdf)(x, df=df, scale=2.0),
        (X, SCALE * 3),
    ),
    Case(
        "t.logpdf-inf",
        st.t.logpdf,
        lambda F, x, df: F(st.t.logpdf)(x, df),
        (X[:2], np.array([np.inf, -1.0])),
        grad=False,
    ),
    Case(
        "laplace.logpdf",
        st.laplace.logpdf,
        lambda F, x, m, s: F(st.laplace.logpdf)(x, m, scale=s),
        (X, np.array([0.05]), SCALE),
    ),
    Case(
        "poisson.logpmf", st.poisson.logpmf, lambda F, mu: F(st.poisson.logpmf)(K, mu), (POS[:4],)
    ),
    Case(
        "poisson.logpmf-loc",
        st.poisson.logpmf,
        lambda F, mu: F(st.poisson.logpmf)(K + 1, mu=mu, loc=1),
        (POS[:4],),
    ),
    Case(
        "poisson.logpmf-support",
        st.poisson.logpmf,
        lambda F, mu: F(st.poisson.logpmf)(np.array([-1.0, 2.5, 0.0, 4.0]), mu),
        (np.array([1.0, 1.0, 0.0, -1.0]),),
        grad=False,
    ),
    Case(
        "gamma.logpdf",
        st.gamma.logpdf,
        lambda F, x, a, m, s: F(st.gamma.logpdf)(x, a, m, s),
        (POS, POS[::-1], np.array([0.1]), SCALE),
    ),
    Case(
        "gamma.logpdf-kw",
        st.gamma.logpdf,
        lambda F, x, a: F(st.gamma.logpdf)(x, a=a, scale=0.5),
        (POS, SCALE),
    ),
    Case(
        "gamma.logpdf-support",
        st.gamma.logpdf,
        lambda F, x, a: F(st.gamma.logpdf)(x, a),
        (np.array([-1.0, 0.0, 0.0, 2.0]), np.array([2.0, 1.0, 2.0, -1.0])),
        grad=False,
    ),
    Case(
        "beta.logpdf",
        st.beta.logpdf,
        lambda F, x, a, b: F(st.beta.logpdf)(x, a, b),
        (UNIT, POS, POS[::-1]),
    ),
    Case(
        "beta.logpdf-loc-scale",
        st.beta.logpdf,
        lambda F, x, a, b, s: F(st.beta.logpdf)(x, a, b=b, loc=-1.0, scale=s),
        (UNIT, SCALE, SCALE * 2, SCALE * 2),
    ),
    Case(
        "beta.logpdf-support",
        st.beta.logpdf,
        lambda F, x: F(st.beta.logpdf)(x, 2.0, 3.0),
        (np.array([-0.5, 0.0, 1.0, 1.5, 0.5]),),
        grad=False,
    ),
    Case(
        "bernoulli.logpmf",
        st.bernoulli.logpmf,
        lambda F, p: F(st.bernoulli.logpmf)(np.array([0.0, 1.0, 1.0, 0.0, 1.0]), p),
        (UNIT,),
    ),
    Case("binom.logpmf", st.binom.logpmf, lambda F, p: F(st.binom.logpmf)(K, 8, p), (UNIT[:4],)),
    Case(
        "bernoulli.logpmf-support",
        st.bernoulli.logpmf,
        lambda F, p: F(st.bernoulli.logpmf)(np.array([0.0, 2.0, 0.5, 1.0]), p),
        (np.array([0.3, 0.3, 0.3, 1.5]),),
        grad=False,
    ),
    Case(
        "binom.logpmf-kw",
        st.binom.logpmf,
        lambda F, p: F(st.binom.logpmf)(
            np.array([0.0, 3.0, 9.0, 2.0]), n=np.array([5, 5, 5, -1]), p=p, loc=0
        ),
        (UNIT[:4],),
        grad=False,
    ),
    Case(
        "mvn.logpdf",
        st.multivariate_normal.logpdf,
        lambda F, x, m, a: F(st.multivariate_normal.logpdf)(x, m, _spd(a)),
        (R.normal(size=(4, 3)), MU, A3),
    ),
    Case(
        "mvn.logpdf-vector",
        st.multivariate_normal.logpdf,
        lambda F, x, m, a: F(st.multivariate_normal.logpdf)(x, mean=m, cov=_spd(a)),
        (MU[::-1], MU, A3),
    ),
    Case(
        "mvn.logpdf-one-row",
        st.multivariate_normal.logpdf,
        lambda F, x, m, a: F(st.multivariate_normal.logpdf)(x, m, _spd(a)),
        (R.normal(size=(1, 3)), MU, A3),
    ),
    Case(
        "mvn.logpdf-diag",
        st.multivariate_normal.logpdf,
        lambda F, x, m, c: F(st.multivariate_normal.logpdf)(x, m, c),
        (R.normal(size=(4, 3)), MU, POS[:3]),
    ),
    Case(
        "mvn.logpdf-isotropic",
        st.multivariate_normal.logpdf,
        lambda F, x, c: F(st.multivariate_normal.logpdf)(x, np.zeros(3), c),
        (R.normal(size=(2, 3)), np.array(2.0)),
    ),
    Case(
        "mvn.logpdf-no-mean",
        st.multivariate_normal.logpdf,
        lambda F, x, a: F(st.multivariate_normal.logpdf)(x, cov=_spd(a)),
        (R.normal(size=(2, 3)), A3),
    ),
    Case(
        "mvn.logpdf-dim1",
        st.multivariate_normal.logpdf,
        lambda F, x, m, c: F(st.multivariate_normal.logpdf)(x, m, c),
        (X, np.array(0.3), np.array(2.0)),
    ),
    # ---- densities, distribution and survival functions besides the log forms
    Case("norm.pdf", st.norm.pdf, lambda F, x, m, s: F(st.norm.pdf)(x, m, s), (X, X[::-1], POS)),
    Case(
        "norm.cdf",
        st.norm.cdf,
        lambda F, x, s: F(st.norm.cdf)(x, loc=0.2, scale=s),
        (LARGE, SCALE),
        tails=True,
    ),
    Case("norm.sf", st.norm.sf, lambda F, x: F(st.norm.sf)(x), (LARGE,), tails=True),
    Case("t.pdf", st.t.pdf, lambda F, x, df: F(st.t.pdf)(x, df, 0.1, 1.3), (X, POS)),
    Case("t.cdf", st.t.cdf, lambda F, x, df: F(st.t.cdf)(x, df), (T_POINTS, T_DF), tails=True),
    Case(
        "t.cdf-loc-scale",
        st.t.cdf,
        lambda F, x, df, m, s: F(st.t.cdf)(x, df, m, s),
        (X, POS, X[::-1], POS),
    ),
    Case("t.cdf-inf-df", st.t.cdf, lambda F, x: F(st.t.cdf)(x, np.inf), (X,)),
    Case(
        "t.logcdf",
        st.t.logcdf,
        lambda F, x, df: F(st.t.logcdf)(x, df),
        (T_POINTS, T_DF),
        tails=True,
    ),
    Case("t.sf", st.t.sf, lambda F, x, df: F(st.t.sf)(x, df=df), (T_POINTS, T_DF), tails=True),
    Case("laplace.pdf", st.laplace.pdf, lambda F, x, s: F(st.laplace.pdf)(x, 0.1, s), (X, SCALE)),
    Case(
        "laplace.cdf",
        st.laplace.cdf,
        lambda F, x, s: F(st.laplace.cdf)(x, 0.1, s),
        (LARGE / 4, SCALE),
    ),
    Case("laplace.sf", st.laplace.sf, lambda F, x: F(st.laplace.sf)(x), (LARGE / 4,)),
    Case(
        "gamma.pdf",
        st.gamma.pdf,
        lambda F, x, a: F(st.gamma.pdf)(x, a, scale=2.0),
        (POS, POS[::-1]),
    ),
    Case(
        "gamma.cdf", st.gamma.cdf, lambda F, x, a: F(st.gamma.cdf)(x, a, 0.1, 1.5), (POS, POS[::-1])
    ),
    Case(
        "gamma.cdf-support",
        st.gamma.cdf,
        lambda F, x: F(st.gamma.cdf)(x, 2.0),
        (np.array([-1.0, 0.0, 2.0]),),
    ),
    Case(
        "gamma.sf",
        st.gamma.sf,
        lambda F, x, a: F(st.gamma.sf)(x, a=a),
        (np.array([-1.0, 0.5, 2.0, 4.0, 9.0]), POS),
    ),
    Case(
        "beta.pdf", st.beta.pdf, lambda F, x, a, b: F(st.beta.pdf)(x, a, b), (UNIT, POS, POS[::-1])
    ),
    Case(
        "beta.cdf", st.beta.cdf, lambda F, x, a, b: F(st.beta.cdf)(x, a, b), (UNIT, POS, POS[::-1])
    ),
    Case(
        "beta.cdf-support",
        st.beta.cdf,
        lambda F, x: F(st.beta.cdf)(x, 2.0, 3.0),
        (np.array([-0.5, 0.0, 1.0, 1.5]),),
        grad=False,
    ),
    Case(
        "chi2.logpdf",
        st.chi2.logpdf,
        lambda F, x, df: F(st.chi2.logpdf)(x, df),
        (POS * 2, POS[::-1] * 3),
    ),
    Case(
        "chi2.logpdf-support",
        st.chi2.logpdf,
        lambda F, x, df: F(st.chi2.logpdf)(x, df),
        (np.array([-1.0, 0.0, 0.0, 2.0]), np.array([3.0, 2.0, 3.0, -1.0])),
        grad=False,
    ),
    Case(
        "chi2.pdf",
        st.chi2.pdf,
        lambda F, x, df: F(st.chi2.pdf)(x, df, scale=1.5),
        (POS * 2, POS[::-1] * 3),
    ),
    Case("chi2.cdf", st.chi2.cdf, lambda F, x, df: F(st.chi2.cdf)(x, df), (CHI2_POINTS, POS * 3)),
    Case("chi2.sf", st.chi2.sf, lambda F, x, df: F(st.chi2.sf)(x, df), (CHI2_POINTS, POS * 3)),
    Case(
        "expon.logpdf", st.expon.logpdf, lambda F, x, s: F(st.expon.logpdf)(x, 0.1, s), (POS, SCALE)
    ),
    Case(
        "expon.logpdf-support",
        st.expon.logpdf,
        lambda F, x: F(st.expon.logpdf)(x),
        (np.array([-1.0, 0.0, 2.0]),),
        grad=False,
    ),
    Case("expon.pdf", st.expon.pdf, lambda F, x, s: F(st.expon.pdf)(x, scale=s), (POS, SCALE)),
    Case(
        "expon.cdf",
        st.expon.cdf,
        lambda F, x, s: F(st.expon.cdf)(x, scale=s),
        (np.array([-1.0, 0.5, 2.0]), SCALE),
    ),
    Case(
        "expon.sf",
        st.expon.sf,
        lambda F, x, s: F(st.expon.sf)(x, scale=s),
        (np.array([-1.0, 0.5, 2.0]), SCALE),
    ),
    Case("poisson.pmf", st.poisson.pmf, lambda F, mu: F(st.poisson.pmf)(K, mu), (POS[:4],)),
    Case(
        "poisson.cdf",
        st.poisson.cdf,
        lambda F, mu: F(st.poisson.cdf)(np.array([-1.0, 0.0, 2.5, 7.0]), mu),
        (POS[:4] * 2,),
    ),
    Case(
        "poisson.cdf-loc",
        st.poisson.cdf,
        lambda F, mu: F(st.poisson.cdf)(K + 1, mu=mu, loc=1),
        (POS[:4],),
    ),
    Case(
        "poisson.sf",
        st.poisson.sf,
        lambda F, mu: F(st.poisson.sf)(np.array([-1.0, 0.0, 2.5, 7.0]), mu),
        (POS[:4] * 2,),
    ),
    Case("binom.pmf", st.binom.pmf, lambda F, p: F(st.binom.pmf)(K, 8, p), (UNIT[:4],)),
    Case(
        "bernoulli.pmf",
        st.bernoulli.pmf,
        lambda F, p: F(st.bernoulli.pmf)(np.array([0.0, 1.0, 1.0]), p),
        (UNIT[:3],),
    ),
    Case(
        "dirichlet.logpdf",
        st.dirichlet.logpdf,
        lambda F, x, a: F(st.dirichlet.logpdf)(_simplex(x), a),
        (R.uniform(0.2, 1.0, size=3), POS[:3]),
    ),
    Case(
        "dirichlet.logpdf-columns",
        st.dirichlet.logpdf,
        lambda F, x, a: F(st.dirichlet.logpdf)(_simplex(x), a),
        (R.uniform(0.2, 1.0, size=(3, 4)), POS[:3]),
    ),
    Case(
        "dirichlet.logpdf-k-minus-1",
        st.dirichlet.logpdf,
        lambda F, x, a: F(st.dirichlet.logpdf)(_simplex(x)[:2], a),
        (R.uniform(0.2, 1.0, size=3), POS[:3]),
    ),
    Case(
        "dirichlet.pdf",
        st.dirichlet.pdf,
        lambda F, x, a: F(st.dirichlet.pdf)(_simplex(x), a),
        (R.uniform(0.2, 1.0, size=3), POS[:3]),
    ),
    Case(
        "mvn.pdf",
        st.multivariate_normal.pdf,
        lambda F, x, m, a: F(st.multivariate_normal.pdf)(x, m, _spd(a)),
        (R.normal(size=(4, 3)), MU, A3),
    ),
    Case(
        "mvn.logpdf-allow-singular",
        st.multivariate_normal.logpdf,
        lambda F, x, m, a: F(st.multivariate_normal.logpdf)(x, m, _spd(a), allow_singular=True),
        (R.normal(size=(4, 3)), MU, A3),
    ),
    Case(
        "mvn.pdf-allow-singular-diag",
        st.multivariate_normal.pdf,
        lambda F, x, m, c: F(st.multivariate_normal.pdf)(x, m, cov=c, allow_singular=True),
        (R.normal(size=(2, 3)), MU, POS[:3]),
    ),
    Case(
        "mvn.entropy",
        st.multivariate_normal.entropy,
        lambda F, m, a: F(st.multivariate_normal.entropy)(m, _spd(a)),
        (MU, A3),
    ),
    Case(
        "mvn.entropy-diag",
        st.multivariate_normal.entropy,
        lambda F, m, c: F(st.multivariate_normal.entropy)(m, cov=c),
        (MU, POS[:3]),
    ),
    Case(
        "mvn.entropy-isotropic",
        st.multivariate_normal.entropy,
        lambda F, m, c: F(st.multivariate_normal.entropy)(m, c),
        (MU, np.array(2.0)),
    ),
]


XA = R.normal(size=(4, 3))
XB = R.normal(size=(2, 3))
TWINS = np.array(
    [[0.5, -1.0, 2.0], [0.5, -1.0, 2.0], [1.5, 0.0, -0.5], [0.2, 0.3, 0.1]]
)  # rows 0 and 1 coincide
METRICS = [
    "euclidean",
    "sqeuclidean",
    "cityblock",
    "chebyshev",
    "minkowski",
    "seuclidean",
    "cosine",
    "correlation",
    "braycurtis",
    "canberra",
]

SPATIAL = [
    *[
        Case(f"cdist-{m}", ssd.cdist, lambda F, a, b, m=m: F(ssd.cdist)(a, b, m), (XA, XB))
        for m in METRICS
    ],
    *[
        Case(f"pdist-{m}", ssd.pdist, lambda F, a, m=m: F(ssd.pdist)(a, metric=m), (XA,))
        for m in METRICS
    ],
    Case("cdist-default", ssd.cdist, lambda F, a, b: F(ssd.cdist)(a, b), (XA, XB)),
    Case(
        "cdist-minkowski-p",
        ssd.cdist,
        lambda F, a, b: F(ssd.cdist)(a, b, "minkowski", p=3.0),
        (XA, XB),
    ),
    Case(
        "cdist-minkowski-p1",
        ssd.cdist,
        lambda F, a, b: F(ssd.cdist)(a, b, "minkowski", p=1),
        (XA, XB),
    ),
    Case(
        "cdist-seuclidean-V",
        ssd.cdist,
        lambda F, a, b, v: F(ssd.cdist)(a, b, "seuclidean", V=v),
        (XA, XB, POS[:3]),
    ),
    Case("cdist-alias", ssd.cdist, lambda F, a, b: F(ssd.cdist)(a, b, "cityblock"), (XA, XB)),
    # zero distances: the diagonal of cdist(X, X) and coinciding rows have a zero gradient
    *[
        Case(f"cdist-self-{m}", ssd.cdist, lambda F, a, m=m: F(ssd.cdist)(a, a, m), (XA,))
        for m in ("euclidean", "sqeuclidean", "cityblock", "minkowski", "seuclidean")
    ],
    *[
        Case(f"pdist-twins-{m}", ssd.pdist, lambda F, a, m=m: F(ssd.pdist)(a, m), (TWINS,))
        for m in ("euclidean", "sqeuclidean", "minkowski", "seuclidean")
    ],
    Case(
        "cdist-canberra-zeros",
        ssd.cdist,
        lambda F, a, b: F(ssd.cdist)(a, b, "canberra"),
        (np.array([[0.0, 1.0], [0.0, -2.0]]), np.array([[0.0, 0.5]])),
    ),
]


SIGNAL = [
    Case(
        f"convolve-{n}-{m}-{mode}",
        scipy.signal.convolve,
        lambda F, a, v, mode=mode: F(scipy.signal.convolve)(a, v, mode=mode),
        (R.normal(size=n), R.normal(size=m)),
    )
    for n, m in ((5, 3), (3, 5), (4, 4), (6, 1))
    for mode in ("full", "valid", "same")
]


@pytest.mark.parametrize("case", SIGNAL, ids=lambda c: c.id)
def test_signal(case):
    check_case(case)


def test_every_signal_entry_has_a_case():
    check_coverage(signal_table.FUNCTIONS, SIGNAL)


@pytest.mark.parametrize("case", SPATIAL, ids=lambda c: c.id)
def test_spatial(case):
    check_case(case)


def test_every_spatial_entry_has_a_case():
    check_coverage(spatial_table.FUNCTIONS, SPATIAL)


@pytest.mark.parametrize("case", SPECIAL, ids=lambda c: c.id)
def test_special(case):
    check_case(case)


@pytest.mark.parametrize("case", STATS, ids=lambda c: c.id)
def test_stats(case):
    check_case(case)


def test_every_special_entry_has_a_case():
    check_coverage(special_table.FUNCTIONS, SPECIAL)


def test_every_stats_entry_has_a_case():
    check_coverage(stats_table.FUNCTIONS, STATS)


def test_stats_keys_match_the_merger():
    # A fresh bound method each access: the merger must find it through (owner, name).
    assert lookup(st.norm.logpdf) is stats_table.FUNCTIONS[(st.norm, "logpdf")]


V = pt.vector("v")


@pytest.mark.parametrize(
    "call, message",
    [
        (lambda: symbolic(sc.expit)(V, out=np.zeros(3)), "out="),
        (lambda: symbolic(sc.polygamma)(V, V), "constant integer"),
        (lambda: symbolic(sc.jv)(V, V), "order"),
        (lambda: symbolic(ssd.cdist)(pt.matrix(), pt.matrix(), "hamming"), "supported metrics"),
        (lambda: symbolic(ssd.cdist)(pt.matrix(), pt.matrix(), lambda u, v: 0.0), "Python metric"),
        (lambda: symbolic(ssd.pdist)(pt.matrix(), "minkowski", w=np.ones(2)), "w="),
        (lambda: symbolic(sc.multigammaln)(V, V), "constant integer"),
    ],
)
def test_refused(call, message):
    with pytest.raises(NotImplementedError, match=message):
        call()


def test_allow_singular_with_a_singular_covariance_raises_at_run_time():
    x, cov = pt.matrix("x"), pt.matrix("cov")
    f = pytensor.function(
        [x, cov],
        symbolic(st.multivariate_normal.logpdf)(x, cov=cov, allow_singular=True),
        mode=MODE,
    )
    points = np.array([[0.1, 0.2], [0.3, -0.1]])
    assert np.allclose(
        f(points, np.eye(2)),
        st.multivariate_normal.logpdf(points, cov=np.eye(2), allow_singular=True),
    )
    with pytest.raises(AssertionError, match="singular"):
        f(points, np.array([[1.0, 1.0], [1.0, 1.0]]))


@pytest.mark.parametrize(
    "call",
    [
        lambda: symbolic(st.norm.logpdf)(V, 0.0, 1.0, 2.0),
        lambda: symbolic(st.norm.logpdf)(V, sigma=1.0),
        lambda: symbolic(st.t.logpdf)(V),
        lambda: symbolic(st.t.logpdf)(V, 3.0, df=3.0),
    ],
)
def test_bad_arguments_raise_like_scipy(call):
    with pytest.raises(TypeError):
        call()
