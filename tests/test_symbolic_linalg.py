"""numpy.linalg and scipy.linalg rules against numpy/scipy themselves.

Same harness as test_symbolic_scipy.py: values to 1e-10 relative, gradients of a random weighted
sum of the outputs against central finite differences of the real functions. Symmetric inputs are
built inside the call (A @ A.T + 3I) so that the finite differences stay symmetric.
"""

import numpy as np
import pytensor
import pytensor.tensor as pt
import pytest
import scipy.linalg as sla

import skautodiff
from helpers import finite_difference
from skautodiff.symbolic import linalg as linalg_table
from test_symbolic_scipy import MODE, Case, check_case, check_coverage, symbolic

R = np.random.default_rng(7)
V5 = R.normal(size=5)
M34 = R.normal(size=(3, 4))
M43 = R.normal(size=(4, 3))
M33 = R.normal(size=(3, 3))
T234 = R.normal(size=(2, 3, 4))
B3 = R.normal(size=3)
B32 = R.normal(size=(3, 2))
WELL = M33 + 4 * np.eye(3)  # well conditioned, not symmetric
STACK = R.normal(size=(2, 3, 3)) + 4 * np.eye(3)
NEG_DET = np.array([[0.0, 2.0, 1.0], [1.5, 0.3, -0.4], [0.2, -1.0, 2.5]])


def spd(a):
    """Symmetric positive definite; works on numpy arrays and PyTensor variables alike."""
    return a @ a.T + 3.0 * np.eye(3)


def spd_stack(a):
    return (
        a @ np.swapaxes(a, -1, -2) + 3.0 * np.eye(3)
        if isinstance(a, np.ndarray)
        else a @ pt.swapaxes(a, -1, -2) + 3.0 * np.eye(3)
    )


N = np.linalg
norm = N.norm


def _norm_case(name, x, **kw):
    return Case(f"norm-{name}", norm, lambda F, a: F(norm)(a, **kw), (x,))


NORM = [
    _norm_case("vector", V5),
    *[_norm_case(f"vector-ord{o}", V5, ord=o) for o in (1, 2, np.inf, -np.inf, 3, 0.5, -1)],
    _norm_case("vector-ord0", V5, ord=0),
    *[
        _norm_case(f"matrix-{o}", M34, ord=o)
        for o in (None, "fro", "nuc", 1, -1, 2, -2, np.inf, -np.inf)
    ],
    _norm_case("3d-default-keepdims", T234, keepdims=True),
    _norm_case("3d-axis1-p3-keepdims", T234, ord=3, axis=1, keepdims=True),
    _norm_case("3d-axis-neg", T234, axis=-1),
    _norm_case("3d-nuc-0-2", T234, ord="nuc", axis=(0, 2)),
    _norm_case("3d-1-reversed-keepdims", T234, ord=1, axis=(2, 0), keepdims=True),
    _norm_case("3d-inf-1-2", T234, ord=np.inf, axis=(1, 2)),
    _norm_case("3d-2-2-1", T234, ord=2, axis=(2, 1)),
    _norm_case("3d-fro-keepdims", T234, ord="fro", axis=(0, 1), keepdims=True),
]

