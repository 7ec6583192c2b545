"""
Grid search over a loss's hyperparameter
========================================

A linear SVM's objective (squared hinge + an L2 penalty) written in numpy, inside a scikit-learn
pipeline, tuned by ``GridSearchCV`` over the penalty ``alpha``. ``alpha`` is an entry of the
estimator's ``loss_kwargs``: numbers there are inputs of the compiled loss, so every candidate
and every fold reuses one compilation. The plot shows the cross-validated accuracy (mean ± one
standard deviation over the folds) and the training accuracy for each ``alpha``.
"""

import matplotlib.pyplot as plt
import numpy as np
from sklearn.datasets import load_breast_cancer
from sklearn.model_selection import GridSearchCV
from sklearn.pipeline import make_pipeline
from sklearn.preprocessing import StandardScaler

import skautodiff
from skautodiff import AutodiffClassifier


def squared_hinge(params, X, y, alpha=1.0):
    """Mean squared hinge loss + alpha ||w||^2 (y is +1/-1)."""
    margin = y * (X @ params["w"] + params["b"])
    return np.mean(np.maximum(0, 1 - margin) ** 2) + alpha * np.sum(params["w"] ** 2)


def init_params(X, y, rng):
    return {"w": np.zeros(X.shape[1]), "b": 0.0}


def decision(params, X):
    return X @ params["w"] + params["b"]


# %%
# Eight values of ``alpha``, three folds each, then a refit on all the data with the best one.
# ``cache_info()`` counts the compilations this search triggered.
X, y = load_breast_cancer(return_X_y=True)
svm = AutodiffClassifier(
    loss=squared_hinge, init_params=init_params, decision_fn=decision, target_encoding="sign"
)
alphas = np.logspace(-4, 1, 8)
search = GridSearchCV(
    make_pipeline(StandardScaler(), svm),
    {"autodiffclassifier__loss_kwargs__alpha": alphas},
    cv=3,
    return_train_score=True,
)
compiles_before = skautodiff.cache_info().compiles
search.fit(X, y)
compiles = skautodiff.cache_info().compiles - compiles_before
print(
    f"best alpha {search.best_params_['autodiffclassifier__loss_kwargs__alpha']:.3g}, "
    f"cross-validated accuracy {search.best_score_:.3f}"
)
print(f"{len(alphas) * 3 + 1} fits, {compiles} compilation(s) of the loss")

# %%
# The scores, from ``cv_results_``:
results = search.cv_results_
mean, std = results["mean_test_score"], results["std_test_score"]
fig, ax = plt.subplots(figsize=(7, 4))
ax.semilogx(alphas, results["mean_train_score"], "o--", color="gray", label="training accuracy")
ax.semilogx(alphas, mean, "o-", label="cross-validated accuracy")
ax.fill_between(alphas, mean - std, mean + std, alpha=0.25, label="± one standard deviation")
best = search.best_index_
ax.axvline(alphas[best], color="black", lw=1, ls=":", label=f"best alpha = {alphas[best]:.3g}")
ax.set_xlabel("alpha (penalty strength)")
ax.set_ylabel("accuracy")
ax.set_title("GridSearchCV: squared-hinge SVM on breast cancer, 3 folds")
ax.legend(loc="lower left")
fig.tight_layout()
plt.show()
