"""PyTensor's compile directory: import PyTensor whatever its state, and heal damaged modules.

PyTensor keeps the C modules it compiles under `pytensor.config.compiledir` (by default
~/.pytensor/compiledir_<platform>), shared by every process of the user. Two states of that
directory used to stop skautodiff:

* an unusable directory (read-only, or a file where a directory is expected). `import skautodiff`
  must still work, and so must prediction, which runs the user's numpy code. `usable()` tells
  `compile.mode()` to compile with PyTensor's Python linker instead, which needs no directory, and
  warns once, naming the directory and how to choose another;
* a damaged module in it (a `.so` truncated by a full disk or a killed process) failed every later
  run with "ImportError: ... file too short". `build()` removes such a module and compiles again.
"""

import atexit
import logging
import os
import shutil
import sys
import tempfile
import threading
import warnings
from pathlib import Path

from .quiet import ignoring

log = logging.getLogger("skautodiff")
_problem = None  # why the compile directory cannot be used, once known
_usable = None
_lock = threading.Lock()


def _import_pytensor():
    """Import PyTensor, also when an explicitly configured compile directory is unusable.

    PyTensor checks a `compiledir` set in PYTENSOR_FLAGS or .pytensorrc while it is imported and
    raises when it cannot write there (the default one is checked at the first C compile). Then
    it is imported again with `compiledir` pointed at an empty temporary directory, removed at
    exit, only so that the import succeeds: `usable()` still reports the configured one.
    """
    global _problem
    try:
        import pytensor  # noqa: F401 (importing it is the check)

        return
    except ValueError as error:
        if "compiledir" not in str(error):
            raise
        _problem = str(error)
    for name in [
        name for name in sys.modules if name == "pytensor" or name.startswith("pytensor.")
    ]:
        del sys.modules[name]  # the half-imported package
    scratch = tempfile.mkdtemp(prefix="skautodiff-unused-compiledir-")
    atexit.register(shutil.rmtree, scratch, ignore_errors=True)
    flags = os.environ.get("PYTENSOR_FLAGS")
    os.environ["PYTENSOR_FLAGS"] = (
        f"{flags},compiledir={scratch}" if flags else f"compiledir={scratch}"
    )
    try:  # PYTENSOR_FLAGS take precedence over .pytensorrc
        import pytensor  # noqa: F401 (importing it is the point)
    finally:
        if flags is None:
            del os.environ["PYTENSOR_FLAGS"]
        else:
            os.environ["PYTENSOR_FLAGS"] = flags


_import_pytensor()
import pytensor  # noqa: E402 (bound here once _import_pytensor() made the import succeed)


def usable():
    """Whether PyTensor can compile C modules into its compile directory; warns once when not."""
    global _usable
    if _usable is None:
        with _lock:
            if _usable is None:
                _usable = _check()
    return _usable


def _check():
    global _problem
    if _problem is None:
        try:
            _ = pytensor.config.compiledir  # PyTensor creates and checks it on first access
        except (ValueError, OSError) as error:
            _problem = str(error)
    if _problem is not None:
        warnings.warn(
            f"skautodiff: PyTensor's compile directory cannot be used: {_problem} Compiled functions "
            "fall back to PyTensor's Python implementation, which needs no directory but is much "
            "slower on large arrays (up to ~100x). To compile to C, choose a writable directory "
            "before Python starts, e.g. PYTENSOR_FLAGS=base_compiledir=/path/to/dir (or "
            "compiledir=..., if that is the flag you set).",
            RuntimeWarning,
            stacklevel=3,
        )
        return False
    _heal_virtual_machine()
    return True


def build(make):
    """make() (a PyTensor compilation), again after removing each damaged module it fails to load."""
    healed = set()
    while True:
        try:
            return make()
        except ImportError as error:
            module_dir = _damaged_module_dir(error)
            if module_dir is None or module_dir in healed:
                raise
            healed.add(module_dir)
            _remove(module_dir, error)


def _heal_virtual_machine():
    """PyTensor's C loop over a function's nodes is a compiled module too. When it fails to load,
    PyTensor silently runs its slower Python loop instead: load (and heal) it here first."""

    def load():
        from pytensor.link.c import lazylinker_c  # noqa: F401 (loading the module is the point)

    try:
        build(load)
    except ImportError:  # not repairable: PyTensor runs its Python loop, as it would anyway
        return
    cvm = sys.modules.get("pytensor.link.c.cvm")
    if cvm is not None and not hasattr(cvm, "CVM"):  # imported while the module was damaged
        del sys.modules["pytensor.link.c.cvm"]


def _damaged_module_dir(error):
    """The directory of the compiled module (directly under the compile directory) that an
    ImportError failed to load, or None when the error is about something else."""
    path = getattr(error, "path", None)  # the extension module's file, set by its loader
    if not path:
        return None
    root = Path(pytensor.config.compiledir).resolve()
    try:
        parts = Path(path).resolve().relative_to(root).parts
    except ValueError:
        return None
    return root / parts[0] if len(parts) > 1 and parts[0] != "lock_dir" else None


def _remove(module_dir, error):
    from pytensor.compile.compilelock import lock_ctx
    from pytensor.link.c.basic import get_module_cache

    reason = str(error).split("\n")[0].removeprefix(f"{error.path}: ")  # e.g. "file too short"
    log.warning(
        "skautodiff: PyTensor's compiled module %s is damaged (%s); removing %s and compiling "
        "it again",
        error.path,
        reason,
        module_dir,
    )
    with lock_ctx():
        shutil.rmtree(module_dir, ignore_errors=True)  # another thread may have done it
    for name, module in list(sys.modules.items()):  # e.g. the package of PyTensor's C loop
        places = [getattr(module, "__file__", None), *getattr(module, "__path__", ())]
        if any(place and Path(place).is_relative_to(module_dir) for place in places):
            del sys.modules[name]
    # Forget the removed module: PyTensor's refresh warns about it once more, after us. (Not
    # catch_warnings: this runs in tiers' background thread too, see quiet.py.)
    with ignoring("Removing key file"):
        get_module_cache().refresh()


def modules_built_since(when, root=None):
    """How many C modules in the compile directory (`root`: PyTensor's) were written at or after
    `when` (a time.time() value): those this process compiled since then, unless another process
    shares the directory. Each module is a directory holding one .so (PyTensor's own C loop and
    utilities included)."""
    root = Path(root or pytensor.config.compiledir)
    return sum(1 for so in root.glob("*/*.so") if so.stat().st_mtime >= when)
