"""scikit-learn estimators over a loss written in plain numpy.

A model is four numpy functions: ``loss(params, X, y)``, ``init_params(X, y, rng)`` and one or two
prediction functions. They are given either to the constructor (functional form) or written as
methods of a subclass (subclass form); both are found under the same names, so ``self.loss`` is
the one path to the loss in either form. Fitting hands the loss to :func:`skautodiff.minimize`,
which traces and compiles it; prediction calls the user's numpy function directly on ``params_``.

Nothing compiled is stored on the estimator: compiled functions live in the process-wide cache,
so estimators pickle as plain data and clones made by ``GridSearchCV`` reuse one compilation.
"""

import contextlib
import inspect
import logging
import numbers
import sys
import time
import warnings

import numpy as np
from sklearn.base import BaseEstimator, ClassifierMixin, RegressorMixin
from sklearn.exceptions import ConvergenceWarning
from sklearn.utils import check_random_state
from sklearn.utils.multiclass import check_classification_targets
from sklearn.utils.validation import _check_sample_weight, check_is_fitted, validate_data
from sklearn.utils._available_if import available_if

from . import pytree
from .pytree import tree_map

__all__ = ["AutodiffEstimator", "AutodiffRegressor", "AutodiffClassifier"]


def _accepts_keyword(fn, name):
    try:
        parameters = inspect.signature(fn).parameters.values()
    except (TypeError, ValueError):  # a builtin without a signature: assume it does not
        return False
    return any(p.name == name or p.kind is p.VAR_KEYWORD for p in parameters)


def _has_function(name):
    """For available_if: does this estimator have the user function `name`?"""
    return lambda self: self._user_function(name, required=False) is not None


