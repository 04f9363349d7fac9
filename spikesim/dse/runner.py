"""Run a sweep: every sampled hardware point × design, in parallel, into a Parquet dataset.

One *task* is one (hardware point, design). Its ``point_id`` is
``sha256(canonical JSON of the resolved HardwareConfig + the trace's manifest sha256 + design)``
(first 32 hex digits), so the same configuration on the same trace always has the same id:
a rerun skips the tasks whose part file exists and never duplicates one.

Execution: a local :class:`~concurrent.futures.ProcessPoolExecutor` (``spawn`` start method,
``workers`` processes, one thread each: OMP/OPENBLAS/MKL/NUMBA threads set to 1 in the workers;
at most :data:`~spikesim.procpool.MAX_WORKERS`, and never more than there are tasks to run),
or, with ``scheduler="tcp://HOST:PORT"``, a Dask distributed cluster (the optional extra
``spikesim[dist]``, imported only then). Both run the same function, :func:`run_task`, on the same
tasks, so they produce identical rows. The trace travels by path: each worker memory-maps it
(the path must be visible to the workers, e.g. a shared file system for a remote cluster). A
shape-only workload (``workload=``: a topology CSV, a config.json, a named shape, with its
tokens, seed and phases) travels as its description (:func:`sweep_workload`) and each worker
regenerates its layers; its identity, in place of the manifest's sha256, is a hash of what its
values depend on.

The parent process owns all writing: each finished task becomes one part file, written atomically
(:mod:`spikesim.dse.store`). Local workers live no longer than their parent: they ignore SIGINT
(the parent handles it), the parent terminates them when it is interrupted or fails, and each
worker exits by itself when its parent is gone (killed outright): Linux delivers it SIGKILL
(``PR_SET_PDEATHSIG``), and on every platform a watchdog thread compares ``os.getppid()``
with the parent it started under (:mod:`spikesim.procpool`). A task that raises (an
:class:`InputError` such as a weight tile that does not fit, or an invalid combination of axis
values) is recorded as one ``TOTAL`` row with its ``error`` and the sweep goes on.
"""

from __future__ import annotations

import hashlib
import json
import math
import os
import sys
import time
from collections.abc import Callable, Mapping
from concurrent.futures import FIRST_COMPLETED, Future, wait
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any, TextIO

import pandas as pd

from spikesim.config.hardware import HardwareConfig
from spikesim.dataflows import get_design
from spikesim.dse.area import area_mm2
from spikesim.dse.spec import LoadedSweep, load_sweep, under, without
from spikesim.dse.store import (
    LAYER_CLASS_COLUMNS,
    check_parts,
    check_results_target,
    done_point_ids,
    open_dataset,
    write_part,
)
from spikesim.errors import InputError
from spikesim.fsutil import interruptible
from spikesim.procpool import check_workers, init_worker, local_pool, single_thread_env, stop_pool
from spikesim.schema import (
    DRAM_BYTE_COLUMNS,
    ENERGY_VIEW_COLUMNS,
    TOTAL_LAYER,
    area_column,
    energy_component_columns,
)
from spikesim.trace.shipped import resolve_trace

TOTAL = TOTAL_LAYER
"""``layer`` value of the per-point total rows."""

_LAYER_METRICS = ("total_cycles", "compute_cycles", "stall_cycles", "energy_pj")


@dataclass(frozen=True)
class PointTask:
    """One (hardware point, design) to simulate: everything a worker needs except the trace."""

    index: int
    """Position of the hardware point in the sweep (grid or sampling order)."""
    point_id: str
    design: str
    axis_values: dict[str, Any]
    """Swept field → value, as resolved in the configuration (JSON types)."""
    config: dict[str, Any] | None
    """The resolved HardwareConfig (``model_dump(mode="json")``); None if invalid."""
    area_mm2: float
    area_by_component: dict[str, float] = field(default_factory=dict)
    error: str = ""
    """Non-empty: the point failed before simulation (recorded as is)."""


@dataclass(frozen=True)
class TaskOutcome:
    """What a worker returns: the rows of one task and how long the simulation took."""

    point_id: str
    rows: pd.DataFrame
    failed: bool
    sim_seconds: float
    """Time inside :func:`spikesim.simulate` (the simulation itself)."""
    task_seconds: float
    """Time of the whole task in the worker (config, trace, simulate, rows)."""


