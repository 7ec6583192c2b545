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


def test_store_global_is_refused():
    def sets_global(w):
        global LEAK
        LEAK = w
        return np.sum(w)
    with pytest.raises(skautodiff.TraceError, match="assignment to the global 'LEAK'"):
        skautodiff.Function(sets_global)(W)


def test_every_registered_handler_ran():
    for fn in FUNCTIONS:
        skautodiff.clear_cache()   # trace again so every handler runs in this test
        skautodiff.Function(fn)(W.copy())
    test_store_global_is_refused()
    missing = sorted(set(HANDLERS) - EXECUTED)
    assert not missing, f"handlers never exercised on this Python: {missing}"
