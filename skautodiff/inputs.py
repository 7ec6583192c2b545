"""The inputs of a compiled function, one per numeric leaf of the arguments: what a compiled
function depends on for each (its signature: dtype and which axes have length 1), the symbolic
input made for it, and each leaf converted to what the compiled function or the engine takes.

Arguments being differentiated are traced as floating point, as are integers among them.
"""

import functools

import numpy as np
import pytensor.sparse as ps
import pytensor.tensor as pt
import scipy.sparse

from . import pytree
from .engine.values import dtype_of


def is_differentiable(leaf, owner, wrt_names):
    """A numeric leaf of a differentiated argument (boolean masks never are)."""
    if type(leaf) is np.ndarray:
        return owner in wrt_names and leaf.dtype.kind != "b"
    return owner in wrt_names and (scipy.sparse.issparse(leaf) or dtype_of(leaf).kind != "b")


_ARRAY_SIGNATURES = {}  # (dtype, shape, differentiable) -> signature
# ndarray subclasses on which numpy computes differently: compiled functions would silently compute
# as on their plain data. Other subclasses (np.memmap, ...) are taken as their data.
_OWN_SEMANTICS = {
    np.matrix: "`*` and `**` are matrix products and every result stays 2-D, which compiled "
    "functions do not follow; pass np.asarray(x)",
    np.ma.MaskedArray: "numpy skips masked entries (in sums, means, ...), which compiled functions do "
    "not follow; pass x.filled(value), or the data and a boolean mask array",
}


def leaf_signature(leaf, differentiable):
    """(dtype, static shape): what a compiled function depends on for one numeric leaf."""
    if type(leaf) is np.ndarray:  # the common case first: this runs on every call
        key = (leaf.dtype, leaf.shape, differentiable)
        sig = _ARRAY_SIGNATURES.get(key)
        if sig is None:
            if len(_ARRAY_SIGNATURES) > 4096:
                _ARRAY_SIGNATURES.clear()
            dt = np.dtype(np.float64) if differentiable and leaf.dtype.kind in "iu" else leaf.dtype
            sig = _ARRAY_SIGNATURES[key] = (
                _dtype_name(dt),
                tuple(1 if n == 1 else None for n in leaf.shape),
            )
        return sig
    if isinstance(leaf, tuple(_OWN_SEMANTICS)):
        cls, why = next((cls, why) for cls, why in _OWN_SEMANTICS.items() if isinstance(leaf, cls))
        raise TypeError(
            f"skautodiff does not take {cls.__module__}.{cls.__name__} arguments: {why}"
        )
    if scipy.sparse.issparse(leaf):
        if differentiable:
            raise TypeError(
                "cannot differentiate with respect to a sparse matrix; pass it as data "
                "(a non-differentiated argument) and differentiate the dense parameters"
            )
        # sparse arrays and sparse matrices differ (`*` multiplies elementwise or as matrices)
        kind = "array" if isinstance(leaf, scipy.sparse.sparray) else "matrix"
        return leaf.dtype.name if leaf.dtype.kind == "f" else "float64", (
            "sparse",
            _sparse_format(leaf),
            kind,
        )
    dt = dtype_of(leaf)
    if differentiable and dt.kind in "iu":
        dt = np.dtype(np.float64)
    return _dtype_name(dt), tuple(1 if n == 1 else None for n in getattr(leaf, "shape", ()))


@functools.lru_cache(maxsize=None)
def _dtype_name(dtype):
    return dtype.name  # numpy computes it on every access (about 1.5 us)


def _sparse_format(leaf):
    return leaf.format if leaf.format in ("csr", "csc") else "csr"


def input_variable(name, dtype, shape):
    """The symbolic input for a leaf signature."""
    if shape and shape[0] == "sparse":
        return ps.matrix(shape[1], name=name, dtype=dtype)
    return pt.tensor(name=name, dtype=dtype, shape=shape)


def input_value(leaf, dtype, shape):
    """A leaf converted to what the compiled function takes (no copy when it already fits)."""
    if shape and shape[0] == "sparse":  # PyTensor takes scipy's sparse *matrix* classes
        matrix = scipy.sparse.csr_matrix if shape[1] == "csr" else scipy.sparse.csc_matrix
        return matrix(leaf, dtype=dtype)
    return aligned(np.asarray(leaf, dtype=dtype))


def aligned(array):
    """The array, or an aligned copy: PyTensor's C code reads only aligned memory, which numpy does
    not require (np.frombuffer at an odd offset, arrays unpickled from out-of-band buffers)."""
    return array if array.flags.aligned else array.copy()


def engine_copy(leaf, dtype, shape):
    """The value the traced code sees. Never the caller's writable array: a read-only view when
    no conversion is needed (the engine copies on the first in-place write), else a converted copy."""
    if scipy.sparse.issparse(leaf):  # the user's own class (array or matrix), in the traced format
        return leaf.asformat(shape[1]).astype(dtype, copy=True)
    if isinstance(leaf, np.ndarray):
        if leaf.dtype != dtype:
            return leaf.astype(dtype)
        view = leaf.view()
        view.flags.writeable = False
        return view
    if isinstance(leaf, np.generic):
        return leaf.astype(dtype)
    if pytree.is_jax_array(leaf):  # a copy in host memory, for tracing
        return np.array(leaf, dtype=dtype)
    return float(leaf) if np.dtype(dtype).kind == "f" else leaf


def leaf_names(treedef, names):
    """Readable input names: the parameter name, or the innermost key when it is unique."""
    paths = []
    for name, child in zip(names, treedef.children):
        sub = pytree.leaf_paths(child, name)
        paths.extend(sub)
    short = [p.split("[")[-1].strip("]'\"") if "[" in p else p for p in paths]
    return [s if short.count(s) == 1 and s.isidentifier() else p for s, p in zip(short, paths)]


__all__ = [
    "is_differentiable",
    "leaf_signature",
    "input_variable",
    "input_value",
    "aligned",
    "engine_copy",
    "leaf_names",
]
