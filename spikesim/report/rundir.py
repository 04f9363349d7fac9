"""Run directories: the one module that writes them.

A run directory is self-describing::

    RUN_DIR/
        config.yaml        the hardware configuration as simulated (every default explicit)
        layers.csv         SimResult.layers: one row per (layer, design)
        actions.csv        SimResult.actions: priced action counts with their sources
        transactions.csv   SimResult.transactions: the transaction timeline
        summary.json       versions, git revision, inputs and their SHA-256, overrides, totals
                           (per design, and per design and operator class: op_classes)
        spike_stats.csv    optional: histogram of |q| per layer (``spikesim.sim.stats.spike_stats``)
        report.md          rendered from the files above only (:mod:`spikesim.report.markdown`)
        figures/*.png,pdf  drawn from the files above only (:mod:`spikesim.report.figures`)
        timeline-L.json    optional: layer L's transactions as a Chrome/Perfetto trace

Tables are always read back from the written files before the report and the figures are made,
so a report regenerated from a copy of the directory (``spikesim report``) is the same.

Writing is atomic: everything goes into a hidden temporary sibling directory, which replaces
``RUN_DIR`` only once complete (the old directory is moved aside, the new one moved in, the old
one deleted). An existing ``RUN_DIR`` is only ever replaced if it is a run directory (it holds a
``summary.json`` written by spikesim: a JSON object with ``spikesim_version``) or empty; a path
under a file is refused too. On any failure, and on SIGTERM, SIGINT or SIGHUP while staging
(:func:`spikesim.fsutil.interruptible`), the old directory is left as it was and no temporary
directory remains; the staging of a writer killed outright is removed by the next writer of the
same ``RUN_DIR`` (:func:`spikesim.fsutil.remove_debris`).

Tables read back (by the report, the figures, ``spikesim report``) are checked: a count column
(cycles, tokens, bytes, ...) must hold integers from 0 to 2**53, a real column (pJ, ratios)
finite numbers from 0 to 1e30, and the ``summary.json`` fields the report reads their JSON types;
anything else is an :class:`InputError` naming the file and the column or field.

CSVs are written without index and with full float precision, so the same inputs give
byte-identical ``layers.csv`` and ``actions.csv``.
"""

from __future__ import annotations

import contextlib
import hashlib
import json
import math
import os
import platform
import shutil
import subprocess
from collections.abc import Callable, Iterator, Mapping, Sequence
from concurrent.futures import ThreadPoolExecutor
from datetime import UTC, datetime
from importlib.metadata import PackageNotFoundError
from importlib.metadata import version as _dist_version
from pathlib import Path
from typing import TYPE_CHECKING, Any, NoReturn

import numpy as np
import pandas as pd

from spikesim.config.loader import hardware_to_yaml
from spikesim.dataflows import reference_design
from spikesim.energy import energy_label
from spikesim.errors import InputError
from spikesim.fsutil import (
    atomic_write_file,
    interruptible,
    make_sibling_dir,
    read_json_object,
    replace_dir,
    signals_deferred,
    staged_dir,
)
from spikesim.report.csvout import write_csv
from spikesim.report.figures import RunTables, compare_figures, run_figures
from spikesim.report.markdown import (
    FIGURES_DIR,
    accounting,
    design_totals,
    op_class_totals,
    render_comparison,
    render_report,
    run_labels,
)
from spikesim.report.phases import phase_tokens, phase_totals
from spikesim.report.pricing import pricing_assumptions
from spikesim.report.timeline import chrome_trace, timeline_file_name
from spikesim.schema import LAYER_KEYS, SPIKE_STATS_COLUMNS, TRANSACTION_COLUMNS
from spikesim.sim.compare import compare_designs
from spikesim.trace.workload import workload_summary

if TYPE_CHECKING:
    from matplotlib.figure import Figure

    from spikesim.sim.result import SimResult

__all__ = [
    "COMPARE_MARKER",
    "FIGURE_DPI",
    "RUN_FILES",
    "SPIKE_STATS_NAME",
    "SUMMARY_NAME",
    "build_summary",
    "check_run_dir_target",
    "git_revision",
    "read_figure_tables",
    "read_run_tables",
    "save_figures",
    "staged_run_dir",
    "write_comparison",
    "write_report",
    "write_run_dir",
    "write_run_files",
    "write_timeline",
]