class AutodiffEstimator(BaseEstimator):
    """What regressors and classifiers share: validation, fitting, fitted attributes.

    The class attributes below are the defaults of the common parameters. A subclass whose
    ``__init__`` does not expose one of them (and need not call ``super().__init__``) still has
    it, with this value, while ``get_params`` reports only what the subclass's signature lists.
    The user's functions default to None here, and a subclass's methods of the same names
    take their place.
    """

    loss = None
    init_params = None
    loss_kwargs = None
    optimizer = "L-BFGS-B"
    max_iter = 1000
    tol = None
    bounds = None
    warm_start = False
    random_state = None
    verbose = 0
    backend = "c"

    # ----------------------------------------------------------------- the user's functions

    def _set_functions(self, **functions):
        """The constructor's part for the user's functions: None is not stored, so that a
        subclass that calls ``super().__init__()`` keeps its methods of those names."""
        for name, fn in functions.items():
            if fn is not None:
                setattr(self, name, fn)

    def _user_function(self, name, required=True):
        """The constructor's function `name`, or the subclass's method of that name."""
        fn = getattr(self, name, None)
        if fn is None and required:
            raise TypeError(
                f"{type(self).__name__} needs `{name}`: pass {name}=... to the constructor "
                f"or define a `{name}` method in a subclass"
            )
        return fn

    def set_params(self, **params):
        """As scikit-learn's, and ``loss_kwargs__alpha=0.1`` sets one entry of ``loss_kwargs``."""
        entries = {key: params.pop(key) for key in list(params) if key.startswith("loss_kwargs__")}
        if entries:
            loss_kwargs = dict(params.pop("loss_kwargs", self.loss_kwargs) or {})
            loss_kwargs.update(
                {key[len("loss_kwargs__") :]: value for key, value in entries.items()}
            )
            params["loss_kwargs"] = loss_kwargs
        return super().set_params(**params)

    # ----------------------------------------------------------------- fitting

    def fit(self, X, y, sample_weight=None):
        """Minimises ``loss(params, X, y, **loss_kwargs)`` from ``init_params``.

        ``sample_weight`` is passed to the loss as the keyword ``sample_weight``, which the loss
        must then accept.
        """
        X, y = self._validate_fit_data(X, y)
        loss = self._user_function("loss")
        kwargs = dict(self.loss_kwargs or {})
        if sample_weight is not None:
            if not _accepts_keyword(loss, "sample_weight"):
                raise TypeError(
                    f"sample_weight was given to fit, but the loss {loss.__name__}() has no "
                    "`sample_weight` parameter; add one (e.g. `sample_weight=None`) to use weights"
                )
            kwargs["sample_weight"] = _check_sample_weight(sample_weight, X, dtype=X.dtype)

        params = self._starting_params(X, y)
        try:
            self._fit_params(loss, params, X, y, kwargs)
        except (ValueError, TypeError):
            # Only now, not before every fit (it costs one loss evaluation): a loss that does not
            # return a real scalar gets a message naming what it returned. Any other error is
            # raised as it is: the engine already shows it at the user's line.
            self._check_scalar_loss(loss, params, X, y, kwargs)
            raise
        return self

    def _starting_params(self, X, y):
        if self.warm_start and hasattr(self, "params_"):
            params = self.params_
        else:
            init = self._user_function("init_params")
            params = init(X, y, check_random_state(self.random_state)) if callable(init) else init
        # The parameters' dtype is the data's: float32 data compiles and fits a float32 graph.
        return tree_map(lambda leaf: np.array(leaf, dtype=X.dtype), params)

    @staticmethod
    def _check_scalar_loss(loss, params, X, y, kwargs):
        try:
            value = loss(params, X, y, **kwargs)
        except Exception:
            return  # the loss itself fails: the error being raised says where
        if np.ndim(value) != 0 or not isinstance(np.asarray(value).item(), numbers.Real):
            raise ValueError(
                f"the loss must return a real scalar; {loss.__name__}() returned "
                f"{type(value).__name__} of shape {np.shape(value)} (reduce it, e.g. with np.mean)"
            )

    def _fit_params(self, loss, params, X, y, kwargs):
        from .optimize import method_name, minimize  # the functional layer below this one

        progress = _Progress(self.verbose)
        tol, options = self._optimizer_settings()
        with _compile_messages(self.verbose):
            result = minimize(
                loss,
                params,
                args=(X, y),
                kwargs=kwargs,
                method=self.optimizer,
                bounds=self.bounds,
                tol=tol,
                options=options,
                callback=progress,
                backend=self.backend,
                rows=(1, 2, *(["sample_weight"] if "sample_weight" in kwargs else [])),
            )
        self.params_ = tree_map(lambda leaf: np.asarray(leaf, dtype=X.dtype), result.x)
        self.loss_ = float(result.fun)
        self.loss_curve_ = progress.curve
        self.n_iter_ = int(getattr(result, "nit", len(progress.curve)))
        self.converged_ = bool(result.success)
        if not result.success:
            hint = " Increase max_iter or scale the data." if self.n_iter_ >= self.max_iter else ""
            warnings.warn(
                f"{type(self).__name__}: {method_name(self.optimizer)} did not converge after "
                f"{self.n_iter_} iterations ({result.message}).{hint}",
                ConvergenceWarning,
            )

    def _optimizer_settings(self):
        """(tol, options) for scipy: L-BFGS-B gets scikit-learn's own settings (gtol=tol,
        ftol=64*eps, maxls=50), so fits stop where scikit-learn's estimators stop; other methods
        get max_iter as their iteration limit (TNC: its evaluation limit) and scipy's tol."""
        from .optimize import iteration_limit

        options = iteration_limit(self.optimizer, self.max_iter)
        if str(self.optimizer).upper() != "L-BFGS-B":
            return self.tol, options
        options.update(
            ftol=64 * np.finfo(float).eps, maxls=50, maxfun=max(15000, 2 * self.max_iter)
        )
        if self.tol is not None:
            options["gtol"] = self.tol
        return None, options

    # ----------------------------------------------------------------- formulas

    def formula(self, of="loss"):
        """The fitted model's loss (``of="loss"``) or prediction function (``of="predict"``) as
        mathematics (see :func:`skautodiff.formula`), traced at ``params_``."""
        from .printing import formula

        check_is_fitted(self, "params_")
        X = np.zeros((2, self.n_features_in_), dtype=_leaf_dtype(self.params_))
        if of == "loss":
            y = self._example_target(X)
            return formula(
                self._user_function("loss"), self.params_, X, y, **dict(self.loss_kwargs or {})
            )
        if of == "predict":
            name = next(
                n
                for n in ("predict_fn", "decision_fn", "proba_fn")
                if self._user_function(n, required=False) is not None
            )
            return formula(self._user_function(name), self.params_, X)
        raise ValueError(f"of must be 'loss' or 'predict', got {of!r}")

    def __sklearn_tags__(self):
        tags = super().__sklearn_tags__()
        tags.input_tags.sparse = True  # CSR/CSC X reaches the loss without densifying
        return tags

    # ----------------------------------------------------------------- validation

    def _validate_fit_data(self, X, y):
        """The one place where fit's input is checked (scikit-learn's own messages)."""
        multi_output = self.__sklearn_tags__().target_tags.multi_output
        X, y = validate_data(
            self,
            X,
            y,
            dtype=[np.float64, np.float32],
            multi_output=multi_output,
            y_numeric=not isinstance(self, ClassifierMixin),
            accept_sparse=("csr", "csc"),
        )
        return X, self._encode_target(X, y)

    def _check_X(self, X):
        check_is_fitted(self, "params_")
        return validate_data(
            self, X, dtype=[np.float64, np.float32], reset=False, accept_sparse=("csr", "csc")
        )


