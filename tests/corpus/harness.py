"""The corpus registry and the numeric oracle the corpus tests compare against.

A corpus entry is a plain-numpy function plus a small declarative record::

    @case(make=lambda rng: (rng.normal(size=3), rng.normal(size=(6, 3))), wrt="w")
    def least_squares(w, X): ...

``make(rng)`` returns the positional arguments (a tuple), or a :class:`Call` when keyword
arguments are needed too. ``wrt`` names the argument(s) to differentiate (a name, or a list of
names). Everything here is independent of skautodiff: the oracle is the native function itself,
differentiated by finite differences.
"""

import copy
import dataclasses
import inspect
from typing import Any, Callable, Optional

import numpy as np

from helpers import numeric_gradient as numeric_gradient_of

ENTRIES = []  # every registered Entry, in registration order


@dataclasses.dataclass
class Call:
    """Arguments of one call: positional and keyword."""

    args: tuple
    kwargs: dict = dataclasses.field(default_factory=dict)


@dataclasses.dataclass
class Entry:
    name: str
    fn: Callable
    make: Callable  # rng -> tuple | Call
    wrt: Any  # str | list[str] | None (None: value test only)
    theme: str
    points: int = 3
    value_rtol: float = 1e-10
    grad_rtol: float = 1e-5
    grad_atol: float = 1e-7
    xfail: Optional[str] = None  # known engine gap affecting value and gradient
    xfail_grad: Optional[str] = None  # known gap affecting the gradient only
    cbackend: bool = False  # also checked with PyTensor's C backend (what users run)

    def call(self, seed):
        """The arguments at sample point `seed` (deterministic)."""
        rng = np.random.default_rng([seed, _stable_hash(self.name)])
        made = self.make(rng)
        if isinstance(made, Call):
            return tuple(made.args), dict(made.kwargs)
        if not isinstance(made, tuple):
            made = (made,)
        return made, {}

    @property
    def wrt_list(self):
        if self.wrt is None:
            return []
        return [self.wrt] if isinstance(self.wrt, (str, int)) else list(self.wrt)


def _stable_hash(text):
    h = 0
    for ch in text.encode():
        h = (h * 131 + ch) % (2**31)
    return h


def case(make, wrt=None, name=None, **options):
    """Decorator registering a corpus function. Returns the function unchanged."""

    def register(fn):
        theme = fn.__module__.rsplit(".", 1)[-1]
        entry = Entry(
            name=f"{theme}.{name or fn.__name__}", fn=fn, make=make, wrt=wrt, theme=theme, **options
        )
        if any(e.name == entry.name for e in ENTRIES):
            raise ValueError(f"duplicate corpus entry {entry.name}")
        ENTRIES.append(entry)
        return fn

    return register


# ----------------------------------------------------------------------------------------------
# pytrees: dicts / lists / tuples of arrays and scalars
# ----------------------------------------------------------------------------------------------


def is_leaf(x):
    return isinstance(x, (np.ndarray, np.generic, int, float)) and not isinstance(x, bool)


def leaves(tree, path="arg"):
    """[(path, leaf)] in a deterministic order."""
    if isinstance(tree, dict):
        out = []
        for k in tree:
            out += leaves(tree[k], f"{path}[{k!r}]")
        return out
    if isinstance(tree, (list, tuple)):
        out = []
        for i, v in enumerate(tree):
            out += leaves(v, f"{path}[{i}]")
        return out
    return [(path, tree)]


def map_leaves(fn, tree):
    if isinstance(tree, dict):
        return {k: map_leaves(fn, v) for k, v in tree.items()}
    if isinstance(tree, tuple):
        return tuple(map_leaves(fn, v) for v in tree)
    if isinstance(tree, list):
        return [map_leaves(fn, v) for v in tree]
    return fn(tree)


def _numeric_leaf_count(tree):
    return sum(1 for _, leaf in leaves(tree) if is_leaf(leaf))


def _replace_leaf(tree, index, new):
    """A copy of `tree` whose `index`-th leaf (in `leaves` order) is `new`."""
    counter = [0]

    def visit(x):
        if isinstance(x, dict):
            return {k: visit(v) for k, v in x.items()}
        if isinstance(x, tuple):
            return tuple(visit(v) for v in x)
        if isinstance(x, list):
            return [visit(v) for v in x]
        i = counter[0]
        counter[0] += 1
        return new if i == index else x

    return visit(tree)


# ----------------------------------------------------------------------------------------------
# finite differences of the native function
# ----------------------------------------------------------------------------------------------


def _scalar(value):
    value = np.asarray(value)
    if value.size != 1:
        raise ValueError(f"loss must be scalar for a gradient check, got shape {value.shape}")
    return float(value.reshape(()))