SUMMARY_NAME = "summary.json"
"""The file whose presence marks a directory as a spikesim run directory."""

RUN_FILES = (
    "config.yaml",
    "layers.csv",
    "actions.csv",
    "transactions.csv",
    SUMMARY_NAME,
    "report.md",
)
"""Files every run directory holds."""

_LAYERS_REQUIRED = (
    "layer",
    "design",
    "tokens",
    "k",
    "total_cycles",
    "compute_cycles",
    "stall_encoder_cycles",
    "stall_bank_cycles",
    "stall_dram_cycles",
    "utilization",
    "energy_pj",
    "spikes",
    "salient_ratio",
)
_ACTIONS_REQUIRED = (
    *LAYER_KEYS,
    "component",
    "action",
    "bits",
    "energy_per_action_pj",
    "energy_pj",
    "source",
)
"""Columns of ``actions.csv`` the report reads. The provenance columns (``energy_table``, ...)
are optional: older run directories have ``source`` only, and the report shows it whole."""

SPIKE_STATS_NAME = "spike_stats.csv"
"""Optional table of a run directory: per layer, how many activations have each |q|."""
COMPARE_MARKER = "compare.json"
"""The file marking a directory as a comparison written by :func:`write_comparison`."""
FIGURE_DPI = 200
"""Resolution of the PNG figures (the PDFs are vector)."""
_PDF_METADATA = {"CreationDate": None}  # no timestamp: same tables, same bytes
_GIT_TIMEOUT_S = 5.0


# --------------------------------------------------------------------------------------------
# Provenance
# --------------------------------------------------------------------------------------------


def _sha256_bytes(data: bytes) -> str:
    return hashlib.sha256(data).hexdigest()


def _sha256_file(path: Path) -> str:
    digest = hashlib.sha256()
    with open(path, "rb") as fh:
        for chunk in iter(lambda: fh.read(1 << 20), b""):
            digest.update(chunk)
    return digest.hexdigest()


def _source_root() -> Path:
    """The folder holding the ``spikesim`` package (the repository root for source installs)."""
    return Path(__file__).resolve().parents[2]


def _git(args: Sequence[str], cwd: Path) -> str | None:
    try:
        proc = subprocess.run(
            ["git", *args],
            cwd=cwd,
            capture_output=True,
            text=True,
            timeout=_GIT_TIMEOUT_S,
            check=False,
        )
    except (OSError, subprocess.SubprocessError):
        return None
    return proc.stdout if proc.returncode == 0 else None


def git_revision(root: Path | None = None) -> tuple[str | None, bool | None]:
    """(commit, dirty) of the git work tree the spikesim sources live in, or (None, None).

    Only a work tree whose top level *is* the folder holding the package counts, so an install
    inside some unrelated repository reports nothing rather than a wrong revision.
    """
    root = (root or _source_root()).resolve()
    out = _git(["rev-parse", "--show-toplevel", "HEAD"], root)
    if out is None:
        return None, None
    parts = out.split()
    if len(parts) != 2 or Path(parts[0]).resolve() != root:
        return None, None
    status = _git(["status", "--porcelain", "--untracked-files=no"], root)
    return parts[1], (None if status is None else bool(status.strip()))


def _version(dist: str) -> str | None:
    try:
        return _dist_version(dist)
    except PackageNotFoundError:
        return None


def _plain(value: Any) -> Any:
    """JSON-ready copy: numpy scalars → Python numbers, tuples → lists, paths → strings."""
    if isinstance(value, Mapping):
        return {str(k): _plain(v) for k, v in value.items()}
    if isinstance(value, list | tuple):
        return [_plain(v) for v in value]
    if isinstance(value, Path):
        return str(value)
    if hasattr(value, "item") and callable(value.item):  # numpy scalar
        return value.item()
    return value


