"""numba's ``njit`` with on-disk caching when a cache location is writable, without otherwise.

``cache=True`` raises at decoration time when neither the source's ``__pycache__`` nor the user
cache dir is writable (read-only installs); then we fall back to compiling in memory.
:func:`kernel_input` hands kernels their read-only inputs in one type, so each compiles once.
"""

from __future__ import annotations

from collections.abc import Callable
from typing import Any, TypeVar, cast

import numba
import numpy as np
from numpy.typing import DTypeLike, NDArray

F = TypeVar("F", bound=Callable[..., Any])


def njit(func: F) -> F:
    try:
        return cast(F, numba.njit(cache=True, nogil=True)(func))
    except RuntimeError:
        return cast(F, numba.njit(cache=False, nogil=True)(func))


def kernel_input(a: Any, dtype: DTypeLike | None = None) -> NDArray[Any]:
    """``a`` as a C-contiguous, read-only array (a view; copied only when the layout or dtype
    asks for it), for an argument a kernel only reads.

    numba compiles one specialisation per argument type, and a read-only array is another
    type than a writable one: memoized layers and cached arrays are read-only, fresh ones are
    not, so a kernel met with both compiled twice (3-5 s of LLVM each for the block-timing
    and quantization kernels). Passed through here, its inputs have one type."""
    out = np.ascontiguousarray(a, dtype=dtype)
    if out.flags.writeable:
        out = out.view()
        out.flags.writeable = False
    return out


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
