"""The functional API: Function, Gradient, HessianVector, value_and_grad and decorators.

Each object wraps a user function; a call flattens the arguments, finds (or traces and compiles)
the matching cache entry and returns results shaped like the user's arguments.
"""

import functools
import inspect

import numpy as np

from . import backends, pytree
from .compile import Call, free
from .trace import aligned, parameters, resolve_callable


def _wrt_names(fn, wrt, args=None, kwargs=None):
    """Parameter names to differentiate, and whether the caller asked for a single one."""
    func, bound_self = resolve_callable(fn)
    params = [p for p in parameters(func, bound_self)]
    names = [p.name for p in params]
    if wrt is None:
        if args is None:
            return None, False
        from .trace import bind

        arguments = bind(func, bound_self, args, kwargs or {})
        return [n for n, v in arguments.items() if pytree.flatten(v)[0]], False
    single = isinstance(wrt, (str, int))
    chosen = []
    for w in [wrt] if single else list(wrt):
        if isinstance(w, int):
            if not -len(names) <= w < len(names):
                raise ValueError(
                    f"wrt={w} is out of range for {func.__qualname__}{inspect.signature(func)}"
                )
            chosen.append(names[w])
        elif w in names:
            chosen.append(w)
        else:
            raise ValueError(
                f"wrt={w!r} is not a parameter of {func.__qualname__}; parameters: {', '.join(names)}"
            )
    return chosen, single


class _Wrapper:
    """Common parts: the wrapped function, method binding, eager tracing on example args.

    `backend` is "c" (PyTensor's C backend) or "jax" (PyTensor's JAX linker; see doc/backends.md).
    """

    def __init__(self, fn, example_args=None, wrt=None, backend="c"):
        functools.update_wrapper(self, fn, updated=())
        self.fn, self.wrt = fn, wrt
        self.backend = backends.check(backend)
        self._last = None
        # Named or positional wrt does not depend on the call's arguments: resolve it once.
        self._wrt = _wrt_names(fn, wrt) if wrt is not None else None
        if example_args is not None:
            self(*example_args)

    def __get__(self, obj, objtype=None):
        if obj is None:
            return self
        return type(self)(self.fn.__get__(obj, objtype), wrt=self.wrt, backend=self.backend)

    def _call(self, kind, args, kwargs, extra=()):
        names, single = (
            self._wrt if self._wrt is not None else _wrt_names(self.fn, self.wrt, args, kwargs)
        )
        call = Call(self.fn, args, kwargs, set(names or ()))
        entry, outs = call.run(kind, extra, self.backend)
        self._last = (entry, names)
        return call, entry, outs, names, single

    def _grads(self, call, entry, grads, names, single):
        """Gradient leaves -> one pytree per differentiated argument."""
        plan = entry.plans.get(tuple(names))
        if (
            plan is None
        ):  # (structure, leaf indices) of each differentiated argument, in `names` order
            tr, parts, start = entry.trace, {}, 0
            for name, child in zip(tr.treedef.meta, tr.treedef.children):
                parts[name] = (child, range(start, start + child.num_leaves))
                start += child.num_leaves
            plan = entry.plans[tuple(names)] = [parts[name] for name in names]
        by_leaf = dict(zip(entry.trace.wrt_leaves, grads))
        results = [
            pytree.unflatten(
                child,
                [
                    _like(call.leaves[i], by_leaf[i])
                    if i in by_leaf
                    else np.zeros(np.shape(call.leaves[i]))
                    for i in indices
                ],
            )
            for child, indices in plan
        ]
        return results[0] if single else results

    def free(self):
        """Release the arrays fn's compiled functions keep between calls to reuse them on the next
        one (as large as the loss's intermediate results; `minimize` releases them itself)."""
        free(resolve_callable(self.fn)[0].__code__)

    def __repr__(self):
        return f"{type(self).__name__}({getattr(self.fn, '__qualname__', self.fn)!r})"

    def __str__(self):
        formula = self.formula()
        return str(formula) if formula is not None else repr(self)

    def formula(self):
        """The traced function as mathematics (see skautodiff.formula); None before a call."""
        if self._last is None:
            return None
        from .printing import Formula

        entry, names = self._last
        return _formula(Formula, self, entry, names)


