"""What PyTensor looks up about this machine before its first C compilation, looked up once per
machine instead of once per process.

The first C compilation of every process (each loky or dask worker too) makes PyTensor find:
- its BLAS link flags (`pytensor.config.blas__ldflags`, unless the user set them): it searches the
  library directories and test-links candidate libraries with g++, about 1 s, and where none links
  it prints "PyTensor could not link to a BLAS installation". skautodiff's compiled graphs do not
  need those flags (matrix products run through numpy's dot, numpy_ops.py), but PyTensor's other
  ops may;
- the g++ flags equivalent to `-march=native` (`GCC_compiler.march_flags`, unless the user's
  `gcc__cxxflags` name an -march): three g++ runs and an import of setuptools, 0.3-0.8 s, most of it
  holding the GIL in tiers' background thread next to the fit it would speed up.
Both values are PyTensor's own, found by a child process once and kept in the compile directory;
later processes set them before PyTensor would look. The compiled modules' cache keys contain the
march flags, so keeping PyTensor's own value keeps every cached module valid.

The march flags describe the CPU, and a compile directory may be shared by machines (a network home,
a cluster image baked with `python -m skautodiff.warm_cache`): their file is named after the CPU's
identity from /proc/cpuinfo, so another CPU model finds no file and looks for itself. Where that
identity is unknown (not Linux) the march flags are not kept and PyTensor detects them per process.

The lookup runs in a child Python process rather than in this one: the BLAS warning cannot be
ignored reliably here (the lookup runs in tiers' background thread, and a `warnings.catch_warnings()`
that ends in another thread meanwhile, as scikit-learn wraps each of a joblib worker's tasks in one,
restores a filter list without skautodiff's entry). A child that fails leaves PyTensor to look as
before.
"""

import hashlib
import json
import logging
import os
import shutil
import subprocess
import sys
import threading
from pathlib import Path

import pytensor
from pytensor.link.c.cmodule import GCC_compiler

log = logging.getLogger("skautodiff")
BLAS = "blas__ldflags"
_MARK = "skautodiff-machine-flags:"
# The child prints what PyTensor finds, after the mark (so that nothing else printed counts).
_LOOKUP = (
    "import json, warnings; warnings.simplefilter('ignore'); import pytensor; "
    "from pytensor.link.c.cmodule import GCC_compiler; GCC_compiler.compile_args(); "
    f"print({_MARK!r} + json.dumps({{'blas': pytensor.config.{BLAS}, "
    "'march': GCC_compiler.march_flags}))"
)
_CPU_FIELDS = ("vendor_id", "cpu family", "model", "model name", "stepping", "flags", "cache size")
_lock = threading.Lock()
_settled = False


def cpu_identity():
    """The first processor's identity from /proc/cpuinfo (what -march=native depends on), or None
    where there is no such file."""
    try:
        text = Path("/proc/cpuinfo").read_text()
    except OSError:
        return None
    first = text.split("\n\n")[0]
    fields = dict(line.split(":", 1) for line in first.splitlines() if ":" in line)
    fields = {key.strip(): value.strip() for key, value in fields.items()}
    return "\n".join(f"{key}={fields.get(key, '')}" for key in _CPU_FIELDS) if fields else None


def blas_file(compiledir=None):
    """Where the BLAS flags are kept: one file per Python environment and compiler, in PyTensor's
    compile directory (per platform and Python version), since the libraries found depend on both."""
    return _file(
        "flags-blas",
        [sys.prefix, sys.base_prefix, pytensor.config.cxx, os.environ.get("LD_LIBRARY_PATH", "")],
        compiledir,
    )


def march_file(compiledir=None):
    """Where the march flags are kept: one file per compiler and CPU; None where the CPU's identity
    is unknown (then they are not kept)."""
    cpu = cpu_identity()
    if cpu is None:
        return None
    compiler = shutil.which(pytensor.config.cxx)
    version = str(os.stat(compiler).st_mtime_ns) if compiler else ""  # a new g++: look again
    return _file("flags-march", [pytensor.config.cxx, version, cpu], compiledir)


