"""The results dataset: a directory of Parquet part files, each written atomically.

Layout of ``results.parquet/`` (a directory, readable as one table)::

    _sweep.json                 which sweep and trace these parts belong to (written first)
    part-<point_id>.parquet     the rows of one finished (point, design)
    .tmp-*.parquet              a part being written (ignored by readers, removed on rerun)

A part is written to a temporary file in the same directory, flushed and fsync'ed, then renamed
into place (``os.replace`` is atomic on POSIX), so a part either exists whole or not at all,
whatever kills the writer. The set of finished points is the set of part names, so a rerun
skips them without reading any data. Readers ignore names starting with ``.`` or ``_``.
"""

from __future__ import annotations

import json
import os
import uuid
from collections.abc import Iterable
from pathlib import Path
from typing import Any

import pandas as pd

from spikesim.errors import InputError

PART_PREFIX = "part-"
PART_SUFFIX = ".parquet"
META_NAME = "_sweep.json"
TMP_PREFIX = ".tmp-"

LEAD_COLUMNS = ["point_index", "point_id", "design", "layer"]
"""First columns of every results table; then the swept fields, then METRIC_COLUMNS, then the
rest (energy and area per component), sorted."""
METRIC_COLUMNS = [
    "total_cycles", "compute_cycles", "stall_cycles", "energy_pj", "area_mm2", "error",
]


def part_name(point_id: str) -> str:
    return f"{PART_PREFIX}{point_id}{PART_SUFFIX}"


def part_files(root: str | Path) -> list[Path]:
    """The finished part files of a dataset (temporary and hidden files excluded), sorted."""
    root = Path(root)
    if not root.is_dir():
        return []
    return sorted(
        p
        for p in root.iterdir()
        if p.name.startswith(PART_PREFIX) and p.name.endswith(PART_SUFFIX) and p.is_file()
    )


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
    tmp = target.parent / f"{TMP_PREFIX}{os.getpid()}-{uuid.uuid4().hex}{target.suffix}"
    try:
        with open(tmp, "wb") as f:
            write(f)
            f.flush()
            os.fsync(f.fileno())
        os.replace(tmp, target)
    except BaseException:
        tmp.unlink(missing_ok=True)
        raise
    _fsync_dir(target.parent)


def write_part(root: str | Path, point_id: str, frame: pd.DataFrame) -> Path:
    """Write the rows of one finished point atomically (temp file, fsync, rename)."""
    import pyarrow as pa
    import pyarrow.parquet as pq

    root = Path(root)
    target = root / part_name(point_id)
    table = pa.Table.from_pandas(frame, preserve_index=False)
    _atomic_write_bytes(target, lambda f: pq.write_table(table, f))
    return target


def open_dataset(root: str | Path, meta: dict[str, Any]) -> Path:
    """Create (or reopen) the dataset directory for the sweep described by ``meta``.

    Leftover temporary files of a killed writer are removed. Reopening a dataset written by a
    different sweep or trace (different ``meta``) is an error: its parts would not belong.
    """
    root = Path(root)
    if root.exists() and not root.is_dir():
        raise InputError("exists and is not a results directory", file=root, field="out")
    root.mkdir(parents=True, exist_ok=True)
    meta_path = root / META_NAME
    if meta_path.exists():
        try:
            old = json.loads(meta_path.read_text(encoding="utf-8"))
        except (OSError, ValueError):
            old = None
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
    for p in root.iterdir():
        if p.name.startswith(TMP_PREFIX):
            p.unlink(missing_ok=True)
    return root


def read_meta(root: str | Path) -> dict[str, Any]:
    path = Path(root) / META_NAME
    try:
        data = json.loads(path.read_text(encoding="utf-8"))
    except FileNotFoundError:
        raise InputError("not a sweep results directory (no _sweep.json)", file=root) from None
    except (OSError, ValueError) as exc:
        raise InputError(f"cannot read _sweep.json ({exc})", file=path) from None
    if not isinstance(data, dict):
        raise InputError("_sweep.json is not a mapping", file=path)
    return data


def order_columns(frame: pd.DataFrame, axes: Iterable[str]) -> pd.DataFrame:
    axes = [a for a in axes if a in frame.columns]
    lead = [c for c in (*LEAD_COLUMNS, *axes, *METRIC_COLUMNS) if c in frame.columns]
    rest = sorted(c for c in frame.columns if c not in lead)
    return frame[lead + rest]


def read_results(root: str | Path) -> pd.DataFrame:
    """All rows of a results dataset (every finished part), in point and design order."""
    import pyarrow.parquet as pq

    root = Path(root)
    if not root.is_dir():
        raise InputError("no such results directory", file=root)
    meta = read_meta(root)
    frames = [pq.read_table(p).to_pandas() for p in part_files(root)]
    frames = [f for f in frames if len(f)]
    if not frames:
        return pd.DataFrame(columns=[*LEAD_COLUMNS, *meta.get("axes", []), *METRIC_COLUMNS])
    out = pd.concat(frames, ignore_index=True, sort=False)
    designs = list(meta.get("designs", []))
    rank = {d: i for i, d in enumerate(designs)}
    out["_d"] = out["design"].map(lambda d: rank.get(d, len(rank)))
    out["_r"] = range(len(out))
    out = out.sort_values(["point_index", "_d", "_r"], kind="stable").drop(columns=["_d", "_r"])
    return order_columns(out.reset_index(drop=True), meta.get("axes", []))