@dataclass(frozen=True)
class SweepPlan:
    """The tasks of a sweep and what was dropped by constraints."""

    sweep: LoadedSweep
    tasks: tuple[PointTask, ...]
    points: int
    """Sampled hardware points (before constraints)."""
    dropped_relation: int
    """Hardware points dropped by a field relation (each × every design)."""
    dropped_area: int
    """(point, design) pairs dropped by ``max_area_mm2``."""
    trace_sha256: str
    shared: int = 0
    """(point, design) pairs not simulated again: the design ignores every field in which the
    point differs from an earlier one (``Design.ignores``); that earlier task's rows stand for
    both."""


@dataclass(frozen=True)
class SweepSummary:
    out: Path
    points: int
    tasks: int
    dropped_relation: int
    dropped_area: int
    shared: int
    skipped_done: int
    ran: int
    failed: int
    wall_seconds: float
    sim_seconds: float
    task_seconds: float
    workers: int
    scheduler: str | None

    def text(self) -> str:
        parts = [
            f"{self.points} point(s) × designs = {self.tasks} task(s)"
            + (f" ({self.shared} more shared: designs that ignore the differing fields)"
               if self.shared else ""),
            f"ran {self.ran} ({self.failed} failed)",
            f"{self.skipped_done} already done",
        ]
        if self.dropped_relation or self.dropped_area:
            parts.append(
                f"dropped {self.dropped_relation} point(s) by relations, "
                f"{self.dropped_area} task(s) by max_area_mm2"
            )
        rate = 60 * self.ran / self.wall_seconds if self.wall_seconds > 0 else 0.0
        where = self.scheduler or f"{self.workers} local worker(s)"
        return (
            "; ".join(parts)
            + f"; {self.wall_seconds:.1f} s on {where} ({rate:.1f} tasks/min) → {self.out}"
        )


# --------------------------------------------------------------------------------------------
# Planning (parent process)
# --------------------------------------------------------------------------------------------


def manifest_sha256(trace_path: str | Path) -> str:
    """sha256 of the trace's ``manifest.json`` (which holds every layer file's sha256)."""
    from spikesim.trace.format import MANIFEST_NAME

    path = Path(trace_path) / MANIFEST_NAME
    try:
        return hashlib.sha256(path.read_bytes()).hexdigest()
    except OSError as exc:
        raise InputError(f"cannot read the trace manifest ({exc.strerror})", file=path) from None


def canonical_json(obj: Any) -> str:
    return json.dumps(obj, sort_keys=True, separators=(",", ":"), ensure_ascii=True)


def point_id(config_json: str, trace_sha256: str, design: str) -> str:
    """The key of one (configuration, trace, design): 32 hex digits of a sha256."""
    digest = hashlib.sha256()
    for part in (config_json, trace_sha256, design):
        digest.update(part.encode("utf-8"))
        digest.update(b"\0")
    return digest.hexdigest()[:32]


WORKLOAD_PREFIX = "workload:"
"""Start of a shape-only workload's reference (a trace's is its directory, an absolute path)."""

WORKLOAD_PARAMETERS = ("tokens", "seed", "phase", "batch", "context", "decode_steps")
"""The arguments of :func:`spikesim.trace.load_workload` a sweep passes on to its workers."""


def sweep_workload(workload: str | Path, params: Mapping[str, Any]) -> tuple[str, str]:
    """What the workers open and its identity: ``(trace directory, manifest sha256)`` for a
    trace on disk given with no parameters, else ``(reference, sha256)`` of a shape-only
    workload (topology CSV, config.json, named shape; :func:`spikesim.trace.load_workload`
    with ``params``), loaded once here so a bad one is one clear error. The identity of a
    shape-only workload is the sha256 of its kind, its description file's sha256 and its
    recorded source (dimensions, tokens, seed, phases, generator versions; not the file's
    path or folder name), so the same workload gives the same point ids wherever its file
    lies."""
    from spikesim.trace import load_workload
    from spikesim.trace.workload import ShapeWorkload

    given = {k: v for k, v in params.items() if v is not None}
    unknown = set(given) - set(WORKLOAD_PARAMETERS)
    if unknown:
        raise ValueError(f"unknown workload parameters {sorted(unknown)}")
    loaded = load_workload(workload, **given)
    if not isinstance(loaded, ShapeWorkload):
        directory = Path(str(loaded.path)).resolve()
        phase = given.get("phase")
        if phase is None:  # the trace as --trace opens it: the same point ids
            return str(directory), manifest_sha256(directory)
        reference = WORKLOAD_PREFIX + canonical_json({"workload": str(directory),
                                                      "phase": phase})
        identity = f"{manifest_sha256(directory)}:phase={phase}"
        return reference, hashlib.sha256(identity.encode("utf-8")).hexdigest()
    source = {k: v for k, v in loaded.source.items() if k not in ("file", "model")}
    identity = canonical_json({"kind": loaded.kind, "file_sha256": loaded.file_sha256,
                               "source": source})
    text = str(Path(loaded.path).resolve()) if loaded.path is not None else os.fspath(workload)
    reference = WORKLOAD_PREFIX + canonical_json({"workload": text, **given})
    return reference, hashlib.sha256(identity.encode("utf-8")).hexdigest()


