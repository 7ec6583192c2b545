"""The benchmark problems: data, start point, settings, and the matching scikit-learn estimator.

Regularisation follows scikit-learn's defaults so its estimators solve the same objective:
``alpha = 1 / n`` is LogisticRegression's C=1 and Ridge's alpha=1; the MLP's ``alpha = 1e-4 / n``
is MLPClassifier's alpha=1e-4 (scikit-learn scales its penalty by 1/n in both).
"""

from dataclasses import dataclass

import numpy as np
import scipy.sparse

from benchmarks import losses, reference
from benchmarks.layout import Layout

FTOL = 64 * np.finfo(float).eps  # scikit-learn's LogisticRegression L-BFGS-B settings
MAXLS = 50


@dataclass
class Data:
    X: object  # ndarray, or CSR matrix for the sparse problem
    y: np.ndarray  # what the loss takes: +-1 labels, targets, or one-hot rows
    labels: np.ndarray  # what scikit-learn's estimator takes


@dataclass(frozen=True)
class Problem:
    key: str
    kind: str  # logistic | least_squares | softmax | mlp
    n: int
    d: int
    k: int = 1  # classes
    hidden: int = 0
    density: float = 0.0  # > 0: sparse CSR design matrix
    maxiter: int = 1000
    tol: float = 1e-4

    @property
    def label(self):
        if self.kind == "mlp":
            return f"MLP {self.n}x{self.d}->{self.hidden} tanh->{self.k}, {self.maxiter} it"
        if self.kind == "softmax":
            return f"softmax {self.n}x{self.d}, {self.k} classes"
        name = {"logistic": "logistic", "least_squares": "least squares"}[self.kind]
        if self.density:
            return f"sparse {name} {self.n}x{self.d} at {self.density:.1%}"
        return f"{name} {self.n}x{self.d}"

    @property
    def sparse(self):
        return self.density > 0

    @property
    def alpha(self):
        return (1e-4 if self.kind == "mlp" else 1.0) / self.n

    @property
    def loss(self):
        """The plain-numpy objective ``loss(params, X, y, alpha)`` the autodiff tools differentiate."""
        return getattr(losses, self.kind)

    def layout(self):
        if self.kind == "mlp":
            return Layout(
                {
                    "W1": (self.d, self.hidden),
                    "b1": (self.hidden,),
                    "W2": (self.hidden, self.k),
                    "b2": (self.k,),
                }
            )
        if self.kind == "softmax":
            return Layout({"W": (self.d, self.k), "b": (self.k,)})
        return Layout({"w": (self.d,), "b": ()})

    def reference(self, layout):
        """Hand-written value-and-gradient on the flat vector: ``f(x, X, y, alpha)``."""
        fn = getattr(reference, self.kind)
        return lambda x, X, y, alpha: fn(layout, x, X, y, alpha)

    def options(self):
        """scipy L-BFGS-B options every contender uses (scikit-learn's: gtol=tol, ftol=64 eps)."""
        return {"maxiter": self.maxiter, "gtol": self.tol, "ftol": FTOL, "maxls": MAXLS}

    def x0(self, layout, seed=1):
        """Zeros for linear models (as scikit-learn); Glorot-uniform as MLPClassifier for the MLP."""
        if self.kind != "mlp":
            return np.zeros(layout.size)
        rng = np.random.default_rng(seed)
        params = {}
        for fan_in, fan_out, w, b in (
            (self.d, self.hidden, "W1", "b1"),
            (self.hidden, self.k, "W2", "b2"),
        ):
            bound = np.sqrt(6.0 / (fan_in + fan_out))
            params[w] = rng.uniform(-bound, bound, (fan_in, fan_out))
            params[b] = rng.uniform(-bound, bound, fan_out)
        return layout.flatten(params)

    def make_data(self, seed=0):
        rng = np.random.default_rng(seed)
        if self.sparse:
            X = scipy.sparse.random(
                self.n,
                self.d,
                density=self.density,
                format="csr",
                random_state=rng,
                data_rvs=rng.standard_normal,
            )
            scale = np.sqrt(self.density * self.d)
        else:
            X = rng.standard_normal((self.n, self.d))
            scale = np.sqrt(self.d)
        if self.kind in ("logistic", "least_squares"):
            z = X @ (rng.standard_normal(self.d) / scale) + 0.5 * rng.standard_normal(self.n)
            y = np.where(z > 0, 1.0, -1.0) if self.kind == "logistic" else z
            return Data(X, y, y)
        # A nonlinear teacher for the MLP, a linear one for softmax; Gumbel noise on the logits.
        feats = np.tanh(X @ rng.standard_normal((self.d, 32))) if self.kind == "mlp" else X
        z = feats @ rng.standard_normal((feats.shape[1], self.k)) / np.sqrt(feats.shape[1])
        labels = np.argmax(2 * z + rng.gumbel(size=z.shape), axis=1)
        return Data(X, np.eye(self.k)[labels], labels)

    def sklearn_estimator(self):
        """scikit-learn's own estimator for the same objective and tolerance."""
        from sklearn.linear_model import LogisticRegression, Ridge
        from sklearn.neural_network import MLPClassifier

        if self.kind in ("logistic", "softmax"):
            return LogisticRegression(
                C=1.0 / (self.alpha * self.n), tol=self.tol, max_iter=self.maxiter, solver="lbfgs"
            )
        if self.kind == "least_squares":
            return Ridge(alpha=self.alpha * self.n)
        return MLPClassifier(
            hidden_layer_sizes=(self.hidden,),
            activation="tanh",
            solver="lbfgs",
            alpha=self.alpha * self.n,
            tol=self.tol,
            max_iter=self.maxiter,
            random_state=0,
        )

    def sklearn_solution(self, est, layout):
        """The fitted estimator's parameters as our flat vector (to evaluate our objective)."""
        if self.kind == "mlp":
            names = ("W1", "b1", "W2", "b2")
            arrays = (est.coefs_[0], est.intercepts_[0], est.coefs_[1], est.intercepts_[1])
            return layout.flatten(dict(zip(names, arrays)))
        if self.kind == "softmax":
            return layout.flatten({"W": est.coef_.T, "b": est.intercept_})
        return layout.flatten({"w": np.ravel(est.coef_), "b": np.ravel(est.intercept_)[0]})


FULL = [
    Problem("logistic-large", "logistic", 100_000, 100),
    Problem("logistic-small", "logistic", 1_000, 10),
    Problem("least-squares", "least_squares", 100_000, 100),
    Problem("softmax", "softmax", 20_000, 50, k=10),
    Problem("mlp", "mlp", 20_000, 50, k=10, hidden=64, maxiter=200, tol=0.0),
    Problem("sparse-logistic", "logistic", 100_000, 50_000, density=0.001),
]

# Same shapes of problem, small enough that the whole suite runs in about a minute.
QUICK = [
    Problem("logistic-large", "logistic", 2_000, 20),
    Problem("logistic-small", "logistic", 300, 5),
    Problem("least-squares", "least_squares", 2_000, 20),
    Problem("softmax", "softmax", 1_000, 8, k=4),
    Problem("mlp", "mlp", 500, 8, k=3, hidden=6, maxiter=20, tol=0.0),
    Problem("sparse-logistic", "logistic", 2_000, 1_000, density=0.01),
]


def problems(quick=False, only=None):
    chosen = QUICK if quick else FULL
    return [p for p in chosen if not only or p.key in only]
