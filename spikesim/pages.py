"""Ordinary (4 KiB) pages for NumPy's large arrays in spikesim's own processes.

NumPy asks Linux for transparent huge pages (``madvise(MADV_HUGEPAGE)``) on every array of
4 MB or more. Each first touch of a huge page then zeroes 2 MiB at once, which on the
virtual machines this simulator was measured on (Firecracker guests, 2 cores) costs
erratically 0.05-3.4 s per 400 MB against a steady 0.2 s with ordinary pages, and a simulation
allocates gigabytes of short-lived arrays: one llama2-7b block's linear layers took 3.4-3.5 s of
system time with huge pages, 1.0 s without (wall 15.5-15.9 s -> 13.3 s, user time the same).

:func:`prefer_small_pages` turns NumPy's request off for the rest of the process, unless the
user chose with NumPy's own variable ``NUMPY_MADVISE_HUGEPAGE`` (``1``: keep huge pages; NumPy
read it at import). The CLI calls it at start and every worker process spikesim starts
(:mod:`spikesim.procpool`) at birth; a program importing spikesim keeps NumPy's setting.
"""

from __future__ import annotations

import importlib
import os
from types import ModuleType

ENV = "NUMPY_MADVISE_HUGEPAGE"
"""NumPy's variable: set, it decides (``0`` off, ``1`` on) and spikesim leaves it alone."""


def numpy_multiarray() -> ModuleType | None:
    """NumPy's ``multiarray`` module (``numpy._core`` in NumPy 2, ``numpy.core`` in 1.x),
    which holds ``_set_madvise_hugepage`` / ``_get_madvise_hugepage``."""
    for name in ("numpy._core.multiarray", "numpy.core.multiarray"):
        try:
            return importlib.import_module(name)
        except ImportError:  # pragma: no cover - the other NumPy generation
            continue
    return None  # pragma: no cover


def prefer_small_pages() -> None:
    """Stop NumPy asking for huge pages in this process, unless :data:`ENV` is set."""
    module = numpy_multiarray()
    setter = getattr(module, "_set_madvise_hugepage", None)
    if ENV not in os.environ and setter is not None:
        setter(False)