def build_summary(
    result: SimResult,
    *,
    hardware_file: str | Path | None,
    overrides: Mapping[str, Any],
    config_text: str,
    trace_path: str | Path | None = None,
    command: Sequence[str] | None = None,
) -> dict[str, Any]:
    """The contents of ``summary.json`` for ``result``.

    Parameters
    ----------
    result:
        The simulation result.
    hardware_file:
        The hardware YAML the configuration was loaded from (hashed), or ``None``.
    overrides:
        The ``--set`` overrides applied on top of that file.
    config_text:
        The text written to ``config.yaml`` (hashed).
    trace_path:
        Where the trace lives for the user (default: ``result.trace.path``; a shape-only
        workload records its own file, or none).
    command:
        The command line that produced the run, if any.
    """
    trace = result.trace
    hw = result.hardware
    revision, dirty = git_revision()
    totals = design_totals(result.layers, hw.clock_hz, trace.tokens)
    hw_path = None if hardware_file is None else Path(hardware_file)
    summary: dict[str, Any] = {
        "spikesim_version": _spikesim_version(),
        "git_revision": revision,
        "git_dirty": dirty,
        "python": platform.python_version(),
        "numpy": _version("numpy"),
        "numba": _version("numba"),
        "pandas": _version("pandas"),
        "created_utc": datetime.now(UTC).isoformat(timespec="seconds"),
        "command": None if command is None else list(command),
        "seed": trace.source.get("seed"),
        "trace": workload_summary(trace, trace_path),
        "hardware": {
            "name": hw.name,
            "file": None if hw_path is None else str(hw_path.resolve()),
            "file_sha256": None if hw_path is None else _sha256_file(hw_path),
            "config_sha256": _sha256_bytes(config_text.encode("utf-8")),
            "clock_hz": hw.clock_hz,
            "energy_table": energy_label(hw.energy),
        },
        "pricing": pricing_assumptions(hw, result.actions, result.designs),
        "overrides": dict(overrides),
        "designs": list(result.designs),
        "notes": list(result.notes),
        "layers": list(dict.fromkeys(result.layers["layer"])),
        "totals": totals.to_dict("records"),
        "op_classes": op_class_totals(result.layers).to_dict("records"),
        "phases": phase_totals(
            result.layers, hw.clock_hz, phase_tokens(trace.source, trace.tokens)
        ).to_dict("records"),
        "accounting": accounting(totals),
        "comparison": {
            "reference": reference_design(),
            "rows": compare_designs(result.layers).to_dict("records"),
        },
    }
    return _plain(summary)


def _spikesim_version() -> str:
    from spikesim.version import __version__

    return __version__


# --------------------------------------------------------------------------------------------
# Atomic directory replacement
# --------------------------------------------------------------------------------------------


def check_run_dir_target(target: str | Path) -> Path:
    """Check that ``target`` may become a run directory (absent, empty, or a run directory).

    Raises
    ------
    InputError
        ``field="out"`` if ``target`` is a file or a non-empty directory without
        ``summary.json`` (it is never replaced then).
    """
    target = Path(target)
    if target.is_symlink() or (target.exists() and not target.is_dir()):
        raise InputError(
            "exists and is not a directory; refusing to replace it", file=target, field="out"
        )
    check_parent_dirs(target, field="out")
    if target.is_dir():
        try:
            entries = list(target.iterdir())
        except OSError as exc:
            raise InputError(
                f"cannot read directory: {exc.strerror or exc}", file=target, field="out"
            ) from None
        if entries and not is_run_dir(target):
            raise InputError(
                "exists, is not empty and is not a spikesim run directory (no summary.json "
                "written by spikesim); refusing to replace it",
                file=target,
                field="out",
            )
    return target


def check_parent_dirs(target: Path, *, field: str) -> None:
    """The nearest existing ancestor of ``target`` must be a directory (else ``InputError``)."""
    for parent in Path(target).parents:
        if os.path.lexists(parent):
            if not parent.is_dir():
                raise InputError(
                    f"cannot be created: '{parent}' is not a directory", file=target, field=field
                )
            return


_SUMMARY_MAX_BYTES = 1 << 30
"""A ``summary.json`` larger than this is not read (1 GiB; a 10,000-layer run's is ~2 MB, but
a whole llama2-7b decode step at batch 64, 131,584 layers, wrote one over 64 MiB, the limit
before, and failed after 70 minutes when its own report read it back)."""


def is_run_dir(path: str | Path) -> bool:
    """True when ``path`` holds a ``summary.json`` written by spikesim (a JSON object with
    ``spikesim_version``): only such a directory is ever replaced by a new run."""
    summary = Path(path) / SUMMARY_NAME
    if summary.is_symlink() or not summary.is_file():
        return False
    try:
        return "spikesim_version" in read_json_object(summary, _SUMMARY_MAX_BYTES)
    except InputError:
        return False