NUMPY = [
    Case("solve-vector", N.solve, lambda F, a, b: F(N.solve)(a, b), (WELL, B3)),
    Case("solve-matrix", N.solve, lambda F, a, b: F(N.solve)(a, b), (WELL, B32)),
    Case(
        "solve-stack", N.solve, lambda F, a, b: F(N.solve)(a, b), (STACK, R.normal(size=(2, 3, 2)))
    ),
    Case("inv", N.inv, lambda F, a: F(N.inv)(a), (WELL,)),
    Case("inv-stack", N.inv, lambda F, a: F(N.inv)(a), (STACK,)),
    Case("det", N.det, lambda F, a: F(N.det)(a), (M33,)),
    Case("det-stack", N.det, lambda F, a: F(N.det)(a), (STACK,)),
    Case("slogdet", N.slogdet, lambda F, a: F(N.slogdet)(a), (NEG_DET,)),
    Case(
        "slogdet-stack",
        N.slogdet,
        lambda F, a: F(N.slogdet)(a),
        (STACK * np.array([1, -1, 1])[:, None],),
    ),
    Case("cholesky", N.cholesky, lambda F, a: F(N.cholesky)(spd(a)), (M33,)),
    Case("cholesky-upper", N.cholesky, lambda F, a: F(N.cholesky)(spd(a), upper=True), (M33,)),
    Case("cholesky-stack", N.cholesky, lambda F, a: F(N.cholesky)(spd_stack(a)), (STACK,)),
    Case("eigh", N.eigh, lambda F, a: F(N.eigh)(spd(a)), (M33,)),
    Case("eigh-upper", N.eigh, lambda F, a: F(N.eigh)(spd(a), UPLO="U"), (M33,)),
    Case("eigvalsh", N.eigvalsh, lambda F, a: F(N.eigvalsh)(spd(a)), (M33,)),
    Case("svd-reduced", N.svd, lambda F, a: F(N.svd)(a, full_matrices=False), (M43,)),
    Case("svd-reduced-wide", N.svd, lambda F, a: F(N.svd)(a, full_matrices=False), (M34,)),
    Case("svd-values", N.svd, lambda F, a: F(N.svd)(a, compute_uv=False), (M34,)),
    Case(
        "svd-values-hermitian",
        N.svd,
        lambda F, a: F(N.svd)(spd(a), compute_uv=False, hermitian=True),
        (M33,),
    ),
    Case("svd-full-values", N.svd, lambda F, a: F(N.svd)(a), (M43,), grad=False),
    Case("svd-full-square", N.svd, lambda F, a: F(N.svd)(a), (M33,)),
    Case("svd-full-tall-used-part", N.svd, lambda F, a: [o[..., :3] for o in F(N.svd)(a)], (M43,)),
    Case("svd-full-stack-values", N.svd, lambda F, a: F(N.svd)(a), (STACK,), grad=False),
    Case("pinv-tall", N.pinv, lambda F, a: F(N.pinv)(a), (M43,)),
    Case("pinv-wide", N.pinv, lambda F, a: F(N.pinv)(a), (M34,)),
    Case("pinv-hermitian", N.pinv, lambda F, a: F(N.pinv)(spd(a), hermitian=True), (M33,)),
    Case("qr-tall", N.qr, lambda F, a: F(N.qr)(a), (M43,)),
    Case("qr-wide", N.qr, lambda F, a: F(N.qr)(a), (M34,)),
    Case("qr-square", N.qr, lambda F, a: F(N.qr)(a), (M33,)),
    Case("qr-complete-square", N.qr, lambda F, a: F(N.qr)(a, mode="complete"), (M33,)),
    Case("qr-complete-wide", N.qr, lambda F, a: F(N.qr)(a, mode="complete"), (M34,)),
    Case(
        "qr-complete-tall-values",
        N.qr,
        lambda F, a: F(N.qr)(a, mode="complete"),
        (M43,),
        grad=False,
    ),
    Case("qr-r-tall", N.qr, lambda F, a: F(N.qr)(a, mode="r"), (M43,)),
    Case("qr-r-wide", N.qr, lambda F, a: F(N.qr)(a, mode="r"), (M34,)),
    Case("lstsq-vector", N.lstsq, lambda F, a, b: F(N.lstsq)(a, b), (R.normal(size=(5, 3)), V5)),
    Case(
        "lstsq-matrix",
        N.lstsq,
        lambda F, a, b: F(N.lstsq)(a, b, rcond=None),
        (R.normal(size=(5, 3)), R.normal(size=(5, 2))),
    ),
    Case("lstsq-underdetermined", N.lstsq, lambda F, a, b: F(N.lstsq)(a, b), (M34, B3)),
    Case("lstsq-square", N.lstsq, lambda F, a, b: F(N.lstsq)(a, b), (WELL, B32)),
    *[
        Case(
            f"matrix_power-{n}",
            N.matrix_power,
            lambda F, a, n=n: F(N.matrix_power)(a, n),
            (M33 / 2,),
        )
        for n in (0, 1, 2, 3, 5, -2)
    ],
    Case("matrix_power-stack", N.matrix_power, lambda F, a: F(N.matrix_power)(a, 3), (STACK / 4,)),
    Case(
        "multi_dot",
        N.multi_dot,
        lambda F, a, b, c: F(N.multi_dot)([a, b, c]),
        (M34, R.normal(size=(4, 2)), B32.T),
    ),
    Case(
        "multi_dot-vectors",
        N.multi_dot,
        lambda F, v, b: F(N.multi_dot)([v, M34, b]),
        (B3, R.normal(size=4)),
    ),
]