def _file(what, depends_on, compiledir):
    # Not the name of an older skautodiff's plain-text BLAS file ("skautodiff-blas-ldflags-..."):
    # a process of that version sharing this compile directory would read JSON as its flags.
    digest = hashlib.sha256("\0".join(depends_on).encode()).hexdigest()[:16]
    return Path(compiledir or pytensor.config.compiledir) / f"skautodiff-{what}-{digest}"


def blas_user_set():
    """Whether PyTensor's BLAS flags are already decided: given in PYTENSOR_FLAGS or .pytensorrc,
    set in code, or already searched for in this process."""
    param = pytensor.config._config_var_dict.get(BLAS)
    if param is None or hasattr(param, "val"):
        return True
    try:
        pytensor.config.fetch_val_for_key(BLAS)
    except KeyError:
        return False
    return True


def march_decided():
    """Whether PyTensor's march flags are already decided: found in this process, or named by the
    user's gcc__cxxflags (then PyTensor adds none of its own)."""
    user = pytensor.config.gcc__cxxflags.split()
    return GCC_compiler.march_flags is not None or any(
        flag.startswith(("-march=", "--march=")) for flag in user
    )


def settle():
    """Before a C compilation: set PyTensor's machine flags from their cache files, looking them up
    (in one child process) and writing the files the first time. Once per process; never raises."""
    global _settled
    if _settled:
        return
    with _lock:
        if _settled or not pytensor.config.cxx:
            _settled = True
            return
        wanted = {}  # what this process still needs: {"blas" or "march": its cache file}
        if not blas_user_set():
            wanted["blas"] = blas_file()
        march = None if march_decided() else march_file()  # None: PyTensor detects them here
        if march is not None:
            wanted["march"] = march
        kept = {what: _read(path, what) for what, path in wanted.items()}
        if any(value is None for value in kept.values()):
            found = _lookup() or {}
            for what, path in wanted.items():
                if kept[what] is None and _valid(found.get(what), what):
                    kept[what] = found[what]
                    _write(path, found[what])
        if kept.get("blas") is not None:
            setattr(pytensor.config, BLAS, kept["blas"])
        if kept.get("march") is not None:
            GCC_compiler.march_flags = list(kept["march"])
        _settled = True


def _read(path, what):
    try:
        value = json.loads(path.read_text())
    except (OSError, ValueError):
        return None
    return value if _valid(value, what) else None  # a damaged file: looked up again


def _valid(value, what):
    """BLAS flags are one string; march flags a list of strings."""
    if what == "blas":
        return isinstance(value, str)
    return isinstance(value, list) and all(isinstance(flag, str) for flag in value)


def _lookup():
    """PyTensor's flags, found by a child process; None when it fails."""
    try:
        done = subprocess.run(
            [sys.executable, "-c", _LOOKUP], capture_output=True, text=True, timeout=600
        )
    except (OSError, subprocess.SubprocessError) as error:
        log.info("skautodiff: looking up PyTensor's machine flags in a child failed: %s", error)
        return None
    found = [line for line in done.stdout.splitlines() if line.startswith(_MARK)]
    if done.returncode != 0 or not found:
        log.info(
            "skautodiff: looking up PyTensor's machine flags in a child failed (exit code %s): %s",
            done.returncode,
            done.stderr.strip()[-500:],
        )
        return None
    try:
        return json.loads(found[-1][len(_MARK) :])
    except ValueError:
        return None


def _write(path, value):
    """Whole or not at all: a process reading meanwhile never sees half a file."""
    temporary = path.with_name(f"{path.name}.{os.getpid()}.{threading.get_ident()}.tmp")
    try:
        temporary.write_text(json.dumps(value))
        os.replace(temporary, path)
    except OSError as error:  # a read-only cache: every process looks, as PyTensor does
        log.info("skautodiff: could not keep PyTensor's machine flags in %s: %s", path, error)
        temporary.unlink(missing_ok=True)
