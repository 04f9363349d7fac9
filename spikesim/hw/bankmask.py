"""Issue cycles of a count- or bitserial-coded pass from bank masks, without listing its events.

With one read port per weight bank (and no row latch), the issue rule of :mod:`spikesim.hw.issue`
depends on an event only through its bank, i mod B. Cut the K inputs into rows of B consecutive
indices: a row's events at one time step are a B-bit mask (bit b: input r·B + b has an event
then), and issue order — step, then index — walks the rows in order and each row's bits from
the lowest. A cycle takes, from the current row, the bits below the first bank it already used
(at most ``lanes`` events in all); when it takes the whole row it goes on into the next, else it
ends there. So a cycle costs a few word operations instead of one pass per event: on llama2-7b
tiles ~2.5 events per value (count coding, 4 bits) become ~1 word step per 16 values per step.

Time steps: count coding's step s holds the values with |q| ≥ s (one stream: a cycle may run on
into the next step); bitserial's step holds the values whose magnitude has bit plane p set, MSB
first (a cycle never mixes planes). The result — events, (actual, ideal) issue cycles, issue
groups with events — equals :func:`spikesim.hw.coding.pass_events_kernel` followed by
:func:`spikesim.hw.issue.issue_kernel` (tests compare them); :func:`applies` says when it can
be used (one port, at most 64 banks, no latch, count coding up to :data:`MAX_COUNT_LEVELS`).
"""

from __future__ import annotations

import numpy as np

from spikesim._bitops import popcount, trailing_zeros
from spikesim._jit import njit

MAX_BANKS = 64
"""A row's mask is one uint64."""
MAX_COUNT_LEVELS = 64
"""Count coding: the steps (largest magnitude) a mask table holds; wider values use events."""


def applies(coding: int, latch: bool, ports: int, banks: int, qmax: int) -> bool:
    """Whether :func:`pass_issue_masks` gives the events path's figures for this pass."""
    if latch or ports != 1 or not 1 <= banks <= MAX_BANKS:
        return False
    return coding == 1 or (coding == 0 and qmax <= MAX_COUNT_LEVELS)


@njit
def _lowest(bits: np.uint64, count: int) -> np.uint64:
    """The ``count`` lowest set bits of ``bits``."""
    out = np.uint64(0)
    for _ in range(count):
        low = bits & (~bits + np.uint64(1))
        out |= low
        bits ^= low
    return out


@njit
def _issue_rows(levels: np.ndarray, first: int, last: int, step: int, rows: int, lanes: int,
                one_stream: bool) -> int:
    """Issue cycles of the masks ``levels[first], levels[first + step], …`` up to ``last``
    (inclusive), each ``rows`` words, in that order; ``one_stream``: a cycle may go on into the
    next level."""
    actual = 0
    in_cycle = False
    issued = 0
    used = np.uint64(0)
    s = first
    while True:
        if not one_stream:
            in_cycle = False
        for r in range(rows):
            rest = levels[s, r]
            while rest != 0:
                if not in_cycle:
                    actual += 1
                    issued = 0
                    used = np.uint64(0)
                    in_cycle = True
                clash = rest & used
                take = rest
                if clash != 0:  # in order: only the banks below the first one already used
                    take = rest & ((clash & (~clash + np.uint64(1))) - np.uint64(1))
                room = lanes - issued
                got = popcount(take)
                if got > room:
                    take = _lowest(take, room)
                    got = room
                issued += got
                used |= take
                rest &= ~take
                if rest != 0 or issued == lanes:
                    in_cycle = False
        if s == last:
            break
        s += step
    return actual


@njit
def pass_issue_masks(
    row: np.ndarray,
    mask: np.ndarray,
    want_salient: bool,
    coding: int,
    planes: int,
    lanes: int,
    banks: int,
    levels: np.ndarray,
) -> tuple[int, int, int, int]:
    """(events, actual issue cycles, ideal issue cycles, issue groups with events) of one pass
    over ``row``'s values whose salient flag is ``want_salient`` (count coding 0 or bitserial
    1); ``levels`` is scratch of at least [max(qmax, planes) + 2, ceil(K / banks)] uint64."""
    k = row.shape[0]
    rows = (k + banks - 1) // banks
    n = 0
    top = 0  # largest magnitude (count) or highest plane + 1 (bitserial) with an event
    for i in range(k):
        v = np.int64(row[i])
        if v == 0 or (mask[i] != 0) != want_salient:
            continue
        m = v if v > 0 else -v
        r = i // banks
        bit = np.uint64(1) << np.uint64(i - r * banks)
        if coding == 0:
            while top < m:  # clear the levels as they come into use
                top += 1
                levels[top, :rows] = 0
            levels[m, r] |= bit
            n += int(m)
        else:
            m &= (np.int64(1) << planes) - 1  # the planes a bitserial pass sends
            while m != 0:
                p = trailing_zeros(m)
                while top <= p:
                    levels[top, :rows] = 0
                    top += 1
                levels[p, r] |= bit
                n += 1
                m &= m - 1
    if coding == 0:
        if n == 0:
            return 0, 1, 1, 0  # an empty count pass still reads its buffer: one cycle
        for s in range(top - 1, 0, -1):  # step s: every value with |q| >= s
            for r in range(rows):
                levels[s, r] |= levels[s + 1, r]
        actual = _issue_rows(levels, 1, top, 1, rows, lanes, True)
        return n, actual, (n + lanes - 1) // lanes, 1
    if n == 0:
        return 0, 0, 0, 0
    actual = _issue_rows(levels, top - 1, 0, -1, rows, lanes, False)
    ideal = 0
    groups = 0
    for p in range(top - 1, -1, -1):
        c = 0
        for r in range(rows):
            c += popcount(levels[p, r])
        if c:
            groups += 1
            ideal += (c + lanes - 1) // lanes
    return n, actual, ideal, groups
