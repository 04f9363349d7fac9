"""numba block kernel of the token-serial IF array: the encoder → FIFO → array pipeline over a
block of tokens, composed from the shared units (spike coding :mod:`spikesim.hw.coding`,
lane × bank-port issue :mod:`spikesim.hw.issue`, or both at once from bank masks
:mod:`spikesim.hw.bankmask` where a pass has one port per bank and no latch).

It computes exactly what its twin :func:`spikesim.dataflows.if_token_serial.twin.block_timing`
defines (the recurrences are documented there); property tests check bit-exact agreement. The
kernel works on flat integer arrays and allocates its scratch once per call.
"""

from __future__ import annotations

import numpy as np
from numpy.typing import NDArray

from spikesim._jit import kernel_input, njit
from spikesim.hw import bankmask
from spikesim.hw import stats as S
from spikesim.hw.bankmask import pass_issue_masks
from spikesim.hw.coding import pass_events_kernel
from spikesim.hw.issue import issue_kernel
from spikesim.hw.params import ArrayParams
from spikesim.quant.rtn import qmax


@njit
def _block_timing(
    out: np.ndarray,
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
    latches: np.ndarray,
    max_events: int,
    reread_cycles: int,
    writeback_cycles: int,
    fire: bool,
    fold_cycles: int,
    by_masks: np.ndarray,
    levels: np.ndarray,
) -> None:
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
            latch = latches[pi] != 0
            n_values = n_sal if is_sal else k
            buffer_free = ring[n_pass % fifo_depth] if n_pass >= fifo_depth else 0
            rate = scan_rates[pi]
            scan_end = max(scan_end_prev, buffer_free) + (n_values + rate - 1) // rate
            scan_end_prev = scan_end
            if by_masks[pi]:  # one port, no latch: issue from bank masks (hw.bankmask)
                n, actual, ideal, groups = pass_issue_masks(
                    row, mask, is_sal, c, planes[pi], lanes, banks, levels,
                )
                fetches = n
            else:
                n = pass_events_kernel(
                    row, mask, is_sal, c, windows[pi], planes[pi], qmaxes[pi], latch,
                    ev_idx, ev_step, nz_idx, nz_mag, bucket,
                )
                # fresh port stamps per pass: cycle numbers restart at 1 inside _issue
                for b in range(banks):
                    port_stamp[b] = -1
                actual, ideal = issue_kernel(
                    ev_idx, ev_step, n, lanes, banks, ports, c == 0 or latch, latch,
                    port_stamp, port_used,
                )
                fetches = n
                if latch:  # one fetch per value: events of a value are consecutive
                    fetches = 0
                    for e in range(n):
                        if e == 0 or ev_idx[e] != ev_idx[e - 1]:
                            fetches += 1
                    out[S.LATCHED_EVENTS] += n
                    if c == 1:
                        out[S.SHIFTED_EVENTS] += n
                groups = 0  # issue groups with events: one stream, or one per step
                if n > 0 and (c == 0 or latch):
                    groups = 1
                elif n > 0:
                    for e in range(n):
                        if e == 0 or ev_step[e] != ev_step[e - 1]:
                            groups += 1
            out[S.FETCHES] += fetches
            out[S.ISSUE_GROUPS] += groups
            folds = groups * fold_cycles
            if c == 2:
                over, extra, shifts = windows[pi], windows[pi], 0
            elif c == 1 and latch:
                over, extra, shifts = 0, 0, 0
            elif c == 1:
                over, extra, shifts = planes[pi], 1, planes[pi] - 1
            else:
                over, extra, shifts = 0, 0, 0
            start = max(array_free, scan_end)
            out[S.STALL_ENCODER] += start - array_free
            end = start + actual + over + folds
            if pi == 0:
                end += reread_cycles
                out[S.COMPUTE] += reread_cycles
                out[S.MEMBRANE_CYCLES] += reread_cycles
            ring[n_pass % fifo_depth] = end
            n_pass += 1
            out[S.COMPUTE] += ideal + over + folds
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
            if pi == n_passes - 1 and fire:
                array_free += fire_cycles
                out[S.COMPUTE] += fire_cycles
                out[S.FIRE_CYCLES] += fire_cycles
            elif pi == n_passes - 1:
                array_free += writeback_cycles
                out[S.COMPUTE] += writeback_cycles
                out[S.MEMBRANE_CYCLES] += writeback_cycles
    out[S.TOTAL] = array_free


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
    """Fast twin of :func:`spikesim.dataflows.if_token_serial.twin.block_timing` (same
    statistics, bit-exact; the same K-chunk and fold arguments)."""
    x = kernel_input(x_q, np.int16)
    m = kernel_input(salient).view(np.uint8) if salient.dtype == np.bool_ else (
        kernel_input(salient, np.uint8)
    )
    passes = (ap.normal, ap.salient)
    k = x.shape[1] if x.ndim == 2 else 0
    by_masks = np.array([bankmask.applies(p.coding, p.latch, ap.weight_ports, ap.weight_banks,
                                          qmax(p.bits)) for p in passes], dtype=np.bool_)
    max_events = k * max(
        (p.max_events_per_value for p, masks in zip(passes, by_masks, strict=True) if not masks),
        default=0,
    )
    level_rows = [qmax(p.bits) + 2 if p.coding == 0 else p.planes + 2
                  for p, masks in zip(passes, by_masks, strict=True) if masks]
    levels = np.empty((max(level_rows, default=0), -(-k // ap.weight_banks)), np.uint64)
    out = np.zeros(S.SIZE, dtype=np.int64)  # sized here: numba's cache would freeze S.SIZE
    _block_timing(
        out,
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
        np.array([p.latch for p in passes], dtype=np.int64),
        max_events,
        reread_cycles,
        writeback_cycles,
        fire,
        fold_cycles,
        by_masks,
        levels,
    )
    return out
