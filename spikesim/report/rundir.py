"""Run directories: the one module that writes them.

A run directory is self-describing::

    RUN_DIR/
        config.yaml        the hardware configuration as simulated (every default explicit)
        layers.csv         SimResult.layers: one row per (layer, design)
        actions.csv        SimResult.actions: priced action counts with their sources
        transactions.csv   SimResult.transactions: the transaction timeline
        summary.json       versions, git revision, inputs and their SHA-256, overrides, totals
        report.md          rendered from the files above only (:mod:`spikesim.report.markdown`)

Writing is atomic: everything goes into a hidden temporary sibling directory, which replaces
``RUN_DIR`` only once complete (the old directory is moved aside, the new one moved in, the old
one deleted). An existing ``RUN_DIR`` is only ever replaced if it is a run directory (it holds
``summary.json``) or empty. On any failure the old directory is left as it was and no temporary
directory remains. CSVs are written without index and with full float precision, so the same
inputs give byte-identical ``layers.csv`` and ``actions.csv``.
"""

from __future__ import annotations

import contextlib
import hashlib
import json
import os
import platform
import secrets
import shutil
import subprocess
from collections.abc import Iterator, Mapping, Sequence
from datetime import UTC, datetime
from importlib.metadata import PackageNotFoundError
from importlib.metadata import version as _dist_version
from pathlib import Path
from typing import TYPE_CHECKING, Any

import pandas as pd

from spikesim.config.loader import hardware_to_yaml
from spikesim.errors import InputError
from spikesim.report.compare import REFERENCE_DESIGN, compare_designs
from spikesim.report.markdown import design_totals, render_report

if TYPE_CHECKING:
    from spikesim.api import SimResult

