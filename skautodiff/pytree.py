"""Nested parameters <-> flat lists of leaves.

A pytree is a leaf or a dict / list / tuple / namedtuple of pytrees. Numeric leaves are arrays,
numpy scalars and Python numbers (bool is data, not a number: it stays in the structure); every
other object (None, strings, functions, estimator objects) is kept as part of the structure.
"""

import sys

import numpy as np
import scipy.sparse


def is_numeric_leaf(x):
    """Arrays (boolean masks included) and numbers; Python bools are flags, kept in the structure."""
    if type(x) is np.ndarray:  # the common case first: this runs on every call
        return x.dtype.kind in "biuf"
    if scipy.sparse.issparse(x):  # data matrices: inputs of their own kind, never densified
        return x.dtype.kind in "iuf"
    if isinstance(x, np.ndarray):
        return x.dtype.kind in "biuf"
    if isinstance(x, (bool, np.bool_)):
        return False
    if isinstance(x, (int, float, np.integer, np.floating)):
        return True
    # data placed on a device for the JAX backend (see doc/backends.md)
    return is_jax_array(x) and x.dtype.kind in "biuf"


def is_jax_array(x):
    """A JAX array (without importing JAX: none can exist before JAX is imported)."""
    jax = sys.modules.get("jax")
    return jax is not None and isinstance(x, getattr(jax, "Array", ()))


class TreeDef:
    """The structure of a pytree, with numeric leaves left out. Hashable: a cache key part."""

    __slots__ = ("kind", "meta", "children", "_hash")

    def __init__(self, kind, meta=None, children=()):
        self.kind, self.meta, self.children = kind, meta, tuple(children)
        self._hash = None

    @property
    def num_leaves(self):
        if self.kind == "leaf":
            return 1
        return sum(c.num_leaves for c in self.children)

    def _key(self):
        meta = self.meta if self.kind != "static" else _static_key(self.meta)
        return (self.kind, meta, self.children)

    def __eq__(self, other):
        return isinstance(other, TreeDef) and self._key() == other._key()

    def __hash__(self):
        if self._hash is None:
            self._hash = hash(self._key())
        return self._hash

    def __repr__(self):
        return f"TreeDef({self.kind}, {self.meta!r}, {list(self.children)})"


def _static_key(obj):
    """How an object kept in the structure takes part in a cache key.

    Plain data by value; objects with attributes by type (the engine guards every attribute
    the traced code reads); anything else by identity, so a different object never reuses a
    trace made with another.
    """
    if isinstance(
        obj, (str, bytes, bool, type(None), int, float, complex, np.bool_, np.dtype, type)
    ):
        return ("value", obj)
    if isinstance(obj, (tuple, frozenset)):
        try:
            hash(obj)
            return ("value", obj)
        except TypeError:
            pass
    if hasattr(obj, "__dict__") and not callable(obj):
        return ("object", type(obj))
    return ("identity", id(obj))


def is_plain_data(obj):
    """Whether an object kept in the structure is keyed by its value (immutable plain data): a
    cache entry made with it then holds for every equal one, with nothing to read at call time."""
    return _static_key(obj)[0] == "value"


def flatten(tree):
    """(numeric leaves, treedef, static objects in order)."""
    leaves, statics = [], []
    return leaves, _flatten(tree, leaves, statics), statics


_LEAF = TreeDef("leaf")


def _flatten(x, leaves, statics):
    if is_numeric_leaf(x):
        leaves.append(x)
        return _LEAF
    if type(x) is dict:
        return TreeDef("dict", tuple(x), [_flatten(v, leaves, statics) for v in x.values()])
    if type(x) in (list, tuple):
        return TreeDef(type(x).__name__, None, [_flatten(v, leaves, statics) for v in x])
    if isinstance(x, tuple) and hasattr(x, "_fields"):
        return TreeDef("namedtuple", type(x), [_flatten(v, leaves, statics) for v in x])
    statics.append(x)
    return TreeDef("static", x)


