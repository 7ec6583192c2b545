"""Readable formulas: a PyTensor graph shown as mathematics (SymPy, plain text, LaTeX).

How a tensor becomes SymPy: every value is converted to the expression of *one element*, written in
canonical free index symbols (one per axis), together with its symbolic shape. Elementwise ops act on
that expression directly, a reduction turns an index into the dummy of a ``Sum``, a transpose swaps
indices, broadcasting substitutes 0 for a length-1 axis. This works for any rank and any mix of ops,
and it is what ``Formula.evaluate`` computes. Beside it, values built only from matrix algebra
(symbols, dot, transpose, sums, scalar multiples) also carry a ``MatrixExpr`` (``X*w``, ``X.T*X``).

At display time an output is shown, in order of preference, as
  * the element expression with the indices dropped, when it is elementwise in the inputs
    (``2*x + 2``),
  * the matrix expression, when there is one (``X.T*X``),
  * the indexed element expression, with the indices on the label (``∂f/∂w[j] = Sum(...)``).

Dimensions are unknown sizes (``n``, ``m``): an elementwise op or a dot product makes the dimensions
it combines equal (union-find), so ``X`` (n×m), ``w`` (m) and ``y`` (n) share their symbols.
Ops with no SymPy counterpart become named functions (``cholesky(A)``) instead of failing.

Modules, in the order a value passes through them:
  scalars.py    numbers, booleans and pytensor.scalar ops as SymPy (the SCALAR_OPS table, ``sigmoid``)
  elements.py   how a tensor is held: element expression in canonical indices, shape, matrix form
  ops.py        one handler per PyTensor tensor op (the OPS table)
  converter.py  the graph walk and the dimension symbols (union-find)
  simplify.py   cheap tidying, then sympy.simplify under a time bound
  formulas.py   ``Formula`` (text, LaTeX, summaries, evaluate); ``skautodiff.formula`` makes one
"""

from .formulas import Formula
from .scalars import sigmoid

__all__ = ["Formula", "sigmoid"]
