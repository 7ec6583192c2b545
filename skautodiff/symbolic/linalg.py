"""numpy.linalg and scipy.linalg in PyTensor (see doc/architecture.md, "Symbolic rules").

PyTensor's linear-algebra Ops are Blockwise, so numpy's stacked (..., M, N) inputs work wherever
numpy accepts them. The scipy.linalg rules accept single matrices only: scipy's batching rules
differ between releases, and a wrong guess would pair the wrong axes silently.

Each rule's values must equal numpy's/scipy's (including sign conventions such as eigenvector
signs), because the engine pairs the concrete result with the symbolic one and the compiled graph
is reused on new data.
"""

import numpy as np
import pytensor.tensor as pt
from pytensor.compile.builders import OpFromGraph
from pytensor.gradient import DisconnectedType, zero_grad
from pytensor.raise_op import Assert
import scipy.linalg as sla

from ._common import as_tensor, normalize_axis, raises_unless_finite, refuse

_EPS = float(np.finfo(np.float64).eps)


def _mT(x):
    return pt.swapaxes(x, -1, -2)


def _b_ndim(b):
    # numpy 2 and scipy: a 1-D right-hand side is one vector; anything else is (..., M, K).
    return 1 if b.ndim == 1 else 2


def _require_matrix(name, *xs):
    for x in xs:
        if x.ndim != 2:
            raise NotImplementedError(
                f"{name}: only 2-D matrices are supported (got {x.ndim}-D); "
                "scipy's batching rules differ between releases"
            )


# ---------------------------------------------------------------- norm


def _vector_norm(x, ord, axes):
    """numpy's vector norms, reduced over `axes` with keepdims=True."""
    absx = pt.abs(x)
    if ord is None or ord == 2:
        return pt.sqrt(pt.sum(x * x, axis=axes, keepdims=True))
    if isinstance(ord, str):
        raise ValueError(f"Invalid norm order '{ord}' for vectors")
    if ord == np.inf:
        return pt.max(absx, axis=axes, keepdims=True)
    if ord == -np.inf:
        return pt.min(absx, axis=axes, keepdims=True)
    if ord == 0:
        # A count: piecewise constant, so its gradient is zero almost everywhere.
        return pt.sum(pt.neq(x, 0), axis=axes, keepdims=True).astype(x.dtype)
    if ord == 1:
        return pt.sum(absx, axis=axes, keepdims=True)
    return pt.sum(absx**ord, axis=axes, keepdims=True) ** (1.0 / ord)


def _singular_value_norm(x, row, col, reduce):
    moved = pt.moveaxis(x, (row, col), (-2, -1))
    s = pt.linalg.svd(moved, full_matrices=False, compute_uv=False)
    return pt.expand_dims(reduce(s, axis=-1), tuple(sorted((row, col))))


def _matrix_norm(x, ord, row, col):
    """numpy's matrix norms over axes (row, col), with keepdims=True."""
    absx = pt.abs(x)
    if ord in (None, "fro", "f"):
        return pt.sqrt(pt.sum(x * x, axis=(row, col), keepdims=True))
    if ord == "nuc":
        return _singular_value_norm(x, row, col, pt.sum)
    if isinstance(ord, str):
        raise ValueError("Invalid norm order for matrices.")
    if ord == 2:
        return _singular_value_norm(x, row, col, pt.max)
    if ord == -2:
        return _singular_value_norm(x, row, col, pt.min)
    # 1 / -1: extreme column sum (sum over rows); inf / -inf: extreme row sum (sum over columns).
    if ord in (1, -1):
        sums, over = pt.sum(absx, axis=row, keepdims=True), col
    elif ord in (np.inf, -np.inf):
        sums, over = pt.sum(absx, axis=col, keepdims=True), row
    else:
        raise ValueError("Invalid norm order for matrices.")
    pick = pt.max if ord > 0 else pt.min
    return pick(sums, axis=over, keepdims=True)


def norm(x, ord=None, axis=None, keepdims=False):
    x = as_tensor(x)
    if axis is None and (
        ord is None or (ord in ("f", "fro") and x.ndim == 2) or (ord == 2 and x.ndim == 1)
    ):
        axes = tuple(range(x.ndim))
        out = pt.sqrt(pt.sum(x * x, axis=axes, keepdims=True))
    else:
        axes = normalize_axis(axis, x.ndim, none_means_all=True)
        if len(axes) == 1:
            out = _vector_norm(x, ord, axes)
        elif len(axes) == 2:
            if axes[0] == axes[1]:
                raise ValueError("Duplicate axes given.")
            out = _matrix_norm(x, ord, *axes)
        else:
            raise ValueError("Improper number of dimensions to norm.")
    return out if keepdims or not axes else pt.squeeze(out, axis=axes)