def _link_or_copy(src: str, dst: str) -> object:
    try:
        os.link(src, dst)
    except OSError:
        shutil.copy2(src, dst)
    return dst


@contextlib.contextmanager
def staged_run_dir(target: str | Path, *, keep: Sequence[str] = ()) -> Iterator[Path]:
    """Yield an empty temporary sibling of ``target``; on success it replaces ``target``.

    ``keep`` names entries (relative paths) of an existing ``target`` to carry over into the new
    directory (hard-linked where possible), e.g. a trace that lives inside the run directory.
    If the body raises, the temporary directory is removed and ``target`` is untouched.

    Raises
    ------
    InputError
        ``target`` may not be replaced (see :func:`check_run_dir_target`), or an ``OSError``
        occurred while writing (the error names the path, ``field="out"``).
    """
    target = check_run_dir_target(target)
    with interruptible():
        try:
            with staged_dir(target) as tmp:
                for rel in keep:
                    src = target / rel
                    if src.is_dir():
                        shutil.copytree(src, tmp / rel, copy_function=_link_or_copy)
                    elif src.is_file():
                        (tmp / rel).parent.mkdir(parents=True, exist_ok=True)
                        _link_or_copy(str(src), str(tmp / rel))
                yield tmp
        except OSError as exc:
            where = exc.filename if exc.filename is not None else target
            raise InputError(
                f"cannot write run directory: {exc.strerror or exc}", file=where, field="out"
            ) from None


# --------------------------------------------------------------------------------------------
# Writing and reading the files
# --------------------------------------------------------------------------------------------


def _write_text(path: Path, text: str) -> None:
    with open(path, "w", encoding="utf-8", newline="\n") as fh:
        fh.write(text)


def write_run_files(
    directory: str | Path,
    result: SimResult,
    *,
    hardware_file: str | Path | None,
    overrides: Mapping[str, Any] | None = None,
    trace_path: str | Path | None = None,
    command: Sequence[str] | None = None,
    spike_stats: pd.DataFrame | None = None,
    timeline_layers: Sequence[str] = (),
    figures: bool = True,
    figure_dpi: int = FIGURE_DPI,
) -> None:
    """Write every run file of ``result`` into ``directory`` (normally a staged directory).

    ``report.md`` and ``figures/`` are made from the written tables as read back, exactly as
    ``spikesim report`` does, except ``spike_stats`` (integers and names, which read back
    equal; the largest table), used as it is. ``spike_stats``
    (``spikesim.sim.stats.spike_stats``) is written as ``spike_stats.csv`` when given; each of
    ``timeline_layers`` gets a Chrome/Perfetto trace (``timeline-<layer>.json``) made from
    ``transactions.csv``. ``figures=False`` skips drawing (about a second per run;
    ``report.md`` then says so, and :func:`write_report` draws them).
    """
    directory = Path(directory)
    config_text = hardware_to_yaml(result.hardware)
    _write_text(directory / "config.yaml", config_text)

    def write_long_tables() -> None:  # integer/string tables: Arrow writes them without the GIL
        write_csv(result.transactions, directory / "transactions.csv")
        if spike_stats is not None:
            write_csv(spike_stats, directory / SPIKE_STATS_NAME)

    # the two longest tables are written beside the rest and the report (a whole-model run:
    # ~1.3 GB), which do not read them; leaving this block waits for them, error or not
    with ThreadPoolExecutor(1, thread_name_prefix="spikesim-tables") as pool:
        long_tables = pool.submit(write_long_tables)
        write_csv(result.layers, directory / "layers.csv")
        write_csv(result.actions, directory / "actions.csv")
        summary = build_summary(
            result,
            hardware_file=hardware_file,
            overrides=overrides or {},
            config_text=config_text,
            trace_path=trace_path,
            command=command,
        )
        _write_text(
            directory / SUMMARY_NAME,
            json.dumps(summary, indent=2, ensure_ascii=False, allow_nan=False) + "\n",
        )
        _render_into(directory, directory, figure_dpi if figures else None, spike_stats)
        long_tables.result()
    for layer in timeline_layers:
        write_timeline(directory, layer)


