"""
MLP loss curves
===============

:class:`skautodiff.models.MLPClassifier` is a numpy loss (softmax cross-entropy of a small
network plus an L2 penalty) fitted by L-BFGS. Every fitted estimator keeps the objective at
each iteration in ``loss_curve_``; here we draw it for three penalty strengths on the
two-moons data, with the test accuracy each one reaches. A weaker penalty lets the network fit
the training data more closely (a lower loss) and takes more iterations to converge.
"""

import matplotlib.pyplot as plt
from sklearn.datasets import make_moons
from sklearn.model_selection import train_test_split

from skautodiff.models import MLPClassifier

X, y = make_moons(n_samples=300, noise=0.25, random_state=0)
X_train, X_test, y_train, y_test = train_test_split(X, y, random_state=0)

# %%
# One fit per penalty strength; ``loss_curve_`` has one value per L-BFGS iteration.
fig, ax = plt.subplots(figsize=(7, 4.2))
for alpha in (1e-3, 1e-1, 1.0):
    # tol is L-BFGS's gradient tolerance: the fit stops once the gradient is that small.
    mlp = MLPClassifier(
        hidden_layer_sizes=(16,),
        activation="tanh",
        alpha=alpha,
        tol=1e-3,
        max_iter=500,
        random_state=0,
    ).fit(X_train, y_train)
    accuracy = mlp.score(X_test, y_test)
    ax.plot(
        mlp.loss_curve_,
        label=f"alpha={alpha:g}: {mlp.n_iter_} iterations, test accuracy {accuracy:.2f}",
    )
    print(f"alpha={alpha:g}: final loss {mlp.loss_:.4f} after {mlp.n_iter_} iterations")

ax.set_yscale("log")
ax.set_xlabel("L-BFGS iteration")
ax.set_ylabel("training loss (cross-entropy + penalty)")
ax.set_title("MLPClassifier on two moons")
ax.legend(loc="upper right", fontsize="small")
fig.tight_layout()
plt.show()
