"""Wrong numbers the compiled graph used to give, each checked against plain numpy and finite
differences: scatter-like writes with repeated, unsorted and negative indices (numpy: ufunc.at
accumulates, `a[idx] = v` and `a[idx] += v` apply each position once, the last write wins), arrays
written in place after the graph captured them, std/var over length-1 axes, and gradients in
their argument's dtype."""

import numpy as np
import pytest

import skautodiff
from helpers import check, finite_difference

W3 = np.array([1.0, 2.0, 3.0])
W4 = np.array([0.5, -1.5, 2.0, 0.7])
M = np.arange(12.0).reshape(3, 4) / 5 - 1.03
WEIGHTS = np.arange(1.0, 13.0)  # weights make every position's gradient distinct


def weighted(a):
    return np.sum(a**2 * WEIGHTS[: a.size].reshape(a.shape))


# ---------------------------------------------------------------- ufunc.at: accumulates
def add_at_issue(w, idx):
    acc = np.zeros(5)
    np.add.at(acc, idx, w)
    return np.sum(acc**2)


def add_at_unsorted_negative(w, idx):
    acc = np.arange(5.0)
    np.add.at(acc, idx, w)
    return weighted(acc)


def add_at_traced_target(w):
    acc = w * 2
    np.add.at(acc, [1, 1, -1, 0], w)
    return np.sum(acc**3)


def add_at_2d_pairs(w):
    acc = np.zeros((3, 3))
    np.add.at(acc, ([0, 0, 2, -1], [1, 1, 0, 0]), w)
    return weighted(acc)


def add_at_rows(w):
    acc = np.zeros((3, 2))
    np.add.at(acc, [0, 0, 2], w)
    return weighted(acc)


def add_at_slice(w):
    acc = np.ones(5)
    np.add.at(acc, slice(1, 4), w)
    return weighted(acc)


def subtract_at(w):
    acc = np.arange(4.0)
    np.subtract.at(acc, [3, 3, 0, -1], w)
    return weighted(acc)


def multiply_at(w):
    acc = np.arange(1.0, 5.0)
    np.multiply.at(acc, [1, 1, 0, -3], w)
    return weighted(acc)


def maximum_at(w):
    acc = np.zeros(3)
    np.maximum.at(acc, [1, 1, 0, -2], w)
    return weighted(acc)


def minimum_at(w):
    acc = np.zeros(3)
    np.minimum.at(acc, [2, 1, 2, -1], w)
    return weighted(acc)


# ---------------------------------------------------------------- assignment: applied once
def iadd_repeated(w):
    acc = np.zeros(5)
    acc[[0, 0, 2]] += w
    return weighted(acc)


def iadd_repeated_traced_target(w):
    acc = np.concatenate([w, w])
    acc[[0, 0, -1]] += w**2
    return weighted(acc)


def iadd_traced_indices(w, idx):
    acc = np.zeros(4)
    acc[idx] += w
    return weighted(acc)


def isub_repeated(w):
    acc = np.ones(4)
    acc[[3, 1, 3]] -= w
    return weighted(acc)


def imul_repeated(w):
    acc = np.arange(1.0, 5.0)
    acc[[3, 1, 3]] *= w
    return weighted(acc)


def set_repeated(w):
    acc = np.zeros(4)
    acc[[3, 1, 3]] = w
    return weighted(acc)


def set_repeated_traced_target(w):
    acc = np.concatenate([w, w])
    acc[[3, 1, 3]] = w**3
    return weighted(acc)


def set_traced_indices(w, idx):
    acc = np.zeros(4)
    acc[idx] = w
    return weighted(acc)


def set_negative_alias(w):
    acc = np.ones(3)
    acc[[-1, 2, 0]] += w**2
    return np.sum(acc**3 * np.arange(1, 4))


def set_2d_pairs(w):
    acc = np.zeros((3, 3))
    acc[[0, 2, 0, 0], [1, 1, 1, -1]] = w
    return weighted(acc)


def iadd_2d_pairs(w):
    acc = np.zeros((3, 3))
    acc[[0, 2, 0, 0], [1, 1, 1, -2]] += w
    return weighted(acc)


def iadd_rows(w):
    acc = np.zeros((3, 2))
    acc[[0, 0, 2]] += w
    return weighted(acc)


def set_columns(w):
    acc = np.zeros((3, 4))
    acc[:, [0, 0, 3]] = w[:, :3] ** 2
    return weighted(acc)


def iadd_rows_and_slice(w):
    acc = w.copy()
    acc[[0, 0, -1], 1:] += w[:, :3]
    return weighted(acc)


def set_2d_index_array(w):
    acc = np.ones(3)
    acc[np.array([[0, 2], [0, -3]])] = w.reshape(2, 2)
    return weighted(acc)


def set_scalar_and_array(w):
    acc = w * 1
    acc[1, [2, 2, 0]] = w[0, :3]
    return weighted(acc)


