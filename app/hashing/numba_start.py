"""numba's registry of numpy implementations, loaded without scipy.

The first time a process compiles or loads a kernel, numba imports its
implementations of numpy functions, and on the way imports scipy.linalg to
learn whether BLAS is there for ``np.dot`` and ``np.linalg`` in compiled
code. No kernel of paradup uses them, and that import (scipy.linalg brings
numpy.f2py and numpy.testing with it) was about a fifth of the CPU a server
worker spends before its first answer. Loaded here with scipy.linalg hidden,
numba records BLAS as absent; afterwards scipy imports as usual. Importing
this module does it (app/hashing/__init__.py imports it first).
"""

from __future__ import annotations

import importlib
import sys

REGISTRY = "numba.np.arraymath"
HIDDEN = "scipy.linalg"


def load_registry() -> None:
    if REGISTRY in sys.modules:
        return
    hide = HIDDEN not in sys.modules
    if hide:
        sys.modules[HIDDEN] = None  # type: ignore[assignment]  # an import of it raises ImportError
    try:
        importlib.import_module(REGISTRY)
    finally:
        if hide and HIDDEN in sys.modules and sys.modules[HIDDEN] is None:
            del sys.modules[HIDDEN]


load_registry()
