"""Fitting an AutodiffEstimator on dask arrays or dataframes without gathering the data.

The data stay where they are (persisted on the workers). Each objective evaluation sends the
parameters to every worker once (`Client.scatter(..., broadcast=True)`), each chunk's row sums and
gradient are computed where the chunk lives (chunked.chunk_terms), added on a worker, and only
that sum (K numbers and one gradient vector) reaches the client, which adds the part of the
parameters alone and drives scipy's optimiser. Without a distributed Client the chunks are
computed into this process and evaluated one after another (the same arithmetic).
"""

import copy
import warnings

import numpy as np
import scipy.optimize

from .. import backends, optimize, pytree
from ..optimize import _flat_bounds, _method_uses, method_name, scipy_blas_single_thread
from .chunked import LossSpec, add_terms, chunk_terms
from .rowargs import split_kwargs


def fit(est, X, y, sample_weight=None):
    """est.fit(X, y) for dask X and y: sets params_ and the other fitted attributes."""
    from sklearn.exceptions import ConvergenceWarning

    from sklearn.utils import check_random_state

    from ..estimators import _compile_messages, _Progress, _restored

    stochastic = est._check_optimizer()
    _check_backend(est)
    if stochastic:  # adam or sgd: minibatches chunk by chunk
        from .minibatch import fit_minibatches

        return fit_minibatches(est, X, y, sample_weight, incremental=False)
    if _method_uses(est.optimizer, est.bounds) in ("hessp", "hess"):
        raise ValueError(
            f"optimizer={method_name(est.optimizer)!r} needs Hessian-vector products, which a fit "
            "on dask input does not compute; use a gradient method such as L-BFGS-B"
        )
    X, y, loss, kwargs, data_kwargs = prepared(est, X, y, sample_weight)
    start = est._starting_params(X, y, check_random_state(est.random_state))
    x0 = pytree.tree_map(lambda leaf: np.array(leaf, dtype=X.dtype), start)
    chunks = _Chunks(X, y, list(data_kwargs.values()))
    progress = _Progress(est.verbose)
    tol, options = est._optimizer_settings()
    x0_flat, unravel = pytree.ravel(x0)
    bounds = _flat_bounds(est.bounds, x0)
    problem = _Problem(
        loss, list(data_kwargs), chunks, est.optimizer, bounds, tol, options, progress
    )
    try:
        with _compile_messages(est.verbose), scipy_blas_single_thread():
            result = problem.solve(x0, x0_flat, (), kwargs)
            if optimize._low_precision(x0):  # as in memory: float64 where float32 stopped short
                result = problem.refine(result, x0, (), kwargs)
    finally:
        chunks.release()
    est.params_ = _restored(unravel(result.x), start, X.dtype)
    est.loss_ = float(result.fun)
    est.loss_curve_ = progress.curve
    est.n_iter_ = int(getattr(result, "nit", len(progress.curve)))
    est.converged_ = bool(result.success)
    est.chunk_evaluations_ = problem.rounds
    if not result.success:
        warnings.warn(
            f"{type(est).__name__}: {method_name(est.optimizer)} did not converge after "
            f"{est.n_iter_} iterations ({result.message}).",
            ConvergenceWarning,
            stacklevel=2,
        )
    return est


def partial_fit(est, X, y, classes=None, sample_weight=None):
    """est.partial_fit(X, y) for dask X and y: one pass over the chunks (dask/minibatch.py)."""
    from .minibatch import fit_minibatches

    est._check_optimizer()
    _check_backend(est)
    return fit_minibatches(est, X, y, sample_weight, incremental=True, classes=classes)


def _check_backend(est):
    if backends.check(est.backend) != "c":
        raise ValueError(
            f"backend={est.backend!r}: a fit on dask input runs on the C backend only (its "
            'per-chunk functions are C functions); use backend="c", or compute X and y into '
            "numpy arrays to fit with JAX"
        )


def prepared(est, X, y, sample_weight, reset=True, partial_classes=None):
    """(X, y, loss, loss_kwargs, {name: row-indexed dask array}) for a fit on dask input: the
    arrays aligned on X's row chunks, y encoded as the loss receives it, sample weights checked
    against the loss's parameters. Sets (reset) or checks n_features_in_, as in memory."""
    from ..estimators import _accepts_keyword, _without_partial

    X, y, weights = _aligned_arrays(X, y, sample_weight)
    if reset:
        est.n_features_in_ = X.shape[1]
    elif X.shape[1] != est.n_features_in_:
        raise ValueError(
            f"X has {X.shape[1]} features, but {type(est).__name__} is expecting "
            f"{est.n_features_in_} features as input."
        )
    y = _encode_target(est, X, y, partial_classes)
    loss, kwargs = _without_partial(est._user_function("loss"), est.loss_kwargs)
    kwargs, data_kwargs = split_kwargs(kwargs, X)  # per-row arrays are chunked with X's rows
    if weights is not None:
        if not _accepts_keyword(loss, "sample_weight"):
            raise TypeError(
                f"sample_weight was given to fit, but the loss {loss.__name__}() has no "
                "`sample_weight` parameter; add one (e.g. `sample_weight=None`) to use weights"
            )
        data_kwargs["sample_weight"] = weights.astype(X.dtype)
    return X, y, loss, kwargs, data_kwargs


