"""Attributes and methods of traced arrays: x.shape, x.T, x.sum(axis=0), ...

Shapes used as numbers stay symbolic (`np.sum(r) / X.shape[0]` serves any row count); axes whose
length is fixed in the graph's type (1, for broadcasting) are plain ints.
"""

import numpy as np

from .. import symbolic
from ..symbolic import sparse as sparse_rules
from . import lowering
from .values import Traced, unwrap


class TracedMethod:
    """`x.name` for a traced array x, waiting to be called."""

    __slots__ = ("target", "name")

    def __init__(self, target, name):
        self.target, self.name = target, name

    def __repr__(self):
        return f"<method ndarray.{self.name} of traced array>"


def shape(value):
    var = value.var
    static = var.type.shape if not sparse_rules.is_sparse(var) else (None, None)
    return tuple(
        n if static[i] is not None else Traced(n, var.shape[i])
        for i, n in enumerate(np.shape(value.value))
    )


def attribute(interp, value, name):
    if name == "shape":
        return shape(value)
    if sparse_rules.is_sparse(value.var):
        return _sparse_attribute(interp, value, name)
    if name in ("ndim", "dtype", "itemsize", "flags", "nbytes", "strides", "__class__"):
        return getattr(value.value, name)
    if name == "size":
        n = np.size(value.value)
        return n if all(s is not None for s in value.var.type.shape) else Traced(n, value.var.size)
    if name in symbolic.ATTRIBUTES:
        what = f"ndarray.{name}"
        return lowering.apply_rule(
            interp, symbolic.ATTRIBUTES[name], lambda v: getattr(v, name), (value,), {}, what
        )
    if name in symbolic.METHODS or callable(getattr(value.value, name, None)):
        return TracedMethod(value, name)
    if hasattr(value.value, name):
        raise interp.error(f"attribute ndarray.{name} of a traced array has no symbolic rule")
    raise AttributeError(f"'{type(value.value).__name__}' object has no attribute '{name}'")


def _sparse_attribute(interp, value, name):
    if name in ("ndim", "dtype", "format", "nnz", "__class__"):
        return getattr(value.value, name)
    if name in sparse_rules.SPARSE_ATTRIBUTES:
        return lowering.apply_rule(
            interp,
            sparse_rules.SPARSE_ATTRIBUTES[name],
            lambda v: getattr(v, name),
            (value,),
            {},
            f"sparse .{name}",
        )
    if name in sparse_rules.SPARSE_METHODS:
        return TracedMethod(value, name)
    raise interp.error(
        f"sparse matrix attribute .{name} is not supported",
        f"supported: {', '.join(sorted(sparse_rules.SPARSE_METHODS) + sorted(sparse_rules.SPARSE_ATTRIBUTES))}, shape",
    )


def call_method(interp, method, args, kwargs):
    target, name = method.target, method.name
    if sparse_rules.is_sparse(target.var):
        native = lambda value, *a, **k: getattr(value, name)(*a, **k)
        return lowering.apply_rule(
            interp,
            sparse_rules.SPARSE_METHODS[name],
            native,
            (target, *args),
            kwargs,
            f"sparse .{name}",
        )
    if name in symbolic.IN_PLACE_METHODS:
        return in_place_method(interp, target, name, args, kwargs)
    rule = symbolic.METHODS.get(name)
    if rule is not None and symbolic.lookup(rule) is not None:  # mapped to a numpy function
        rule = symbolic.lookup(rule)
    if rule is None:
        close = symbolic.closest_names(name)
        raise interp.error(
            f"ndarray.{name} has no symbolic rule",
            f"supported methods with similar names: {', '.join(close)}"
            if close
            else "see doc/supported.md for the supported methods",
        )
    native = lambda value, *a, **k: getattr(value, name)(*a, **k)
    if kwargs.get("out") is not None:  # x.clip(0, 1, out=x), x.sum(axis=0, out=acc)
        out, kwargs = kwargs["out"], {k: v for k, v in kwargs.items() if k != "out"}
        return lowering.apply_with_out(
            interp,
            rule,
            lambda: native(target.value, *unwrap(args), **unwrap(kwargs), out=unwrap(out)),
            (target, *args),
            kwargs,
            out,
            f"ndarray.{name}",
        )
    return lowering.apply_rule(interp, rule, native, (target, *args), kwargs, f"ndarray.{name}")


def in_place_method(interp, target, name, args, kwargs):
    """x.sort(), x.fill(v), x.put(i, v) on an array (traced, or made by the traced code)."""
    what = f"ndarray.{name}"
    rule = symbolic.IN_PLACE_METHODS[name]
    return lowering.update_in_place(
        interp,
        target,
        lambda: getattr(unwrap(target), name)(*unwrap(args), **unwrap(kwargs)),
        lambda before: lowering.run_rule(interp, rule, (before, *args), kwargs, what),
        what,
    )[1]


__all__ = ["TracedMethod", "attribute", "call_method", "shape"]
