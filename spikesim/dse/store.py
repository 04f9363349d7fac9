"""The results dataset: a directory of Parquet part files, each written atomically.

Layout of ``results.parquet/`` (a directory, readable as one table)::

    _sweep.json                 which sweep and trace these parts belong to (written first)
    part-<point_id>.parquet     the rows of one finished (point, design)
    .tmp-<pid>-*.parquet        a part being written (ignored by readers; a killed writer's is
                                removed by the next sweep into the same directory)

A part is written to a temporary file in the same directory, flushed and fsync'ed, then renamed
into place (``os.replace`` is atomic on POSIX), so a part either exists whole or not at all,
whatever kills the writer. The set of finished points is the set of part names, so a rerun
skips them without reading any data (it checks each part's footer: a part that is not a readable
results part is an error naming it, never silently redone or deleted). Readers ignore names
starting with ``.`` or ``_``.

Only a directory that is absent, empty or already a results directory (it holds
``_sweep.json``) is ever written into: ``--out`` naming a trace, a run directory, any other
folder with files, or a file is refused (:func:`check_results_target`).
"""

from __future__ import annotations

import json
import math
import os
import re
import uuid
from collections.abc import Iterable, Mapping
from pathlib import Path
from typing import Any

import pandas as pd
import pyarrow as pa

from spikesim.errors import InputError
from spikesim.fsutil import owner_is_gone, process_tag, read_json_object, signals_deferred

PART_PREFIX = "part-"
PART_SUFFIX = ".parquet"
META_NAME = "_sweep.json"
TMP_PREFIX = ".tmp-"

META_MAX_BYTES = 16 << 20
"""Largest ``_sweep.json`` read (16 MiB: a spec at its limits takes well under 1 MiB)."""
PART_MAX_ROWS = 1_000_000
"""Most rows in one part (a part holds one row per layer of the trace, plus TOTAL)."""

LEAD_COLUMNS = ["point_index", "point_id", "design", "layer"]
"""First columns of every results table (each part has them); then :data:`LAYER_CLASS_COLUMNS`,
the swept fields, METRIC_COLUMNS, then the rest (energy and area per component), sorted."""
LAYER_CLASS_COLUMNS = ["op_class", "phase"]
"""A layer row's operator class and phase (``layers.csv``'s); empty on ``TOTAL`` rows. Parts
written before they existed lack them (read as missing values), so they are not required."""
METRIC_COLUMNS = [
    "total_cycles", "compute_cycles", "stall_cycles", "energy_pj", "area_mm2", "error",
]
_NUMERIC_COLUMNS = ("total_cycles", "compute_cycles", "stall_cycles", "energy_pj", "area_mm2")
_STRING_COLUMNS = ("point_id", "design", "layer")
_NUMERIC_PREFIXES = ("energy_", "area_", "dram_")

_TMP_NAME = re.compile(r"^\.tmp-([0-9]{1,10})-(?:([0-9a-f]{8})-)?[0-9a-f]{32}\.(parquet|json)$")
"""A temporary file of :func:`_atomic_write_bytes`: ``.tmp-PID-HOSTTAG-UUID.parquet`` (older
versions wrote no host tag)."""


def part_name(point_id: str) -> str:
    return f"{PART_PREFIX}{point_id}{PART_SUFFIX}"


def _is_part_name(name: str) -> bool:
    return name.startswith(PART_PREFIX) and name.endswith(PART_SUFFIX)


def part_files(root: str | Path) -> list[Path]:
    """The finished parts of a dataset (temporary and hidden files excluded), sorted.

    Every entry named like a part is listed, file or not: readers check each
    (:func:`check_part`), so a part that is not a readable file is reported, not skipped.
    """
    root = Path(root)
    if not root.is_dir():
        return []
    return sorted(root / name for name in os.listdir(root) if _is_part_name(name))


def done_point_ids(root: str | Path) -> set[str]:
    """Point ids with a finished part."""
    return {p.name[len(PART_PREFIX) : -len(PART_SUFFIX)] for p in part_files(root)}


