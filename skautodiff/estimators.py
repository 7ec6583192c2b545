"""scikit-learn estimators over a loss written in plain numpy.

A model is four numpy functions: ``loss(params, X, y)``, ``init_params(X, y, rng)`` and one or two
prediction functions. They are given either to the constructor (functional form) or written as
methods of a subclass (subclass form); both are found under the same names, so ``self.loss`` is
the one path to the loss in either form. Fitting hands the loss to :func:`skautodiff.minimize`,
which traces and compiles it; prediction calls the user's numpy function directly on ``params_``.

Nothing compiled is stored on the estimator: compiled functions live in the process-wide cache,
so estimators pickle as plain data and clones made by ``GridSearchCV`` reuse one compilation.
"""

import functools
import inspect
import numbers
import time
import warnings

import numpy as np
from sklearn.base import BaseEstimator, ClassifierMixin, RegressorMixin
from sklearn.exceptions import ConvergenceWarning
from sklearn.utils import check_random_state
from sklearn.utils.multiclass import _check_partial_fit_first_call, check_classification_targets
from sklearn.utils.validation import _check_sample_weight, check_is_fitted, validate_data
from sklearn.utils._available_if import available_if

from . import backends, pytree
from .dask import dask_aware
from .pytree import tree_map

__all__ = ["AutodiffEstimator", "AutodiffRegressor", "AutodiffClassifier"]


def _accepts_keyword(fn, name):
    try:
        parameters = inspect.signature(fn).parameters.values()
    except (TypeError, ValueError):  # a builtin without a signature: assume it does not
        return False
    return any(p.name == name or p.kind is p.VAR_KEYWORD for p in parameters)


def _without_partial(loss, loss_kwargs):
    """(function, keyword arguments) of the loss: a ``functools.partial`` of keyword arguments
    becomes its function and those keywords, under ``loss_kwargs`` (which win, as keywords given
    at a call win over a partial's). The compiled layer takes plain functions: numbers bound by a
    partial then stay inputs of the compiled loss, like ``loss_kwargs``."""
    kwargs = dict(loss_kwargs or {})
    if not isinstance(loss, functools.partial):
        return loss, kwargs
    if loss.args:
        raise TypeError(
            f"the loss is functools.partial({getattr(loss.func, '__name__', loss.func)!r}, ...) with "
            f"{len(loss.args)} positional argument(s); fit passes the parameters first, so bind "
            "the loss's other arguments by keyword (partial(loss, alpha=0.1)) or use loss_kwargs"
        )
    return loss.func, {**loss.keywords, **kwargs}


def _has_function(name):
    """For available_if: does this estimator have the user function `name`?"""
    return lambda self: self._user_function(name, required=False) is not None


