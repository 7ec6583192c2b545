"""Simplification of the displayed expressions: cheap rewrites that always help (_tidy), then
sympy.simplify in a background thread given up after a time bound (simplify_within)."""

import threading

import sympy

from .elements import LazySum
from .scalars import sigmoid

# Above this size sympy.simplify is not attempted; SIMPLIFY_TIMEOUT is its time bound in seconds.
SIMPLIFY_MAX_OPS = 80
SIMPLIFY_TIMEOUT = 2.0


def _tidy_sum(e):
    """A sum of a constant is a product; constant factors move out; a sum of a one-hot Piecewise
    (what the gradient of x[0] produces) is the one term it picks."""
    if len(e.limits) != 1:
        return e
    f, (k, lo, hi) = e.function, e.limits[0]
    if k not in f.free_symbols:
        return f * (hi - lo + 1)
    const, f = f.as_independent(k, as_Add=False)
    if (
        isinstance(f, sympy.Piecewise)
        and len(f.args) == 2
        and f.args[1].cond == sympy.true
        and f.args[1].expr == 0
    ):
        term, cond = f.args[0]
        conds = list(cond.args) if isinstance(cond, sympy.And) else [cond]
        for q in conds:
            if isinstance(q, sympy.Eq) and k in q.args:
                c = q.rhs if q.lhs == k else q.lhs
                if k not in c.free_symbols:
                    rest = [r.xreplace({k: c}) for r in conds if r is not q]
                    keep = sympy.And(*rest, sympy.Ge(c, lo), sympy.Le(c, hi))
                    return const * sympy.Piecewise((term.xreplace({k: c}), keep), (0, True))
    return const * LazySum(f, (k, lo, hi)) if const != 1 else e


def _prefer_sigmoid(expr):
    """1/(1 + exp(u)) -> sigmoid(-u): how gradients of logistic losses are usually written."""

    def is_logistic(e):
        return (
            e.is_Pow
            and e.exp == -1
            and isinstance(e.base, sympy.Add)
            and len(e.base.args) == 2
            and sympy.S.One in e.base.args
            and any(isinstance(t, sympy.exp) for t in e.base.args)
        )

    def to_sigmoid(e):
        (u,) = next(t for t in e.base.args if isinstance(t, sympy.exp)).args
        return sigmoid(-u)

    return expr.replace(is_logistic, to_sigmoid)


def _is_delta(e):
    return (
        isinstance(e, sympy.Piecewise)
        and len(e.args) == 2
        and e.args[0].expr == 1
        and isinstance(e.args[0].cond, sympy.Eq)
        and e.args[1].expr == 0
        and e.args[1].cond == sympy.true
        and all(a.is_integer for a in e.args[0].cond.args)
    )  # index equalities, not x == max(x)


def _tidy(expr):
    """Cheap rewrites that always help, run before (and whatever becomes of) sympy.simplify:
    one-hot sums picked, sigmoid by name, Piecewise((1, Eq(j, 0)), (0, True)) as KroneckerDelta(j, 0)."""
    expr = _prefer_sigmoid(expr.replace(lambda e: isinstance(e, sympy.Sum), _tidy_sum))
    return expr.replace(_is_delta, lambda e: sympy.KroneckerDelta(*e.args[0].cond.args))


def simplify_within(expr, timeout):
    """sympy.simplify, given up after ``timeout`` seconds so that printing stays prompt.

    A thread cannot be stopped, so a simplification that runs over keeps going in the background;
    the op-count limit (SIMPLIFY_MAX_OPS) keeps such leftovers small. The result is kept only when
    it is strictly shorter and brings no Product (SymPy turns exp(Sum) into Product(exp))."""
    expr = _tidy(expr)
    size = sympy.count_ops(expr)
    if timeout <= 0 or size > SIMPLIFY_MAX_OPS:
        return expr
    # SymPy's simplify mishandles Piecewise under Sum (conditions escape their dummy); leave those
    if any(s.function.has(sympy.Piecewise) for s in expr.atoms(sympy.Sum)):
        return expr
    done = []
    # simplify would rewrite sigmoid(u) as 1/(1 + exp(-u)); an undefined function of the same
    # name keeps it as written
    hidden = sympy.Function("sigmoid")
    masked = expr.replace(sigmoid, hidden)

    def work():
        try:
            done.append(sympy.simplify(masked, ratio=1.0).replace(hidden, sigmoid))
        except Exception:  # SymPy gives up on some Piecewise/Sum mixes: keep the unsimplified form
            pass

    thread = threading.Thread(target=work, daemon=True)
    thread.start()
    thread.join(timeout)
    if not done or done[0].has(sympy.Product) and not expr.has(sympy.Product):
        return expr
    result = _prefer_sigmoid(done[0])
    return result if sympy.count_ops(result) < size else expr
