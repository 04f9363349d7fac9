"""numba block kernel of the token-batched IF array.

It computes exactly what its twin :func:`spikesim.dataflows.if_token_batched.twin.block_timing`
defines (recurrences, batch stream order and issue rule are documented there); property tests
check bit-exact agreement. Events are generated in issue order straight into the issue state
machine (:func:`_offer`), never stored: a batch of 256 tokens × 11,008 inputs would need
hundreds of MB of event arrays. Scratch (the batch's non-zero values) is allocated once per
call.
"""

from __future__ import annotations

import numpy as np
from numpy.typing import NDArray

from spikesim._jit import kernel_input, njit
from spikesim.hw import stats as S
from spikesim.hw.params import ArrayParams
from spikesim.quant.rtn import qmax

# issue state vector (int64)
_ACTUAL, _ISSUED, _CYC_STEP, _PREV_I, _PREV_T, _MEM_USED, _FETCHES, _RECORDS = range(8)
_RUN_STEP, _RUN_COUNT, _IDEAL, _EVENTS, _RUNS = range(8, 13)
_STATE = 13


@njit
def _reset(st: np.ndarray) -> None:
    for j in range(_STATE):
        st[j] = 0
    st[_PREV_I] = -1
    st[_PREV_T] = -1
    st[_RUN_STEP] = -1


@njit
def _offer(
    st: np.ndarray,
    port_stamp: np.ndarray,
    port_used: np.ndarray,
    i: int,
    t: int,
    s: int,
    lanes: int,
    banks: int,
    ports: int,
    one_stream: bool,
    latch: bool,
    rec_words: int,
    mem_ports: int,
) -> None:
    """Issue the next event (input i, token t, step s) of the ordered stream."""
    new_row = i != st[_PREV_I]
    same_rec = not new_row and t == st[_PREV_T]
    b = i % banks
    while True:
        if st[_ISSUED] == 0:  # a new cycle begins with this event
            st[_ACTUAL] += 1
            st[_MEM_USED] = 0
            st[_CYC_STEP] = s
        first = st[_ISSUED] == 0
        ok = st[_ISSUED] < lanes and (one_stream or s == st[_CYC_STEP])
        fetch = new_row or (not latch and first)
        if ok and fetch:
            if port_stamp[b] != st[_ACTUAL]:
                port_stamp[b] = st[_ACTUAL]
                port_used[b] = 0
            ok = port_used[b] < ports
        access = rec_words > 0 and (first or not same_rec)
        if ok and access:
            ok = st[_MEM_USED] + rec_words <= mem_ports
        if ok:
            if fetch:
                port_used[b] += 1
                st[_FETCHES] += 1
            if access:
                st[_MEM_USED] += rec_words
                st[_RECORDS] += 1
            st[_ISSUED] += 1
            break
        st[_ISSUED] = 0  # wait for the next cycle
    st[_PREV_I] = i
    st[_PREV_T] = t
    st[_EVENTS] += 1
    if s != st[_RUN_STEP]:  # ideal cycles: per step run (step-major streams are step-sorted)
        st[_IDEAL] += (st[_RUN_COUNT] + lanes - 1) // lanes
        st[_RUN_STEP] = s
        st[_RUN_COUNT] = 0
        st[_RUNS] += 1
    st[_RUN_COUNT] += 1


