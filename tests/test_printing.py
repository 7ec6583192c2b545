"""Readable formulas (skautodiff.printing): PyTensor graphs built the way the engine builds them from
numpy code, their formulas compared with hand-written SymPy by equivalence, and every gradient
formula evaluated at random points against PyTensor's own compiled gradient."""

import time

import numpy as np
import pytensor
import pytensor.tensor as pt
import pytest
import sympy
from pytensor.compile.mode import Mode

from skautodiff.printing import Formula, sigmoid

FAST = Mode(linker="py", optimizer="fast_compile")


# Display symbols, with the assumptions the printer gives them.
def S(name):
    return sympy.Symbol(name, real=True)


def I(name):
    return sympy.IndexedBase(name, real=True)


def idx(name):
    return sympy.Symbol(name, integer=True, nonnegative=True)


def dim(name):
    return sympy.Symbol(name, integer=True, positive=True)


x, y, a, b = S("x"), S("y"), S("a"), S("b")
xi, yi, wi, Xi = I("x"), I("y"), I("w"), I("X")
i, j, k = idx("i"), idx("j"), idx("k")
n, m = dim("n"), dim("m")


def same(got, expected):
    """SymPy equivalence; sums over a symbolic range are compared once expanded at fixed sizes."""
    got, expected = sympy.sympify(got), sympy.sympify(expected)
    if got == expected or sympy.simplify((got - expected).rewrite(sympy.exp)) == 0:
        return True
    sizes = {n: 3, m: 2}
    diff = (got - expected).xreplace(sizes).doit()
    return sympy.simplify(diff.rewrite(sympy.exp)) == 0


def variables():
    return {
        "x": pt.vector("x"),
        "y": pt.vector("y"),
        "w": pt.vector("w"),
        "X": pt.matrix("X"),
        "W": pt.matrix("W"),
        "A": pt.matrix("A"),
        "a": pt.scalar("a"),
        "b": pt.scalar("b"),
    }


def sample(rng):
    """Inputs at which formulas are evaluated: x positive (log, sqrt, gammaln), n=4, m=3."""
    A = rng.normal(size=(3, 3))
    return {
        "x": rng.uniform(0.5, 2.0, 4),
        "y": rng.normal(size=4),
        "w": rng.normal(size=3),
        "X": rng.normal(size=(4, 3)),
        "W": rng.normal(size=(3, 2)),
        "A": A @ A.T + 3 * np.eye(3),
        "a": np.array(rng.normal()),
        "b": np.array(rng.normal()),
    }