def _like(leaf, grad):
    """A gradient leaf in the form of its argument leaf: arrays stay arrays, scalars scalars."""
    if isinstance(leaf, np.ndarray):
        return np.asarray(grad)
    return np.float64(grad) if not isinstance(leaf, np.floating) else type(leaf)(grad)


class Function(_Wrapper):
    """`fn` compiled: same outputs as calling it natively."""

    def __init__(self, fn, example_args=None, backend="c"):
        super().__init__(fn, example_args, backend=backend)

    def __get__(self, obj, objtype=None):
        return (
            self if obj is None else Function(self.fn.__get__(obj, objtype), backend=self.backend)
        )

    def __call__(self, *args, **kwargs):
        call = Call(self.fn, args, kwargs, set())
        entry, outs = call.run("value", backend=self.backend)
        self._last = (entry, None)
        return entry.values(outs)


class Gradient(_Wrapper):
    """The gradient of a scalar function, shaped like the arguments differentiated."""

    def __call__(self, *args, **kwargs):
        call, entry, outs, names, single = self._call("value_and_grad", args, kwargs)
        return self._grads(call, entry, outs[1:], names, single)


class ValueAndGrad(_Wrapper):
    """(value, gradient) in one compiled call."""

    def __call__(self, *args, **kwargs):
        call, entry, outs, names, single = self._call("value_and_grad", args, kwargs)
        value = entry.values(outs[:1])
        return value, self._grads(call, entry, outs[1:], names, single)


class HessianVector(_Wrapper):
    """Hessian-vector products: call with `vectors=` shaped like the differentiated argument(s)."""

    def __call__(self, *args, vectors, **kwargs):
        names, single = _wrt_names(self.fn, self.wrt, args, kwargs)
        call = Call(self.fn, args, kwargs, set(names))
        by_name = dict(zip(names, [vectors] if single else list(vectors)))
        extra = []
        for name in call.names:  # vectors in the order the compiled function takes them
            if name in by_name:
                extra.extend(pytree.flatten(by_name[name])[0])
        wrt_leaves = [call.leaves[i] for i in call.wrt_indices]
        if len(extra) != len(wrt_leaves):
            raise ValueError(
                f"vectors must be shaped like {', '.join(names)}: expected "
                f"{len(wrt_leaves)} arrays, got {len(extra)}"
            )
        extra = [_as(v, leaf) for v, leaf in zip(extra, wrt_leaves)]
        entry, outs = call.run("hvp", extra, self.backend)
        self._last = (entry, names)
        return self._grads(call, entry, outs, names, single)


def _as(vector, leaf):
    """A vector in the dtype of the leaf it multiplies (float64 for integer leaves)."""
    dtype = np.asarray(leaf).dtype
    return aligned(np.asarray(vector, dtype=dtype if dtype.kind == "f" else np.float64))


def value_and_grad(fn, wrt=None, backend="c"):
    """A function returning (fn(*args), gradient w.r.t. `wrt`), compiled."""
    return ValueAndGrad(fn, wrt=wrt, backend=backend)


def function(fn=None, *, backend="c"):
    """Decorator: compile `fn` (also on methods); `@function(backend="jax")` for JAX."""
    if fn is None:
        return lambda f: Function(f, backend=backend)
    return Function(fn, backend=backend)


def gradient(wrt=None, backend="c"):
    """Decorator factory: `@gradient(wrt="w")` turns fn into its gradient."""
    backends.check(backend)

    def decorate(fn):
        return Gradient(fn, wrt=wrt, backend=backend)

    return decorate


def _formula(Formula, wrapper, entry, names):
    tr = entry.trace
    if isinstance(wrapper, Function) or names is None:
        return Formula.from_graph([("f", v) for v in tr.outputs])
    import pytensor

    cost = tr.outputs[0]
    wrt = [tr.inputs[i] for i in tr.wrt_leaves]
    grads = pytensor.grad(cost, wrt, disconnected_inputs="ignore", return_disconnected="zero")
    return Formula.from_graph([(f"∂f/∂{w.name}", g) for w, g in zip(wrt, grads)])
