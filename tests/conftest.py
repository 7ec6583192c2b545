"""Test-suite configuration.

Tests compile with PyTensor's fast-compiling Python mode on tiny arrays (0.1 s per graph instead
of 3-8 s for C); tests marked `cbackend` compile with the C backend, which is what users run.
"""

import os
import zlib

import pytest

os.environ.setdefault("SKAUTODIFF_MODE", "fast")

# Suites whose outcome does not depend on the Python version (they test symbolic rules, formulas
# and scikit-learn's checks, not the bytecode engine). `make test` runs them whole on the default
# Python and, through SKAUTODIFF_SLICE="i/k", the i-th of k disjoint slices on each other Python
# (3.12 and 3.13 share a PyTensor release, so their two slices cover it whole). The engine's
# version-specific tests always run whole; the property tests shrink through
# SKAUTODIFF_PROPERTY_EXAMPLES instead.
SLICED_SUITES = {
    "test_sklearn_checks.py",
    "test_symbolic_numpy.py",
    "test_symbolic_scipy.py",
    "test_symbolic_linalg.py",
    "test_printing.py",
    "test_rewrites.py",
    "test_docs.py",
}


# What a test marked `slow` costs, counted in ordinary tests (about 0.3 s each; slow ones take
# 5-60 s), to guess which files take longest.
SLOW_TEST_WEIGHT = 25


def pytest_collection_modifyitems(config, items):
    _keep_slice(config, items)
    if getattr(config.option, "dist", "no") != "no":
        _longest_files_first(items)


def _longest_files_first(items):
    """Orders the files by their expected cost, longest first, keeping each file's own order.

    pytest-xdist's workers (.ci/pytest-in: `--dist loadfile --no-loadscope-reorder`) take the next
    file from this order as they finish the last: long files first, so that the last files to start
    are short ones and neither worker idles long at the end (the longest-first rule of thumb for
    scheduling). Every worker computes the same order from the same collection, as xdist requires.
    """
    cost = {}
    for item in items:
        weight = SLOW_TEST_WEIGHT if item.get_closest_marker("slow") else 1
        cost[item.path] = cost.get(item.path, 0) + weight
    order = {path: rank for rank, path in enumerate(sorted(cost, key=lambda p: (-cost[p], p.name)))}
    items.sort(key=lambda item: order[item.path])


def _keep_slice(config, items):
    spec = os.environ.get("SKAUTODIFF_SLICE")
    if not spec:
        return
    index, count = (int(part) for part in spec.split("/"))
    kept, dropped = [], []
    for item in items:
        in_slice = zlib.crc32(item.nodeid.encode()) % count == index
        (kept if in_slice or item.path.name not in SLICED_SUITES else dropped).append(item)
    if dropped:
        config.hook.pytest_deselected(items=dropped)
        items[:] = kept


@pytest.fixture(autouse=True)
def _compile_mode(request, monkeypatch):
    if request.node.get_closest_marker("cbackend"):
        monkeypatch.setenv("SKAUTODIFF_MODE", "c")
        # C before the first call: these tests check the C functions; tests of tiered
        # compilation itself turn it on
        monkeypatch.setenv("SKAUTODIFF_TIERS", "0")
    yield
