"""A model as a subclass: its hyperparameters are constructor arguments the loss reads from self.

Expectile regression: an asymmetric squared error (weight tau above the fit, 1 - tau below), the
least-squares analogue of quantile regression. tau = 0.5 is ordinary least squares; tau = 0.9
fits a curve that most points lie below. Changing tau or alpha does not recompile.
"""

import numpy as np
from sklearn.datasets import load_diabetes

import skautodiff
from skautodiff import AutodiffRegressor


class ExpectileRegressor(AutodiffRegressor):
    def __init__(self, tau=0.5, alpha=1e-4):
        self.tau = tau
        self.alpha = alpha

    def init_params(self, X, y, rng):
        return {"w": np.zeros(X.shape[1]), "b": np.mean(y)}

    def loss(self, params, X, y, sample_weight=None):
        residual = y - self.predict_fn(params, X)
        weight = np.where(residual > 0, self.tau, 1 - self.tau)
        return np.mean(weight * residual**2) + self.alpha * np.sum(params["w"] ** 2)

    def predict_fn(self, params, X):
        return X @ params["w"] + params["b"]


X, y = load_diabetes(return_X_y=True)
X = (X - X.mean(axis=0)) / X.std(axis=0)
before = skautodiff.cache_info()
print(f"{'tau':>5} {'share of points below the fit':>31}")
for tau in [0.1, 0.5, 0.9]:
    model = ExpectileRegressor(tau=tau).fit(X, y)
    print(f"{tau:>5} {np.mean(y < model.predict(X)):>31.2f}")
after = skautodiff.cache_info()
print(f"\n{model!r}: get_params() = {model.get_params()}")
print(f"compilations for the three fits: {after.compiles - before.compiles}")
