"""The documentation generated from the code is current."""

from pathlib import Path

import pytest

from skautodiff.symbolic import catalog

DOC = Path(__file__).resolve().parent.parent / "doc"


def test_supported_list_is_generated_from_the_tables():
    text = (DOC / "supported.md").read_text()
    if f"Generated on {catalog.environment()} " not in text:
        pytest.skip(
            "doc/supported.md was generated with other versions of Python/numpy/scipy, "
            "whose names differ slightly (math.sumprod, np.row_stack)"
        )
    assert text == catalog.markdown(), (
        "doc/supported.md is stale: run `python -m skautodiff.symbolic.catalog > doc/supported.md`"
    )


# ----------------------------------------------------------------- the Sphinx site (make docs)

ROOT = DOC.parent


def _api_reference_names():
    """The names listed in doc/api.rst's autosummary tables, qualified by the current module."""
    names, module = set(), None
    for line in (DOC / "api.rst").read_text().splitlines():
        if line.startswith(".. currentmodule::"):
            module = line.split("::")[1].strip()
        elif line.startswith("   ") and not line.strip().startswith(":") and line.strip():
            names.add(f"{module}.{line.strip()}")
    return names


def test_api_reference_lists_every_public_name_and_only_those():
    import skautodiff
    import skautodiff.backends.jax
    import skautodiff.models

    public = {f"skautodiff.{name}" for name in skautodiff._LAZY}
    public |= {f"skautodiff.models.{name}" for name in skautodiff.models.__all__}
    public |= {f"skautodiff.backends.jax.{name}" for name in skautodiff.backends.jax.__all__}
    listed = _api_reference_names()
    assert listed == public, (
        f"doc/api.rst misses {sorted(public - listed)}; "
        f"lists names that are not public: {sorted(listed - public)}"
    )


@pytest.mark.slow
def test_sphinx_site_builds_without_warnings(tmp_path):
    """`make docs`'s build, warnings as errors: the Markdown pages, the API reference from the
    docstrings and the gallery (every examples/plot_*.py runs and draws a figure)."""
    for module in ("sphinx", "numpydoc", "sphinx_gallery", "matplotlib", "myst_parser"):
        pytest.importorskip(module, reason="the docs extra is not installed (pip install .[docs])")
    import os
    import shutil
    import subprocess
    import sys

    # A copy of doc/ and examples/, so that the build writes nothing into the checkout.
    shutil.copytree(
        DOC,
        tmp_path / "doc",
        ignore=shutil.ignore_patterns(
            "_build", "generated", "auto_examples", "sg_execution_times.rst"
        ),
    )
    shutil.copytree(ROOT / "examples", tmp_path / "examples")
    env = {
        **os.environ,
        "PYTHONPATH": os.pathsep.join(filter(None, [str(ROOT), os.environ.get("PYTHONPATH")])),
        "MPLBACKEND": "agg",
    }
    out = tmp_path / "html"
    build = subprocess.run(
        [sys.executable, "-m", "sphinx", "-b", "html", "-W", "--keep-going", "-q", ".", str(out)],
        cwd=tmp_path / "doc",
        env=env,
        capture_output=True,
        text=True,
        timeout=900,
    )
    assert build.returncode == 0, (
        f"sphinx build failed:\n{build.stdout[-5000:]}\n{build.stderr[-10000:]}"
    )

    examples = sorted(p.stem for p in (ROOT / "examples").glob("plot_*.py"))
    assert len(examples) >= 5
    for name in examples:
        page = (out / "auto_examples" / f"{name}.html").read_text()
        assert f"sphx_glr_{name}_001.png" in page, f"{name} drew no figure"
        assert (out / "_images" / f"sphx_glr_{name}_001.png").stat().st_size > 10_000
    for name in _api_reference_names():
        page = (out / "generated" / f"{name}.html").read_text()
        assert f'id="{name}"' in page, f"the API page of {name} documents nothing"
    # Inherited methods are listed; one that scikit-learn's available_if hides is not.
    mlp = (out / "generated" / "skautodiff.models.MLPClassifier.html").read_text()
    assert (
        'id="skautodiff.models.MLPClassifier.fit"' in mlp and "MLPClassifier.predict_proba" in mlp
    )
    assert 'id="skautodiff.models.MLPClassifier.decision_function"' not in mlp
    assert 'id="skautodiff.models.MLPClassifier.get_params"' not in mlp  # scikit-learn's own
    for page in (
        "getting-started",
        "estimators",
        "constructs",
        "formulas",
        "supported",
        "performance",
        "backends",
        "architecture",
    ):
        assert (out / f"{page}.html").is_file()


@pytest.mark.parametrize("module", ["skautodiff.api", "skautodiff.optimize"])
def test_docstring_examples_print_what_they_show(module):
    """The Examples sections of the API reference are run, and their output compared."""
    import doctest
    import importlib

    result = doctest.testmod(
        importlib.import_module(module), optionflags=doctest.NORMALIZE_WHITESPACE
    )
    assert result.attempted > 0 and result.failed == 0
