"""scipy.sparse data matrices: traced without densifying, gradients to the dense parameters."""

import numpy as np
import pytest
import scipy.sparse as sp

import skautodiff
from helpers import finite_difference

rng = np.random.default_rng(3)


def random_sparse(n, d, nnz, fmt="csr"):
    rows, cols = rng.integers(0, n, nnz), rng.integers(0, d, nnz)
    return sp.coo_matrix((rng.normal(size=nnz), (rows, cols)), shape=(n, d)).asformat(fmt)


def logistic(w, X, y, alpha=1e-2):
    z = X @ w
    return np.mean(np.logaddexp(0, -y * z)) + alpha * np.sum(w**2)


def operations(w, X):
    return (
        np.sum(X.multiply(w).sum(axis=0))
        + np.sum(X[2:5] @ w)
        + np.sum(X[np.array([0, 3])] @ w)
        + np.sum(np.asarray(X.sum(axis=1)).ravel() * 2.0)
        + np.sum(X.T.dot(np.ones(X.shape[0])) * w)
        + np.sum(np.tanh(X.toarray() @ w))
    )


@pytest.mark.parametrize("fmt", ["csr", "csc"])
@pytest.mark.parametrize("fn", [logistic, operations])
def test_sparse_values_and_gradients(fmt, fn):
    X = random_sparse(40, 7, 90, fmt)
    y = np.sign(rng.normal(size=40))
    w = rng.normal(size=7)
    args = (w, X, y) if fn is logistic else (w, X)
    assert skautodiff.Function(fn)(*args) == pytest.approx(fn(*args), rel=1e-12)
    grad = skautodiff.Gradient(fn, wrt="w")(*args)
    np.testing.assert_allclose(grad, finite_difference(fn, args, 0), rtol=1e-5, atol=1e-7)


def test_sparse_arrays_multiply_elementwise():
    X = sp.csr_array(random_sparse(10, 4, 15))
    w = rng.normal(size=4)

    def f(w, X):
        return np.sum((X * X) @ w)  # sparse *array*: `*` is elementwise

    assert skautodiff.Function(f)(w, X) == pytest.approx(f(w, X))


def test_sparse_fit_matches_dense_fit():
    X = random_sparse(200, 12, 500)
    y = np.sign(X @ rng.normal(size=12) + 0.1 * rng.normal(size=200))
    sparse_fit = skautodiff.minimize(logistic, np.zeros(12), args=(X, y)).x
    dense_fit = skautodiff.minimize(logistic, np.zeros(12), args=(X.toarray(), y)).x
    np.testing.assert_allclose(sparse_fit, dense_fit, rtol=1e-5, atol=1e-7)


def test_differentiating_a_sparse_matrix_is_refused():
    X = random_sparse(5, 3, 6)
    with pytest.raises(TypeError, match="sparse matrix"):
        skautodiff.Gradient(lambda X: X.sum(), wrt=0)(X)


def test_unsupported_sparse_attribute_names_alternatives():
    X = random_sparse(5, 3, 6)
    with pytest.raises(skautodiff.TraceError, match="supported: .*multiply"):
        skautodiff.Function(lambda w, X: np.sum(X.power(2) @ w))(np.ones(3), X)