def write_run_dir(
    target: str | Path,
    result: SimResult,
    *,
    hardware_file: str | Path | None,
    overrides: Mapping[str, Any] | None = None,
    keep: Sequence[str] = (),
    command: Sequence[str] | None = None,
    spike_stats: pd.DataFrame | None = None,
    timeline_layers: Sequence[str] = (),
    figures: bool = True,
    figure_dpi: int = FIGURE_DPI,
) -> Path:
    """Write the run directory of ``result`` at ``target`` atomically; return ``target``.

    ``spike_stats``, ``timeline_layers``, ``figures`` and ``figure_dpi`` as in
    :func:`write_run_files`.

    Raises
    ------
    InputError
        ``target`` is neither absent, empty nor a run directory, or writing failed.
    """
    target = Path(target)
    trace_path = result.trace.path
    with staged_run_dir(target, keep=keep) as stage:
        write_run_files(
            stage,
            result,
            hardware_file=hardware_file,
            overrides=overrides,
            trace_path=trace_path,
            command=command,
            spike_stats=spike_stats,
            timeline_layers=timeline_layers,
            figures=figures,
            figure_dpi=figure_dpi,
        )
    return target


_MAX_COUNT = 2**53
"""Largest integer a count column (cycles, tokens, bytes, ...) may hold: exact in a float64."""
_MAX_REAL = 1e30
"""Largest value of a real column (pJ, ratios): far above any run, far below overflow."""

_LAYERS_INT = (
    "tokens", "k", "n", "total_cycles", "compute_cycles", "stall_cycles",
    "stall_encoder_cycles", "stall_bank_cycles", "stall_dram_cycles",
    "spikes", "acc_ops", "mac_ops", "overflow_events",
    "dram_weight_bytes", "dram_activation_bytes", "dram_output_bytes",
)
_LAYERS_REAL = ("utilization", "energy_pj", "salient_ratio")
_ACTIONS_NUMERIC = {"count": True, "bits": True, "energy_per_action_pj": False,
                    "energy_pj": False}
_STATS_NUMERIC = {"abs_q": True, "normal_count": True, "salient_count": True}
_TRANSACTIONS_NUMERIC = {"step": True, "start_cycle": True, "end_cycle": True}


def _layers_numeric(columns: Sequence[str]) -> dict[str, bool]:
    """Numeric columns of ``layers.csv`` present in ``columns``: name → is a count."""
    out = {c: True for c in _LAYERS_INT if c in columns}
    out.update({c: False for c in _LAYERS_REAL if c in columns})
    out.update(
        {c: False for c in columns if c.startswith("energy_") and c.endswith("_pj")}
    )
    return out


def _check_numeric(frame: pd.DataFrame, path: Path, col: str, count: bool) -> None:
    """Every value of ``col`` a finite number >= 0 (an integer <= 2**53 for a count), else an
    ``InputError`` naming the file, the column and the first bad line."""
    raw = frame[col]
    if pd.api.types.is_bool_dtype(raw):
        values = pd.Series(math.nan, index=raw.index)
    else:
        values = pd.to_numeric(raw, errors="coerce").astype("float64")
    v = values.to_numpy(np.float64)
    with np.errstate(invalid="ignore"):
        bad = ~np.isfinite(v) | (v < 0) | (v > (_MAX_COUNT if count else _MAX_REAL))
        if count:
            bad |= v != np.floor(v)
    if bad.any():
        row = int(np.flatnonzero(bad)[0])
        value = raw.iloc[row]
        shown = "an empty cell" if isinstance(value, float) and math.isnan(value) else repr(value)
        shown = shown if len(shown) <= 40 else shown[:37] + "..."
        what = ("an integer from 0 to 2**53" if count
                else f"a finite number from 0 to {_MAX_REAL:g}")
        raise InputError(f"line {row + 2}: {shown} is not {what}", file=path, field=col)
    if raw.dtype == object:  # e.g. huge integers read as Python ints: now known to fit
        frame[col] = values.astype("int64") if count else values


