"""Applying numpy's meaning to Traced values: concrete result from numpy, shadow from PyTensor.

Every operation here computes the concrete value natively (so control flow and `print` see exactly
what numpy produces) and, when an operand is traced, the PyTensor counterpart from the symbolic
tables. The concrete result is the source of truth for dtype and ndim: the shadow is cast to the
concrete dtype (numpy 2's NEP 50 promotion), and an ndim mismatch is an engine bug caught here.
"""

import operator as _op

import numpy as np
import pytensor.tensor as pt
import scipy.sparse
from pytensor.graph.basic import Constant, Variable

from .. import symbolic
from ..symbolic import sparse as sparse_rules
from ..symbolic.indexing import assign
from .errors import TraceError
from .values import (
    Traced,
    contains_traced,
    dtype_of,
    is_traced,
    snapshot,
    to_variables,
    traced_in,
    unwrap,
)

# What Python's operators do natively (BINARY_OP's argrepr -> function).
_BINARY_NATIVE = {
    "+": _op.add,
    "-": _op.sub,
    "*": _op.mul,
    "/": _op.truediv,
    "//": _op.floordiv,
    "%": _op.mod,
    "**": _op.pow,
    "@": _op.matmul,
    "&": _op.and_,
    "|": _op.or_,
    "^": _op.xor,
    "<<": _op.lshift,
    ">>": _op.rshift,
    "+=": _op.iadd,
    "-=": _op.isub,
    "*=": _op.imul,
    "/=": _op.itruediv,
    "//=": _op.ifloordiv,
    "%=": _op.imod,
    "**=": _op.ipow,
    "@=": _op.imatmul,
    "&=": _op.iand,
    "|=": _op.ior,
    "^=": _op.ixor,
    "<<=": _op.ilshift,
    ">>=": _op.irshift,
}

_UNARY_NATIVE = {"-": _op.neg, "+": _op.pos, "~": _op.invert}
_COMPARE_NATIVE = {"<": _op.lt, "<=": _op.le, ">": _op.gt, ">=": _op.ge, "==": _op.eq, "!=": _op.ne}


def _native_binary(op, a, b):
    return _BINARY_NATIVE[op](a, b)


def pair(interp, concrete, sym, what):
    """Pair a concrete result with the symbolic result of a rule (matching nested structure)."""
    if sym is NotImplemented or sym is None:
        return concrete
    if isinstance(sym, Variable):
        if getattr(sym.tag, "raises_unless_finite", False):  # see symbolic raises_unless_finite
            finite = bool(np.all(np.isfinite(concrete)))
            interp.ctx.guard(pt.all(pt.isfinite(sym)), finite, interp.location())
        return Traced(concrete, cast_and_check(interp, sym, concrete, what))
    if (
        isinstance(sym, (tuple, list))
        and isinstance(concrete, (tuple, list))
        and len(sym) == len(concrete)
    ):
        items = [pair(interp, c, s, what) for c, s in zip(concrete, sym)]
        if hasattr(concrete, "_fields"):
            return type(concrete)(*items)
        return type(concrete)(items)
    return concrete  # the rule produced a constant: nothing depends on inputs


def cast_and_check(interp, var, concrete, what):
    """Cast var to the concrete result's dtype; check ndims agree."""
    if scipy.sparse.issparse(concrete):
        if not sparse_rules.is_sparse(var):
            raise interp.error(f"internal error: {what} gave a sparse matrix but a dense shadow")
        return var
    if isinstance(concrete, np.matrix) and var.ndim == 1:  # scipy's sparse *matrix* reductions
        var = var[None, :] if concrete.shape[0] == 1 else var[:, None]
    dt = dtype_of(concrete)
    if dt is None:
        raise interp.error(
            f"{what} returned {type(concrete).__name__}, which the engine cannot trace"
        )
    ndim = np.ndim(concrete)
    if var.ndim != ndim:
        raise interp.error(
            f"internal error: the symbolic rule for {what} gave ndim {var.ndim}, numpy gave {ndim}",
            "please report this with the line above",
        )
    if var.dtype != dt.name:
        var = pt.cast(var, dt.name)
    return var


def _float64_constants(obj):
    """Python floats as np.float64 (still `float`s): PyTensor would store 0.5 or -2.0 as float32
    constants, and np.logaddexp(s, 0.5) would compute exp(0.5) in float32."""
    if type(obj) is float:
        return np.float64(obj)
    if type(obj) in (list, tuple):
        return type(obj)(_float64_constants(x) for x in obj)
    if type(obj) is dict:
        return {k: _float64_constants(v) for k, v in obj.items()}
    return obj


