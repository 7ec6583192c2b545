"""The operator module's functions called directly mean the expression they name.

Each case compiles a loss that calls them on traced values and checks its value against numpy and
its gradient against central finite differences (tests/helpers.py).
"""

import functools
import operator

import numpy as np
import pytest

import skautodiff
from helpers import check

W = np.array([0.7, -1.3, 0.4])
M = np.array([[0.5, 1.5, -0.2], [0.3, -0.8, 1.1], [1.0, 0.2, 0.4]])


@pytest.mark.parametrize(
    "loss",
    [
        lambda w: np.sum(operator.add(w, w * 2.0)),
        lambda w: np.sum(operator.sub(1.0, w)),
        lambda w: np.sum(operator.mul(w, w)),
        lambda w: np.sum(operator.truediv(w, 3.0 + w * w)),
        lambda w: np.sum(operator.pow(w, 2) + operator.pow(2.0, w)),
        lambda w: np.sum(operator.neg(w)) + np.sum(operator.pos(w) ** 3),
        lambda w: operator.matmul(w, M @ w),
        lambda w: np.sum(operator.abs(w)),
        lambda w: operator.getitem(w, 1) * operator.getitem(w, slice(0, 2)).sum(),
        lambda w: np.sum(functools.reduce(operator.mul, [w, w, w])),
        lambda w: functools.reduce(operator.add, w),  # over the elements of a traced array
        lambda w: np.sum(np.where(operator.gt(w, 0.0), w, operator.mul(w, w))),
        lambda w: np.sum(operator.iadd(np.zeros(3), w) * w),
        lambda w: np.sum(operator.mod(w, 0.9)) + np.sum(operator.floordiv(w * 10.0, 3.0)),
    ],
    ids=lambda f: "",
)
def test_operator_functions_match_their_expressions(loss):
    check(loss, W)


def test_in_place_operator_function_updates_the_array_it_is_given():
    def loss(w):
        acc = np.ones(3)
        operator.imul(acc, w)  # acc *= w
        return np.sum(acc * acc)

    check(loss, W)


def test_operator_function_on_plain_numbers_stays_plain():
    def loss(w):
        n = operator.add(2, 3)  # untraced: Python's own result
        return np.sum(w) * n

    assert skautodiff.Function(loss)(W) == pytest.approx(np.sum(W) * 5)
