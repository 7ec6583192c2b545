"""Every memory layout numpy accepts works as an argument, copied only where PyTensor needs it.

PyTensor's C code rejects unaligned memory ("c_sync: expected an aligned array"), which numpy
allows: np.frombuffer at an odd offset, arrays unpickled from out-of-band buffers (dask). The
fast Python mode does not show that, so these tests run on the C backend. Each layout holds the
same numbers as a plain array; results are checked against numpy run natively on the layout,
against hand-derived gradients and solutions, and against the plain array's compiled results.
"""

import numpy as np
import pytest

import skautodiff
from skautodiff.compile import Call
from skautodiff.estimators import AutodiffRegressor

pytestmark = pytest.mark.cbackend

RNG = np.random.default_rng(7)
N, ALPHA = 40, 0.1
X0 = RNG.normal(size=(N, 3))
Y0 = X0 @ np.array([1.0, -2.0, 0.5]) + 0.1 * RNG.normal(size=N)
W0 = RNG.normal(size=3)


def loss(w, X, y):
    return np.mean((X @ w - y) ** 2) + ALPHA * np.sum(w**2)


def hand_gradient(w, X, y):
    return 2 / N * X.T @ (X @ w - y) + 2 * ALPHA * w


HESSIAN = 2 / N * X0.T @ X0 + 2 * ALPHA * np.eye(3)
OPTIMUM = np.linalg.solve(HESSIAN, 2 / N * X0.T @ Y0)


def unaligned(a):
    """What np.frombuffer at an odd byte offset gives."""
    buffer = bytearray(a.nbytes + 1)
    out = np.frombuffer(buffer, dtype=a.dtype, offset=1, count=a.size).reshape(a.shape)
    out[...] = a
    assert not out.flags.aligned
    return out


def unaligned_view(a):
    """An ndarray view of a plain array's bytes, one byte in."""
    raw = np.zeros(a.nbytes + 1, dtype=np.uint8)
    out = raw[1:].view(a.dtype).reshape(a.shape)
    out[...] = a
    assert not out.flags.aligned
    return out


def read_only(a):
    out = a.copy()
    out.flags.writeable = False
    return out


def memory_mapped(a, tmp_path):
    path = tmp_path / f"array{len(list(tmp_path.iterdir()))}.dat"  # one file per array
    out = np.memmap(path, dtype=a.dtype, mode="w+", shape=a.shape)
    out[...] = a
    return out


LAYOUTS = {
    "unaligned frombuffer": unaligned,
    "unaligned view": unaligned_view,
    "big-endian": lambda a: a.astype(a.dtype.newbyteorder(">")),
    "fortran order": np.asfortranarray,
    "negative strides": lambda a: np.flip(np.flip(a).copy()),
    "strided": lambda a: np.stack([a, -a], axis=-1)[..., 0],
    "read-only": read_only,
    "memory-mapped": memory_mapped,
}


def layout(name, a, tmp_path):
    make = LAYOUTS[name]
    out = make(a, tmp_path) if make is memory_mapped else make(a)
    np.testing.assert_array_equal(out, a)
    return out


@pytest.mark.parametrize("which", ["w", "X", "y"])
@pytest.mark.parametrize("name", list(LAYOUTS))
def test_value_and_gradient(name, which, tmp_path):
    args = {"w": W0, "X": X0, "y": Y0}
    args[which] = layout(name, args[which], tmp_path)
    snapshot = {k: np.array(v) for k, v in args.items()}
    value, grad = skautodiff.value_and_grad(loss, wrt="w")(**args)
    plain_value, plain_grad = skautodiff.value_and_grad(loss, wrt="w")(W0, X0, Y0)
    np.testing.assert_allclose(value, loss(**args), rtol=1e-12)  # numpy on the layout itself
    np.testing.assert_allclose(grad, hand_gradient(W0, X0, Y0), rtol=1e-10)
    np.testing.assert_allclose(value, plain_value, rtol=1e-12)
    np.testing.assert_allclose(grad, plain_grad, rtol=1e-12)
    for k, v in args.items():  # nothing the caller passed was changed
        np.testing.assert_array_equal(v, snapshot[k])