def _read_csv(
    path: Path,
    required: Sequence[str],
    *,
    numeric: Mapping[str, bool] | Callable[[Sequence[str]], Mapping[str, bool]] | None = None,
) -> pd.DataFrame:
    """A table of a run directory: ``required`` columns present, ``numeric`` ones (name → is a
    count) finite and in range."""
    if not path.is_file():
        raise InputError("missing from the run directory", file=path)
    try:
        frame = pd.read_csv(path, keep_default_na=False, na_values=[""])
    except (OSError, ValueError, OverflowError, pd.errors.ParserError) as exc:
        raise InputError(f"cannot read CSV: {' '.join(str(exc).split())}", file=path) from None
    for col in required:
        if col not in frame.columns:
            raise InputError("missing column", file=path, field=col)
    columns = [str(c) for c in frame.columns]
    if len(set(columns)) != len(columns):
        raise InputError("a column name appears twice", file=path)
    kinds = numeric(columns) if callable(numeric) else (numeric or {})
    for col, count in kinds.items():
        if col in frame.columns:
            _check_numeric(frame, path, col, count)
    return frame


def _check_summary(summary: Mapping[str, Any], path: Path) -> None:
    """The ``summary.json`` fields the report reads have the types it needs (else an
    ``InputError`` naming the file and field)."""

    def fail(field: str, what: str) -> NoReturn:
        raise InputError(f"must be {what}", file=path, field=field)

    def number(value: Any, field: str, limit: float, integer: bool) -> None:
        if value is None:
            return
        ok = isinstance(value, int | float) and not isinstance(value, bool)
        ok = ok and math.isfinite(value) and 0 <= value <= limit
        if not ok or (integer and not float(value).is_integer()):
            fail(field, f"{'an integer' if integer else 'a number'} from 0 to {limit:g} or null")

    for key in ("trace", "hardware", "overrides", "pricing"):
        if summary.get(key) is not None and not isinstance(summary[key], dict):
            fail(key, "a JSON object")
    for key in ("designs", "notes"):
        value = summary.get(key)
        if value is not None and not (
            isinstance(value, list) and all(isinstance(v, str) for v in value)
        ):
            fail(key, "a list of strings")
    trace = summary.get("trace") or {}
    hardware = summary.get("hardware") or {}
    if trace.get("source") is not None and not isinstance(trace["source"], dict):
        fail("trace.source", "a JSON object")
    number(trace.get("tokens"), "trace.tokens", _MAX_COUNT, True)
    number(hardware.get("clock_hz"), "hardware.clock_hz", 1e15, False)
    pricing = summary.get("pricing") or {}
    designs = pricing.get("designs")
    if designs is None:
        return
    if not isinstance(designs, dict):
        fail("pricing.designs", "a JSON object")
    for name, info in designs.items():
        where = f"pricing.designs.{name}"
        if not isinstance(info, dict):
            fail(where, "a JSON object")
        tables = info.get("energy_tables")
        if tables is not None and not isinstance(tables, list):
            fail(f"{where}.energy_tables", "a list")
        actions = info.get("array_actions")
        if actions is None:
            continue
        if not isinstance(actions, list) or not all(isinstance(a, dict) for a in actions):
            fail(f"{where}.array_actions", "a list of JSON objects")
        for i, action in enumerate(actions):
            number(action.get("energy_per_action_pj"),
                   f"{where}.array_actions[{i}].energy_per_action_pj", _MAX_REAL, False)


def read_run_tables(run_dir: str | Path) -> tuple[pd.DataFrame, pd.DataFrame, dict[str, Any]]:
    """``layers.csv``, ``actions.csv`` and ``summary.json`` of a run directory.

    Raises
    ------
    InputError
        The directory or a file is missing or unreadable, or a required column is absent.
    """
    run_dir = Path(run_dir)
    if not run_dir.is_dir():
        raise InputError("run directory does not exist", file=run_dir)
    summary_path = run_dir / SUMMARY_NAME
    if not summary_path.is_file():
        raise InputError("not a spikesim run directory (no summary.json)", file=run_dir)
    summary = read_json_object(summary_path, _SUMMARY_MAX_BYTES)
    _check_summary(summary, summary_path)
    layers = _read_csv(run_dir / "layers.csv", _LAYERS_REQUIRED, numeric=_layers_numeric)
    actions = _read_csv(run_dir / "actions.csv", _ACTIONS_REQUIRED, numeric=_ACTIONS_NUMERIC)
    return layers, actions, summary


def read_figure_tables(run_dir: str | Path, label: str = "") -> RunTables:
    """The tables figures are drawn from: ``layers.csv``, ``actions.csv``, ``spike_stats.csv``
    (if present), with the clock and token count of ``summary.json``.

    Raises
    ------
    InputError
        As :func:`read_run_tables`; also a malformed ``spike_stats.csv``.
    """
    return _figure_tables(Path(run_dir), label)[0]