__all__ = [
    "RUN_FILES",
    "SUMMARY_NAME",
    "build_summary",
    "check_run_dir_target",
    "git_revision",
    "read_run_tables",
    "staged_run_dir",
    "write_report",
    "write_run_dir",
    "write_run_files",
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
_ACTIONS_REQUIRED = ("component", "action", "bits", "energy_per_action_pj", "source")
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
        Where the trace lives for the user (default: ``result.trace.path``).
    command:
        The command line that produced the run, if any.
    """
    trace = result.trace
    hw = result.hardware
    manifest = Path(trace.path) / "manifest.json"
    revision, dirty = git_revision()
    totals = design_totals(result.layers, hw.clock_hz, trace.tokens)
    shown_trace = Path(trace_path) if trace_path is not None else Path(trace.path)
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
        "trace": {
            "name": trace.name,
            "path": str(shown_trace.resolve()),
            "tokens": trace.tokens,
            "source": trace.source,
            "manifest_sha256": _sha256_file(manifest),
            "layer_sha256": {layer.name: layer.sha256 for layer in trace.layers},
        },
        "hardware": {
            "name": hw.name,
            "file": None if hw_path is None else str(hw_path.resolve()),
            "file_sha256": None if hw_path is None else _sha256_file(hw_path),
            "config_sha256": _sha256_bytes(config_text.encode("utf-8")),
            "clock_hz": hw.clock_hz,
            "energy_table": hw.energy.table,
        },
        "overrides": dict(overrides),
        "designs": list(result.designs),
        "layers": list(dict.fromkeys(result.layers["layer"])),
        "totals": totals.to_dict("records"),
        "comparison": {
            "reference": REFERENCE_DESIGN,
            "rows": compare_designs(result.layers).to_dict("records"),
        },
    }
    return _plain(summary)


def _spikesim_version() -> str:
    from spikesim import __version__

    return __version__


# --------------------------------------------------------------------------------------------
# Atomic directory replacement
# --------------------------------------------------------------------------------------------


def check_run_dir_target(target: str | Path) -> Path:
    """Check that ``target`` may become a run directory (absent, empty, or a run directory).

    Raises
    ------
    InputError
        ``field="--out"`` if ``target`` is a file or a non-empty directory without
        ``summary.json`` (it is never replaced then).
    """
    target = Path(target)
    if target.is_symlink() or (target.exists() and not target.is_dir()):
        raise InputError(
            "exists and is not a directory; refusing to replace it", file=target, field="--out"
        )
    if target.is_dir():
        try:
            entries = list(target.iterdir())
        except OSError as exc:
            raise InputError(
                f"cannot read directory: {exc.strerror or exc}", file=target, field="--out"
            ) from None
        if entries and not (target / SUMMARY_NAME).is_file():
            raise InputError(
                "exists, is not empty and is not a spikesim run directory (no summary.json); "
                "refusing to replace it",
                file=target,
                field="--out",
            )
    return target


def _make_sibling(target: Path, tag: str) -> Path:
    """Create a fresh hidden sibling directory of ``target`` (permissions from the umask, unlike
    ``tempfile.mkdtemp``'s 0700, so the final run directory is as readable as any other)."""
    for _ in range(100):
        path = target.parent / f".{target.name}.{tag}-{secrets.token_hex(4)}"
        try:
            path.mkdir()
        except FileExistsError:
            continue
        return path
    raise FileExistsError(f"could not create a temporary directory next to {target}")


def _link_or_copy(src: str, dst: str) -> object:
    try:
        os.link(src, dst)
    except OSError:
        shutil.copy2(src, dst)
    return dst


def _swap_into_place(tmp: Path, target: Path) -> None:
    if not target.exists():
        os.replace(tmp, target)
        return
    if not any(target.iterdir()):  # empty directory: a rename replaces it
        os.replace(tmp, target)
        return
    old = _make_sibling(target, "old")
    os.replace(target, old)  # onto the empty placeholder
    try:
        os.replace(tmp, target)
    except BaseException:
        os.replace(old, target)
        raise
    shutil.rmtree(old, ignore_errors=True)


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
        occurred while writing (the error names the path, ``field="--out"``).
    """
    target = check_run_dir_target(target)
    tmp: Path | None = None
    try:
        target.parent.mkdir(parents=True, exist_ok=True)
        tmp = _make_sibling(target, "tmp")
        for rel in keep:
            src = target / rel
            if src.is_dir():
                shutil.copytree(src, tmp / rel, copy_function=_link_or_copy)
            elif src.is_file():
                (tmp / rel).parent.mkdir(parents=True, exist_ok=True)
                _link_or_copy(str(src), str(tmp / rel))
        yield tmp
        _swap_into_place(tmp, target)
        tmp = None
    except OSError as exc:
        where = exc.filename if exc.filename is not None else target
        raise InputError(
            f"cannot write run directory: {exc.strerror or exc}", file=where, field="--out"
        ) from None
    finally:
        if tmp is not None:
            shutil.rmtree(tmp, ignore_errors=True)


# --------------------------------------------------------------------------------------------
# Writing and reading the files
# --------------------------------------------------------------------------------------------


def _write_csv(frame: pd.DataFrame, path: Path) -> None:
    frame.to_csv(path, index=False, lineterminator="\n", encoding="utf-8")


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
) -> None:
    """Write every run file of ``result`` into ``directory`` (normally a staged directory).

    ``report.md`` is rendered from the written tables, exactly as ``spikesim report`` does.
    """
    directory = Path(directory)
    config_text = hardware_to_yaml(result.hardware)
    _write_text(directory / "config.yaml", config_text)
    _write_csv(result.layers, directory / "layers.csv")
    _write_csv(result.actions, directory / "actions.csv")
    _write_csv(result.transactions, directory / "transactions.csv")
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
    layers, actions, summary_read = read_run_tables(directory)
    _write_text(directory / "report.md", render_report(layers, actions, summary_read))


def write_run_dir(
    target: str | Path,
    result: SimResult,
    *,
    hardware_file: str | Path | None,
    overrides: Mapping[str, Any] | None = None,
    keep: Sequence[str] = (),
    command: Sequence[str] | None = None,
) -> Path:
    """Write the run directory of ``result`` at ``target`` atomically; return ``target``.

    Raises
    ------
    InputError
        ``target`` is neither absent, empty nor a run directory, or writing failed.
    """
    target = Path(target)
    trace_path = Path(result.trace.path)
    with staged_run_dir(target, keep=keep) as stage:
        write_run_files(
            stage,
            result,
            hardware_file=hardware_file,
            overrides=overrides,
            trace_path=trace_path,
            command=command,
        )
    return target


def _read_csv(path: Path, required: Sequence[str]) -> pd.DataFrame:
    if not path.is_file():
        raise InputError("missing from the run directory", file=path)
    try:
        frame = pd.read_csv(path, keep_default_na=False, na_values=[""])
    except (OSError, ValueError, pd.errors.ParserError) as exc:
        raise InputError(f"cannot read CSV: {' '.join(str(exc).split())}", file=path) from None
    for col in required:
        if col not in frame.columns:
            raise InputError("missing column", file=path, field=col)
    return frame


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
    try:
        summary = json.loads(summary_path.read_text(encoding="utf-8"))
    except (OSError, UnicodeDecodeError) as exc:
        raise InputError(
            f"cannot read file ({exc.__class__.__name__})", file=summary_path
        ) from None
    except json.JSONDecodeError as exc:
        raise InputError(
            f"malformed JSON at line {exc.lineno}: {exc.msg}", file=summary_path
        ) from None
    if not isinstance(summary, dict):
        raise InputError("top level must be a JSON object", file=summary_path)
    layers = _read_csv(run_dir / "layers.csv", _LAYERS_REQUIRED)
    actions = _read_csv(run_dir / "actions.csv", _ACTIONS_REQUIRED)
    return layers, actions, summary


def write_report(run_dir: str | Path) -> Path:
    """Regenerate ``report.md`` of a run directory from its tables (atomic replace).

    Raises
    ------
    InputError
        The run directory's tables cannot be read, or ``report.md`` cannot be written.
    """
    run_dir = Path(run_dir)
    layers, actions, summary = read_run_tables(run_dir)
    text = render_report(layers, actions, summary)
    path = run_dir / "report.md"
    tmp = run_dir / f".report.md.tmp-{secrets.token_hex(4)}"
    try:
        _write_text(tmp, text)
        os.replace(tmp, path)
    except BaseException as exc:
        with contextlib.suppress(OSError):
            tmp.unlink(missing_ok=True)
        if isinstance(exc, OSError):
            where = exc.filename if exc.filename is not None else path
            raise InputError(f"cannot write report: {exc.strerror or exc}", file=where) from None
        raise
    return path