def _leaf_dtype(params):
    leaves = [np.asarray(leaf) for leaf in pytree.flatten(params)[0]]
    return leaves[0].dtype if leaves else np.float64


@contextlib.contextmanager
def _compile_messages(verbose):
    """With verbose, what skautodiff traces and compiles (and how long it takes) is printed."""
    if not verbose:
        yield
        return
    log = logging.getLogger("skautodiff")
    handler = logging.StreamHandler(sys.stdout)
    handler.setFormatter(logging.Formatter("%(message)s"))
    level = log.level
    log.addHandler(handler)
    log.setLevel(logging.INFO)
    try:
        yield
        from . import tiers  # which compiled functions never reached their C tier in this fit

        for label in tiers.pending():
            log.info(
                "skautodiff: %s ran on the Python tier only; its C tier is still compiling "
                "in the background",
                label,
            )
    finally:
        log.removeHandler(handler)
        log.setLevel(level)


class _Progress:
    """The per-iteration callback: records the objective and, when verbose, prints a line per
    iteration (iteration, objective, gradient norm, elapsed time), scikit-learn style."""

    def __init__(self, verbose):
        self.verbose = verbose
        self.curve = []
        self.start = time.perf_counter()

    def __call__(self, intermediate_result):
        value = float(intermediate_result.fun)
        self.curve.append(value)
        if self.verbose:
            grads = pytree.flatten(intermediate_result.jac)[0]
            norm = float(np.sqrt(sum(np.sum(np.square(g)) for g in grads)))
            print(
                f"Iteration {len(self.curve):4d}, loss = {value:.8g}, "
                f"gradient norm = {norm:.3g}, elapsed = {time.perf_counter() - self.start:.3f} s"
            )


class AutodiffRegressor(RegressorMixin, AutodiffEstimator):
    """A regressor from a numpy loss.

    Parameters
    ----------
    loss : callable ``(params, X, y, **loss_kwargs) -> float``
        Objective to minimise; may take ``sample_weight``.
    init_params : pytree or callable ``(X, y, rng) -> pytree``
        Starting parameters (dicts, lists, tuples of arrays and numbers).
    predict_fn : callable ``(params, X) -> array``
    loss_kwargs : dict, optional
        Extra keyword arguments of the loss; numbers among them are hyperparameters that can
        change (``set_params(loss_kwargs__alpha=...)``) without recompiling.
    optimizer : str, default "L-BFGS-B"
        Any ``scipy.optimize.minimize`` method.
    max_iter : int, default 1000
    tol : float or None
        The optimiser's tolerance; None keeps scipy's default for the method.
    bounds : pytree of ``(low, high)`` pairs, optional
        Per parameter leaf, e.g. ``{"w": (0, None)}``; leaves left out are unbounded.
    warm_start : bool, default False
        Start the next fit from ``params_``.
    random_state : int, RandomState or None
        Seeds the ``rng`` given to ``init_params``.
    verbose : int, default 0
        1 prints a line per iteration.
    backend : {"c", "jax"}, default "c"
        What compiles the loss: PyTensor's C backend, or its JAX linker (XLA on CPU, GPU or TPU;
        needs ``pip install "skautodiff[jax]"``). See doc/backends.md.
    """

    predict_fn = None

    def __init__(
        self,
        loss=None,
        init_params=None,
        predict_fn=None,
        loss_kwargs=None,
        optimizer="L-BFGS-B",
        max_iter=1000,
        tol=None,
        bounds=None,
        warm_start=False,
        random_state=None,
        verbose=0,
        backend="c",
    ):
        self._set_functions(loss=loss, init_params=init_params, predict_fn=predict_fn)
        self.loss_kwargs = loss_kwargs
        self.optimizer = optimizer
        self.max_iter = max_iter
        self.tol = tol
        self.bounds = bounds
        self.warm_start = warm_start
        self.random_state = random_state
        self.verbose = verbose
        self.backend = backend

    def _encode_target(self, X, y):
        return y.astype(X.dtype, copy=False)

    def _example_target(self, X):
        return np.zeros(len(X), dtype=X.dtype)

    def predict(self, X):
        X = self._check_X(X)
        return np.asarray(self._user_function("predict_fn")(self.params_, X))


