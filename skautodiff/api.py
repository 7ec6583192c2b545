"""The functional API: Function, Gradient, HessianVector, value_and_grad and decorators.

Each object wraps a user function; a call flattens the arguments, finds (or traces and compiles)
the matching cache entry and returns results shaped like the user's arguments.
"""

import functools
import inspect

import numpy as np

from . import backends, pytree
from .compile import Call, free
from .graphs import Kind, gradients
from .arguments import bind, parameters, resolve_callable
from .inputs import aligned


def _wrt_names(fn, wrt, args=None, kwargs=None):
    """Parameter names to differentiate, and whether the caller asked for a single one."""
    func, bound_self = resolve_callable(fn)
    params = [p for p in parameters(func, bound_self)]
    names = [p.name for p in params]
    if wrt is None:
        if args is None:
            return None, False
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


def nothing_to_differentiate(name, value):
    """The error for a differentiated argument `name` whose `value` holds no numbers (its
    gradient would be the argument itself)."""
    return ValueError(
        f"cannot differentiate with respect to {name!r}: it holds no numbers, only a "
        f"{type(value).__name__} (parameters are numbers and arrays, also inside dicts, lists, "
        "tuples and namedtuples; other containers such as OrderedDict or objects are data)"
    )


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
        plan = entry.gradient_layouts.get(tuple(names))
        if (
            plan is None
        ):  # (structure, leaf indices) of each differentiated argument, in `names` order
            tr, parts, start = entry.trace, {}, 0
            for name, child in zip(tr.treedef.meta, tr.treedef.children):
                parts[name] = (child, range(start, start + child.num_leaves))
                start += child.num_leaves
            for name in names:
                if parts[name][0].num_leaves == 0:
                    value = bind(call.func, call.bound_self, call.args, call.kwargs)[name]
                    raise nothing_to_differentiate(name, value)
            plan = entry.gradient_layouts[tuple(names)] = [parts[name] for name in names]
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
        from .printing import Formula  # SymPy, loaded only when a formula is asked for

        entry, names = self._last
        tr = entry.trace
        if isinstance(self, Function) or names is None:
            return Formula.from_graph([("f", v) for v in tr.outputs])
        _, wrt, grads = gradients(tr)
        return Formula.from_graph([(f"∂f/∂{w.name}", g) for w, g in zip(wrt, grads)])


def _like(leaf, grad):
    """A gradient leaf in the form of its argument leaf: arrays stay arrays, scalars scalars."""
    if isinstance(leaf, np.ndarray):
        return np.asarray(grad)
    return np.float64(grad) if not isinstance(leaf, np.floating) else type(leaf)(grad)


class Function(_Wrapper):
    """A numpy function compiled: calling it gives the same outputs as calling ``fn`` natively.

    The first call with arguments of a new structure (shapes, dtypes, pytree layout) traces and
    compiles ``fn``; later calls reuse the compiled function from the process-wide cache.

    Parameters
    ----------
    fn : callable
        A function written in plain numpy (a method works too: the wrapper binds like one).
    example_args : sequence, optional
        Arguments to trace and compile with at once, so that ``print()`` shows the formula before
        the first call.
    backend : {"c", "jax"}, default "c"
        What compiles it: PyTensor's C backend, or its JAX linker (XLA on CPU, GPU or TPU; needs
        ``pip install "skautodiff[jax]"``). See doc/backends.md.

    See Also
    --------
    function : the same as a decorator.
    formula : the function as mathematics.

    Examples
    --------
    >>> import numpy as np, skautodiff
    >>> f = skautodiff.Function(lambda x: np.sum(x ** 2))
    >>> float(f(np.arange(3.0)))
    5.0
    """

    def __init__(self, fn, example_args=None, backend="c"):
        super().__init__(fn, example_args, backend=backend)

    def __get__(self, obj, objtype=None):
        if obj is None:
            return self
        return Function(self.fn.__get__(obj, objtype), backend=self.backend)

    def __call__(self, *args, **kwargs):
        call = Call(self.fn, args, kwargs, set())
        entry, outs = call.run(Kind.VALUE, backend=self.backend)
        self._last = (entry, None)
        return entry.values(outs)