def numeric_gradient(fn, args, kwargs, wrt, step=1e-5, scheme="richardson"):
    """Gradient of scalar fn(*args, **kwargs) with respect to the argument named/positioned `wrt`.

    scheme "richardson": extrapolated central differences (steps h and h/2, error O(h^4)), with h
    relative to each coordinate's magnitude. "forward" / "backward": one-sided differences (used to
    detect kinks, where central differences average the two sides). Returns a tree shaped like the
    argument, leaves float64.
    """
    sig = inspect.signature(fn)
    if isinstance(wrt, int):  # a parameter position
        wrt = list(sig.parameters)[wrt]
    arg = sig.bind(*args, **kwargs).arguments[wrt]

    def f_with(leaf_index, new_leaf):
        b = sig.bind(*args, **kwargs)
        b.arguments[wrt] = _replace_leaf(arg, leaf_index, new_leaf)
        return _scalar(fn(*b.args, **b.kwargs))

    flat = leaves(arg)
    grads = []
    for li, (_, leaf) in enumerate(flat):

        def of_leaf(x, li=li, leaf=leaf):
            return f_with(li, x if isinstance(leaf, (np.ndarray, np.generic)) else float(x))

        grads.append(numeric_gradient_of(of_leaf, leaf, step=step, scheme=scheme))

    it = iter(grads)
    return map_leaves(lambda _: next(it), arg)


# ----------------------------------------------------------------------------------------------
# comparisons
# ----------------------------------------------------------------------------------------------


def _structure(tree):
    if isinstance(tree, dict):
        return ("dict", tuple((k, _structure(v)) for k, v in tree.items()))
    if isinstance(tree, (list, tuple)):
        return (type(tree).__name__, tuple(_structure(v) for v in tree))
    return "leaf"


def assert_tree_close(actual, expected, rtol, atol, what, compare_types=True):
    """Same structure, leaves close: |a - e| <= atol + rtol * |e| elementwise."""
    if isinstance(expected, dict):
        assert isinstance(actual, dict), f"{what}: expected a dict, got {type(actual).__name__}"
        assert list(actual) == list(expected), f"{what}: keys {list(actual)} != {list(expected)}"
        for k in expected:
            assert_tree_close(actual[k], expected[k], rtol, atol, f"{what}[{k!r}]", compare_types)
        return
    if isinstance(expected, (list, tuple)):
        ok = isinstance(actual, (list, tuple))
        if compare_types:
            ok = ok and type(actual) is type(expected)
        assert ok, f"{what}: expected a {type(expected).__name__}, got {type(actual).__name__}"
        assert len(actual) == len(expected), f"{what}: length {len(actual)} != {len(expected)}"
        for i, (a, e) in enumerate(zip(actual, expected)):
            assert_tree_close(a, e, rtol, atol, f"{what}[{i}]", compare_types)
        return
    a = np.asarray(actual)
    e = np.asarray(expected)
    assert a.shape == e.shape, f"{what}: shape {a.shape} != expected {e.shape}"
    if e.dtype.kind == "b" or e.dtype.kind in "iu":
        np.testing.assert_array_equal(a, e, err_msg=what)
        return
    np.testing.assert_allclose(
        a.astype(np.float64), e.astype(np.float64), rtol=rtol, atol=atol, err_msg=what
    )


def max_abs(tree):
    vals = [
        np.max(np.abs(np.asarray(leaf, dtype=np.float64)), initial=0.0)
        for _, leaf in leaves(tree)
        if is_leaf(leaf) or isinstance(leaf, (bool, np.bool_))
    ]
    return max(vals, default=0.0)


def assert_values_match(actual, expected, rtol=1e-10, what="value"):
    """Compiled output equals native output to `rtol` relative to the output's magnitude."""
    scale = max(1e-300, max_abs(expected))
    assert_tree_close(actual, expected, rtol=rtol, atol=rtol * scale, what=what)


def assert_same_tree(actual, expected, what):
    """Bit-for-bit equality with the same types and dtypes (used for the no-mutation check)."""
    if isinstance(expected, dict):
        assert isinstance(actual, dict) and list(actual) == list(expected), f"{what} changed"
        for k in expected:
            assert_same_tree(actual[k], expected[k], f"{what}[{k!r}]")
    elif isinstance(expected, (list, tuple)):
        assert type(actual) is type(expected) and len(actual) == len(expected), f"{what} changed"
        for i, (a, e) in enumerate(zip(actual, expected)):
            assert_same_tree(a, e, f"{what}[{i}]")
    elif isinstance(expected, np.ndarray):
        assert isinstance(actual, np.ndarray), f"{what} is no longer an ndarray"
        assert actual.dtype == expected.dtype and actual.shape == expected.shape, f"{what} changed"
        np.testing.assert_array_equal(actual, expected, err_msg=f"{what} was mutated")
    else:
        assert type(actual) is type(expected), f"{what} changed type"
        if isinstance(expected, (int, float, np.generic)):
            assert actual == expected or (actual != actual and expected != expected), (
                f"{what} changed: {actual!r} != {expected!r}"
            )


def snapshot(args, kwargs):
    return copy.deepcopy(args), copy.deepcopy(kwargs)
