"""No PyTensor rewrite fails on a graph the engine emits.

A rewrite that raises is skipped by PyTensor, which prints "Rewrite failure due to: ..." and a
traceback to the user's terminal and compiles on without that rewrite. Here every graph of the
differential corpus (tests/corpus/: its value and, where it has one, its gradient) goes through
the C mode's rewrite pipeline (skautodiff's own rewrites and the C-only ones, fusion and C BLAS,
included) with PyTensor told to raise on a failing rewrite, and with warnings as errors, as
`pytest -W error` users run. Only the rewrites run: nothing is linked or compiled.
"""

import logging
import os
import subprocess
import sys
import warnings

import pytensor
import pytest
from corpus import ENTRIES
from pytensor.compile import add_supervisor_to_fgraph
from pytensor.compile.io import In
from pytensor.graph.fg import FunctionGraph

from skautodiff import compile as compiled
from skautodiff.api import _wrt_names
from skautodiff.quiet import ignoring
from skautodiff.trace import trace


@pytest.fixture(scope="module")
def c_rewrites():
    """The rewrites of what users run: compile.mode("C")'s, as pytensor.function applies them."""
    with pytest.MonkeyPatch.context() as patch:
        patch.setenv("SKAUTODIFF_MODE", "c")
        mode = compiled.mode("C")
    if mode.linker.incompatible_rewrites:  # no C compiler: PyTensor leaves the C-only rewrites out
        pytest.skip("no C compiler (pytensor.config.cxx): the C mode's rewrites do not run")
    return mode.optimizer


def _rewrite(rewriter, inputs, outputs):
    """What pytensor.function does before linking: the graph, its in-place guard, the rewrites."""
    fgraph = FunctionGraph(inputs, outputs, clone=True)
    add_supervisor_to_fgraph(fgraph, [In(variable) for variable in inputs])
    with ignoring(compiled.NO_BLAS_WARNING):  # as compile.Entry._compile does (see the test below)
        rewriter.rewrite(fgraph)
    return fgraph


def _graph(entry):
    """(inputs, outputs) of the entry's value and gradient (the value alone when the corpus does
    not differentiate it): the value graph is part of it, and rewriting it again would double
    this test's time (PyTensor's rewrites take 0.1-6 s per graph)."""
    args, kwargs = entry.call(0)
    names = _wrt_names(entry.fn, entry.wrt)[0] if entry.wrt is not None else []
    traced = compiled.Entry(trace(entry.fn, args, kwargs, set(names)))
    return traced._graph("value_and_grad" if names and not entry.xfail_grad else "value")


@pytest.mark.slow  # PyTensor's rewrites: about 105 s of CPU for the whole corpus
@pytest.mark.parametrize("entry", [pytest.param(e, id=e.name) for e in ENTRIES if not e.xfail])
def test_no_rewrite_fails(entry, c_rewrites, caplog, capfd):
    with warnings.catch_warnings():
        warnings.simplefilter("error")
        inputs, outputs = _graph(entry)
        with (
            caplog.at_level(logging.ERROR, logger="pytensor"),
            pytensor.config.change_flags(on_opt_error="raise"),
        ):
            _rewrite(c_rewrites, inputs, outputs)
    printed = capfd.readouterr().err + caplog.text
    assert "Rewrite failure" not in printed and "Traceback" not in printed, printed


QUIET_FIT = """
import warnings
import numpy as np
import skautodiff
from skautodiff import compile, tiers   # imported before the filters are set: pytest collects first

def loss(W, x, t):   # W @ x with a vector x: its gradient is an outer product (BLAS's ger)
    return np.sum((np.tanh(W @ x) - t) ** 2)

rng = np.random.default_rng(0)
with warnings.catch_warnings():   # as pytest -W error sets its filters, per test
    warnings.simplefilter("error")
    skautodiff.value_and_grad(loss)(rng.normal(size=(3, 4)), rng.normal(size=4), rng.normal(size=3))
    assert tiers.wait(timeout=300)   # the C tier compiles in tiers' background thread
"""


@pytest.mark.cbackend
@pytest.mark.slow
def test_a_fresh_process_fits_quietly_with_warnings_as_errors():
    """PyTensor's BLAS look-up warns on the first compilation of a process that has no BLAS to
    link; under warnings-as-errors that was 88 lines of "Rewrite failure" tracebacks, and without
    them a BLAS warning in pytest's summary. Both compile tiers run here, C in the background."""
    env = {**os.environ, "SKAUTODIFF_MODE": "c", "SKAUTODIFF_TIERS": "1"}
    run = subprocess.run(
        [sys.executable, "-c", QUIET_FIT],
        capture_output=True,
        text=True,
        env=env,
        check=False,
        timeout=600,
    )
    assert run.returncode == 0, run.stderr
    assert "Rewrite failure" not in run.stderr and "BLAS" not in run.stderr, run.stderr
