"""The stochastic optimisers (Adam, SGD) on dask input: minibatches chunk by chunk, where the chunks live.

Each epoch visits every row chunk once, one after another (a minibatch step depends on the one
before). The task of a chunk runs on the worker holding it: the compiled minibatch step
(stochastic.Stepper, one compile per worker) over that chunk's minibatches, starting from the
parameters and the optimiser's slots that the task of the previous chunk returned. The tasks of an
epoch are submitted as one chain of futures, so the state (parameters, slots, step count and loss
sum: a few small arrays) passes from worker to worker; the client waits once per epoch, for the
last task's state, and runs the epoch's bookkeeping (loss curve, tolerance, learning-rate schedule)
as the in-memory fit does (stochastic.train). Without a distributed Client the same tasks run here,
chunk after chunk.

Which minibatches, with `shuffle=True` (the default): per epoch the client draws, from the
estimator's random_state, first the order of the chunks (`rng.permutation(n_chunks)`), then one seed
per chunk (`rng.randint(2**31 - 1, size=n_chunks)`, indexed by chunk number); a chunk's rows are
shuffled by `np.random.RandomState(seed).permutation(chunk_rows)` and cut, in that order, into
minibatches of batch_size rows. A minibatch never spans two chunks: the last one of each chunk may
be shorter. With `shuffle=False` the chunks are visited in order and their rows cut as they are, so
when every chunk's length is a multiple of batch_size the minibatches are exactly those of the
in-memory fit with shuffle=False. `batch_size="auto"` is min(200, all rows), as in memory.
early_stopping (a validation split of the rows) is refused on dask input.
"""

import numpy as np
from sklearn.utils import gen_batches

from .. import pytree, stochastic


def fit_minibatches(est, X, y, sample_weight, incremental, classes=None):
    """est.fit (incremental=False: max_iter epochs) or est.partial_fit (one epoch) on dask input."""
    from sklearn.utils import check_random_state

    from .fit import _Chunks, prepared

    settings = est._stochastic_settings()
    if settings["early_stopping"] and not incremental:
        raise ValueError(
            f"{type(est).__name__}: early_stopping=True is not supported on dask input (it would "
            "split off a validation set of the rows); hold out validation chunks yourself, fit "
            "with early_stopping=False, or call partial_fit epoch by epoch and score in between"
        )
    first = not (incremental and hasattr(est, "params_"))
    X, y, loss, kwargs, data_kwargs = prepared(
        est, X, y, sample_weight, reset=first, partial_classes=(classes,) if incremental else None
    )
    rows_of = {name: value for name, value in data_kwargs.items() if name != "sample_weight"}
    stochastic.refuse_per_row_kwargs({**kwargs, **rows_of}, X.shape[0])
    rng = check_random_state(est.random_state)
    start = est._starting_params(X, y, rng) if first else est.params_
    params = pytree.tree_map(lambda leaf: np.array(leaf, dtype=X.dtype), start)
    chunks = _Chunks(X, y, list(data_kwargs.values()))

    def chunked(loss, params, kwargs, rule, hyper, slots):
        leaves, treedef, _ = pytree.flatten(params)
        spec = PassSpec(
            loss, treedef, kwargs, list(data_kwargs), rule, hyper, est.bounds, settings["shuffle"]
        )
        state = _State(
            rule,
            treedef,
            leaves,
            stochastic.initial_slots(rule, leaves) if slots is None else slots,
        )
        return state, _ChunkEpoch(chunks, spec, state)

    try:
        est._fit_stochastic(
            loss,
            params,
            X,
            y,
            kwargs,
            data_kwargs.get("sample_weight"),
            rng,
            incremental=incremental,
            like=start,
            chunked=chunked,
        )
    finally:
        chunks.release()
    return est


