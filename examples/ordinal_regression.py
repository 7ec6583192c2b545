"""A model scikit-learn lacks: ordinal logistic regression (skautodiff.models).

The diabetes progression score is cut into four ordered levels. A multinomial logistic regression
ignores the order (3 x 10 coefficients); the proportional-odds model uses it (10 coefficients and
3 thresholds) and makes smaller errors in levels. Its source, skautodiff/models/ordinal.py, is a
loss, an init and a probability function in numpy.
"""

import numpy as np
from sklearn.datasets import load_diabetes
from sklearn.linear_model import LogisticRegression
from sklearn.model_selection import cross_val_predict
from sklearn.pipeline import make_pipeline
from sklearn.preprocessing import StandardScaler

from skautodiff.models import OrdinalLogisticRegression

X, score = load_diabetes(return_X_y=True)
level = np.digitize(score, np.quantile(score, [0.25, 0.5, 0.75]))  # 0, 1, 2, 3

for name, model in [
    ("ordinal logistic (skautodiff)", OrdinalLogisticRegression(alpha=1e-3)),
    ("multinomial logistic (scikit-learn)", LogisticRegression()),
]:
    predicted = cross_val_predict(make_pipeline(StandardScaler(), model), X, level, cv=5)
    print(
        f"{name:<38} accuracy {np.mean(predicted == level):.3f}   "
        f"mean |level error| {np.mean(np.abs(predicted - level)):.3f}"
    )

model = OrdinalLogisticRegression(alpha=1e-3).fit(StandardScaler().fit_transform(X), level)
print("thresholds:", np.round(model.thresholds_, 3))
