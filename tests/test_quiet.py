"""skautodiff.quiet.ignoring: a warning ignored inside a block, every other filter left as found,
also when threads enter and leave blocks at once."""

import threading
import warnings

import pytest

from skautodiff.quiet import ignoring

MESSAGE = "skautodiff test: ignored inside"


def test_ignored_inside_raised_outside_and_filters_left_as_found():
    with warnings.catch_warnings():
        warnings.simplefilter("error")
        before = list(warnings.filters)
        with ignoring(MESSAGE):
            with ignoring(MESSAGE):  # nested
                warnings.warn(MESSAGE + " (nested)", stacklevel=2)
            warnings.warn(MESSAGE, stacklevel=2)
        assert warnings.filters == before
        with pytest.raises(UserWarning):
            warnings.warn(MESSAGE, stacklevel=2)


def test_an_identical_filter_of_the_user_is_kept():
    with warnings.catch_warnings():
        warnings.simplefilter("error")
        warnings.filterwarnings("ignore", message=MESSAGE)
        before = list(warnings.filters)
        with ignoring(MESSAGE):
            pass
        assert warnings.filters == before
        warnings.warn(MESSAGE, stacklevel=2)  # still ignored: the user's filter


def test_threads_entering_and_leaving_blocks_keep_the_other_filters():
    """Unlike catch_warnings, a block ending in one thread neither restores an old filter list
    over one another thread changed meanwhile nor drops another block's protection."""
    with warnings.catch_warnings():
        warnings.simplefilter("error")
        before = list(warnings.filters)
        start, raised = threading.Barrier(8), []

        def work():
            start.wait()
            for _ in range(200):
                with ignoring(MESSAGE):
                    try:
                        warnings.warn(MESSAGE, stacklevel=2)
                    except UserWarning as error:
                        raised.append(error)

        threads = [threading.Thread(target=work) for _ in range(8)]
        for thread in threads:
            thread.start()
        for thread in threads:
            thread.join()
        assert raised == []
        assert warnings.filters == before
