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
