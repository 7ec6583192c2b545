"""skautodiff.blas_flags: PyTensor's BLAS flags searched once per compile directory, by a child
process, and read from there by later processes; a value the user gave always wins."""

import json
import os
import subprocess
import sys

import pytest

# Prints what a fresh process sees: the flags PyTensor ends up with, whether the cache file
# exists, and any warning this process emitted (every warning is an error here).
SETTLE = """
import json, warnings
warnings.simplefilter("error")
import pytensor
from skautodiff import blas_flags
blas_flags.settle()
path = blas_flags.cache_file()
kept = path.read_text() if path.exists() else None
print(json.dumps({"flags": pytensor.config.blas__ldflags, "file": kept}))
"""


def _run(tmp_path, code=SETTLE, **flags):
    flags = ",".join([f"base_compiledir={tmp_path}"] + [f"{k}={v}" for k, v in flags.items()])
    env = dict(os.environ, PYTENSOR_FLAGS=flags, PYTHONPATH=os.getcwd())
    done = subprocess.run(
        [sys.executable, "-c", code], env=env, capture_output=True, text=True, timeout=600
    )
    assert done.returncode == 0, done.stderr
    return done


@pytest.mark.slow  # PyTensor's own search: a few g++ runs
def test_first_process_searches_quietly_and_keeps_pytensors_own_answer(tmp_path):
    # The reference: PyTensor's own search, in its own process.
    reference = _run(
        tmp_path / "reference",
        "import warnings; warnings.simplefilter('ignore'); import pytensor; "
        "from pytensor.link.c.cmodule import default_blas_ldflags; print(default_blas_ldflags())",
    ).stdout.strip()
    done = _run(tmp_path / "cache")
    seen = json.loads(done.stdout)
    assert seen == {"flags": reference, "file": reference}
    assert "BLAS" not in done.stderr  # the search's warning stays in the child


def test_later_processes_read_the_kept_flags_without_searching(tmp_path):
    # A value PyTensor's search could never find proves it came from the file.
    _run(
        tmp_path,
        "from skautodiff import blas_flags; "
        "blas_flags.cache_file().write_text('-lkept_by_the_test')",
    )
    assert json.loads(_run(tmp_path).stdout) == {
        "flags": "-lkept_by_the_test",
        "file": "-lkept_by_the_test",
    }


def test_flags_the_user_gave_win_and_nothing_is_written(tmp_path):
    seen = json.loads(_run(tmp_path, blas__ldflags="-luser_given").stdout)
    assert seen == {"flags": "-luser_given", "file": None}


def test_cache_file_depends_on_the_python_environment(tmp_path):
    code = "from skautodiff import blas_flags; print(blas_flags.cache_file().name)"
    here = _run(tmp_path, code).stdout
    assert here == _run(tmp_path, code).stdout
    env_prefix = "import sys; sys.prefix = '/elsewhere'; "
    assert _run(tmp_path, env_prefix + code).stdout != here
