"""What skautodiff's compile mode does to PyTensor graphs: numpy ufuncs for transcendental
functions (skautodiff/numpy_ops.py), rewrites left out (skautodiff/compile.py), buffers kept
between calls. Values are checked against numpy, gradients against finite differences."""

import numpy as np
import pytensor
import pytensor.tensor as pt
import pytest

import skautodiff
from helpers import check, finite_difference
from skautodiff import compile as compile_module
from skautodiff.compile import mode
from skautodiff.numpy_ops import FASTER_IN_NUMPY, NumpyProduct, NumpyUfunc

# (numpy function, a valid input range)
UNARY = [
    (np.tanh, (-5, 5)),
    (np.exp, (-5, 5)),
    (np.expm1, (-5, 5)),
    (np.exp2, (-5, 5)),
    (np.log, (0.1, 5)),
    (np.log1p, (-0.5, 5)),
    (np.log2, (0.1, 5)),
    (np.log10, (0.1, 5)),
    (np.sinh, (-3, 3)),
    (np.cosh, (-3, 3)),
    (np.arcsinh, (-3, 3)),
    (np.arccosh, (1.1, 4)),
    (np.arctanh, (-0.9, 0.9)),
    (np.tan, (-1.2, 1.2)),
    (np.arcsin, (-0.9, 0.9)),
    (np.arccos, (-0.9, 0.9)),
    (np.arctan, (-3, 3)),
]


def compiled(inputs, outputs):
    return pytensor.function(inputs, outputs, mode=mode())


def numpy_nodes(fn):
    return [node.op.name for node in fn.maker.fgraph.toposort() if isinstance(node.op, NumpyUfunc)]


def test_table_covers_the_checked_functions():
    assert sorted(u.__name__ for u in FASTER_IN_NUMPY.values()) == sorted(
        f.__name__ for f, _ in UNARY
    )


@pytest.mark.parametrize("dtype", ["float64", "float32"])
@pytest.mark.parametrize("ufunc, bounds", UNARY, ids=[f.__name__ for f, _ in UNARY])
def test_numpy_ufunc_values_and_gradients(ufunc, bounds, dtype):
    x = pt.matrix(dtype=dtype)
    f = compiled(
        [x],
        [getattr(pt, ufunc.__name__)(x), pytensor.grad(getattr(pt, ufunc.__name__)(x).sum(), x)],
    )
    assert ufunc.__name__ in numpy_nodes(f)
    a = np.random.default_rng(0).uniform(*bounds, size=(4, 3)).astype(dtype)
    value, grad = f(a)
    assert value.dtype == dtype and value.shape == a.shape
    rtol = 1e-6 if dtype == "float32" else 1e-14
    np.testing.assert_allclose(value, ufunc(a), rtol=rtol)
    fd = finite_difference(lambda v: float(np.sum(ufunc(v))), [a.astype(np.float64)], 0)
    np.testing.assert_allclose(grad, fd, rtol=1e-3 if dtype == "float32" else 1e-6, atol=1e-6)


@pytest.mark.parametrize("name", ["sin", "cos"])
def test_sin_and_cos_use_numpy_in_float32_only(name):
    fns = {
        dtype: compiled([v := pt.vector(dtype=dtype)], getattr(pt, name)(v))
        for dtype in ("float32", "float64")
    }
    assert numpy_nodes(fns["float32"]) == [name] and numpy_nodes(fns["float64"]) == []
    a = np.linspace(-4, 4, 9, dtype="float32")
    np.testing.assert_allclose(fns["float32"](a), getattr(np, name)(a), rtol=1e-6, atol=1e-7)


def test_integer_inputs_stay_with_pytensor():
    # numpy's exp of int8 is float16, PyTensor's float32: not replaced
    x = pt.vector(dtype="int8")
    f = compiled([x], pt.exp(x))
    assert numpy_nodes(f) == []
    np.testing.assert_allclose(f(np.array([1, 2], dtype="int8")), np.exp([1.0, 2.0]), rtol=1e-6)


def test_zero_dimensional_and_empty_inputs():
    x = pt.scalar()
    f = compiled([x], pt.tanh(x) * 2)
    assert np.asarray(f(0.5)).shape == () and np.isclose(f(0.5), 2 * np.tanh(0.5))
    v = pt.vector()
    g = compiled([v], pt.exp(v))
    assert g(np.zeros(0)).shape == (0,)