@njit
def _batch_pass(
    x_q: np.ndarray,
    salient: np.ndarray,
    b0: int,
    bt: int,
    want_salient: bool,
    coding: int,
    window: int,
    planes: int,
    qmax_: int,
    latch: bool,
    lanes: int,
    banks: int,
    ports: int,
    rec_words: int,
    mem_ports: int,
    st: np.ndarray,
    port_stamp: np.ndarray,
    port_used: np.ndarray,
    nz_i: np.ndarray,
    nz_t: np.ndarray,
    nz_m: np.ndarray,
    perm: np.ndarray,
    bucket: np.ndarray,
) -> tuple[int, int]:
    """Issue one batch pass; returns (actual, ideal) issue cycles (counts are in ``st``)."""
    k = x_q.shape[1]
    _reset(st)
    for j in range(banks):
        port_stamp[j] = -1
    one_stream = coding == 0 or latch
    # the batch's non-zero values of this kind, ordered by (input, token)
    nnz = 0
    for i in range(k):
        for t in range(bt):
            v = x_q[b0 + t, i]
            if v != 0 and (salient[b0 + t, i] != 0) == want_salient:
                nz_i[nnz] = i
                nz_t[nnz] = t
                nz_m[nnz] = v if v > 0 else -v
                nnz += 1
    if latch:  # input-major: each value's events together, steps ascending
        for a in range(nnz):
            m = nz_m[a]
            if coding == 0:
                for s in range(1, m + 1):
                    _offer(st, port_stamp, port_used, nz_i[a], nz_t[a], s, lanes, banks,
                           ports, one_stream, latch, rec_words, mem_ports)
            else:
                for bb in range(planes - 1, -1, -1):
                    if (m >> bb) & 1:
                        _offer(st, port_stamp, port_used, nz_i[a], nz_t[a], planes - bb, lanes,
                               banks, ports, one_stream, latch, rec_words, mem_ports)
    elif coding == 0:  # count, step-major: compact the active list after every step
        for a in range(nnz):
            perm[a] = a
        active = nnz
        s = 1
        while active > 0:
            for a in range(active):
                p = perm[a]
                _offer(st, port_stamp, port_used, nz_i[p], nz_t[p], s, lanes, banks, ports,
                       one_stream, latch, rec_words, mem_ports)
            keep = 0
            for a in range(active):
                if nz_m[perm[a]] > s:
                    perm[keep] = perm[a]
                    keep += 1
            active = keep
            s += 1
    elif coding == 1:  # bit-serial, planes MSB first
        for bb in range(planes - 1, -1, -1):
            for a in range(nnz):
                if (nz_m[a] >> bb) & 1:
                    _offer(st, port_stamp, port_used, nz_i[a], nz_t[a], planes - bb, lanes,
                           banks, ports, one_stream, latch, rec_words, mem_ports)
    else:  # ttfs: step T + 1 - |q|, largest magnitude first; stable counting sort
        for m in range(qmax_ + 1):
            bucket[m] = 0
        for a in range(nnz):
            bucket[nz_m[a]] += 1
        pos = 0
        for m in range(qmax_, 0, -1):
            c = bucket[m]
            bucket[m] = pos
            pos += c
        for a in range(nnz):
            m = nz_m[a]
            perm[bucket[m]] = a
            bucket[m] += 1
        for j in range(nnz):
            p = perm[j]
            _offer(st, port_stamp, port_used, nz_i[p], nz_t[p], window + 1 - nz_m[p], lanes,
                   banks, ports, one_stream, latch, rec_words, mem_ports)
    st[_IDEAL] += (st[_RUN_COUNT] + lanes - 1) // lanes
    if one_stream:
        if st[_EVENTS] == 0:
            return 1, 1
        return st[_ACTUAL], (st[_EVENTS] + lanes - 1) // lanes
    return st[_ACTUAL], st[_IDEAL]