def _fsync_dir(path: Path) -> None:
    try:
        fd = os.open(path, os.O_RDONLY)
    except OSError:  # pragma: no cover - platforms without directory fds
        return
    try:
        os.fsync(fd)
    except OSError:  # pragma: no cover
        pass
    finally:
        os.close(fd)


def _atomic_write_bytes(target: Path, write: Any) -> None:
    name = f"{TMP_PREFIX}{os.getpid()}-{process_tag()}-{uuid.uuid4().hex}{target.suffix}"
    tmp = target.parent / name
    try:
        with open(tmp, "wb") as f:
            write(f)
            f.flush()
            os.fsync(f.fileno())
        with signals_deferred():
            os.replace(tmp, target)
    except BaseException:
        tmp.unlink(missing_ok=True)
        raise
    _fsync_dir(target.parent)


def write_part(root: str | Path, point_id: str, rows: pa.Table | pd.DataFrame) -> Path:
    """Write the rows of one finished point atomically (temp file, fsync, rename)."""
    import pyarrow.parquet as pq

    root = Path(root)
    target = root / part_name(point_id)
    table = rows if isinstance(rows, pa.Table) else pa.Table.from_pandas(rows, preserve_index=False)
    sink = pa.BufferOutputStream()  # serialized at once, not through Python file writes
    pq.write_table(table, sink)
    data = sink.getvalue()
    _atomic_write_bytes(target, lambda f: f.write(data))
    return target


def _is_own_debris(name: str) -> bool:
    """A temporary file of a killed writer on this host (its process is gone)."""
    match = _TMP_NAME.match(name)
    if match is None:
        return False
    tag = match.group(2) or process_tag()  # an older writer's: no host tag
    return owner_is_gone(int(match.group(1)), tag)


def check_results_target(root: str | Path) -> Path:
    """Check that ``root`` may hold the results of a sweep: absent, an empty directory, or a
    results directory (``_sweep.json``); a directory holding only a killed writer's temporary
    files counts as empty.

    Raises
    ------
    InputError
        ``field="out"``: a file, a path under a file, or a directory with other contents (a
        trace, a run directory, ...), which is never written into.
    """
    root = Path(root)
    if os.path.lexists(root) and not root.is_dir():
        raise InputError(
            "exists and is not a sweep results directory; refusing to write into it",
            file=root,
            field="out",
        )
    for parent in root.parents:
        if os.path.lexists(parent):
            if not parent.is_dir():
                raise InputError(
                    f"cannot be created: '{parent}' is not a directory", file=root, field="out"
                )
            break
    if not root.is_dir():
        return root
    meta = root / META_NAME
    if os.path.lexists(meta):
        if meta.is_symlink() or not meta.is_file():
            raise InputError("is not a regular file", file=meta, field="out")
        return root
    try:
        names = os.listdir(root)
    except OSError as exc:
        raise InputError(
            f"cannot read directory: {exc.strerror or exc}", file=root, field="out"
        ) from None
    foreign = [n for n in names if not _TMP_NAME.match(n)]
    if foreign:
        raise InputError(
            f"exists, is not empty (holds '{sorted(foreign)[0][:80]}') and is not a sweep "
            f"results directory (no {META_NAME}); refusing to write into it",
            file=root,
            field="out",
        )
    return root


def open_dataset(root: str | Path, meta: dict[str, Any]) -> Path:
    """Create (or reopen) the dataset directory for the sweep described by ``meta``.

    Leftover temporary files of killed writers are removed. Reopening a dataset written by a
    different sweep or trace (different ``meta``) is an error: its parts would not belong.
    """
    root = check_results_target(root)
    root.mkdir(parents=True, exist_ok=True)
    meta_path = root / META_NAME
    if meta_path.exists():
        old = read_meta(root)
        if old != meta:
            raise InputError(
                "holds the results of a different sweep or trace; choose another --out "
                "(or delete it)",
                file=root,
                field="out",
            )
    else:
        if part_files(root):
            raise InputError("holds parts but no _sweep.json", file=root, field="out")
        text = json.dumps(meta, indent=1, sort_keys=True)
        _atomic_write_bytes(meta_path, lambda f: f.write(text.encode("utf-8")))
    for name in os.listdir(root):
        if _is_own_debris(name):
            (root / name).unlink(missing_ok=True)
    return root


