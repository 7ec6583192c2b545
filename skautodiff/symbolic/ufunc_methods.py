"""numpy ufunc methods in PyTensor: reduce, accumulate (running max/min, log-cumsum-exp), outer, at.

FUNCTIONS is keyed by (ufunc, "reduce" | "accumulate" | "outer" | "at"); INPLACE names the argument
that the ufunc.at rules update in place. Rules follow the contract in doc/architecture.md ("Symbolic
rules"), summed up in _common.py.
"""

import numpy as np
import pytensor.tensor as pt
from pytensor.gradient import zero_grad
from pytensor.graph.basic import Apply
from pytensor.graph.op import Op

from ._common import (
    MISSING,
    as_tensor,
    cast,
    contains_var,
    given,
    maximum,
    minimum,
    normalize_axis,
    refuse,
)
from .reductions import _all, _any, _cumprod, _cumsum, _max, _min, _prod, _sum


# --------------------------------------------------------------------------------------------
# ufunc methods: (ufunc, "reduce" | "accumulate" | "outer" | "at")
# --------------------------------------------------------------------------------------------


def _reduce_via(fn, name):
    # ufunc.reduce defaults to axis=0, unlike np.sum
    def rule(array, axis=0, dtype=None, out=None, keepdims=False, initial=MISSING, where=True):
        return fn(array, axis, dtype, out, keepdims, initial, where)

    rule.__name__ = f"_{name}_reduce"
    return rule


def _reduce_logical(fn, name):
    def rule(array, axis=0, dtype=None, out=None, keepdims=False, initial=MISSING, where=True):
        refuse(f"np.{name}.reduce", initial=(initial, MISSING))
        return fn(array, axis, out, keepdims, where=where)

    rule.__name__ = f"_{name}_reduce"
    return rule


def _logsumexp_reduce(a, axis=0, dtype=None, out=None, keepdims=False, initial=MISSING, where=True):
    """np.logaddexp.reduce: log(sum(exp(a))) along axis, shifted by the maximum for stability."""
    refuse("np.logaddexp.reduce", out=(out, None), where=(where, True))
    a = cast(as_tensor(a), dtype)
    axes = normalize_axis(axis, a.ndim)
    if given(initial):
        raise NotImplementedError("np.logaddexp.reduce(initial=...) is not supported")
    # the shift cancels mathematically; zero_grad keeps max's tie-breaking out of the gradient
    shift = zero_grad(pt.max(a, axis=axes, keepdims=True))
    shift = pt.switch(pt.isfinite(shift), shift, 0)
    result = shift + pt.log(pt.sum(pt.exp(a - shift), axis=axes, keepdims=True))
    if keepdims:
        return result
    return result.dimshuffle([d for d in range(a.ndim) if axes is not None and d not in axes])


class ArgCumExtreme(Op):
    """Index of the running maximum (or minimum) along an axis.

    PyTensor has no cummax; taking `x` at these indices gives the running extreme with the gradient
    routed to the element that attains it (take_along_axis differentiates). The indices themselves
    are piecewise constant in x, hence the zero gradient.
    """

    __props__ = ("kind", "axis")

    def __init__(self, kind, axis):
        self.kind = kind
        self.axis = axis

    def make_node(self, x):
        x = pt.as_tensor_variable(x)
        return Apply(self, [x], [pt.tensor(dtype="int64", shape=x.type.shape)])

    def perform(self, node, inputs, outputs):
        (x,) = inputs
        ufunc = np.maximum if self.kind == "max" else np.minimum
        running = ufunc.accumulate(x, axis=self.axis)
        shape = [1] * x.ndim
        shape[self.axis] = x.shape[self.axis]
        position = np.arange(x.shape[self.axis]).reshape(shape)
        # a NaN (for floats) takes over the running extreme from its position on, as in numpy
        hit = (x == running) | (np.isnan(x) if x.dtype.kind in "fc" else False)
        outputs[0][0] = np.maximum.accumulate(np.where(hit, position, 0), axis=self.axis).astype(
            "int64"
        )

    def infer_shape(self, *args):
        # (fgraph, node, shapes) in pytensor 3.0; (node, shapes) from 3.3, which warns about fgraph
        return args[-1]

    def grad(self, inputs, output_grads):
        return [pt.zeros_like(inputs[0], dtype=pt.config.floatX)]


def _cum_extreme(kind):
    def rule(a, axis=0, dtype=None, out=None):
        refuse(f"np.{kind}imum.accumulate", out=(out, None))
        a = cast(as_tensor(a), dtype)
        axis = int(axis) % a.ndim
        return pt.take_along_axis(a, ArgCumExtreme(kind, axis)(a), axis=axis)

    rule.__name__ = f"_cum{kind}"
    return rule


def _logcumsumexp(a, axis=0, dtype=None, out=None):
    """np.logaddexp.accumulate: running log(sum(exp)), e.g. survival risk sets.

    The shift c is the midpoint of the range along the axis, so exp(a - c) neither overflows nor
    underflows while max(a) - min(a) < ~1400 (float64; ~170 in float32). c cancels mathematically
    and zero_grad keeps it out of the gradient. Pure PyTensor ops, so every order of derivative and
    the C backend work.
    """
    refuse("np.logaddexp.accumulate", out=(out, None))
    a = cast(as_tensor(a), dtype)
    axis = int(axis) % a.ndim
    high = pt.max(a, axis=axis, keepdims=True)
    low = pt.min(pt.switch(pt.eq(a, -np.inf), high, a), axis=axis, keepdims=True)
    shift = (high + low) / 2
    shift = zero_grad(pt.switch(pt.isfinite(shift), shift, 0))
    return shift + pt.log(pt.cumsum(pt.exp(a - shift), axis=axis))