def set_broadcast_scalar(w):
    acc = w * 3
    acc[[1, 1]] = 2.0
    return np.sum(acc**2)


def iadd_empty_indices(w, idx):
    acc = w * 1
    acc[idx] += 5.0
    return np.sum(acc**2)


def set_mask(w):
    acc = np.zeros(4)
    acc[w > 0.6] = w[w > 0.6] * 2
    return weighted(acc)


def iadd_mask(w):
    acc = w.copy()
    acc[w > 0.6] += 1.0 * w[w > 0.6]
    return weighted(acc)


def iadd_concrete_mask(w):
    acc = np.zeros(4)
    acc[np.array([True, False, True, True])] += w[:3]
    return weighted(acc)


def set_mask_2d(w):
    acc = w.copy()
    acc[w > 0] = w[w > 0] ** 2
    return weighted(acc)


# ---------------------------------------------------------------- arrays written after capture
def write_after_use(w):
    a = np.arange(3.0)
    y = w * a  # the graph holds a's values at this point
    a[0] = 100.0
    return np.sum(y * a)


def write_after_gather(w, idx):
    a = np.arange(3.0)
    y = a[idx]
    a[0] = 100.0
    return np.sum(y * w[:2])


CASES = [
    (add_at_issue, (W3, np.array([0, 0, 2]))),
    (add_at_unsorted_negative, (W4, np.array([2, 0, -3, 2]))),
    (add_at_traced_target, (W4,)),
    (add_at_2d_pairs, (W4,)),
    (add_at_rows, (np.arange(6.0).reshape(3, 2) / 3,)),
    (add_at_slice, (W3,)),
    (subtract_at, (W4,)),
    (multiply_at, (W4,)),
    (maximum_at, (W4,)),
    (minimum_at, (W4,)),
    (iadd_repeated, (W3,)),
    (iadd_repeated_traced_target, (W3,)),
    (iadd_traced_indices, (W3, np.array([1, 1, -1]))),
    (isub_repeated, (W3,)),
    (imul_repeated, (W3,)),
    (set_repeated, (W3,)),
    (set_repeated_traced_target, (W3,)),
    (set_traced_indices, (W3, np.array([2, 0, -2]))),
    (set_negative_alias, (W3,)),
    (set_2d_pairs, (W4,)),
    (iadd_2d_pairs, (W4,)),
    (iadd_rows, (np.arange(6.0).reshape(3, 2) / 3,)),
    (set_columns, (M,)),
    (iadd_rows_and_slice, (M,)),
    (set_2d_index_array, (W4,)),
    (set_scalar_and_array, (M,)),
    (set_broadcast_scalar, (W3,)),
    (iadd_empty_indices, (W3, np.array([], dtype=int))),
    (set_mask, (W4,)),
    (iadd_mask, (W4,)),
    (iadd_concrete_mask, (W4,)),
    (set_mask_2d, (M,)),
    (write_after_use, (W3,)),
    (write_after_gather, (W3, np.array([0, 2]))),
]


@pytest.mark.parametrize("fn, args", CASES, ids=[fn.__name__ for fn, _ in CASES])
def test_scatter_matches_numpy_and_finite_differences(fn, args):
    check(fn, *args)


def test_repeated_traced_indices_follow_the_new_indices():
    """The indices are an input: one compiled function serves other repeat patterns."""
    f = skautodiff.value_and_grad(set_traced_indices, wrt="w")
    for idx in ([2, 0, -2], [1, 1, 1], [3, 0, 1], [-1, 3, 0]):
        idx = np.array(idx)
        value, grad = f(W3, idx)
        np.testing.assert_allclose(value, set_traced_indices(W3, idx), rtol=1e-12)
        np.testing.assert_allclose(
            grad, finite_difference(set_traced_indices, (W3, idx), 0), atol=1e-6
        )


@pytest.mark.cbackend
def test_add_at_issue_example_on_the_c_backend():
    value, grad = skautodiff.value_and_grad(add_at_issue, wrt="w")(W3, np.array([0, 0, 2]))
    assert value == 18.0  # acc = [3, 0, 3]
    np.testing.assert_allclose(grad, [6.0, 6.0, 6.0])
    np.testing.assert_allclose(
        grad, finite_difference(add_at_issue, (W3, np.array([0, 0, 2])), 0), atol=1e-6
    )


@pytest.mark.cbackend
def test_repeated_assignment_on_the_c_backend():
    check(iadd_2d_pairs, W4)


# ---------------------------------------------------------------- std and var over length-1 axes
X1 = np.array([[-1.07, 1.05, -0.40]])
W_ROW = np.array([[5.0, 7.0, 9.0]])


def _reduction(name, axis, keepdims, ddof):
    reduce_ = getattr(np, name)

    def f(x, w):
        r = reduce_(x, axis=axis, keepdims=keepdims, ddof=ddof)
        return np.sum(r * (w if keepdims else w[0] if axis == 0 else 1.0))

    return f


