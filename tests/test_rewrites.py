"""No PyTensor rewrite fails on a graph the engine emits.

A rewrite that raises is skipped by PyTensor, which prints "Rewrite failure due to: ..." and a
traceback to the user's terminal and compiles on without that rewrite. Here every graph of the
differential corpus (tests/corpus/: its value and, where it has one, its gradient) goes through
the C mode's rewrite pipeline (skautodiff's own rewrites included) with PyTensor told to raise
on a failing rewrite, and with warnings as errors, as `pytest -W error` users run. Only the
rewrites run: the function is linked with PyTensor's Python linker, no C is compiled.
"""
import logging
import warnings

import pytensor
import pytest
from pytensor.compile.mode import Mode

from corpus import ENTRIES
from skautodiff import compile as compiled
from skautodiff.api import _wrt_names
from skautodiff.trace import trace


@pytest.fixture(scope="module")
def c_rewrites():
    """The rewrites of what users run (compile.mode("C")), with the Python linker."""
    with pytest.MonkeyPatch.context() as patch:
        patch.setenv("SKAUTODIFF_MODE", "c")
        return Mode(linker="py", optimizer=compiled.mode("C").provided_optimizer)


def _graph(entry):
    """(inputs, outputs) of the entry's value and gradient (the value alone when the corpus does
    not differentiate it): the value graph is part of it, and rewriting it again would double
    this test's time (PyTensor's rewrites take 0.1-6 s per graph)."""
    args, kwargs = entry.call(0)
    names = _wrt_names(entry.fn, entry.wrt)[0] if entry.wrt is not None else []
    traced = compiled.Entry(trace(entry.fn, args, kwargs, set(names)))
    return traced._graph("value_and_grad" if names and not entry.xfail_grad else "value")


@pytest.mark.parametrize("entry", [pytest.param(e, id=e.name) for e in ENTRIES if not e.xfail])
def test_no_rewrite_fails(entry, c_rewrites, caplog, capfd):
    with warnings.catch_warnings():
        warnings.simplefilter("error")
        inputs, outputs = _graph(entry)
        with caplog.at_level(logging.ERROR, logger="pytensor"), \
                pytensor.config.change_flags(on_opt_error="raise"):
            pytensor.function(inputs, outputs, mode=c_rewrites, on_unused_input="ignore")
    printed = capfd.readouterr().err + caplog.text
    assert "Rewrite failure" not in printed and "Traceback" not in printed, printed
