"""Count a run's layers in several worker processes (``simulate --workers N``).

Layers are independent once the run's on-chip residency is planned (:mod:`spikesim.sim.residency`
plans over the whole workload, deterministically, so every worker makes the same plan), so the
chosen layers, in counting order (:func:`~spikesim.sim.counts.counting_order`: layers that
share generated values next to each other), are cut into contiguous runs
(:func:`chunk_bounds`) that local workers (:mod:`spikesim.procpool`: ``spawn``, one thread
each, gone with their parent) count with the very function a single process uses
(:func:`spikesim.sim.counts.count_layers`). The parent puts the parts back in layer order, so
the tables are identical to a one-process run, row for row.
The workload and hardware travel once per worker (its initializer); a task is two indices. The
workers share the on-disk cache of quantized layers (:mod:`spikesim.sim.quantcache`), which is
safe under concurrent writers.

An error in a worker (an :class:`~spikesim.errors.InputError` keeps its file and field) stops
every worker and is raised in the parent: the error of the first failing run of layers (the
runs before it are waited for), so the message is the one a single process gives. An interrupt
stops them at once.
"""

from __future__ import annotations

import math
from collections.abc import Callable, Sequence
from concurrent.futures import FIRST_COMPLETED, Future, wait
from dataclasses import dataclass, replace

from spikesim.config.hardware import HardwareConfig
from spikesim.dataflows import parse_designs
from spikesim.procpool import freeze_startup_objects, local_pool, single_thread_env, stop_pool
from spikesim.sim.counts import (
    CountedPart,
    CountedRun,
    assemble_counts,
    count_layers,
    counting_order,
    run_admission,
    select_layers,
    simulate_counts,
)
from spikesim.sim.residency import Residency, plan_residency
from spikesim.trace import Workload, WorkloadItem

CHUNKS_PER_WORKER = 16
"""Contiguous runs of layers per worker: enough that workers finishing early take more (layer
costs differ by orders of magnitude), few enough that a task's overhead stays negligible."""


def chunk_bounds(n_layers: int, workers: int) -> list[tuple[int, int]]:
    """``[start, stop)`` of consecutive runs covering ``n_layers`` layers, about
    :data:`CHUNKS_PER_WORKER` per worker."""
    size = max(1, math.ceil(n_layers / (workers * CHUNKS_PER_WORKER)))
    return [(start, min(start + size, n_layers)) for start in range(0, n_layers, size)]


@dataclass
class _WorkerState:
    hw: HardwareConfig
    chosen: list[WorkloadItem]
    names: tuple[str, ...]
    residency: Residency
    cache: bool
    admitted: frozenset[str] | None
    """The run's layers whose quantizations may be written to the cache (the same set in every
    worker: :func:`~spikesim.sim.counts.run_admission` over the whole run)."""


_state: _WorkerState | None = None


def _init(
    hw: HardwareConfig, trace: Workload, names: tuple[str, ...], layer_names: list[str],
    cache: bool,
) -> None:
    global _state
    chosen = select_layers(trace, layer_names)
    ordered = [chosen[i] for i in counting_order(chosen)]
    _state = _WorkerState(
        hw=hw,
        chosen=ordered,
        names=names,
        residency=plan_residency(trace.layers, hw),
        cache=cache,
        admitted=run_admission(ordered, names) if cache else None,
    )
    freeze_startup_objects()


def _count_chunk(start: int, stop: int) -> CountedPart:
    state = _state
    if state is None:  # pragma: no cover - the initializer always runs first
        raise RuntimeError("worker not initialized")
    return count_layers(state.hw, state.chosen[start:stop], state.names, state.residency,
                        cache=state.cache, admitted=state.admitted)


def simulate_counts_in(
    hw: HardwareConfig,
    trace: Workload,
    designs: Sequence[str] | str | None = None,
    *,
    workers: int,
    layers: Sequence[str] | None = None,
    on_layer: Callable[[str, str], None] | None = None,
    cache: bool = True,
    layers_only: bool = False,
) -> CountedRun:
    """:func:`spikesim.sim.counts.simulate_counts` with the layers counted by ``workers``
    processes (one process, in this one, when ``workers`` is 1 or there is one layer); the
    same tables, row for row (``layers_only``: see there; workers still take histograms,
    the parent drops them)."""
    names = parse_designs(designs)
    chosen = select_layers(trace, layers)
    if workers <= 1 or len(chosen) <= 1:
        return simulate_counts(hw, trace, names, layers=layers, on_layer=on_layer, cache=cache,
                               layers_only=layers_only)
    residency = plan_residency(trace.layers, hw)
    parts = count_in_workers(hw, trace, names, [layer.name for layer in chosen],
                             workers=workers, on_layer=on_layer, cache=cache)
    if layers_only:
        parts = [replace(p, histograms=False) for p in parts]
        for p in parts:
            for entry in p.layers:
                entry.histogram = None
    return assemble_counts(parts, names, residency, counting_order(chosen),
                           transactions=not layers_only)


def count_in_workers(
    hw: HardwareConfig,
    trace: Workload,
    names: tuple[str, ...],
    layer_names: Sequence[str],
    *,
    workers: int,
    on_layer: Callable[[str, str], None] | None = None,
    cache: bool = True,
) -> list[CountedPart]:
    """The parts of ``layer_names`` (exact names of ``trace``'s layers, in run order) counted
    by ``workers`` processes, in counting order (:func:`~spikesim.sim.counts.counting_order`
    of the chosen layers, cut into contiguous runs); ``on_layer`` is called in the parent for
    each (layer, design) of a part as it arrives."""
    bounds = chunk_bounds(len(layer_names), workers)
    pool = local_pool(min(workers, len(bounds)), _init,
                      (hw, trace, names, list(layer_names), cache))
    done: dict[int, CountedPart] = {}
    failed: dict[int, BaseException] = {}
    try:
        with single_thread_env():  # spawned workers inherit one-thread settings
            pending: dict[Future[CountedPart], int] = {
                pool.submit(_count_chunk, start, stop): i
                for i, (start, stop) in enumerate(bounds)
            }
        while pending:
            # after a failure only the runs before it matter: the error raised is that of the
            # first failing run, the one a single process (counting in the same order) meets
            first = min(failed, default=len(bounds))
            waiting = [fut for fut, i in pending.items() if i < first]
            if not waiting:
                raise failed[first]
            finished, _ = wait(waiting, return_when=FIRST_COMPLETED)
            for fut in finished:
                i = pending.pop(fut)
                error = fut.exception()
                if error is not None:
                    failed[i] = error
                    continue
                part = fut.result()
                done[i] = part
                if on_layer is not None:
                    for entry in part.layers:
                        for row in entry.rows:
                            on_layer(str(row["layer"]), str(row["design"]))
        if failed:
            raise failed[min(failed)]
    except BaseException:  # failed or interrupted: no worker outlives the run
        stop_pool(pool)
        raise
    pool.shutdown(wait=True)
    return [done[i] for i in range(len(bounds))]
