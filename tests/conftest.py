"""Test-suite configuration.

Tests compile with PyTensor's fast-compiling Python mode on tiny arrays (0.1 s per graph instead
of 3-8 s for C); tests marked `cbackend` compile with the C backend, which is what users run.
"""

import os

import pytest

os.environ.setdefault("SKAUTODIFF_MODE", "fast")


@pytest.fixture(autouse=True)
def _compile_mode(request, monkeypatch):
    if request.node.get_closest_marker("cbackend"):
        monkeypatch.setenv("SKAUTODIFF_MODE", "c")
        # C before the first call: these tests check the C functions; tests of tiered
        # compilation itself turn it on
        monkeypatch.setenv("SKAUTODIFF_TIERS", "0")
    yield