class AutodiffClassifier(ClassifierMixin, AutodiffEstimator):
    """A classifier from a numpy loss.

    Parameters are those of :class:`AutodiffRegressor`, with ``predict_fn`` replaced by:

    decision_fn : callable ``(params, X) -> scores``, optional
        Shape (n,) for two classes (positive means ``classes_[1]``), or (n, K). For two
        classes, (n, 2) scores are returned by ``decision_function`` as their difference.
    proba_fn : callable ``(params, X) -> probabilities``, optional
        Shape (n, K), or (n,) with the probability of ``classes_[1]`` for two classes.
    target_encoding : {"index", "onehot", "sign"}, default "index"
        How the loss receives ``y``: class indices 0..K-1 (integers), a one-hot (n, K) matrix,
        or +1/-1 (two classes only) in the data's float dtype.

    At least one of ``decision_fn`` and ``proba_fn`` is needed; ``predict`` uses the first,
    ``predict_proba`` exists only with ``proba_fn``.
    """

    decision_fn = None
    proba_fn = None
    target_encoding = "index"

    def __init__(
        self,
        loss=None,
        init_params=None,
        decision_fn=None,
        proba_fn=None,
        target_encoding="index",
        loss_kwargs=None,
        optimizer="L-BFGS-B",
        max_iter=1000,
        tol=None,
        bounds=None,
        warm_start=False,
        random_state=None,
        verbose=0,
        backend="c",
    ):
        self._set_functions(
            loss=loss, init_params=init_params, decision_fn=decision_fn, proba_fn=proba_fn
        )
        self.target_encoding = target_encoding
        self.loss_kwargs = loss_kwargs
        self.optimizer = optimizer
        self.max_iter = max_iter
        self.tol = tol
        self.bounds = bounds
        self.warm_start = warm_start
        self.random_state = random_state
        self.verbose = verbose
        self.backend = backend

    def _example_target(self, X):
        """Targets as the loss receives them (for tracing formulas), all of the first class."""
        if self.target_encoding == "onehot":
            return np.eye(len(self.classes_), dtype=X.dtype)[np.zeros(len(X), dtype=np.intp)]
        if self.target_encoding == "sign":
            return -np.ones(len(X), dtype=X.dtype)
        return np.zeros(len(X), dtype=np.intp)

    def _encode_target(self, X, y):
        check_classification_targets(y)
        self.classes_, index = np.unique(y, return_inverse=True)
        n_classes = len(self.classes_)
        if n_classes < 2:
            raise ValueError(
                f"a classifier needs samples of at least 2 classes; got {n_classes} class"
            )
        if self.target_encoding == "index":
            return index.astype(np.intp)
        if self.target_encoding == "onehot":
            return np.eye(n_classes, dtype=X.dtype)[index]
        if self.target_encoding == "sign":
            if n_classes != 2:
                raise ValueError(f'target_encoding="sign" needs exactly 2 classes; got {n_classes}')
            return np.where(index == 1, 1, -1).astype(X.dtype)
        raise ValueError(
            f'target_encoding must be "index", "onehot" or "sign"; got {self.target_encoding!r}'
        )

    @available_if(_has_function("decision_fn"))
    def decision_function(self, X):
        X = self._check_X(X)
        scores = np.asarray(self._user_function("decision_fn")(self.params_, X))
        if len(self.classes_) == 2 and scores.ndim == 2 and scores.shape[1] == 2:
            # scikit-learn's convention for two classes: one score, positive for classes_[1].
            scores = scores[:, 1] - scores[:, 0]
        return scores

    @available_if(_has_function("proba_fn"))
    def predict_proba(self, X):
        X = self._check_X(X)
        proba = np.asarray(self._user_function("proba_fn")(self.params_, X))
        if proba.ndim == 1:  # the probability of the positive class
            proba = np.column_stack([1 - proba, proba])
        return proba

    @available_if(_has_function("proba_fn"))
    def predict_log_proba(self, X):
        return np.log(self.predict_proba(X))

    def predict(self, X):
        if self._user_function("decision_fn", required=False) is not None:
            scores = self.decision_function(X)
            index = (scores > 0).astype(int) if scores.ndim == 1 else scores.argmax(axis=1)
        elif self._user_function("proba_fn", required=False) is not None:
            index = self.predict_proba(X).argmax(axis=1)
        else:
            raise TypeError(f"{type(self).__name__} needs decision_fn or proba_fn to predict")
        return self.classes_[index]
