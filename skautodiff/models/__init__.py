"""Estimators written as subclasses of AutodiffRegressor / AutodiffClassifier.

Each is a few numpy functions, the way a user would write their own model, and each is tested
against the scikit-learn estimator that minimises the same objective (where one exists).
"""

from .linear import HuberRegressor, LogisticRegression, PoissonRegressor, Ridge
from .neural import MLPClassifier, MLPRegressor
from .ordinal import OrdinalLogisticRegression
from .survival import CoxPHRegressor, concordance_index

__all__ = [
    "LogisticRegression",
    "Ridge",
    "PoissonRegressor",
    "HuberRegressor",
    "MLPClassifier",
    "MLPRegressor",
    "OrdinalLogisticRegression",
    "CoxPHRegressor",
    "concordance_index",
]
