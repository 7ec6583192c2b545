"""The documentation generated from the code is current."""
from pathlib import Path

from skautodiff.symbolic import catalog

DOC = Path(__file__).resolve().parent.parent / "doc"


def test_supported_list_is_generated_from_the_tables():
    assert (DOC / "supported.md").read_text() == catalog.markdown(), (
        "doc/supported.md is stale: run `python -m skautodiff.symbolic.catalog > doc/supported.md`")