def run_rule(interp, rule, args, kwargs, what):
    """The rule's symbolic result; its refusals become TraceErrors at the user's line."""
    if not any(dtype_of(t.value) in (np.float32, np.float16) for t in traced_in((args, kwargs))):
        # (with float32 operands numpy keeps Python floats at float32: PyTensor's choice then)
        args, kwargs = _float64_constants(args), _float64_constants(kwargs)
    try:
        try:
            return rule(*to_variables(snapshot(args)), **to_variables(snapshot(kwargs)))
        except NotImplementedError:
            # An integer or flag that is an input (an argument, or a number read from outside at
            # call time: axis=AXIS, ddof=k) where the rule needs a concrete value: use its value,
            # guarded, so that another value traces again.
            if not any(_is_integer(t) for t in traced_in((args, kwargs))):
                raise
            args, kwargs = concretize_all(interp, (args, kwargs), what, only=_is_integer)
            return rule(*to_variables(snapshot(args)), **to_variables(snapshot(kwargs)))
    except NotImplementedError as exc:
        raise interp.error(f"{what}: {exc or 'this form is not supported symbolically'}") from exc
    except TraceError:
        raise
    except Exception as exc:  # PyTensor refusing arguments numpy accepted: say where
        raise interp.error(
            f"{what} could not be expressed in PyTensor: {type(exc).__name__}: {exc}"
        ) from exc


def _is_integer(t):
    """A traced integer or boolean scalar (an axis, a ddof, a flag)."""
    return np.ndim(t.value) == 0 and dtype_of(t.value).kind in "biu"


def apply_rule(interp, rule, native, args, kwargs, what):
    """Call `native` on concrete values and `rule` on symbolic ones; pair the results.

    When PyTensor cannot express a call whose traced arguments are all integers (shapes,
    counts, indices: nothing to differentiate), the result is a constant valid while those
    integers keep their values (guarded), e.g. np.triu(np.ones((n, n), dtype=bool)).
    """
    concrete = native(*unwrap(args), **unwrap(kwargs))
    try:
        sym = run_rule(interp, rule, args, kwargs, what)
    except TraceError:
        if not constants_only(interp, (args, kwargs)):
            raise
        concretize_all(interp, [args, kwargs], what)
        return concrete
    return pair(interp, concrete, sym, what)


def constants_only(interp, obj):
    """Whether every traced value in obj is an integer or boolean, or a number or array read
    unchanged from outside the function: what code without a symbolic rule may use at its value
    (concretize guards it)."""

    def constant(t):
        dt = dtype_of(t.value)
        return (dt is not None and dt.kind in "biu") or interp.ctx.outside.is_input(t)

    found = list(traced_in(obj))
    return bool(found) and all(constant(t) for t in found)


def variable_of(value):
    return value.var if is_traced(value) else value


# ---------------------------------------------------------------- operators
def binary(interp, op, a, b):
    """a <op> b for the operators of BINARY_OP (op like '+', '@', '+=')."""
    inplace = op.endswith("=") and op not in ("==", "!=", "<=", ">=")
    base = op[:-1] if inplace else op
    if not (is_traced(a) or is_traced(b)):
        interp.ctx.outside.observe((a, b))
        result = _native_binary(op, a, b)
        if inplace:
            interp.ctx.outside.note_change(a)
        return result
    if any(is_traced(x) and sparse_rules.is_sparse(x.var) for x in (a, b)):
        return _sparse_binary(interp, base, a, b)
    rule = symbolic.BINARY.get(base)
    if rule is None:
        raise interp.error(f"operator {op!r} has no symbolic rule")
    what = f"operator '{op}'"
    if inplace and isinstance(unwrap(a), np.ndarray):  # numpy updates the array in place
        return update_in_place(
            interp,
            a,
            lambda: _native_binary(op, unwrap(a), unwrap(b)),
            lambda before: run_rule(interp, rule, (before, b), {}, what),
            what,
        )[0]
    return apply_rule(interp, rule, lambda x, y: _native_binary(base, x, y), (a, b), {}, what)


def _sparse_binary(interp, op, a, b):
    values = [x.value if is_traced(x) else x for x in (a, b)]
    if op == "*" and any(scipy.sparse.isspmatrix(v) for v in values):
        op = "matrix *"  # scipy's sparse matrices multiply as matrices
    rule = sparse_rules.SPARSE_BINARY.get(op)
    if rule is None:
        raise interp.error(
            f"operator {op!r} on a sparse matrix is not supported",
            "use X @ w, X.multiply(...), X.sum(...) or X.toarray() for small matrices",
        )
    return apply_rule(
        interp,
        rule,
        lambda x, y: _native_binary(op.split()[-1], x, y),
        (a, b),
        {},
        f"sparse '{op}'",
    )