@njit
def _block_timing(
    out: np.ndarray,
    x_q: np.ndarray,
    salient: np.ndarray,
    batch: int,
    lanes: int,
    banks: int,
    ports: int,
    scan_rates: np.ndarray,
    fifo_depth: int,
    fire_cycles: int,
    codings: np.ndarray,
    windows: np.ndarray,
    planes: np.ndarray,
    qmaxes: np.ndarray,
    latches: np.ndarray,
    rec_words: int,
    mem_ports: int,
    membrane_cycles: int,
    first_chunk: bool,
    last_chunk: bool,
    fold_planes: int,
) -> None:
    tokens, k = x_q.shape
    cap = max(min(batch, tokens) * k, 1)
    nz_i = np.empty(cap, dtype=np.int64)
    nz_t = np.empty(cap, dtype=np.int64)
    nz_m = np.empty(cap, dtype=np.int64)
    perm = np.empty(cap, dtype=np.int64)
    bucket = np.zeros(int(qmaxes.max()) + 2, dtype=np.int64)
    port_stamp = np.full(banks, -1, dtype=np.int64)
    port_used = np.zeros(banks, dtype=np.int64)
    st = np.zeros(_STATE, dtype=np.int64)
    ring = np.zeros(fifo_depth, dtype=np.int64)  # emit_end of the last fifo_depth passes
    n_pass = 0
    scan_end_prev = 0
    array_free = 0
    for b0 in range(0, tokens, batch):
        bt = min(batch, tokens - b0)
        n_sal = 0
        for t in range(b0, b0 + bt):
            for i in range(k):
                if salient[t, i] != 0:
                    n_sal += 1
        g = (bt + lanes - 1) // lanes
        if rec_words > 0:
            g = max(g, (bt * rec_words + mem_ports - 1) // mem_ports)
        n_passes = 2 if n_sal > 0 else 1
        for pi in range(n_passes):
            is_sal = pi == 1
            c = codings[pi]
            latch = latches[pi] != 0
            n_values = n_sal if is_sal else bt * k
            buffer_free = ring[n_pass % fifo_depth] if n_pass >= fifo_depth else 0
            rate = scan_rates[pi]
            scan_end = max(scan_end_prev, buffer_free) + (n_values + rate - 1) // rate
            scan_end_prev = scan_end
            actual, ideal = _batch_pass(
                x_q, salient, b0, bt, is_sal, c, windows[pi], planes[pi], qmaxes[pi], latch,
                lanes, banks, ports, rec_words, mem_ports, st, port_stamp, port_used,
                nz_i, nz_t, nz_m, perm, bucket,
            )
            n = st[_EVENTS]
            if c == 2:
                ops, extra, shifts = windows[pi], windows[pi] * bt, 0
            elif c == 1 and not latch:
                ops, extra, shifts = planes[pi], bt, (planes[pi] - 1) * bt
            else:
                ops, extra, shifts = 0, 0, 0
            one_stream = c == 0 or latch
            if n == 0:
                groups = 0
            elif one_stream:
                groups = 1
            else:  # step-major: one run per time step with events
                groups = st[_RUNS]
            over = ops * g + groups * ((bt * fold_planes + lanes - 1) // lanes)
            start = max(array_free, scan_end)
            out[S.STALL_ENCODER] += start - array_free
            reread = bt * membrane_cycles if pi == 0 and not first_chunk else 0
            end = start + reread + actual + over
            ring[n_pass % fifo_depth] = end
            n_pass += 1
            out[S.COMPUTE] += ideal + over + reread
            out[S.MEMBRANE_CYCLES] += reread
            out[S.STALL_BANK] += actual - ideal
            out[S.ISSUE_CYCLES] += actual
            out[S.EXTRA_ACC] += extra
            out[S.SHIFTS] += shifts
            if is_sal:
                out[S.EVENTS_SALIENT] += n
                out[S.SCANNED_SALIENT] += n_values
                out[S.SALIENT_PASSES] += 1
            else:
                out[S.EVENTS_NORMAL] += n
                out[S.SCANNED_NORMAL] += n_values
            out[S.FETCHES] += st[_FETCHES]
            if latch:
                out[S.LATCHED_EVENTS] += n
                out[S.LATCH_FILLS] += st[_FETCHES]
                if c == 1:
                    out[S.SHIFTED_EVENTS] += n
            out[S.RECORD_WORDS] += (st[_RECORDS] + ops * bt) * rec_words
            out[S.ISSUE_GROUPS] += groups
            out[S.FOLDED_TOKENS] += groups * bt
            array_free = end
        if last_chunk:
            fire = fire_cycles * ((bt + lanes - 1) // lanes)
            reads = (bt * rec_words + mem_ports - 1) // mem_ports if rec_words > 0 else 0
            array_free += fire + reads
            out[S.COMPUTE] += fire + reads
            out[S.FIRE_CYCLES] += fire
            out[S.MEMBRANE_CYCLES] += reads
            out[S.COMPARES] += fire_cycles * bt
            out[S.RECORD_FIRE_WORDS] += bt * rec_words
        else:
            wb = bt * membrane_cycles
            array_free += wb
            out[S.COMPUTE] += wb
            out[S.MEMBRANE_CYCLES] += wb
    out[S.TOTAL] = array_free


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
    """Fast twin of :func:`spikesim.dataflows.if_token_batched.twin.block_timing` (same
    arguments, same statistics, bit-exact)."""
    x = kernel_input(x_q, np.int16)
    m = kernel_input(salient).view(np.uint8) if salient.dtype == np.bool_ else (
        kernel_input(salient, np.uint8)
    )
    passes = (ap.normal, ap.salient)
    out = np.zeros(S.SIZE, dtype=np.int64)  # sized here: numba's cache would freeze S.SIZE
    _block_timing(
        out,
        x, m, batch, ap.lanes, ap.weight_banks, ap.weight_ports,
        np.array([p.scan_rate for p in passes], dtype=np.int64),
        ap.fifo_depth, ap.fire_cycles,
        np.array([p.coding for p in passes], dtype=np.int64),
        np.array([p.window for p in passes], dtype=np.int64),
        np.array([p.planes for p in passes], dtype=np.int64),
        np.array([qmax(p.bits) for p in passes], dtype=np.int64),
        np.array([p.latch for p in passes], dtype=np.int64),
        rec_words, mem_ports, membrane_cycles, first_chunk, last_chunk, fold_planes,
    )
    return out