BANDED = R.normal(size=(4, 5)) * 0.3
BANDED[2] += 3.0  # the main diagonal of (l, u) = (1, 2) storage (row u): well conditioned
BANDED[1] += 3.0  # ... and of (2, 0) storage, which is BANDED[1:] (its row 0)
TRI = np.tril(WELL) + np.triu(
    M33, 1
)  # the unread triangle holds other values: its gradient must be 0

SCIPY = [
    Case(
        "solve_triangular",
        sla.solve_triangular,
        lambda F, a, b: F(sla.solve_triangular)(a, b, lower=True),
        (TRI, B3),
    ),
    Case(
        "solve_triangular-upper-trans",
        sla.solve_triangular,
        lambda F, a, b: F(sla.solve_triangular)(a.T, b, trans=1),
        (TRI, B32),
    ),
    Case(
        "solve_triangular-trans-T-unit",
        sla.solve_triangular,
        lambda F, a, b: F(sla.solve_triangular)(a, b, trans="T", lower=True, unit_diagonal=True),
        (TRI, B32),
    ),
    Case("cho_factor", sla.cho_factor, lambda F, a: F(sla.cho_factor)(spd(a)), (M33,)),
    Case(
        "cho_factor-lower",
        sla.cho_factor,
        lambda F, a: F(sla.cho_factor)(spd(a), lower=True),
        (M33,),
    ),
    Case(
        "cho_solve",
        sla.cho_solve,
        lambda F, a, b: F(sla.cho_solve)(F(sla.cho_factor)(spd(a)), b),
        (M33, B3),
    ),
    Case(
        "cho_solve-lower",
        sla.cho_solve,
        lambda F, a, b: F(sla.cho_solve)(F(sla.cho_factor)(spd(a), lower=True), b),
        (M33, B32),
    ),
    Case("expm", sla.expm, lambda F, a: F(sla.expm)(a), (M33 / 2,)),
    Case("cholesky", sla.cholesky, lambda F, a: F(sla.cholesky)(spd(a)), (M33,)),
    Case("cholesky-lower", sla.cholesky, lambda F, a: F(sla.cholesky)(spd(a), lower=True), (M33,)),
    Case("solve", sla.solve, lambda F, a, b: F(sla.solve)(a, b), (WELL, B3)),
    Case(
        "solve-transposed",
        sla.solve,
        lambda F, a, b: F(sla.solve)(a, b, transposed=True),
        (WELL, B32),
    ),
    Case(
        "solve-pos", sla.solve, lambda F, a, b: F(sla.solve)(spd(a), b, assume_a="pos"), (M33, B32)
    ),
    Case(
        "solve-sym-lower",
        sla.solve,
        lambda F, a, b: F(sla.solve)(spd(a), b, assume_a="sym", lower=True),
        (M33, B3),
    ),
    Case("inv", sla.inv, lambda F, a: F(sla.inv)(a), (WELL,)),
    Case("det", sla.det, lambda F, a: F(sla.det)(a), (M33,)),
    Case(
        "solve_sylvester",
        sla.solve_sylvester,
        lambda F, a, b, q: F(sla.solve_sylvester)(a, b, q),
        (WELL, WELL.T + np.eye(3), M33),
    ),
    Case(
        "solve_banded",
        sla.solve_banded,
        lambda F, ab, b: F(sla.solve_banded)((1, 2), ab, b),
        (BANDED, R.normal(size=5)),
    ),
    Case(
        "solve_banded-matrix",
        sla.solve_banded,
        lambda F, ab, b: F(sla.solve_banded)((2, 0), ab, b),
        (BANDED[1:], R.normal(size=(5, 2))),
    ),
]