def _figure_tables(
    run_dir: Path, label: str = "", spike_stats: pd.DataFrame | None = None
) -> tuple[RunTables, dict[str, Any]]:
    """:func:`read_figure_tables` and ``summary.json``; ``spike_stats``, when given, is the
    table just written to ``spike_stats.csv`` (by :func:`write_run_files`: integer counts and
    layer names, which read back equal), used instead of reading it back."""
    layers, actions, summary = read_run_tables(run_dir)
    stats_path = run_dir / SPIKE_STATS_NAME
    if spike_stats is not None:
        stats: pd.DataFrame | None = spike_stats
    elif stats_path.is_file():
        stats = _read_csv(stats_path, SPIKE_STATS_COLUMNS, numeric=_STATS_NUMERIC)
    else:
        stats = None
    tables = RunTables(
        layers=layers,
        actions=actions,
        spike_stats=stats,
        label=label or str(summary.get("hardware", {}).get("name") or run_dir.name),
        clock_hz=float(summary.get("hardware", {}).get("clock_hz") or 0.0),
        tokens=int(summary.get("trace", {}).get("tokens") or 0),
        phases=_phases_of(summary),
    )
    return tables, summary


def _phases_of(summary: Mapping[str, Any]) -> dict[str, Any] | None:
    """A model run's phase plan (``trace.source.phases``), or None."""
    trace = summary.get("trace")
    source = trace.get("source") if isinstance(trace, Mapping) else None
    phases = source.get("phases") if isinstance(source, Mapping) else None
    return dict(phases) if isinstance(phases, Mapping) else None


def save_figures(figures: Mapping[str, Figure], directory: str | Path, dpi: int) -> list[Path]:
    """Save each figure as ``<name>.png`` (``dpi``) and ``<name>.pdf`` (vector) in ``directory``
    (created); PDFs carry no timestamp and embed TrueType fonts. Returns the paths written."""
    import matplotlib

    directory = Path(directory)
    directory.mkdir(parents=True, exist_ok=True)
    paths = []
    with matplotlib.rc_context({"pdf.fonttype": 42, "ps.fonttype": 42}):
        for name, fig in figures.items():
            png, pdf = directory / f"{name}.png", directory / f"{name}.pdf"
            fig.savefig(png, dpi=dpi, metadata={"Software": None})
            fig.savefig(pdf, metadata=_PDF_METADATA)
            paths += [png, pdf]
    return paths


def _render_into(
    run_dir: Path, out: Path, dpi: int | None, spike_stats: pd.DataFrame | None = None
) -> None:
    """``report.md`` and (unless ``dpi`` is None) ``figures/`` of ``run_dir``'s tables, written
    into ``out`` (``spike_stats``: the table of ``spike_stats.csv``, just written)."""
    tables, summary = _figure_tables(run_dir, spike_stats=spike_stats)
    text = render_report(
        tables.layers, tables.actions, summary, tables.spike_stats, figures=dpi is not None
    )
    _write_text(out / "report.md", text)
    if dpi is not None:
        save_figures(run_figures(tables), out / FIGURES_DIR, dpi)


def write_report(run_dir: str | Path, *, figure_dpi: int = FIGURE_DPI) -> Path:
    """Regenerate ``report.md`` and ``figures/`` of a run directory from its tables.

    Both are made in a hidden staging folder inside ``run_dir`` first; the figures folder and
    then ``report.md`` replace the old ones only once everything was drawn.

    Raises
    ------
    InputError
        The run directory's tables cannot be read, or the report cannot be written.
    """
    run_dir = Path(run_dir)
    read_run_tables(run_dir)  # fail early, before creating anything
    path = run_dir / "report.md"
    stage: Path | None = None
    with interruptible():
        try:
            with signals_deferred():
                stage = make_sibling_dir(run_dir / "report", "tmp")
            _render_into(run_dir, stage, figure_dpi)
            with signals_deferred():  # figures and report.md change together
                replace_dir(stage / FIGURES_DIR, run_dir / FIGURES_DIR)
                os.replace(stage / "report.md", path)
        except OSError as exc:
            where = exc.filename if exc.filename is not None else path
            raise InputError(f"cannot write report: {exc.strerror or exc}", file=where) from None
        finally:
            if stage is not None:
                shutil.rmtree(stage, ignore_errors=True)
    return path


