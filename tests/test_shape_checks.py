"""Shape assertions hoisted out of the compiled graph into a Python check per call
(skautodiff/shape_checks.py): fewer C modules, and arguments whose shapes do not fit together
still get a clear error, on the Python tier (the suite's fast mode) and on the C tier."""

import numpy as np
import pytensor
import pytensor.tensor as pt
import pytest
from pytensor.raise_op import Assert, CheckAndRaise

import skautodiff
from skautodiff import compile as compiled, shape_checks


def loss(w, X, y):
    return np.mean((X @ w - y) ** 2)


def gradient_by_hand(w, X, y):
    return 2 * X.T @ (X @ w - y) / len(y)


def compiled_functions():
    """The PyTensor functions compiled for `loss` (each copy, each tier's)."""
    entries = [e for key, es in compiled._cache.items() if key[0] is loss.__code__ for e in es]
    return [copy for e in entries for f in e._functions.values() for copy in f]


def check_mismatch_is_refused_and_matches_pass():
    rng = np.random.default_rng(0)
    w, X, y = rng.normal(size=3), rng.normal(size=(50, 3)), rng.normal(size=50)
    fn = skautodiff.value_and_grad(loss, wrt="w")
    value, grad = fn(w, X, y)
    assert np.isclose(value, loss(w, X, y), rtol=1e-13)
    np.testing.assert_allclose(grad, gradient_by_hand(w, X, y), rtol=1e-12)
    # the same compiled function serves other row counts ...
    X2, y2 = rng.normal(size=(80, 3)), rng.normal(size=80)
    value, grad = fn(w, X2, y2)
    assert np.isclose(value, loss(w, X2, y2), rtol=1e-13)
    np.testing.assert_allclose(grad, gradient_by_hand(w, X2, y2), rtol=1e-12)
    # ... and refuses rows that do not match, naming the arguments and their lengths
    with pytest.raises(
        ValueError,
        match=r"X\.shape\[0\] = 50.*y\.shape\[0\] = 48|"
        r"y\.shape\[0\] = 48.*X\.shape\[0\] = 50",
    ):
        fn(w, X, y[:48])
    for function in compiled_functions():
        ops = [node.op for node in function.maker.fgraph.apply_nodes]
        assert not any(isinstance(op, CheckAndRaise) for op in ops), ops
        assert getattr(function.maker.fgraph, shape_checks.FGRAPH_ATTRIBUTE)


def test_rows_of_x_and_y_that_differ_are_refused_on_the_python_tier():
    compiled.clear_cache()
    check_mismatch_is_refused_and_matches_pass()


@pytest.mark.cbackend
def test_rows_of_x_and_y_that_differ_are_refused_on_the_c_tier():
    compiled.clear_cache()
    check_mismatch_is_refused_and_matches_pass()
    tiers = {type(f.maker.linker).__name__ for f in compiled_functions()}
    assert tiers == {"VMLinker"}, tiers


@pytest.mark.parametrize("tier", ["Python", pytest.param("C", marks=pytest.mark.cbackend)])
def test_the_raw_graph_without_its_check_still_refuses_mismatched_elementwise_operands(tier):
    # What stays checked inside the graph if the Python check were skipped: the elementwise op
    # itself (its C code and numpy both compare lengths), so a mismatch is never a wrong number.
    if tier == "C" and not pytensor.config.cxx:
        pytest.skip("no C++ compiler")
    x, y = pt.vector("x"), pt.vector("y")
    fn = pytensor.function(
        [x, y], pt.mean(x * y), mode=compiled.mode(tier, hoist_shape_checks=True)
    )
    assert shape_checks.checker(fn) is not None
    with pytest.raises(ValueError):
        fn(np.ones(4), np.ones(3))


def test_conditions_on_values_stay_in_the_graph():
    x, y = pt.vector("x"), pt.vector("y")
    positive = Assert("x must be positive")(x, pt.all(x > 0))
    fn = pytensor.function(
        [x, y], pt.mean(positive + y), mode=compiled.mode("Python", hoist_shape_checks=True)
    )
    kept = [n.op for n in fn.maker.fgraph.apply_nodes if isinstance(n.op, CheckAndRaise)]
    assert [op.msg for op in kept] == ["x must be positive"]
    check = shape_checks.checker(fn)  # the length check of x + y is hoisted
    check([np.ones(3), np.ones(3)])
    with pytest.raises(ValueError, match=r"x\.shape\[0\] = 3.*y\.shape\[0\] = 2|y\.shape\[0\] = 2"):
        check([np.ones(3), np.ones(2)])
    with pytest.raises(AssertionError, match="x must be positive"):
        fn(-np.ones(3), np.ones(3))


def test_lengths_of_shared_variables_are_not_hoisted():
    # a shared variable is not among the values a call passes: its length stays checked in-graph
    s, x = pytensor.shared(np.ones(3), name="s"), pt.vector("x")
    fn = pytensor.function(
        [x], pt.mean(x * s), mode=compiled.mode("Python", hoist_shape_checks=True)
    )
    assert shape_checks.checker(fn) is None
    assert fn(np.full(3, 2.0)) == 2.0
    with pytest.raises(AssertionError):
        fn(np.ones(2))


def test_without_the_option_the_graph_keeps_its_assertions():
    x, y = pt.vector("x"), pt.vector("y")
    fn = pytensor.function([x, y], pt.mean(x * y), mode=compiled.mode("Python"))
    assert shape_checks.checker(fn) is None
    assert any(isinstance(n.op, CheckAndRaise) for n in fn.maker.fgraph.apply_nodes)
    with pytest.raises(AssertionError):
        fn(np.ones(4), np.ones(3))


def summed_squares(w, X, y):
    return np.sum((X @ w - y) ** 2)  # becomes one Gemv (y - X w): no elementwise assertion left


def test_rows_that_differ_inside_a_matrix_vector_product_are_named():
    fn = skautodiff.value_and_grad(summed_squares, wrt="w")
    w, X, y = np.array([0.5, -1.0]), np.ones((3, 2)), np.arange(3.0)
    value, grad = fn(w, X, y)
    assert value == pytest.approx(summed_squares(w, X, y), rel=1e-13)
    np.testing.assert_allclose(grad, 2 * X.T @ (X @ w - y), rtol=1e-12)
    with pytest.raises(ValueError, match=r"shapes do not fit together.*\(3,\).*\(4,\)"):
        fn(w, X, np.arange(4.0))