def _aligned_arrays(X, y, sample_weight):
    """X, y and sample weights as dask arrays with the same row chunks, X in one column chunk."""
    import dask.array as da

    X = _as_dask_array(X, "X")
    if X.ndim != 2:
        raise ValueError(
            f"X must be 2-dimensional (rows, features); got a dask array of shape {X.shape}"
        )
    if X.dtype not in (np.float32, np.float64):
        X = X.astype(np.float64)
    X = X.rechunk({1: -1})
    rows = X.chunks[0]

    def rows_like(v, name):
        v = (
            _as_dask_array(v, name)
            if not isinstance(v, np.ndarray)
            else da.from_array(v, chunks=-1)
        )
        if v.shape[0] != X.shape[0]:
            raise ValueError(f"{name} has {v.shape[0]} rows but X has {X.shape[0]}")
        return v.rechunk({0: rows, **{a: -1 for a in range(1, v.ndim)}})

    y = rows_like(y, "y")
    if y.ndim == 2 and y.shape[1] == 1:
        y = y[:, 0]
    return X, y, (rows_like(sample_weight, "sample_weight") if sample_weight is not None else None)


def _as_dask_array(v, name):
    if hasattr(v, "to_dask_array"):  # dask DataFrame or Series
        v = v.to_dask_array(lengths=True)
    elif not hasattr(v, "chunks"):
        import dask.array as da

        v = da.asarray(v)
    if any(np.isnan(n) for n in v.shape):
        v = v.compute_chunk_sizes()
    return v


def _encode_target(est, X, y, partial_classes=None):
    """y as the loss receives it, computed chunk by chunk (the classes found over all chunks, or
    partial_fit's `classes`, with y's checked against them) with the in-memory fit's encodings."""
    from sklearn.base import ClassifierMixin

    from ..estimators import check_target_encoding

    if not isinstance(est, ClassifierMixin):
        if partial_classes is not None and partial_classes[0] is not None:
            raise ValueError(f"{type(est).__name__} is a regressor: partial_fit takes no classes")
        est._target_shape = y.shape[1:]  # for formula(), as in memory
        return y.astype(X.dtype)
    import dask.array as da

    present = np.unique(da.unique(y).compute())
    if partial_classes is None:
        est.classes_ = present
    else:  # classes required on the first call; y's must be among them (as in memory)
        est._partial_fit_index(present, partial_classes[0])
    classes, encoding = est.classes_, est.target_encoding
    check_target_encoding(encoding, len(classes))
    onehot = {"chunks": (y.chunks[0], (len(classes),)), "new_axis": 1}
    return y.map_blocks(
        _encoded,
        classes,
        encoding,
        X.dtype,
        dtype=np.intp if encoding == "index" else X.dtype,
        **(onehot if encoding == "onehot" else {}),
    )


def _encoded(y, classes, encoding, dtype):
    """One chunk of labels encoded (estimators.encode_target), with the classes of all chunks."""
    from ..estimators import encode_target

    return encode_target(np.searchsorted(classes, y), encoding, len(classes), dtype)


class _Chunks:
    """The data's row chunks, and one round of chunk evaluations at given parameters."""

    def __init__(self, X, y, extra):
        self.n_rows = int(X.shape[0])
        self.head = [_head(a) for a in (X, y, *extra)]
        try:
            from distributed import get_client

            self.client = get_client()
        except (ImportError, ValueError):
            self.client = None
        self.terms = chunk_terms
        arrays = [X, y, *extra]
        if self.client is None:  # no cluster: the chunks are computed here
            self.blocks = [
                [np.asarray(b) if not _is_sparse(b) else b for b in _blocks(a.persist())]
                for a in arrays
            ]
            return
        from distributed import futures_of

        persisted = self.client.persist(arrays)
        self._persisted = persisted
        by_key = {f.key: f for a in persisted for f in futures_of(a)}
        self.blocks = [[by_key[k] for k in _keys(a)] for a in persisted]
        self.spec_future = None

    def evaluate(self, spec, flat, weights):
        """(row sums, gradient of their weighted sum) over all chunks."""
        if self.client is None:
            terms = [
                self.terms(spec, flat, self.n_rows, weights, *parts) for parts in zip(*self.blocks)
            ]
            return add_terms(*terms)
        client = self.client
        if self.spec_future is None:  # the loss and its settings: once per fit
            [self.spec_future] = client.scatter([spec], broadcast=True, hash=False)
        [params] = client.scatter([np.asarray(flat)], broadcast=True, hash=False)  # once per round
        futures = client.map(
            self.terms,
            *([x] * len(self.blocks[0]) for x in (self.spec_future, params)),
            [self.n_rows] * len(self.blocks[0]),
            [weights] * len(self.blocks[0]),
            *self.blocks,
            pure=False,
        )
        total = client.submit(add_terms, *futures, pure=False)
        return total.result()

    def in_float64(self):
        """These chunks as float64 data (a float32 fit refined in float64): each task casts its
        chunk, so nothing is copied where the chunks live."""
        if not any(_low_precision_data(h) for h in self.head):
            return self
        cast = copy.copy(self)
        cast.head = [optimize._to_float64(h) for h in self.head]
        cast.terms = _float64_terms
        cast.spec_future = None  # the float64 spec goes to the workers anew
        return cast

    def release(self):
        self.blocks = None
        self._persisted = None


