"""NumPy twin of the token-serial block kernel: the definition of one step's timing, for clarity.

Each token goes through the array alone: its normal pass, then its salient pass (if it has
salient values), then the fire phase (a K-split step: re-read of the partial membranes first,
unless it is the first chunk; write-back instead of the fire phase, unless it is the last).
The spike coding and the issue rule are the shared units of :mod:`spikesim.hw.coding` and
:mod:`spikesim.hw.issue`. Nothing here is fast; tests show the numba kernel (:mod:`.kernel`)
agrees bit-exactly.
"""

from __future__ import annotations

import numpy as np
from numpy.typing import NDArray

from spikesim.hw import stats as S
from spikesim.hw.coding import pass_events, pass_overhead_cycles
from spikesim.hw.issue import issue_cycles, issue_groups
from spikesim.hw.params import ArrayParams


def block_timing(
    x_q: NDArray[np.integer],
    salient: NDArray[np.bool_],
    ap: ArrayParams,
    *,
    reread_cycles: int = 0,
    writeback_cycles: int = 0,
    fire: bool = True,
    fold_cycles: int = 0,
) -> NDArray[np.int64]:
    """Statistics (layout in :mod:`spikesim.hw.stats`) of one schedule step over a token block.

    ``x_q``/``salient`` hold the step's inputs (all K, or one K chunk's range). Passes, per token
    in order: the normal pass (all its positions scanned, salient positions hold 0), then the
    salient pass if the token has salient values there. Recurrences, with exclusive ends::

        scan_end[p]   = max(scan_end[p-1], emit_end[p - fifo_depth]) + ceil(n_values / scan_rate)
                        (scan_rate of the pass kind, see PassParams)
        emit_start[p] = max(array_free, scan_end[p])         (the gap is an encoder stall)
        emit_end[p]   = emit_start[p] + reread + issue_actual + overhead + groups · fold_cycles
                        (reread = reread_cycles if p is the token's first pass, else 0;
                        groups = the pass's issue groups with events, ISSUE_GROUPS)
        array_free    = emit_end[p] + (fire_cycles if fire else writeback_cycles)
                                                             if p is the token's last pass

    A K-split step (not the first chunk) re-reads each token's partial membranes before its
    first pass, and (not the last chunk) writes them back instead of firing; both are compute
    cycles of the array (``MEMBRANE_CYCLES``). Unsplit: 0, 0, fire.

    ``fold_cycles``: compute cycles after each issue group that issued events (0 for
    spike × integer; the spike × spike attention form folds its coincidence counters into the
    group's register there, :mod:`spikesim.dataflows.spike_spike`).
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
            # latched: only the first event of each value fetches its row (input-major order)
            fetches = np.ones(len(idx), bool)
            if pp.latch:
                fetches[1:] = idx[1:] != idx[:-1]
            actual, ideal = issue_cycles(
                idx % ap.weight_banks, step, ap.lanes, ap.weight_ports,
                pp.coding == 0 or pp.latch, fetches,
            )
            over, extra_acc, shifts = pass_overhead_cycles(pp)
            groups = issue_groups(step, pp.coding == 0 or pp.latch)
            over += groups * fold_cycles
            start = max(array_free, scan_end)
            out[S.STALL_ENCODER] += start - array_free
            reread = reread_cycles if pi == 0 else 0
            end = start + reread + actual + over
            emit_ends.append(end)
            out[S.ISSUE_GROUPS] += groups
            out[S.COMPUTE] += ideal + over
            out[S.STALL_BANK] += actual - ideal
            out[S.COMPUTE] += reread
            out[S.MEMBRANE_CYCLES] += reread
            out[S.ISSUE_CYCLES] += actual
            out[S.EXTRA_ACC] += extra_acc
            out[S.SHIFTS] += shifts
            out[S.EVENTS_SALIENT if is_sal else S.EVENTS_NORMAL] += len(idx)
            out[S.SCANNED_SALIENT if is_sal else S.SCANNED_NORMAL] += n_values
            out[S.SALIENT_PASSES] += int(is_sal)
            out[S.FETCHES] += int(fetches.sum())
            out[S.LATCHED_EVENTS] += len(idx) if pp.latch else 0
            out[S.SHIFTED_EVENTS] += len(idx) if pp.latch and pp.coding == 1 else 0
            array_free = end
            if pi == len(passes) - 1 and fire:
                array_free += ap.fire_cycles
                out[S.COMPUTE] += ap.fire_cycles
                out[S.FIRE_CYCLES] += ap.fire_cycles
            elif pi == len(passes) - 1:
                array_free += writeback_cycles
                out[S.COMPUTE] += writeback_cycles
                out[S.MEMBRANE_CYCLES] += writeback_cycles
    out[S.TOTAL] = array_free
    return out
