"""Hostile output paths: ``--out`` of sweep, simulate, synth and report pointing at something that
is not theirs to replace. Refused with exit 2 and one ``error:`` line naming the path and the
flag; nothing there changes and no temporary sibling stays behind."""

from __future__ import annotations

import json
import shutil
from collections.abc import Callable
from pathlib import Path

import hostile_support
import pytest
from hostile_support import (
    GEMM,
    HW,
    assert_one_error,
    hidden_siblings,
    inline_sweeps,
    run,
    snapshot,
    tree,
)

# fixtures shared with the other hostile modules (see hostile_support)
trace_master = hostile_support.trace_master
trace = hostile_support.trace
run_master = hostile_support.run_master
run_dir = hostile_support.run_dir
sweep_master = hostile_support.sweep_master
results = hostile_support.results
sweep_spec = hostile_support.sweep_spec

# --------------------------------------------------------------------------------------------
# Targets that belong to someone else
# --------------------------------------------------------------------------------------------


def _foreign_folder(tmp: Path, trace: Path, run_dir: Path, results: Path) -> Path:
    out = tmp / "precious"
    out.mkdir()
    (out / "thesis.tex").write_text("do not delete")
    (out / "data").mkdir()
    (out / "data" / "x.csv").write_text("a,b\n1,2\n")
    return out


def _hidden_file_only(tmp: Path, trace: Path, run_dir: Path, results: Path) -> Path:
    out = tmp / "hidden"
    out.mkdir()
    (out / ".keep").write_text("")
    return out


def _a_file(tmp: Path, trace: Path, run_dir: Path, results: Path) -> Path:
    out = tmp / "notes.txt"
    out.write_text("mine")
    return out


def _the_trace(tmp: Path, trace: Path, run_dir: Path, results: Path) -> Path:
    return trace


def _a_run_dir(tmp: Path, trace: Path, run_dir: Path, results: Path) -> Path:
    return run_dir


def _sweep_results(tmp: Path, trace: Path, run_dir: Path, results: Path) -> Path:
    return results


def _symlink_to_folder(tmp: Path, trace: Path, run_dir: Path, results: Path) -> Path:
    real = _foreign_folder(tmp, trace, run_dir, results)
    link = tmp / "link"
    link.symlink_to(real, target_is_directory=True)
    return link


def _fake_summary(tmp: Path, trace: Path, run_dir: Path, results: Path) -> Path:
    """A folder with a summary.json some other tool wrote: not a spikesim run directory."""
    out = tmp / "other-tool"
    out.mkdir()
    (out / "summary.json").write_text(json.dumps({"accuracy": 0.9}))
    (out / "model.bin").write_bytes(b"\0" * 64)
    return out


def _broken_summary(tmp: Path, trace: Path, run_dir: Path, results: Path) -> Path:
    out = tmp / "broken"
    out.mkdir()
    (out / "summary.json").write_text("{not json")
    (out / "notes.md").write_text("mine")
    return out


def _list_summary(tmp: Path, trace: Path, run_dir: Path, results: Path) -> Path:
    out = tmp / "listy"
    out.mkdir()
    (out / "summary.json").write_text("[1, 2, 3]")
    return out


def _summary_dir(tmp: Path, trace: Path, run_dir: Path, results: Path) -> Path:
    out = tmp / "sumdir"
    (out / "summary.json").mkdir(parents=True)
    (out / "summary.json" / "x").write_text("mine")
    return out


Maker = Callable[[Path, Path, Path, Path], Path]

FOREIGN_FOR_SWEEP: dict[str, Maker] = {
    "foreign-folder": _foreign_folder,
    "hidden-file-only": _hidden_file_only,
    "a-file": _a_file,
    "trace-dir": _the_trace,
    "run-dir": _a_run_dir,
    "symlink-to-folder": _symlink_to_folder,
    "folder-with-summary-json": _fake_summary,
}

FOREIGN_FOR_SIMULATE: dict[str, Maker] = {
    "foreign-folder": _foreign_folder,
    "hidden-file-only": _hidden_file_only,
    "a-file": _a_file,
    "trace-dir": _the_trace,
    "sweep-results": _sweep_results,
    "symlink-to-folder": _symlink_to_folder,
    "summary-json-of-another-tool": _fake_summary,
    "summary-json-not-json": _broken_summary,
    "summary-json-a-list": _list_summary,
    "summary-json-a-directory": _summary_dir,
}


def _state(path: Path) -> tuple[dict[str, bytes], list[str], bool]:
    real = path.resolve()
    return snapshot(real), tree(real) if real.is_dir() else [], path.is_symlink()


@pytest.mark.parametrize("kind", list(FOREIGN_FOR_SWEEP))
def test_sweep_out_refuses_what_is_not_a_results_dir(
    kind: str, tmp_path: Path, trace: Path, run_dir: Path, results: Path, sweep_spec: Path,
    capsys: pytest.CaptureFixture[str], monkeypatch: pytest.MonkeyPatch,
) -> None:
    out = FOREIGN_FOR_SWEEP[kind](tmp_path, trace, run_dir, results)
    before = _state(out)
    with inline_sweeps(monkeypatch):
        code, _, err = run(capsys, "sweep", sweep_spec, "--trace", trace, "--out", out, "--quiet")
    assert_one_error(code, err, out, "--out")
    assert _state(out) == before
    assert not out.with_name(f"{out.name}-pareto.png").exists()