def _outer_via(binary, name):
    def rule(A, B, /, **kwargs):
        refuse(
            f"np.{name}.outer",
            out=(kwargs.get("out"), None),
            where=(kwargs.get("where", True), True),
        )
        A, B = as_tensor(A), as_tensor(B)
        return binary(pt.shape_padright(A, B.ndim), pt.shape_padleft(B, A.ndim))

    rule.__name__ = f"_{name}_outer"
    return rule


def _index_key(indices):
    if isinstance(indices, tuple):
        return tuple(as_tensor(i) if contains_var(i) else i for i in indices)
    return as_tensor(indices) if contains_var(indices) else indices


def _at_add(sign):
    def rule(a, indices, b=MISSING, /):
        if not given(b):
            raise NotImplementedError("ufunc.at without a value operand is not supported")
        a = as_tensor(a)
        # AdvancedIncSubtensor adds every occurrence of a repeated index, like np.add.at
        return pt.inc_subtensor(a[_index_key(indices)], b if sign > 0 else -as_tensor(b))

    rule.__name__ = "_add_at" if sign > 0 else "_subtract_at"
    return rule


def _at_rounds(combine, name):
    """ufunc.at for non-additive ufuncs, with concrete indices: one set_subtensor per repetition.

    Indices that repeat are split into rounds (round r holds each index's r-th occurrence), so each
    round has unique indices and applying the rounds in order is numpy's sequential semantics.
    """

    def rule(a, indices, b=MISSING, /):
        if not given(b):
            raise NotImplementedError(f"np.{name}.at without a value operand is not supported")
        if contains_var(indices):
            raise NotImplementedError(
                f"np.{name}.at needs indices that do not depend on the inputs"
            )
        arrays = indices if isinstance(indices, tuple) else (indices,)
        if not all(
            isinstance(i, (list, np.ndarray))
            and np.ndim(i) == 1
            and np.asarray(i).dtype.kind in "iu"
            for i in arrays
        ):
            raise NotImplementedError(
                f"np.{name}.at is supported with 1-D integer index arrays only"
            )
        a = as_tensor(a)
        arrays = [np.asarray(i) for i in arrays]
        # the ufuncs here are commutative, so rounds may run in any order; they need only unique
        # indices. A negative index may alias a positive one (the length is not known when the
        # graph is built), so each position holding one gets a round of its own.
        negative = np.any([i < 0 for i in arrays], axis=0)
        seen, occurrence = {}, np.zeros(len(arrays[0]), dtype=int)
        for position, key in enumerate(zip(*[i.tolist() for i in arrays])):
            if not negative[position]:
                occurrence[position] = seen.get(key, 0)
                seen[key] = occurrence[position] + 1
        rounds = int(occurrence.max()) + 1 if len(occurrence) else 0
        for position in np.flatnonzero(negative):
            occurrence[position], rounds = rounds, rounds + 1
        values = pt.broadcast_to(as_tensor(b), a[tuple(arrays)].shape)
        for round_ in range(rounds):
            chosen = np.flatnonzero(occurrence == round_)
            key = tuple(i[chosen] for i in arrays)
            a = pt.set_subtensor(a[key], combine(a[key], values[chosen]))
        return a

    rule.__name__ = f"_{name}_at"
    return rule


# --------------------------------------------------------------------------------------------
# the table
# --------------------------------------------------------------------------------------------

FUNCTIONS = {
    # ufunc methods
    (np.add, "reduce"): _reduce_via(_sum, "add"),
    (np.multiply, "reduce"): _reduce_via(_prod, "multiply"),
    (np.maximum, "reduce"): _reduce_via(
        lambda a, axis, dtype, out, keepdims, initial, where: _max(
            cast(a, dtype), axis, out, keepdims, initial, where
        ),
        "maximum",
    ),
    (np.minimum, "reduce"): _reduce_via(
        lambda a, axis, dtype, out, keepdims, initial, where: _min(
            cast(a, dtype), axis, out, keepdims, initial, where
        ),
        "minimum",
    ),
    (np.logaddexp, "reduce"): _logsumexp_reduce,
    (np.logical_and, "reduce"): _reduce_logical(_all, "logical_and"),
    (np.logical_or, "reduce"): _reduce_logical(_any, "logical_or"),
    (np.add, "accumulate"): lambda array, axis=0, dtype=None, out=None: _cumsum(
        array, axis, dtype, out
    ),
    (np.multiply, "accumulate"): lambda array, axis=0, dtype=None, out=None: _cumprod(
        array, axis, dtype, out
    ),
    (np.maximum, "accumulate"): _cum_extreme("max"),
    (np.minimum, "accumulate"): _cum_extreme("min"),
    (np.logaddexp, "accumulate"): _logcumsumexp,
    (np.add, "outer"): _outer_via(pt.add, "add"),
    (np.subtract, "outer"): _outer_via(pt.sub, "subtract"),
    (np.multiply, "outer"): _outer_via(pt.mul, "multiply"),
    (np.divide, "outer"): _outer_via(pt.true_div, "divide"),
    (np.maximum, "outer"): _outer_via(maximum, "maximum"),
    (np.minimum, "outer"): _outer_via(minimum, "minimum"),
    (np.add, "at"): _at_add(+1),
    (np.subtract, "at"): _at_add(-1),
    (np.multiply, "at"): _at_rounds(pt.mul, "multiply"),
    (np.maximum, "at"): _at_rounds(maximum, "maximum"),
    (np.minimum, "at"): _at_rounds(minimum, "minimum"),
}

# The rule returns the updated version of this positional argument; the engine stores it back.
INPLACE = {key: 0 for key in FUNCTIONS if isinstance(key, tuple) and key[1] == "at"}
