"""Every opcode handler registered for this Python version runs; each program is run natively
and by the engine and the results compared."""

import numpy as np
import pytest

import skautodiff
from opcode_programs import FUNCTIONS
from skautodiff.engine.handlers import HANDLERS
from skautodiff.engine.interpreter import EXECUTED

W = np.array([0.3, -0.7, 1.2, 0.4])


@pytest.mark.parametrize("fn", FUNCTIONS)
def test_engine_equals_native(fn):
    assert skautodiff.Function(fn)(W.copy()) == pytest.approx(fn(W.copy()), rel=1e-12)


def test_store_global_happens_as_in_plain_python():
    def sets_global(w):
        global LEAK
        LEAK = w * 2.0
        return np.sum(LEAK)  # the rest of the call sees the new binding

    assert skautodiff.Function(sets_global)(W) == pytest.approx(np.sum(W * 2.0), rel=1e-12)
    np.testing.assert_array_equal(LEAK, W * 2.0)  # set by the native run (a side effect)


def test_every_registered_handler_ran():
    for fn in FUNCTIONS:
        skautodiff.clear_cache()  # trace again so every handler runs in this test
        skautodiff.Function(fn)(W.copy())
    test_store_global_happens_as_in_plain_python()
    missing = sorted(set(HANDLERS) - EXECUTED)
    assert not missing, f"handlers never exercised on this Python: {missing}"