@pytest.mark.parametrize("name", ["std", "var"])
@pytest.mark.parametrize("axis", [0, 1, None])
@pytest.mark.parametrize("keepdims", [True, False])
def test_std_var_with_length_1_axes(name, axis, keepdims):
    """Over the length-1 axis both are identically 0: the gradient is exactly 0 (it was [[2, 2, 2]]
    with keepdims=True); over the others they match numpy and finite differences."""
    check(_reduction(name, axis, keepdims, 0), X1, W_ROW)


@pytest.mark.parametrize("name", ["std", "var"])
@pytest.mark.parametrize("keepdims", [True, False])
def test_std_var_ddof_as_numpy(name, keepdims):
    f = _reduction(name, 1, keepdims, 1)  # ddof=1 over 3 values
    check(f, X1, W_ROW)
    g = _reduction(name, 0, keepdims, 1)  # ddof=1 over 1 value: 0/0, NaN in numpy
    with np.errstate(all="ignore"), pytest.warns(RuntimeWarning):
        assert np.isnan(g(X1, W_ROW))
    assert np.isnan(skautodiff.Function(g)(X1, W_ROW))  # pytensor 3.3's rewrites made it 0.0
    h = lambda x: getattr(np, name)(x, ddof=4)  # ddof > count: numpy gives inf
    with np.errstate(all="ignore"), pytest.warns(RuntimeWarning):
        assert h(X1) == np.inf
    assert skautodiff.Function(h)(X1) == np.inf


@pytest.mark.parametrize("name", ["std", "var"])
def test_std_var_of_a_1x1_array(name):
    reduce_ = getattr(np, name)
    for f in (
        lambda x: 3 * reduce_(x),
        lambda x: 3 * np.sum(reduce_(x, axis=(0, 1), keepdims=True)),
    ):
        value, grad = skautodiff.value_and_grad(f, wrt="x")(np.array([[0.3]]))
        assert value == 0.0 and grad.tolist() == [[0.0]]


def test_std_at_zero_spread_has_gradient_zero_whatever_keepdims():
    """Equal values: std is not differentiable there (like |x| at 0); 0 is a subgradient, and the
    answer no longer depends on keepdims or static shapes (it was NaN)."""
    x = np.array([[2.0, 2.0, 2.0]])
    for keepdims in (True, False):
        value, grad = skautodiff.value_and_grad(
            lambda x, keepdims=keepdims: 3 * np.sum(np.std(x, axis=1, keepdims=keepdims)), wrt="x"
        )(x)
        assert value == 0.0 and grad.tolist() == [[0.0, 0.0, 0.0]]


@pytest.mark.cbackend
def test_std_issue_example_on_the_c_backend():
    f = _reduction("std", 0, True, 0)
    value, grad = skautodiff.value_and_grad(f, wrt="x")(X1, W_ROW)
    assert value == 0.0 and grad.tolist() == [[0.0, 0.0, 0.0]]


# ---------------------------------------------------------------- gradients in the argument's dtype
def upcast_inside(x):
    return np.sum(np.sin(x.astype(np.float64)))


@pytest.mark.parametrize("dtype", [np.float32, np.float16])
def test_gradient_in_the_arguments_dtype(dtype):
    x = np.array([0.3, -1.2, 2.0], dtype=dtype)
    expected = np.cos(x.astype(np.float64))
    rtol = 1e-6 if dtype == np.float32 else 1e-3
    for grad in (
        skautodiff.Gradient(upcast_inside, wrt="x")(x),
        skautodiff.value_and_grad(upcast_inside, wrt="x")(x)[1],
    ):
        assert grad.dtype == dtype
        np.testing.assert_allclose(grad, expected, rtol=rtol)
    hv = skautodiff.HessianVector(upcast_inside, wrt="x")(x, vectors=np.ones(3, dtype=dtype))
    assert hv.dtype == dtype
    np.testing.assert_allclose(hv, -np.sin(x.astype(np.float64)), rtol=rtol)


def test_pytree_gradients_keep_each_leafs_dtype():
    def loss(p, y):
        return (
            np.sum((p["w"].astype(np.float64) * y) ** 2) + p["b"] * np.sum(y) + np.sum(p["v"] ** 2)
        )

    params = {
        "w": np.array([0.5, -1.0, 2.0], dtype=np.float32),
        "b": np.float32(1.5),
        "v": np.array([1.0, 2.0]),
    }
    y = np.array([1.0, 2.0, 3.0])
    grad = skautodiff.Gradient(loss, wrt="p")(params, y)
    assert (
        grad["w"].dtype == np.float32
        and type(grad["b"]) is np.float32
        and grad["v"].dtype == np.float64
    )
    np.testing.assert_allclose(grad["w"], 2 * params["w"].astype(np.float64) * y**2, rtol=1e-6)
    np.testing.assert_allclose(grad["b"], np.sum(y), rtol=1e-6)
    np.testing.assert_allclose(grad["v"], 2 * params["v"])
