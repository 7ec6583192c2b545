"""A loss split into row sums, compiled twice: per chunk (workers) and for the total (client).

Workers: f(params, chunk, n, c) -> (S_1..S_K on the chunk, gradient of sum_k c_k S_k), where n is
the total row count (it replaces the chunk's wherever the loss uses the row count as a number,
as np.mean does). Client: g(params, n, s) -> (G, dG/dparams, dG/ds), the loss with its row sums
replaced by the totals s. The gradient of the loss is dG/dparams + sum over chunks of the chunk
gradients with c = dG/ds (the chain rule). When G is linear in s (means and weighted sums), c does
not depend on s and one round of chunk evaluations per objective evaluation suffices.

Each process keeps its compiled functions in `_cache`, keyed like skautodiff's own cache but with
the row axis of the data always of any length: one compile per worker for every chunk size (a
1-row chunk is traced as 2 rows). Counted in skautodiff.cache_info().
"""

import threading

import numpy as np
import pytensor
import pytensor.tensor as pt
from pytensor.graph.replace import clone_replace
from pytensor.graph.rewriting.utils import rewrite_graph
from pytensor.graph.traversal import graph_inputs

from .. import compile as compiled
from .. import compiledir, pytree
from ..api import _wrt_names
from ..arguments import leaf_owners
from ..trace import trace
from .separable import count_input, split

_cache = {}  # key -> [SplitLoss], each valid while its trace's value guards hold
_lock = threading.RLock()


class SplitLoss:
    """One trace of a loss, split; its chunk and total functions compiled on first use."""

    def __init__(self, tr, data_names):
        self.trace = tr
        self.split = split(tr, data_names)
        self.entry = compiled.Entry(tr)  # converts a call's arguments to the compiled inputs
        self._chunk = self._total = None
        self.linear = None

    def _graph_parts(self):
        tr, parts = self.trace, self.split
        n_rows = count_input()
        counts = {v: pt.cast(n_rows, v.dtype) for v in parts.counts}
        wrt = [tr.inputs[i] for i in tr.wrt_leaves]
        return tr, parts, n_rows, counts, wrt

    def chunk_function(self):
        with _lock:
            if self._chunk is None:
                tr, parts, n_rows, counts, wrt = self._graph_parts()
                weights = pt.vector("row_sum_weights", dtype="float64")
                sums = [
                    pt.cast(s, "float64") for s in clone_replace(parts.row_sums, replace=counts)
                ]
                weighted = pt.sum(pt.stack(sums) * weights)
                grads = pytensor.grad(
                    weighted, wrt, disconnected_inputs="ignore", return_disconnected="zero"
                )
                outputs = [
                    pt.stack(sums),
                    pt.concatenate([pt.cast(g, "float64").ravel() for g in grads]),
                ]
                guards = [
                    pt.eq(g.var, np.array(g.outcome)) for g in tr.guards
                ]  # per chunk, its own shapes
                if guards:
                    outputs.append(pt.all(pt.stack(guards)))
                self._chunk = _compile(tr.all_inputs + [n_rows, weights], outputs)
            return self._chunk

    def total_function(self):
        with _lock:
            if self._total is None:
                tr, parts, n_rows, counts, wrt = self._graph_parts()
                # one scalar per row sum (not a vector: the gradient of s[k] refers to s's shape,
                # which would hide that dG/ds does not depend on s)
                s = [pt.scalar(f"row_sum_{k}", dtype="float64") for k in range(len(parts.row_sums))]
                replace = {
                    **counts,
                    **{S: pt.cast(s_k, S.dtype) for S, s_k in zip(parts.row_sums, s)},
                }
                (G,) = clone_replace([tr.outputs[0]], replace=replace)
                G = pt.cast(G, "float64")
                grads = pytensor.grad(
                    G, wrt, disconnected_inputs="ignore", return_disconnected="zero"
                )
                weights = pytensor.grad(
                    G, s, disconnected_inputs="ignore", return_disconnected="zero"
                )
                flat = (
                    pt.concatenate([pt.cast(g, "float64").ravel() for g in grads])
                    if grads
                    else pt.zeros(0)
                )
                self._total = _compile(tr.all_inputs + [n_rows, *s], [G, flat, pt.stack(weights)])
                # Linear in the row sums when dG/ds, simplified, no longer reads them (PyTensor's
                # raw gradients keep references, e.g. for broadcasting, that canonicalisation
                # removes; the compiled graph cannot tell: fusion merges dG/ds with G).
                simplified = rewrite_graph(pt.stack(weights), include=("canonicalize",))
                self.linear = not set(s) & set(graph_inputs([simplified]))
            return self._total