# ---------------------------------------------------------------- numpy.linalg


def solve(a, b):
    b = as_tensor(b)
    return raises_unless_finite(pt.linalg.solve(as_tensor(a), b, b_ndim=_b_ndim(b)))


def slogdet(a):
    """(sign, log|det|) from an LU factorisation.

    PyTensor's own slogdet is log(abs(det(a))), made stable only by a graph rewrite; without it
    (fast_compile) a 300x300 matrix already gives inf. LU keeps it finite whatever the mode.
    """
    lu, piv = pt.linalg.lu_factor(as_tensor(a))
    diag = pt.diagonal(lu, axis1=-2, axis2=-1)
    swaps = pt.sum(pt.neq(piv, pt.arange(piv.shape[-1])), axis=-1)
    parity = 1.0 - 2.0 * (swaps % 2)
    sign = zero_grad(parity * pt.prod(pt.sign(diag), axis=-1))
    return sign, pt.sum(pt.log(pt.abs(diag)), axis=-1)


def cholesky(a, upper=False):
    c = pt.linalg.cholesky(as_tensor(a), lower=True)
    # numpy reads the lower triangle in both cases; upper=True returns the transpose.
    return raises_unless_finite(_mT(c) if upper else c)


def _uplo(name, UPLO):
    if UPLO not in ("L", "U"):
        raise ValueError(f"{name}: UPLO argument must be 'L' or 'U'")
    return UPLO == "L"


def eigh(a, UPLO="L"):
    # driver "evd" is LAPACK syevd, the routine numpy uses: same eigenvector signs.
    w, v = pt.linalg.eigh(as_tensor(a), lower=_uplo("eigh", UPLO), driver="evd")
    return w, v


def eigvalsh(a, UPLO="L"):
    return pt.linalg.eigvalsh(as_tensor(a), lower=_uplo("eigvalsh", UPLO))


def _full_svd_pullback(inputs, outputs, output_grads):
    """Gradient of the full SVD, valid when the cost does not use the orthonormal complement.

    For M != N the last |M - N| columns of U (or rows of Vh) are an arbitrary complement chosen
    by LAPACK: no gradient exists for them. The first k = min(M, N) are the reduced SVD, whose
    gradient is PyTensor's (applied to these very outputs, so column signs agree). A cost that
    touches the complement gets a run-time error, never a silently wrong gradient; a square
    matrix has no complement.
    """
    (a,), (u, s, vh) = inputs, outputs
    du, ds, dvh = (
        pt.zeros_like(out) if isinstance(g.type, DisconnectedType) else g
        for out, g in zip(outputs, output_grads)
    )
    k = s.shape[0]
    unused = pt.and_(pt.all(pt.eq(du[:, k:], 0)), pt.all(pt.eq(dvh[k:, :], 0)))
    du = Assert(
        "numpy.linalg.svd(full_matrices=True): the cost uses the extra columns of U or rows "
        "of Vh, which have no gradient; use full_matrices=False"
    )(du, unused)
    reduced = pt.linalg.SVD(full_matrices=False, compute_uv=True)
    return reduced.pullback([a], [u[:, :k], s, vh[:k, :]], [du[:, :k], ds, dvh[:k, :]])


_SVD_OPS = {}


def _full_svd_op(dtype):
    if dtype not in _SVD_OPS:
        a = pt.matrix("a", dtype=dtype)
        outs = pt.linalg.svd(a, full_matrices=True, compute_uv=True)
        _SVD_OPS[dtype] = OpFromGraph([a], list(outs), pullback=_full_svd_pullback, name="FullSVD")
    return _SVD_OPS[dtype]


