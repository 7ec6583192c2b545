"""PyTensor operations that numpy computes faster, swapped in when skautodiff compiles a graph.

* Transcendental elementwise functions. PyTensor's C Elemwise calls the scalar libm function once
  per element; numpy >= 2 dispatches these functions to vectorised loops (AVX2/AVX-512).
* max/min over a short last axis (`RowExtreme`).
* Matrix products (`NumpyProduct`): PyTensor's Python Gemv looks up scipy's BLAS on every call;
  its Dot22 and C Gemm (without a linked BLAS) allocate a new result each call.

Each was measured before it was kept: the figures are in doc/performance.md ("What makes the
compiled functions fast"; `python -m benchmarks.ufuncs` for the elementwise functions).

The rewrites run after the gradient is built and after PyTensor's stabilising rewrites
(log1p(exp(x)) -> softplus and the like), and before elementwise fusion, which then fuses the
elementwise work around the new nodes. They are tagged so that only skautodiff's compile mode
includes them; PyTensor code a user writes by hand in the same process is not changed.
"""

import numpy as np
import pytensor.scalar as ps
import pytensor.tensor as pt
from pytensor.compile import optdb
from pytensor.graph.basic import Apply
from pytensor.graph.op import Op
from pytensor.graph.rewriting.basic import in2out, node_rewriter
from pytensor.tensor.blas import Dot22, Gemm, Gemv
from pytensor.tensor.exceptions import NotScalarConstantError
from pytensor.tensor.elemwise import Elemwise
from pytensor.tensor.math import Max, Min

TAG = "skautodiff_numpy_ops"
_NUMPY_LOOP_DTYPES = ("float32", "float64")  # what numpy computes with PyTensor's output dtype

# PyTensor scalar op -> the numpy ufunc that computes it with SIMD (`python -m benchmarks.ufuncs`).
# sin and cos only in float32: numpy's float64 loops for them are no faster than libm's.
FASTER_IN_NUMPY = {
    ps.Exp: np.exp,
    ps.Exp2: np.exp2,
    ps.Expm1: np.expm1,
    ps.Log: np.log,
    ps.Log2: np.log2,
    ps.Log10: np.log10,
    ps.Log1p: np.log1p,
    ps.Tanh: np.tanh,
    ps.Sinh: np.sinh,
    ps.Cosh: np.cosh,
    ps.ArcSinh: np.arcsinh,
    ps.ArcCosh: np.arccosh,
    ps.ArcTanh: np.arctanh,
    ps.Tan: np.tan,
    ps.ArcSin: np.arcsin,
    ps.ArcCos: np.arccos,
    ps.ArcTan: np.arctan,
}
FASTER_IN_NUMPY_FLOAT32 = {ps.Sin: np.sin, ps.Cos: np.cos}


def _kept(output_storage, shape, dtype):
    """The previous call's output array when it has this shape (compiled functions keep their
    buffers between calls, see compile.mode), else a new one."""
    out = output_storage[0][0]
    if out is None or out.shape != shape:
        out = output_storage[0][0] = np.empty(shape, dtype=dtype)
    return out


class NumpyUfunc(Op):
    """`ufunc(x)` for a float array, written into the previous call's output when shapes match."""

    __props__ = ("name",)

    def __init__(self, name):
        self.name = name
        self.ufunc = getattr(np, name)

    def make_node(self, x):
        return Apply(self, [x], [x.type()])

    def perform(self, node, inputs, output_storage):
        (x,) = inputs
        # out= also keeps 0-d results arrays (self.ufunc(x) returns a numpy scalar there)
        self.ufunc(x, out=_kept(output_storage, x.shape, x.dtype))

    def infer_shape(self, *args):
        # (fgraph, node, shapes) in pytensor 3.0; (node, shapes) from 3.3, which warns about fgraph
        return args[-1]

    def __str__(self):
        return f"numpy.{self.name}"


class RowExtreme(Op):
    """max or min over the last axis: over short rows (the classes of a softmax) np.maximum
    column by column, which beats both PyTensor's C reduction and numpy's own there (figures in
    doc/performance.md); longer rows use numpy's own reduction."""

    __props__ = ("name",)
    SHORT = 16

    def __init__(self, name):
        self.name = name
        self.ufunc = {"max": np.maximum, "min": np.minimum}[name]

    def make_node(self, x):
        return Apply(self, [x], [pt.tensor(dtype=x.dtype, shape=x.type.shape[:-1])])

    def perform(self, node, inputs, output_storage):
        (x,) = inputs
        out = _kept(output_storage, x.shape[:-1], x.dtype)
        if 2 <= x.shape[-1] <= self.SHORT:
            self.ufunc(x[..., 0], x[..., 1], out=out)
            for j in range(2, x.shape[-1]):
                self.ufunc(out, x[..., j], out=out)
        else:
            self.ufunc.reduce(x, axis=-1, out=out)

    def infer_shape(self, *args):
        return [args[-1][0][:-1]]

    def __str__(self):
        return f"numpy.{self.name}(axis=-1)"


