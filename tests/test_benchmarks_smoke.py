"""The benchmark suite's reference contender is itself checked: each hand-written gradient against
central finite differences, and each hand-written value against the plain-numpy loss the autodiff
contenders differentiate (so all contenders really solve one objective)."""

import numpy as np
import pytest

from benchmarks.problems import problems
from helpers import finite_difference


@pytest.mark.parametrize("problem", problems(quick=True), ids=lambda p: p.key)
def test_reference_gradient_matches_finite_differences(problem):
    layout = problem.layout()
    data = problem.make_data()
    f = problem.reference(layout)
    rng = np.random.default_rng(0)
    x = problem.x0(layout) + 0.3 * rng.standard_normal(layout.size)
    value, grad = f(x, data.X, data.y, problem.alpha)

    assert grad.shape == x.shape
    loss = problem.loss(layout.unflatten(x), data.X, data.y, problem.alpha)
    assert value == pytest.approx(float(loss), rel=1e-12)

    h = 1e-6
    for _ in range(3):
        v = rng.standard_normal(layout.size)
        fd = (
            f(x + h * v, data.X, data.y, problem.alpha)[0]
            - f(x - h * v, data.X, data.y, problem.alpha)[0]
        ) / (2 * h)
        assert grad @ v == pytest.approx(fd, rel=1e-6, abs=1e-9)


def test_quick_problems_have_the_full_suite_shape():
    assert [p.key for p in problems(quick=True)] == [p.key for p in problems()]


def test_trace_time_loss_compiles_to_its_native_value_and_gradient():
    import skautodiff
    from benchmarks import trace_time

    params, args = trace_time.example(n=40)
    value, grad = skautodiff.value_and_grad(trace_time.zero_inflated_mixture, wrt="params")(
        params, *args
    )
    assert np.isclose(value, trace_time.zero_inflated_mixture(params, *args), rtol=1e-12)

    def of_gate(gate_W):
        return trace_time.zero_inflated_mixture({**params, "gate_W": gate_W}, *args)

    np.testing.assert_allclose(
        grad["gate_W"], finite_difference(of_gate, [params["gate_W"]], 0), rtol=1e-5, atol=1e-8
    )
    assert trace_time.body_lines() >= 45
    assert trace_time.measure(repeats=1)["trace_s"] > 0


def test_thread_benchmark_runs_and_its_threaded_results_equal_serial_ones():
    from benchmarks import report, threads

    result = threads.measure(quick=True, seconds=0.05, rounds=1)
    assert [r["contender"] for r in result["rows"]] == [
        "numpy",
        "skautodiff",
        "skautodiff-locked",
    ] * 2
    assert all(r["identical"] and r["one"] > 0 and r["two"] > 0 for r in result["rows"])
    assert "| skautodiff | 1 thread |" in report._threads(result, report._Notes())
