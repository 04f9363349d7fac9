"""Plain NumPy/Python twins of the array kernels: the definitions, written for clarity.

These define what the numba kernels in :mod:`spikesim.hw.kernels` compute; tests show the two
agree bit-exactly. Nothing here is fast.

Spike coding of one pass (a token's normal values, or its salient values) of signed integers q_i:

- count (0): value i emits |q_i| events of sign sgn(q_i) at time steps 1..|q_i|; events are
  ordered by (step, i) and form ONE stream (a cycle may mix steps).
- bitserial (1): for each magnitude bit plane p = planes-1 .. 0 (MSB first), value i emits an event
  at step planes-p if bit p of |q_i| is set; a cycle never mixes planes.
- ttfs (2): value i emits one event at step T+1-|q_i| (larger values fire earlier); a cycle never
  mixes steps.

Issue rule (every coding): each cycle the array takes the next events in order, up to ``lanes``,
stopping early (in-order, head-of-line blocking) at an event whose weight bank (i mod banks) has
already served ``ports`` reads this cycle, or, except for count coding, at a step boundary. A
count-coded pass without events still takes one cycle.
"""

from __future__ import annotations

import numpy as np
from numpy.typing import NDArray

from spikesim.hw import stats as S
from spikesim.hw.params import ArrayParams, PassParams


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
    order = np.lexsort((idx, step))
    return (
        np.asarray(idx, np.int64)[order],
        np.asarray(step, np.int64)[order],
        np.asarray(sgn, np.int64)[order],
    )


def issue_cycles(
    banks: NDArray[np.integer],
    steps: NDArray[np.integer],
    lanes: int,
    ports: int,
    one_stream: bool,
) -> tuple[int, int]:
    """(actual, ideal) issue cycles of an ordered event stream; ideal ignores bank ports."""
    n = len(banks)
    if one_stream and n == 0:
        return 1, 1  # an empty count-coded pass still takes one cycle (the buffer is read)
    actual, e = 0, 0
    while e < n:
        actual += 1
        used: dict[int, int] = {}
        issued = 0
        first_step = steps[e]
        while e < n and issued < lanes:
            if not one_stream and steps[e] != first_step:
                break
            if used.get(int(banks[e]), 0) >= ports:
                break
            used[int(banks[e])] = used.get(int(banks[e]), 0) + 1
            issued += 1
            e += 1
    if one_stream:
        ideal = -(-n // lanes)
    else:
        _, per_step = np.unique(steps, return_counts=True)
        ideal = int(sum(-(-int(c) // lanes) for c in per_step))
    return actual, ideal


def pass_overhead_cycles(p: PassParams) -> tuple[int, int, int]:
    """(cycles, extra per-column accumulates, per-column shifts) a pass adds besides issuing.

    ttfs: one slope cycle per window step (V += I), each a per-column accumulate.
    bitserial: planes-1 shift cycles (P = 2P) and one merge cycle (V += P).
    count: none.
    """
    if p.coding == 2:
        return p.window, p.window, 0
    if p.coding == 1:
        return p.planes, 1, p.planes - 1
    return 0, 0, 0


def block_timing(
    x_q: NDArray[np.integer], salient: NDArray[np.bool_], ap: ArrayParams
) -> NDArray[np.int64]:
    """Statistics (layout in :mod:`spikesim.hw.stats`) of one schedule step over a token block.

    Passes, per token in order: the normal pass (all K positions scanned, salient positions hold
    0), then the salient pass if the token has salient values. Recurrences, with exclusive ends::

        scan_end[p]   = max(scan_end[p-1], emit_end[p - fifo_depth]) + ceil(n_values / scan_rate)
                        (scan_rate of the pass kind, see PassParams)
        emit_start[p] = max(array_free, scan_end[p])         (the gap is an encoder stall)
        emit_end[p]   = emit_start[p] + issue_actual + overhead
        array_free    = emit_end[p] + fire_cycles  if p is the token's last pass
    """
    out = np.zeros(S.SIZE, dtype=np.int64)
    scan_end_prev = 0
    emit_ends: list[int] = []
    array_free = 0
    tokens, k = x_q.shape
    for t in range(tokens):
        row = np.asarray(x_q[t], dtype=np.int64)
        mask = np.asarray(salient[t], dtype=bool)
        passes = [(np.where(mask, 0, row), ap.normal, k, False)]
        n_sal = int(mask.sum())
        if n_sal:
            passes.append((np.where(mask, row, 0), ap.salient, n_sal, True))
        for pi, (values, pp, n_values, is_sal) in enumerate(passes):
            p_index = len(emit_ends)
            buffer_free = emit_ends[p_index - ap.fifo_depth] if p_index >= ap.fifo_depth else 0
            scan_end = max(scan_end_prev, buffer_free) + -(-n_values // pp.scan_rate)
            scan_end_prev = scan_end
            idx, step, _ = pass_events(values, pp)
            actual, ideal = issue_cycles(
                idx % ap.weight_banks, step, ap.lanes, ap.weight_ports, pp.coding == 0
            )
            over, extra_acc, shifts = pass_overhead_cycles(pp)
            start = max(array_free, scan_end)
            out[S.STALL_ENCODER] += start - array_free
            end = start + actual + over
            emit_ends.append(end)
            out[S.COMPUTE] += ideal + over
            out[S.STALL_BANK] += actual - ideal
            out[S.ISSUE_CYCLES] += actual
            out[S.EXTRA_ACC] += extra_acc
            out[S.SHIFTS] += shifts
            out[S.EVENTS_SALIENT if is_sal else S.EVENTS_NORMAL] += len(idx)
            out[S.SCANNED_SALIENT if is_sal else S.SCANNED_NORMAL] += n_values
            out[S.SALIENT_PASSES] += int(is_sal)
            array_free = end
            if pi == len(passes) - 1:
                array_free += ap.fire_cycles
                out[S.COMPUTE] += ap.fire_cycles
                out[S.FIRE_CYCLES] += ap.fire_cycles
    out[S.TOTAL] = array_free
    return out
