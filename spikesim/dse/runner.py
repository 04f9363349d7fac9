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
import queue
import sys
import threading
import time
from collections.abc import Callable, Mapping, Sequence
from concurrent.futures import FIRST_COMPLETED, Future, wait
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any, TextIO

import pandas as pd
import pyarrow as pa

from spikesim.config.hardware import HardwareConfig
from spikesim.dataflows import get_design
from spikesim.dse.area import area_mm2
from spikesim.dse.spec import (
    WORKLOAD_AXIS_PREFIX,
    LoadedSweep,
    load_sweep,
    under,
    without,
)
from spikesim.dse.store import (
    LAYER_CLASS_COLUMNS,
    check_parts,
    check_results_target,
    done_point_ids,
    open_dataset,
    write_part,
)
from spikesim.errors import InputError, echo
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
    workload: str = ""
    """The point's own workload reference (:func:`sweep_workload`) when the sweep has workload
    axes; empty: the sweep's one trace or workload (``run_task``'s arguments)."""
    workload_sha256: str = ""
    """Identity of :attr:`workload` (with it, or empty)."""
    layers: tuple[str, ...] | None = None
    """Only these layers (names or globs, ``simulate(layers=...)``); None: all of them."""
    token_columns: dict[str, int] | None = None
    """Sweeps with workload axes: the point's phase token counts (:data:`TOKEN_COLUMNS`), and
    its ``TOTAL`` row gets the per-token columns (:data:`PER_TOKEN_COLUMNS`); None: neither."""


TOKEN_COLUMNS = ("prefill_tokens", "generated_tokens")
"""Columns of every row of a sweep with workload axes: the point's prompt tokens (every
sequence's prefill) and generated tokens (batch × decode steps); 0 when the phase is absent."""
PER_TOKEN_COLUMNS = (
    "prefill_energy_per_token_pj", "decode_energy_per_token_pj", "decode_cycles_per_step",
)
"""Columns of a sweep with workload axes, set on ``TOTAL`` rows (NaN on layer rows, failed
points and absent phases): the prefill's energy per prompt token, the decode's energy per
generated token and its cycles per step, as :func:`spikesim.report.phases.phase_totals`
computes them for ``simulate``'s ``summary.json`` (``phases``): over the simulated layers of
the phase and the workload's token counts."""


