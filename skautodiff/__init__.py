"""skautodiff: write a loss in plain numpy; get a compiled, differentiable scikit-learn model.

Functional API: Function, Gradient, HessianVector, value_and_grad, minimize, fmin_l_bfgs_b.
Estimators: AutodiffRegressor, AutodiffClassifier (skautodiff.estimators), models in
skautodiff.models. Formulas: skautodiff.formula.

Every name is loaded on first use: `import skautodiff` imports neither PyTensor nor
scikit-learn, so loading a pickled model and predicting (which runs the user's numpy code)
never pays for the compiler.
"""

import importlib

__version__ = "0.1.0"

# name -> the submodule that defines it
_LAZY = {
    **dict.fromkeys(
        [
            "Function",
            "Gradient",
            "HessianVector",
            "ValueAndGrad",
            "function",
            "gradient",
            "value_and_grad",
            "formula",
        ],
        "api",
    ),
    **dict.fromkeys(["minimize", "fmin_l_bfgs_b"], "optimize"),
    **dict.fromkeys(["cache_info", "clear_cache"], "compile"),
    "TraceError": "engine.errors",
    **dict.fromkeys(["AutodiffEstimator", "AutodiffRegressor", "AutodiffClassifier"], "estimators"),
    "Formula": "printing",
}

__all__ = [
    "Function",
    "Gradient",
    "HessianVector",
    "ValueAndGrad",
    "function",
    "gradient",
    "value_and_grad",
    "minimize",
    "fmin_l_bfgs_b",
    "cache_info",
    "clear_cache",
    "TraceError",
]


def __getattr__(name):
    module = _LAZY.get(name)
    if module is None:
        raise AttributeError(f"module 'skautodiff' has no attribute '{name}'")
    value = getattr(importlib.import_module(f".{module}", __name__), name)
    globals()[name] = value  # later lookups skip this function
    return value


def __dir__():
    return sorted([*globals(), *_LAZY])
