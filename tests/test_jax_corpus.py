"""The differential corpus through the JAX backend (backend="jax"), against the default backend.

Every corpus entry that the engine supports either gives, through PyTensor's JAX linker, the
value (Function) and the value and gradient (value_and_grad) of the default backend to 1e-10, or
is refused with UnsupportedOnJax naming the operation. The refused ones are listed, with the
operation, in tests/corpus/jax_unsupported.txt: an entry that starts failing, or that starts
working while listed, fails here (so the list stays what the backend really does).

The whole corpus takes many minutes (one XLA compilation per entry and kind, some of them slow),
so the suite runs a sample: every fourth entry and the listed ones (about a minute).
SKAUTODIFF_JAX_CORPUS=all runs every entry (do so after changing the JAX backend).
"""

import os
import pathlib
import re
import warnings

import pytest
from corpus import ENTRIES
from corpus.harness import assert_same_tree, assert_tree_close, max_abs, snapshot

import skautodiff
from skautodiff.backends.jax import UnsupportedOnJax  # (imports jax lazily)

jax = pytest.importorskip("jax")

pytestmark = pytest.mark.slow
LISTED = pathlib.Path(__file__).parent / "corpus" / "jax_unsupported.txt"
RTOL = 1e-10


def _listed():
    """{entry name: the operation named in the refusal}, for the installed PyTensor release."""
    out = {}
    for line in LISTED.read_text().splitlines():
        fields = line.split("#")[0].split()
        if not fields:
            continue
        name, op, *releases = fields
        if releases and not _older_than(releases[0].removeprefix("pytensor<")):
            continue  # refused by older releases only
        out[name] = op
    return out


def _older_than(version):
    """Whether the installed PyTensor release comes before `version` ("3.3.8")."""
    import pytensor

    def numbers(text):
        return tuple(int(part) for part in re.findall(r"\d+", text)[:3])

    return numbers(pytensor.__version__) < numbers(version)


UNSUPPORTED = _listed()


def _entries():
    chosen = [e for e in ENTRIES if not e.xfail]
    if os.environ.get("SKAUTODIFF_JAX_CORPUS", "sample") == "sample":
        chosen = [e for i, e in enumerate(chosen) if i % 4 == 0 or e.name in UNSUPPORTED]
    return [pytest.param(e, id=e.name) for e in chosen]


def _wrapped(entry, backend):
    if entry.wrt is None or entry.xfail_grad:
        return skautodiff.Function(entry.fn, backend=backend)
    wrt = list(entry.wrt) if isinstance(entry.wrt, (list, tuple)) else entry.wrt
    return skautodiff.value_and_grad(entry.fn, wrt=wrt, backend=backend)


def _compare(actual, expected, what):
    scale = max_abs(expected)
    assert_tree_close(
        actual, expected, rtol=RTOL, atol=RTOL * max(1.0, scale), what=what, compare_types=False
    )


def test_listed_entries_exist():
    names = {e.name for e in ENTRIES}
    assert set(UNSUPPORTED) <= names, sorted(set(UNSUPPORTED) - names)


@pytest.mark.parametrize("entry", _entries())
def test_entry_on_jax(entry):
    on_jax, reference = _wrapped(entry, "jax"), _wrapped(entry, "c")
    listed = UNSUPPORTED.get(entry.name)
    for point in range(entry.points):
        args, kwargs = entry.call(point)
        before = snapshot(args, kwargs)
        with warnings.catch_warnings():
            warnings.simplefilter("ignore")  # the same warnings the native function gives
            try:
                actual = on_jax(*args, **kwargs)
            except UnsupportedOnJax as error:
                assert listed is not None, f"{entry.name} is refused on JAX but not listed: {error}"
                assert listed.lower() in str(error).lower(), (
                    f"{entry.name}: the refusal does not name {listed}: {error}"
                )
                return
            assert listed is None, f"{entry.name} runs on JAX now: remove it from {LISTED.name}"
            expected = reference(*args, **kwargs)
        assert_same_tree(args, before[0], f"{entry.name}: arguments")
        assert_same_tree(kwargs, before[1], f"{entry.name}: keyword arguments")
        if isinstance(on_jax, skautodiff.Function):
            _compare(actual, expected, f"{entry.name} value at point {point}")
        else:
            _compare(actual[0], expected[0], f"{entry.name} value at point {point}")
            _compare(actual[1], expected[1], f"{entry.name} gradient at point {point}")