def _is_stochastic(self):
    """For available_if: partial_fit exists for the stochastic optimizers only."""
    from .stochastic import is_stochastic

    return is_stochastic(self.optimizer)


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
    # The stochastic optimizers' settings (optimizer="adam" or "sgd"), scikit-learn MLP's names and
    # defaults (stochastic.SETTINGS): given with a scipy optimizer, they are an error.
    batch_size = "auto"
    learning_rate = "constant"
    learning_rate_init = 0.001
    power_t = 0.5
    momentum = 0.9
    nesterovs_momentum = True
    beta_1 = 0.9
    beta_2 = 0.999
    epsilon = 1e-8
    shuffle = True
    early_stopping = False
    validation_fraction = 0.1
    n_iter_no_change = 10
    # Names of the settings above that a model uses for something of its own (HuberRegressor's
    # epsilon): for the optimiser they keep their defaults, and a scipy fit does not report them.
    _not_optimizer_settings = ()

    # ----------------------------------------------------------------- the user's functions

    def _set_functions(self, **functions):
        """The constructor's part for the user's functions: None is not stored, so that a
        subclass that calls ``super().__init__()`` keeps its methods of those names."""
        for name, fn in functions.items():
            if fn is not None:
                setattr(self, name, fn)

    def _set_settings(self, **settings):
        """The constructor's part for the stochastic optimizers' settings (stored as given)."""
        for name, value in settings.items():
            setattr(self, name, value)

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
        """Set parameters as scikit-learn does; ``loss_kwargs__alpha=0.1`` sets one entry of
        ``loss_kwargs``.

        Parameters
        ----------
        **params
            Estimator parameters, ``loss_kwargs__NAME`` entries, or nested ``step__name`` ones.

        Returns
        -------
        self
            The estimator.

        A subclass whose ``__init__`` leaves out a fit setting of the functional form (``tol``,
        ``max_iter``, ``optimizer``, ...: see _fit_settings) can still have it set here and in
        a grid search; clones keep it (``__sklearn_clone__``), ``get_params`` does not list it.
        """
        entries = {key: params.pop(key) for key in list(params) if key.startswith("loss_kwargs__")}
        if entries:
            loss_kwargs = dict(params.pop("loss_kwargs", self.loss_kwargs) or {})
            loss_kwargs.update(
                {key[len("loss_kwargs__") :]: value for key, value in entries.items()}
            )
            params["loss_kwargs"] = loss_kwargs
        unlisted = self._fit_settings() - set(self._get_param_names())
        for name in unlisted.intersection(params):
            setattr(self, name, params.pop(name))
        return super().set_params(**params)

    @classmethod
    def _fit_settings(cls):
        """The parameters of the functional form (AutodiffRegressor or AutodiffClassifier, read
        from its constructor) that only change how a fit runs, not what the model is: not the
        user's functions, and not target_encoding or multi_output, which the loss is written for."""
        functional = next(
            (base for base in cls.__mro__ if base in (AutodiffRegressor, AutodiffClassifier)), None
        )
        if functional is None:
            return set()
        model = {
            "loss",
            "init_params",
            "predict_fn",
            "decision_fn",
            "proba_fn",
            "target_encoding",
            "multi_output",
        }
        return set(functional._get_param_names()) - model

    def __sklearn_clone__(self):
        """scikit-learn's clone, keeping the fit settings that set_params set outside __init__'s
        parameters (they are instance attributes then)."""
        from sklearn.base import clone

        new = super().__sklearn_clone__()
        for name in self._fit_settings() - set(self._get_param_names()):
            if name in vars(self):
                setattr(new, name, clone(vars(self)[name], safe=False))
        return new

    # ----------------------------------------------------------------- fitting

    @dask_aware
    def fit(self, X, y, sample_weight=None):
        """Minimise ``loss(params, X, y, **loss_kwargs)`` from ``init_params``.

        With ``optimizer="adam"`` or ``"sgd"`` the loss is applied to minibatches of rows (X, y
        and sample_weight split alike), ``max_iter`` epochs at most.

        Parameters
        ----------
        X : array-like or sparse matrix (CSR, CSC) of shape (n_samples, n_features)
            Training data, float64 or float32 (the parameters take the data's dtype). A dask
            array or dataframe is fitted chunk by chunk on its workers (see doc/scaling.md).
        y : array-like of shape (n_samples,)
            Targets; a classifier encodes them as ``target_encoding`` says before the loss
            sees them.
        sample_weight : array-like of shape (n_samples,), optional
            Passed to the loss as the keyword ``sample_weight``, which the loss must then accept.

        Returns
        -------
        self
            The fitted estimator.
        """
        stochastic = self._check_optimizer()
        X, y = self._validate_fit_data(X, y)
        loss, kwargs, sample_weight = self._loss_and_kwargs(X, sample_weight)
        rng = check_random_state(self.random_state)
        start = self._starting_params(X, y, rng)
        params = tree_map(lambda leaf: np.array(leaf, dtype=X.dtype), start)
        if stochastic:
            self._fit_stochastic(
                loss, params, X, y, kwargs, sample_weight, rng, incremental=False, like=start
            )
            return self
        if sample_weight is not None:
            kwargs["sample_weight"] = sample_weight
        try:
            self._fit_params(loss, params, X, y, kwargs, like=start)
        except (ValueError, TypeError):
            # Only now, not before every fit (it costs one loss evaluation): a loss that does not
            # return a real scalar gets a message naming what it returned. Any other error is
            # raised as it is: the engine already shows it at the user's line.
            self._check_scalar_loss(loss, params, X, y, kwargs)
            raise
        return self

    @available_if(_is_stochastic)
    @dask_aware
    def partial_fit(self, X, y, classes=None, sample_weight=None):
        """One pass over the given rows in minibatches (optimizer "adam" or "sgd"), continuing
        from the previous call: scikit-learn's semantics. A classifier needs ``classes`` (every
        class that will ever be seen) on the first call. Dask input makes one pass over its
        chunks where they live (see doc/scaling.md)."""
        self._check_optimizer()
        first = not hasattr(self, "params_")
        X, y = self._validate_fit_data(X, y, reset=first, partial_classes=(classes,))
        loss, kwargs, sample_weight = self._loss_and_kwargs(X, sample_weight)
        rng = check_random_state(self.random_state)  # each call, as scikit-learn's MLP
        start = self._starting_params(X, y, rng) if first else self.params_
        params = tree_map(lambda leaf: np.array(leaf, dtype=X.dtype), start)
        self._fit_stochastic(
            loss, params, X, y, kwargs, sample_weight, rng, incremental=True, like=start
        )
        return self

    def _check_optimizer(self):
        """Whether the fit is stochastic; a scipy fit given stochastic-only settings is refused."""
        from . import stochastic

        settings = self._stochastic_settings()
        backends.check(self.backend)
        if not stochastic.is_stochastic(self.optimizer):
            stochastic.check_not_given(type(self).__name__, self.optimizer, settings)
            return False
        stochastic._check_settings(settings, self.max_iter, self.optimizer, type(self).__name__)
        return True

    def _stochastic_settings(self):
        """The stochastic optimizers' settings, by name (stochastic.SETTINGS)."""
        from .stochastic import SETTINGS

        return {
            name: default if name in self._not_optimizer_settings else getattr(self, name)
            for name, default in SETTINGS.items()
        }

    def _loss_and_kwargs(self, X, sample_weight):
        loss, kwargs = _without_partial(self._user_function("loss"), self.loss_kwargs)
        if sample_weight is not None:
            if not _accepts_keyword(loss, "sample_weight"):
                raise TypeError(
                    f"sample_weight was given to fit, but the loss {loss.__name__}() has no "
                    "`sample_weight` parameter; add one (e.g. `sample_weight=None`) to use weights"
                )
            sample_weight = _check_sample_weight(sample_weight, X, dtype=X.dtype)
        return loss, kwargs, sample_weight

    def _fit_stochastic(
        self, loss, params, X, y, kwargs, sample_weight, rng, incremental, like, chunked=None
    ):
        """The minibatch fit (stochastic.train). `chunked`, for dask input (dask/minibatch.py):
        (loss, params, kwargs, rule, hyper, slots) -> (stepper, epoch) that train runs instead of
        a Stepper over the batches of X."""
        from . import stochastic

        settings = self._stochastic_settings()
        tol = stochastic.DEFAULT_TOL if self.tol is None else self.tol
        owner = type(self).__name__
        early = settings["early_stopping"] and not incremental
        if settings["early_stopping"] and incremental:
            raise ValueError(f"{owner}: partial_fit does not support early_stopping=True")
        fresh = (
            not hasattr(self, "t_")
            or not hasattr(self, "_optimizer_slots")
            or not (self.warm_start or incremental)
        )
        if fresh:
            stochastic.start(self, early)
        validation = None
        if early:
            # checked against the rows given to fit: after the split the training rows are fewer
            # than a per-row argument's, and it would pass (make_stepper checks those)
            stochastic.refuse_per_row_kwargs(kwargs, X.shape[0])
            labels = self._decode_target(y)
            # scikit-learn's MLP stratifies when its target is one column: two classes only
            binary = isinstance(self, ClassifierMixin) and len(getattr(self, "classes_", ())) == 2
            stratify = labels if binary and np.ndim(labels) == 1 else None
            (X, y, sample_weight), (X_val, y_val, w_val) = stochastic.split_validation(
                X, y, sample_weight, settings["validation_fraction"], rng, stratify
            )
            y_val = self._decode_target(y_val)

            def score(params, X_val, y_val, w_val):
                self.params_ = params
                return self.score(X_val, y_val, sample_weight=w_val)

            validation = (X_val, y_val, w_val, score)
        rule = stochastic.rule_name(self.optimizer, settings["nesterovs_momentum"])
        names, _step = stochastic.RULES[rule]
        hyper = [settings["learning_rate_init" if n == "learning_rate" else n] for n in names]
        slots = self._optimizer_slots if incremental else None  # a new fit starts a new optimiser
        if chunked is None:
            backend = backends.check(self.backend)
            stepper, epoch = (
                stochastic.make_stepper(
                    backend, X, loss, params, kwargs, rule, hyper, slots, bounds=self.bounds
                ),
                None,
            )
        else:
            stepper, epoch = chunked(loss, params, kwargs, rule, hyper, slots)
        with _compile_messages(self.verbose):
            try:
                stochastic.train(
                    self,
                    stepper,
                    X,
                    y,
                    sample_weight,
                    settings,
                    rng,
                    max_iter=self.max_iter,
                    tol=tol,
                    incremental=incremental,
                    owner=owner,
                    validation=validation,
                    verbose=self.verbose,
                    epoch=epoch,
                )
            finally:
                stepper.detach()
        self.params_ = _restored(self.params_, like, X.dtype)

    def _starting_params(self, X, y, rng):
        """``params_`` (warm start) or what ``init_params`` gives (from ``rng``), as given: fit
        casts the leaves to the data's dtype (float32 data compiles and fits a float32 graph),
        and ``params_`` takes this structure's kinds of leaves back (see _restored)."""
        if self.warm_start and hasattr(self, "params_"):
            return self.params_
        init = self._user_function("init_params")
        return init(X, y, rng) if callable(init) else init

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

    def _fit_params(self, loss, params, X, y, kwargs, like):
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
        self.params_ = _restored(result.x, like, X.dtype)
        self.loss_ = float(result.fun)
        self.loss_curve_ = progress.curve
        self.n_iter_ = int(getattr(result, "nit", len(progress.curve)))
        self.converged_ = bool(result.success)
        if not result.success:
            hint = " Increase max_iter or scale the data." if self.n_iter_ >= self.max_iter else ""
            warnings.warn(  # noqa: B028 (the warning names the estimator; where fit was called adds nothing)
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
        """The fitted model's loss or prediction function as mathematics, traced at ``params_``.

        Parameters
        ----------
        of : {"loss", "predict"}, default "loss"
            Which function: the loss, or the prediction function (``predict_fn``,
            ``decision_fn`` or ``proba_fn``, the first the estimator has).

        Returns
        -------
        Formula
            See :func:`skautodiff.formula`.
        """
        from .api import formula

        check_is_fitted(self, "params_")
        X = np.zeros((2, self.n_features_in_), dtype=_leaf_dtype(self.params_))
        if of == "loss":
            y = self._example_target(X)
            loss, kwargs = _without_partial(self._user_function("loss"), self.loss_kwargs)
            return formula(loss, self.params_, X, y, **kwargs)
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

    def _validate_fit_data(self, X, y, reset=True, partial_classes=None):
        """The one place where fit's input is checked (scikit-learn's own messages);
        partial_fit passes ``(classes,)``."""
        multi_output = self.__sklearn_tags__().target_tags.multi_output
        try:
            X, y = validate_data(
                self,
                X,
                _target_columns(y),
                dtype=[np.float64, np.float32],
                multi_output=multi_output,
                y_numeric=not isinstance(self, ClassifierMixin),
                accept_sparse=("csr", "csc"),
                reset=reset,
            )
        except ValueError as error:
            if not str(error).startswith("y should be a 1d array") or not isinstance(
                self, RegressorMixin
            ):
                raise
            raise ValueError(
                f"{error} {type(self).__name__} takes one target column. For (n, k) targets "
                "(several outputs, or e.g. survival times with event indicators) pass "
                "multi_output=True (in a subclass: `multi_output = True` in its class body); the "
                "loss then receives y as an (n, k) array"
            ) from None
        return X, self._encode_target(X, y, partial_classes)

    def _check_X(self, X):
        check_is_fitted(self, "params_")
        return validate_data(
            self, X, dtype=[np.float64, np.float32], reset=False, accept_sparse=("csr", "csc")
        )


def _target_columns(y):
    """A structured (record) y as an (n, k) float array, one column per field in field order (one
    field: a 1-D array); any other y as it is (scikit-learn's validation handles the rest)."""
    names = getattr(getattr(y, "dtype", None), "names", None)
    if not names:
        return y
    for name in names:
        field = y.dtype.fields[name][0]
        if field.shape or field.kind not in "biuf":
            raise ValueError(
                f"y is a structured array and its field {name!r} has dtype {field}; only numeric "
                "or boolean scalar fields can be targets (each field becomes one column of y, "
                f"in the order {list(names)})"
            )
    columns = [np.asarray(y[name], dtype=np.float64) for name in names]
    return columns[0] if len(columns) == 1 else np.column_stack(columns)


# How a classifier's loss receives its targets, from their class indices (0 .. n_classes - 1):
# one table for the in-memory fit and the dask fit (which encodes chunk by chunk).
TARGET_ENCODINGS = {
    "index": lambda index, n_classes, dtype: index.astype(np.intp),
    "onehot": lambda index, n_classes, dtype: np.eye(n_classes, dtype=dtype)[index],
    "sign": lambda index, n_classes, dtype: np.where(index == 1, 1, -1).astype(dtype),
}


def check_target_encoding(encoding, n_classes):
    """A clear error for too few classes or an encoding that does not fit them."""
    if n_classes < 2:
        raise ValueError(f"a classifier needs samples of at least 2 classes; got {n_classes} class")
    if encoding not in TARGET_ENCODINGS:
        raise ValueError(f'target_encoding must be "index", "onehot" or "sign"; got {encoding!r}')
    if encoding == "sign" and n_classes != 2:
        raise ValueError(f'target_encoding="sign" needs exactly 2 classes; got {n_classes}')


def encode_target(index, encoding, n_classes, dtype):
    """Class indices as the loss receives them: `encoding` of TARGET_ENCODINGS, floats in `dtype`
    (the data's); call check_target_encoding first."""
    return TARGET_ENCODINGS[encoding](np.asarray(index), n_classes, dtype)


def _leaf_dtype(params):
    """The dtype params_ was fitted in (its first numpy leaf's: Python floats say nothing)."""
    leaves = [
        leaf for leaf in pytree.flatten(params)[0] if isinstance(leaf, (np.ndarray, np.generic))
    ]
    return leaves[0].dtype if leaves else np.float64


def _restored(fitted, like, dtype):
    """The fitted leaves in the kinds of leaves the starting parameters had: a Python number
    comes back as a Python float, a numpy scalar as a numpy scalar, an array as an array of the
    data's dtype (the optimiser works on arrays, so scalars come out of it 0-d)."""

    def restore(value, given):
        if isinstance(given, np.generic):  # first: np.float64 is also a Python float
            return dtype.type(np.asarray(value))
        if isinstance(given, (int, float)):  # bool is no leaf: it stays in the structure
            return float(np.asarray(value, dtype=dtype))  # the value fitted in the data's dtype
        return np.asarray(value, dtype=dtype)

    leaves, treedef, _ = pytree.flatten(fitted)
    return pytree.unflatten(
        treedef, [restore(v, g) for v, g in zip(leaves, pytree.flatten(like)[0])]
    )


def _compile_messages(verbose):
    """With verbose, what skautodiff traces and compiles, and on which tier it ran, is printed."""
    from .optimize import compile_messages  # imports PyTensor: only when fitting

    return compile_messages(verbose)


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
        What ``predict`` returns, from the fitted parameters.
    loss_kwargs : dict, optional
        Extra keyword arguments of the loss; numbers among them are hyperparameters that can
        change (``set_params(loss_kwargs__alpha=...)``) without recompiling.
    optimizer : str, default "L-BFGS-B"
        Any ``scipy.optimize.minimize`` method (full batch), or "adam" or "sgd" (minibatches;
        these add ``partial_fit``).
    max_iter : int, default 1000
        The optimiser's iteration limit.
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
        needs ``pip install "skautodiff[jax]"``). On JAX the data goes to the device once per fit
        and its rows are padded to a few sizes (a grid search's folds share compilations). The
        stochastic optimizers (``optimizer="adam"`` or ``"sgd"``) run their whole step (gradient
        and update) on the device, the state kept there between steps. See doc/backends.md.
    multi_output : bool, default False
        Whether ``y`` may have several columns: an (n, k) y (several outputs, or survival
        ``[time, event]``) reaches the loss and ``init_params`` as an (n, k) float array. Without
        it a 2-D y is refused (an (n, 1) column is flattened with a warning, scikit-learn's rule).
        A structured y becomes one float column per field, in field order.
    batch_size, learning_rate, learning_rate_init, power_t, momentum, nesterovs_momentum : optional
        The stochastic optimizers' settings (``optimizer="adam"`` or ``"sgd"``), with the names,
        meanings and defaults of ``sklearn.neural_network.MLPRegressor``'s (``solver`` there);
        ``max_iter`` then counts epochs and ``tol`` (None: 1e-4) is the improvement that resets
        ``n_iter_no_change``. As there, the schedules "invscaling" and "adaptive" apply to "sgd"
        only (Adam keeps ``learning_rate_init``, with a warning when one is set);
        ``learning_rate`` may also be a callable ``step -> rate`` (step: the updates made so far),
        which applies to both. Given with a scipy optimizer, they are an error. See
        doc/estimators.md.
    beta_1, beta_2, epsilon, shuffle, early_stopping, validation_fraction, n_iter_no_change : optional
        More of the stochastic optimizers' settings, as above.

    Attributes
    ----------
    params_ : pytree
        The fitted parameters, shaped like what ``init_params`` returned.
    loss_ : float
        The objective at ``params_``.
    loss_curve_ : list of float
        The objective after each iteration of the optimiser.
    n_iter_ : int
        The optimiser's iterations.
    converged_ : bool
        Whether the optimiser reported success (a fit that did not converge also warns).
    n_features_in_ : int
        The number of columns of ``X`` seen by ``fit``.
    t_, best_loss_, validation_scores_, best_validation_score_ : int, float or list
        With ``optimizer="adam"`` or ``"sgd"``: rows seen, the best epoch loss, and with early
        stopping the validation scores per epoch and the best of them (scikit-learn MLP's).

    See Also
    --------
    AutodiffClassifier : the same for classification.
    """

    predict_fn = None
    multi_output = False

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
        multi_output=False,
        batch_size="auto",
        learning_rate="constant",
        learning_rate_init=0.001,
        power_t=0.5,
        momentum=0.9,
        nesterovs_momentum=True,
        beta_1=0.9,
        beta_2=0.999,
        epsilon=1e-8,
        shuffle=True,
        early_stopping=False,
        validation_fraction=0.1,
        n_iter_no_change=10,
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
        self._set_settings(
            batch_size=batch_size,
            learning_rate=learning_rate,
            learning_rate_init=learning_rate_init,
            power_t=power_t,
            momentum=momentum,
            nesterovs_momentum=nesterovs_momentum,
            beta_1=beta_1,
            beta_2=beta_2,
            epsilon=epsilon,
            shuffle=shuffle,
            early_stopping=early_stopping,
            validation_fraction=validation_fraction,
            n_iter_no_change=n_iter_no_change,
        )
        self.multi_output = multi_output

    def __sklearn_tags__(self):
        tags = super().__sklearn_tags__()
        tags.target_tags.multi_output = bool(self.multi_output)
        return tags

    def _encode_target(self, X, y, partial_classes=None):
        if partial_classes is not None and partial_classes[0] is not None:
            raise ValueError(f"{type(self).__name__} is a regressor: partial_fit takes no classes")
        self._target_shape = y.shape[1:]  # for formula(): (k,) for an (n, k) target
        return y.astype(X.dtype, copy=False)

    def _decode_target(self, y):
        return y

    def _example_target(self, X):
        return np.zeros((len(X), *getattr(self, "_target_shape", ())), dtype=X.dtype)

    @dask_aware
    def predict(self, X):
        """``predict_fn(params_, X)``.

        Parameters
        ----------
        X : array-like or sparse matrix of shape (n_samples, n_features)
            Samples.

        Returns
        -------
        ndarray
            The predictions.
        """
        X = self._check_X(X)
        return np.asarray(self._user_function("predict_fn")(self.params_, X))

    score = dask_aware(RegressorMixin.score)


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

    Attributes
    ----------
    params_ : pytree
        The fitted parameters, shaped like what ``init_params`` returned.
    loss_ : float
        The objective at ``params_``.
    loss_curve_ : list of float
        The objective after each iteration of the optimiser.
    n_iter_ : int
        The optimiser's iterations.
    converged_ : bool
        Whether the optimiser reported success (a fit that did not converge also warns).
    n_features_in_ : int
        The number of columns of ``X`` seen by ``fit``.
    classes_ : ndarray
        The class labels, sorted; the loss sees their indices.

    See Also
    --------
    AutodiffRegressor : the same for regression, and the other parameters.
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
        batch_size="auto",
        learning_rate="constant",
        learning_rate_init=0.001,
        power_t=0.5,
        momentum=0.9,
        nesterovs_momentum=True,
        beta_1=0.9,
        beta_2=0.999,
        epsilon=1e-8,
        shuffle=True,
        early_stopping=False,
        validation_fraction=0.1,
        n_iter_no_change=10,
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
        self._set_settings(
            batch_size=batch_size,
            learning_rate=learning_rate,
            learning_rate_init=learning_rate_init,
            power_t=power_t,
            momentum=momentum,
            nesterovs_momentum=nesterovs_momentum,
            beta_1=beta_1,
            beta_2=beta_2,
            epsilon=epsilon,
            shuffle=shuffle,
            early_stopping=early_stopping,
            validation_fraction=validation_fraction,
            n_iter_no_change=n_iter_no_change,
        )

    def _example_target(self, X):
        """Targets as the loss receives them (for tracing formulas), all of the first class."""
        index = np.zeros(len(X), dtype=np.intp)
        return encode_target(index, self.target_encoding, len(self.classes_), X.dtype)

    def _encode_target(self, X, y, partial_classes=None):
        check_classification_targets(y)
        if partial_classes is None:
            classes, index = np.unique(y, return_inverse=True)
            if self.warm_start and hasattr(self, "params_") and hasattr(self, "classes_"):
                # params_ were fitted for those classes (one output per class, say): scikit-learn's
                # MLP refuses the same way
                if not np.array_equal(classes, self.classes_):
                    raise ValueError(
                        "warm_start can only be used where `y` has the same classes as in the "
                        f"previous call to fit. Previously got {self.classes_}, `y` has {classes}"
                    )
            self.classes_ = classes
        else:
            index = self._partial_fit_index(y, partial_classes[0])
        check_target_encoding(self.target_encoding, len(self.classes_))
        return encode_target(index, self.target_encoding, len(self.classes_), X.dtype)

    def _partial_fit_index(self, y, classes):
        """Class indices of y in partial_fit: `classes` is required on the first call and fixes
        classes_ (later calls may repeat it, unchanged), as in scikit-learn."""
        if _check_partial_fit_first_call(self, classes):  # raises without classes on the first call
            self.classes_ = np.unique(classes)
        index = np.searchsorted(self.classes_, y)
        unknown = (index >= len(self.classes_)) | (
            self.classes_[np.minimum(index, len(self.classes_) - 1)] != y
        )
        if np.any(unknown):
            raise ValueError(
                f"y contains classes not in classes={self.classes_.tolist()}: "
                f"{np.unique(y[unknown]).tolist()}"
            )
        return index

    def _decode_target(self, y):
        """Class labels from targets as the loss receives them."""
        if self.target_encoding == "onehot":
            return self.classes_[np.argmax(y, axis=1)]
        if self.target_encoding == "sign":
            return self.classes_[(y > 0).astype(np.intp)]
        return self.classes_[y]

    @available_if(_has_function("decision_fn"))
    @dask_aware
    def decision_function(self, X):
        """``decision_fn(params_, X)``: one score per sample for two classes, else one per class.

        Parameters
        ----------
        X : array-like or sparse matrix of shape (n_samples, n_features)
            Samples.

        Returns
        -------
        ndarray of shape (n_samples,) or (n_samples, n_classes)
            The scores; for two classes, positive means ``classes_[1]``.
        """
        X = self._check_X(X)
        scores = np.asarray(self._user_function("decision_fn")(self.params_, X))
        if len(self.classes_) == 2 and scores.ndim == 2 and scores.shape[1] == 2:
            # scikit-learn's convention for two classes: one score, positive for classes_[1].
            scores = scores[:, 1] - scores[:, 0]
        return scores

    @available_if(_has_function("proba_fn"))
    @dask_aware
    def predict_proba(self, X):
        """``proba_fn(params_, X)``, one column per class.

        Parameters
        ----------
        X : array-like or sparse matrix of shape (n_samples, n_features)
            Samples.

        Returns
        -------
        ndarray of shape (n_samples, n_classes)
            The class probabilities, in the order of ``classes_``.
        """
        X = self._check_X(X)
        proba = np.asarray(self._user_function("proba_fn")(self.params_, X))
        if proba.ndim == 1:  # the probability of the positive class
            proba = np.column_stack([1 - proba, proba])
        return proba

    @available_if(_has_function("proba_fn"))
    @dask_aware
    def predict_log_proba(self, X):
        """The logarithm of :meth:`predict_proba`.

        Parameters
        ----------
        X : array-like or sparse matrix of shape (n_samples, n_features)
            Samples.

        Returns
        -------
        ndarray of shape (n_samples, n_classes)
            The log-probabilities.
        """
        return np.log(self.predict_proba(X))

    score = dask_aware(ClassifierMixin.score)

    @dask_aware
    def predict(self, X):
        """The class of highest score (``decision_fn``) or probability (``proba_fn``).

        Parameters
        ----------
        X : array-like or sparse matrix of shape (n_samples, n_features)
            Samples.

        Returns
        -------
        ndarray of shape (n_samples,)
            Labels from ``classes_``.
        """
        if self._user_function("decision_fn", required=False) is not None:
            scores = self.decision_function(X)
            index = (scores > 0).astype(int) if scores.ndim == 1 else scores.argmax(axis=1)
        elif self._user_function("proba_fn", required=False) is not None:
            index = self.predict_proba(X).argmax(axis=1)
        else:
            raise TypeError(f"{type(self).__name__} needs decision_fn or proba_fn to predict")
        return self.classes_[index]