def write_timeline(run_dir: str | Path, layer: str) -> Path:
    """Write ``timeline-<layer>.json`` (Chrome/Perfetto trace of ``layer``) into ``run_dir``
    from its ``transactions.csv`` and the clock in ``summary.json``; return its path.

    Raises
    ------
    InputError
        The tables cannot be read, ``layer`` has no transactions, or writing failed.
    """
    run_dir = Path(run_dir)
    _, _, summary = read_run_tables(run_dir)
    transactions = _read_csv(
        run_dir / "transactions.csv", TRANSACTION_COLUMNS, numeric=_TRANSACTIONS_NUMERIC
    )
    clock_hz = float(summary.get("hardware", {}).get("clock_hz") or 0.0)
    try:
        trace = chrome_trace(transactions, layer, clock_hz)
    except InputError as exc:
        raise InputError(exc.message, file=run_dir / "transactions.csv", field=exc.field) from None
    path = run_dir / timeline_file_name(layer)
    data = (json.dumps(trace, allow_nan=False) + "\n").encode("utf-8")
    try:
        atomic_write_file(path, lambda fh: fh.write(data))
    except OSError as exc:
        where = exc.filename if exc.filename is not None else path
        raise InputError(f"cannot write timeline: {exc.strerror or exc}", file=where) from None
    return path


def check_compare_target(target: str | Path) -> Path:
    """Check that ``target`` may become a comparison directory (absent, empty, or one already).

    Raises
    ------
    InputError
        ``field="out"`` otherwise (it is never replaced then).
    """
    target = Path(target)
    if target.is_symlink() or (target.exists() and not target.is_dir()):
        raise InputError("exists and is not a directory; refusing to replace it", file=target,
                         field="out")
    check_parent_dirs(target, field="out")
    if target.is_dir() and any(target.iterdir()) and not (target / COMPARE_MARKER).is_file():
        raise InputError(
            f"exists, is not empty and is not a spikesim comparison (no {COMPARE_MARKER}); "
            "refusing to replace it",
            file=target,
            field="out",
        )
    return target


def write_comparison(
    run_dirs: Sequence[str | Path], out: str | Path, *, figure_dpi: int = FIGURE_DPI
) -> Path:
    """Write the combined report of several run directories into ``out`` (atomically).

    ``out`` receives ``compare.md`` (runs, totals per run and design, figures),
    ``compare.json`` (the run directories and their ``summary.json`` SHA-256, marking the
    folder) and ``figures/compare_*.png|pdf``, all drawn from the runs' tables only.

    Raises
    ------
    InputError
        A run directory cannot be read, ``out`` may not be replaced, or writing failed.
    """
    if len(run_dirs) < 2:
        raise InputError("a comparison needs at least two run directories", field="run_dirs")
    dirs = [Path(d) for d in run_dirs]
    summaries = [read_run_tables(d)[2] for d in dirs]
    labels = run_labels(
        [str(s.get("hardware", {}).get("name") or "") for s in summaries], [str(d) for d in dirs]
    )
    tables = [read_figure_tables(d, label) for d, label in zip(dirs, labels, strict=True)]
    text = render_comparison(
        [
            (label, str(d), t.layers, s)
            for label, d, t, s in zip(labels, dirs, tables, summaries, strict=True)
        ]
    )
    marker = {
        "runs": [
            {
                "label": label,
                "run_dir": str(d),
                "summary_sha256": _sha256_file(d / SUMMARY_NAME),
            }
            for label, d in zip(labels, dirs, strict=True)
        ]
    }
    target = check_compare_target(out)
    with interruptible():
        try:
            with staged_dir(target) as tmp:
                _write_text(tmp / "compare.md", text)
                _write_text(tmp / COMPARE_MARKER, json.dumps(marker, indent=2) + "\n")
                save_figures(compare_figures(tables), tmp / FIGURES_DIR, figure_dpi)
        except OSError as exc:
            where = exc.filename if exc.filename is not None else target
            raise InputError(
                f"cannot write comparison: {exc.strerror or exc}", file=where, field="out"
            ) from None
    return target / "compare.md"
