"""The step recurrence (the fast engines' DRAM channel and buffers) gives exactly what the simpy
processes it stands for give: end time, DRAM stall and every transaction."""

from __future__ import annotations

from hypothesis import given
from hypothesis import strategies as st

from spikesim.hw.transfers import run_steps, run_steps_simpy

cycles = st.lists(st.integers(0, 50), min_size=0, max_size=40)


@given(loads=cycles, computes=cycles, buffers=st.integers(1, 4))
def test_recurrence_equals_simpy(loads: list[int], computes: list[int], buffers: int) -> None:
    n = min(len(loads), len(computes))
    loads, computes = loads[:n], computes[:n]
    assert run_steps(loads, computes, buffers) == run_steps_simpy(loads, computes, buffers)


def test_hand_computed_double_buffer() -> None:
    """Loads of 10, computes of 3: compute-bound never; each step waits for its load.
    load ends 10, 20, 30; computes [10,13), [20,23), [30,33); stall 10 + 7 + 7 = 24."""
    times = run_steps([10, 10, 10], [3, 3, 3])
    assert (times.total_cycles, times.stall_dram_cycles) == (33, 24)
    # compute-bound: loads of 1, computes of 10: the third load waits for the first slot
    times = run_steps([1, 1, 1], [10, 10, 10])
    assert (times.total_cycles, times.stall_dram_cycles) == (31, 1)
    loads = [t for t in times.transactions if t.unit == "dram"]
    assert [(t.start, t.end) for t in loads] == [(0, 1), (1, 2), (11, 12)]
