"""Shared checks: compiled vs native values, gradients vs central finite differences."""

import numpy as np

import skautodiff


def finite_difference(fn, args, index, eps=1e-6):
    """Central differences of scalar fn w.r.t. the array/scalar argument at `index`."""
    args = list(args)
    x = np.array(args[index], dtype=float)
    grad = np.zeros_like(x)
    for i in np.ndindex(x.shape):
        hi, lo = x.copy(), x.copy()
        hi[i] += eps
        lo[i] -= eps
        args[index] = hi
        f_hi = fn(*args)
        args[index] = lo
        f_lo = fn(*args)
        grad[i] = (f_hi - f_lo) / (2 * eps)
    return grad


def check(fn, *args, wrt=0, rtol=1e-5, atol=1e-7):
    """fn compiled equals fn native; its gradient w.r.t. argument `wrt` equals finite differences."""
    copies = [np.array(a, copy=True) if isinstance(a, np.ndarray) else a for a in args]
    native = fn(*args)
    compiled = skautodiff.Function(fn)(*args)
    np.testing.assert_allclose(compiled, native, rtol=1e-10, atol=1e-12)
    grad = skautodiff.Gradient(fn, wrt=wrt)(*args)
    np.testing.assert_allclose(grad, finite_difference(fn, args, wrt), rtol=rtol, atol=atol)
    for a, c in zip(args, copies):  # nothing the caller passed was changed
        np.testing.assert_array_equal(a, c)
    return native
