"""Hostile results datasets: damaged Parquet parts and ``_sweep.json`` given to ``spikesim pareto``
and to a resumed ``spikesim sweep``. Each is one ``error:`` line naming the file (never a
traceback), and nothing in the dataset is changed or deleted."""

from __future__ import annotations

import json
import os
from collections.abc import Callable
from pathlib import Path

import hostile_support
import numpy as np
import pandas as pd
import pyarrow as pa
import pyarrow.parquet as pq
import pytest
from hostile_support import assert_one_error, dead_pid, inline_sweeps, run, snapshot, tree

from spikesim.dse import read_results, run_sweep
from spikesim.dse.store import META_NAME, check_part, part_files
from spikesim.errors import InputError
from spikesim.fsutil import process_tag

# fixtures shared with the other hostile modules (see hostile_support)
trace_master = hostile_support.trace_master
sweep_master = hostile_support.sweep_master
results = hostile_support.results
sweep_spec = hostile_support.sweep_spec


def _first_part(results: Path) -> Path:
    return part_files(results)[0]


def _rewrite(part: Path, change: Callable[[pd.DataFrame], pd.DataFrame]) -> None:
    frame = change(pq.read_table(part).to_pandas())
    pq.write_table(pa.Table.from_pandas(frame, preserve_index=False), part)


def _set(column: str, value: object) -> Callable[[pd.DataFrame], pd.DataFrame]:
    def change(frame: pd.DataFrame) -> pd.DataFrame:
        frame[column] = value
        return frame

    return change


def _garbage(part: Path) -> None:
    part.write_bytes(b"this is not parquet at all\n" * 10)


def _empty(part: Path) -> None:
    part.write_bytes(b"")


def _truncated(part: Path) -> None:
    part.write_bytes(part.read_bytes()[:1000])


def _last_bytes_cut(part: Path) -> None:
    part.write_bytes(part.read_bytes()[:-9])


def _directory(part: Path) -> None:
    part.unlink()
    part.mkdir()
    (part / "x").write_text("mine")


def _dangling_symlink(part: Path) -> None:
    part.unlink()
    part.symlink_to(part.parent / "nowhere.parquet")


def _other_schema(part: Path) -> None:
    pq.write_table(pa.table({"a": [1, 2], "b": ["x", "y"]}), part)


def _zero_rows(part: Path) -> None:
    _rewrite(part, lambda f: f.iloc[:0])


def _energy_as_text(part: Path) -> None:
    _rewrite(part, lambda f: f.assign(energy_pj=f["energy_pj"].astype(str)))


def _point_index_as_text(part: Path) -> None:
    _rewrite(part, lambda f: f.assign(point_index=f["point_index"].astype(str)))


def _no_error_column(part: Path) -> None:
    _rewrite(part, lambda f: f.drop(columns=["error"]))


def _no_axis_column(part: Path) -> None:
    _rewrite(part, lambda f: f.drop(columns=["if_array.lanes"]))


def _rows_of_another_point(part: Path) -> None:
    _rewrite(part, _set("point_id", "0" * 32))


def _nan_energy(part: Path) -> None:
    _rewrite(part, _set("energy_pj", np.nan))


def _inf_cycles(part: Path) -> None:
    _rewrite(part, _set("total_cycles", np.inf))


def _negative_area(part: Path) -> None:
    _rewrite(part, _set("area_mm2", -1.0))


def _negative_point_index(part: Path) -> None:
    _rewrite(part, _set("point_index", -5))


