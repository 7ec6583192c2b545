"""Sphinx configuration: the doc/*.md pages (MyST), an API reference generated from the code
(autosummary + numpydoc) and a gallery run from examples/plot_*.py (sphinx-gallery).

Build with `make docs` (offline, warnings are errors); the site lands in doc/_build/html.
"""
import os
import sys
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(ROOT))   # document this checkout, installed or not

# Figures are drawn off-screen: the build needs no display.
os.environ.setdefault("MPLBACKEND", "agg")

import skautodiff  # noqa: E402

project = "skautodiff"
author = "the skautodiff developers"
copyright = "the skautodiff developers"
release = version = skautodiff.__version__

extensions = [
    "myst_parser",
    "sphinx.ext.autodoc",
    "sphinx.ext.autosummary",
    "numpydoc",
    "sphinx_gallery.gen_gallery",
]

source_suffix = {".rst": "restructuredtext", ".md": "markdown"}
root_doc = "index"
exclude_patterns = ["_build", "Thumbs.db", ".DS_Store"]

# MyST: GitHub-style Markdown as the pages are written; headings get anchors for `page.md#section`.
# No math extension: the site loads nothing from the network when viewed (formulas in the gallery
# are drawn by matplotlib).
myst_heading_anchors = 3

# API reference: one page per public name, listed in api.rst, from _templates/autosummary/.
templates_path = ["_templates"]


def _unavailable_methods():
    """{model: [methods]}: a model's methods that scikit-learn's ``available_if`` hides because
    the model lacks the function behind them (MLPClassifier has no ``decision_function``)."""
    import skautodiff.models

    unavailable = {}
    for name in skautodiff.models.__all__:
        cls = getattr(skautodiff.models, name)
        if not isinstance(cls, type):   # a function (concordance_index)
            continue
        model = cls()
        hidden = [m for m in dir(cls)
                  if not m.startswith("_") and callable(getattr(cls, m)) and not hasattr(model, m)]
        unavailable[f"skautodiff.models.{name}"] = ", ".join(hidden)
    return unavailable


autosummary_context = {"unavailable": _unavailable_methods()}
autosummary_generate = True
autosummary_imported_members = False
autodoc_typehints = "none"
numpydoc_show_class_members = False   # methods are listed by the autosummary templates instead
numpydoc_class_members_toctree = False
numpydoc_xref_param_type = False

# The gallery: only examples/plot_*.py run and draw; the older examples are scripts that print
# (run by `make demo` and the tests), so they are not part of the gallery.
sphinx_gallery_conf = {
    "examples_dirs": str(ROOT / "examples"),
    "gallery_dirs": "auto_examples",
    "filename_pattern": r"plot_",
    "ignore_pattern": r"^(?!(.*/)?plot_)",   # matched against a file name or a path
    "download_all_examples": False,
    "remove_config_comments": True,
    "within_subsection_order": "FileNameSortKey",
    "plot_gallery": "True",
    "matplotlib_animations": False,
    "write_computation_times": False,   # its page loads scripts from the network
    # "Examples using X" under each API page (the minigallery in _templates/).
    "doc_module": ("skautodiff",),
    "backreferences_dir": "generated/backreferences",
    "reference_url": {"skautodiff": None},
}

html_theme = "alabaster"
html_title = "skautodiff"
html_theme_options = {
    "description": "Write a loss in plain numpy; get a compiled, differentiable scikit-learn model.",
    "fixed_sidebar": True,
    "page_width": "1180px",
    "sidebar_width": "240px",
}

# performance.md's tables are generated (benchmarks/) with H4 headings under H2: valid Markdown.
suppress_warnings = ["myst.header"]


def _defining_module(obj):
    """The module that defines a member: functions and classes say it, properties through their
    getter, builtin methods (an exception's) through their class."""
    obj = getattr(obj, "fget", obj)
    module = getattr(obj, "__module__", None)
    if module is None:
        module = getattr(getattr(obj, "__objclass__", None), "__module__", None)
    return module or ""


def _skip_foreign_members(app, what, name, obj, skip, options):
    """Members inherited from scikit-learn (get_params, score, set_fit_request, ...) or from
    Exception are documented by them, and their docstrings link to scikit-learn's own glossary:
    the reference shows skautodiff's members only (inherited ones included)."""
    if not _defining_module(obj).startswith("skautodiff"):
        return True
    return None


def setup(app):
    app.connect("autodoc-skip-member", _skip_foreign_members)