class Gradient(_Wrapper):
    """The gradient of a scalar numpy function, compiled.

    Calling it with ``fn``'s arguments returns the gradient shaped like the arguments
    differentiated: one pytree when ``wrt`` names one argument, a list of them otherwise.

    Parameters
    ----------
    fn : callable
        A function written in plain numpy that returns a real scalar.
    example_args : sequence, optional
        Arguments to trace and compile with at once.
    wrt : str, int, list of them, or None
        The arguments to differentiate, by name or position; None: every argument that holds
        arrays or numbers (the gradient is then a list, one entry per argument).
    backend : {"c", "jax"}, default "c"
        What compiles it: PyTensor's C backend, or its JAX linker (XLA on CPU, GPU or TPU; needs
        ``pip install "skautodiff[jax]"``). See doc/backends.md.

    See Also
    --------
    gradient : the same as a decorator.
    ValueAndGrad : value and gradient in one call.

    Examples
    --------
    >>> import numpy as np, skautodiff
    >>> g = skautodiff.Gradient(lambda x: ((x + 1) ** 2).sum(), wrt="x")
    >>> g(np.arange(3.0))
    array([2., 4., 6.])
    """

    def __call__(self, *args, **kwargs):
        call, entry, outs, names, single = self._call(Kind.VALUE_AND_GRAD, args, kwargs)
        return self._grads(call, entry, outs[1:], names, single)


class ValueAndGrad(_Wrapper):
    """A scalar numpy function's value and gradient, in one compiled call.

    Calling it returns ``(value, gradient)``, the gradient shaped as :class:`Gradient` returns it.

    Parameters
    ----------
    fn : callable
        A function written in plain numpy that returns a real scalar.
    example_args : sequence, optional
        Arguments to trace and compile with at once.
    wrt : str, int, list of them, or None
        The arguments to differentiate, by name or position; None: every argument that holds
        arrays or numbers (the gradient is then a list, one entry per argument).
    backend : {"c", "jax"}, default "c"
        What compiles it: PyTensor's C backend, or its JAX linker (XLA on CPU, GPU or TPU; needs
        ``pip install "skautodiff[jax]"``). See doc/backends.md.

    See Also
    --------
    value_and_grad : the same, as a function.
    """

    def __call__(self, *args, **kwargs):
        call, entry, outs, names, single = self._call(Kind.VALUE_AND_GRAD, args, kwargs)
        value = entry.values(outs[:1])
        return value, self._grads(call, entry, outs[1:], names, single)


class HessianVector(_Wrapper):
    """Hessian-vector products of a scalar numpy function, compiled.

    Call it with ``fn``'s arguments and the keyword ``vectors``, shaped like the differentiated
    argument (a list of such, one per argument, when ``wrt`` lists several); it returns the
    Hessian times ``vectors``, shaped the same way. The Hessian itself is never formed.

    Parameters
    ----------
    fn : callable
        A function written in plain numpy that returns a real scalar.
    example_args : sequence, optional
        Arguments to trace and compile with at once.
    wrt : str, int, list of them, or None
        The arguments to differentiate, by name or position; None: every argument that holds
        arrays or numbers (the gradient is then a list, one entry per argument).
    backend : {"c", "jax"}, default "c"
        What compiles it: PyTensor's C backend, or its JAX linker (XLA on CPU, GPU or TPU; needs
        ``pip install "skautodiff[jax]"``). See doc/backends.md.
    """

    def __call__(self, *args, vectors, **kwargs):
        names, single = _wrt_names(self.fn, self.wrt, args, kwargs)
        call = Call(self.fn, args, kwargs, set(names))
        if not single and (not isinstance(vectors, (list, tuple)) or len(vectors) != len(names)):
            raise ValueError(f"vectors must be a list of {len(names)}, one per argument {names}")
        by_name = dict(zip(names, [vectors] if single else list(vectors)))
        extra, paths = [], []
        # vectors in the order the compiled function takes them, each in its argument's structure
        # (a dict's entries by key: {"b": .., "a": ..} multiplies the same leaves as {"a": .., "b": ..})
        for name, child, leaf_paths in zip(
            call.names, call.treedef.children, _leaf_paths(call.treedef, call.names)
        ):
            if name in by_name:
                extra.extend(pytree.flatten_like(by_name[name], child, f"vectors for {name}"))
                paths.extend(leaf_paths)
        wrt_leaves = [call.leaves[i] for i in call.wrt_indices]
        extra = [_as(v, leaf, path) for v, leaf, path in zip(extra, wrt_leaves, paths)]
        entry, outs = call.run(Kind.HVP, extra, self.backend)
        self._last = (entry, names)
        return self._grads(call, entry, outs, names, single)