def plan_sweep(
    sweep: LoadedSweep, trace_path: str | Path, trace_sha256: str | None = None
) -> SweepPlan:
    """Resolve every sampled point, apply the constraints, and list the tasks (on the trace
    at ``trace_path``, or the workload of identity ``trace_sha256``)."""
    from spikesim.config.loader import read_yaml_mapping
    from spikesim.dse.spec import resolve_point
    from spikesim.energy.model import energy_key, energy_model

    spec = sweep.spec
    base_data = read_yaml_mapping(sweep.base_path)
    trace_sha = trace_sha256 if trace_sha256 is not None else manifest_sha256(trace_path)
    relations = spec.constraints.parsed_relations()
    max_area = spec.constraints.max_area_mm2
    tasks: list[PointTask] = []
    points = dropped_relation = dropped_area = shared = 0
    planned: set[str] = set()
    tables: dict[tuple[str, ...], Any] = {}
    for index, point in enumerate(spec.points()):
        points += 1
        overrides = spec.overrides(point)
        try:
            hw = resolve_point(sweep.base_path, base_data, overrides)
        except InputError as exc:
            raw = canonical_json({"base": str(sweep.base_path), "overrides": overrides})
            for design in spec.designs:
                tasks.append(
                    PointTask(
                        index=index,
                        point_id=point_id(raw, trace_sha, design),
                        design=design,
                        axis_values=spec.column_values(point, None),
                        config=None,
                        area_mm2=math.nan,
                        error=f"InputError: {exc.one_line()}",
                    )
                )
            continue
        config = hw.model_dump(mode="json")
        if not all(rel.holds(config) for rel in relations):
            dropped_relation += 1
            continue
        axis_values = spec.column_values(point, config)
        key = energy_key(hw.energy)
        if key not in tables:
            tables[key] = energy_model(hw)
        table = tables[key]
        for design in spec.designs:
            ignores = get_design(design).ignores
            # the id covers what the design reads: points differing only in what it ignores
            # are one task, whose rows leave the ignored axes blank
            pid = point_id(canonical_json(without(config, ignores)), trace_sha, design)
            if pid in planned:
                shared += 1
                continue
            total, by_component = area_mm2(hw, table, design)
            if max_area is not None and total > max_area:
                dropped_area += 1
                continue
            planned.add(pid)
            tasks.append(
                PointTask(
                    index=index,
                    point_id=pid,
                    design=design,
                    axis_values={
                        c: (None if all(under(f, ignores) for f in spec.column_fields(c))
                            else v)
                        for c, v in axis_values.items()
                    },
                    config=config,
                    area_mm2=total,
                    area_by_component=by_component,
                )
            )
    return SweepPlan(
        sweep=sweep,
        tasks=tuple(tasks),
        points=points,
        dropped_relation=dropped_relation,
        dropped_area=dropped_area,
        trace_sha256=trace_sha,
        shared=shared,
    )


# --------------------------------------------------------------------------------------------
# The task (worker process)
# --------------------------------------------------------------------------------------------

_trace_cache: dict[tuple[str, str], Any] = {}
"""Per worker process: the opened (memory-mapped) trace or the loaded shape-only workload,
keyed by (reference, identity sha256)."""


def _open_trace(trace_path: str, trace_sha: str) -> Any:
    """The workload a task runs on: ``trace_path`` is a trace directory, or a shape-only
    workload's reference (:data:`WORKLOAD_PREFIX` + the JSON of :func:`load_workload`'s
    arguments, :func:`sweep_workload`)."""
    from spikesim.trace import load_trace, load_workload

    key = (trace_path, trace_sha)
    trace = _trace_cache.get(key)
    if trace is None:
        _trace_cache.clear()
        if trace_path.startswith(WORKLOAD_PREFIX):
            args = json.loads(trace_path[len(WORKLOAD_PREFIX):])
            trace = load_workload(args.pop("workload"), **args)
        else:
            trace = load_trace(trace_path)
        _trace_cache[key] = trace
    return trace


