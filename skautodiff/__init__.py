"""skautodiff: write a loss in plain numpy; get a compiled, differentiable scikit-learn model.

Functional API: Function, Gradient, HessianVector, value_and_grad, minimize, fmin_l_bfgs_b.
Estimators: AutodiffRegressor, AutodiffClassifier (skautodiff.estimators), models in
skautodiff.models. Formulas: skautodiff.formula.
"""
from .api import Function, Gradient, HessianVector, ValueAndGrad, function, gradient, value_and_grad
from .compile import cache_info, clear_cache
from .engine.errors import TraceError
from .optimize import fmin_l_bfgs_b, minimize

__version__ = "0.1.0"

__all__ = [
    "Function", "Gradient", "HessianVector", "ValueAndGrad", "function", "gradient", "value_and_grad",
    "minimize", "fmin_l_bfgs_b", "cache_info", "clear_cache", "TraceError",
]


def __getattr__(name):
    # The estimator layer imports scikit-learn: load it only when asked for.
    if name in ("AutodiffEstimator", "AutodiffRegressor", "AutodiffClassifier"):
        from . import estimators
        return getattr(estimators, name)
    if name in ("formula", "Formula"):
        from . import printing
        return getattr(printing, name)
    raise AttributeError(f"module 'skautodiff' has no attribute '{name}'")
