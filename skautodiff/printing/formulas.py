"""The Formula: named outputs of a traced function (or of its derivatives) as mathematics, shown as
plain text, LaTeX or a summary when too large, and evaluated with numpy; ``formula`` builds one."""

import itertools
import re
from dataclasses import dataclass

import numpy as np
import sympy
from pytensor.graph.basic import Constant
from pytensor.graph.fg import FunctionGraph
from pytensor.graph.rewriting.utils import rewrite_graph

from .converter import Converter
from .elements import DIM_NAMES, INDICES, INDEX_ASSUMPTIONS, INDEX_NAMES, plain_sums, strip_indices
from .scalars import toposort
from .simplify import SIMPLIFY_TIMEOUT, simplify_within

# Above these sizes an output is shown as a summary, and sympy.simplify is not attempted.
MAX_CHARS = 2000
MAX_NODES = 200  # larger graphs are converted only near their outputs, for the summary
SUMMARY_DEPTH = 3

_LAMBDIFY_MODULES = [{"sigmoid": lambda x: 1 / (1 + np.exp(-x))}, "scipy", "numpy"]


@dataclass
class _Output:
    label: str
    expr: sympy.Basic  # what is shown: stripped element, matrix expression, or indexed element
    free: tuple  # the indices that the label carries (indexed display only)
    shape: tuple


def _graph_inputs(outputs):
    return [v for v in toposort(outputs, set()) if v.owner is None and not isinstance(v, Constant)]


def _input_names(inputs, names):
    """Display names: the given ones, else var.name, made unique and never empty."""
    out, used = [], set()
    for k, var in enumerate(inputs):
        name = (names or {}).get(var) or var.name or f"x{k}"
        base, n = name, 1
        while name in used:
            name, n = f"{base}_{n}", n + 1
        used.add(name)
        out.append(name)
    return out


def _fresh_names(pool, taken):
    for name in pool:
        if name not in taken:
            taken.add(name)
            yield name
    for n in itertools.count(1):
        for name in pool:
            if f"{name}{n}" not in taken:
                taken.add(f"{name}{n}")
                yield f"{name}{n}"


def _top_level(expr, depth=3):
    """The expression with everything below ``depth`` replaced by an ellipsis (for summaries)."""
    if not expr.args:
        return expr
    if depth == 0:
        return sympy.Symbol("…")
    args = [_top_level(a, depth - 1) for a in expr.args]
    try:  # unevaluated, or SymPy would merge …*… into …**2
        return expr.func(*args, evaluate=False)
    except TypeError:  # classes without an evaluate flag
        pass
    try:
        return expr.func(*args)
    except Exception:  # some classes (Sum limits, Indexed) reject an ellipsis argument
        return sympy.Symbol("…")


def _latex_label(label, free):
    m = re.fullmatch(r"∂(.+)/∂(.+)", label)
    sub = "_{%s}" % ",".join(map(sympy.latex, free)) if free else ""
    if m:
        num, den = (sympy.latex(sympy.Symbol(s)) for s in m.groups())
        return r"\frac{\partial %s}{\partial %s%s}" % (num, den, sub)
    return sympy.latex(sympy.Symbol(label)) + sub