def _leaf_paths(treedef, names):
    """Per argument, the readable names of its numeric leaves (params['w'], ...)."""
    return [pytree.leaf_paths(child, name) for name, child in zip(names, treedef.children)]


def _as(vector, leaf, path):
    """A vector in the dtype of the leaf it multiplies (float64 for integer leaves), which it
    must be shaped like."""
    dtype = np.asarray(leaf).dtype
    vector = np.asarray(vector, dtype=dtype if dtype.kind == "f" else np.float64)
    if vector.shape != np.shape(leaf):
        raise ValueError(
            f"vectors must be shaped like the arguments: the vector for {path} has shape "
            f"{vector.shape}, {path} has shape {np.shape(leaf)}"
        )
    return aligned(vector)


def value_and_grad(fn, wrt=None, backend="c"):
    """``fn`` compiled to return its value and its gradient with respect to ``wrt``.

    Parameters
    ----------
    fn : callable
        A function written in plain numpy that returns a real scalar.
    wrt : str, int, list of them, or None
        The arguments to differentiate, by name or position; None: every argument that holds
        arrays or numbers (the gradient is then a list, one entry per argument).
    backend : {"c", "jax"}, default "c"
        What compiles it: PyTensor's C backend, or its JAX linker (XLA on CPU, GPU or TPU; needs
        ``pip install "skautodiff[jax]"``). See doc/backends.md.

    Returns
    -------
    ValueAndGrad
        Called with ``fn``'s arguments, it returns ``(value, gradient)``.

    Examples
    --------
    >>> import numpy as np, skautodiff
    >>> value, grad = skautodiff.value_and_grad(lambda w: np.sum(w ** 2), wrt="w")(np.ones(2))
    >>> float(value), grad
    (2.0, array([2., 2.]))
    """
    return ValueAndGrad(fn, wrt=wrt, backend=backend)


def function(fn=None, *, backend="c"):
    """Decorator: compile ``fn`` (a function or a method); ``@function(backend="jax")`` for JAX.

    Parameters
    ----------
    fn : callable
        A function written in plain numpy.
    backend : {"c", "jax"}, default "c"
        What compiles it: PyTensor's C backend, or its JAX linker (XLA on CPU, GPU or TPU; needs
        ``pip install "skautodiff[jax]"``). See doc/backends.md.

    Returns
    -------
    Function
        ``fn`` compiled, with the same outputs.
    """
    if fn is None:
        return lambda f: Function(f, backend=backend)
    return Function(fn, backend=backend)


def gradient(wrt=None, backend="c"):
    """Decorator factory: ``@gradient(wrt="w")`` turns a scalar function into its gradient.

    Parameters
    ----------
    wrt : str, int, list of them, or None
        The arguments to differentiate, by name or position; None: every argument that holds
        arrays or numbers (the gradient is then a list, one entry per argument).
    backend : {"c", "jax"}, default "c"
        What compiles it: PyTensor's C backend, or its JAX linker (XLA on CPU, GPU or TPU; needs
        ``pip install "skautodiff[jax]"``). See doc/backends.md.

    Returns
    -------
    callable
        A decorator that makes a :class:`Gradient` of the function it decorates.
    """
    backends.check(backend)

    def decorate(fn):
        return Gradient(fn, wrt=wrt, backend=backend)

    return decorate


def formula(fn, *example_args, wrt=None, **example_kwargs):
    """``fn`` traced at the example arguments, as mathematics.

    Parameters
    ----------
    fn : callable
        A function written in plain numpy.
    *example_args
        Arguments to trace ``fn`` with; only their shapes, dtypes and structure matter (and the
        values of numbers the function branches on).
    wrt : str, list of str, or None
        None: the formula of ``fn``'s value; else of its gradient with respect to these
        parameters.
    **example_kwargs
        Keyword arguments to trace ``fn`` with.

    Returns
    -------
    Formula
        ``print()`` it for plain text, ``.latex()`` for LaTeX.

    Examples
    --------
    >>> import numpy as np, skautodiff
    >>> print(skautodiff.formula(lambda x: np.sum((x + 1) ** 2), np.zeros(3), wrt="x"))
    ∂f/∂x = 2*x + 2
    """
    wrapper = Function(fn) if wrt is None else Gradient(fn, wrt=wrt)
    wrapper(*example_args, **example_kwargs)
    return wrapper.formula()
