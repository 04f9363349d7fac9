"""Lane × bank-port issue: how many cycles the array takes to issue an ordered event stream.

Issue rule (every coding): each cycle the array takes the next events in order, up to ``lanes``,
stopping early (in-order, head-of-line blocking) at an event whose weight bank (i mod banks) has
already served ``ports`` reads this cycle, or, except for count coding, at a step boundary. A
count-coded pass without events still takes one cycle. The ideal count ignores bank ports; the
difference is the bank-conflict stall.

With a row latch the stream is input-major (one stream) and only an event that starts a new
value (its index differs from the previous event's) fetches a row and needs a bank port; the
value's other events read the latch.

:func:`issue_cycles` is the definition (NumPy/Python); :func:`issue_kernel` its numba twin.
"""

from __future__ import annotations

import numpy as np
from numpy.typing import NDArray

from spikesim._jit import njit


def issue_groups(step: NDArray[np.integer], one_stream: bool) -> int:
    """Issue groups with events of a pass stream (its events' steps): one for a non-empty
    one-stream pass, else one per time step (bit plane, TTFS step) with events."""
    if len(step) == 0:
        return 0
    return 1 if one_stream else len(np.unique(step))


def issue_cycles(
    banks: NDArray[np.integer],
    steps: NDArray[np.integer],
    lanes: int,
    ports: int,
    one_stream: bool,
    fetches: NDArray[np.bool_] | None = None,
) -> tuple[int, int]:
    """(actual, ideal) issue cycles of an ordered event stream; ideal ignores bank ports.

    ``fetches``: which events read their row from the weight SRAM (all when None); the others
    read a latch and need no bank port."""
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
            if fetches is None or fetches[e]:
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


@njit
def issue_kernel(
    ev_idx: np.ndarray,
    ev_step: np.ndarray,
    n: int,
    lanes: int,
    banks: int,
    ports: int,
    one_stream: bool,
    latch: bool,
    port_stamp: np.ndarray,
    port_used: np.ndarray,
) -> tuple[int, int]:
    """(actual, ideal) issue cycles of n ordered events (see :func:`issue_cycles`); with
    ``latch`` only the first event of each value (index differs from the previous) fetches."""
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
            if not latch or e == 0 or ev_idx[e] != ev_idx[e - 1]:
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