class Formula:
    """Named outputs of a traced function (or of its derivatives) as mathematics.

    Made by :func:`skautodiff.formula`, ``print()`` of a compiled function, an estimator's
    ``formula()``, or ``Formula.from_graph([("f", var)])`` from a PyTensor variable. ``str()``
    gives plain text, :meth:`latex` and ``_repr_latex_()`` (Jupyter) LaTeX, :meth:`sympy` the
    SymPy expressions, :meth:`evaluate` the formula computed with numpy (to check it against the
    compiled function). A graph too large to show in full is summarised (its top levels).

    Attributes
    ----------
    labels : list of str
        The outputs' names (``f``, ``∂f/∂w``).
    inputs : list of str
        The inputs' display names.
    n_nodes : int
        The size of the graph the formula was read from.
    complete : bool
        False when only the expression near the outputs was converted.
    """

    def __init__(self, outputs, inputs, n_nodes, complete=True):
        self._outputs = outputs
        self._inputs = inputs  # [(name, display shape)]
        self.n_nodes = n_nodes
        self.complete = complete  # False: only the expression near the outputs was converted

    @classmethod
    def from_graph(cls, outputs, names=None, rewrite=True, simplify_timeout=SIMPLIFY_TIMEOUT):
        """``outputs``: [(label, TensorVariable)]; ``names``: {input variable: display name}.

        With ``rewrite``, PyTensor's canonicalize and stabilize rewrites run first on a clone of the
        graph: they remove the fill/ones/broadcast clutter of gradient graphs."""
        labels = [label for label, _ in outputs]
        variables = [var for _, var in outputs]
        inputs = _graph_inputs(variables)
        display = _input_names(inputs, names)
        fg = FunctionGraph(inputs, variables, clone=True)
        # A graph far over MAX_NODES ends as a summary anyway: rewriting it would only cost time.
        if rewrite and len(fg.apply_nodes) <= 5 * MAX_NODES:
            try:
                rewrite_graph(fg, include=("canonicalize", "stabilize"))
            except Exception:  # a rewrite that fails here only costs readability
                fg = FunctionGraph(inputs, variables, clone=True)
        conv = Converter(dict(zip(fg.inputs, display)))
        for var in fg.inputs:  # inputs the rewritten outputs no longer use still get their shapes
            conv.memo[var] = conv.leaf(var)
        complete = len(fg.apply_nodes) <= MAX_NODES
        if complete:
            try:
                values = conv.convert(list(fg.outputs))
            except RecursionError:  # a graph this deep would not be readable anyway
                complete = False
        if not complete:
            conv.cut_below(fg.outputs, SUMMARY_DEPTH)
            values = conv.convert(list(fg.outputs))
            simplify_timeout = 0
        shapes = [tuple(conv.resolve(d) for d in conv.memo[v].shape) for v in fg.inputs]
        shown = []
        for label, t in zip(labels, values):
            elem = simplify_within(conv.resolve(t.elem), simplify_timeout)
            mat = conv.resolve(t.mat) if t.mat is not None else None
            stripped = strip_indices(elem, t.ndim)
            if stripped is not None:
                shown.append((label, stripped, ()))
            elif mat is not None:
                shown.append((label, mat, ()))
            else:
                shown.append((label, elem, INDICES[: t.ndim]))
        shape_out = [tuple(conv.resolve(d) for d in t.shape) for t in values]
        formula = cls._named(shown, shape_out, list(zip(display, shapes)), len(fg.apply_nodes))
        formula.complete = complete
        return formula

    @classmethod
    def _named(cls, shown, out_shapes, inputs, n_nodes):
        """Give internal dimension and index symbols their display letters (n, m; i, j, k)."""
        taken = {name for name, _ in inputs}
        dims = {}
        dim_names = _fresh_names(DIM_NAMES, taken)
        everything = (
            [d for _, shape in inputs for d in shape]
            + [e for _, e, _ in shown]
            + [d for s in out_shapes for d in s]
        )
        for item in everything:
            for s in sorted(item.atoms(sympy.Symbol), key=lambda s: s.name):
                if s.name.startswith("_d") and s not in dims:
                    dims[s] = sympy.Symbol(next(dim_names), integer=True, positive=True)
        outputs = []
        for (label, expr, free), shape in zip(shown, out_shapes):
            letters = _fresh_names(INDEX_NAMES, set(taken))
            rename = dict(dims)
            for s in [
                *free,
                *(s for s in sympy.preorder_traversal(expr) if isinstance(s, sympy.Symbol)),
            ]:
                if s.name.startswith(("_i", "_s")) and s not in rename:
                    rename[s] = sympy.Symbol(next(letters), **INDEX_ASSUMPTIONS)
            outputs.append(
                _Output(
                    label,
                    plain_sums(expr.xreplace(rename)),
                    tuple(rename[i] for i in free),
                    tuple(d.xreplace(dims) for d in shape),
                )
            )
        named_inputs = [(name, tuple(d.xreplace(dims) for d in shape)) for name, shape in inputs]
        return cls(outputs, named_inputs, n_nodes)

    # ---------------------------------------------------------------------------------- views
    def sympy(self):
        """The SymPy expression; a dict {label: expression} when there are several outputs."""
        if len(self._outputs) == 1:
            return self._outputs[0].expr
        return {o.label: o.expr for o in self._outputs}

    @property
    def labels(self):
        return [o.label for o in self._outputs]

    @property
    def inputs(self):
        """Display names of the graph's inputs, in the order they are first used."""
        return [name for name, _ in self._inputs]

    def _label(self, out):
        if not out.free:
            return out.label
        return "%s[%s]" % (out.label, ", ".join(map(str, out.free)))

    def _too_large(self):
        return not self.complete or any(len(sympy.sstr(o.expr)) > MAX_CHARS for o in self._outputs)

    def _summary_lines(self):
        ins = ", ".join(
            name + ("" if not shape else " (%s)" % "×".join(map(str, shape)))
            for name, shape in self._inputs
        )
        lines = [
            f"{len(self._outputs)} output(s) from {self.n_nodes} graph nodes, too large to show in full",
            f"inputs: {ins or 'none'}",
        ]
        for o in self._outputs:
            lines.append(f"{self._label(o)} = {sympy.sstr(_top_level(o.expr), full_prec=False)}")
        return lines

    def __str__(self):
        if self._too_large():
            return "\n".join(self._summary_lines())
        return "\n".join(
            f"{self._label(o)} = {sympy.sstr(o.expr, full_prec=False)}" for o in self._outputs
        )

    def __repr__(self):
        return "Formula(%s)" % "; ".join(str(self).splitlines())

    def latex(self):
        """LaTeX without the surrounding $ signs (one aligned row per output)."""
        if self._too_large():
            return r"\begin{array}{l}%s\end{array}" % r" \\ ".join(
                r"\text{%s}" % line.replace("_", r"\_") for line in self._summary_lines()
            )
        rows = [f"{_latex_label(o.label, o.free)} = {sympy.latex(o.expr)}" for o in self._outputs]
        if len(rows) == 1:
            return rows[0]
        return r"\begin{aligned} %s \end{aligned}" % r" \\ ".join(
            r.replace(" = ", " &= ", 1) for r in rows
        )

    def _repr_latex_(self):
        return f"${self.latex()}$"

    # ------------------------------------------------------------------------------ evaluation
    def evaluate(self, values):
        """The formula as shown, computed with numpy at ``values`` ({input name: array}).

        Returns one array per output. It checks the printed mathematics against the compiled
        function; it is slow (Python loops over indices) and meant for small arrays."""
        if not self.complete:
            raise ValueError("this formula is a summary of a large graph; it cannot be evaluated")
        values = {k: np.asarray(v) for k, v in values.items()}
        dims = {}
        for name, shape in self._inputs:
            for d, size in zip(shape, values[name].shape):
                if isinstance(d, sympy.Symbol):
                    dims[d] = sympy.Integer(size)
        return [self._evaluate_one(o, values, dims) for o in self._outputs]

    def _evaluate_one(self, out, values, dims):
        expr = out.expr.xreplace(dims)
        shape = tuple(int(d.xreplace(dims)) for d in out.shape)
        args, vals = [], []
        bases = {
            b.label.name: b
            for b in expr.atoms(sympy.IndexedBase)
            if isinstance(b.label, sympy.Symbol)
        }
        for m in expr.atoms(sympy.MatrixSymbol):
            args.append(m)
            vals.append(values[m.name].reshape(int(m.shape[0]), int(m.shape[1])))
        for name, b in bases.items():
            args.append(b)
            vals.append(values[name])
        for s in expr.atoms(sympy.Symbol):
            if s.name in values and s.name not in bases and not isinstance(s, sympy.MatrixSymbol):
                args.append(s)
                vals.append(values[s.name])
        # Element by element, Python's conditional expression keeps Piecewise branches lazy
        # (numpy.select would read x[i - 3] out of bounds in the branches not taken).
        elementwise = expr.has(sympy.Indexed) and not expr.has(sympy.MatrixSymbol)
        modules = [_LAMBDIFY_MODULES[0], "math"] if elementwise else _LAMBDIFY_MODULES
        f = sympy.lambdify(args + list(out.free), expr, modules=modules)
        if out.free:
            result = np.empty(shape)
            for ix in np.ndindex(*shape):
                result[ix] = f(*vals, *ix)
            return result
        result = np.asarray(f(*vals), dtype=float)
        return (
            result.reshape(shape)
            if result.size == int(np.prod(shape))
            else np.broadcast_to(result, shape).copy()
        )
