"""Differential correctness corpus: plain-numpy losses grouped by theme.

Importing this package registers every entry in ``ENTRIES`` (see ``harness.py`` for the record
and the finite-difference oracle). Each theme module is written the way practitioners write
losses: ``import numpy as np`` and ``scipy.special`` / ``scipy.stats`` / ``scipy.linalg``.
"""

from .harness import ENTRIES, Call, Entry, case

from . import (  # noqa: F401 (imported for their registrations)
    glm,
    survival,
    gp,
    mixtures,
    factorization,
    embeddings,
    neural,
    control_flow,
)

THEMES = sorted({e.theme for e in ENTRIES})

__all__ = ["ENTRIES", "Call", "Entry", "case"]
