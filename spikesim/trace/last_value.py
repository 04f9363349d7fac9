"""A one-entry memo for generated values (shape-only workloads generate on demand)."""

from __future__ import annotations

from collections.abc import Callable
from typing import Any, Generic, TypeVar

T = TypeVar("T")

__all__ = ["LastValue"]


class LastValue(Generic[T]):
    """The value last made, kept under the key of everything it depends on.

    :meth:`get` with that key returns it without making it again; with another key the old
    value is released first, then the new one made, so at most one value is held.
    """

    def __init__(self) -> None:
        self._key: tuple[Any, ...] | None = None
        self._value: T | None = None

    def get(self, key: tuple[Any, ...], make: Callable[[], T]) -> T:
        """The value of ``key``, made by ``make()`` unless it is the one held."""
        if self._key != key or self._value is None:
            self._key, self._value = None, None  # release the old value before making the new
            self._value = make()
            self._key = key
        return self._value
