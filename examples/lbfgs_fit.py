"""Fitting with skautodiff.fmin_l_bfgs_b, bounds per parameter, and a loss with control flow.

Run: python examples/lbfgs_fit.py
"""

import numpy as np

import skautodiff


def smooth_huber(residual, delta):
    return delta**2 * (np.sqrt(1 + (residual / delta) ** 2) - 1)


def robust_regression(w, b, X, y, delta=1.0):
    r = X @ w + b - y
    if X.shape[0] > 1000:  # a guard on a shape: specialised and checked per call
        r = r[:1000]
    return np.mean(smooth_huber(r, delta))


def main():
    rng = np.random.default_rng(1)
    X = rng.normal(size=(300, 3))
    y = X @ np.array([2.0, -1.0, 0.5]) + 0.5 + rng.standard_t(2, size=300)

    w, b = skautodiff.fmin_l_bfgs_b(robust_regression, [np.zeros(3), np.zeros(())], args=(X, y))
    print("unconstrained:", np.round(w, 3), np.round(b, 3))

    w, b = skautodiff.fmin_l_bfgs_b(
        robust_regression, [np.zeros(3), np.zeros(())], args=(X, y), bounds=[(0, None), None]
    )
    print("w >= 0:       ", np.round(w, 3), np.round(b, 3))
    print(skautodiff.Function(robust_regression))


if __name__ == "__main__":
    main()