def flatten_like(tree, treedef, path):
    """The numeric leaves of `tree` in the order of another pytree's structure `treedef` (dict
    entries by key, in whatever order `tree` holds them); ValueError naming the first place
    (`path` and below) where `tree` is not shaped like it."""
    leaves = []

    def walk(x, td, where):
        if td.kind == "static":  # not a number of the other tree: nothing to take here
            return
        if td.kind == "leaf":
            if not is_numeric_leaf(x):
                raise ValueError(f"{where} must be a number or an array; got {type(x).__name__}")
            leaves.append(x)
            return
        if td.kind == "dict":
            needed = {k for k, c in zip(td.meta, td.children) if c.num_leaves}
            if not isinstance(x, dict) or not needed <= set(x) or not set(x) <= set(td.meta):
                got = f"keys {_keys(x)}" if isinstance(x, dict) else type(x).__name__
                raise ValueError(f"{where} must be a dict with the keys {_keys(needed)}; got {got}")
            for k, c in zip(td.meta, td.children):
                if c.num_leaves:
                    walk(x[k], c, f"{where}[{k!r}]")
            return
        if not isinstance(x, (list, tuple)) or len(x) != len(td.children):
            raise ValueError(
                f"{where} must be a {td.kind} of {len(td.children)} items; got "
                f"{type(x).__name__}" + (f" of {len(x)}" if isinstance(x, (list, tuple)) else "")
            )
        for i, (item, c) in enumerate(zip(x, td.children)):
            walk(item, c, f"{where}[{i}]")

    walk(tree, treedef, path)
    return leaves


def _keys(keys):
    return ", ".join(sorted(map(repr, keys)))


def unflatten(treedef, leaves, statics=None):
    """Rebuild a pytree from its structure and numeric leaves; `statics`, in flattening order,
    replace the objects kept in the structure (the engine's values for them, when tracing)."""
    return _unflatten(treedef, iter(leaves), None if statics is None else iter(statics))


def _unflatten(td, it, statics):
    if td.kind == "leaf":
        return next(it)
    if td.kind == "static":
        return td.meta if statics is None else next(statics)
    children = [_unflatten(c, it, statics) for c in td.children]
    if td.kind == "dict":
        return dict(zip(td.meta, children))
    if td.kind == "list":
        return children
    if td.kind == "tuple":
        return tuple(children)
    return td.meta(*children)


def leaf_paths(treedef, prefix):
    """A readable name per numeric leaf, e.g. params['w'], layers[0][1]."""
    out = []

    def walk(td, path):
        if td.kind == "leaf":
            out.append(path)
        elif td.kind == "dict":
            for k, c in zip(td.meta, td.children):
                walk(c, f"{path}[{k!r}]")
        elif td.kind != "static":
            for i, c in enumerate(td.children):
                walk(c, f"{path}[{i}]")

    walk(treedef, prefix)
    return out


def tree_map(fn, tree):
    leaves, td, _ = flatten(tree)
    return unflatten(td, [fn(x) for x in leaves])


def ravel(tree, dtype=np.float64):
    """(flat vector, function vector -> pytree). Leaves keep their shapes and dtypes."""
    leaves, td, _ = flatten(tree)
    arrays = [np.asarray(x) for x in leaves]
    shapes = [a.shape for a in arrays]
    dtypes = [a.dtype if a.dtype.kind == "f" else np.dtype(np.float64) for a in arrays]
    scalar_kinds = [type(x) if not isinstance(x, np.ndarray) else None for x in leaves]
    sizes = [a.size for a in arrays]
    offsets = np.cumsum([0] + sizes)
    flat = (
        np.concatenate([a.ravel().astype(dtype) for a in arrays]) if arrays else np.zeros(0, dtype)
    )

    def unravel(vector):
        parts = []
        for i, shape in enumerate(shapes):
            part = np.asarray(vector[offsets[i] : offsets[i + 1]], dtype=dtypes[i]).reshape(shape)
            kind = scalar_kinds[i]
            if kind is not None:  # Python or numpy scalar leaves come back as numpy scalars
                part = dtypes[i].type(part[()])
            parts.append(part)
        return unflatten(td, parts)

    return flat, unravel
