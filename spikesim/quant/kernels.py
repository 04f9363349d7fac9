"""numba kernels for quantization, row by row in one pass; twins: :mod:`spikesim.quant.rtn` and
:mod:`spikesim.quant.spikequant` (the NumPy definitions). Tests check bit-exact agreement.

Arithmetic follows NumPy's float32 rules exactly (scales, divisions and comparisons in float32,
round half to even), so the integers are identical to the twins'.
"""

from __future__ import annotations

import itertools

import numpy as np
from numpy.typing import NDArray

from spikesim._jit import kernel_input, map_threads, njit, worker_threads
from spikesim.quant.rtn import int_dtype, qmax


@njit
def _rtn_rows(w: np.ndarray, q: int) -> tuple[np.ndarray, np.ndarray]:
    n, k = w.shape
    out = np.empty((n, k), dtype=np.int8)
    scale = np.empty(n, dtype=np.float32)
    qf = np.float32(q)
    for j in range(n):
        amax = np.float32(0.0)
        for i in range(k):
            a = abs(w[j, i])
            if a > amax:
                amax = a
        s = amax / qf
        if not s > 0:
            s = np.float32(1.0)
        scale[j] = s
        for i in range(k):
            r = np.rint(w[j, i] / s)
            r = min(max(r, -qf), qf)
            out[j, i] = np.int8(r)
    return out, scale


def rtn_weights(w: NDArray[np.float32], bits: int) -> tuple[NDArray[np.int8], NDArray[np.float32]]:
    """Fast twin of ``quantize_weights(w, bits)`` (per output channel, no groups); rows spread
    over :func:`~spikesim.hw._jit.worker_threads` threads."""
    ws = kernel_input(w, np.float32)
    q = (1 << (bits - 1)) - 1
    parts = map_threads(lambda rows: _rtn_rows(ws[rows], q), _row_slices(ws.shape[0]))
    if len(parts) == 1:
        return parts[0]
    return np.concatenate([p[0] for p in parts]), np.concatenate([p[1] for p in parts])


@njit
def _rtn_groups(x: np.ndarray, q: int, group: int, clip: float, out: np.ndarray,
                scale: np.ndarray) -> None:
    """Symmetric RTN of each row of ``x`` in groups of ``group`` columns into ``out`` (any
    integer dtype) and ``scale`` [rows, groups]: s = max|x| · clip / q in float32 (1 where not
    positive), round half to even, clipped to ±q."""
    n, k = x.shape
    qf = np.float32(q)
    cf = np.float32(clip)
    groups = scale.shape[1]
    for j in range(n):
        for g in range(groups):
            a = g * group
            b = min(k, a + group)
            amax = np.float32(0.0)
            for i in range(a, b):
                v = abs(x[j, i])
                if v > amax:
                    amax = v
            s = amax * cf / qf
            if not s > 0:
                s = np.float32(1.0)
            scale[j, g] = s
            for i in range(a, b):
                r = np.rint(x[j, i] / s)
                r = min(max(r, -qf), qf)
                out[j, i] = r


