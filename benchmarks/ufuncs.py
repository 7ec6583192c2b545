"""Per-element cost of elementwise functions: PyTensor's C Elemwise, numpy's ufunc loops, and the
function compiled by skautodiff (which picks numpy's loop where it is faster).

``python -m benchmarks.ufuncs`` prints the Markdown table quoted in doc/performance.md. It is the
measurement behind skautodiff/numpy_ops.py's table of functions computed by numpy inside
compiled graphs. Arrays are 20000x64 (the MLP's hidden layer), float64 and float32; medians of
repeated calls, in nanoseconds per element.
"""

import statistics
import time

import numpy as np
import pytensor
import pytensor.tensor as pt
from pytensor.compile.mode import Mode
from scipy import special

FUNCTIONS = {  # name: (numpy callable, input range)
    "tanh": (np.tanh, (-3, 3)),
    "exp": (np.exp, (-3, 3)),
    "expm1": (np.expm1, (-3, 3)),
    "exp2": (np.exp2, (-3, 3)),
    "log": (np.log, (0.1, 3)),
    "log1p": (np.log1p, (0.1, 3)),
    "log2": (np.log2, (0.1, 3)),
    "log10": (np.log10, (0.1, 3)),
    "sinh": (np.sinh, (-3, 3)),
    "cosh": (np.cosh, (-3, 3)),
    "arcsinh": (np.arcsinh, (-3, 3)),
    "arccosh": (np.arccosh, (1.1, 3)),
    "arctanh": (np.arctanh, (-0.9, 0.9)),
    "tan": (np.tan, (-1, 1)),
    "arcsin": (np.arcsin, (-0.9, 0.9)),
    "arccos": (np.arccos, (-0.9, 0.9)),
    "arctan": (np.arctan, (-3, 3)),
    "softplus": (lambda v: np.logaddexp(0.0, v), (-3, 3)),
    "sin": (np.sin, (-3, 3)),
    "cos": (np.cos, (-3, 3)),
    "sigmoid": (special.expit, (-3, 3)),
}


def _ns_per_element(fn, a, repeats=30):
    fn(a)
    times = []
    for _ in range(repeats):
        start = time.perf_counter()
        fn(a)
        times.append(time.perf_counter() - start)
    return statistics.median(times) * 1e9 / a.size


def measure(shape=(20000, 64)):
    from skautodiff.compile import mode

    plain_c = Mode(
        linker="cvm", optimizer="fast_run"
    )  # PyTensor as it is, without skautodiff's rewrites
    rows = []
    for name, (numpy_fn, bounds) in FUNCTIONS.items():
        row = [name]
        for dtype in ("float64", "float32"):
            a = np.random.default_rng(0).uniform(*bounds, size=shape).astype(dtype)
            x = pt.matrix(dtype=dtype)
            row.append(
                _ns_per_element(pytensor.function([x], getattr(pt, name)(x), mode=plain_c), a)
            )
            row.append(_ns_per_element(numpy_fn, a))
            row.append(
                _ns_per_element(pytensor.function([x], getattr(pt, name)(x), mode=mode()), a)
            )
        rows.append(row)
    return rows


def markdown(rows):
    lines = [
        "| function | float64: PyTensor C | numpy | skautodiff | float32: PyTensor C | numpy | skautodiff |",
        "|---|---|---|---|---|---|---|",
    ]
    for name, *cells in rows:
        lines.append(f"| {name} | " + " | ".join(f"{c:.2f}" for c in cells) + " |")
    return "\n".join(lines)


if __name__ == "__main__":
    print("ns per element, 20000x64, median of 30 calls\n")
    print(markdown(measure()))
