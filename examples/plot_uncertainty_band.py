"""
A fitted curve with its uncertainty band
========================================

A regression whose noise grows with x: the loss below is the Gaussian negative log-likelihood
of a model that fits both the mean and the logarithm of the standard deviation, each a
combination of smooth bumps (radial basis functions) of x. Nothing about the model is special
to skautodiff: it is the numpy a statistician would write, and its gradient is derived and
compiled for L-BFGS.
"""

import matplotlib.pyplot as plt
import numpy as np

from skautodiff import AutodiffRegressor

CENTERS = np.linspace(0, 10, 12)


def bumps(X):
    """Radial basis functions of the one feature, one column per centre."""
    return np.exp(-0.5 * (X[:, :1] - CENTERS) ** 2)


def gaussian_nll(params, X, y, alpha=1e-2):
    features = bumps(X)
    mean = features @ params["mean"] + params["mean_bias"]
    log_sd = features @ params["log_sd"] + params["log_sd_bias"]
    nll = np.mean(log_sd + 0.5 * ((y - mean) / np.exp(log_sd)) ** 2)
    return nll + alpha * (np.sum(params["mean"] ** 2) + np.sum(params["log_sd"] ** 2))


def init_params(X, y, rng):
    return {
        "mean": np.zeros(len(CENTERS)),
        "mean_bias": np.mean(y),
        "log_sd": np.zeros(len(CENTERS)),
        "log_sd_bias": np.log(np.std(y)),
    }


def mean_fn(params, X):
    return bumps(X) @ params["mean"] + params["mean_bias"]


def sd_fn(params, X):
    return np.exp(bumps(X) @ params["log_sd"] + params["log_sd_bias"])


rng = np.random.default_rng(0)
x = np.sort(rng.uniform(0, 10, 200))
true_sd = 0.1 + 0.08 * x
y = np.sin(x) + 0.3 * x + true_sd * rng.normal(size=x.size)
X = x[:, None]

model = AutodiffRegressor(loss=gaussian_nll, init_params=init_params, predict_fn=mean_fn).fit(X, y)
print(f"negative log-likelihood {model.loss_:.3f} after {model.n_iter_} iterations")

grid = np.linspace(0, 10, 300)[:, None]
mean = model.predict(grid)
sd = sd_fn(model.params_, grid)  # the user's own numpy function, at the fitted parameters

fig, ax = plt.subplots(figsize=(7, 4))
ax.fill_between(grid[:, 0], mean - 2 * sd, mean + 2 * sd, alpha=0.25, label="fitted mean ± 2 sd")
ax.plot(grid[:, 0], mean, lw=2, label="fitted mean")
ax.plot(grid[:, 0], np.sin(grid[:, 0]) + 0.3 * grid[:, 0], "k--", lw=1, label="true mean")
ax.scatter(x, y, s=8, color="black", alpha=0.5, label="data")
ax.set_xlabel("x")
ax.set_ylabel("y")
ax.set_title("Heteroscedastic Gaussian regression: mean and noise fitted together")
ax.legend(loc="upper left")
fig.tight_layout()
plt.show()

# %%
# The band widens where the data are noisier, because the loss fits the standard deviation
# too. The fraction of points inside the band should be near 95%:
inside = np.abs(y - model.predict(X)) <= 2 * sd_fn(model.params_, X)
print(f"{inside.mean():.0%} of the points lie within ± 2 fitted standard deviations")
