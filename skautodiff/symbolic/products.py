"""numpy products in PyTensor: dot, matmul, outer, inner, vdot, vecdot, tensordot, einsum, kron, cross.
FUNCTIONS is keyed by the numpy callable (identity). Rules follow the contract in
doc/architecture.md ("Symbolic rules"), summed up in _common.py. (numpy.linalg and scipy.linalg are
in linalg.py.)
"""

import numpy as np
import pytensor.tensor as pt
from pytensor.tensor.signal import convolve1d

from ._common import COMPLEX_DTYPES, as_tensor, cast, refuse, register_if_present
from .operators import matmul


# --------------------------------------------------------------------------------------------
# products
# --------------------------------------------------------------------------------------------


def _dot(a, b, out=None):
    refuse("np.dot", out=(out, None))
    return pt.dot(as_tensor(a), as_tensor(b))


def _matmul(a, b, /, out=None, **kwargs):
    refuse(
        "np.matmul",
        out=(out, None),
        axes=(kwargs.get("axes"), None),
        axis=(kwargs.get("axis"), None),
    )
    return matmul(as_tensor(a), as_tensor(b))


def _outer(a, b, out=None):
    refuse("np.outer", out=(out, None))
    return pt.outer(as_tensor(a).flatten(), as_tensor(b).flatten())


def _inner(a, b):
    a, b = as_tensor(a), as_tensor(b)
    if a.ndim == 0 or b.ndim == 0:
        return a * b
    return pt.tensordot(a, b, axes=[[a.ndim - 1], [b.ndim - 1]])


def _vdot(a, b):
    a, b = as_tensor(a).flatten(), as_tensor(b).flatten()
    if a.dtype in COMPLEX_DTYPES:
        a = pt.conj(a)
    return pt.dot(a, b)


def _vecdot(x1, x2, /, *, axis=-1, out=None, **kwargs):
    refuse("np.vecdot", out=(out, None))
    x1, x2 = as_tensor(x1), as_tensor(x2)
    if x1.dtype in COMPLEX_DTYPES:
        x1 = pt.conj(x1)
    return pt.sum(x1 * x2, axis=axis)


def _tensordot(a, b, axes=2):
    return pt.tensordot(as_tensor(a), as_tensor(b), axes=axes)


def _einsum_letters(sublist):
    letters = "abcdefghijklmnopqrstuvwxyzABCDEFGHIJKLMNOPQRSTUVWXYZ"
    return "".join("..." if s is Ellipsis else letters[s] for s in sublist)


def _einsum(*operands, out=None, optimize=False, dtype=None, order="K", casting="safe"):
    refuse("np.einsum", out=(out, None))
    if isinstance(operands[0], str):
        subscripts, arrays = operands[0].replace(" ", ""), list(operands[1:])
    else:
        # interleaved form: einsum(a, [0, 1], b, [1, 2], [0, 2])
        arrays = list(operands[0::2])
        inputs = [_einsum_letters(s) for s in operands[1::2]]
        if len(operands) % 2:
            subscripts = ",".join(inputs[: len(arrays) - 1]) + "->" + _einsum_letters(operands[-1])
            arrays = arrays[:-1]
        else:
            subscripts = ",".join(inputs)
    result = pt.einsum(subscripts, *[as_tensor(x) for x in arrays])
    return result if dtype is None else cast(result, dtype)


def _kron(a, b):
    """Kronecker product for any ndim: interleave the axes of a and b and merge each pair."""
    a, b = as_tensor(a), as_tensor(b)
    ndim = max(a.ndim, b.ndim)
    a = pt.shape_padleft(a, ndim - a.ndim)
    b = pt.shape_padleft(b, ndim - b.ndim)
    a_spread = a.dimshuffle([p for d in range(ndim) for p in (d, "x")])
    b_spread = b.dimshuffle([p for d in range(ndim) for p in ("x", d)])
    return pt.reshape(
        a_spread * b_spread, [a.shape[d] * b.shape[d] for d in range(ndim)], ndim=ndim
    )


def _cross(a, b, axisa=-1, axisb=-1, axisc=-1, axis=None):
    """Cross product of 3-vectors (or 2-vectors where the static length says 2) along an axis."""
    if axis is not None:
        axisa = axisb = axisc = axis
    a = pt.moveaxis(as_tensor(a), axisa, -1)
    b = pt.moveaxis(as_tensor(b), axisb, -1)
    lengths = {a.type.shape[-1], b.type.shape[-1]}
    if lengths & {2} and not lengths - {2}:
        # 2-vectors: numpy returns the z component only
        return a[..., 0] * b[..., 1] - a[..., 1] * b[..., 0]
    if lengths & {2}:
        raise NotImplementedError("np.cross of a 2-vector with a 3-vector is not supported")
    # otherwise 3-vectors: a shorter axis fails at run time with an index error
    a0, a1, a2 = a[..., 0], a[..., 1], a[..., 2]
    b0, b1, b2 = b[..., 0], b[..., 1], b[..., 2]
    result = pt.stack([a1 * b2 - a2 * b1, a2 * b0 - a0 * b2, a0 * b1 - a1 * b0], axis=-1)
    return pt.moveaxis(result, -1, axisc)


# --------------------------------------------------------------------------------------------
# the table
# --------------------------------------------------------------------------------------------


def centred(full, length, other):
    """The centred `length` entries of a full convolution with a kernel of length `other`: the
    'same' mode of numpy and scipy (PyTensor's convolve1d gives 'full' and 'valid' as numpy)."""
    start = (other - 1) // 2
    return full[start : start + length]


def one_dimensional(name, a, v):
    a, v = as_tensor(a), as_tensor(v)
    if a.ndim != 1 or v.ndim != 1:
        raise NotImplementedError(
            f"{name}: only 1-D inputs are supported (got {a.ndim}-D and {v.ndim}-D)"
        )
    return a, v


def _convolve(a, v, mode="full"):
    a, v = one_dimensional("np.convolve", a, v)
    if mode == "same":  # numpy: as long as the longer input
        n, m = a.shape[0], v.shape[0]
        return centred(convolve1d(a, v, mode="full"), pt.maximum(n, m), pt.minimum(n, m))
    return convolve1d(a, v, mode=mode)


FUNCTIONS = {
    # products
    np.dot: _dot,
    np.matmul: _matmul,
    np.outer: _outer,
    np.inner: _inner,
    np.vdot: _vdot,
    np.tensordot: _tensordot,
    np.einsum: _einsum,
    np.kron: _kron,
    np.cross: _cross,
    np.convolve: _convolve,
}

# names that exist only in some numpy versions (all of ours are numpy 2.x)
register_if_present(
    FUNCTIONS,
    np,
    {
        "vecdot": _vecdot,
    },
)
