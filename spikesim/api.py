"""The Python API: load a hardware config and a workload, simulate designs, get priced tables.

A workload is a trace on disk (:func:`load_trace`) or a shape-only description whose values are
generated per layer on the fly (:func:`load_workload`: a topology CSV, a Hugging Face
``config.json``, a named shape). ``simulate`` is a plain pipeline of typed artifacts per layer
(:mod:`spikesim.pipeline`)::

    WorkloadLayer --design.quantize--> quantized layer --design's dataflow--> LayerSim
        --energy pricing--> rows of SimResult.layers and SimResult.actions
    VectorLayer --vector unit (hw.vector)--> LayerSim, the same row for every design

Designs come from the registry (:mod:`spikesim.dataflows`): ``design_names()`` lists them.
"""

from __future__ import annotations

import os
from collections.abc import Callable, Mapping, Sequence
from pathlib import Path
from typing import Any

from spikesim.config.hardware import HardwareConfig
from spikesim.config.loader import load_hardware as _load_hardware
from spikesim.config.presets import resolve_hardware
from spikesim.dataflows import design_names, get_design, parse_designs
from spikesim.pipeline import simulate
from spikesim.sim.result import SimResult
from spikesim.sim.stats import spike_stats
from spikesim.trace import ShapeWorkload, Trace, Workload
from spikesim.trace import load_trace as _load_trace
from spikesim.trace import load_workload as _load_workload
from spikesim.trace.shipped import resolve_trace

__all__ = [
    "SimResult",
    "design_names",
    "get_design",
    "load_hardware",
    "load_trace",
    "load_workload",
    "parse_designs",
    "run",
    "simulate",
    "spike_stats",
]


def load_hardware(path: str | Path, overrides: dict[str, Any] | None = None) -> HardwareConfig:
    """Load and validate a hardware YAML (with optional ``{dotted.path: value}`` overrides);
    a bare name is a shipped preset (``"spikequant-45nm"``)."""
    return _load_hardware(resolve_hardware(str(path)), overrides)


def load_trace(path: str | Path, *, phase: str | None = None) -> Trace:
    """Open a trace directory (manifest validated; tensors memory-mapped on access); a bare
    name that is not a directory here is a shipped trace (``"smollm2-135m"``). ``phase``:
    None (default) for its linear layers; ``prefill`` adds the attention it recorded
    (``extract --attention``), ``decode`` gives its recorded decode steps, ``both`` all."""
    return _load_trace(resolve_trace(path), phase=phase)


def load_workload(
    workload: str | Path,
    tokens: int | None = None,
    seed: int | None = None,
    *,
    phase: str | None = None,
    batch: int | None = None,
    context: int | None = None,
    decode_steps: int | None = None,
    stats: str | Path | None = None,
) -> Trace | ShapeWorkload:
    """Open a workload for :func:`simulate` and :func:`run`: a trace directory or shipped trace
    (as :func:`load_trace`), a topology CSV (``layer, M, N, K``; SCALE-Sim's GEMM topology
    files too), a Hugging Face ``config.json``, or a named shape (``llama2-7b``, ``llama2-13b``,
    ``llama2-70b``, ``mistral-7b``, ``smollm2-135m``; ``shape:NAME`` forces the shape).

    Shape-only workloads generate each layer's values when it is simulated, seeded (``seed``,
    default 0), with the LLM-like statistics of ``synth``; ``tokens`` (the prefill length M) is
    required for a config or a named shape and replaces M of every row of a CSV. See
    :mod:`spikesim.trace.workload`.

    A model (config or named shape) also takes ``phase`` (``prefill``, the default;
    ``decode``; ``both``), ``batch`` (sequences, default 1), ``context`` (decode: tokens in each
    sequence's KV cache at the first step) and ``decode_steps`` (tokens generated per
    sequence, default 1); see :mod:`spikesim.trace.model_plan`. A trace takes ``phase`` only
    (which of its recorded layers; default its linear layers: :func:`load_trace`).

    ``stats``: a file of ``spikesim fit-stats`` (activation statistics fitted to a real trace,
    :mod:`spikesim.trace.fitstats`) that a shape-only workload generates its linear inputs
    with, for the sites it has.

    Raises
    ------
    InputError
        Naming the file and field at fault, ``tokens``, ``seed``, ``phase``, ``batch``,
        ``context``, ``decode_steps``, ``stats``, or ``workload`` (a missing path, an unknown
        name).
    """
    from spikesim.errors import InputError

    try:
        return _load_workload(workload, tokens=tokens, seed=seed, phase=phase, batch=batch,
                              context=context, decode_steps=decode_steps, stats=stats)
    except InputError as exc:
        if exc.field:
            raise
        raise InputError(exc.message, file=exc.file, field="workload") from None