@pytest.mark.parametrize("kind", list(FOREIGN_FOR_SIMULATE))
def test_simulate_out_refuses_what_is_not_a_run_dir(
    kind: str, tmp_path: Path, trace: Path, run_dir: Path, results: Path,
    capsys: pytest.CaptureFixture[str],
) -> None:
    out = FOREIGN_FOR_SIMULATE[kind](tmp_path, trace, run_dir, results)
    before = _state(out)
    siblings = hidden_siblings(out)
    code, _, err = run(capsys, "simulate", "--hw", HW, "--trace", trace, "--out", out,
                       "--quiet", "--no-figures")
    assert_one_error(code, err, out, "--out")
    assert _state(out) == before
    assert hidden_siblings(out) == siblings


@pytest.mark.parametrize("command", ["sweep", "simulate", "synth", "report-compare"])
def test_out_under_a_file_is_refused(
    command: str, tmp_path: Path, trace: Path, run_dir: Path, sweep_spec: Path,
    capsys: pytest.CaptureFixture[str], monkeypatch: pytest.MonkeyPatch,
) -> None:
    blocker = tmp_path / "file.txt"
    blocker.write_text("mine")
    out = blocker / "sub" / "out"
    if command == "report-compare":
        shutil.copytree(run_dir, tmp_path / "run2")
    args: list[object] = {
        "sweep": ["sweep", sweep_spec, "--trace", trace, "--out", out, "--quiet"],
        "simulate": ["simulate", "--hw", HW, "--trace", trace, "--out", out, "--quiet",
                     "--no-figures"],
        "synth": ["synth", "--gemm", GEMM, "--out", out],
        "report-compare": ["report", run_dir, tmp_path / "run2", "--out", out],
    }[command]
    with inline_sweeps(monkeypatch):
        code, _, err = run(capsys, *args)
    line = assert_one_error(code, err)
    assert str(blocker) in line
    assert blocker.read_text() == "mine"


def test_synth_out_refuses_a_foreign_folder(
    tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    out = _foreign_folder(tmp_path, tmp_path, tmp_path, tmp_path)
    before = snapshot(out)
    code, _, err = run(capsys, "synth", "--gemm", GEMM, "--out", out)
    assert_one_error(code, err, out)
    assert snapshot(out) == before
    assert hidden_siblings(out) == []


@pytest.mark.slow  # three small sweeps: ~2 s
def test_sweep_out_accepts_absent_empty_and_debris_only(
    tmp_path: Path, trace: Path, sweep_spec: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    from hostile_support import dead_pid

    from spikesim.dse import run_sweep
    from spikesim.fsutil import process_tag

    empty = tmp_path / "empty"
    empty.mkdir()
    debris_only = tmp_path / "debris"
    debris_only.mkdir()
    stale = debris_only / f".tmp-{dead_pid()}-{process_tag()}-{'0' * 32}.parquet"
    stale.write_bytes(b"half a part")
    with inline_sweeps(monkeypatch):
        for out in (tmp_path / "new" / "deep" / "r.parquet", empty, debris_only):
            summary = run_sweep(sweep_spec, trace, out)  # the API: no figure to draw
            assert summary.ran == 3
            assert (out / "_sweep.json").is_file()
    assert not stale.exists()


def test_simulate_replaces_its_own_run_dir_only(
    run_dir: Path, trace: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    """The contract's other side: a real run directory (summary.json by spikesim) is replaced."""
    (run_dir / "stale.txt").write_text("from an older run")
    code, _, err = run(capsys, "simulate", "--hw", HW, "--trace", trace, "--out", run_dir,
                       "--quiet", "--no-figures")
    assert code == 0, err
    assert not (run_dir / "stale.txt").exists()
    assert hidden_siblings(run_dir) == []


# --------------------------------------------------------------------------------------------
# report A B: the comparison goes to --out; A and B keep their tables
# --------------------------------------------------------------------------------------------

TABLES = ("layers.csv", "actions.csv", "transactions.csv", "summary.json", "config.yaml",
          "spike_stats.csv")


def _tables(run_dir: Path) -> dict[str, bytes]:
    return {name: (run_dir / name).read_bytes() for name in TABLES if (run_dir / name).exists()}


@pytest.mark.slow  # draws the figures of two runs and of the comparison (~4 s)
def test_report_of_two_runs_leaves_their_tables_alone(
    run_dir: Path, tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    other = tmp_path / "other"
    shutil.copytree(run_dir, other)
    before = {d: _tables(d) for d in (run_dir, other)}
    out = tmp_path / "a-vs-b"
    code, _, err = run(capsys, "report", run_dir, other, "--out", out)
    assert code == 0, err
    for d in (run_dir, other):
        assert _tables(d) == before[d]  # only report.md and figures/ are (re)drawn, as documented
        assert (d / "report.md").is_file()
        assert hidden_siblings(d / "report.md") == []
    assert (out / "compare.md").is_file()
    assert (out / "compare.json").is_file()
    assert hidden_siblings(out) == []


@pytest.mark.parametrize("where", ["first-run", "second-run", "foreign-folder", "a-file"])
def test_report_compare_out_may_not_be_an_input_or_foreign(
    where: str, run_dir: Path, tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    other = tmp_path / "other"
    shutil.copytree(run_dir, other)
    out = {
        "first-run": run_dir,
        "second-run": other,
        "foreign-folder": _foreign_folder(tmp_path, tmp_path, tmp_path, tmp_path),
        "a-file": _a_file(tmp_path, tmp_path, tmp_path, tmp_path),
    }[where]
    before = {p: snapshot(p) for p in (run_dir, other, out)}
    code, _, err = run(capsys, "report", run_dir, other, "--out", out)
    assert_one_error(code, err, out, "--out")
    for p, snap in before.items():
        assert snapshot(p) == snap  # refused before anything was redrawn
