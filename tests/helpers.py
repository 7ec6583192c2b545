"""Shared checks: compiled vs native values, and the suite's one finite-difference oracle
(`numeric_gradient`), which every gradient check compares against."""

import numpy as np

import skautodiff


def numeric_gradient(f, x, step=1e-6, relative=True, scheme="central"):
    """The gradient of scalar f at x (an array or a number) by finite differences, float64.

    Each coordinate moves by `step`, times max(1, |x_i|) when `relative`. scheme "central": central
    differences (error O(h^2)); "richardson": central differences at h and h/2 extrapolated (error
    O(h^4)); "forward" / "backward": one-sided differences (they tell a kink's two sides apart,
    which central differences average). f receives a float64 array shaped like x.
    """
    base = np.array(x, dtype=np.float64)
    grad = np.zeros_like(base)
    for i in np.ndindex(base.shape):
        h = step * max(1.0, abs(base[i])) if relative else step

        def at(delta, i=i):
            moved = base.copy()
            moved[i] += delta
            return float(f(moved))

        if scheme == "central":
            grad[i] = (at(h) - at(-h)) / (2 * h)
        elif scheme == "richardson":
            wide, narrow = (at(h) - at(-h)) / (2 * h), (at(h / 2) - at(-h / 2)) / h
            grad[i] = (4 * narrow - wide) / 3
        elif scheme == "forward":
            grad[i] = (at(h) - at(0.0)) / h
        elif scheme == "backward":
            grad[i] = (at(0.0) - at(-h)) / h
        else:
            raise ValueError(f"unknown scheme {scheme!r}")
    return grad


def finite_difference(fn, args, index, eps=1e-6):
    """Central differences of scalar fn w.r.t. the array/scalar argument at `index` (fixed step)."""
    args = list(args)

    def at(x):
        return fn(*args[:index], x, *args[index + 1 :])

    return numeric_gradient(at, args[index], step=eps, relative=False)


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