@pytest.mark.parametrize("case", NORM + NUMPY + SCIPY, ids=lambda c: c.id)
def test_linalg(case):
    check_case(case)


def test_every_linalg_entry_has_a_case():
    check_coverage(linalg_table.FUNCTIONS, NORM + NUMPY + SCIPY)


def test_slogdet_stays_finite_without_rewrites():
    # log|det| of a 300x300 matrix is about 900: det itself overflows, the LU form does not.
    a = np.eye(300) * 20 + np.random.default_rng(0).normal(size=(300, 300))
    x = pt.matrix("x")
    sign, logabsdet = symbolic(N.slogdet)(x)
    got = pytensor.function([x], [sign, logabsdet], mode=MODE)(a)
    want = np.linalg.slogdet(a)
    np.testing.assert_allclose(got, [want.sign, want.logabsdet], rtol=1e-10)


def test_complete_qr_of_tall_matrix_refuses_its_gradient_at_run_time():
    x = pt.matrix("x")
    q, r = symbolic(N.qr)(x, mode="complete")
    grad = pytensor.function([x], pytensor.grad(pt.sum(q) + pt.sum(r), x), mode=MODE)
    assert grad(M34).shape == (3, 4)
    with pytest.raises(AssertionError, match="mode='reduced'"):
        grad(M43)


def test_full_svd_refuses_a_gradient_through_the_complement_at_run_time():
    # The extra columns of U are an arbitrary orthonormal complement: no gradient, never a wrong one.
    x = pt.matrix("x")
    u, s, vh = symbolic(N.svd)(x)
    grad = pytensor.function([x], pytensor.grad(pt.sum(u), x), mode=MODE)
    assert grad(M34).shape == (3, 4)  # wide: U is square, only Vh has a complement (unused here)
    with pytest.raises(AssertionError, match="full_matrices=False"):
        grad(M43)


M = pt.matrix("m")
V = pt.vector("v")


@pytest.mark.parametrize(
    "call, message",
    [
        (lambda: symbolic(N.qr)(M, mode="raw"), "raw"),
        (lambda: symbolic(N.svd)(M, hermitian=True), "hermitian"),
        (lambda: symbolic(N.pinv)(M, rcond=1e-3), "rcond"),
        (lambda: symbolic(N.pinv)(M, rtol=1e-3), "rtol"),
        (lambda: symbolic(N.lstsq)(M, V, rcond=1e-3), "rcond"),
        (lambda: symbolic(N.matrix_power)(M, V), "constant integer"),
        (lambda: symbolic(N.multi_dot)([M, M], out=np.zeros((2, 2))), "out"),
        (lambda: symbolic(sla.solve)(M, V, assume_a="banded"), "banded"),
        (lambda: symbolic(sla.expm)(pt.tensor3()), "2-D"),
    ],
)
def test_refused(call, message):
    with pytest.raises(NotImplementedError, match=message):
        call()


@pytest.mark.parametrize(
    "value, kw",
    [
        (np.ones(3), dict(ord="fro")),
        (np.ones((2, 2, 2)), dict(ord="nuc", axis=0)),
        (np.ones((2, 2)), dict(ord=3, axis=(0, 1))),
        (np.ones((2, 2, 2)), dict(axis=(0, 1, 2))),
        (np.ones((2, 2)), dict(axis=(1, 1))),
    ],
)
def test_norm_rejects_what_numpy_rejects(value, kw):
    with pytest.raises(ValueError):
        np.linalg.norm(value, **kw)
    with pytest.raises(ValueError):
        symbolic(norm)(pt.as_tensor_variable(value), **kw)


