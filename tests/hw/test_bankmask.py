"""Issue from bank masks (spikesim.hw.bankmask) == listing the events and issuing them
(hw.coding.pass_events_kernel + hw.issue.issue_kernel), bit-exactly, for count and bitserial
passes: events, actual and ideal issue cycles, issue groups."""

from __future__ import annotations

import numpy as np
import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from spikesim.hw import bankmask
from spikesim.hw.bankmask import pass_issue_masks
from spikesim.hw.coding import pass_events_kernel
from spikesim.hw.issue import issue_kernel


def by_events(row: np.ndarray, mask: np.ndarray, want_salient: bool, coding: int, planes: int,
              qmax: int, lanes: int, banks: int) -> tuple[int, int, int, int]:
    k = row.size
    most = int(np.abs(row.astype(np.int64)).max(initial=0)) if coding == 0 else planes
    ev_idx = np.empty(max(1, k * max(most, 1)), np.int64)
    ev_step = np.empty_like(ev_idx)
    n = pass_events_kernel(row, mask, want_salient, coding, 7, planes, qmax, False, ev_idx,
                           ev_step, np.empty(k, np.int64), np.empty(k, np.int64),
                           np.zeros(qmax + 2, np.int64))
    actual, ideal = issue_kernel(ev_idx, ev_step, n, lanes, banks, 1, coding == 0, False,
                                 np.full(banks, -1, np.int64), np.zeros(banks, np.int64))
    groups = 0 if n == 0 else 1 if coding == 0 else len(np.unique(ev_step[:n]))
    return n, actual, ideal, groups


@pytest.mark.slow  # compiles both issue paths for their own signatures (~4 s cold); the
# default run proves the mask path through the block kernel's twin tests
@given(
    seed=st.integers(0, 2**32 - 1),
    k=st.integers(1, 300),
    banks=st.integers(1, bankmask.MAX_BANKS),
    lanes=st.integers(1, 70),
    coding=st.sampled_from([0, 1]),
    bits=st.integers(2, 16),
    density=st.floats(0.0, 1.0),
    salient_share=st.floats(0.0, 1.0),
    want_salient=st.booleans(),
)
@settings(max_examples=200, deadline=None)
def test_masks_equal_events(seed: int, k: int, banks: int, lanes: int, coding: int, bits: int,
                            density: float, salient_share: float, want_salient: bool) -> None:
    qmax = (1 << (bits - 1)) - 1
    if coding == 0:
        qmax = min(qmax, bankmask.MAX_COUNT_LEVELS)
    planes = bits - 1
    rng = np.random.default_rng(seed)
    row = (rng.integers(-qmax, qmax + 1, k) * (rng.random(k) < density)).astype(np.int16)
    mask = (rng.random(k) < salient_share).astype(np.uint8)
    levels = np.empty((max(qmax, planes) + 2, -(-k // banks)), np.uint64)
    assert bankmask.applies(coding, False, 1, banks, qmax)
    got = pass_issue_masks(row, mask, want_salient, coding, planes, lanes, banks, levels)
    assert got == by_events(row, mask, want_salient, coding, planes, qmax, lanes, banks)


@pytest.mark.slow  # compiles both paths, as above
def test_bits_beyond_the_planes_send_nothing() -> None:
    """A bitserial pass sends planes-1 … 0 only, as the events path does."""
    row = np.array([0b1000_0101, 0b1000_0000, 3], np.int16)
    mask = np.ones(3, np.uint8)
    levels = np.empty((9, 1), np.uint64)
    got = pass_issue_masks(row, mask, True, 1, 3, 4, 4, levels)
    assert got == by_events(row, mask, True, 1, 3, 7, 4, 4)
    assert got[0] == 2 + 0 + 2


def test_applies_only_where_the_masks_hold() -> None:
    assert bankmask.applies(0, False, 1, 16, 7)
    assert bankmask.applies(1, False, 1, 64, 32767)
    assert not bankmask.applies(0, True, 1, 16, 7)  # latched: input-major order
    assert not bankmask.applies(0, False, 2, 16, 7)  # two ports: counts per bank
    assert not bankmask.applies(1, False, 1, 65, 7)  # a row per uint64
    assert not bankmask.applies(0, False, 1, 16, 127)  # count levels beyond the table
    assert not bankmask.applies(2, False, 1, 16, 7)  # ttfs: one event per value already