def test_broadcast_zero_strides():
    X = np.broadcast_to(X0[:1], X0.shape)  # every row the same memory: strides (0, 8)
    value, grad = skautodiff.value_and_grad(loss, wrt="w")(W0, X, Y0)
    dense = np.array(X)
    np.testing.assert_allclose(value, loss(W0, X, Y0), rtol=1e-12)
    np.testing.assert_allclose(grad, hand_gradient(W0, dense, Y0), rtol=1e-10)


@pytest.mark.parametrize(
    "name", ["unaligned frombuffer", "big-endian", "fortran order", "memory-mapped"]
)
def test_minimize_and_hessian_vector(name, tmp_path):
    X, y = layout(name, X0, tmp_path), layout(name, Y0, tmp_path)
    result = skautodiff.minimize(loss, layout(name, np.zeros(3), tmp_path), args=(X, y), tol=1e-12)
    np.testing.assert_allclose(result.x, OPTIMUM, rtol=1e-6)
    v = layout(name, np.array([0.3, -1.0, 2.0]), tmp_path)
    hv = skautodiff.HessianVector(loss, wrt="w")(W0, X, y, vectors=v)
    np.testing.assert_allclose(hv, HESSIAN @ [0.3, -1.0, 2.0], rtol=1e-10)


def _init(X, y, rng):
    return {"w": np.zeros(X.shape[1]), "b": 0.0}


def _squared_error(params, X, y):
    return np.mean((X @ params["w"] + params["b"] - y) ** 2)


def _predict(params, X):
    return X @ params["w"] + params["b"]


@pytest.mark.parametrize(
    "name", ["unaligned frombuffer", "unaligned view", "big-endian", "memory-mapped"]
)
def test_estimator_fit_predict(name, tmp_path):
    X, y = layout(name, X0, tmp_path), layout(name, Y0, tmp_path)
    est = AutodiffRegressor(
        loss=_squared_error, init_params=_init, predict_fn=_predict, tol=1e-12
    ).fit(X, y)
    design = np.column_stack([X0, np.ones(N)])  # least squares with an intercept, solved directly
    coef = np.linalg.lstsq(design, Y0, rcond=None)[0]
    np.testing.assert_allclose(est.params_["w"], coef[:3], rtol=1e-5)
    np.testing.assert_allclose(est.params_["b"], coef[3], rtol=1e-5, atol=1e-7)
    np.testing.assert_allclose(
        est.predict(X), design @ np.r_[est.params_["w"], est.params_["b"]], rtol=1e-12
    )


def test_aligned_arrays_pass_without_copy():
    X, y, bad = np.array(X0), np.array(Y0), unaligned(X0)
    call = Call(loss, (W0, X, y), {}, {"w"})
    entry, _ = call.run("value_and_grad")
    values = entry.inputs(call)
    assert values[1] is X and values[2] is y  # as they are: no per-call copy of the data
    call = Call(loss, (W0, bad, y), {}, {"w"})
    values = entry.inputs(call)
    assert values[1] is not bad and values[1].flags.aligned and values[2] is y
    np.testing.assert_array_equal(values[1], X0)


@pytest.mark.parametrize(
    "make, kind", [(np.asmatrix, "numpy.matrix"), (np.ma.masked_array, "numpy.ma.MaskedArray")]
)
def test_subclasses_with_their_own_semantics_are_refused(make, kind):
    # Compiled code would compute as on the plain data: `*` of two matrices is a matrix product in
    # numpy, and a masked array's sum skips masked entries.
    X = make(X0)
    with pytest.raises(TypeError, match=f"does not take {kind} arguments"):
        skautodiff.value_and_grad(loss, wrt="w")(W0, X, Y0)