# (id, graph built from the variables, expected formula of the value or None, inputs to differentiate)
CASES = [
    (
        "square_sum",
        lambda v: ((v["x"] + 1) ** 2).sum(),
        sympy.Sum((xi[i] + 1) ** 2, (i, 0, n - 1)),
        ["x"],
    ),
    ("exp_affine", lambda v: 2 * pt.exp(v["x"]) - 1, 2 * sympy.exp(x) - 1, None),
    ("logs", lambda v: pt.log(v["x"]) + pt.log1p(v["x"]), sympy.log(x) + sympy.log(1 + x), ["x"]),
    (
        "expm1",
        lambda v: pt.expm1(v["x"]).sum(),
        sympy.Sum(sympy.exp(xi[i]) - 1, (i, 0, n - 1)),
        ["x"],
    ),
    ("logaddexp", lambda v: pt.logaddexp(0.0, v["x"]), sympy.log(1 + sympy.exp(x)), None),
    ("logaddexp_sum", lambda v: pt.logaddexp(0.0, -v["x"]).sum(), None, ["x"]),
    ("tanh", lambda v: pt.tanh(v["x"]) ** 2, sympy.tanh(x) ** 2, None),
    ("sigmoid", lambda v: pt.sigmoid(v["x"]), 1 / (1 + sympy.exp(-x)), None),
    ("softplus", lambda v: pt.softplus(v["x"]), sympy.log(1 + sympy.exp(x)), None),
    (
        "where",
        lambda v: pt.where(v["x"] > 1, v["x"], 0.5 * v["x"]),
        sympy.Piecewise((x, x > 1), (x / 2, True)),
        None,
    ),
    ("where_sum", lambda v: pt.where(v["x"] > 1, v["x"] ** 2, -v["x"]).sum(), None, ["x"]),
    (
        "maximum_minimum",
        lambda v: pt.maximum(v["x"], 1.0) + pt.minimum(v["x"], v["y"]),
        sympy.Max(x, 1) + sympy.Min(x, y),
        None,
    ),
    (
        "max_min_sum",
        lambda v: (pt.maximum(v["x"], v["y"]) * pt.minimum(v["x"], 1.0)).sum(),
        None,
        ["x", "y"],
    ),
    (
        "abs_power",
        lambda v: abs(v["y"]) + v["x"] ** 3 + pt.sqrt(v["x"]),
        sympy.Abs(y) + x**3 + sympy.sqrt(x),
        None,
    ),
    (
        "abs_power_sum",
        lambda v: (abs(v["y"]) * v["x"] ** 3 + pt.sqrt(v["x"])).sum(),
        None,
        ["x", "y"],
    ),
    (
        "erf_gammaln",
        lambda v: pt.erf(v["x"]) + pt.gammaln(v["x"]),
        sympy.erf(x) + sympy.loggamma(x),
        None,
    ),
    ("erf_gammaln_sum", lambda v: (pt.erf(v["x"]) * pt.gammaln(v["x"])).sum(), None, ["x"]),
    ("scalar_broadcast", lambda v: v["a"] * v["x"] + v["b"], a * x + b, ["a", "b"]),
    ("mean", lambda v: pt.mean(v["x"] ** 2), sympy.Sum(xi[i] ** 2, (i, 0, n - 1)) / n, ["x"]),
    ("sum_axis0", lambda v: v["X"].sum(axis=0), None, None),
    (
        "matvec",
        lambda v: v["X"] @ v["w"],
        sympy.MatrixSymbol("X", n, m) * sympy.MatrixSymbol("w", m, 1),
        None,
    ),
    (
        "gram",
        lambda v: v["X"].T @ v["X"],
        sympy.MatrixSymbol("X", n, m).T * sympy.MatrixSymbol("X", n, m),
        None,
    ),
    ("vecdot", lambda v: v["w"] @ v["w"], sympy.Sum(wi[i] ** 2, (i, 0, n - 1)), ["w"]),
    ("outer", lambda v: v["x"][:, None] * v["x"][None, :], None, None),
    ("outer_sum", lambda v: (v["x"][:, None] * v["y"][None, :] ** 2).sum(), None, ["x", "y"]),
    (
        "differences",
        lambda v: ((v["x"][1:] - v["x"][:-1]) ** 2).sum(),
        sympy.Sum((xi[i + 1] - xi[i]) ** 2, (i, 0, n - 2)),
        ["x"],
    ),
    ("index", lambda v: v["x"][0] * v["x"][-1], xi[0] * xi[n - 1], ["x"]),
    ("fancy_index", lambda v: (v["x"][np.array([0, 2, 2])] ** 2).sum(), None, ["x"]),
    ("concatenate", lambda v: (pt.concatenate([v["x"], v["w"]]) ** 2).sum(), None, ["x", "w"]),
    ("softmax", lambda v: pt.special.softmax(v["X"], axis=1), None, None),
    (
        "log_softmax_loss",
        lambda v: pt.special.log_softmax(v["X"] @ v["W"], axis=1)[:, 0].sum(),
        None,
        ["W"],
    ),
    (
        "least_squares",
        lambda v: ((v["X"] @ v["w"] - v["y"]) ** 2).sum(),
        sympy.Sum((sympy.Sum(Xi[i, j] * wi[j], (j, 0, m - 1)) - yi[i]) ** 2, (i, 0, n - 1)),
        ["w"],
    ),
    (
        "logistic",
        lambda v: (
            pt.mean(pt.logaddexp(0.0, -v["y"] * (v["X"] @ v["w"] + v["b"])))
            + 0.1 * pt.sum(v["w"] ** 2)
        ),
        None,
        ["w", "b"],
    ),
    ("mlp", lambda v: (pt.tanh(v["X"] @ v["W"]).sum(axis=1) - v["y"]).dot(v["y"]), None, ["W"]),
]


def build(case):
    name, fn, expected, wrt = case
    v = variables()
    out = fn(v)
    return v, out, expected, wrt