def rtn_rows(
    x: NDArray[np.floating], bits: int, group_size: int | None = None, clip: float = 1.0
) -> tuple[NDArray[np.signedinteger], NDArray[np.float32]]:
    """Fast twin of :func:`spikesim.quant.rtn.quantize_rows` (same arguments, same integers
    and scales, bit-exact): one pass per row and group instead of NumPy's temporaries and
    strided group slices; rows spread over :func:`~spikesim.hw._jit.worker_threads`
    threads."""
    xs = kernel_input(x, np.float32)
    rows, k = xs.shape
    group = k if group_size is None or k == 0 else group_size
    groups = 1 if group_size is None or k == 0 else -(-k // group_size)
    out = np.zeros((rows, k), dtype=int_dtype(bits))
    scale = np.ones((rows, groups), dtype=np.float32)
    if rows and k:
        q = qmax(bits)

        def run(part: slice) -> None:
            _rtn_groups(xs[part], q, group, float(np.float32(clip)), out[part], scale[part])

        map_threads(run, _row_slices(rows))
    return out, scale


_SMALL_SELECT = 16
"""Ranges this short are finished by insertion sort."""


@njit
def _select(a: np.ndarray, k: int) -> np.float32:
    """Quickselect: reorder ``a`` so a[:k] <= a[k] <= a[k+1:]; return a[k] (the k-th smallest,
    which is unique whatever the partition, so every correct selection returns it).

    Branch-free partitions (a data-dependent branch mispredicts half the time on random
    values; here the comparison only moves an index): a pass moves the values below the pivot
    (median of three) to the front, and when k lies beyond them a second pass over the rest
    moves the values equal to the pivot next, so runs of ties cannot stall it. After
    2·log2(n) + 8 rounds without finishing (adversarial orders), the range is sorted."""
    rounds = 8
    size = a.shape[0]
    while size > 1:
        rounds += 2
        size //= 2
    return _select_within(a, k, rounds)


@njit
def _select_within(a: np.ndarray, k: int, rounds: int) -> np.float32:
    """:func:`_select` with at most ``rounds`` partitions before sorting what is left."""
    lo, hi = 0, a.shape[0]
    while hi - lo > _SMALL_SELECT:
        rounds -= 1
        if rounds < 0:
            _heap_sort(a[lo:hi])
            return a[k]
        x, y, z = a[lo], a[(lo + hi) // 2], a[hi - 1]
        pivot = max(min(x, y), min(max(x, y), z))
        below = lo
        for i in range(lo, hi):
            v = a[i]
            a[i] = a[below]
            a[below] = v
            below += v < pivot
        if k < below:
            hi = below
            continue
        equal = below
        for i in range(below, hi):
            v = a[i]
            a[i] = a[equal]
            a[equal] = v
            equal += v <= pivot
        if k < equal:
            return pivot
        lo = equal
    for i in range(lo + 1, hi):  # insertion sort of the short rest
        v = a[i]
        j = i - 1
        while j >= lo and a[j] > v:
            a[j + 1] = a[j]
            j -= 1
        a[j + 1] = v
    return a[k]


@njit
def _heap_sort(a: np.ndarray) -> None:
    """Sort ``a`` in place (heapsort: O(n log n) whatever the order, no recursion). Written
    out rather than ``np.sort``, whose numba implementation costs about 3 s of compilation in
    every process with a cold cache, for a fallback adversarial orders alone reach."""
    n = a.shape[0]
    for start in range(n // 2 - 1, -1, -1):  # a max-heap ...
        _sift_down(a, start, n)
    for end in range(n - 1, 0, -1):  # ... whose top moves behind the shrinking heap
        top = a[0]
        a[0] = a[end]
        a[end] = top
        _sift_down(a, 0, end)


@njit
def _sift_down(a: np.ndarray, root: int, end: int) -> None:
    """Restore the max-heap property of ``a[:end]`` below ``root``."""
    while 2 * root + 1 < end:
        child = 2 * root + 1
        if child + 1 < end and a[child] < a[child + 1]:
            child += 1
        if not a[root] < a[child]:
            return
        v = a[root]
        a[root] = a[child]
        a[child] = v
        root = child


_RADIX_BINS = 2048
"""Buckets of one radix-select pass: 11, 11 and then 10 bits of a 32-bit key."""
RADIX_MIN = 512
"""Rows from this length take the radix select; shorter ones the quickselect (clearing the
buckets costs more than it saves there: measured 5.3 against 11.7 ns a value at 128, even at
512, 2.1 against 4.3 at 4096)."""


@njit
def _kth_key(keys: np.ndarray, count: int, k: int, buckets: np.ndarray) -> np.uint32:
    """The k-th smallest (0-based) of ``keys[:count]`` (uint32; reordered and overwritten):
    radix select, most significant digit first. Each pass counts the candidates per digit
    (no comparisons to mispredict), keeps the bucket holding rank k, and compacts it with a
    branch-free copy; after three passes every bit is decided."""
    for shift, width in ((21, 11), (10, 11), (0, 10)):
        mask = np.uint32((1 << width) - 1)
        for b in range(1 << width):
            buckets[b] = 0
        for i in range(count):
            buckets[(keys[i] >> np.uint32(shift)) & mask] += 1
        digit = 0
        while k >= buckets[digit]:
            k -= buckets[digit]
            digit += 1
        if buckets[digit] == count:
            continue
        kept = 0
        for i in range(count):
            key = keys[i]
            keys[kept] = key
            kept += ((key >> np.uint32(shift)) & mask) == digit
        count = kept
    return keys[0]


@njit
def _median(a: np.ndarray, keys: np.ndarray, buckets: np.ndarray) -> np.float32:
    """Median of a float32 vector, as np.median computes it: the middle value, or the float32
    mean of the two middle values. ``a`` is left as it is; ``keys`` (uint32, len(a)) and
    ``buckets`` (int64, :data:`_RADIX_BINS`) are scratch. :func:`_median_from` with
    :data:`RADIX_MIN`."""
    return _median_from(a, keys, buckets, RADIX_MIN)


@njit
def _median_from(a: np.ndarray, keys: np.ndarray, buckets: np.ndarray,
                 radix_min: int) -> np.float32:
    """:func:`_median`, by radix select from ``radix_min`` values: the values become keys
    whose unsigned order is the float order (sign bit flipped for positives, all bits for
    negatives; -0 sorts just below +0, equal as floats) and :func:`_kth_key` finds the middle
    one; shorter rows are copied into ``keys`` and quickselected. For an even count the lower
    middle value is the middle one again if fewer than n/2 values lie below it, else the
    largest value below it."""
    n = a.shape[0]
    if n == 0:
        return np.float32(np.nan)  # np.median of nothing
    h = n // 2
    if n < radix_min:  # a copy of the row, quickselected
        scratch = keys.view(np.float32)
        for i in range(n):
            scratch[i] = a[i]
        upper = _select(scratch[:n], h)
    else:
        bits = a.view(np.uint32)
        for i in range(n):
            u = bits[i]
            keys[i] = u ^ ((np.uint32(0) - (u >> np.uint32(31))) | np.uint32(0x80000000))
        key = _kth_key(keys, n, h, buckets)
        keys[0] = key ^ np.uint32(0x80000000) if key >> np.uint32(31) else ~key
        upper = keys[:1].view(np.float32)[0]
    if n % 2 == 1:
        return upper
    below = 0
    lower = np.float32(-np.inf)
    for i in range(n):
        v = a[i]
        smaller = v < upper
        below += smaller
        lower = max(lower, v if smaller else np.float32(-np.inf))
    if below < h:
        lower = upper
    return (lower + upper) / np.float32(2.0)


@njit
def _spikequant_rows(
    x: np.ndarray, q_a: int, q_s: int, mad_k: np.float32
) -> tuple[np.ndarray, np.ndarray, np.ndarray]:
    m, k = x.shape
    out = np.empty((m, k), dtype=np.int16)
    scale = np.empty(m, dtype=np.float32)
    sal = np.empty((m, k), dtype=np.bool_)
    keys = np.empty(k, dtype=np.uint32)
    buckets = np.empty(_RADIX_BINS, dtype=np.int64)
    dev = np.empty(k, dtype=np.float32)
    qa, qs = np.float32(q_a), np.float32(q_s)
    for t in range(m):
        med = _median(x[t], keys, buckets)
        for i in range(k):
            dev[i] = abs(x[t, i] - med)
        mad = _median(dev, keys, buckets)
        thr = mad_k * mad
        normal_max = np.float32(0.0)
        all_max = np.float32(0.0)
        for i in range(k):
            s_i = dev[i] > thr and mad > 0
            sal[t, i] = s_i
            a = abs(x[t, i])
            if a > all_max:
                all_max = a
            if not s_i and a > normal_max:
                normal_max = a
        s = normal_max / qa
        if not s > 0:
            s = all_max / qs
        if not s > 0:
            s = np.float32(1.0)
        scale[t] = s
        for i in range(k):
            r = np.rint(x[t, i] / s)
            lim = qs if sal[t, i] else qa
            r = min(max(r, -lim), lim)
            out[t, i] = np.int16(r)
    return out, scale, sal


def spikequant_rows(
    x: NDArray[np.float32], act_bits: int, salient_bits: int, mad_k: float
) -> tuple[NDArray[np.int16], NDArray[np.float32], NDArray[np.bool_]]:
    """Fast twin of ``spikequant_activations`` (x_q as int16); rows are independent, so they
    are spread over :func:`~spikesim.hw._jit.worker_threads` threads."""
    xs = kernel_input(x, np.float32)
    q_a, q_s, k = (1 << (act_bits - 1)) - 1, (1 << (salient_bits - 1)) - 1, np.float32(mad_k)
    parts = map_threads(
        lambda rows: _spikequant_rows(xs[rows], q_a, q_s, k), _row_slices(xs.shape[0])
    )
    if len(parts) == 1:
        return parts[0]
    return (
        np.concatenate([p[0] for p in parts]),
        np.concatenate([p[1] for p in parts]),
        np.concatenate([p[2] for p in parts]),
    )


def _row_slices(rows: int) -> list[slice]:
    n = max(1, min(worker_threads(), rows))
    bounds = np.linspace(0, rows, n + 1).astype(int)
    return [slice(int(a), int(b)) for a, b in itertools.pairwise(bounds)]