def svd(a, full_matrices=True, compute_uv=True, hermitian=False):
    a = as_tensor(a)
    if not compute_uv:
        # The singular values of a hermitian matrix are the same, whichever routine finds them.
        return pt.linalg.svd(a, full_matrices=False, compute_uv=False)
    if hermitian:
        raise NotImplementedError(
            "numpy.linalg.svd: hermitian=True with compute_uv=True (numpy then "
            "derives U and Vh from eigh, with its own sign convention) is not supported"
        )
    if not full_matrices:
        return tuple(pt.linalg.svd(a, full_matrices=False, compute_uv=True))
    if a.ndim != 2:
        # PyTensor's batched full SVD: right values; pytensor.grad raises NotImplementedError.
        return tuple(pt.linalg.svd(a, full_matrices=True, compute_uv=True))
    if not a.dtype.startswith("float"):
        a = a.astype("float64")
    return tuple(_full_svd_op(a.dtype)(a))


def pinv(a, rcond=None, hermitian=False, **kwargs):
    # PyTensor's pinv evaluates numpy.linalg.pinv with its default cut-off; another cut-off would
    # change which singular values count, which the pinv gradient formula cannot follow.
    refuse("numpy.linalg.pinv", rcond=(rcond, None))
    if kwargs:
        raise NotImplementedError(f"numpy.linalg.pinv: {sorted(kwargs)} not supported")
    return pt.linalg.pinv(as_tensor(a), hermitian=bool(hermitian))


def _qr_pullback(complete):
    """Reverse-mode rule of A = QR for the reduced factorisation of any shape.

    With k = min(M, N), split A = [X | Y] and R = [U | V] after k columns: X = QU is a square-R
    QR, and Y = QV. Then (writing sym-lower copy as copyltu, M^-T for a triangular solve):
        G = dQ + Y dV^T,   K = U dU^T - G^T Q,
        dX = (G + Q copyltu(K)) U^-T,   dY = Q dV.
    For M >= N, Y and V are empty and this is the usual tall-matrix formula. PyTensor's own QR
    gradient raises TypeError in 3.0.7 and 3.3.8 (its pullback calls a module), hence this.
    """

    def pullback(inputs, outputs, output_grads):
        (a,), (q, r) = inputs, outputs
        # An output the cost does not use arrives as DisconnectedType: it contributes nothing.
        dq, dr = (
            pt.zeros_like(out) if isinstance(g.type, DisconnectedType) else g
            for out, g in zip(outputs, output_grads)
        )
        if complete:
            # With M > N the last M - N columns of Q are an arbitrary orthonormal complement.
            # Checked before anything uses R, whose shape is then not the one assumed below.
            r = Assert(
                "numpy.linalg.qr(mode='complete') has no gradient for a matrix with more "
                "rows than columns; use mode='reduced'"
            )(r, pt.le(a.shape[0], a.shape[1]))
        k = pt.minimum(a.shape[0], a.shape[1])
        u, du, dv, y = r[:, :k], dr[:, :k], dr[:, k:], a[:, k:]
        g = dq + pt.dot(y, dv.T)
        kk = pt.dot(u, du.T) - pt.dot(g.T, q)
        copyltu = pt.tril(kk) + pt.tril(kk, -1).T
        dx = pt.linalg.solve_triangular(u, (g + pt.dot(q, copyltu)).T, lower=False, b_ndim=2).T
        return [pt.concatenate([dx, pt.dot(q, dv)], axis=1)]

    return pullback


_QR_OPS = {}


def _qr_op(dtype, complete):
    """QR as one PyTensor Op (values from PyTensor's QR) carrying the gradient above."""
    key = (dtype, complete)
    if key not in _QR_OPS:
        a = pt.matrix("a", dtype=dtype)
        q, r = pt.linalg.qr(a, mode="full" if complete else "economic")
        _QR_OPS[key] = OpFromGraph(
            [a], [q, r], pullback=_qr_pullback(complete), name="QRComplete" if complete else "QR"
        )
    return _QR_OPS[key]


def qr(a, mode="reduced"):
    a = as_tensor(a)
    if a.ndim != 2:
        raise NotImplementedError("numpy.linalg.qr: only 2-D matrices are supported, not stacks")
    if not a.dtype.startswith("float"):
        a = a.astype("float64")
    if mode == "raw":
        raise NotImplementedError(
            "numpy.linalg.qr: mode='raw' (Householder reflectors) is not supported"
        )
    if mode not in ("reduced", "complete", "r"):
        raise ValueError(f"Unrecognized mode '{mode}'")
    q, r = _qr_op(a.dtype, mode == "complete")(a)
    # numpy's mode "r" is the R of the reduced factorisation (min(M, N) rows).
    return r if mode == "r" else (q, r)


