"""numba kernels for quantization, row by row in one pass; twins: :mod:`spikesim.quant.rtn` and
:mod:`spikesim.quant.spikequant` (the NumPy definitions). Tests check bit-exact agreement.

Arithmetic follows NumPy's float32 rules exactly (scales, divisions and comparisons in float32,
round half to even), so the integers are identical to the twins'.
"""

from __future__ import annotations

import itertools

import numpy as np
from numpy.typing import NDArray

from spikesim._jit import map_threads, njit, worker_threads
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
    ws = np.ascontiguousarray(w, dtype=np.float32)
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
    xs = np.ascontiguousarray(x, dtype=np.float32)
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
            a[lo:hi] = np.sort(a[lo:hi])
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
def _median_inplace(a: np.ndarray) -> np.float32:
    """Median of a float32 scratch vector (reordered), as np.median computes it: the middle
    value, or the float32 mean of the two middle values."""
    n = a.shape[0]
    h = n // 2
    upper = _select(a, h)
    if n % 2 == 1:
        return upper
    lower = a[0]
    for i in range(1, h):
        if a[i] > lower:
            lower = a[i]
    return (lower + upper) / np.float32(2.0)


@njit
def _spikequant_rows(
    x: np.ndarray, q_a: int, q_s: int, mad_k: np.float32
) -> tuple[np.ndarray, np.ndarray, np.ndarray]:
    m, k = x.shape
    out = np.empty((m, k), dtype=np.int16)
    scale = np.empty(m, dtype=np.float32)
    sal = np.empty((m, k), dtype=np.bool_)
    scratch = np.empty(k, dtype=np.float32)
    dev = np.empty(k, dtype=np.float32)
    qa, qs = np.float32(q_a), np.float32(q_s)
    for t in range(m):
        for i in range(k):
            scratch[i] = x[t, i]
        med = _median_inplace(scratch)
        for i in range(k):
            dev[i] = abs(x[t, i] - med)
            scratch[i] = dev[i]
        mad = _median_inplace(scratch)
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
    xs = np.ascontiguousarray(x, dtype=np.float32)
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
