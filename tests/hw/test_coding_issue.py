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
    st.booleans(),
)
def test_pass_events_kernel_equals_twin(values: list[int], coding_id: int, latch: bool) -> None:
    """The shared spike-coding unit: numba events = NumPy events, in the same issue order
    (step-major, or input-major with a row latch)."""
    q = np.asarray(values, dtype=np.int16)
    bits = 8
    latch = latch and coding_id != 2
    p = PassParams(coding_id, bits, 127 if coding_id != 2 else 130, bits - 1, 4, latch)
    idx, step, _ = spike_coding.pass_events(q, p)
    k = max(len(q), 1)
    ev_idx = np.empty(max(k * 127, 1), np.int64)
    ev_step = np.empty_like(ev_idx)
    n = spike_coding.pass_events_kernel(
        q, np.zeros(len(q), np.uint8), False, coding_id, p.window, p.planes, 127, latch,
        ev_idx, ev_step, np.empty(k, np.int64), np.empty(k, np.int64), np.zeros(129, np.int64),
    )
    np.testing.assert_array_equal(ev_idx[:n], idx)
    np.testing.assert_array_equal(ev_step[:n], step)


@pytest.mark.parametrize("coding", [0, 1])
def test_latched_order_is_input_major(coding: int) -> None:
    """With a row latch every value's events are consecutive (one fetch each), steps ascending."""
    q = np.array([0, 3, -7, 1, 5, -2, 0, 7])
    p = PassParams(coding, 4, 7, 3, 16, latch=True)
    idx, step, _ = spike_coding.pass_events(q, p)
    assert list(dict.fromkeys(idx.tolist())) == [1, 2, 3, 4, 5, 7]
    assert (np.diff(idx) >= 0).all()
    for i in np.unique(idx):
        assert (np.diff(step[idx == i]) > 0).all()
    plain = spike_coding.pass_events(q, PassParams(coding, 4, 7, 3, 16))
    assert sorted(zip(idx, step, strict=True)) == sorted(zip(plain[0], plain[1], strict=True))


@given(
    st.lists(st.tuples(st.integers(0, 7), st.integers(1, 3)), min_size=0, max_size=40),
    st.integers(1, 8),
    st.integers(1, 3),
    st.sampled_from(["step", "one_stream", "latch"]),
)
def test_issue_kernel_equals_twin(
    events: list[tuple[int, int]], lanes: int, ports: int, mode: str
) -> None:
    """The shared lane × bank-port issue unit: numba cycles = NumPy cycles (banks = index mod 8);
    latched streams are input-major and only a value's first event takes a bank port."""
    latch = mode == "latch"
    one_stream = mode != "step"
    key = (lambda e: (e[0], e[1])) if latch else (lambda e: e[1])
    events = sorted(events, key=key)  # issue order
    idx = np.array([i for i, _ in events], np.int64)
    steps = np.array([s for _, s in events], np.int64)
    fetches = np.ones(len(idx), bool)
    if latch:
        fetches[1:] = idx[1:] != idx[:-1]
    banks = 8
    twin = issue.issue_cycles(idx % banks, steps, lanes, ports, one_stream, fetches)
    fast = issue.issue_kernel(
        idx, steps, len(idx), lanes, banks, ports, one_stream, latch,
        np.full(banks, -1, np.int64), np.zeros(banks, np.int64),
    )
    assert tuple(int(v) for v in fast) == twin


def test_latched_values_take_one_port_each() -> None:
    """1 lane-group of 4 lanes, 1 bank of 1 port: two values of 3 spikes each. Without a latch
    every spike needs the port (6 cycles); latched, only each value's first (2 cycles)."""
    idx = np.array([0, 0, 0, 1, 1, 1])
    steps = np.array([1, 2, 3, 1, 2, 3])
    banks = np.zeros(6, np.int64)
    assert issue.issue_cycles(banks, steps, 4, 1, True) == (6, 2)
    fetches = np.array([True, False, False, True, False, False])
    # cycle 1: value 0's three spikes + value 1's first needs the port again -> stops; cycle 2
    assert issue.issue_cycles(banks, steps, 4, 1, True, fetches) == (2, 2)
    assert idx.size == 6
