"""The functional API exactly as issue 2 shows it."""

import numpy as np
import pytest

import skautodiff
from helpers import finite_difference


def loss(params, X, y, alpha=0.1):
    z = X @ params["w"] + params["b"]
    return np.mean(np.logaddexp(0, -y * z)) + alpha * np.sum(params["w"] ** 2)


@pytest.fixture
def data():
    rng = np.random.default_rng(0)
    X = rng.normal(size=(30, 4))
    y = np.sign(rng.normal(size=30))
    params = {"w": rng.normal(size=4), "b": 0.3}
    return params, X, y


def test_fmin_l_bfgs_b_scalar():
    result = skautodiff.fmin_l_bfgs_b(lambda x: (x + 1) ** 2, [np.zeros(())])
    assert isinstance(result, list) and len(result) == 1
    assert isinstance(result[0], np.ndarray) and result[0].shape == ()
    np.testing.assert_allclose(result[0], -1.0, atol=1e-6)


def test_gradient_integer_input_differentiated_as_float():
    g = skautodiff.Gradient(lambda x: ((x + 1) ** 2).sum(), [np.zeros(3)])
    out = g(np.arange(3))
    assert isinstance(out, list) and len(out) == 1
    assert out[0].dtype == np.float64
    np.testing.assert_allclose(out[0], [2.0, 4.0, 6.0])


def _flat_fd(params, X, y):
    w_grad = finite_difference(lambda w: loss({"w": w, "b": params["b"]}, X, y), [params["w"]], 0)
    b_grad = finite_difference(lambda b: loss({"w": params["w"], "b": b}, X, y), [params["b"]], 0)
    return w_grad, b_grad


def test_value_and_grad_shaped_like_params(data):
    params, X, y = data
    value, grad = skautodiff.value_and_grad(loss, wrt="params")(params, X, y)
    assert np.isclose(value, loss(params, X, y), rtol=1e-12)
    assert set(grad) == {"w", "b"}
    w_grad, b_grad = _flat_fd(params, X, y)
    np.testing.assert_allclose(grad["w"], w_grad, rtol=1e-6, atol=1e-8)
    np.testing.assert_allclose(grad["b"], b_grad, rtol=1e-6, atol=1e-8)
    assert np.ndim(grad["b"]) == 0


def test_function_same_outputs(data):
    params, X, y = data
    f = skautodiff.Function(loss)
    assert f(params, X, y) == pytest.approx(loss(params, X, y), rel=1e-12)
    assert type(f(params, X, y)) is type(loss(params, X, y))


def test_hessian_vector_against_finite_differences_of_gradient(data):
    params, X, y = data
    v = {"w": np.array([1.0, -2.0, 0.5, 0.0]), "b": 0.7}
    hv = skautodiff.HessianVector(loss, wrt="params")(params, X, y, vectors=v)
    g = skautodiff.Gradient(loss, wrt="params")
    eps = 1e-5
    plus = g({"w": params["w"] + eps * v["w"], "b": params["b"] + eps * v["b"]}, X, y)
    minus = g({"w": params["w"] - eps * v["w"], "b": params["b"] - eps * v["b"]}, X, y)
    np.testing.assert_allclose(hv["w"], (plus["w"] - minus["w"]) / (2 * eps), rtol=1e-5, atol=1e-8)
    np.testing.assert_allclose(hv["b"], (plus["b"] - minus["b"]) / (2 * eps), rtol=1e-5, atol=1e-8)


def test_hessian_vector_takes_a_dicts_entries_by_key():
    """vectors={"b": .., "a": ..} for params {"a": .., "b": ..}: each vector multiplies its own
    key's leaf (they were taken in the vector dict's order: a's product with b's vector).
    Against the hand-derived Hessian of a + ... : [[2, 1], [1, 6]] per component."""

    def f(p):
        return np.sum(p["a"] ** 2) + 3 * np.sum(p["b"] ** 2) + np.sum(p["a"] * p["b"])

    params = {"a": np.array([1.0, 2.0]), "b": np.array([3.0, 4.0])}
    va, vb = np.array([1.0, -1.0]), np.array([0.5, 2.0])
    hv = skautodiff.HessianVector(f, wrt="p")(params, vectors={"b": vb, "a": va})
    np.testing.assert_allclose(hv["a"], 2 * va + vb)
    np.testing.assert_allclose(hv["b"], 6 * vb + va)
    with pytest.raises(ValueError, match="vectors for p must be a dict with the keys 'a', 'b'"):
        skautodiff.HessianVector(f, wrt="p")(params, vectors={"a": va, "c": vb})
    with pytest.raises(ValueError, match=r"vector for p\['a'\] has shape \(3,\)"):
        skautodiff.HessianVector(f, wrt="p")(params, vectors={"a": np.ones(3), "b": vb})


@pytest.mark.parametrize(
    "method", ["L-BFGS-B", "BFGS", "CG", "TNC", "Newton-CG", "trust-ncg", "trust-krylov"]
)
def test_minimize_methods_agree(data, method):
    params, X, y = data
    res = skautodiff.minimize(loss, params, args=(X, y), method=method)
    assert set(res.x) == {"w", "b"} and res.x["w"].shape == (4,)
    grad = skautodiff.Gradient(loss, wrt="params")(res.x, X, y)
    assert np.linalg.norm(grad["w"]) < 1e-4 and abs(grad["b"]) < 1e-4
    reference = skautodiff.minimize(
        loss, params, args=(X, y), method="L-BFGS-B", options={"gtol": 1e-10}
    )
    np.testing.assert_allclose(res.x["w"], reference.x["w"], atol=1e-4)


def test_minimize_bounds_per_leaf(data):
    params, X, y = data
    res = skautodiff.minimize(loss, params, args=(X, y), bounds={"w": (0, None)})
    assert np.all(res.x["w"] >= 0)
    assert np.any(res.x["w"] == 0)  # some coefficient wants to be negative on this data


def test_wrt_forms(data):
    params, X, y = data
    by_name = skautodiff.Gradient(loss, wrt="params")(params, X, y)
    by_pos = skautodiff.Gradient(loss, wrt=0)(params, X, y)
    as_list = skautodiff.Gradient(loss, wrt=["params", "alpha"])(params, X, y)
    np.testing.assert_allclose(by_name["w"], by_pos["w"])
    assert isinstance(as_list, list) and len(as_list) == 2
    np.testing.assert_allclose(as_list[1], np.sum(params["w"] ** 2), rtol=1e-10)


def test_decorators_on_functions_and_methods():
    @skautodiff.function
    def f(x):
        return np.sum(np.exp(x))

    @skautodiff.gradient(wrt="w")
    def g(w, c):
        return np.sum(c * w**2)

    class Model:
        scale = 3.0

        @skautodiff.gradient(wrt="w")
        def loss(self, w):
            return self.scale * np.sum(w**2)

    x = np.array([0.1, 0.2])
    assert f(x) == pytest.approx(np.sum(np.exp(x)))
    np.testing.assert_allclose(g(x, 2.0), 4 * x)
    np.testing.assert_allclose(Model().loss(x), 6 * x)
