"""Spike coding of stored integers: which events (input index, time step, sign) a pass emits.

A pass is one token's normal values, or its salient values, as signed integers q_i:

- count (0): value i emits |q_i| events of sign sgn(q_i) at time steps 1..|q_i|; events are
  ordered by (step, i) and form ONE stream (a cycle may mix steps).
- bitserial (1): for each magnitude bit plane p = planes-1 .. 0 (MSB first), value i emits an event
  at step planes-p if bit p of |q_i| is set; a cycle never mixes planes.
- ttfs (2): value i emits one event at step T+1-|q_i| (larger values fire earlier); a cycle never
  mixes steps.

With a row latch (``PassParams.latch``, count and bitserial only) the same events are issued
input-major: ordered by (i, step), all of value i's events together, ONE stream (a cycle may mix
values and steps). The first event of a value fetches its weight row into a latch; the others
read the latch. A latched bit-serial event adds its weight shifted by its plane straight into
the membrane, so the pass has no shift or merge cycles.

Besides issuing its events, a pass costs the array (:func:`pass_overhead_cycles`): ttfs one slope
cycle per window step (V += I), bitserial planes-1 shift cycles (P = 2P) and one merge (V += P)
unless latched.

:func:`pass_events` is the definition (NumPy, for clarity); :func:`pass_events_kernel` is its
numba twin used inside the dataflows' block kernels. Tests show they agree bit-exactly.
"""

from __future__ import annotations

import numpy as np
from numpy.typing import NDArray

from spikesim._jit import njit
from spikesim.hw.params import PassParams


def pass_events(
    q: NDArray[np.integer], p: PassParams
) -> tuple[NDArray[np.int64], NDArray[np.int64], NDArray[np.int64]]:
    """Events ``(index, step, sign)`` of one pass over values ``q`` [K], in issue order."""
    q = np.asarray(q, dtype=np.int64)
    nz = np.flatnonzero(q)
    mag = np.abs(q[nz])
    sign = np.sign(q[nz])
    if p.coding == 0:
        idx = np.repeat(nz, mag)
        sgn = np.repeat(sign, mag)
        step = np.concatenate([np.arange(1, m + 1) for m in mag]) if len(mag) else np.zeros(0)
        step = np.asarray(step, dtype=np.int64)
    elif p.coding == 1:
        parts = [
            (nz[(mag >> b) & 1 == 1], sign[(mag >> b) & 1 == 1], p.planes - b)
            for b in range(p.planes - 1, -1, -1)
        ]
        idx = np.concatenate([a for a, _, _ in parts]) if parts else np.zeros(0, np.int64)
        sgn = np.concatenate([s for _, s, _ in parts]) if parts else np.zeros(0, np.int64)
        step = (
            np.concatenate([np.full(len(a), st) for a, _, st in parts])
            if parts
            else np.zeros(0, np.int64)
        )
    else:
        idx, sgn, step = nz, sign, p.window + 1 - mag
    order = np.lexsort((step, idx)) if p.latch else np.lexsort((idx, step))
    return (
        np.asarray(idx, np.int64)[order],
        np.asarray(step, np.int64)[order],
        np.asarray(sgn, np.int64)[order],
    )


def pass_overhead_cycles(p: PassParams) -> tuple[int, int, int]:
    """(cycles, extra per-column accumulates, per-column shifts) a pass adds besides issuing.

    ttfs: one slope cycle per window step (V += I), each a per-column accumulate.
    bitserial: planes-1 shift cycles (P = 2P) and one merge cycle (V += P); none when latched
    (each event is added shifted into V).
    count: none.
    """
    if p.coding == 2:
        return p.window, p.window, 0
    if p.coding == 1 and not p.latch:
        return p.planes, 1, p.planes - 1
    return 0, 0, 0


@njit
def pass_events_kernel(
    row: np.ndarray,
    mask: np.ndarray,
    want_salient: bool,
    coding: int,
    window: int,
    planes: int,
    qmax: int,
    latch: bool,
    ev_idx: np.ndarray,
    ev_step: np.ndarray,
    nz_idx: np.ndarray,
    nz_mag: np.ndarray,
    bucket: np.ndarray,
) -> int:
    """Write the pass's events (index, step) in issue order into ev_idx/ev_step; return count."""
    k = row.shape[0]
    nnz = 0
    for i in range(k):
        v = row[i]
        if v != 0 and (mask[i] != 0) == want_salient:
            nz_idx[nnz] = i
            nz_mag[nnz] = v if v > 0 else -v
            nnz += 1
    n = 0
    if latch and coding != 2:  # input-major: each value's events together, steps ascending
        for a in range(nnz):
            i, m = nz_idx[a], nz_mag[a]
            if coding == 0:
                for s in range(1, m + 1):
                    ev_idx[n] = i
                    ev_step[n] = s
                    n += 1
            else:
                for b in range(planes - 1, -1, -1):
                    if (m >> b) & 1:
                        ev_idx[n] = i
                        ev_step[n] = planes - b
                        n += 1
    elif coding == 0:  # count: steps 1..|q|, ordered by (step, index); compact the active list
        active = nnz
        step = 1
        while active > 0:
            for a in range(active):
                ev_idx[n] = nz_idx[a]
                ev_step[n] = step
                n += 1
            keep = 0
            for a in range(active):
                if nz_mag[a] > step:
                    nz_idx[keep] = nz_idx[a]
                    nz_mag[keep] = nz_mag[a]
                    keep += 1
            active = keep
            step += 1
    elif coding == 1:  # bitserial: planes MSB first
        for b in range(planes - 1, -1, -1):
            for a in range(nnz):
                if (nz_mag[a] >> b) & 1:
                    ev_idx[n] = nz_idx[a]
                    ev_step[n] = planes - b
                    n += 1
    else:  # ttfs: step = T + 1 - |q|; bucket by magnitude, largest first, index order inside
        for m in range(qmax + 1):
            bucket[m] = 0
        for a in range(nnz):
            bucket[nz_mag[a]] += 1
        # start offsets, descending magnitude
        pos = 0
        for m in range(qmax, 0, -1):
            c = bucket[m]
            bucket[m] = pos
            pos += c
        for a in range(nnz):
            m = nz_mag[a]
            j = bucket[m]
            ev_idx[j] = nz_idx[a]
            ev_step[j] = window + 1 - m
            bucket[m] = j + 1
        n = nnz
    return n