def test_buffers_kept_between_calls_do_not_leak_into_results():
    # the compiled function reuses its output buffers; results already returned must not change
    f = skautodiff.Function(lambda x: (np.tanh(x), np.exp(x).sum()))
    first = f(np.ones(4))
    second = f(np.zeros(4))
    np.testing.assert_allclose(first[0], np.tanh(np.ones(4)))
    np.testing.assert_allclose(second[0], np.zeros(4))
    third = f(np.ones(7))  # another length: new buffers
    np.testing.assert_allclose(third[0], np.tanh(np.ones(7)))


@pytest.mark.parametrize(
    "x", [np.linspace(-800, 800, 4001), np.array([-np.inf, np.inf, 0.0, np.nan])]
)
def test_softplus_matches_numpy_everywhere(x):
    v = pt.vector()
    f = compiled([v], pt.softplus(v))
    assert sorted(numpy_nodes(f)) == ["exp", "log1p"]
    with np.errstate(all="ignore"):
        np.testing.assert_allclose(f(x), np.logaddexp(0, x), rtol=1e-15, atol=0)


def test_logaddexp_loss_on_the_c_backend_matches_finite_differences():
    def loss(w, X, y):
        return np.mean(np.logaddexp(0.0, -y * (X @ w))) + np.tanh(w).sum()

    rng = np.random.default_rng(1)
    X, y, w = rng.normal(size=(30, 4)), np.sign(rng.normal(size=30)), rng.normal(size=4)
    check(loss, w, X, y)


cbackend = pytest.mark.cbackend


@cbackend
def test_c_backend_logistic_and_mlp_gradients():
    def mlp(params, X, Y):
        H = np.tanh(X @ params["W1"] + params["b1"])
        z = H @ params["W2"]
        m = np.max(z, axis=1, keepdims=True)
        lse = m + np.log(np.sum(np.exp(z - m), axis=1, keepdims=True))
        return np.mean(lse) - np.sum(Y * z) / X.shape[0]

    rng = np.random.default_rng(2)
    X, Y = rng.normal(size=(20, 3)), np.eye(4)[rng.integers(0, 4, 20)]
    params = {
        "W1": rng.normal(size=(3, 5)),
        "b1": rng.normal(size=5),
        "W2": rng.normal(size=(5, 4)),
    }
    value, grad = skautodiff.value_and_grad(mlp, wrt="params")(params, X, Y)
    assert np.isclose(value, mlp(params, X, Y), rtol=1e-12)
    for key in params:

        def partial(v, key=key):
            return mlp({**params, key: v}, X, Y)

        np.testing.assert_allclose(
            grad[key], finite_difference(partial, [params[key]], 0), rtol=1e-6, atol=1e-8
        )


def test_broadcast_constant_plus_inc_subtensor_keeps_its_shape():
    # pytensor 3.0.7's local_add_of_sparse_write returned a one-row gradient here
    check(lambda A: np.sum(A.T.T[0]) + np.sum(A), np.ones((3, 1)))
    check(lambda A: np.sum(A @ -A.T.T[0]), np.arange(2.0).reshape(2, 1) + 1)


def test_stabilised_logsumexp_is_not_stabilised_twice():
    z = pt.matrix()
    m = pt.max(z, axis=1, keepdims=True)
    f = compiled([z], m + pt.log(pt.sum(pt.exp(z - m), axis=1, keepdims=True)))
    maxes = [n for n in f.maker.fgraph.toposort() if "max" in str(n.op).lower()]
    assert len(maxes) == 1, maxes
    a = np.random.default_rng(3).normal(size=(5, 4)) * 300
    np.testing.assert_allclose(
        f(a)[:, 0], np.log(np.sum(np.exp(a - a.max(1, keepdims=True)), 1)) + a.max(1)
    )


@cbackend
def test_minimize_frees_the_kept_buffers():
    def loss(w, X):
        return np.sum(np.tanh(X @ w) ** 2) + np.sum(w**2)

    X = np.random.default_rng(4).normal(size=(50, 3))
    result = skautodiff.minimize(loss, np.ones(3), args=(X,))
    assert result.success
    from skautodiff.compile import _cache

    entries = [e for v in _cache.values() for e in v if e.trace.func is loss]
    for fn in (fn for copies in entries[0]._functions.values() for fn in copies):
        kept = [cell[0] for var, cell in fn.vm.storage_map.items() if var.owner is not None]
        assert all(v is None for v in kept)