PART_DAMAGE: dict[str, Callable[[Path], None]] = {
    "garbage": _garbage,
    "empty-file": _empty,
    "truncated": _truncated,
    "footer-cut": _last_bytes_cut,
    "a-directory": _directory,
    "dangling-symlink": _dangling_symlink,
    "other-schema": _other_schema,
    "zero-rows": _zero_rows,
    "energy-as-text": _energy_as_text,
    "point-index-as-text": _point_index_as_text,
    "no-error-column": _no_error_column,
    "no-axis-column": _no_axis_column,
    "rows-of-another-point": _rows_of_another_point,
    "nan-energy": _nan_energy,
    "inf-cycles": _inf_cycles,
    "negative-area": _negative_area,
    "negative-point-index": _negative_point_index,
}
FOOTER_DAMAGE = [  # found from the footer alone: a resumed sweep names them before running
    "garbage", "empty-file", "truncated", "footer-cut", "a-directory", "dangling-symlink",
    "other-schema", "zero-rows", "energy-as-text", "point-index-as-text", "no-error-column",
    "no-axis-column",
]


def _state(results: Path) -> tuple[list[str], dict[str, bytes]]:
    return tree(results), snapshot(results)


@pytest.mark.parametrize("damage", list(PART_DAMAGE))
def test_pareto_names_a_damaged_part(
    damage: str, results: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    part = _first_part(results)
    PART_DAMAGE[damage](part)
    before = _state(results)
    code, _, err = run(capsys, "pareto", results)
    assert_one_error(code, err, part.name)
    assert _state(results) == before
    assert not results.with_name("results-pareto.png").exists()
    with pytest.raises(InputError) as info:
        read_results(results)
    assert part.name in str(info.value.file)


@pytest.mark.parametrize("damage", FOOTER_DAMAGE)
def test_resumed_sweep_names_a_damaged_part_and_keeps_it(
    damage: str, results: Path, sweep_spec: Path, trace_master: Path,
    capsys: pytest.CaptureFixture[str], monkeypatch: pytest.MonkeyPatch,
) -> None:
    part = _first_part(results)
    PART_DAMAGE[damage](part)
    before = _state(results)
    with inline_sweeps(monkeypatch):
        code, _, err = run(capsys, "sweep", sweep_spec, "--trace", trace_master, "--out",
                           results, "--quiet")
    line = assert_one_error(code, err, part.name, "delete it")
    assert "Traceback" not in line
    assert _state(results) == before  # nothing redone, nothing deleted


def _meta(text: str | bytes) -> Callable[[Path], None]:
    def write(results: Path) -> None:
        path = results / META_NAME
        if isinstance(text, bytes):
            path.write_bytes(text)
        else:
            path.write_text(text)

    return write


def _meta_json(data: object) -> Callable[[Path], None]:
    return _meta(json.dumps(data))


def _meta_edit(**fields: object) -> Callable[[Path], None]:
    def write(results: Path) -> None:
        data = json.loads((results / META_NAME).read_text())
        data.update(fields)
        (results / META_NAME).write_text(json.dumps(data))

    return write


def _meta_dir(results: Path) -> None:
    (results / META_NAME).unlink()
    (results / META_NAME).mkdir()


def _meta_symlink(results: Path) -> None:
    """A link to a file elsewhere: never followed (nothing outside the dataset is read)."""
    elsewhere = results.with_name("elsewhere.json")
    elsewhere.write_text((results / META_NAME).read_text())
    (results / META_NAME).unlink()
    (results / META_NAME).symlink_to(elsewhere)


def _meta_huge(results: Path) -> None:
    with open(results / META_NAME, "w") as fh:
        fh.write('{"pad": "')
        fh.write("x" * (17 << 20))
        fh.write('"}')


META_DAMAGE: dict[str, Callable[[Path], None]] = {
    "not-json": _meta("this is { not json"),
    "empty": _meta(""),
    "nested-too-deep": _meta("[" * 100_000 + "]" * 100_000),
    "object-too-deep": _meta('{"a":' * 50_000 + "1" + "}" * 50_000),
    "a-list": _meta_json([1, 2, 3]),
    "a-string": _meta_json("axes"),
    "axes-an-int": _meta_edit(axes=5),
    "axes-with-a-number": _meta_edit(axes=["if_array.lanes", 3]),
    "axes-with-a-mapping": _meta_edit(axes=[{"a": 1}]),
    "designs-a-string": _meta_edit(designs="spikequant"),
    "designs-nested": _meta_edit(designs=[["spikequant"]]),
    "spec-a-list": _meta_edit(spec=[1]),
    "not-utf8": _meta(b"\xff\xfe\x00garbage"),
    "a-directory": _meta_dir,
    "a-symlink": _meta_symlink,
    "over-16-MiB": _meta_huge,
}


@pytest.mark.parametrize("damage", list(META_DAMAGE))
def test_pareto_names_a_bad_sweep_json(
    damage: str, results: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    META_DAMAGE[damage](results)
    before = tree(results)
    code, _, err = run(capsys, "pareto", results)
    assert_one_error(code, err, META_NAME)
    assert tree(results) == before


@pytest.mark.parametrize("damage", ["not-json", "nested-too-deep", "a-list", "axes-an-int",
                                    "not-utf8", "a-directory", "a-symlink"])
def test_resumed_sweep_names_a_bad_sweep_json(
    damage: str, results: Path, sweep_spec: Path, trace_master: Path,
    capsys: pytest.CaptureFixture[str], monkeypatch: pytest.MonkeyPatch,
) -> None:
    META_DAMAGE[damage](results)
    before = tree(results)
    with inline_sweeps(monkeypatch):
        code, _, err = run(capsys, "sweep", sweep_spec, "--trace", trace_master, "--out",
                           results, "--quiet")
    assert_one_error(code, err, META_NAME)
    assert tree(results) == before


def test_parts_without_sweep_json_are_not_taken_over(
    results: Path, sweep_spec: Path, trace_master: Path, capsys: pytest.CaptureFixture[str],
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    (results / META_NAME).unlink()
    before = snapshot(results)
    code, _, err = run(capsys, "pareto", results)
    assert_one_error(code, err, results, META_NAME)
    with inline_sweeps(monkeypatch):
        code, _, err = run(capsys, "sweep", sweep_spec, "--trace", trace_master, "--out",
                           results, "--quiet")
    assert_one_error(code, err, results, "--out")
    assert snapshot(results) == before


def test_pareto_of_missing_or_foreign_paths(
    tmp_path: Path, trace_master: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    for path in (tmp_path / "nope.parquet", trace_master):
        code, _, err = run(capsys, "pareto", path)
        assert_one_error(code, err, path)
    blocker = tmp_path / "file.parquet"
    blocker.write_text("x")
    code, _, err = run(capsys, "pareto", blocker)
    assert_one_error(code, err, blocker)


def test_resume_removes_only_dead_writers_temporary_parts(
    results: Path, sweep_spec: Path, trace_master: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    tag = process_tag()
    dead = results / f".tmp-{dead_pid()}-{tag}-{'a' * 32}.parquet"
    legacy = results / f".tmp-{dead_pid()}-{'b' * 32}.parquet"  # written before host tags
    live = results / f".tmp-{os.getppid()}-{tag}-{'c' * 32}.parquet"  # a running writer's
    elsewhere = results / f".tmp-{dead_pid()}-{'0' * 8}-{'d' * 32}.parquet"  # another host's
    user = results / ".tmp-notes.txt"
    for path in (dead, legacy, live, elsewhere, user):
        path.write_bytes(b"partial")
    with inline_sweeps(monkeypatch):
        summary = run_sweep(sweep_spec, trace_master, results)
    assert summary.ran == 0
    assert not dead.exists()
    assert not legacy.exists()
    assert live.exists()
    assert elsewhere.exists()
    assert user.exists()


def test_a_part_with_too_many_rows_is_refused_from_its_footer(
    results: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    import spikesim.dse.store as store

    part = _first_part(results)
    rows = check_part(part)
    monkeypatch.setattr(store, "PART_MAX_ROWS", rows - 1)
    with pytest.raises(InputError, match="rows") as info:
        check_part(part)
    assert info.value.file == str(part)


def test_damaged_copy_does_not_change_the_original(sweep_master: tuple[Path, Path]) -> None:
    """The fixture dataset itself is intact (every test above damaged a copy)."""
    df = read_results(sweep_master[1])
    assert (df["layer"] == "TOTAL").sum() == 3