@pytest.mark.parametrize("case", CASES, ids=[c[0] for c in CASES])
def test_value_formula(case):
    v, out, expected, wrt = build(case)
    formula = Formula.from_graph([("f", out)])
    if expected is not None:
        assert same(formula.sympy(), expected), str(formula)
    values = sample(np.random.default_rng(0))
    used = {k: values[k] for k in formula.inputs}
    got = formula.evaluate(used)[0]
    want = pytensor.function([v[k] for k in used], out, mode=FAST, on_unused_input="ignore")(
        *used.values()
    )
    np.testing.assert_allclose(got, want, rtol=1e-9, atol=1e-12)
    assert sympy.latex(formula.sympy())  # SymPy's own printer accepts the expression
    assert formula._repr_latex_().startswith("$") and formula._repr_latex_().endswith("$")


GRADIENT_CASES = [c for c in CASES if c[3]]


@pytest.mark.parametrize("case", GRADIENT_CASES, ids=[c[0] for c in GRADIENT_CASES])
def test_gradient_formula_matches_compiled_gradient(case):
    v, out, _, wrt = build(case)
    grads = pytensor.grad(out if out.ndim == 0 else out.sum(), [v[k] for k in wrt])
    formula = Formula.from_graph([(f"∂f/∂{k}", g) for k, g in zip(wrt, grads)])
    assert formula.labels == [f"∂f/∂{k}" for k in wrt]
    values = sample(np.random.default_rng(1))
    names = formula.inputs
    inputs = [v[k] for k in names]
    compiled = pytensor.function(inputs, grads, mode=FAST, on_unused_input="ignore")
    for got, want in zip(
        formula.evaluate({k: values[k] for k in names}), compiled(*(values[k] for k in names))
    ):
        np.testing.assert_allclose(got, want, rtol=1e-8, atol=1e-12)
    latex = formula.latex()
    assert latex.count("{") == latex.count("}") and r"\partial" in latex


def test_issue_example_gradient_reads_at_a_glance():
    x_ = pt.vector("x")
    f = ((x_ + 1) ** 2).sum()
    formula = Formula.from_graph([("∂f/∂x", pytensor.grad(f, x_))])
    assert str(formula) in ("∂f/∂x = 2*x + 2", "∂f/∂x = 2*(x + 1)")
    assert same(formula.sympy(), 2 * x + 2)
    assert formula.latex() == r"\frac{\partial f}{\partial x} = 2 x + 2"


def test_logistic_gradient_is_readable():
    v = variables()
    loss = pt.mean(pt.logaddexp(0.0, -v["y"] * (v["X"] @ v["w"] + v["b"]))) + 0.1 * pt.sum(
        v["w"] ** 2
    )
    formula = Formula.from_graph([("∂f/∂w", pytensor.grad(loss, v["w"]))])
    text = str(formula)
    assert text.startswith("∂f/∂w[i] = ") and "sigmoid" in text and "TensorType" not in text
    dot = sympy.Sum(Xi[j, k] * wi[k], (k, 0, m - 1))
    expected = (
        wi[i] / 5 - sympy.Sum(sigmoid(-(b + dot) * yi[j]) * Xi[j, i] * yi[j], (j, 0, n - 1)) / n
    )
    assert same(formula.sympy(), expected), text


def test_dimensions_are_unified_across_inputs():
    v = variables()
    formula = Formula.from_graph([("f", ((v["X"] @ v["w"] - v["y"]) ** 2).sum())])
    dims = dict(formula._inputs)
    assert dims["X"] == (n, m) and dims["w"] == (m,) and dims["y"] == (n,)


def test_transpose_and_sum_over_axis_use_indices():
    v = variables()
    formula = Formula.from_graph([("f", v["X"].sum(axis=0))])
    assert same(formula.sympy(), sympy.Sum(Xi[j, i], (j, 0, n - 1)))
    assert str(formula).startswith("f[i] = ")
    outer = Formula.from_graph([("f", v["x"][:, None] * v["x"][None, :])])
    assert same(outer.sympy(), xi[i] * xi[j])


def test_fused_composite_ops_are_read():
    """A compiled graph holds Elemwise{Composite} (fused loops); their scalar graphs convert too."""
    v = variables()
    fn = pytensor.function(
        [v["x"], v["y"]], pt.exp(v["x"]) * pt.tanh(v["y"]) + v["x"] ** 2, mode="FAST_RUN"
    )
    (out,) = fn.maker.fgraph.outputs
    ops = [
        type(node.op.scalar_op).__name__
        for node in fn.maker.fgraph.apply_nodes
        if hasattr(node.op, "scalar_op")
    ]
    assert "Composite" in ops
    formula = Formula.from_graph([("f", out)], rewrite=False)
    assert same(formula.sympy(), sympy.exp(x) * sympy.tanh(y) + x**2), str(formula)


