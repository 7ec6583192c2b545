"""Compiled-function backends: "c" (PyTensor's C backend, the default) and "jax" (PyTensor's JAX
linker: XLA on CPU, NVIDIA GPUs and TPUs). One parameter name, `backend`, everywhere; this module
is the one place that validates it."""

NAMES = ("c", "jax")
INSTALL_JAX = (
    'backend="jax" needs JAX, which is not installed: pip install "skautodiff[jax]" '
    '(CPU), or install jax for your accelerator as JAX documents (e.g. pip install '
    '"jax[cuda12]" for NVIDIA GPUs)'
)


def check(backend):
    """The backend's name, validated; for "jax", JAX must import (else how to install it)."""
    if not isinstance(backend, str) or backend.lower() not in NAMES:
        raise ValueError(
            f'backend must be "c" (PyTensor\'s C backend, the default) or "jax" '
            f'(PyTensor\'s JAX linker); got {backend!r}'
        )
    backend = backend.lower()
    if backend == "jax":
        try:
            import jax  # noqa: F401
        except ImportError:
            raise ImportError(INSTALL_JAX) from None
    return backend
