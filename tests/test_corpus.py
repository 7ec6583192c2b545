"""Differential correctness corpus: every entry in tests/corpus/ is run natively and compiled.

For each entry, at each of its sample points:
  * value: skautodiff.Function(fn)(*args) equals fn(*args) to 1e-10 relative (float64);
  * gradient: skautodiff.Gradient(fn, wrt=...)(*args) equals Richardson-extrapolated central
    finite differences of the native function;
  * the caller's arguments are not mutated by either call.
One Function and one Gradient object serve all sample points of an entry (as a user would call
them), so the later points run through the compile cache.

The oracle itself is checked too (test_oracle_is_smooth): the native function is finite at
every point and its finite differences agree across step sizes, so a corpus entry that sits on a
kink cannot make a correct engine look wrong.
"""

import numpy as np
import pytest

from corpus import ENTRIES
from corpus.harness import (
    assert_same_tree,
    assert_tree_close,
    assert_values_match,
    max_abs,
    numeric_gradient,
    snapshot,
)

skautodiff = pytest.importorskip("skautodiff")


def _params(kind):
    out = []
    for e in ENTRIES:
        if kind == "grad" and e.wrt is None:
            continue
        reason = e.xfail or (e.xfail_grad if kind == "grad" else None)
        marks = [pytest.mark.xfail(strict=True, reason=reason)] if reason else []
        out.append(pytest.param(e, id=e.name, marks=marks))
    return out


def _check_not_mutated(args, kwargs, before, what):
    args0, kwargs0 = before
    assert_same_tree(args, args0, f"{what}: positional arguments")
    assert_same_tree(kwargs, kwargs0, f"{what}: keyword arguments")


def _wrt_arg(entry):
    wrt = entry.wrt
    return list(wrt) if isinstance(wrt, (list, tuple)) else wrt


@pytest.mark.parametrize("entry", _params("value"))
def test_value(entry):
    compiled = skautodiff.Function(entry.fn)
    for point in range(entry.points):
        args, kwargs = entry.call(point)
        expected = entry.fn(*args, **kwargs)
        before = snapshot(args, kwargs)
        actual = compiled(*args, **kwargs)
        _check_not_mutated(args, kwargs, before, f"Function({entry.name})")
        assert_values_match(
            actual, expected, rtol=entry.value_rtol, what=f"{entry.name} value at point {point}"
        )


def _expected_gradient(entry, args, kwargs):
    expected = [numeric_gradient(entry.fn, args, kwargs, w) for w in entry.wrt_list]
    return expected if isinstance(entry.wrt, (list, tuple)) else expected[0]


def _check_gradient(entry, actual, args, kwargs, point):
    scale = max(1.0, abs(float(entry.fn(*args, **kwargs))))
    expected = _expected_gradient(entry, args, kwargs)
    if isinstance(entry.wrt, (list, tuple)):
        assert isinstance(actual, list), f"wrt is a list: expected a list, got {type(actual)}"
    assert_tree_close(
        actual,
        expected,
        rtol=entry.grad_rtol,
        atol=entry.grad_atol * scale,
        what=f"{entry.name} gradient at point {point}",
        compare_types=False,
    )


@pytest.mark.parametrize("entry", _params("grad"))
def test_gradient(entry):
    grad = skautodiff.Gradient(entry.fn, wrt=_wrt_arg(entry))
    for point in range(entry.points):
        args, kwargs = entry.call(point)
        before = snapshot(args, kwargs)
        actual = grad(*args, **kwargs)
        _check_not_mutated(args, kwargs, before, f"Gradient({entry.name})")
        _check_gradient(entry, actual, args, kwargs, point)


@pytest.mark.cbackend
@pytest.mark.slow
@pytest.mark.parametrize("entry", [p for p in _params("grad") if p.values[0].cbackend])
def test_value_and_gradient_c_backend(entry):
    """One entry per theme through PyTensor's C backend (what users run), value and gradient."""
    vg = skautodiff.value_and_grad(entry.fn, wrt=_wrt_arg(entry))
    for point in range(2):
        args, kwargs = entry.call(point)
        before = snapshot(args, kwargs)
        value, actual = vg(*args, **kwargs)
        _check_not_mutated(args, kwargs, before, f"value_and_grad({entry.name})")
        assert_values_match(
            value,
            entry.fn(*args, **kwargs),
            rtol=entry.value_rtol,
            what=f"{entry.name} value at point {point} (C backend)",
        )
        _check_gradient(entry, actual, args, kwargs, point)


@pytest.mark.parametrize("entry", [pytest.param(e, id=e.name) for e in ENTRIES])
def test_oracle_is_smooth(entry):
    """The native function is finite and differentiable (no kink) at every sample point."""
    for point in range(entry.points):
        args, kwargs = entry.call(point)
        before = snapshot(args, kwargs)
        value = entry.fn(*args, **kwargs)
        _check_not_mutated(args, kwargs, before, f"native {entry.name}")
        assert np.isfinite(max_abs(value)), f"{entry.name}: non-finite value at point {point}"
        if entry.wrt is None:
            continue
        scale = max(1.0, abs(float(value)))
        for w in entry.wrt_list:
            coarse = numeric_gradient(entry.fn, args, kwargs, w, step=1e-4)
            fine = numeric_gradient(entry.fn, args, kwargs, w, step=1e-6)
            assert np.isfinite(max_abs(coarse)), f"{entry.name}: non-finite gradient"
            assert_tree_close(
                fine,
                coarse,
                rtol=entry.grad_rtol,
                atol=entry.grad_atol * scale,
                what=f"{entry.name}: finite differences disagree across step sizes "
                f"(a kink?) for {w!r} at point {point}",
            )
            # central differences average the two sides of a kink: compare one-sided ones
            for scheme in ("forward", "backward"):
                one_sided = numeric_gradient(entry.fn, args, kwargs, w, step=1e-6, scheme=scheme)
                assert_tree_close(
                    one_sided,
                    fine,
                    rtol=1e-3,
                    atol=1e-4 * scale,
                    what=f"{entry.name}: {scheme} differences disagree with central "
                    f"ones (a kink?) for {w!r} at point {point}",
                )


def test_corpus_size_and_themes():
    """Issue 4 asks for at least 200 corpus functions over these themes; one per theme also
    runs on the C backend."""
    themes = {
        "glm",
        "survival",
        "gp",
        "mixtures",
        "factorization",
        "embeddings",
        "neural",
        "control_flow",
    }
    assert themes <= {e.theme for e in ENTRIES}
    assert len(ENTRIES) >= 200, len(ENTRIES)
    assert {e.theme for e in ENTRIES if e.cbackend} == themes