def _rows_frame(task: PointTask, columns: dict[str, list[Any]], n: int) -> pd.DataFrame:
    """One DataFrame in the dataset's column order (built once: this runs for every point)."""
    out: dict[str, Any] = {
        "point_index": [task.index] * n,
        "point_id": [task.point_id] * n,
        "design": [task.design] * n,
        "layer": columns.pop("layer"),
        **{c: columns.pop(c) for c in LAYER_CLASS_COLUMNS},
    }
    for axis, value in task.axis_values.items():
        out[axis] = [value] * n
    for metric in _LAYER_METRICS:
        out[metric] = columns.pop(metric)
    out["area_mm2"] = [task.area_mm2] * n
    out["error"] = columns.pop("error")
    rest = {area_column(c): [v] * n for c, v in task.area_by_component.items()}
    rest.update(columns)
    for name in sorted(rest):
        out[name] = rest[name]
    return pd.DataFrame(out)


def _error_rows(task: PointTask, error: str) -> pd.DataFrame:
    columns: dict[str, list[Any]] = {m: [math.nan] for m in _LAYER_METRICS}
    columns.update(layer=[TOTAL], op_class=[""], phase=[""], error=[error])
    return _rows_frame(task, columns, 1)


def _result_rows(task: PointTask, layers: pd.DataFrame) -> pd.DataFrame:
    energy_cols = energy_component_columns(layers.columns)
    keep = [
        "layer", *_LAYER_METRICS, "utilization", *DRAM_BYTE_COLUMNS, *energy_cols,
        *ENERGY_VIEW_COLUMNS,
    ]
    columns: dict[str, list[Any]] = {c: layers[c].tolist() for c in keep}
    for column in LAYER_CLASS_COLUMNS:  # strings: the TOTAL row has none
        columns[column] = [str(v) for v in layers[column]] + [""]
    cycles = sum(columns["total_cycles"])
    weighted = sum(u * c for u, c in zip(columns["utilization"], columns["total_cycles"],
                                         strict=True))
    for name in keep[1:]:
        if name == "utilization":  # cycle-weighted mean over the layers
            columns[name].append(weighted / cycles if cycles else 0.0)
        else:
            columns[name].append(sum(columns[name]))
    columns["layer"].append(TOTAL)
    n = len(columns["layer"])
    columns["error"] = [""] * n
    return _rows_frame(task, columns, n)


def run_task(
    task: PointTask, trace_path: str, trace_sha: str, cache: bool = True
) -> TaskOutcome:
    """Simulate one (point, design) on the trace; never raises for a bad point.

    Runs in a worker (local process or Dask); any exception of the simulation becomes the
    ``error`` of the point's ``TOTAL`` row. ``cache``: use the on-disk cache of quantized
    layers (shared by the workers; off when ``SPIKESIM_NO_CACHE=1``).
    """
    from spikesim.pipeline import simulate

    start = time.perf_counter()
    sim_seconds = 0.0
    if task.error or task.config is None:
        rows, failed = _error_rows(task, task.error or "invalid configuration"), True
    else:
        try:
            hw = HardwareConfig.model_validate(task.config)
            trace = _open_trace(trace_path, trace_sha)
            t0 = time.perf_counter()
            result = simulate(hw, trace, [task.design], cache=cache)
            sim_seconds = time.perf_counter() - t0
            rows, failed = _result_rows(task, result.layers), False
        except InputError as exc:
            rows, failed = _error_rows(task, f"InputError: {exc.one_line()}"), True
        except Exception as exc:  # a bad point must not stop the sweep; the row says what
            rows, failed = _error_rows(task, f"{type(exc).__name__}: {exc}"), True
    return TaskOutcome(task.point_id, rows, failed, sim_seconds, time.perf_counter() - start)


# --------------------------------------------------------------------------------------------
# Progress (only on a terminal)
# --------------------------------------------------------------------------------------------


