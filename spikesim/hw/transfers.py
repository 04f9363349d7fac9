"""Transaction-level orchestration of a layer's schedule steps with simpy.

Two processes share ``fifo`` buffer slots (double buffering): the DRAM channel loads each step's
data in order (it needs a free slot, so it runs at most one step ahead of the array), and the array
computes each step once its data is loaded, freeing the slot when done. A step's compute time is
computed inside the transaction by the numba block kernel; simpy only sees one timeout per
transaction, so a layer costs a few events per step, never one per cycle or per spike.
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass

import simpy


@dataclass(frozen=True, slots=True)
class Transaction:
    """One transaction of the timeline: ``kind`` on ``unit`` over cycles [start, end)."""

    unit: str
    kind: str
    step: int
    start: int
    end: int


@dataclass(frozen=True, slots=True)
class StepTimes:
    total_cycles: int
    stall_dram_cycles: int
    transactions: tuple[Transaction, ...]


def run_steps(
    load_cycles: Sequence[int], compute_cycles: Sequence[int], buffers: int = 2
) -> StepTimes:
    """Simulate loads and computes of the steps; returns the end time and the DRAM stall.

    Equivalent recurrences (exclusive ends)::

        load_start[s]    = max(load_end[s-1], compute_end[s-buffers])
        compute_start[s] = max(compute_end[s-1], load_end[s])    (gap = DRAM stall)
    """
    env = simpy.Environment()
    free = simpy.Store(env, capacity=buffers)
    loaded = simpy.Store(env)
    log: list[Transaction] = []
    stall = [0]
    n = len(load_cycles)

    def dram() -> simpy.events.ProcessGenerator:
        for s in range(n):
            yield free.get()
            start = env.now
            if load_cycles[s]:
                yield env.timeout(load_cycles[s])
                log.append(Transaction("dram", "load", s, int(start), int(env.now)))
            yield loaded.put(s)

    def array() -> simpy.events.ProcessGenerator:
        last_end = 0
        for s in range(n):
            yield loaded.get()
            start = env.now
            stall[0] += int(start - last_end)
            yield env.timeout(compute_cycles[s])
            last_end = int(env.now)
            log.append(Transaction("array", "compute", s, int(start), last_end))
            yield free.put(s)

    for _ in range(buffers):
        free.put(None)
    env.process(dram())
    done = env.process(array())
    env.run(until=done)
    log.sort(key=lambda t: (t.start, t.unit, t.step))
    return StepTimes(int(env.now), stall[0], tuple(log))
