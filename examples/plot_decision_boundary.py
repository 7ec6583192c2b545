"""
Decision boundaries of a linear and a neural classifier
=======================================================

Two classifiers whose losses are a few lines of numpy, fitted to the same two-moons data:
:class:`skautodiff.models.LogisticRegression` (a straight boundary) and
:class:`skautodiff.models.MLPClassifier` (one tanh hidden layer, which can bend it). The colour
is the fitted probability of the red class; the black line is where it is one half.
"""

import matplotlib.pyplot as plt
from sklearn.datasets import make_moons
from sklearn.inspection import DecisionBoundaryDisplay
from sklearn.model_selection import train_test_split

from skautodiff.models import LogisticRegression, MLPClassifier

X, y = make_moons(n_samples=300, noise=0.25, random_state=0)
X_train, X_test, y_train, y_test = train_test_split(X, y, random_state=0)

classifiers = {
    "LogisticRegression": LogisticRegression(C=1.0),
    "MLPClassifier, 16 tanh units": MLPClassifier(
        hidden_layer_sizes=(16,), activation="tanh", alpha=0.1, tol=1e-3, random_state=0
    ),
}

fig, axes = plt.subplots(1, 2, figsize=(10, 4.2), sharey=True)
for ax, (name, clf) in zip(axes, classifiers.items()):
    clf.fit(X_train, y_train)
    DecisionBoundaryDisplay.from_estimator(
        clf,
        X,
        response_method="predict_proba",
        cmap="RdBu_r",
        alpha=0.6,
        ax=ax,
        grid_resolution=150,
        vmin=0,
        vmax=1,
    )
    DecisionBoundaryDisplay.from_estimator(
        clf,
        X,
        response_method="predict_proba",
        plot_method="contour",
        levels=[0.5],
        colors="black",
        ax=ax,
        grid_resolution=150,
    )
    ax.scatter(X_train[:, 0], X_train[:, 1], c=y_train, cmap="RdBu_r", edgecolor="white", s=25)
    ax.scatter(
        X_test[:, 0], X_test[:, 1], c=y_test, cmap="RdBu_r", edgecolor="black", s=25, marker="s"
    )
    ax.set_title(f"{name}\ntest accuracy {clf.score(X_test, y_test):.2f}")
    ax.set_xlabel("$x_1$")
axes[0].set_ylabel("$x_2$")
fig.tight_layout()
plt.show()

# %%
# Circles are the training points, squares the held-out test points. Both models are
# scikit-learn estimators: ``DecisionBoundaryDisplay`` calls their ``predict_proba``, which runs
# the model's numpy function on the fitted ``params_``.