def run(
    hardware: HardwareConfig | str | Path,
    trace: Workload | str | Path,
    out: str | Path,
    *,
    designs: str | Sequence[str] | None = None,
    layers: Sequence[str] | None = None,
    overrides: Mapping[str, Any] | None = None,
    timeline_layers: Sequence[str] = (),
    figures: bool = True,
    on_layer: Callable[[str, str], None] | None = None,
    command: Sequence[str] | None = None,
    cache: bool = True,
    workers: int = 1,
) -> SimResult:
    """Simulate ``trace`` on ``hardware`` and write the run directory ``out``; return the result.

    This is ``spikesim simulate``: :func:`simulate`, :func:`spike_stats` and
    :func:`spikesim.report.rundir.write_run_dir`. ``out`` is written atomically and replaced
    only if it is absent, empty or a run directory already; a trace that lives inside ``out``
    is carried over. Bad inputs are reported before anything is simulated, in the order
    designs, out, hardware, trace, timeline layers.

    Parameters
    ----------
    hardware:
        A :class:`HardwareConfig`, or a hardware YAML (path) or the name of a preset.
    trace:
        A workload (a :class:`Trace`, or what :func:`load_workload` returns), or a trace
        directory or shipped trace's name.
    out:
        The run directory to write.
    designs, layers, on_layer:
        As in :func:`simulate` (default design: the reference design).
    overrides:
        ``{dotted.path: value}`` applied to the hardware config before validation (recorded in
        ``summary.json``).
    timeline_layers:
        Simulated layers that also get ``timeline-<layer>.json`` (Chrome/Perfetto trace).
    figures:
        Draw ``figures/`` (about a second); ``spikesim report`` draws them later otherwise.
    command:
        The command line recorded in ``summary.json``.
    cache:
        Use the on-disk cache of quantized layers (:mod:`spikesim.sim.quantcache`; off when
        ``SPIKESIM_NO_CACHE=1``). A hit gives the same tables as a miss, bit for bit.
    workers:
        Worker processes counting the layers (:mod:`spikesim.sim.parallel`; one thread each).
        The tables are those of one process, row for row.

    Raises
    ------
    InputError
        Naming the parameter at fault (``designs``, ``out``, ``hardware``, ``trace``,
        ``timeline_layers``, ``layers``) or the config field path (``if_array.lanes``).
    """
    from spikesim.config.loader import apply_overrides, validate_mapping
    from spikesim.errors import InputError
    from spikesim.procpool import check_workers
    from spikesim.report.rundir import check_run_dir_target, write_run_dir
    from spikesim.sim.counts import select_layers
    from spikesim.trace.workload import check_layer_sizes

    def naming(exc: InputError, param: str) -> InputError:
        """``exc`` naming ``param`` when it names no field (a missing or malformed file)."""
        return exc if exc.field else InputError(exc.message, file=exc.file, field=param)

    names = parse_designs(designs)
    check_workers(workers)
    target = check_run_dir_target(out)
    changes = dict(overrides or {})
    hardware_file: Path | None = None
    if isinstance(hardware, HardwareConfig):
        hw = hardware
        if changes:
            data = apply_overrides(hw.model_dump(mode="json"), changes)
            hw = validate_mapping(HardwareConfig, data, file=None)
    else:
        hardware_file = resolve_hardware(str(hardware))
        try:
            hw = load_hardware(hardware_file, changes or None)
        except InputError as exc:
            raise naming(exc, "hardware") from None
    loaded: Workload
    if isinstance(trace, str | os.PathLike):
        try:
            loaded = load_trace(trace)
        except InputError as exc:
            raise naming(exc, "trace") from None
    else:
        loaded = trace
    chosen = select_layers(loaded, layers)
    simulated = [layer.name for layer in chosen]
    timeline = tuple(dict.fromkeys(timeline_layers))
    unknown = [name for name in timeline if name not in simulated]
    if unknown:
        raise InputError(
            f"no such simulated layer(s): {', '.join(unknown)} (layers: {', '.join(simulated)})",
            field="timeline_layers",
        )
    check_layer_sizes(chosen)  # a generated layer too big to hold fails before any simulation
    try:
        result = simulate(hw, loaded, names, layers=layers, on_layer=on_layer, cache=cache,
                          workers=workers)
    except InputError as exc:  # a hardware field found wrong only once a layer is mapped
        if (hardware_file is not None and exc.file is None and exc.field
                and exc.field.split(".")[0] in HardwareConfig.model_fields):
            raise InputError(exc.message, file=hardware_file, field=exc.field) from None
        raise
    keep: tuple[str, ...] = ()
    if loaded.path is not None:  # a trace (or a workload file) inside ``out`` is carried over
        try:
            inside = Path(loaded.path).resolve().relative_to(target.resolve())
            keep = () if inside == Path(".") else (inside.as_posix(),)
        except ValueError:  # it lives elsewhere
            keep = ()
    write_run_dir(
        target,
        result,
        hardware_file=hardware_file,
        overrides=changes,
        keep=keep,
        command=command,
        spike_stats=(
            result.spike_stats if result.spike_stats is not None
            else spike_stats(hw, loaded, layers=layers)
        ),
        timeline_layers=timeline,
        figures=figures,
    )
    return result