def _low_precision_data(a):
    return a.dtype.kind == "f" and a.dtype.itemsize < 8


def _float64_terms(spec, flat, n_rows, weights, *blocks):
    """chunk_terms on the chunk's float arrays cast to float64 (the index targets stay integers)."""
    return chunk_terms(spec, flat, n_rows, weights, *(optimize._to_float64(b) for b in blocks))


def _blocks(a):
    return [a.blocks[i].compute() for i in range(a.numblocks[0])]


def _keys(a):
    keys = a.__dask_keys__()
    while isinstance(keys[0], list):  # [[(name, i, 0)], ...] for 2-D arrays
        keys = [k[0] if isinstance(k, list) else k for k in keys]
    return keys


def _head(a):
    """The first rows of the first chunk (at least 2 when there are): the client traces on them."""
    head = a.blocks[0][:2].compute() if a.chunks[0][0] >= 2 else a[:2].compute()
    return head


def _is_sparse(b):
    import scipy.sparse

    return scipy.sparse.issparse(b)


class _Problem(optimize._Problem):
    """optimize's one fit, evaluated chunk by chunk: solve from a starting point, then (refine,
    inherited) for float32 parameters, again in float64 where float32 stopped short of the
    tolerance, with the chunks cast to float64 in their tasks (the data stay float32 where they
    live). `progress` (the estimator's) sees every iteration of both."""

    def __init__(self, loss, data_names, chunks, method, bounds, tol, options, progress):
        super().__init__(loss, 0, method, "grad", bounds, tol, options, None, None)
        self.data_names, self.chunks = data_names, chunks
        self.progress, self.rounds = progress, 0

    def solve(self, x0, x_flat, args, kwargs, options=None):
        """One scipy run from x_flat; x0's dtypes say which: float64 ones evaluate float64 chunks."""
        spec = LossSpec(self.fn, x0, kwargs, self.data_names)
        chunks = self.chunks if optimize._low_precision(x0) else self.chunks.in_float64()
        objective = self.objective = _Objective(spec, chunks, x0)

        def callback(intermediate_result):
            objective.iterations += 1
            jac = objective.at(intermediate_result.x)[1]
            self.progress(scipy.optimize.OptimizeResult(fun=intermediate_result.fun, jac=jac))

        try:
            return scipy.optimize.minimize(
                objective,
                x_flat,
                jac=True,
                method=self.method,
                tol=self.tol,
                options=self.options if options is None else options,
                bounds=self.bounds,
                callback=callback,
            )
        except optimize._NonFinite as stop:  # as in memory: the best point evaluated
            return objective.stopped(str(stop))
        finally:
            self.rounds += objective.rounds


class _Objective(optimize._Objective):
    """scipy's objective over all chunks: flat parameters -> (loss, gradient). The in-memory
    objective's bookkeeping (evaluations, the best point, a NaN or infinite evaluation ending the
    fit) with the evaluation done chunk by chunk."""

    def __init__(self, spec, chunks, x0):
        super().__init__(spec.loss, 0, x0, None, uses_gradient=True)
        self.spec, self.chunks = spec, chunks
        head = chunks.head
        self.total, self.call = spec.split_loss(spec.x0_flat, head[0], head[1], head[2:])
        self.total_fn = self.total.total_function()
        self.values = self.total.entry.inputs(self.call)
        self.param_indices = self.call.wrt_indices
        self.signature = [self.total.trace.signature[i] for i in self.param_indices]
        self.k = len(self.total.split.row_sums)
        self.rounds = 0

    def _total(self, flat, sums):
        from ..inputs import input_value

        leaves = pytree.flatten(self.spec.unravel(flat))[0]
        values = list(self.values)
        for i, leaf, sig in zip(self.param_indices, leaves, self.signature):
            values[i] = input_value(leaf, *sig)
        G, grad, weights = self.total_fn(
            *values, np.int64(self.chunks.n_rows), *np.array(sums, dtype=np.float64)
        )  # a copy: aligned
        return float(G), np.array(grad), np.array(weights)

    def _evaluate(self, flat):
        flat = np.array(flat, dtype=np.float64)
        if self.total.linear:  # dG/ds does not depend on the row sums: one round
            weights = self._total(flat, np.zeros(self.k))[2]
            sums, chunk_grad = self._round(flat, weights)
        else:  # the row sums first, then the chunk gradients weighted at them
            sums, _ = self._round(flat, np.zeros(self.k))
            weights = self._total(flat, sums)[2]
            _, chunk_grad = self._round(flat, weights)
        value, grad, _ = self._total(flat, sums)
        return value, grad + chunk_grad

    def _round(self, flat, weights):
        self.rounds += 1
        return self.chunks.evaluate(self.spec, flat, weights)