@dataclass(frozen=True)
class TaskOutcome:
    """What a worker returns: the rows of one task and how long the simulation took."""

    point_id: str
    rows: pa.Table
    """The point's rows as its part holds them (:func:`spikesim.dse.store.write_part`)."""
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
    workloads: int = 0
    """Distinct workloads of a sweep with workload axes (0: the sweep has none)."""


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
    workloads: int = 0
    """Distinct workloads of a sweep with workload axes (0: none; not shown)."""

    def text(self) -> str:
        parts = [
            f"{self.points} point(s)"
            + (f" over {self.workloads} workload(s)" if self.workloads else "")
            + f" × designs = {self.tasks} task(s)"
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

WORKLOAD_PARAMETERS = ("tokens", "seed", "phase", "batch", "context", "decode_steps", "stats")
"""The arguments of :func:`spikesim.trace.load_workload` a sweep passes on to its workers."""


def sweep_workload(workload: str | Path, params: Mapping[str, Any]) -> tuple[str, str]:
    """What the workers open and its identity (see :func:`resolve_workload`)."""
    reference, identity, _ = resolve_workload(workload, params)
    return reference, identity


def resolve_workload(workload: str | Path, params: Mapping[str, Any]) -> tuple[str, str, Any]:
    """What the workers open and its identity: ``(trace directory, manifest sha256)`` for a
    trace on disk given with no parameters, else ``(reference, sha256)`` of a shape-only
    workload (topology CSV, config.json, named shape; :func:`spikesim.trace.load_workload`
    with ``params``), loaded once here so a bad one is one clear error. The identity of a
    shape-only workload is the sha256 of its kind, its description file's sha256 and its
    recorded source (dimensions, tokens, seed, phases, generator versions; not the file's
    path or folder name), so the same workload gives the same point ids wherever its file
    lies. The third item is the loaded workload (a :class:`~spikesim.trace.format.Trace` or
    a shape-only workload)."""
    from spikesim.trace import load_workload
    from spikesim.trace.workload import ShapeWorkload

    given = {k: v for k, v in params.items() if v is not None}
    unknown = set(given) - set(WORKLOAD_PARAMETERS)
    if unknown:
        raise ValueError(f"unknown workload parameters {sorted(unknown)}")
    if "stats" in given:  # workers (a Dask cluster's too) open it by this absolute path
        given["stats"] = str(Path(given["stats"]).resolve())
    loaded = load_workload(workload, **given)
    if not isinstance(loaded, ShapeWorkload):
        directory = Path(str(loaded.path)).resolve()
        phase = given.get("phase")
        if phase is None:  # the trace as --trace opens it: the same point ids
            return str(directory), manifest_sha256(directory), loaded
        reference = WORKLOAD_PREFIX + canonical_json({"workload": str(directory),
                                                      "phase": phase})
        # the layers a phase holds are part of it (a recorded trace's phases gained their
        # vector operators: points of the older layer list are not these points)
        names = hashlib.sha256("\n".join(layer.name for layer in loaded.layers).encode("utf-8"))
        identity = f"{manifest_sha256(directory)}:phase={phase}:layers={names.hexdigest()}"
        return reference, hashlib.sha256(identity.encode("utf-8")).hexdigest(), loaded
    source = {k: v for k, v in loaded.source.items() if k not in ("file", "model")}
    identity = canonical_json({"kind": loaded.kind, "file_sha256": loaded.file_sha256,
                               "source": source})
    text = str(Path(loaded.path).resolve()) if loaded.path is not None else os.fspath(workload)
    reference = WORKLOAD_PREFIX + canonical_json({"workload": text, **given})
    return reference, hashlib.sha256(identity.encode("utf-8")).hexdigest(), loaded


MAX_WORKLOADS = 1_000
"""Most distinct workloads (combinations of workload axis values) the sampled points of one
sweep may take: each is loaded once when the sweep is planned (up to about 0.3 s each)."""


@dataclass(frozen=True)
class PointWorkload:
    """The workload of the points with one combination of workload axis values."""

    reference: str
    """What the worker opens (:func:`sweep_workload`)."""
    sha256: str
    """Its identity (with the layer selection, if any), part of the points' ids."""
    token_columns: dict[str, int]
    """Its phase token counts (:data:`TOKEN_COLUMNS`)."""


def with_layers(identity: str, layers: Sequence[str] | None) -> str:
    """A workload's identity with a layer selection folded in (unchanged without one)."""
    if layers is None:
        return identity
    text = f"{identity}:layers={canonical_json(list(layers))}"
    return hashlib.sha256(text.encode("utf-8")).hexdigest()


def check_layers(loaded: Any, layers: Sequence[str] | None) -> None:
    """An :class:`InputError` naming ``layers`` when a pattern matches none of the workload's
    layers (:func:`spikesim.sim.counts.select_layers`, as ``simulate --layers``)."""
    if layers is not None:
        from spikesim.sim.counts import select_layers

        select_layers(loaded, layers)


def token_columns(loaded: Any) -> dict[str, int]:
    """A workload's :data:`TOKEN_COLUMNS`: its prompt and generated tokens
    (:func:`spikesim.report.phases.phase_tokens`, as ``summary.json`` counts them)."""
    from spikesim.report.phases import phase_tokens

    phases = phase_tokens(loaded.source, loaded.tokens)
    return {"prefill_tokens": phases.get("prefill", (0, 1))[0],
            "generated_tokens": phases.get("decode", (0, 1))[0]}


def sweep_workloads(
    sweep: LoadedSweep, workload: str | Path, params: Mapping[str, Any],
    layers: Sequence[str] | None = None,
) -> dict[str, PointWorkload]:
    """The workload of each distinct combination of workload axis values the sampled points
    take (key: :func:`canonical_json` of :meth:`SweepSpec.workload_values`), in the points'
    order: ``workload`` opened by :func:`spikesim.trace.load_workload` with ``params``
    overridden by the combination, so every refusal is the loader's own.

    Raises
    ------
    InputError
        A value the loader refuses, naming the sweep file and ``axes.<axis>`` that set it; a
        refusal of another parameter (a flag) or of ``layers`` as the loader or
        :func:`check_layers` words it, with the combination; more than
        :data:`MAX_WORKLOADS` combinations (``axes``).
    """
    spec = sweep.spec
    out: dict[str, PointWorkload] = {}
    for point in spec.points():
        combo = spec.workload_values(point)
        key = canonical_json(combo)
        if key in out:
            continue
        if len(out) >= MAX_WORKLOADS:
            raise InputError(
                f"the points take more than {MAX_WORKLOADS:,} distinct workloads (combinations "
                "of workload axis values); use fewer values or sampling: random",
                file=sweep.path, field="axes",
            )
        try:
            reference, identity, loaded = resolve_workload(workload, {**params, **combo})
            check_layers(loaded, layers)
        except InputError as exc:
            raise _workload_axis_error(sweep, point, combo, exc) from None
        out[key] = PointWorkload(reference, with_layers(identity, layers),
                                 token_columns(loaded))
    return out


def _workload_axis_error(
    sweep: LoadedSweep, point: Mapping[str, Any], combo: Mapping[str, Any], exc: InputError
) -> InputError:
    """The loader's refusal of a point's workload: naming the axis whose value it refused (the
    sweep file, ``axes.<axis>``), else as it was, with the combination said."""
    spec = sweep.spec
    if exc.field is not None and exc.field in combo:
        path = WORKLOAD_AXIS_PREFIX + exc.field
        for axis, value in point.items():
            if axis == path:
                return InputError(f"value {echo(value)}: {exc.message}", file=sweep.path,
                                  field=f"axes.{axis}")
            if spec.is_bundle(axis) and path in value:
                return InputError(f"value {echo(value[path])}: {exc.message} (at '{path}')",
                                  file=sweep.path, field=f"axes.{axis}")
    if not combo:
        return exc
    shown = ", ".join(f"{WORKLOAD_AXIS_PREFIX}{k}={v}" for k, v in combo.items())
    return InputError(f"{exc.message} (at {shown} of {sweep.path})", file=exc.file,
                      field=exc.field)


def plan_sweep(
    sweep: LoadedSweep, trace_path: str | Path, trace_sha256: str | None = None,
    *, workloads: Mapping[str, PointWorkload] | None = None,
    layers: Sequence[str] | None = None,
) -> SweepPlan:
    """Resolve every sampled point, apply the constraints, and list the tasks (on the trace
    at ``trace_path``, or the workload of identity ``trace_sha256``; with workload axes, on
    each point's workload of ``workloads``, :func:`sweep_workloads`). ``layers``: the tasks
    simulate only those layers (the caller folds them into ``trace_sha256`` or
    ``workloads``)."""
    from spikesim.config.loader import read_yaml_mapping
    from spikesim.dse.spec import resolve_point
    from spikesim.energy.model import energy_key, energy_model

    spec = sweep.spec
    base_data = read_yaml_mapping(sweep.base_path)
    if workloads is not None:
        trace_sha = hashlib.sha256(
            canonical_json({k: w.sha256 for k, w in workloads.items()}).encode("utf-8")
        ).hexdigest()
    else:
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
        point_sha = trace_sha
        own: dict[str, Any] = {"layers": None if layers is None else tuple(layers)}
        if workloads is not None:
            wl = workloads[canonical_json(spec.workload_values(point))]
            point_sha = wl.sha256
            own.update(workload=wl.reference, workload_sha256=wl.sha256,
                       token_columns=dict(wl.token_columns))
        try:
            hw = resolve_point(sweep.base_path, base_data, overrides)
        except InputError as exc:
            raw = canonical_json({"base": str(sweep.base_path), "overrides": overrides})
            for design in spec.designs:
                tasks.append(
                    PointTask(
                        index=index,
                        point_id=point_id(raw, point_sha, design),
                        design=design,
                        axis_values=spec.column_values(point, None),
                        config=None,
                        area_mm2=math.nan,
                        error=f"InputError: {exc.one_line()}",
                        **own,
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
            pid = point_id(canonical_json(without(config, ignores)), point_sha, design)
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
                    **own,
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
        workloads=0 if workloads is None else len(workloads),
    )


# --------------------------------------------------------------------------------------------
# The task (worker process)
# --------------------------------------------------------------------------------------------

_trace_cache: dict[tuple[str, str], Any] = {}
"""Per worker process: the opened (memory-mapped) traces or loaded shape-only workloads, keyed
by (reference, identity sha256), the most recently used last (at most
:data:`WORKLOADS_PER_WORKER`)."""

WORKLOADS_PER_WORKER = 4
"""Workloads a worker keeps open: the tasks of a sweep with workload axes are handed out
grouped by workload, so points that differ only in hardware never reload theirs."""


def _open_trace(trace_path: str, trace_sha: str) -> Any:
    """The workload a task runs on: ``trace_path`` is a trace directory, or a shape-only
    workload's reference (:data:`WORKLOAD_PREFIX` + the JSON of :func:`load_workload`'s
    arguments, :func:`sweep_workload`)."""
    from spikesim.trace import load_trace, load_workload

    key = (trace_path, trace_sha)
    trace = _trace_cache.pop(key, None)
    if trace is None:
        if trace_path.startswith(WORKLOAD_PREFIX):
            args = json.loads(trace_path[len(WORKLOAD_PREFIX):])
            trace = load_workload(args.pop("workload"), **args)
        else:
            trace = load_trace(trace_path)
        while len(_trace_cache) >= WORKLOADS_PER_WORKER:
            del _trace_cache[next(iter(_trace_cache))]  # the least recently used
    _trace_cache[key] = trace
    return trace


def _rows_table(
    task: PointTask, columns: dict[str, list[Any]], n: int,
    per_token: Mapping[str, float] | None = None,
) -> pa.Table:
    """The point's rows in the dataset's column order, as an Arrow table (a part's content).
    A sweep with workload axes adds :data:`TOKEN_COLUMNS` to every row and
    :data:`PER_TOKEN_COLUMNS` (``per_token``, NaN when absent) to the last (``TOTAL``).

    Each column is typed from its Python values as a DataFrame column of them is stored
    (:func:`_arrow_column`): built from the lists directly, a point's part costs a tenth of a
    DataFrame converted to Arrow (this runs for every point)."""
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
    if task.token_columns is not None:
        rest.update({c: [task.token_columns[c]] * n for c in TOKEN_COLUMNS})
        given = per_token or {}
        rest.update({c: [math.nan] * (n - 1) + [given.get(c, math.nan)]
                     for c in PER_TOKEN_COLUMNS})
    for name in sorted(rest):
        out[name] = rest[name]
    return pa.table({name: _arrow_column(values) for name, values in out.items()})


def _arrow_column(values: list[Any]) -> pa.Array:
    """``values`` as the Arrow array a pandas column of them becomes in Parquet: numbers with
    NaN as null, integers and floats together as floats, text as ``large_string`` (pandas'
    string dtype)."""
    kinds = {type(v) for v in values}
    if kinds <= {int, float} and float in kinds:
        return pa.array([float(v) for v in values], type=pa.float64(), from_pandas=True)
    array = pa.array(values, from_pandas=True)
    if pa.types.is_string(array.type):
        return array.cast(pa.large_string())
    return array


def _error_rows(task: PointTask, error: str) -> pa.Table:
    columns: dict[str, list[Any]] = {m: [math.nan] for m in _LAYER_METRICS}
    columns.update(layer=[TOTAL], op_class=[""], phase=[""], error=[error])
    return _rows_table(task, columns, 1)


def _per_token(layers: pd.DataFrame, clock_hz: float, trace: Any) -> dict[str, float]:
    """:data:`PER_TOKEN_COLUMNS` of one design's layers (:func:`phase_totals` over the
    workload's phase token counts, as ``summary.json`` ``phases``)."""
    from spikesim.report.phases import phase_tokens, phase_totals

    table = phase_totals(layers, clock_hz, phase_tokens(trace.source, trace.tokens))
    out: dict[str, float] = {}
    for row in table.to_dict("records"):
        if row["phase"] == "prefill":
            out["prefill_energy_per_token_pj"] = float(row["energy_per_token_pj"])
        elif row["phase"] == "decode":
            out["decode_energy_per_token_pj"] = float(row["energy_per_token_pj"])
            out["decode_cycles_per_step"] = float(row["total_cycles"]) / float(row["steps"])
    return out


def _result_rows(
    task: PointTask, layers: pd.DataFrame, per_token: Mapping[str, float] | None = None
) -> pa.Table:
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
    return _rows_table(task, columns, n, per_token)


def run_task(
    task: PointTask, trace_path: str, trace_sha: str, cache: bool = True
) -> TaskOutcome:
    """Simulate one (point, design) on the trace (the task's own workload and layers when it
    names them); never raises for a bad point.

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
            trace = _open_trace(task.workload or trace_path,
                                task.workload_sha256 or trace_sha)
            t0 = time.perf_counter()
            result = simulate(hw, trace, [task.design], layers=task.layers, cache=cache,
                              layers_only=True)  # the rows read only the layer table
            sim_seconds = time.perf_counter() - t0
            per_token = (None if task.token_columns is None
                         else _per_token(result.layers, hw.clock_hz, trace))
            rows, failed = _result_rows(task, result.layers, per_token), False
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
    if workers == 1:  # in this process: a worker would only add its start (imports) and pickling
        _run_here(tasks, trace_path, trace_sha, on_outcome, cache)
        return
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


def _run_here(
    tasks: list[PointTask], trace_path: str, trace_sha: str, on_outcome: OnOutcome,
    cache: bool = True,
) -> None:
    """The points one after another in this process, each outcome handed to ``on_outcome``
    (which writes its part, fsync'ed) by one writer thread while the next point runs, in
    order; at most :data:`WRITE_QUEUE` outcomes wait. Interrupted or failed: the queued
    outcomes are still written, then the exception goes on (a writer's own first)."""
    outcomes: queue.Queue[TaskOutcome | None] = queue.Queue(maxsize=WRITE_QUEUE)
    failure: list[BaseException] = []

    def write() -> None:
        while (outcome := outcomes.get()) is not None:
            if not failure:
                try:
                    on_outcome(outcome)
                except BaseException as exc:  # handed to the main thread
                    failure.append(exc)

    writer = threading.Thread(target=write, name="spikesim-sweep-writer", daemon=True)
    writer.start()
    try:
        for task in tasks:
            if failure:
                break
            outcomes.put(run_task(task, trace_path, trace_sha, cache))
    finally:
        outcomes.put(None)
        writer.join()
    if failure:
        raise failure[0]


WRITE_QUEUE = 4
"""Finished points a one-worker sweep keeps waiting for its writer thread."""


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
    layers: Sequence[str] | None = None,
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
        ``tokens``, ``seed``, ``phase``, ``batch``, ``context``, ``decode_steps``, ``stats``);
        ``None``:
        ``trace`` is a trace directory or shipped trace, as ``--trace``. The spec's workload
        axes (``workload.batch`` …) override them point by point: each distinct combination
        is loaded here once (:func:`sweep_workloads`; a value the loader refuses is an error
        naming the axis), is part of its points' ids, and their rows gain
        :data:`TOKEN_COLUMNS` and :data:`PER_TOKEN_COLUMNS`.
    layers:
        Simulate only these layers (names or globs, as ``simulate --layers``; a pattern that
        matches no layer is an error naming ``layers``); part of the point ids. ``None``: all.
    """
    check_workers(workers)
    check_results_target(out)  # before any work: a foreign --out is refused at once
    sweep = spec if isinstance(spec, LoadedSweep) else load_sweep(spec)
    layers = None if layers is None else tuple(layers)
    workloads: dict[str, PointWorkload] | None = None
    if workload is None:
        trace_dir = resolve_trace(trace).resolve()
        from spikesim.trace import load_trace

        try:
            loaded = load_trace(trace_dir)  # validate the manifest up front (one clear error)
        except InputError as exc:
            if exc.field:
                raise
            raise InputError(exc.message, file=exc.file, field="trace") from None
        reference, identity = str(trace_dir), manifest_sha256(trace_dir)
        target: str | Path = trace_dir
    else:
        target, loaded = trace, None
        if not sweep.spec.has_workload_axes:  # else each point's workload is checked below
            try:
                reference, identity, loaded = resolve_workload(trace, workload)
            except InputError as exc:
                if exc.field:
                    raise
                raise InputError(exc.message, file=exc.file, field="workload") from None
    if sweep.spec.has_workload_axes:
        try:
            workloads = sweep_workloads(sweep, target, workload or {}, layers)
        except InputError as exc:
            if exc.field:
                raise
            raise InputError(exc.message, file=exc.file, field="workload") from None
        plan = plan_sweep(sweep, "", "", workloads=workloads, layers=layers)
    else:
        check_layers(loaded, layers)
        plan = plan_sweep(sweep, reference, with_layers(identity, layers), layers=layers)
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
    rank: dict[str, int] = {}
    todo.sort(key=lambda t: rank.setdefault(t.workload, len(rank)))  # grouped by workload
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
                reference = "" if workloads is not None else reference
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
        workloads=plan.workloads,
    )
