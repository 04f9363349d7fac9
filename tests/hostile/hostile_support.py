"""Helpers of the hostile-input suite (tests/hostile/test_hostile_*.py): the CLI in-process and
as a subprocess, the one-error-line contract, an input refused by ``validate`` and by
``simulate`` with the run directory untouched, snapshots of folders, sweeps without worker
processes, and the fixtures those modules share (a module binds the ones it uses:
``trace_master = hostile_support.trace_master``; no conftest.py, the folder is shared)."""

from __future__ import annotations

import os
import shutil
import signal
import subprocess
import sys
import time
from collections.abc import Callable, Iterator
from contextlib import contextmanager
from pathlib import Path
from typing import Any

import pytest
import yaml
from cli_support import MAX_LINE, assert_one_error, hidden_siblings, run, snapshot  # noqa: F401

from spikesim.cli import main
from spikesim.dse import run_sweep

ROOT = Path(__file__).resolve().parents[2]
HW = ROOT / "hw_configs" / "spikequant-45nm.yaml"
GEMM = "8,64,40"








def refused_by_validate(
    capsys: pytest.CaptureFixture[str], file: Path, *needles: object
) -> str:
    """``spikesim validate FILE`` refuses: one error line holding every needle, nothing on
    stdout, nothing in FILE's folder changed. Returns the error line."""
    folder = Path(file).parent
    before = snapshot(folder)
    code, out, err = run(capsys, "validate", file)
    line = assert_one_error(code, err, *needles)
    assert not out.strip()
    assert snapshot(folder) == before
    return line


def refused_by_simulate(
    capsys: pytest.CaptureFixture[str],
    hw: object,
    trace: Path,
    run_dir: Path,
    *needles: object,
    extra: tuple[object, ...] = (),
) -> str:
    """``spikesim simulate --hw HW --trace TRACE --out RUN_DIR [EXTRA]`` (quiet, no figures)
    refuses: one error line holding every needle, nothing on stdout, the existing run directory
    byte for byte as it was and no staging left beside it. Returns the error line."""
    before = snapshot(run_dir)
    hidden = hidden_siblings(run_dir)
    code, out, err = run(
        capsys,
        "simulate", "--hw", hw, "--trace", trace, "--out", run_dir, *extra,
        "--quiet", "--no-figures",
    )  # fmt: skip
    line = assert_one_error(code, err, *needles)
    assert not out.strip()
    assert snapshot(run_dir) == before
    assert hidden_siblings(run_dir) == hidden
    return line


def refused_by_validate_and_simulate(
    capsys: pytest.CaptureFixture[str],
    validated: Path,
    hw: Path,
    trace: Path,
    run_dir: Path,
    *needles: object,
) -> None:
    """The bad input is refused by ``validate VALIDATED`` and by ``simulate --hw HW`` (the
    hardware file holding or naming it), each with the same one error line's needles, and the
    existing run directory is untouched (:func:`refused_by_validate`,
    :func:`refused_by_simulate`)."""
    refused_by_validate(capsys, validated, *needles)
    refused_by_simulate(capsys, hw, trace, run_dir, *needles)


def tree(folder: Path) -> list[str]:
    """Every entry below ``folder`` (files and directories), relative, sorted."""
    return sorted(str(p.relative_to(folder)) for p in folder.rglob("*"))




def write_spec(path: Path, axes: dict[str, Any] | None = None, **fields: Any) -> Path:
    data: dict[str, Any] = {"base": str(HW), "axes": axes or {"if_array.lanes": [8, 16]}}
    data.update(fields)
    path.write_text(yaml.safe_dump(data, sort_keys=False), encoding="utf-8")
    return path


@contextmanager
def inline_sweeps(monkeypatch: pytest.MonkeyPatch) -> Iterator[None]:
    """Run sweep tasks in this process instead of a pool of spawned workers (same rows)."""
    import spikesim.dse.runner as runner

    def inline(tasks: list[Any], trace_path: str, trace_sha: str, workers: int,
               on_outcome: Callable[[Any], None], cache: bool = True) -> None:
        for task in tasks:
            on_outcome(runner.run_task(task, trace_path, trace_sha, cache))

    with monkeypatch.context() as m:
        m.setattr(runner, "_run_local", inline)
        yield


def dead_pid() -> int:
    """The id of a process that has just exited (not reused this soon)."""
    proc = subprocess.Popen([sys.executable, "-c", "pass"])
    proc.wait()
    return proc.pid


