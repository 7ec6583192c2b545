"""A regression loss in plain numpy becomes a scikit-learn regressor (the functional form).

The loss here is least squares with a log-cosh penalty on the residuals, which behaves like the
squared error near zero and like the absolute error far away: robust without a scale to tune.
"""

import numpy as np
from sklearn.datasets import load_diabetes
from sklearn.linear_model import LinearRegression
from sklearn.model_selection import cross_val_score
from sklearn.pipeline import make_pipeline
from sklearn.preprocessing import StandardScaler

from skautodiff import AutodiffRegressor


def loss(params, X, y, alpha=1e-3):
    residual = X @ params["w"] + params["b"] - y
    # log(cosh(r)) written so that it does not overflow for large residuals.
    log_cosh = np.abs(residual) + np.log1p(np.exp(-2 * np.abs(residual))) - np.log(2)
    return np.mean(log_cosh) + alpha * np.sum(params["w"] ** 2)


def init_params(X, y, rng):
    return {"w": np.zeros(X.shape[1]), "b": np.median(y)}


def predict_fn(params, X):
    return X @ params["w"] + params["b"]


X, y = load_diabetes(return_X_y=True)
y = y / 100  # residuals of order 1: log-cosh is quadratic below that, linear above
model = make_pipeline(
    StandardScaler(),
    AutodiffRegressor(
        loss=loss, init_params=init_params, predict_fn=predict_fn, loss_kwargs={"alpha": 1e-3}
    ),
)
baseline = make_pipeline(StandardScaler(), LinearRegression())

print("R^2, 5-fold cross-validation on diabetes")
print(f"  log-cosh regression (skautodiff): {cross_val_score(model, X, y).mean():.4f}")
print(f"  least squares (scikit-learn):     {cross_val_score(baseline, X, y).mean():.4f}")
fitted = model.fit(X, y)[-1]
print(f"fitted in {fitted.n_iter_} L-BFGS-B iterations, objective {fitted.loss_:.5f}")