def _compile(inputs, outputs):
    fn = compiledir.build(
        lambda: pytensor.function(inputs, outputs, mode=compiled.mode(), on_unused_input="ignore")
    )
    compiled._stats["compiles"] += 1
    return compiled.Copies(fn)


class LossSpec:
    """What workers need to evaluate a loss on their chunks (sent once per fit): the loss, its
    arguments other than the parameters and the data, and the parameters' structure."""

    def __init__(self, loss, x0, kwargs, data_kwargs):
        self.loss, self.kwargs, self.data_kwargs = loss, dict(kwargs), tuple(data_kwargs)
        self.x0_flat, self.unravel = pytree.ravel(x0)

    def arguments(self, flat, X, y, extra):
        """(args, kwargs) of one loss call: the parameters from the flat vector, the chunk's data."""
        return (self.unravel(flat), X, y), {**self.kwargs, **dict(zip(self.data_kwargs, extra))}

    def data_names(self, call):
        """The loss's parameter names that receive row-indexed data (X, y, sample weights...)."""
        names = list(call.names)
        return {names[1], names[2], *self.data_kwargs}

    def split_loss(self, flat, X, y, extra):
        """The SplitLoss serving these arguments, traced (on at least 2 rows) if none does."""
        args, kwargs = self.arguments(flat, X, y, extra)
        wrt = set(_wrt_names(self.loss, 0, args, kwargs)[0])
        call = compiled.Call(self.loss, args, kwargs, wrt)
        data = self.data_names(call)
        owners = leaf_owners(call.key[2])
        key = (
            *call.key[:3],
            tuple(
                sig if owner not in data else (sig[0], _any_rows(sig[1]))
                for sig, owner in zip(call.key[3], owners)
            ),
            call.key[4],
        )
        for candidate in list(_cache.get(key, ())):
            if all(g.holds(call) for g in candidate.trace.value_guards):
                return candidate, call
        with _lock:
            for candidate in _cache.get(key, ()):
                if all(g.holds(call) for g in candidate.trace.value_guards):
                    return candidate, call
            example = [_two_rows(a) for a in (X, y, *extra)]
            a, k = self.arguments(flat, *example[:2], example[2:])
            tr = trace(self.loss, a, k, wrt)
            compiled._stats["traces"] += 1
            found = SplitLoss(tr, data)
            _cache.setdefault(key, []).append(found)
        return found, call


def _any_rows(shape):
    return shape if not shape or shape[0] == "sparse" else (None, *shape[1:])


def _two_rows(a):
    """An array with at least 2 rows (a 1-row chunk repeated): traced row axes stay any-length."""
    if a is None or np.ndim(a) == 0 or a.shape[0] >= 2:
        return a
    import scipy.sparse

    if scipy.sparse.issparse(a):
        return scipy.sparse.vstack([a, a], format=a.format)
    return np.concatenate([a, a])


def chunk_terms(spec, flat, n_rows, weights, X, y, *extra):
    """On a worker: (row sums on this chunk, gradient of their c-weighted sum), float64."""
    loss, call = spec.split_loss(flat, X, y, extra)
    # (a copy: arrays received from other processes may be unaligned, which PyTensor refuses)
    values = loss.entry.inputs(call) + [np.int64(n_rows), np.array(weights, dtype=np.float64)]
    outs = loss.chunk_function()(*values)
    if len(outs) == 3 and not outs[2]:
        raise RuntimeError(
            "the loss's traced branches do not hold on a chunk of the data (a branch "
            "on the data's shape?); fit on an in-memory array instead"
        )
    return np.array(outs[0]), np.array(outs[1])


def add_terms(*terms):
    """The sum of chunk_terms results (on a worker: one small result goes to the client)."""
    sums = np.sum([t[0] for t in terms], axis=0)
    grads = np.sum([t[1] for t in terms], axis=0)
    return sums, grads
