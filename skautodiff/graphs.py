"""The graphs compiled for one trace, one per kind: its value; its value and gradient; its
Hessian-vector products. The gradient is built here only (compile.py compiles it, skautodiff's
formulas print it)."""

import enum

import pytensor
import pytensor.tensor as pt


class Kind(enum.StrEnum):
    """Which compiled function of a trace (a str: "value" still names Kind.VALUE)."""

    VALUE = "value"
    VALUE_AND_GRAD = "value_and_grad"
    HVP = "hvp"

    @property
    def label(self):
        """As log messages and tier names write it ("value and grad")."""
        return self.value.replace("_", " ")


def gradients(tr, outputs=None):
    """(cost, wrt, gradients): the traced scalar, the differentiated inputs and its gradient with
    respect to each, in that input's dtype. `outputs`: the forward graph's outputs to differentiate
    instead of the trace's (a rewrite of them, such as the JAX backend's row padding)."""
    cost = _scalar_output(tr)
    if outputs is not None:
        cost = outputs[0]
    wrt = [tr.inputs[i] for i in tr.wrt_leaves]
    grads = pytensor.grad(cost, wrt, disconnected_inputs="ignore", return_disconnected="zero")
    return cost, wrt, _in_dtypes(grads, wrt)


def build(tr, kind, forward=None):
    """(inputs, outputs) of the compiled `kind`, without the guards. `forward`: (inputs, outputs)
    of a rewrite of the traced graph to build from instead (backends/rows.py's row padding)."""
    inputs, traced = forward or (tr.all_inputs, tr.outputs)
    inputs = list(inputs)
    if kind == Kind.VALUE:
        return inputs, list(traced)
    cost, wrt, grads = gradients(tr, traced)
    if kind == Kind.VALUE_AND_GRAD:
        return inputs, [cost, *grads]
    # Hessian-vector product: the gradient of <grad, v>, with v an input shaped like each argument
    vectors = [w.type(name=f"v_{w.name}") for w in wrt]
    inner = pt.sum([pt.sum(g * v) for g, v in zip(grads, vectors)])
    hvp = pytensor.grad(inner, wrt, disconnected_inputs="ignore", return_disconnected="zero")
    return inputs + vectors, _in_dtypes(hvp, wrt)


def _in_dtypes(grads, wrt):
    """Gradients in their argument's dtype: PyTensor gives float64 for a float32 argument that the
    function upcasts (np.sin(x.astype(np.float64)))."""
    return [pt.cast(g, w.dtype) for g, w in zip(grads, wrt)]


def _scalar_output(tr):
    if len(tr.outputs) != 1 or tr.out_treedef.kind != "leaf" or tr.outputs[0].ndim != 0:
        shapes = ", ".join(str(v.ndim) + "-d" for v in tr.outputs)
        raise ValueError(
            f"{tr.func.__qualname__} must return a scalar to be differentiated; it returned "
            f"{len(tr.outputs)} value(s) ({shapes})"
        )
    return tr.outputs[0]


__all__ = ["Kind", "gradients", "build"]