def unary(interp, op, a):
    if not is_traced(a):
        return _UNARY_NATIVE[op](a)
    rule = symbolic.UNARY.get(op)
    if rule is None:
        raise interp.error(f"unary operator {op!r} has no symbolic rule")
    return apply_rule(interp, rule, _UNARY_NATIVE[op], (a,), {}, f"unary '{op}'")


def compare(interp, op, a, b):
    if not (is_traced(a) or is_traced(b)):
        interp.ctx.outside.observe((a, b))
        return _COMPARE_NATIVE[op](a, b)
    rule = symbolic.COMPARE.get(op)
    if rule is None:
        raise interp.error(f"comparison {op!r} has no symbolic rule")
    return apply_rule(interp, rule, _COMPARE_NATIVE[op], (a, b), {}, f"comparison '{op}'")


# ---------------------------------------------------------------- truth and concretisation
def truth(interp, value):
    """bool(value) as Python computes it; a traced value records a guard on the outcome."""
    if not is_traced(value):
        interp.ctx.outside.observe(value, deep=False)
        if contains_traced(value):  # a non-empty container is true whatever it holds
            return bool(len(value)) if hasattr(value, "__len__") else True
        return bool(value)
    outcome = bool(value.value)
    var = value.var
    if not isinstance(var, Constant):
        pred = var if var.dtype == "bool" else pt.neq(var, 0)
        interp.ctx.guard(pt.all(pred), outcome, interp.location())
    return outcome


def concretize(interp, value, why):
    """The concrete value of a traced integer/boolean, guarded: a different value retraces."""
    if not is_traced(value):
        return value
    dt = dtype_of(value.value)
    if dt is not None and dt.kind in "fc" and not interp.ctx.outside.constant(value):
        raise interp.error(
            f"{why} needs a concrete number, but this value depends on a differentiable input",
            "keep the computation in numpy functions so the gradient can flow through it",
        )
    if not isinstance(value.var, Constant):
        concrete = np.asarray(value.value)
        interp.ctx.guard(
            pt.all(pt.eq(value.var, concrete)) if concrete.size else pt.as_tensor(True),
            True,
            interp.location(),
        )
    return value.value


def concretize_all(interp, obj, why, only=None):
    """obj with every traced integer/boolean inside (those `only(traced)` accepts, when given)
    replaced by its guarded concrete value."""
    if is_traced(obj):
        return concretize(interp, obj, why) if only is None or only(obj) else obj
    if isinstance(obj, (list, tuple)) and contains_traced(obj):
        items = [concretize_all(interp, x, why, only) for x in obj]
        return type(obj)(*items) if hasattr(obj, "_fields") else type(obj)(items)
    if isinstance(obj, dict) and contains_traced(obj):
        return {k: concretize_all(interp, v, why, only) for k, v in obj.items()}
    if isinstance(obj, slice) and contains_traced(obj):
        return slice(
            *(concretize_all(interp, x, why, only) for x in (obj.start, obj.stop, obj.step))
        )
    return obj


# ---------------------------------------------------------------- arrays: iteration, indexing
def iterate(interp, value):
    """The rows of a traced array, as the engine iterates them (the length is guarded)."""
    n = len(value.value)  # raises TypeError for 0-d, as numpy does
    shape0 = value.var.shape[0]
    if value.var.type.shape[0] is None:
        interp.ctx.guard(pt.eq(shape0, n), True, interp.location())
    return [
        Traced(value.value[i], cast_and_check(interp, value.var[i], value.value[i], "iteration"))
        for i in range(n)
    ]


def getitem(interp, container, index):
    if is_traced(container) and sparse_rules.is_sparse(container.var):
        return apply_rule(
            interp,
            sparse_rules.getitem,
            lambda x, i: x[i],
            (container, index),
            {},
            "sparse indexing",
        )
    if is_traced(container):
        concrete = container.value[unwrap(index)]
        sym_index = to_variables(index)
        try:
            var = container.var[sym_index]
        except Exception as exc:
            raise interp.error(
                f"indexing with {unwrap(index)!r} could not be expressed in PyTensor: {exc}"
            ) from exc
        owner = container.value if container.value.base is None else container.value.base
        view_of = (
            (container, index)
            if isinstance(concrete, np.ndarray) and concrete.base is owner
            else None
        )
        return Traced(concrete, cast_and_check(interp, var, concrete, "indexing"), view_of)
    interp.ctx.outside.observe(container, deep=False)
    if contains_traced(index):
        rule = symbolic.subscript_rule(container)
        if rule is not None:  # np.r_[a, b], np.c_[a, b]: a function call written as indexing
            return apply_rule(interp, rule, lambda i: container[i], (index,), {}, rule.label)
        if isinstance(container, np.ndarray):
            return getitem(
                interp, Traced(container, pt.as_tensor_variable(container.copy())), index
            )
        return container[concretize_all(interp, index, "indexing a Python container")]
    return interp.ctx.shadows.resolve(container[index])


