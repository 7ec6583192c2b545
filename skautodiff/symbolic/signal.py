"""scipy.signal in PyTensor: one-dimensional convolution (see doc/architecture.md, "Symbolic rules").

Loaded when a scipy.signal function is first looked up (`_LAZY_AREAS` in symbolic/__init__.py):
importing scipy.signal costs most of a second, which a trace that does not use it should not pay.
"""

import scipy.signal
from pytensor.tensor.signal import convolve1d

from .products import centred, one_dimensional


def convolve(in1, in2, mode="full", method="auto"):
    a, v = one_dimensional("scipy.signal.convolve", in1, in2)
    if mode == "same":  # scipy: as long as in1
        return centred(convolve1d(a, v, mode="full"), a.shape[0], v.shape[0])
    return convolve1d(a, v, mode=mode)


FUNCTIONS = {
    scipy.signal.convolve: convolve,
}
