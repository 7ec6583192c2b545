"""Limit scipy's own OpenBLAS to one thread while a contender fits.

numpy and scipy each ship an OpenBLAS. L-BFGS-B calls scipy's every iteration, and its idle worker
thread then spins while numpy's BLAS computes the loss: three busy threads on two cores made fits
1.6-4x slower (doc/performance.md). Every contender's fit runs inside ``scipy_blas_single_thread()``
so the comparison measures the loss and the optimiser, not that contention. The controller is
picked by file path (``scipy.libs``); a prefix match on the library name would catch numpy's too.
"""

import contextlib

from threadpoolctl import ThreadpoolController

_controller = None


def _scipy_blas():
    global _controller
    if _controller is None:
        import scipy.linalg  # noqa: F401  (loads scipy's BLAS so threadpoolctl can see it)

        _controller = ThreadpoolController()
    return [lib for lib in _controller.lib_controllers if "scipy.libs" in lib.filepath]


@contextlib.contextmanager
def scipy_blas_single_thread():
    libs = _scipy_blas()
    before = [lib.num_threads for lib in libs]
    for lib in libs:
        lib.set_num_threads(1)
    try:
        yield
    finally:
        for lib, n in zip(libs, before):
            lib.set_num_threads(n)


def describe():
    """One line per BLAS library found, for the report's environment section."""
    _scipy_blas()
    return [
        f"{lib.internal_api} {lib.version} ({lib.filepath.rsplit('/', 2)[-2]}), "
        f"{lib.num_threads} threads"
        for lib in _controller.lib_controllers
    ]
