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