def lstsq(a, b, rcond=None):
    """(x, residuals, rank, s) of numpy.linalg.lstsq.

    x = pinv(a) @ b equals LAPACK gelsd's minimum-norm solution for a matrix of full rank, and
    pinv's gradient is the correct one while the rank does not change. residuals follow numpy's
    rule: the squared column norms of b - a x when rank == N < M, else an empty array; the
    emptiness is decided at run time because the shapes are not known when tracing.
    """
    a, b = as_tensor(a), as_tensor(b)
    _require_matrix("numpy.linalg.lstsq", a)
    if b.ndim not in (1, 2):
        raise ValueError("numpy.linalg.lstsq: b must be 1-D or 2-D")
    if rcond is not None and rcond != -1:
        raise NotImplementedError("numpy.linalg.lstsq: an explicit rcond cut-off is not supported")
    m, n = a.shape[0], a.shape[1]
    x = pt.dot(pt.linalg.pinv(a), b)
    s = pt.linalg.svd(a, full_matrices=False, compute_uv=False)
    cut = (_EPS if rcond == -1 else _EPS * pt.maximum(m, n)) * pt.max(s)
    rank = pt.sum(s > cut).astype("int32")
    resid = b - pt.dot(a, x)
    sq = pt.sum(resid * resid, axis=0)
    if b.ndim == 1:
        sq = sq[None]
    keep = pt.and_(pt.eq(rank, n), pt.gt(m, n))
    residuals = sq[: pt.switch(keep, sq.shape[0], 0)]
    return x, residuals, rank, s


def matrix_power(a, n):
    a = as_tensor(a)
    if not isinstance(n, (int, np.integer)):
        raise NotImplementedError(
            "numpy.linalg.matrix_power: the exponent must be a constant integer"
        )
    n = int(n)
    if n == 0:
        return pt.zeros_like(a) + pt.eye(a.shape[-1], dtype=a.dtype)
    if n < 0:
        a, n = pt.linalg.inv(a), -n
    # Binary powering with matmul (which broadcasts over stacks, unlike dot).
    result, square = None, a
    while True:
        if n & 1:
            result = square if result is None else pt.matmul(result, square)
        n >>= 1
        if not n:
            return result
        square = pt.matmul(square, square)


def multi_dot(arrays, *, out=None):
    refuse("numpy.linalg.multi_dot", out=(out, None))
    arrays = [as_tensor(x) for x in arrays]
    if len(arrays) < 2:
        raise ValueError("Expecting at least two arrays.")
    result = arrays[0]
    for x in arrays[1:]:
        result = pt.dot(result, x)
    return result


# ---------------------------------------------------------------- scipy.linalg


def solve_triangular(
    a, b, trans=0, lower=False, unit_diagonal=False, overwrite_b=False, check_finite=True
):
    a, b = as_tensor(a), as_tensor(b)
    _require_matrix("scipy.linalg.solve_triangular", a)
    return raises_unless_finite(
        pt.linalg.solve_triangular(
            a,
            b,
            trans=trans,
            lower=bool(lower),
            unit_diagonal=bool(unit_diagonal),
            b_ndim=_b_ndim(b),
        )
    )


def _triangle(c, lower):
    return pt.tril(c) if lower else pt.triu(c)


def _cho_factor_keeps_other_triangle():
    # scipy < 1.18 returns the untouched triangle of `a` beside the factor; 1.18 zeroes it.
    # Measured once so that the symbolic value equals the concrete one on either release.
    c, _ = sla.cho_factor(np.array([[4.0, 2.0], [2.0, 3.0]]), lower=False)
    return bool(c[1, 0] != 0)


_CHO_FACTOR_KEEPS = _cho_factor_keeps_other_triangle()


def cho_factor(a, lower=False, overwrite_a=False, check_finite=True):
    a = as_tensor(a)
    _require_matrix("scipy.linalg.cho_factor", a)
    factor = pt.linalg.cholesky(a, lower=True)
    if not lower:
        factor = factor.T
    if _CHO_FACTOR_KEEPS:
        # The other triangle is a's own entries: it carries them (and their gradient) unchanged.
        factor = factor + (pt.triu(a, 1) if lower else pt.tril(a, -1))
    return raises_unless_finite(factor), bool(lower)


