"""Results of pure kernels over read-only arrays, remembered by the arrays' identity.

A timing kernel's statistics depend only on its activation arrays (quantized values, salient
mask) and its integer arguments. The arrays of a cached layer are the same read-only objects at
every point of a sweep (the process keeps the entries it decoded:
:data:`spikesim.sim.quantcache._DECODED`), and q/k/v_proj (gate/up_proj) share one read-only
quantization of their input (:class:`spikesim.quant.layer.ActivationMemo`), so a point that
changes only fields the kernel does not read (array columns, SRAM sizes, energy tables) would
repeat the kernel's work exactly.

:class:`ArrayMemo` keeps, per pair of arrays, the results under their argument keys; the pairs
are kept least recently used first, at most ``max_bytes`` of arrays (it holds them, so their
identity cannot pass to new arrays while remembered). Writeable arrays are never remembered
(their values could change); results are returned read-only (they are shared).
"""

from __future__ import annotations

import threading
from collections.abc import Callable, Hashable

import numpy as np

_Pair = tuple[np.ndarray, np.ndarray, dict[Hashable, np.ndarray]]
"""Two arrays held and their results by key."""

MAX_RESULTS_PER_PAIR = 4096
"""Results kept per pair of arrays (each a few hundred bytes); the oldest go first."""


class ArrayMemo:
    """``make()`` results per (two read-only arrays, hashable key), least recently used first.

    ``max_bytes`` bounds the arrays held (the results are small); a pair larger than a quarter
    of it is not remembered."""

    def __init__(self, max_bytes: int) -> None:
        self.max_bytes = max_bytes
        self.nbytes = 0
        self.hits = 0
        self.misses = 0
        self._pairs: dict[tuple[int, int], _Pair] = {}
        self._lock = threading.Lock()

    def get(
        self, a: np.ndarray, b: np.ndarray, key: Hashable, make: Callable[[], np.ndarray]
    ) -> np.ndarray:
        """The result of ``make()`` for arrays ``a``, ``b`` and ``key``: remembered when both
        arrays are read-only, computed otherwise."""
        if a.flags.writeable or b.flags.writeable:
            return make()
        ids = (id(a), id(b))
        with self._lock:
            pair = self._pairs.pop(ids, None)
            if pair is not None:
                self._pairs[ids] = pair  # most recently used last
                found = pair[2].get(key)
                if found is not None:
                    self.hits += 1
                    return found
        value = make()
        value.flags.writeable = False
        size = a.nbytes + b.nbytes
        with self._lock:
            self.misses += 1
            if size > self.max_bytes // 4:
                return value
            pair = self._pairs.get(ids)
            if pair is None:
                while self._pairs and self.nbytes + size > self.max_bytes:
                    oldest = next(iter(self._pairs))
                    old_a, old_b, _ = self._pairs.pop(oldest)
                    self.nbytes -= old_a.nbytes + old_b.nbytes
                pair = (a, b, {})
                self._pairs[ids] = pair
                self.nbytes += size
            results = pair[2]
            if len(results) >= MAX_RESULTS_PER_PAIR:
                del results[next(iter(results))]
            results[key] = value
        return value

    def clear(self) -> None:
        """Forget every pair."""
        with self._lock:
            self._pairs.clear()
            self.nbytes = 0


ROW_COUNTS = ArrayMemo(64 * 1024**2)
"""Per-row counts of read-only masks (:func:`row_counts`), in this process."""


def row_counts(mask: np.ndarray) -> np.ndarray:
    """``np.count_nonzero(mask, axis=1)`` as int64 (read-only), remembered for a read-only
    ``mask`` (a cached layer's salient mask, counted by its mapping and its action counts at
    every point of a sweep)."""
    return ROW_COUNTS.get(mask, mask, "rows",
                          lambda: np.count_nonzero(mask, axis=1).astype(np.int64))