def read_meta(root: str | Path) -> dict[str, Any]:
    """``_sweep.json`` of a results directory, checked: a JSON object whose ``axes`` and
    ``designs`` (when present) are lists of strings.

    Raises
    ------
    InputError
        Naming the directory (no ``_sweep.json``) or the file (unreadable, not JSON, too deep
        or too large, wrong types).
    """
    path = Path(root) / META_NAME
    try:
        if path.is_symlink() or not path.is_file():
            if not Path(root).is_dir():
                raise InputError("no such results directory", file=root)
            if os.path.lexists(path):
                raise InputError("is not a regular file", file=path)
            raise InputError(f"not a sweep results directory (no {META_NAME})", file=root)
    except OSError as exc:
        raise InputError(f"cannot read file ({exc.strerror or exc})", file=path) from None
    data = read_json_object(
        path, META_MAX_BYTES, empty="is empty (expected the JSON object a sweep writes)"
    )
    for key in ("axes", "designs"):
        value = data.get(key)
        if value is not None and not (
            isinstance(value, list) and all(isinstance(v, str) for v in value)
        ):
            raise InputError("must be a list of strings", file=path, field=key)
    if data.get("spec") is not None and not isinstance(data["spec"], dict):
        raise InputError("must be a JSON object", file=path, field="spec")
    return data


def order_columns(frame: pd.DataFrame, axes: Iterable[str]) -> pd.DataFrame:
    axes = [a for a in axes if a in frame.columns]
    lead = [
        c for c in (*LEAD_COLUMNS, *LAYER_CLASS_COLUMNS, *axes, *METRIC_COLUMNS)
        if c in frame.columns
    ]
    rest = sorted(c for c in frame.columns if c not in lead)
    return frame[lead + rest]


def _type_error(path: Path, column: str, arrow_type: Any, want: str) -> InputError:
    return InputError(
        f"not a results part: column is {arrow_type}, expected {want}", file=path, field=column
    )


def check_part(path: str | Path, meta: Mapping[str, Any] | None = None) -> int:
    """Check a part from its Parquet footer (no data read); return its row count.

    A part must be a regular, readable Parquet file with 1 to :data:`PART_MAX_ROWS` rows and
    the columns of a results part (:data:`LEAD_COLUMNS`, :data:`METRIC_COLUMNS` and the sweep's
    axes from ``meta``) of the right types.

    Raises
    ------
    InputError
        Naming the part file (and the column at fault).
    """
    import pyarrow as pa
    import pyarrow.parquet as pq

    path = Path(path)
    if path.is_symlink() or not path.is_file():
        raise InputError("not a regular file (a results part must be one)", file=path)
    try:
        with pq.ParquetFile(path) as pf:
            schema = pf.schema_arrow
            rows = pf.metadata.num_rows
    except (OSError, ValueError, pa.ArrowException) as exc:
        reason = " ".join(str(exc).split())
        reason = reason.replace(str(path), "").replace("''", "").strip(" :")[:160]
        raise InputError(f"not a readable Parquet part ({reason})", file=path) from None
    if not 1 <= rows <= PART_MAX_ROWS:
        raise InputError(
            f"not a results part: {rows} rows (a part holds 1 to {PART_MAX_ROWS:,})", file=path
        )
    types = {name: schema.field(name).type for name in schema.names}
    if len(types) != len(schema.names):
        raise InputError("not a results part: a column name appears twice", file=path)
    axes = list((meta or {}).get("axes") or [])
    for column in (*LEAD_COLUMNS, *axes, *METRIC_COLUMNS):
        if column not in types:
            raise InputError("not a results part: column missing", file=path, field=column)

    def is_text(t: Any) -> bool:
        return bool(pa.types.is_string(t) or pa.types.is_large_string(t) or pa.types.is_null(t))

    def is_number(t: Any) -> bool:
        return bool(pa.types.is_integer(t) or pa.types.is_floating(t) or pa.types.is_null(t))

    if not pa.types.is_integer(types["point_index"]):
        raise _type_error(path, "point_index", types["point_index"], "integers")
    for column in (*_STRING_COLUMNS, "error"):
        if not is_text(types[column]):
            raise _type_error(path, column, types[column], "strings")
    for column in LAYER_CLASS_COLUMNS:
        if column in types and column not in axes and not is_text(types[column]):
            raise _type_error(path, column, types[column], "strings")
    for name, arrow_type in types.items():
        numeric = name in _NUMERIC_COLUMNS or name == "utilization" or (
            name.startswith(_NUMERIC_PREFIXES) and name not in axes
        )
        if numeric and not is_number(arrow_type):
            raise _type_error(path, name, arrow_type, "numbers")
    return int(rows)