def cho_solve(c_and_lower, b, overwrite_b=False, check_finite=True):
    c, lower = c_and_lower
    c, b = as_tensor(c), as_tensor(b)
    _require_matrix("scipy.linalg.cho_solve", c)
    # Only the factor's triangle is read; masking gives the other (stale) triangle zero gradient.
    return pt.linalg.cho_solve((_triangle(c, lower), bool(lower)), b, b_ndim=_b_ndim(b))


def scipy_cholesky(a, lower=False, overwrite_a=False, check_finite=True):
    a = as_tensor(a)
    _require_matrix("scipy.linalg.cholesky", a)
    return raises_unless_finite(pt.linalg.cholesky(a, lower=bool(lower)))


_ASSUME_A = {
    None: "gen",
    "gen": "gen",
    "general": "gen",
    "sym": "sym",
    "symmetric": "sym",
    "pos": "pos",
    "positive definite": "pos",
}


def scipy_solve(
    a,
    b,
    lower=False,
    overwrite_a=False,
    overwrite_b=False,
    check_finite=True,
    assume_a=None,
    transposed=False,
):
    a, b = as_tensor(a), as_tensor(b)
    _require_matrix("scipy.linalg.solve", a)
    if assume_a not in _ASSUME_A:
        raise NotImplementedError(f"scipy.linalg.solve: assume_a={assume_a!r} is not supported")
    return raises_unless_finite(
        pt.linalg.solve(
            a,
            b,
            lower=bool(lower),
            assume_a=_ASSUME_A[assume_a],
            transposed=bool(transposed),
            b_ndim=_b_ndim(b),
        )
    )


def scipy_inv(a, overwrite_a=False, check_finite=True):
    a = as_tensor(a)
    _require_matrix("scipy.linalg.inv", a)
    return raises_unless_finite(pt.linalg.inv(a))


def scipy_det(a, overwrite_a=False, check_finite=True):
    a = as_tensor(a)
    _require_matrix("scipy.linalg.det", a)
    return pt.linalg.det(a)


def expm(A):
    A = as_tensor(A)
    _require_matrix("scipy.linalg.expm", A)
    return pt.linalg.expm(A)


def solve_sylvester(a, b, q):
    # A X + X B = Q
    a, b, q = as_tensor(a), as_tensor(b), as_tensor(q)
    _require_matrix("scipy.linalg.solve_sylvester", a, b, q)
    return pt.linalg.solve_sylvester(a, b, q)


def _banded_to_dense(lower, upper, ab):
    """The (M, M) matrix whose diagonals scipy's banded storage holds: A[i, j] = ab[u + i - j, j].
    Entries of ab outside the band are not read (their gradient is 0, as scipy ignores them)."""
    n = ab.shape[1]
    dense = pt.diag(ab[upper])
    for k in range(1, upper + 1):
        dense = dense + pt.diag(ab[upper - k, k:], k)
    for k in range(1, lower + 1):
        dense = dense + pt.diag(ab[upper + k, : n - k], -k)
    return dense


def solve_banded(l_and_u, ab, b, overwrite_ab=False, overwrite_b=False, check_finite=True):
    lower, upper = (int(v) for v in l_and_u)
    ab, b = as_tensor(ab), as_tensor(b)
    _require_matrix("scipy.linalg.solve_banded", ab)
    return pt.linalg.solve(_banded_to_dense(lower, upper, ab), b, b_ndim=_b_ndim(b))


FUNCTIONS = {
    np.linalg.norm: norm,
    np.linalg.solve: solve,
    np.linalg.inv: lambda a: raises_unless_finite(pt.linalg.inv(as_tensor(a))),
    np.linalg.det: lambda a: pt.linalg.det(as_tensor(a)),
    np.linalg.slogdet: slogdet,
    np.linalg.cholesky: cholesky,
    np.linalg.eigh: eigh,
    np.linalg.eigvalsh: eigvalsh,
    np.linalg.svd: svd,
    np.linalg.pinv: pinv,
    np.linalg.qr: qr,
    np.linalg.lstsq: lstsq,
    np.linalg.matrix_power: matrix_power,
    np.linalg.multi_dot: multi_dot,
    sla.solve_triangular: solve_triangular,
    sla.cho_factor: cho_factor,
    sla.cho_solve: cho_solve,
    sla.expm: expm,
    sla.cholesky: scipy_cholesky,
    sla.solve: scipy_solve,
    sla.inv: scipy_inv,
    sla.det: scipy_det,
    sla.solve_sylvester: solve_sylvester,
    sla.solve_banded: solve_banded,
}