class Progress:
    """Points done, rate and ETA on stderr: a rich bar if rich is importable, else plain lines."""

    def __init__(self, total: int, *, enabled: bool, stream: TextIO | None = None) -> None:
        self.total = total
        self.done = 0
        self.failed = 0
        self.enabled = enabled and total > 0
        self.stream = stream or sys.stderr
        self.start = time.perf_counter()
        self._last_line = 0.0
        self._rich: Any = None
        self._task: Any = None
        if not self.enabled:
            return
        try:
            from rich.console import Console
            from rich.progress import (
                BarColumn,
                MofNCompleteColumn,
                TextColumn,
                TimeElapsedColumn,
                TimeRemainingColumn,
            )
            from rich.progress import Progress as RichProgress
        except ImportError:
            return
        self._rich = RichProgress(
            TextColumn("sweep"),
            BarColumn(),
            MofNCompleteColumn(),
            TextColumn("{task.fields[rate]}"),
            TimeElapsedColumn(),
            TextColumn("ETA"),
            TimeRemainingColumn(),
            console=Console(file=self.stream),
            transient=False,
        )
        self._rich.start()
        self._task = self._rich.add_task("sweep", total=total, rate="")

    def _rate(self) -> tuple[float, float]:
        elapsed = time.perf_counter() - self.start
        rate = self.done / elapsed if elapsed > 0 else 0.0
        eta = (self.total - self.done) / rate if rate > 0 else math.inf
        return rate, eta

    def advance(self, failed: bool) -> None:
        self.done += 1
        self.failed += int(failed)
        if not self.enabled:
            return
        rate, eta = self._rate()
        text = f"{60 * rate:.1f} pts/min" + (f", {self.failed} failed" if self.failed else "")
        if self._rich is not None:
            self._rich.update(self._task, advance=1, rate=text)
            return
        now = time.perf_counter()
        if now - self._last_line >= 2.0 or self.done == self.total:
            self._last_line = now
            eta_text = f"{eta:.0f} s" if math.isfinite(eta) else "?"
            print(f"[{self.done}/{self.total}] {text}, ETA {eta_text}", file=self.stream,
                  flush=True)

    def close(self) -> None:
        if self._rich is not None:
            self._rich.stop()


# --------------------------------------------------------------------------------------------
# Executors
# --------------------------------------------------------------------------------------------


OnOutcome = Callable[[TaskOutcome], None]


def _run_local(
    tasks: list[PointTask], trace_path: str, trace_sha: str, workers: int, on_outcome: OnOutcome,
    cache: bool = True,
) -> None:
    pool = local_pool(workers)
    try:
        pending: set[Future[TaskOutcome]] = set()
        queue = iter(tasks)
        window = 4 * workers  # bounded in-flight work: results are written as they finish
        with single_thread_env():  # spawned workers inherit one-thread settings
            for task in queue:
                pending.add(pool.submit(run_task, task, trace_path, trace_sha, cache))
                if len(pending) >= window:
                    break
        while pending:
            finished, pending = wait(pending, return_when=FIRST_COMPLETED)
            for fut in finished:
                on_outcome(fut.result())
                following = next(queue, None)
                if following is not None:
                    pending.add(pool.submit(run_task, following, trace_path, trace_sha,
                                                 cache))
    except BaseException:  # interrupted or failed: no worker outlives the sweep
        stop_pool(pool)
        raise
    pool.shutdown(wait=True)


def _run_dask(
    tasks: list[PointTask], trace_path: str, trace_sha: str, address: str, on_outcome: OnOutcome,
    cache: bool = True,
) -> None:
    try:
        from distributed import Client, as_completed
    except ImportError:
        raise InputError(
            "needs the optional Dask extra: pip install 'spikesim[dist]' "
            "(or pip install 'dask[distributed]')",
            field="scheduler",
        ) from None
    try:
        client = Client(address, timeout="20s", set_as_default=False)
    except (OSError, TimeoutError) as exc:
        raise InputError(
            f"cannot connect to the Dask scheduler at {address} ({exc})", field="scheduler"
        ) from None
    try:
        client.run(init_worker)
        futures = client.map(
            run_task, tasks, trace_path=trace_path, trace_sha=trace_sha, cache=cache, pure=False
        )
        with client.as_current():  # scoped: as_completed needs a current client
            for fut in as_completed(futures):
                on_outcome(fut.result())
                fut.release()
    finally:
        client.close()


