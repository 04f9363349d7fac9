"""The shared spike-coding and issue units of :mod:`spikesim.hw`: each numba kernel equals its
NumPy twin bit-exactly, and the definitions hold on hand-checked cases."""

from __future__ import annotations

import numpy as np
import pytest
from hypothesis import given
from hypothesis import strategies as st

from spikesim.hw import coding as spike_coding
from spikesim.hw import issue
from spikesim.hw.params import PassParams


@pytest.mark.parametrize("coding", [0, 1, 2])
def test_events_reconstruct_the_value(coding: int) -> None:
    """Each coding's events, weighted by their step, add up to the integer (signed)."""
    q = np.array([0, 3, -7, 1, 5, -2, 0, 7])
    p = PassParams(coding, 4, 9 if coding == 2 else 7, 3, 16)
    idx, step, sign = spike_coding.pass_events(q, p)
    recon = np.zeros_like(q)
    if coding == 0:
        weight = np.ones_like(step)
    elif coding == 1:
        weight = 1 << (p.planes - step)
    else:
        weight = p.window + 1 - step
    np.add.at(recon, idx, sign * weight)
    np.testing.assert_array_equal(recon, q)
    assert (np.diff(step) >= 0).all()  # issue order: by step


def test_issue_cycles_hand_example() -> None:
    """Lanes 4, 2 banks of 1 port: banks 0,0 -> the 2nd event waits one cycle."""
    banks = np.array([0, 0, 1, 1, 0])
    steps = np.zeros(5, np.int64)
    # cycle 1: b0 ok, b0 blocked -> 1 event; cycle 2: b0, b1, b1 blocked -> 2; cycle 3: b1, b0 -> 2
    assert issue.issue_cycles(banks, steps, 4, 1, True) == (3, 2)


@given(
    st.lists(st.integers(-127, 127), min_size=0, max_size=40),
    st.sampled_from([0, 1, 2]),
)
def test_pass_events_kernel_equals_twin(values: list[int], coding_id: int) -> None:
    """The shared spike-coding unit: numba events = NumPy events, in the same issue order."""
    q = np.asarray(values, dtype=np.int16)
    bits = 8
    p = PassParams(coding_id, bits, 127 if coding_id != 2 else 130, bits - 1, 4)
    idx, step, _ = spike_coding.pass_events(q, p)
    k = max(len(q), 1)
    ev_idx = np.empty(max(k * 127, 1), np.int64)
    ev_step = np.empty_like(ev_idx)
    n = spike_coding.pass_events_kernel(
        q, np.zeros(len(q), np.uint8), False, coding_id, p.window, p.planes, 127,
        ev_idx, ev_step, np.empty(k, np.int64), np.empty(k, np.int64), np.zeros(129, np.int64),
    )
    np.testing.assert_array_equal(ev_idx[:n], idx)
    np.testing.assert_array_equal(ev_step[:n], step)


@given(
    st.lists(st.tuples(st.integers(0, 7), st.integers(1, 3)), min_size=0, max_size=40),
    st.integers(1, 8),
    st.integers(1, 3),
    st.booleans(),
)
def test_issue_kernel_equals_twin(
    events: list[tuple[int, int]], lanes: int, ports: int, one_stream: bool
) -> None:
    """The shared lane × bank-port issue unit: numba cycles = NumPy cycles (banks = index mod 8)."""
    events = sorted(events, key=lambda e: e[1])  # issue order: by step
    idx = np.array([i for i, _ in events], np.int64)
    steps = np.array([s for _, s in events], np.int64)
    banks = 8
    twin = issue.issue_cycles(idx % banks, steps, lanes, ports, one_stream)
    fast = issue.issue_kernel(
        idx, steps, len(idx), lanes, banks, ports, one_stream,
        np.full(banks, -1, np.int64), np.zeros(banks, np.int64),
    )
    assert tuple(int(v) for v in fast) == twin
