"""Kernels of the monthly step (the victim pass, recruits' attributes, the groups' decisions, money,
members, entry, courts and relocation, users' cases, pools and demand turning over, sums for the
records), in two implementations with the same results.

``reference`` is plain numpy and always available; ``compiled`` is the same blocks fused into
loops by numba (the ``fast`` extra: ``pip install "thbsim[fast]"``). Both take the same inputs and
return the same outputs bit for bit, so a seed gives one result whichever runs
(tests/test_kernels.py): most draw no random numbers (the model draws them first and passes them
in), and those given a generator draw from it exactly what the reference draws, in the same order.
``load("auto")`` picks numba when it is installed; the environment variable ``THBSIM_KERNELS``
(``numpy`` or ``numba``) overrides ``auto``.
"""

from __future__ import annotations

import importlib
import importlib.util
import os
from types import ModuleType

BACKENDS = ("auto", "numpy", "numba")


def numba_available() -> bool:
    return importlib.util.find_spec("numba") is not None


def load(backend: str = "auto") -> ModuleType:
    """The kernel module for ``backend``: "numpy", "numba" or "auto"."""
    if backend not in BACKENDS:
        raise ValueError(f"kernels must be one of {', '.join(BACKENDS)}, not {backend!r}")
    if backend == "auto":
        backend = os.environ.get("THBSIM_KERNELS", "auto")
        if backend not in BACKENDS:
            raise ValueError(f"THBSIM_KERNELS must be one of {', '.join(BACKENDS)}, not {backend!r}")
        if backend == "auto":
            backend = "numba" if numba_available() else "numpy"
    if backend == "numba":
        if not numba_available():
            raise ImportError('kernels="numba" needs numba: pip install "thbsim[fast]"')
        return importlib.import_module("thbsim.kernels.compiled")
    return importlib.import_module("thbsim.kernels.reference")