def spikesim_process(*args: object, cwd: Path | None = None) -> subprocess.Popen[str]:
    """``python -m spikesim ARGS`` in its own session (so the test can signal its group)."""
    env = dict(os.environ)
    env.setdefault("MPLBACKEND", "Agg")
    return subprocess.Popen(
        [sys.executable, "-m", "spikesim", *(str(a) for a in args)],
        cwd=cwd,
        env=env,
        start_new_session=True,
        stdout=subprocess.DEVNULL,
        stderr=subprocess.PIPE,
        text=True,
    )


def wait_for(predicate: Callable[[], bool], proc: subprocess.Popen[str] | None,
             timeout: float = 90.0) -> bool:
    """Poll ``predicate`` until it holds, the process ends or ``timeout`` passes."""
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        if predicate():
            return True
        if proc is not None and proc.poll() is not None:
            return predicate()
        time.sleep(0.002)
    return False


def finish(proc: subprocess.Popen[str], timeout: float = 60.0) -> tuple[int, str]:
    """Wait for the process (killing its group after ``timeout``); return (code, stderr)."""
    try:
        _, err = proc.communicate(timeout=timeout)
    except subprocess.TimeoutExpired:
        os.killpg(proc.pid, signal.SIGKILL)
        _, err = proc.communicate()
        pytest.fail(f"process did not end within {timeout} s after the signal: {err}")
    return proc.returncode, err


def children(pid: int) -> list[int]:
    """Child process ids of ``pid`` (Linux /proc)."""
    out: list[int] = []
    task_dir = Path(f"/proc/{pid}/task")
    for task in task_dir.iterdir() if task_dir.is_dir() else ():
        try:
            out += [int(c) for c in (task / "children").read_text().split()]
        except OSError:
            continue
    return out


def alive(pid: int) -> bool:
    """True while ``pid`` exists and is not a zombie (Linux /proc)."""
    try:
        stat = Path(f"/proc/{pid}/stat").read_text()
    except OSError:
        return False
    return stat.rsplit(")", 1)[1].split()[0] != "Z"


# --------------------------------------------------------------------------------------------
# Fixtures: a tiny trace, a run directory, a sweep's results (each test gets a private copy)
# --------------------------------------------------------------------------------------------


@pytest.fixture(scope="module")
def trace_master(tmp_path_factory: pytest.TempPathFactory) -> Path:
    out = tmp_path_factory.mktemp("traces") / "gemm"
    assert main(["synth", "--gemm", GEMM, "--out", str(out)]) == 0
    return out


@pytest.fixture
def trace(trace_master: Path, tmp_path: Path) -> Path:
    """A private copy of a tiny trace (tests may damage it)."""
    dst = tmp_path / "trace"
    shutil.copytree(trace_master, dst)
    return dst


@pytest.fixture(scope="module")
def run_master(trace_master: Path, tmp_path_factory: pytest.TempPathFactory) -> Path:
    out = tmp_path_factory.mktemp("runs") / "run"
    args = ["simulate", "--hw", str(HW), "--trace", str(trace_master), "--out", str(out),
            "--quiet", "--no-figures", "--designs", "spikequant,mac-w4a4"]
    assert main(args) == 0
    return out


@pytest.fixture
def run_dir(run_master: Path, tmp_path: Path) -> Path:
    """A private copy of a run directory (two designs, no figures)."""
    dst = tmp_path / "run"
    shutil.copytree(run_master, dst)
    return dst


@pytest.fixture(scope="module")
def sweep_master(
    trace_master: Path, tmp_path_factory: pytest.TempPathFactory
) -> tuple[Path, Path]:
    """(spec, results) of a finished 2 points × 2 designs sweep, run in-process."""
    folder = tmp_path_factory.mktemp("sweep")
    spec = write_spec(folder / "sweep.yaml", designs=["spikequant", "mac-w4a4"])
    out = folder / "results.parquet"
    with pytest.MonkeyPatch.context() as mp, inline_sweeps(mp):
        summary = run_sweep(spec, trace_master, out)
    assert (summary.tasks, summary.ran, summary.failed) == (3, 3, 0)  # mac ignores the lanes
    return spec, out


@pytest.fixture
def results(sweep_master: tuple[Path, Path], tmp_path: Path) -> Path:
    """A private copy of the finished sweep's results dataset."""
    dst = tmp_path / "results.parquet"
    shutil.copytree(sweep_master[1], dst)
    return dst


@pytest.fixture
def sweep_spec(sweep_master: tuple[Path, Path]) -> Path:
    return sweep_master[0]