@pytest.mark.parametrize("shape", [(7, 1), (7, 2), (5, 10), (3, 4, 16), (6, 17), (2, 100)])
@pytest.mark.parametrize("kind", ["max", "min"])
def test_extremes_over_the_last_axis(shape, kind):
    x = pt.tensor(shape=(None,) * len(shape))
    f = compiled([x], [getattr(pt, kind)(x, axis=-1), getattr(pt, kind)(x, axis=0)])
    a = np.random.default_rng(5).normal(size=shape)
    a.flat[3] = np.nan  # numpy's max/min propagate NaN; so must the compiled ones
    last, first = f(a)
    with np.errstate(invalid="ignore"):
        np.testing.assert_array_equal(last, getattr(np, kind)(a, axis=-1))
        np.testing.assert_array_equal(first, getattr(np, kind)(a, axis=0))


def test_softmax_max_gradient_shares_ties():
    # the row max feeds the tie mask of the gradient; ties split it evenly
    def f(z):
        return np.sum(np.max(z, axis=1) * np.arange(1.0, 4.0))

    z = np.array([[1.0, 3.0, 3.0], [2.0, 0.0, -1.0], [5.0, 5.0, 5.0]])
    g = skautodiff.Gradient(f, wrt=0)(z)
    np.testing.assert_allclose(g, [[0, 0.5, 0.5], [2, 0, 0], [1, 1, 1]])


@pytest.mark.parametrize("alpha, beta", [(1.0, 0.0), (2.5, 0.0), (1.0, 1.0), (-0.5, 3.0)])
@pytest.mark.parametrize("transposed", [False, True])
def test_matrix_vector_products(alpha, beta, transposed):
    from pytensor.tensor.blas import gemv_no_inplace

    rng = np.random.default_rng(6)
    A = rng.normal(size=(5, 3))
    A_in, x, y = pt.matrix(), pt.vector(), pt.vector()
    op_A = A_in.T if transposed else A_in
    f = compiled([A_in, x, y], gemv_no_inplace(y, alpha, op_A, x, beta))
    assert any(isinstance(n.op, NumpyProduct) for n in f.maker.fgraph.toposort())
    M = A.T if transposed else A
    xv, yv = rng.normal(size=M.shape[1]), rng.normal(size=M.shape[0])
    if beta == 0:
        yv[:] = np.nan  # PyTensor passes uninitialised memory when beta is 0: never read it
    expected = alpha * (M @ xv) + (beta * yv if beta else 0)
    np.testing.assert_allclose(f(A, xv, yv), expected, rtol=1e-13)
    np.testing.assert_allclose(f(A, xv, yv), expected, rtol=1e-13)  # into the kept buffer


def test_a_product_with_alpha_1_and_beta_0_allocates_no_buffer_node():
    # Gemv(AllocEmpty(Shape_i(X)), 1, X, w, 0) becomes numpy.dot(X, w): two C modules fewer
    from pytensor.tensor.basic import AllocEmpty

    rng = np.random.default_rng(9)
    X, y = rng.normal(size=(40, 3)), np.sign(rng.normal(size=40))
    loss = lambda w: np.mean(np.logaddexp(0, -y * (X @ w)))  # noqa: E731
    fn = skautodiff.value_and_grad(loss)
    w = rng.normal(size=3)
    value, (grad,) = fn(w)  # wrt every positional argument: one gradient each
    assert np.isclose(value, loss(w), rtol=1e-13)
    by_hand = X.T @ (-y / (1 + np.exp(y * (X @ w)))) / len(y)
    np.testing.assert_allclose(grad, by_hand, rtol=1e-12)
    (entry,) = [
        e for key, es in compile_module._cache.items() if key[0] is loss.__code__ for e in es
    ]
    for function in entry._functions.values():
        for copy in function:
            ops = [n.op for n in copy.maker.fgraph.toposort()]
            assert not any(isinstance(op, AllocEmpty) for op in ops), ops
            assert any(isinstance(op, NumpyProduct) and not op.scaled for op in ops), ops


