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

from collections.abc import Iterator, Sequence
from dataclasses import dataclass

import numpy as np
import simpy
from numpy.typing import NDArray

from spikesim._jit import njit


@dataclass(frozen=True, slots=True)
class Transaction:
    """One transaction of the timeline: ``kind`` on ``unit`` over cycles [start, end)."""

    unit: str
    kind: str
    step: int
    start: int
    end: int


UNITS = ("array", "dram", "vector")
"""Units of a :class:`Timeline` (its ``unit`` codes index this; alphabetical, so code order is
name order)."""
KINDS = ("compute", "load")
"""Kinds of a :class:`Timeline` (its ``kind`` codes index this)."""


@dataclass(frozen=True, eq=False)
class Timeline:
    """A layer's transactions as columns (a MAC layer has tens of thousands: one object per
    transaction cost more than the recurrence), in timeline order: by start cycle, then unit
    name, then step. Iterating gives :class:`Transaction` objects; two timelines are equal when
    every column is."""

    unit: NDArray[np.int8]
    """Index into :data:`UNITS`."""
    kind: NDArray[np.int8]
    """Index into :data:`KINDS`."""
    step: NDArray[np.int64]
    start: NDArray[np.int64]
    end: NDArray[np.int64]

    @classmethod
    def of(cls, transactions: Sequence[Transaction]) -> Timeline:
        """The timeline of ``transactions`` (put in timeline order)."""
        ordered = sorted(transactions, key=lambda t: (t.start, t.unit, t.step))
        return cls(
            np.array([UNITS.index(t.unit) for t in ordered], np.int8),
            np.array([KINDS.index(t.kind) for t in ordered], np.int8),
            np.array([t.step for t in ordered], np.int64),
            np.array([t.start for t in ordered], np.int64),
            np.array([t.end for t in ordered], np.int64),
        )

    def __len__(self) -> int:
        return int(self.step.shape[0])

    def __iter__(self) -> Iterator[Transaction]:
        for u, k, s, a, b in zip(self.unit.tolist(), self.kind.tolist(), self.step.tolist(),
                                 self.start.tolist(), self.end.tolist(), strict=True):
            yield Transaction(UNITS[u], KINDS[k], s, a, b)

    def __eq__(self, other: object) -> bool:
        if not isinstance(other, Timeline):
            return NotImplemented
        return all(
            np.array_equal(getattr(self, f), getattr(other, f))
            for f in ("unit", "kind", "step", "start", "end")
        )

    __hash__ = None  # type: ignore[assignment]


def empty_timeline() -> Timeline:
    """A timeline without transactions."""
    none = np.zeros(0, np.int64)
    return Timeline(np.zeros(0, np.int8), np.zeros(0, np.int8), none, none, none)


@dataclass(frozen=True, slots=True)
class StepTimes:
    total_cycles: int
    stall_dram_cycles: int
    transactions: Timeline


@njit
def _recurrence(loads: np.ndarray, computes: np.ndarray, buffers: int,
                load_start: np.ndarray, load_end: np.ndarray, compute_start: np.ndarray,
                compute_end: np.ndarray) -> int:
    """Fill the four time arrays of :func:`run_steps`; return the DRAM stall."""
    last_load = 0
    last_end = 0
    stall = 0
    for s in range(loads.shape[0]):
        start = last_load
        if s >= buffers and compute_end[s - buffers] > start:
            start = compute_end[s - buffers]
        load_start[s] = start
        last_load = start + loads[s]
        load_end[s] = last_load
        begin = max(last_end, last_load)
        stall += begin - last_end
        compute_start[s] = begin
        last_end = begin + computes[s]
        compute_end[s] = last_end
    return stall


def run_steps(
    load_cycles: Sequence[int], compute_cycles: Sequence[int], buffers: int = 2
) -> StepTimes:
    """The times of :func:`run_steps_simpy`, from its recurrence (exclusive ends)::

        load_start[s]    = max(load_end[s-1], compute_end[s-buffers])
        compute_start[s] = max(compute_end[s-1], load_end[s])    (gap = DRAM stall)

    A step without load bytes (0 cycles) logs no DRAM transaction; every compute is logged.
    numba evaluates the recurrence; property tests show it equals the simpy processes.
    """
    loads = np.asarray(load_cycles, np.int64).reshape(-1)
    computes = np.asarray(compute_cycles, np.int64).reshape(-1)
    n = loads.shape[0]
    load_start, load_end = np.empty(n, np.int64), np.empty(n, np.int64)
    compute_start, compute_end = np.empty(n, np.int64), np.empty(n, np.int64)
    stall = int(_recurrence(loads, computes, buffers, load_start, load_end, compute_start,
                            compute_end)) if n else 0
    steps = np.arange(n, dtype=np.int64)
    loaded = loads != 0
    dram, array = UNITS.index("dram"), UNITS.index("array")
    unit = np.concatenate([np.full(int(loaded.sum()), dram, np.int8), np.full(n, array, np.int8)])
    kind = np.concatenate([np.full(int(loaded.sum()), KINDS.index("load"), np.int8),
                           np.full(n, KINDS.index("compute"), np.int8)])
    step = np.concatenate([steps[loaded], steps])
    start = np.concatenate([load_start[loaded], compute_start])
    end = np.concatenate([load_end[loaded], compute_end])
    order = np.lexsort((step, unit, start))
    total = int(compute_end[-1]) if n else 0
    return StepTimes(
        total, stall, Timeline(unit[order], kind[order], step[order], start[order], end[order])
    )


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
    return StepTimes(int(env.now), stall[0], Timeline.of(log))
