"""NumPy twin of the token-batched block kernel: the definition of one step's timing, for clarity.

The step's tokens go through the array in batches of ``batch`` tokens. Per batch: the normal
batch pass (every token's normal values), then the salient batch pass if a token of the batch
has salient values, then the fire phase of the batch (a K-split step: re-read of the batch's
partial membranes first, unless it is the first chunk; write-back instead of the fire phase,
unless it is the last). The per-token spike coding is the shared unit
:func:`spikesim.hw.coding.pass_events`; the batch stream, its issue rule and the overhead ops
are defined here (:func:`batch_stream`, :func:`batch_issue_cycles`). Nothing here is fast;
tests show the numba kernel (:mod:`.kernel`) agrees bit-exactly.
"""

from __future__ import annotations

import numpy as np
from numpy.typing import NDArray

from spikesim.hw import stats as S
from spikesim.hw.coding import pass_events
from spikesim.hw.issue import issue_groups
from spikesim.hw.params import ArrayParams, PassParams

IntArray = NDArray[np.int64]


def batch_stream(
    values: NDArray[np.integer], pp: PassParams
) -> tuple[IntArray, IntArray, IntArray]:
    """Events ``(index, token, step)`` of one batch pass over ``values`` [tokens, K], in issue
    order: latched passes input-major (index, token, step), one stream; others step-major
    (step, index, token)."""
    parts = [pass_events(values[t], pp) for t in range(values.shape[0])]
    idx = np.concatenate([p[0] for p in parts]) if parts else np.zeros(0, np.int64)
    step = np.concatenate([p[1] for p in parts]) if parts else np.zeros(0, np.int64)
    tok = (
        np.concatenate([np.full(len(p[0]), t, np.int64) for t, p in enumerate(parts)])
        if parts
        else np.zeros(0, np.int64)
    )
    order = np.lexsort((step, tok, idx)) if pp.latch else np.lexsort((tok, idx, step))
    return idx[order], tok[order], step[order]


