"""Every opcode handler registered for this Python version runs; each program is run natively
and by the engine and the results compared."""

import numpy as np
import pytest

import skautodiff
from opcode_programs import FUNCTIONS
from skautodiff.engine.handlers import HANDLERS
from skautodiff.trace import trace

W = np.array([0.3, -0.7, 1.2, 0.4])


@pytest.mark.parametrize("fn", FUNCTIONS)
def test_engine_equals_native(fn):
    assert skautodiff.Function(fn)(W.copy()) == pytest.approx(fn(W.copy()), rel=1e-12)


def sets_global(w):
    global LEAK
    LEAK = w * 2.0
    return np.sum(LEAK)  # the rest of the call sees the new binding


def test_store_global_happens_as_in_plain_python():
    assert skautodiff.Function(sets_global)(W) == pytest.approx(np.sum(W * 2.0), rel=1e-12)
    np.testing.assert_array_equal(LEAK, W * 2.0)  # set by the native run (a side effect)


def test_every_registered_handler_ran(monkeypatch):
    executed = set()

    def recording(name, handler):
        def run(interp, frame, ins):
            executed.add(name)
            return handler(interp, frame, ins)

        return run

    for name, handler in list(HANDLERS.items()):  # the interpreter looks handlers up in this dict
        monkeypatch.setitem(HANDLERS, name, recording(name, handler))
    for fn in FUNCTIONS:  # traced again (not compiled: test_engine_equals_native did that)
        trace(fn, (W.copy(),), {}, set())
    trace(sets_global, (W,), {}, set())
    missing = sorted(set(HANDLERS) - executed)
    assert not missing, f"handlers never exercised on this Python: {missing}"