class PassSpec:
    """What a chunk's task needs besides the chunk and the state (sent once per fit): the loss,
    its other arguments, the parameters' structure, the update rule and its hyperparameters."""

    def __init__(self, loss, treedef, kwargs, data_kwargs, rule, hyper, bounds, shuffle):
        self.loss, self.treedef, self.kwargs = loss, treedef, dict(kwargs)
        self.data_kwargs, self.rule, self.hyper = tuple(data_kwargs), rule, list(hyper)
        self.bounds, self.shuffle = bounds, shuffle


class _State:
    """The parameters and the optimiser's slots between chunk passes, as arrays on the client: what
    stochastic.train reads of a Stepper (rule, params, slots, detach)."""

    def __init__(self, rule, treedef, leaves, slots):
        self.rule, self.treedef = rule, treedef
        self.leaves = [np.array(leaf) for leaf in leaves]
        self.slot_values = [np.array(slot) for slot in slots]

    def params(self):
        return pytree.unflatten(self.treedef, [np.array(leaf) for leaf in self.leaves])

    def slots(self):
        return [np.array(slot) for slot in self.slot_values]

    def detach(self):
        """Nothing is leased on the client (the workers' steppers detach in their tasks)."""


class _ChunkEpoch:
    """stochastic.train's `epoch`: one pass over all chunks, as the module docstring says."""

    def __init__(self, chunks, spec, state):
        self.chunks, self.spec, self.state = chunks, spec, state
        self.spec_future = None

    def __call__(self, state, rng, batch_size, rate_at, step):
        n_chunks = len(self.chunks.blocks[0])
        if self.spec.shuffle:
            order = rng.permutation(n_chunks)
            seeds = rng.randint(np.iinfo(np.int32).max, size=n_chunks)
        else:
            order, seeds = np.arange(n_chunks), [None] * n_chunks
        carried = (state.leaves, state.slot_values, 0.0, step)
        client = self.chunks.client
        if client is None:
            for k in order:
                carried = chunk_pass(
                    self.spec, carried, batch_size, rate_at, seeds[k], *self._blocks(k)
                )
        else:
            if self.spec_future is None:  # the loss and its settings: once per fit
                [self.spec_future] = client.scatter([self.spec], broadcast=True, hash=False)
            for k in order:  # a chain: each task takes the state its predecessor returns
                carried = client.submit(
                    chunk_pass,
                    self.spec_future,
                    carried,
                    batch_size,
                    rate_at,
                    seeds[k],
                    *self._blocks(k),
                    pure=False,
                )
            carried = carried.result()  # a task's error is raised here, as the worker raised it
        state.leaves, state.slot_values, accumulated, step = carried
        return accumulated, step

    def _blocks(self, k):
        return [blocks[k] for blocks in self.chunks.blocks]


def chunk_pass(spec, carried, batch_size, rate_at, seed, X, y, *extra):
    """On the worker holding a chunk: the minibatch steps over its rows, from the state `carried`
    (parameter leaves, slots, loss sum so far, step count); returns the state after them."""
    if X.shape[0] == 0:  # a chunk left empty (rows filtered out): no minibatches
        return carried
    leaves, slots, accumulated, step = carried
    params = pytree.unflatten(spec.treedef, leaves)
    kwargs = {**spec.kwargs, **dict(zip(spec.data_kwargs, extra))}
    weights = kwargs.pop("sample_weight", None)
    stepper = stochastic.Stepper(
        spec.loss, params, kwargs, spec.rule, spec.hyper, slots, bounds=spec.bounds
    )
    order = None if seed is None else np.random.RandomState(seed).permutation(X.shape[0])
    try:
        batches = list(gen_batches(X.shape[0], batch_size))
        loss_sum, step = stochastic.run_batches(
            stepper, X, y, weights, order, batches, rate_at, step
        )
    finally:
        slots = stepper.slots()  # detaches: the leased step goes back to its pool
    leaves = pytree.flatten(stepper.params())[0]
    return leaves, slots, accumulated + loss_sum, step