def batch_issue_cycles(
    idx: IntArray,
    tok: IntArray,
    step: IntArray,
    lanes: int,
    banks: int,
    ports: int,
    one_stream: bool,
    latch: bool,
    rec_words: int = 0,
    mem_ports: int = 0,
) -> tuple[int, int, int, int]:
    """(actual, ideal, fetches, record accesses) of an ordered batch stream.

    Each cycle takes the next events in order, up to ``lanes``, stopping at a step boundary
    unless ``one_stream``. An event fetches its weight row if its index differs from the
    previous event's, or (not ``latch``) it is the cycle's first event; a fetch needs one of
    the ``ports`` of bank index mod ``banks``. With ``rec_words`` (SRAM membrane store) an event
    whose (index, token) differs from the previous event's, or that is the cycle's first, reads
    and writes its token's record: ``rec_words`` of the ``mem_ports`` word accesses per cycle.
    An event that cannot get what it needs waits for the next cycle (in order). An empty
    one-stream pass takes one cycle.
    """
    n = len(idx)
    if one_stream and n == 0:
        return 1, 1, 0, 0
    actual = e = fetches = records = 0
    while e < n:
        actual += 1
        used: dict[int, int] = {}
        mem_used = 0
        first = e
        while e < n and e - first < lanes:
            if not one_stream and step[e] != step[first]:
                break
            new_row = e == 0 or idx[e] != idx[e - 1]
            fetch = new_row or (not latch and e == first)
            bank = int(idx[e]) % banks
            if fetch and used.get(bank, 0) >= ports:
                break
            access = bool(rec_words) and (e == first or new_row or tok[e] != tok[e - 1])
            if access and mem_used + rec_words > mem_ports:
                break
            if fetch:
                used[bank] = used.get(bank, 0) + 1
                fetches += 1
            if access:
                mem_used += rec_words
                records += 1
            e += 1
    if one_stream:
        ideal = -(-n // lanes)
    else:
        _, per_step = np.unique(step, return_counts=True)
        ideal = int(sum(-(-int(c) // lanes) for c in per_step))
    return actual, ideal, fetches, records


def op_cycles(tokens: int, lanes: int, rec_words: int, mem_ports: int) -> int:
    """Cycles of one slope/shift/merge op over a batch of ``tokens``: ``lanes`` tokens' rows
    of adders per cycle; with an SRAM store also ``mem_ports`` word accesses per cycle."""
    g = -(-tokens // lanes)
    if rec_words:
        g = max(g, -(-(tokens * rec_words) // mem_ports))
    return g


def fold_cycles(tokens: int, planes: int, lanes: int) -> int:
    """Cycles of one fold of the spike × spike form's coincidence counters over a batch of
    ``tokens``: every token's ``planes`` counters per column, each column's ``lanes`` adders
    adding one shifted counter each per cycle (0 planes: spike × integer, no fold)."""
    return -(-(tokens * planes) // lanes)


def block_timing(
    x_q: NDArray[np.integer],
    salient: NDArray[np.bool_],
    ap: ArrayParams,
    *,
    batch: int,
    rec_words: int = 0,
    mem_ports: int = 0,
    membrane_cycles: int = 0,
    first_chunk: bool = True,
    last_chunk: bool = True,
    fold_planes: int = 0,
) -> NDArray[np.int64]:
    """Statistics (layout in :mod:`spikesim.hw.stats`) of one schedule step over a token block.

    ``x_q``/``salient`` hold the step's inputs (all K, or one K chunk). ``rec_words`` and
    ``mem_ports``: a token's membrane record in words and the store's word accesses per cycle
    (0, 0: registers). ``membrane_cycles``: cycles to write back (or re-read) one token's
    partial membranes of a K-split step. Recurrences over the batch passes p, exclusive ends::

        scan_end[p]   = max(scan_end[p-1], emit_end[p - fifo_depth]) + ceil(n_values / scan_rate)
        emit_start[p] = max(array_free, scan_end[p])           (the gap is an encoder stall)
        emit_end[p]   = emit_start[p] + reread + issue_actual + overhead
                        + groups · fold_cycles(bt, fold_planes, lanes)
                        (reread = bt · membrane_cycles on the batch's first pass, not chunk 0;
                        groups = the pass's issue groups with events, ISSUE_GROUPS)
        array_free    = emit_end[p] + fire (last chunk) or bt · membrane_cycles (write-back)
                        after the batch's last pass

    with g = :func:`op_cycles` (bt), overhead = window · g (TTFS), planes · g (bit-serial
    unlatched: planes-1 shifts and a merge), 0 otherwise; fire = fire_cycles · ceil(bt/lanes)
    plus, with an SRAM store, ceil(bt · rec_words / mem_ports) cycles reading the records.

    ``fold_planes``: the spike × spike attention form's magnitude planes P (0: spike ×
    integer); after each issue group with events it folds the counters of every token of the
    batch (:func:`fold_cycles`; ``FOLDED_TOKENS`` counts bt per group,
    :mod:`spikesim.dataflows.spike_spike`).
    """
    out = np.zeros(S.SIZE, dtype=np.int64)
    tokens, k = x_q.shape
    x = np.asarray(x_q, np.int64)
    mask = np.asarray(salient, bool)
    scan_end_prev = 0
    emit_ends: list[int] = []
    array_free = 0
    for b0 in range(0, tokens, batch):
        bt = min(batch, tokens - b0)
        xb, mb = x[b0 : b0 + bt], mask[b0 : b0 + bt]
        passes = [(np.where(mb, 0, xb), ap.normal, bt * k, False)]
        n_sal = int(mb.sum())
        if n_sal:
            passes.append((np.where(mb, xb, 0), ap.salient, n_sal, True))
        g = op_cycles(bt, ap.lanes, rec_words, mem_ports)
        for pi, (values, pp, n_values, is_sal) in enumerate(passes):
            p_index = len(emit_ends)
            buffer_free = emit_ends[p_index - ap.fifo_depth] if p_index >= ap.fifo_depth else 0
            scan_end = max(scan_end_prev, buffer_free) + -(-n_values // pp.scan_rate)
            scan_end_prev = scan_end
            idx, tok, step = batch_stream(values, pp)
            actual, ideal, fetches, records = batch_issue_cycles(
                idx, tok, step, ap.lanes, ap.weight_banks, ap.weight_ports,
                pp.coding == 0 or pp.latch, pp.latch, rec_words, mem_ports,
            )
            if pp.coding == 2:
                ops, extra, shifts = pp.window, pp.window * bt, 0
            elif pp.coding == 1 and not pp.latch:
                ops, extra, shifts = pp.planes, bt, (pp.planes - 1) * bt
            else:
                ops, extra, shifts = 0, 0, 0
            groups = issue_groups(step, pp.coding == 0 or pp.latch)
            over = ops * g + groups * fold_cycles(bt, fold_planes, ap.lanes)
            start = max(array_free, scan_end)
            out[S.STALL_ENCODER] += start - array_free
            reread = bt * membrane_cycles if pi == 0 and not first_chunk else 0
            end = start + reread + actual + over
            emit_ends.append(end)
            out[S.COMPUTE] += ideal + over + reread
            out[S.MEMBRANE_CYCLES] += reread
            out[S.STALL_BANK] += actual - ideal
            out[S.ISSUE_CYCLES] += actual
            out[S.EXTRA_ACC] += extra
            out[S.SHIFTS] += shifts
            out[S.EVENTS_SALIENT if is_sal else S.EVENTS_NORMAL] += len(idx)
            out[S.SCANNED_SALIENT if is_sal else S.SCANNED_NORMAL] += n_values
            out[S.SALIENT_PASSES] += int(is_sal)
            out[S.FETCHES] += fetches
            out[S.LATCHED_EVENTS] += len(idx) if pp.latch else 0
            out[S.LATCH_FILLS] += fetches if pp.latch else 0
            out[S.SHIFTED_EVENTS] += len(idx) if pp.latch and pp.coding == 1 else 0
            out[S.RECORD_WORDS] += (records + ops * bt) * rec_words
            out[S.ISSUE_GROUPS] += groups
            out[S.FOLDED_TOKENS] += groups * bt
            array_free = end
        if last_chunk:
            fire = ap.fire_cycles * -(-bt // ap.lanes)
            reads = -(-(bt * rec_words) // mem_ports) if rec_words else 0
            array_free += fire + reads
            out[S.COMPUTE] += fire + reads
            out[S.FIRE_CYCLES] += fire
            out[S.MEMBRANE_CYCLES] += reads
            out[S.COMPARES] += ap.fire_cycles * bt
            out[S.RECORD_FIRE_WORDS] += bt * rec_words
        else:
            wb = bt * membrane_cycles
            array_free += wb
            out[S.COMPUTE] += wb
            out[S.MEMBRANE_CYCLES] += wb
    out[S.TOTAL] = array_free
    return out
