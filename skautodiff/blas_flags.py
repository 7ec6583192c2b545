"""PyTensor's BLAS link flags, looked up once per machine instead of once per process.

The first C compilation of a process reads `pytensor.config.blas__ldflags`; unless the user set
it, PyTensor then searches the library directories and test-links candidate BLAS libraries with
g++: about 1 s of a warm first compile, in every process (each loky or dask worker too), and
where none links it prints "PyTensor could not link to a BLAS installation". skautodiff's compiled
graphs do not need those flags (matrix products run through numpy's dot, numpy_ops.py), but
PyTensor's other ops may, so the value is PyTensor's own, found once and kept in the compile
directory: later processes set it before PyTensor would search.

The search runs in a child Python process rather than in this one. Its warning cannot be ignored
reliably here: the search runs in tiers' background thread, and a `warnings.catch_warnings()` that
ends in another thread meanwhile (scikit-learn wraps each of a joblib worker's tasks in one)
restores a filter list without skautodiff's entry, so workers printed the warning the parent never
did. The child ignores it; a child that fails leaves PyTensor to search as before.
"""

import hashlib
import logging
import os
import subprocess
import sys
import threading
from pathlib import Path

import pytensor

log = logging.getLogger("skautodiff")
KEY = "blas__ldflags"
_MARK = "skautodiff-blas-ldflags:"
# The child prints the flags PyTensor finds, after the mark (so that nothing else printed counts).
_SEARCH = (
    "import warnings; warnings.simplefilter('ignore'); import pytensor; "
    f"print({_MARK!r} + pytensor.config.{KEY})"
)
_lock = threading.Lock()
_settled = False


def cache_file(compiledir=None):
    """Where the flags are kept: PyTensor's compile directory (per platform and Python version),
    one file per Python environment and compiler, since the libraries found depend on both."""
    where = [
        sys.prefix,
        sys.base_prefix,
        pytensor.config.cxx,
        os.environ.get("LD_LIBRARY_PATH", ""),
    ]
    digest = hashlib.sha256("\0".join(where).encode()).hexdigest()[:16]
    return Path(compiledir or pytensor.config.compiledir) / f"skautodiff-blas-ldflags-{digest}"


def user_set():
    """Whether PyTensor's value is already decided: given in PYTENSOR_FLAGS or .pytensorrc, set in
    code, or already searched for in this process."""
    param = pytensor.config._config_var_dict.get(KEY)
    if param is None or hasattr(param, "val"):
        return True
    try:
        pytensor.config.fetch_val_for_key(KEY)
    except KeyError:
        return False
    return True


def settle():
    """Before a C compilation: set PyTensor's BLAS flags from the cache file, searching for them
    (in a child process) and writing the file the first time. Once per process; never raises."""
    global _settled
    if _settled:
        return
    with _lock:
        if _settled or not pytensor.config.cxx or user_set():
            _settled = True
            return
        path = cache_file()
        try:
            flags = path.read_text()
        except OSError:
            flags = _search()
            if flags is not None:
                _write(path, flags)
        if flags is not None:
            setattr(pytensor.config, KEY, flags)
        _settled = True


def _search():
    """PyTensor's flags, found by a child process; None when it fails."""
    try:
        done = subprocess.run(
            [sys.executable, "-c", _SEARCH], capture_output=True, text=True, timeout=600
        )
    except (OSError, subprocess.SubprocessError) as error:
        log.info(
            "skautodiff: looking up PyTensor's BLAS flags in a child process failed: %s", error
        )
        return None
    found = [line for line in done.stdout.splitlines() if line.startswith(_MARK)]
    if done.returncode != 0 or not found:
        log.info(
            "skautodiff: looking up PyTensor's BLAS flags in a child process failed (exit code "
            "%s): %s",
            done.returncode,
            done.stderr.strip()[-500:],
        )
        return None
    return found[-1][len(_MARK) :].strip()


def _write(path, flags):
    """Whole or not at all: a process reading meanwhile never sees half a file."""
    temporary = path.with_name(f"{path.name}.{os.getpid()}.{threading.get_ident()}.tmp")
    try:
        temporary.write_text(flags)
        os.replace(temporary, path)
    except OSError as error:  # a read-only cache: every process searches, as PyTensor does
        log.info("skautodiff: could not keep PyTensor's BLAS flags in %s: %s", path, error)
        temporary.unlink(missing_ok=True)