@pytest.mark.cbackend
@pytest.mark.slow
def test_rules_compile_on_the_c_backend():
    # What users run: full rewrites and the C linker, through the custom-gradient Ops
    # (QR, full SVD), the LU slogdet, a scipy.stats and a scipy.special rule in one graph.
    import scipy.special as sc
    import scipy.stats as st

    a = pt.matrix("a")
    x = pt.vector("x")
    s = spd(a)
    _, logabsdet = symbolic(N.slogdet)(s)
    _, r = symbolic(N.qr)(a)
    _, sv, _ = symbolic(N.svd)(a)
    terms = [
        logabsdet,
        pt.sum(r),
        pt.sum(sv),
        pt.sum(symbolic(st.multivariate_normal.logpdf)(x, np.zeros(3), s)),
        pt.sum(symbolic(sc.log_ndtr)(x * 10)),
    ]
    cost = sum(terms)
    f = pytensor.function([a, x], [cost, *pytensor.grad(cost, [a, x])], mode="FAST_RUN")

    def reference(a_, x_):
        s_ = spd(a_)
        return (
            np.linalg.slogdet(s_)[1]
            + np.sum(np.linalg.qr(a_)[1])
            + np.sum(np.linalg.svd(a_)[1])
            + st.multivariate_normal.logpdf(x_, np.zeros(3), s_)
            + np.sum(sc.log_ndtr(x_ * 10))
        )

    value, ga, gx = f(M33, B3)
    np.testing.assert_allclose(value, reference(M33, B3), rtol=1e-10)
    h = 1e-6
    fd_a = np.array(
        [
            (reference(M33 + h * e, B3) - reference(M33 - h * e, B3)) / (2 * h)
            for e in np.eye(9).reshape(9, 3, 3)
        ]
    ).reshape(3, 3)
    fd_x = np.array(
        [(reference(M33, B3 + h * e) - reference(M33, B3 - h * e)) / (2 * h) for e in np.eye(3)]
    )
    np.testing.assert_allclose(ga, fd_a, rtol=1e-5, atol=1e-6)
    np.testing.assert_allclose(gx, fd_x, rtol=1e-5, atol=1e-6)


# ---------------------------------------------------------------- factorisations that fail
def _jittered_factor_solve(w, a):
    """A Gaussian-process style loss: a Cholesky solve, and a fallback when the matrix is not
    positive definite (or singular), as users write it."""
    K = np.array([[1.0, a[0]], [a[0], 1.0]])
    try:
        return np.sum(sla.cho_solve(sla.cho_factor(K), w) * w) + np.sum(np.linalg.inv(K) @ w)
    except np.linalg.LinAlgError:
        return np.sum(w**2)


def test_a_factorisation_that_fails_natively_is_no_nan_compiled():
    """numpy and scipy raise on a matrix that is not positive definite (or singular); PyTensor's
    Cholesky gives NaN and its rewritten inverse NaN or inf. A compiled call must not return
    those where the native call took the except branch (or raised): value and gradient against
    the native function and central differences, through branch changes both ways."""
    w = np.array([0.3, -0.2])
    vg = skautodiff.value_and_grad(_jittered_factor_solve, wrt=0)
    for a in (0.5, 2.0, 0.2, 1.0, 0.5, 3.0):  # positive definite, not, yes, singular, yes, not
        args = (w, np.array([a]))
        value, grad = vg(*args)
        assert value == pytest.approx(_jittered_factor_solve(*args), rel=1e-12)
        np.testing.assert_allclose(
            grad, finite_difference(_jittered_factor_solve, args, 0), rtol=1e-6
        )

    def no_fallback(w, a):
        return np.sum(np.linalg.cholesky(np.array([[1.0, a[0]], [a[0], 1.0]])) @ w)

    f = skautodiff.Function(no_fallback)
    assert f(w, np.array([0.5])) == pytest.approx(no_fallback(w, np.array([0.5])))
    with pytest.raises(np.linalg.LinAlgError):  # as natively, instead of NaN
        f(w, np.array([2.0]))
