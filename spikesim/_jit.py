"""numba's ``njit`` with on-disk caching when a cache location is writable, without otherwise.

``cache=True`` raises at decoration time when neither the source's ``__pycache__`` nor the user
cache dir is writable (read-only installs); then we fall back to compiling in memory.
"""

from __future__ import annotations

from collections.abc import Callable
from typing import Any, TypeVar, cast

import numba

F = TypeVar("F", bound=Callable[..., Any])


def njit(func: F) -> F:
    try:
        return cast(F, numba.njit(cache=True, nogil=True)(func))
    except RuntimeError:
        return cast(F, numba.njit(cache=False, nogil=True)(func))


def worker_threads() -> int:
    """Threads to spread nogil kernels over: numba's configured thread count (NUMBA_NUM_THREADS,
    1 in tests and sweep workers, the core count otherwise)."""
    return max(1, int(getattr(numba.config, "NUMBA_NUM_THREADS", 1)))


T = TypeVar("T")


def map_threads(fn: Callable[[Any], T], items: list[Any]) -> list[T]:
    """``[fn(item) for item in items]``, on up to :func:`worker_threads` threads (the kernels
    release the GIL); results in input order, identical to the serial loop."""
    threads = min(worker_threads(), len(items))
    if threads <= 1:
        return [fn(item) for item in items]
    from concurrent.futures import ThreadPoolExecutor

    with ThreadPoolExecutor(threads) as pool:
        return list(pool.map(fn, items))