class NumpyProduct(Op):
    """x @ y (PyTensor's Dot22, and its Gemm and Gemv with alpha 1 and beta 0), or
    beta * z + alpha * (x @ y) (its other Gemm and Gemv), into the kept buffer.

    A Gemv or Gemm with beta 0 takes an uninitialised z (AllocEmpty of the rows' Shape_i) only
    for its shape: unscaled, those two nodes (and the C module each costs on a cold compile)
    go away.
    """

    __props__ = ("scaled",)

    def __init__(self, scaled):
        self.scaled = scaled

    def make_node(self, *inputs):
        if self.scaled:
            return Apply(self, list(inputs), [inputs[0].type()])
        x, y = inputs
        shape = (x.type.shape[0], *y.type.shape[1:])  # a vector y: matrix-vector (Gemv)
        return Apply(self, [x, y], [pt.tensor(dtype=x.dtype, shape=shape)])

    def perform(self, node, inputs, output_storage):
        if self.scaled:
            z, alpha, x, y, beta = inputs
            shape = z.shape
            if shape[0] != x.shape[0] or (y.ndim == 2 and shape[1:] != y.shape[1:]):
                # PyTensor's rewrites turned `X @ w - y` into one Gemv and dropped the assertion
                # of the subtraction: numpy's out= error would not say which lengths differ
                raise ValueError(
                    "skautodiff: the arguments' shapes do not fit together: a matrix product of "
                    f"shape {(x.shape[0], *y.shape[1:])} is added to an array of shape {shape}"
                )
        else:
            x, y = inputs
            shape = (x.shape[0], *y.shape[1:])
        out = _kept(output_storage, shape, node.outputs[0].dtype)
        np.dot(x, y, out=out)
        if self.scaled:
            if alpha != 1:
                out *= alpha
            if beta != 0:
                out += beta * z

    def infer_shape(self, *args):
        shapes = args[-1]
        return [shapes[0]] if self.scaled else [(shapes[0][0], *shapes[1][1:])]

    def __str__(self):
        return "numpy.gemm" if self.scaled else "numpy.dot"


@node_rewriter([Dot22, Gemm, Gemv])
def use_numpy_product(fgraph, node):
    if node.outputs[0].dtype not in _NUMPY_LOOP_DTYPES:
        return None
    if isinstance(node.op, Dot22):
        return [NumpyProduct(False)(*node.inputs)]
    if node.op.inplace:
        return None
    z, alpha, x, y, beta = node.inputs
    if _constant(alpha) == 1 and _constant(beta) == 0 and x.dtype == y.dtype == z.dtype:
        unscaled = NumpyProduct(False)(x, y)
        if unscaled.type == node.outputs[0].type:
            return [unscaled]
    return [NumpyProduct(True)(*node.inputs)]


def _constant(var):
    """The value of a scalar constant, else None."""
    try:
        return pt.get_scalar_constant_value(var)
    except NotScalarConstantError:
        return None


@node_rewriter([Max, Min])
def use_row_extreme(fgraph, node):
    x = node.inputs[0]
    axis = node.op.axis  # None: over all axes (np.max(x)), which is no row reduction
    if (
        x.ndim < 2
        or axis is None
        or tuple(axis) != (x.ndim - 1,)
        or x.dtype not in _NUMPY_LOOP_DTYPES
    ):
        return None
    return [RowExtreme("max" if isinstance(node.op, Max) else "min")(x)]


@node_rewriter([Elemwise])
def use_numpy_ufunc(fgraph, node):
    scalar_op = type(node.op.scalar_op)
    if len(node.inputs) != 1 or node.op.inplace_pattern:
        return None
    x, out = node.inputs[0], node.outputs[0]
    if out.dtype not in _NUMPY_LOOP_DTYPES or x.type != out.type:
        return None  # an integer input: numpy would pick another output dtype than PyTensor
    if scalar_op is ps.Softplus:
        # PyTensor's softplus (what log(1 + exp(x)) and logaddexp(0, x) become) calls libm's exp
        # and log1p per element; the same stable formula with numpy's exp and log1p:
        # zero shaped (1, ..., 1): a 0-d one would need an ExpandDims node (and its own C module:
        # these rewrites run after constant folding) to broadcast
        zero = pt.constant(np.zeros((1,) * x.ndim, dtype=x.dtype))
        return [pt.maximum(x, zero) + NumpyUfunc("log1p")(NumpyUfunc("exp")(-pt.abs(x)))]
    ufunc = FASTER_IN_NUMPY.get(scalar_op)
    if ufunc is None and out.dtype == "float32":
        ufunc = FASTER_IN_NUMPY_FLOAT32.get(scalar_op)
    return [NumpyUfunc(ufunc.__name__)(x)] if ufunc is not None else None


# After stabilize/specialize (<= 3) and add_mul_fusion (48), before elemwise_fusion (49).
optdb.register(
    "skautodiff_use_numpy_ops",
    in2out(use_numpy_ufunc, use_row_extreme, use_numpy_product),
    TAG,
    position=48.5,
)