def check_writable(interp, target):
    """Make a traced array safe to update in place (called just before numpy writes into it).

    Arguments are read-only views of the caller's arrays (no copy of a large X at trace time):
    the first write gives the traced code its own copy, as the compiled function never mutates
    its inputs either. Views made by indexing a traced array may be written (the base follows,
    see `updated`); writing through other views (reshape, transpose, also of an argument) is
    refused: numpy would change the original too, which the graph cannot follow.
    """
    value = target.value
    if not isinstance(value, np.ndarray):
        return
    if not value.flags.writeable:
        outer = interp.ctx.outside.written(target)  # an outer array: recorded as a side effect
        if outer or target.view_of is not None or id(value) in interp.ctx.shadows.argument_views:
            target.value = value.copy()
            return
    if not value.flags.owndata and target.view_of is None:
        raise interp.error(
            "in-place update of a view of another array (numpy would also change the original)",
            "make a copy first, e.g. z = x.copy(), or build the result with np.where / concatenate",
        )


def update_in_place(interp, target, write, new_value, what):
    """numpy writes into an array in place (x += 1, x.sort(), np.exp(w, out=x), ...); its shadow follows.

    `target` is the array's engine value: a traced array, whose read-only argument view is copied
    first (the caller's array never changes), or a plain array the traced code made. `new_value`
    gets the array's engine value before the write and returns its new variable; it runs before
    numpy writes, so a refusal leaves the array as it was. `write()` makes numpy's call (reading
    the array through its engine value) and returns numpy's result.
    Returns (the array's engine value after the write, numpy's result).
    """
    if is_traced(target):
        check_writable(interp, target)
        before = Traced(target.value, target.var)
    else:
        if target.flags.writeable:  # (a read-only one: numpy refuses the write, as natively)
            check_writable(interp, Traced(target, None))
        before = Traced(target.copy(), pt.as_tensor_variable(target.copy()))
    new = new_value(before)
    result = write()
    if not is_traced(target):
        return interp.ctx.shadows.promote(target, cast_and_check(interp, new, target, what)), result
    target.var = cast_and_check(interp, new, target.value, what)
    updated(interp, target)
    return target, result


def updated(interp, target):
    """After an in-place update of `target`: a view made by indexing updates its base too."""
    while target.view_of is not None:
        base, index = target.view_of
        check_writable(interp, base)
        base.value[unwrap(index)] = target.value  # a no-op when the view still aliases it
        new = pt.set_subtensor(base.var[to_variables(index)], target.var)
        base.var = cast_and_check(interp, new, base.value, "in-place update through a view")
        target = base


def setitem(interp, container, index, value):
    """container[index] = value; on a traced (or newly traced) array this is `symbolic.indexing.assign`."""
    if not isinstance(container, np.ndarray) and not is_traced(container):
        if contains_traced(index):
            index = concretize_all(interp, index, "indexing a Python container")
        if not isinstance(container, dict):  # a list's length decides whether the index exists
            interp.ctx.outside.observe(container, deep=False)
        container[index] = value
        interp.ctx.outside.note_change(container, "sets an item of")
        return
    if not is_traced(container) and not contains_traced(value) and not contains_traced(index):
        container[index] = value
        return

    def new_value(before):
        try:
            return assign(before.var, to_variables(index), variable_of(value))
        except Exception as exc:
            raise interp.error(
                f"assignment to [{unwrap(index)!r}] could not be expressed in PyTensor: {exc}"
            ) from exc

    update_in_place(
        interp,
        container,
        lambda: unwrap(container).__setitem__(unwrap(index), unwrap(value)),
        new_value,
        "item assignment",
    )


def apply_with_out(interp, rule, native, args, kwargs, out, what):
    """A call that writes its result into `out` (np.multiply(y, 2, out=y)): the rule's result
    (without out) broadcast to out's shape. `native()` makes numpy's call. Returns out."""

    def new_value(before):
        return pt.second(before.var, run_rule(interp, rule, args, kwargs, what))

    return update_in_place(interp, out, native, new_value, what)[0]
