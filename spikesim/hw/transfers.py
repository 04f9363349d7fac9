"""Transaction-level orchestration of a layer's schedule steps: DRAM channel and buffers.

Two processes share ``buffers`` slots (double buffering): the DRAM channel loads each step's
data in order (it needs a free slot, so it runs at most ``buffers - 1`` steps ahead of the
array), and the array computes each step once its data is loaded, freeing the slot when done. A
step's compute time comes from the numba block kernel of its dataflow.

:func:`run_steps_simpy` is the definition: the two processes as simpy processes contending for
the slots. Nothing else contends, so their times obey a two-line recurrence, which
:func:`run_steps` evaluates directly (a MAC layer has tens of thousands of steps: simpy spent
most of a MAC simulation on its events). Property tests show both give the same end time, DRAM
stall and transactions.
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
    """The times of :func:`run_steps_simpy`, from its recurrence (exclusive ends)::

        load_start[s]    = max(load_end[s-1], compute_end[s-buffers])
        compute_start[s] = max(compute_end[s-1], load_end[s])    (gap = DRAM stall)

    A step without load bytes (0 cycles) logs no DRAM transaction; every compute is logged.
    """
    n = len(load_cycles)
    compute_end = [0] * n
    log: list[Transaction] = []
    load_end = last_end = stall = 0
    for s in range(n):
        start = max(load_end, compute_end[s - buffers] if s >= buffers else 0)
        load_end = start + int(load_cycles[s])
        if load_cycles[s]:
            log.append(Transaction("dram", "load", s, start, load_end))
        begin = max(last_end, load_end)
        stall += begin - last_end
        last_end = compute_end[s] = begin + int(compute_cycles[s])
        log.append(Transaction("array", "compute", s, begin, last_end))
    log.sort(key=lambda t: (t.start, t.unit, t.step))
    return StepTimes(last_end, stall, tuple(log))


def run_steps_simpy(
    load_cycles: Sequence[int], compute_cycles: Sequence[int], buffers: int = 2
) -> StepTimes:
    """Simulate loads and computes of the steps with simpy processes; returns the end time, the
    DRAM stall and the transactions (the definition :func:`run_steps` evaluates)."""
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
