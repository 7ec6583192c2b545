"""A fixed ordering of named parameter arrays, so every contender sees the same flat vector.

scipy's L-BFGS-B works on one float64 vector; the losses take a dict of arrays. Every contender
packs and unpacks through the same Layout, so "the same start" means the same vector.
"""

import numpy as np


class Layout:
    def __init__(self, shapes):
        self.shapes = dict(shapes)
        self.slices = {}
        start = 0
        for name, shape in self.shapes.items():
            size = int(np.prod(shape, dtype=int))
            self.slices[name] = slice(start, start + size)
            start += size
        self.size = start

    def unflatten(self, flat):
        """Views into ``flat`` (numpy, autograd boxes and jax arrays all slice and reshape)."""
        return {name: flat[s].reshape(self.shapes[name]) for name, s in self.slices.items()}

    def flatten(self, params):
        """One float64 vector; accepts anything np.asarray understands as leaves (jax, floats)."""
        out = np.empty(self.size)
        for name, s in self.slices.items():
            out[s] = np.ravel(np.asarray(params[name], dtype=float))
        return out