def run_sweep(
    spec: str | Path | LoadedSweep,
    trace: str | Path,
    out: str | Path,
    *,
    workers: int = 1,
    scheduler: str | None = None,
    progress: bool = False,
    on_outcome: OnOutcome | None = None,
    cache: bool = True,
    workload: Mapping[str, Any] | None = None,
) -> SweepSummary:
    """Run (or resume) a sweep into the Parquet dataset ``out``.

    Parameters
    ----------
    spec:
        The sweep YAML (or an already loaded one).
    trace:
        The trace directory (opened by path in each worker); with ``workload``, any workload
        :func:`spikesim.trace.load_workload` opens (a topology CSV, a config.json, a named
        shape), regenerated in each worker.
    out:
        The results directory (``results.parquet/``); finished points found there are skipped.
    workers:
        Local worker processes (ignored with ``scheduler``): 1 to
        :data:`~spikesim.procpool.MAX_WORKERS`; no more are started than there are tasks to
        run.
    scheduler:
        ``tcp://HOST:PORT`` of a Dask distributed scheduler, or None for the local pool.
    progress:
        Show a progress bar on stderr (callers pass ``stderr.isatty()``).
    on_outcome:
        Called after each task's part is written (tests, benchmarks).
    cache:
        Let the workers use the on-disk cache of quantized layers
        (:mod:`spikesim.sim.quantcache`): a sweep over hardware-only axes quantizes each layer
        once. Off when False or ``SPIKESIM_NO_CACHE=1``.
    workload:
        Arguments of :func:`spikesim.trace.load_workload` (:data:`WORKLOAD_PARAMETERS`:
        ``tokens``, ``seed``, ``phase``, ``batch``, ``context``, ``decode_steps``); ``None``:
        ``trace`` is a trace directory or shipped trace, as ``--trace``.
    """
    check_workers(workers)
    check_results_target(out)  # before any work: a foreign --out is refused at once
    sweep = spec if isinstance(spec, LoadedSweep) else load_sweep(spec)
    if workload is None:
        trace_dir = resolve_trace(trace).resolve()
        from spikesim.trace import load_trace

        try:
            load_trace(trace_dir)  # validate the manifest up front (one clear error)
        except InputError as exc:
            if exc.field:
                raise
            raise InputError(exc.message, file=exc.file, field="trace") from None
        reference, identity = str(trace_dir), manifest_sha256(trace_dir)
    else:
        try:
            reference, identity = sweep_workload(trace, workload)
        except InputError as exc:
            if exc.field:
                raise
            raise InputError(exc.message, file=exc.file, field="workload") from None
    plan = plan_sweep(sweep, reference, identity)
    meta = {
        "spec": sweep.spec.model_dump(mode="json"),
        "base_sha256": hashlib.sha256(sweep.base_path.read_bytes()).hexdigest(),
        "trace_sha256": plan.trace_sha256,
        "axes": sweep.spec.columns(),
        "designs": list(sweep.spec.designs),
    }
    root = open_dataset(out, meta)
    try:  # a resumed sweep trusts only parts that are results parts; it never deletes one
        check_parts(root, meta)
    except InputError as exc:
        raise InputError(
            f"{exc.message}; move or delete it to run its point again",
            file=exc.file,
            field=exc.field,
        ) from None
    done = done_point_ids(root)
    todo = [t for t in plan.tasks if t.point_id not in done]
    workers = max(1, min(workers, len(todo)))
    counters = {"ran": 0, "failed": 0, "sim": 0.0, "task": 0.0}
    bar = Progress(len(todo), enabled=progress)

    def finished(outcome: TaskOutcome) -> None:
        write_part(root, outcome.point_id, outcome.rows)
        counters["ran"] += 1
        counters["failed"] += int(outcome.failed)
        counters["sim"] += outcome.sim_seconds
        counters["task"] += outcome.task_seconds
        bar.advance(outcome.failed)
        if on_outcome is not None:
            on_outcome(outcome)

    start = time.perf_counter()
    try:
        with interruptible():  # SIGTERM unwinds too: workers stopped, temporary parts removed
            if todo:
                if scheduler:
                    _run_dask(todo, reference, plan.trace_sha256, scheduler, finished, cache)
                else:
                    _run_local(todo, reference, plan.trace_sha256, workers, finished, cache)
    finally:
        bar.close()
    return SweepSummary(
        out=root,
        points=plan.points,
        tasks=len(plan.tasks),
        dropped_relation=plan.dropped_relation,
        dropped_area=plan.dropped_area,
        shared=plan.shared,
        skipped_done=len(plan.tasks) - len(todo),
        ran=int(counters["ran"]),
        failed=int(counters["failed"]),
        wall_seconds=time.perf_counter() - start,
        sim_seconds=float(counters["sim"]),
        task_seconds=float(counters["task"]),
        workers=workers,
        scheduler=scheduler,
    )
