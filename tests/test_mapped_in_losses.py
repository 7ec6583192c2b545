"""Newly mapped functions inside whole losses, through the engine: compiled value equals numpy's
and the gradient equals central finite differences (tests/helpers.py). The rules themselves are
checked case by case in test_symbolic_numpy.py and test_symbolic_scipy.py."""

import numpy as np
import pytest
import scipy.linalg as sla
import scipy.signal
import scipy.spatial.distance as ssd
import scipy.special as sc
import scipy.stats as st

import skautodiff

from helpers import check

RNG = np.random.default_rng(3)
X = RNG.normal(size=(5, 2))
Y = RNG.normal(size=5)


def rbf_marginal_likelihood(log_ell, X, y):
    # a Gaussian process's negative log marginal likelihood with an RBF kernel from cdist
    K = np.exp(-0.5 * ssd.cdist(X, X, "sqeuclidean") / np.exp(2 * log_ell[0])) + 0.1 * np.eye(
        len(y)
    )
    return 0.5 * y @ np.linalg.solve(K, y) + 0.5 * np.linalg.slogdet(K)[1]


def test_cdist_kernel_in_a_gaussian_process_likelihood():
    check(rbf_marginal_likelihood, np.array([0.2]), X, Y)


def test_pdist_on_traced_points_including_coinciding_ones():
    def spread(points):
        return np.sum(ssd.pdist(points.reshape(-1, 2)))

    check(spread, np.array([0.1, 0.2, 0.1, 0.2, -1.0, 0.5, 0.3, 0.9]))


def test_stats_pdf_cdf_and_special_functions_in_a_loss():
    def loss(w):
        return (
            np.sum(np.log(st.norm.pdf(Y, w[0], np.exp(w[1]))))
            + np.sum(st.t.cdf(Y, 3.0 + w[1] ** 2))
            + np.sum(st.poisson.cdf(np.array([0, 2, 5]), np.exp(w[0])))
            + np.sum(sc.j0(w))
            + sc.gammainc(2.0, w[1] ** 2)
        )

    check(loss, np.array([0.3, -0.4]))


def test_stacking_one_array_rotating_and_selecting():
    def loss(w):
        m = w.reshape(2, 3)
        stacked = np.hstack(m) + np.vstack(m).ravel() + np.column_stack(m).T.ravel()
        chosen = np.select(
            [stacked > 0.5, stacked < -0.5], [stacked**2, -stacked], default=0.25 * stacked
        )
        return (
            np.sum(np.rot90(m) ** 2 * np.arange(6.0).reshape(3, 2))
            + np.sum(chosen)
            + np.sum(np.real(w) * np.gradient(w))
        )

    check(loss, np.array([0.9, -0.2, 0.4, -1.1, 0.3, 0.7]))


def test_convolution_and_banded_and_sylvester_solves():
    # scipy.signal's rules are loaded when scipy.signal.convolve is first looked up
    ab = np.array([[0.0, 0.4, -0.3, 0.2], [3.0, 3.5, 2.8, 3.1], [0.1, -0.2, 0.3, 0.0]])

    def loss(w):
        smooth = scipy.signal.convolve(w, np.array([0.25, 0.5, 0.25]), mode="same")
        banded = sla.solve_banded((1, 1), ab * (1.0 + 0.1 * w[0]), w)
        sylvester = sla.solve_sylvester(np.diag(w) + 3.0 * np.eye(4), np.eye(4), np.outer(w, w))
        return np.sum(smooth**2) + np.sum(np.convolve(w, w)) + banded @ w + np.sum(sylvester)

    check(loss, np.array([0.3, -0.7, 1.1, 0.4]))


@pytest.mark.parametrize(
    "loss",
    [
        lambda w: np.sum(np.r_[w, 2.0, w[:2]] ** 2),
        lambda w: np.sum((np.c_[w, w**2, np.ones(3)] @ np.array([1.0, 2.0, 3.0])) ** 2),
        lambda w: np.sum(np.r_[w.reshape(1, 3), np.ones((2, 3))] ** 3),
        lambda w: np.sum(np.c_[w.reshape(3, 1), 2.0 * w.reshape(3, 1), np.zeros((3, 1))] ** 2),
    ],
    ids=["r_-vectors-and-numbers", "c_-columns", "r_-matrices", "c_-matrices"],
)
def test_r_and_c_of_traced_arrays(loss):
    check(loss, np.array([0.3, -1.2, 0.5]))


def test_r_with_a_slice_is_refused_with_the_alternative():
    with pytest.raises(skautodiff.TraceError, match=r"np.r_\[...\]: slices .*np.arange"):
        skautodiff.Function(lambda w: np.sum(np.r_[w, 0:3]))(np.ones(3))
