"""How a call's arguments reach the traced function: the plain function behind a callable, its
parameters, the arguments bound to them by name, and the parameter each numeric leaf belongs to.
"""

import functools
import inspect
import types

from .engine.interpreter import bind_arguments

# func's own parameters (not those of a function it wraps), cached: asked on every call of a
# compiled function
from .engine.interpreter import signature


def resolve_callable(fn):
    """(plain function, bound self or None): what the engine interprets for fn."""
    if isinstance(fn, types.MethodType) and isinstance(fn.__func__, types.FunctionType):
        return fn.__func__, fn.__self__
    if isinstance(fn, types.FunctionType):
        return fn, None
    if isinstance(fn, functools.partial):
        raise TypeError("pass functools.partial's arguments as args/kwargs instead of a partial")
    call = getattr(type(fn), "__call__", None)
    if isinstance(call, types.FunctionType):
        return call, fn
    raise TypeError(f"skautodiff needs a Python function, got {type(fn).__name__}: {fn!r}")


def parameters(func, bound_self):
    """The parameters a caller passes (without the bound `self`)."""
    params = list(signature(func).parameters.values())
    return params[1:] if bound_self is not None else params


@functools.lru_cache(maxsize=1024)
def _plain_parameters(func):
    """The parameter names when every parameter is positional-or-keyword, else None."""
    params = signature(func).parameters.values()
    if any(p.kind is not inspect.Parameter.POSITIONAL_OR_KEYWORD for p in params):
        return None
    return tuple(p.name for p in params)


def bind(func, bound_self, args, kwargs):
    """{parameter name: value} for a call, defaults applied (as the function holds them now: a
    default is an argument, read at each call), in signature order."""
    full = (bound_self, *args) if bound_self is not None else tuple(args)
    names = _plain_parameters(func)
    if names is not None and not kwargs and len(full) <= len(names):
        # The usual call, without inspect's binder (it costs more than a small compiled call).
        defaults = func.__defaults__ or ()
        missing = len(names) - len(full)
        if missing <= len(defaults):
            arguments = dict(zip(names, full))
            if missing:
                arguments.update(zip(names[len(full) :], defaults[len(defaults) - missing :]))
            if bound_self is not None:
                del arguments[names[0]]
            return arguments
    arguments = bind_arguments(func, full, kwargs)
    if bound_self is not None:
        arguments.pop(next(iter(arguments)))
    return arguments


def split(func, bound_self, arguments):
    """Positional and keyword arguments from {name: value}, honouring *args/**kwargs."""
    args, kwargs = [], {}
    params = parameters(func, bound_self)
    for p in params:
        value = arguments[p.name]
        if p.kind in (p.POSITIONAL_ONLY, p.POSITIONAL_OR_KEYWORD):
            args.append(value)
        elif p.kind == p.VAR_POSITIONAL:
            args.extend(value)
        elif p.kind == p.KEYWORD_ONLY:
            kwargs[p.name] = value
        else:
            kwargs.update(value)
    return args, kwargs


@functools.lru_cache(maxsize=1024)
def leaf_owners(treedef):
    """The parameter name of each numeric leaf of a bound call's treedef."""
    owners = []
    for name, child in zip(treedef.meta, treedef.children):
        owners.extend([name] * child.num_leaves)
    return tuple(owners)


__all__ = ["resolve_callable", "parameters", "bind", "split", "leaf_owners"]