def check_parts(root: str | Path, meta: Mapping[str, Any] | None = None) -> int:
    """:func:`check_part` on every part of a dataset; return how many there are."""
    parts = part_files(root)
    for part in parts:
        check_part(part, meta)
    return len(parts)


def _read_part(path: Path, meta: Mapping[str, Any]) -> pd.DataFrame:
    """One checked part as a DataFrame; its rows must belong to the point its name says."""
    import pyarrow as pa
    import pyarrow.parquet as pq

    check_part(path, meta)
    try:
        frame = pq.read_table(path).to_pandas()
    except (OSError, ValueError, pa.ArrowException) as exc:
        reason = " ".join(str(exc).split()).replace(str(path), "").strip(" :'")[:160]
        raise InputError(f"not a readable Parquet part ({reason})", file=path) from None
    pid = path.name[len(PART_PREFIX) : -len(PART_SUFFIX)]
    if not (frame["point_id"] == pid).all():
        raise InputError(
            f"not a results part: rows of another point (its name says '{pid[:40]}')",
            file=path,
            field="point_id",
        )
    if (frame["point_index"] < 0).any():
        raise InputError("not a results part: a negative point_index", file=path,
                         field="point_index")
    ok = frame["error"].fillna("") == ""
    for column in ("total_cycles", "energy_pj", "area_mm2"):
        values = pd.to_numeric(frame.loc[ok, column], errors="coerce").to_numpy(dtype=float)
        bad = ~(values >= 0) | ~(values < math.inf)
        if bad.any():
            raise InputError(
                f"a point without error has {float(values[bad][0])!r} (expected a finite "
                "number >= 0)",
                file=path,
                field=column,
            )
    return frame


def read_results(root: str | Path) -> pd.DataFrame:
    """All rows of a results dataset (every finished part), in point and design order.

    Raises
    ------
    InputError
        No results directory, a bad ``_sweep.json`` or a part that is not a readable results
        part (each error names the file).
    """
    root = Path(root)
    if not root.is_dir():
        raise InputError("no such results directory", file=root)
    meta = read_meta(root)
    frames = [_read_part(p, meta) for p in part_files(root)]
    if not frames:
        return pd.DataFrame(columns=[*LEAD_COLUMNS, *meta.get("axes", []), *METRIC_COLUMNS])
    out = pd.concat(frames, ignore_index=True, sort=False)
    designs = list(meta.get("designs", []))
    rank = {d: i for i, d in enumerate(designs)}
    out["_d"] = out["design"].map(lambda d: rank.get(d, len(rank)))
    out["_r"] = range(len(out))
    out = out.sort_values(["point_index", "_d", "_r"], kind="stable").drop(columns=["_d", "_r"])
    return order_columns(out.reset_index(drop=True), meta.get("axes", []))