def test_logistic_gradient_through_numpy_gemv_matches_finite_differences():
    rng = np.random.default_rng(7)
    X, y = rng.normal(size=(40, 3)), np.sign(rng.normal(size=40))
    check(lambda w: np.sum(np.logaddexp(0, -y * (X @ w))) + 0.1 * w @ w, rng.normal(size=3))


@pytest.mark.parametrize("alpha, beta", [(1.0, 0.0), (2.0, 1.0), (-0.5, 0.25)])
def test_matrix_products(alpha, beta):
    from pytensor.tensor.blas import gemm_no_inplace

    rng = np.random.default_rng(8)
    x, y, z = pt.matrix(), pt.matrix(), pt.matrix()
    a, b = np.float64(alpha), np.float64(beta)
    f = compiled([x, y, z], [gemm_no_inplace(z, a, x.T, y, b), pt.dot(x.T, y)])
    # alpha 1 and beta 0: the Gemm is the plain product, merged with the other output's
    products = 1 if (alpha, beta) == (1.0, 0.0) else 2
    assert sum(isinstance(n.op, NumpyProduct) for n in f.maker.fgraph.toposort()) == products
    for rows in (6, 9):  # another shape: new buffers
        xv, yv, zv = rng.normal(size=(rows, 3)), rng.normal(size=(rows, 4)), rng.normal(size=(3, 4))
        scaled, plain = f(xv, yv, zv)
        np.testing.assert_allclose(scaled, beta * zv + alpha * xv.T @ yv, rtol=1e-12, atol=1e-14)
        np.testing.assert_allclose(plain, xv.T @ yv, rtol=1e-12)


@pytest.mark.cbackend
def test_results_survive_later_calls_on_the_c_backend():
    # outputs written in place over a kept buffer (tanh's, then an in-place multiply) and gradients
    # from numpy's products must not change when the compiled function runs again
    f = skautodiff.Function(lambda x: (np.tanh(x) * 2, np.max(x[None, :], axis=1) + 1))
    first = f(np.ones(4))
    kept = [a.copy() for a in first]
    f(np.zeros(4))
    for a, b in zip(first, kept):
        np.testing.assert_array_equal(a, b)
    vg = skautodiff.value_and_grad(lambda W, X: np.sum(np.tanh(X @ W) ** 2), wrt=0)
    X = np.ones((6, 3))
    _, grad = vg(np.ones((3, 2)), X)
    kept = grad.copy()
    vg(np.zeros((3, 2)), X)
    np.testing.assert_array_equal(grad, kept)


@pytest.mark.cbackend
def test_free_releases_what_a_compiled_function_keeps():
    from skautodiff.compile import _cache

    def loss(W, X):
        return np.sum(np.tanh(X @ W) ** 2)

    vg = skautodiff.value_and_grad(loss, wrt=0)
    X = np.ones((8, 3))
    vg(np.ones((3, 2)), X)
    fns = [
        fn
        for key, entries in _cache.items()
        if key[0] is loss.__code__
        for entry in entries
        for copies in entry._functions.values()
        for fn in copies
    ]

    def kept():
        return [
            c[0]
            for fn in fns
            for var, c in fn.vm.storage_map.items()
            if var.owner is not None and c[0] is not None
        ]

    assert kept()  # kept for the next call
    vg.free()
    assert kept() == []
    value, _ = vg(np.ones((3, 2)), X)  # still works, with new buffers
    assert np.isclose(value, loss(np.ones((3, 2)), X))


@cbackend
def test_newton_minimize_frees_its_hessian_vector_buffers_too():
    from skautodiff.compile import _cache

    def loss(w, X):
        return np.sum(np.tanh(X @ w) ** 2) + np.sum(w**2)

    X = np.random.default_rng(9).normal(size=(30, 3))
    result = skautodiff.minimize(loss, np.ones(3), args=(X,), method="Newton-CG")
    assert result.success
    fns = [
        fn
        for key, entries in _cache.items()
        if key[0] is loss.__code__
        for entry in entries
        for copies in entry._functions.values()
        for fn in copies
    ]
    assert len(fns) >= 2  # value_and_grad and the Hessian-vector product
    for fn in fns:
        assert all(c[0] is None for var, c in fn.vm.storage_map.items() if var.owner is not None)
