"""numba kernels of the spiking array: spike-event generation, in-order issue with weight-bank
conflicts, and the encoder→FIFO→array pipeline over a block of tokens.

Each kernel computes exactly what its twin in :mod:`spikesim.hw.twins` defines (the definitions
and the recurrences are documented there); property tests check bit-exact agreement. Kernels work
on flat integer arrays and allocate their scratch once per call.
"""

from __future__ import annotations

import numpy as np
from numpy.typing import NDArray

from spikesim.hw import stats as S
from spikesim.hw._jit import njit
from spikesim.hw.params import ArrayParams


@njit
def _pass_events(
    row: np.ndarray,
    mask: np.ndarray,
    want_salient: bool,
    coding: int,
    window: int,
    planes: int,
    qmax: int,
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
    if coding == 0:  # count: steps 1..|q|, ordered by (step, index); compact the active list
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


@njit
def _issue(
    ev_idx: np.ndarray,
    ev_step: np.ndarray,
    n: int,
    lanes: int,
    banks: int,
    ports: int,
    one_stream: bool,
    port_stamp: np.ndarray,
    port_used: np.ndarray,
) -> tuple[int, int]:
    """(actual, ideal) issue cycles of n ordered events (see twins.issue_cycles)."""
    if one_stream and n == 0:
        return 1, 1
    actual = 0
    e = 0
    while e < n:
        actual += 1
        issued = 0
        first = ev_step[e]
        while e < n and issued < lanes:
            if not one_stream and ev_step[e] != first:
                break
            b = ev_idx[e] % banks
            if port_stamp[b] != actual:
                port_stamp[b] = actual
                port_used[b] = 0
            if port_used[b] >= ports:
                break
            port_used[b] += 1
            issued += 1
            e += 1
    ideal = 0
    if one_stream:
        ideal = (n + lanes - 1) // lanes
    else:
        e = 0
        while e < n:
            s = ev_step[e]
            c = 0
            while e < n and ev_step[e] == s:
                c += 1
                e += 1
            ideal += (c + lanes - 1) // lanes
    return actual, ideal


@njit
def _block_timing(
    x_q: np.ndarray,
    salient: np.ndarray,
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
    max_events: int,
) -> np.ndarray:
    out = np.zeros(S.SIZE, dtype=np.int64)
    tokens, k = x_q.shape
    ev_idx = np.empty(max(max_events, 1), dtype=np.int64)
    ev_step = np.empty(max(max_events, 1), dtype=np.int64)
    nz_idx = np.empty(max(k, 1), dtype=np.int64)
    nz_mag = np.empty(max(k, 1), dtype=np.int64)
    bucket = np.zeros(int(qmaxes.max()) + 2, dtype=np.int64)
    port_stamp = np.full(banks, -1, dtype=np.int64)
    port_used = np.zeros(banks, dtype=np.int64)
    ring = np.zeros(fifo_depth, dtype=np.int64)  # emit_end of the last fifo_depth passes
    n_pass = 0
    scan_end_prev = 0
    array_free = 0
    for t in range(tokens):
        row = x_q[t]
        mask = salient[t]
        n_sal = 0
        for i in range(k):
            if mask[i] != 0:
                n_sal += 1
        n_passes = 2 if n_sal > 0 else 1
        for pi in range(n_passes):
            is_sal = pi == 1
            c = codings[pi]
            n_values = n_sal if is_sal else k
            buffer_free = ring[n_pass % fifo_depth] if n_pass >= fifo_depth else 0
            rate = scan_rates[pi]
            scan_end = max(scan_end_prev, buffer_free) + (n_values + rate - 1) // rate
            scan_end_prev = scan_end
            n = _pass_events(
                row, mask, is_sal, c, windows[pi], planes[pi], qmaxes[pi],
                ev_idx, ev_step, nz_idx, nz_mag, bucket,
            )
            # fresh port stamps per pass: cycle numbers restart at 1 inside _issue
            for b in range(banks):
                port_stamp[b] = -1
            actual, ideal = _issue(
                ev_idx, ev_step, n, lanes, banks, ports, c == 0, port_stamp, port_used
            )
            if c == 2:
                over, extra, shifts = windows[pi], windows[pi], 0
            elif c == 1:
                over, extra, shifts = planes[pi], 1, planes[pi] - 1
            else:
                over, extra, shifts = 0, 0, 0
            start = max(array_free, scan_end)
            out[S.STALL_ENCODER] += start - array_free
            end = start + actual + over
            ring[n_pass % fifo_depth] = end
            n_pass += 1
            out[S.COMPUTE] += ideal + over
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
            array_free = end
            if pi == n_passes - 1:
                array_free += fire_cycles
                out[S.COMPUTE] += fire_cycles
                out[S.FIRE_CYCLES] += fire_cycles
    out[S.TOTAL] = array_free
    return out


def block_timing(
    x_q: NDArray[np.integer], salient: NDArray[np.bool_], ap: ArrayParams
) -> NDArray[np.int64]:
    """Fast twin of :func:`spikesim.hw.twins.block_timing` (same statistics, bit-exact)."""
    from spikesim.quant.rtn import qmax

    x = np.ascontiguousarray(x_q, dtype=np.int16)
    m = np.ascontiguousarray(salient).view(np.uint8) if salient.dtype == np.bool_ else (
        np.ascontiguousarray(salient, dtype=np.uint8)
    )
    passes = (ap.normal, ap.salient)
    k = x.shape[1] if x.ndim == 2 else 0
    max_events = k * max(p.max_events_per_value for p in passes)
    return _block_timing(
        x,
        m,
        ap.lanes,
        ap.weight_banks,
        ap.weight_ports,
        np.array([p.scan_rate for p in passes], dtype=np.int64),
        ap.fifo_depth,
        ap.fire_cycles,
        np.array([p.coding for p in passes], dtype=np.int64),
        np.array([p.window for p in passes], dtype=np.int64),
        np.array([p.planes for p in passes], dtype=np.int64),
        np.array([qmax(p.bits) for p in passes], dtype=np.int64),
        max_events,
    )
