"""
The formula of a fitted model
=============================

Every fitted estimator can show its loss and its prediction function as mathematics:
``formula(of="loss")`` and ``formula(of="predict")`` trace the model at its fitted parameters
and return a :class:`skautodiff.Formula`, which prints as text and converts to LaTeX. Here a
nonlinear model, an exponential decay towards a floor, is fitted to noisy measurements, and
the figure shows the data, the fitted curve and both formulas.
"""

import matplotlib.pyplot as plt
import numpy as np

from skautodiff import AutodiffRegressor


def decay(params, X):
    """a exp(-k t) + c, with t the one feature."""
    return params["a"] * np.exp(-params["k"] * X[:, 0]) + params["c"]


def squared_error(params, X, y):
    return np.mean((y - decay(params, X)) ** 2)


rng = np.random.default_rng(0)
t = np.sort(rng.uniform(0, 5, 60))
y = 3.0 * np.exp(-1.2 * t) + 0.5 + 0.08 * rng.normal(size=t.size)

model = AutodiffRegressor(
    loss=squared_error, init_params={"a": 1.0, "k": 1.0, "c": 0.0}, predict_fn=decay
).fit(t[:, None], y)
fitted = {name: float(value) for name, value in model.params_.items()}
print("fitted parameters:", {name: round(value, 3) for name, value in fitted.items()})

loss_formula = model.formula(of="loss")
predict_formula = model.formula(of="predict")
print(loss_formula)
print(predict_formula)

# %%
# The formulas are also LaTeX, which matplotlib draws:
grid = np.linspace(0, 5, 200)
fig, ax = plt.subplots(figsize=(8, 5))
ax.scatter(t, y, s=12, color="black", alpha=0.6, label="measurements")
ax.plot(
    grid,
    model.predict(grid[:, None]),
    lw=2,
    label="fit: a = {a:.2f}, k = {k:.2f}, c = {c:.2f}".format(**fitted),
)
ax.text(
    0.97,
    0.95,
    f"loss: ${loss_formula.latex()}$",
    transform=ax.transAxes,
    ha="right",
    va="top",
    fontsize=15,
)
ax.text(
    0.97,
    0.72,
    f"prediction: ${predict_formula.latex()}$",
    transform=ax.transAxes,
    ha="right",
    va="top",
    fontsize=15,
)
ax.set_xlabel("t")
ax.set_ylabel("y")
ax.legend(loc="lower left")
fig.tight_layout()
plt.show()