def test_ops_without_sympy_counterpart_become_named_functions():
    v = variables()
    formula = Formula.from_graph([("f", pt.linalg.cholesky(v["A"]).sum())])
    assert "cholesky(A)" in str(formula)
    assert sympy.latex(formula.sympy())


def test_names_override_and_nested_parameter_names():
    w_ = pt.vector("params_w")
    formula = Formula.from_graph([("f", (w_**2).sum())], names={w_: "θ"})
    assert "θ" in str(formula) and "params_w" not in str(formula)


def test_constants_print_as_numbers():
    v = variables()
    formula = Formula.from_graph([("f", 0.5 * v["x"] + np.float64(0.1) * v["y"] ** 2 + 3)])
    assert same(formula.sympy(), x / 2 + y**2 / 10 + 3)
    assert "TensorConstant" not in str(formula)


def test_several_outputs_give_a_dict_and_aligned_latex():
    v = variables()
    loss = (v["a"] * v["x"] ** 2).sum() + v["b"]
    ga, gb = pytensor.grad(loss, [v["a"], v["b"]])
    formula = Formula.from_graph([("∂f/∂a", ga), ("∂f/∂b", gb)])
    exprs = formula.sympy()
    assert list(exprs) == ["∂f/∂a", "∂f/∂b"]
    assert same(exprs["∂f/∂a"], sympy.Sum(xi[i] ** 2, (i, 0, n - 1))) and exprs["∂f/∂b"] == 1
    assert r"\begin{aligned}" in formula.latex()
    assert str(formula).splitlines()[1] == "∂f/∂b = 1"


def test_large_graph_prints_a_prompt_summary():
    v = variables()
    out = v["x"]
    for step in range(400):
        out = pt.sin(out) * (step + 1) + pt.cos(v["y"] * step)
    start = time.perf_counter()
    text = str(Formula.from_graph([("f", out.sum())]))
    assert time.perf_counter() - start < 20
    assert "too large to show in full" in text and "inputs: x (n), y (" in text
    assert len(text) < 3000


def test_public_api_prints_the_issue_example():
    import skautodiff

    g = skautodiff.Gradient(lambda x: ((x + 1) ** 2).sum(), [np.zeros(3)])
    assert str(g) in ("∂f/∂x = 2*x + 2", "∂f/∂x = 2*(x + 1)")
    np.testing.assert_allclose(g(np.arange(3.0))[0], [2.0, 4.0, 6.0])


def test_public_formula_of_a_numpy_loss_matches_its_gradient():
    import skautodiff

    def loss(params, X, y, alpha=1e-3):
        z = X @ params["w"] + params["b"]
        return np.mean(np.logaddexp(0, -y * z)) + alpha * np.sum(params["w"] ** 2)

    rng = np.random.default_rng(2)
    params, X_, y_ = (
        {"w": rng.normal(size=3), "b": 0.5},
        rng.normal(size=(5, 3)),
        np.sign(rng.normal(size=5)),
    )
    value = skautodiff.formula(loss, params, X_, y_)
    assert same(
        value.sympy(),
        S("alpha") * sympy.Sum(wi[i] ** 2, (i, 0, m - 1))
        + sympy.Sum(
            sympy.log(1 + sympy.exp(-(b + sympy.Sum(Xi[k, j] * wi[j], (j, 0, m - 1))) * yi[k])),
            (k, 0, n - 1),
        )
        / n,
    )
    grad = skautodiff.formula(loss, params, X_, y_, wrt="params")
    assert grad.labels == ["∂f/∂w", "∂f/∂b"]
    got_w, got_b = grad.evaluate(
        {"w": params["w"], "b": params["b"], "X": X_, "y": y_, "alpha": 1e-3}
    )
    want = skautodiff.Gradient(loss, wrt="params")(params, X_, y_)
    np.testing.assert_allclose(got_w, want["w"], rtol=1e-9)
    np.testing.assert_allclose(got_b, want["b"], rtol=1e-9)
