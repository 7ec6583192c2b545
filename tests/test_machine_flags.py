"""skautodiff.machine_flags: PyTensor's BLAS flags and -march flags looked up once per compile
directory by a child process, and read from there by later processes; a value the user gave always
wins, and march flags are only shared between processes on the same CPU."""

import json
import os
import subprocess
import sys

import pytest

# Prints what a fresh process sees: the flags PyTensor ends up with, what the cache files hold, and
# any warning this process emitted (every warning is an error here).
SETTLE = """
import json, warnings
warnings.simplefilter("error")
import pytensor
from pytensor.link.c.cmodule import GCC_compiler
from skautodiff import machine_flags
machine_flags.settle()
def kept(path):
    return json.loads(path.read_text()) if path is not None and path.exists() else None
print(json.dumps({
    "blas": pytensor.config.blas__ldflags,
    "march": GCC_compiler.march_flags,
    "blas_file": kept(machine_flags.blas_file()),
    "march_file": kept(machine_flags.march_file()),
}))
"""


def _run(tmp_path, code=SETTLE, **flags):
    flags = ",".join([f"base_compiledir={tmp_path}"] + [f"{k}={v}" for k, v in flags.items()])
    env = dict(os.environ, PYTENSOR_FLAGS=flags, PYTHONPATH=os.getcwd())
    done = subprocess.run(
        [sys.executable, "-c", code], env=env, capture_output=True, text=True, timeout=600
    )
    assert done.returncode == 0, done.stderr
    return done


def _keep(tmp_path, blas, march):
    """Writes cache files whose values PyTensor's own lookup could never find."""
    _run(
        tmp_path,
        "import json; from skautodiff import machine_flags; "
        f"machine_flags.blas_file().write_text(json.dumps({blas!r})); "
        f"machine_flags.march_file().write_text(json.dumps({march!r}))",
    )


@pytest.mark.slow  # PyTensor's own lookups: a few g++ runs
@pytest.mark.skipif(not os.path.exists("/proc/cpuinfo"), reason="march flags are kept on Linux")
def test_first_process_looks_up_quietly_and_keeps_pytensors_own_answers(tmp_path):
    # The reference: PyTensor's own lookups, in a process of its own.
    reference = _run(
        tmp_path / "reference",
        "import json, warnings; warnings.simplefilter('ignore'); import pytensor; "
        "from pytensor.link.c.cmodule import GCC_compiler, default_blas_ldflags; "
        "GCC_compiler.compile_args(); "
        "print(json.dumps([default_blas_ldflags(), GCC_compiler.march_flags]))",
    ).stdout
    blas, march = json.loads(reference)
    done = _run(tmp_path / "cache")
    seen = json.loads(done.stdout)
    assert seen == {"blas": blas, "march": march, "blas_file": blas, "march_file": march}
    assert "BLAS" not in done.stderr  # the search's warning stays in the child


@pytest.mark.skipif(not os.path.exists("/proc/cpuinfo"), reason="march flags are kept on Linux")
def test_later_processes_read_the_kept_flags_without_looking(tmp_path):
    _keep(tmp_path, "-lkept_by_the_test", ["-march=kept-by-the-test"])
    assert json.loads(_run(tmp_path).stdout) == {
        "blas": "-lkept_by_the_test",
        "march": ["-march=kept-by-the-test"],
        "blas_file": "-lkept_by_the_test",
        "march_file": ["-march=kept-by-the-test"],
    }


@pytest.mark.skipif(not os.path.exists("/proc/cpuinfo"), reason="march flags are kept on Linux")
def test_flags_the_user_gave_win_and_are_not_kept(tmp_path):
    _keep(tmp_path, "-lkept_by_the_test", ["-march=kept-by-the-test"])
    seen = json.loads(
        _run(tmp_path, blas__ldflags="-luser_given", gcc__cxxflags="-march=x86-64").stdout
    )
    # PyTensor decides march flags of its own only at the first compile (none, given -march).
    assert seen["blas"] == "-luser_given" and seen["march"] is None
    assert seen["blas_file"] == "-lkept_by_the_test"  # untouched by the user's values
    assert seen["march_file"] == ["-march=kept-by-the-test"]


def test_a_user_value_for_one_flag_never_lands_in_the_other_processes_file(tmp_path):
    # The user's BLAS flags are not looked up, so the file stays missing for later processes, while
    # the march flags, still needed, come from the file.
    _run(
        tmp_path,
        "import json; from skautodiff import machine_flags; p = machine_flags.march_file(); "
        "p is None or p.write_text(json.dumps(['-march=kept-by-the-test']))",
    )
    seen = json.loads(_run(tmp_path, blas__ldflags="-luser_given").stdout)
    assert seen["blas"] == "-luser_given" and seen["blas_file"] is None


def test_cache_files_depend_on_the_python_environment_and_the_cpu(tmp_path):
    code = (
        "from skautodiff import machine_flags; "
        "print(machine_flags.blas_file().name, machine_flags.march_file())"
    )
    here = _run(tmp_path, code).stdout
    assert here == _run(tmp_path, code).stdout
    other_env = "import sys; sys.prefix = '/elsewhere'; "
    blas, march = here.split(" ", 1)
    elsewhere_blas, elsewhere_march = _run(tmp_path, other_env + code).stdout.split(" ", 1)
    assert elsewhere_blas != blas and elsewhere_march == march  # the CPU did not change
    other_cpu = (
        "from skautodiff import machine_flags; "
        "machine_flags.cpu_identity = lambda: 'vendor_id=another CPU'; "
    )
    moved = _run(tmp_path, other_cpu + code.split("; ", 1)[1]).stdout.split(" ", 1)
    assert moved[0] == blas and moved[1] != march


def test_no_cpu_identity_means_march_flags_are_not_shared(tmp_path):
    code = (
        "from skautodiff import machine_flags; machine_flags.cpu_identity = lambda: None; "
        "machine_flags._lookup = lambda: 1 / 0; "
        "from pytensor.link.c.cmodule import GCC_compiler; "
        "machine_flags.settle(); print(machine_flags.march_file(), GCC_compiler.march_flags)"
    )
    _keep_blas = (
        "import json; from skautodiff import machine_flags; "
        "machine_flags.blas_file().write_text(json.dumps('-lkept_by_the_test'))"
    )
    _run(tmp_path, _keep_blas)
    # Without an identity nothing is read or written for the march flags: PyTensor detects them
    # at its first compile, as it would without skautodiff. The BLAS flags come from their file,
    # so no child lookup ran either (it would have raised).
    assert _run(tmp_path, code).stdout.split() == ["None", "None"]
    assert not list(tmp_path.rglob("skautodiff-flags-march-*"))


@pytest.mark.skipif(not os.path.exists("/proc/cpuinfo"), reason="march flags are kept on Linux")
def test_a_damaged_file_is_looked_up_again_and_rewritten(tmp_path):
    # A string where a list belongs (a file written by hand, or half by another tool): never
    # handed to PyTensor as flags. The child lookup stands in for PyTensor's own here.
    _keep(tmp_path, "-lkept_by_the_test", "-march=not-a-list")
    code = SETTLE.replace(
        "machine_flags.settle()",
        "machine_flags._lookup = lambda: {'blas': '-lnot_used', 'march': ['-march=looked-up']}\n"
        "machine_flags.settle()",
    )
    seen = json.loads(_run(tmp_path, code).stdout)
    assert seen["march"] == seen["march_file"] == ["-march=looked-up"]
    assert seen["blas"] == seen["blas_file"] == "-lkept_by_the_test"
