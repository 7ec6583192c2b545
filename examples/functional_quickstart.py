"""The functional API on a logistic loss: value, gradient, Hessian-vector product, fit.

Run: python examples/functional_quickstart.py
"""

import numpy as np

import skautodiff


def loss(params, X, y, alpha=0.1):
    z = X @ params["w"] + params["b"]
    return np.mean(np.logaddexp(0, -y * z)) + alpha * np.sum(params["w"] ** 2)


def main():
    rng = np.random.default_rng(0)
    X = rng.normal(size=(500, 5))
    y = np.sign(X @ np.array([1.0, -2.0, 0.5, 0.0, 1.5]) + 0.3 * rng.normal(size=500))
    params = {"w": np.zeros(5), "b": 0.0}

    value, grad = skautodiff.value_and_grad(loss, wrt="params")(params, X, y)
    print(f"loss at zero: {value:.4f}, gradient w.r.t. w: {np.round(grad['w'], 4)}")

    hv = skautodiff.HessianVector(loss, wrt="params")(
        params, X, y, vectors={"w": np.ones(5), "b": 0.0}
    )
    print(f"Hessian times ones (w part): {np.round(hv['w'], 4)}")

    g = skautodiff.Gradient(lambda x: ((x + 1) ** 2).sum(), [np.zeros(3)])
    print(g)  # the gradient as a formula
    print(g(np.arange(3)))

    res = skautodiff.minimize(loss, params, args=(X, y), method="L-BFGS-B")
    print(f"fitted w = {np.round(res.x['w'], 3)}, b = {res.x['b']:.3f} in {res.nit} iterations")
    print(skautodiff.cache_info())


if __name__ == "__main__":
    main()
