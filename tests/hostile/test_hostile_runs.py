"""Hostile runs: damaged run-directory tables given to ``report``, interrupted and killed writers
(simulate, synth, sweep, report, pareto) and the debris a killed writer leaves.

A signal (SIGTERM, SIGINT, SIGHUP) unwinds the staging: exit 130 with the one line
``error: interrupted``, no temporary sibling left, the previous output intact. A writer killed
outright (SIGKILL) leaves ``.NAME.tmp-PID-...``; the next writer of the same output removes it
when PID is gone, and never touches a sibling of a live process, another host or another name.
Sweep workers die with their parent.
"""

from __future__ import annotations

import contextlib
import json
import os
import shutil
import signal
import subprocess
import sys
import threading
import time
from collections.abc import Callable
from pathlib import Path
from typing import Any

import hostile_support
import pytest
import yaml
from hostile_support import (
    GEMM,
    HW,
    alive,
    assert_one_error,
    children,
    dead_pid,
    finish,
    hidden_siblings,
    inline_sweeps,
    run,
    snapshot,
    spikesim_process,
    wait_for,
    write_spec,
)

from spikesim.dse import read_results, run_sweep
from spikesim.dse.store import part_files
from spikesim.fsutil import (
    Interrupted,
    interruptible,
    make_sibling_dir,
    process_tag,
    remove_debris,
    signals_deferred,
)
from spikesim.trace import load_trace, synth_trace

# fixtures shared with the other hostile modules (see hostile_support)
trace_master = hostile_support.trace_master
trace = hostile_support.trace
run_master = hostile_support.run_master
run_dir = hostile_support.run_dir
sweep_master = hostile_support.sweep_master
results = hostile_support.results

# --------------------------------------------------------------------------------------------
# report on damaged tables: one line naming the file and the column
# --------------------------------------------------------------------------------------------


def _set_cell(path: Path, column: str, value: str, row: int = 0) -> None:
    lines = path.read_text().splitlines()
    header = lines[0].split(",")
    cells = lines[row + 1].split(",")
    cells[header.index(column)] = value
    lines[row + 1] = ",".join(cells)
    path.write_text("\n".join(lines) + "\n")


LAYERS_DAMAGE = [
    ("energy_pj", "nan"),
    ("energy_pj", "NaN"),
    ("energy_pj", "inf"),
    ("energy_pj", "-inf"),
    ("energy_pj", ""),
    ("energy_pj", "1e400"),
    ("energy_pj", "-3.5"),
    ("energy_dram_pj", "nan"),
    ("total_cycles", "nan"),
    ("total_cycles", str(10**30)),
    ("total_cycles", "1.5"),
    ("total_cycles", "abc"),
    ("total_cycles", "-5"),
    ("compute_cycles", "True"),
    ("stall_dram_cycles", str(2**63)),
    ("tokens", str(10**25)),
    ("k", str(2**70)),
    ("n", "1e300"),
    ("utilization", "nan"),
    ("salient_ratio", "inf"),
    ("spikes", str(10**40)),
    ("dram_weight_bytes", "nan"),
]


def _report_state(run_dir: Path) -> tuple[dict[str, bytes], list[str]]:
    return snapshot(run_dir), hidden_siblings(run_dir / "report.md")


@pytest.mark.parametrize(("column", "value"), LAYERS_DAMAGE)
def test_report_names_a_bad_layers_cell(
    column: str, value: str, run_dir: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    layers = run_dir / "layers.csv"
    _set_cell(layers, column, value, row=1)
    before = _report_state(run_dir)
    code, _, err = run(capsys, "report", run_dir)
    line = assert_one_error(code, err, layers, f"field '{column}'", "line 3")
    assert len(line) < 400
    assert _report_state(run_dir) == before


@pytest.mark.parametrize(
    ("table", "column", "value"),
    [
        ("actions.csv", "count", "nan"),
        ("actions.csv", "bits", "-1"),
        ("actions.csv", "energy_pj", "inf"),
        ("actions.csv", "energy_per_action_pj", "x"),
        ("spike_stats.csv", "normal_count", "nan"),
        ("spike_stats.csv", "abs_q", str(10**20)),
    ],
)
def test_report_names_a_bad_cell_of_another_table(
    table: str, column: str, value: str, run_dir: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    _set_cell(run_dir / table, column, value)
    before = _report_state(run_dir)
    code, _, err = run(capsys, "report", run_dir)
    assert_one_error(code, err, run_dir / table, f"field '{column}'", "line 2")
    assert _report_state(run_dir) == before


def _summary_edit(change: Callable[[dict[str, Any]], None]) -> Callable[[Path], None]:
    def edit(path: Path) -> None:
        data = json.loads(path.read_text())
        change(data)
        path.write_text(json.dumps(data))

    return edit


def _set_path(dotted: str, value: Any) -> Callable[[Path], None]:
    def change(data: dict[str, Any]) -> None:
        *parents, last = dotted.split(".")
        node = data
        for part in parents:
            node = node[part]
        node[last] = value

    return _summary_edit(change)


SUMMARY_DAMAGE: dict[str, tuple[Callable[[Path], None], str]] = {
    "hardware-a-list": (_set_path("hardware", [1, 2]), "hardware"),
    "trace-a-string": (_set_path("trace", "smol"), "trace"),
    "clock-a-string": (_set_path("hardware.clock_hz", "fast"), "hardware.clock_hz"),
    "clock-negative": (_set_path("hardware.clock_hz", -1.0), "hardware.clock_hz"),
    "clock-huge": (_set_path("hardware.clock_hz", 1e300), "hardware.clock_hz"),
    "tokens-huge": (_set_path("trace.tokens", 10**30), "trace.tokens"),
    "tokens-fraction": (_set_path("trace.tokens", 2.5), "trace.tokens"),
    "tokens-boolean": (_set_path("trace.tokens", True), "trace.tokens"),
    "designs-a-number": (_set_path("designs", 5), "designs"),
    "notes-of-numbers": (_set_path("notes", [1, 2]), "notes"),
    "overrides-a-list": (_set_path("overrides", ["a"]), "overrides"),
    "source-a-list": (_set_path("trace.source", [1]), "trace.source"),
    "pricing-designs-a-list": (_set_path("pricing.designs", [1]), "pricing.designs"),
    "pricing-design-a-string": (
        _summary_edit(lambda d: d["pricing"]["designs"].update(spikequant="x")),
        "pricing.designs.spikequant",
    ),
    "pricing-actions-a-string": (
        _summary_edit(lambda d: d["pricing"]["designs"]["spikequant"].update(array_actions="x")),
        "pricing.designs.spikequant.array_actions",
    ),
}


@pytest.mark.parametrize("damage", list(SUMMARY_DAMAGE))
def test_report_names_a_bad_summary_field(
    damage: str, run_dir: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    change, field = SUMMARY_DAMAGE[damage]
    change(run_dir / "summary.json")
    before = _report_state(run_dir)
    code, _, err = run(capsys, "report", run_dir)
    assert_one_error(code, err, run_dir / "summary.json", f"field '{field}'")
    assert _report_state(run_dir) == before


@pytest.mark.parametrize("text", ["[" * 100_000 + "]" * 100_000, '{"a":' * 50_000 + "1"
                                  + "}" * 50_000, "\ufeff{}"])
def test_report_on_a_summary_json_nested_too_deep_or_odd(
    text: str, run_dir: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    (run_dir / "summary.json").write_text(text, encoding="utf-8")
    code, _, err = run(capsys, "report", run_dir)
    assert_one_error(code, err, run_dir / "summary.json")


# --------------------------------------------------------------------------------------------
# Debris of killed writers
# --------------------------------------------------------------------------------------------


@contextlib.contextmanager
def live_process() -> Any:
    proc = subprocess.Popen([sys.executable, "-c", "import time; time.sleep(60)"])
    try:
        yield proc.pid
    finally:
        proc.kill()
        proc.wait()


def _debris(target: Path, tag: str, pid: int, host: str | None = None) -> Path:
    path = target.parent / f".{target.name}.{tag}-{pid}-{host or process_tag()}0badc0de"
    path.mkdir()
    (path / "layers.csv").write_text("half written")
    return path


@pytest.mark.slow  # spawns processes for dead writers: 0.6 s
def test_simulate_removes_debris_of_dead_writers_only(
    run_dir: Path, trace: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    gone = [_debris(run_dir, "tmp", dead_pid()), _debris(run_dir, "old", dead_pid())]
    with live_process() as pid:
        kept = [
            _debris(run_dir, "tmp", pid),  # a run in progress
            _debris(run_dir, "tmp", dead_pid(), host="0" * 8),  # another host's
            _debris(run_dir.with_name("other"), "tmp", dead_pid()),  # another output's
        ]
        legacy = run_dir.parent / f".{run_dir.name}.tmp-0badc0de"  # older naming: no pid
        legacy.mkdir()
        look_alike = run_dir.parent / f".{run_dir.name}.tmp-{dead_pid()}-{process_tag()}12345678"
        look_alike.write_text("a file, not a staging directory")
        code, _, err = run(capsys, "simulate", "--hw", HW, "--trace", trace, "--out", run_dir,
                           "--quiet", "--no-figures")
        assert code == 0, err
        for path in gone:
            assert not path.exists(), path
        for path in [*kept, legacy, look_alike]:
            assert path.exists(), path


def test_synth_removes_debris_of_its_dead_writers(
    tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    out = tmp_path / "t"
    stale = _debris(out, "tmp", dead_pid())
    code, _, err = run(capsys, "synth", "--gemm", GEMM, "--out", out)
    assert code == 0, err
    assert not stale.exists()
    assert hidden_siblings(out) == []


def test_report_removes_its_dead_staging(
    run_dir: Path, capsys: pytest.CaptureFixture[str], monkeypatch: pytest.MonkeyPatch
) -> None:
    import spikesim.report.rundir as rundir

    monkeypatch.setattr(rundir, "run_figures", lambda tables: {})  # no drawing: ~3 s saved
    stale = _debris(run_dir / "report", "tmp", dead_pid())
    code, _, err = run(capsys, "report", run_dir)
    assert code == 0, err
    assert not stale.exists()
    assert hidden_siblings(run_dir / "report.md") == []


def test_report_removes_figures_moved_aside_by_a_killed_report(
    run_dir: Path, capsys: pytest.CaptureFixture[str], monkeypatch: pytest.MonkeyPatch
) -> None:
    """Killed between the two renames that swap figures/ in: figures/ missing, the old one
    aside. The next report puts it back, then replaces it: no debris stays."""
    import spikesim.report.rundir as rundir

    monkeypatch.setattr(rundir, "run_figures", lambda tables: {})
    aside = _debris(run_dir / "figures", "old", dead_pid())
    shutil.rmtree(run_dir / "figures", ignore_errors=True)
    code, _, err = run(capsys, "report", run_dir)
    assert code == 0, err
    assert not aside.exists()
    assert (run_dir / "figures").is_dir()
    assert [p.name for p in run_dir.iterdir() if p.name.startswith(".")] == []


@pytest.mark.slow  # draws the Pareto figure
def test_pareto_removes_a_killed_drawing_temporary_file(
    results: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    png = results.with_name("results-pareto.png")
    stale = png.with_name(f".{png.name}.tmp-{dead_pid()}-{process_tag()}0badc0de")
    stale.write_bytes(b"\x89PNG half")
    with live_process() as pid:
        running = png.with_name(f".{png.name}.tmp-{pid}-{process_tag()}0badc0de")
        running.write_bytes(b"\x89PNG being written")
        code, _, err = run(capsys, "pareto", results)
        assert code == 0, err
        assert not stale.exists()
        assert running.exists()
    assert png.read_bytes().startswith(b"\x89PNG\r\n")


def test_old_contents_moved_aside_come_back_when_the_target_is_missing(tmp_path: Path) -> None:
    """Killed between the two renames of replace_dir: the previous output is restored."""
    target = tmp_path / "run"
    old = _debris(target, "old", dead_pid())
    new = _debris(target, "tmp", dead_pid())
    removed = remove_debris(target)
    assert sorted(removed) == sorted([old, new])
    assert (target / "layers.csv").read_text() == "half written"
    assert hidden_siblings(target) == []


def test_sibling_names_carry_pid_and_host(tmp_path: Path) -> None:
    path = make_sibling_dir(tmp_path / "x", "tmp")
    assert path.name.startswith(f".x.tmp-{os.getpid()}-{process_tag()}")
    assert remove_debris(tmp_path / "x") == []  # our own: never debris
    assert path.is_dir()


# --------------------------------------------------------------------------------------------
# Signals, in-process: the staging unwinds
# --------------------------------------------------------------------------------------------


def _name(sig: int) -> str:
    return signal.Signals(sig).name


def _kill_self(sig: int = signal.SIGTERM) -> None:
    os.kill(os.getpid(), sig)


def test_interruptible_turns_sigterm_into_an_exception_once() -> None:
    before = signal.getsignal(signal.SIGTERM)
    caught: list[BaseException] = []

    def body() -> None:
        with interruptible():
            try:
                _kill_self()
            except KeyboardInterrupt as exc:  # Interrupted is one: except Exception misses it
                caught.append(exc)
                _kill_self()  # a second signal while unwinding is ignored
                _kill_self(signal.SIGINT)
                raise

    with pytest.raises(Interrupted) as info:
        body()
    assert info.value.signum == signal.SIGTERM
    assert "SIGTERM" in str(info.value)
    assert len(caught) == 1
    assert signal.getsignal(signal.SIGTERM) == before


def test_signals_deferred_holds_a_signal_until_the_block_ends() -> None:
    steps: list[str] = []

    def body() -> None:
        with interruptible():
            with signals_deferred():
                _kill_self(signal.SIGINT)
                steps.append("renamed")
            steps.append("after")

    with pytest.raises(Interrupted):
        body()
    assert steps == ["renamed"]


def test_interruptible_outside_the_main_thread_changes_nothing() -> None:
    seen: list[object] = []

    def body() -> None:
        with interruptible():
            seen.append(signal.getsignal(signal.SIGTERM))

    thread = threading.Thread(target=body)
    thread.start()
    thread.join()
    assert seen == [signal.getsignal(signal.SIGTERM)]


@pytest.mark.parametrize("sig", [signal.SIGTERM, signal.SIGINT, signal.SIGHUP], ids=_name)
def test_simulate_interrupted_while_staging_keeps_the_old_run(
    sig: int, run_dir: Path, trace: Path, capsys: pytest.CaptureFixture[str],
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    import spikesim.report.rundir as rundir

    real = rundir.write_run_files

    def then_signal(directory: Path, *args: Any, **kwargs: Any) -> None:
        real(directory, *args, **kwargs)
        assert Path(directory).name.startswith(f".{run_dir.name}.tmp-")
        _kill_self(sig)

    monkeypatch.setattr(rundir, "write_run_files", then_signal)
    before = snapshot(run_dir)
    code, _, err = run(capsys, "simulate", "--hw", HW, "--trace", trace, "--out", run_dir,
                       "--quiet", "--no-figures", "--set", "if_array.lanes=8")
    assert code == 128 + sig
    assert err.splitlines() == ["error: interrupted"]
    assert snapshot(run_dir) == before
    assert hidden_siblings(run_dir) == []


def test_synth_interrupted_while_writing_keeps_the_old_trace(
    tmp_path: Path, capsys: pytest.CaptureFixture[str], monkeypatch: pytest.MonkeyPatch
) -> None:
    import spikesim.trace.format as fmt

    out = tmp_path / "t"
    assert run(capsys, "synth", "--gemm", GEMM, "--out", out)[0] == 0
    before = snapshot(out)
    real = fmt.save_file

    def then_signal(*args: Any, **kwargs: Any) -> None:
        real(*args, **kwargs)
        _kill_self()

    monkeypatch.setattr(fmt, "save_file", then_signal)
    code, _, err = run(capsys, "synth", "--shape", "smollm2-135m", "--tokens", 16, "--out", out)
    assert code == 128 + signal.SIGTERM
    assert err.splitlines() == ["error: interrupted"]
    assert snapshot(out) == before
    assert hidden_siblings(out) == []


def test_report_interrupted_while_drawing_keeps_the_old_report(
    run_dir: Path, capsys: pytest.CaptureFixture[str], monkeypatch: pytest.MonkeyPatch
) -> None:
    import spikesim.report.rundir as rundir

    def draw_then_signal(figures: Any, directory: Path, dpi: int) -> list[Path]:
        Path(directory).mkdir(parents=True, exist_ok=True)
        (Path(directory) / "half.png").write_bytes(b"\x89PNG")
        _kill_self()
        return []

    monkeypatch.setattr(rundir, "save_figures", draw_then_signal)
    monkeypatch.setattr(rundir, "run_figures", lambda tables: {})
    before = _report_state(run_dir)
    code, _, err = run(capsys, "report", run_dir)
    assert code == 128 + signal.SIGTERM
    assert err.splitlines() == ["error: interrupted"]
    assert _report_state(run_dir) == before


@pytest.mark.slow  # a whole run or two: kept out of the one-minute default run
def test_sweep_interrupted_keeps_finished_parts_and_resumes(
    tmp_path: Path, trace_master: Path, capsys: pytest.CaptureFixture[str],
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    import spikesim.dse.runner as runner

    spec = write_spec(tmp_path / "s.yaml", {"if_array.lanes": [4, 8, 16, 32]})
    out = tmp_path / "r.parquet"

    def one_then_signal(tasks: list[Any], trace_path: str, trace_sha: str, workers: int,
                        on_outcome: Any, cache: bool = True) -> None:
        on_outcome(runner.run_task(tasks[0], trace_path, trace_sha))
        _kill_self()
        on_outcome(runner.run_task(tasks[1], trace_path, trace_sha))  # never reached

    monkeypatch.setattr(runner, "_run_local", one_then_signal)
    code, _, err = run(capsys, "sweep", spec, "--trace", trace_master, "--out", out, "--quiet")
    assert code == 128 + signal.SIGTERM
    assert err.splitlines() == ["error: interrupted"]
    assert len(part_files(out)) == 1
    assert [p.name for p in out.iterdir() if p.name.startswith(".")] == []
    monkeypatch.undo()
    with inline_sweeps(monkeypatch):
        summary = run_sweep(spec, trace_master, out)
    assert (summary.skipped_done, summary.ran) == (1, 3)
    assert (read_results(out)["layer"] == "TOTAL").sum() == 4


@pytest.mark.slow  # draws the Pareto figure
def test_pareto_interrupted_while_drawing_keeps_the_old_figure(
    results: Path, capsys: pytest.CaptureFixture[str], monkeypatch: pytest.MonkeyPatch
) -> None:
    import spikesim.dse.pareto as pareto

    assert run(capsys, "pareto", results)[0] == 0
    png = results.with_name("results-pareto.png")
    before = png.read_bytes()

    def half_then_signal(fig: Any, fmt: str) -> Callable[[Any], None]:
        def save(fh: Any) -> None:
            fh.write(b"\x89PNG half")
            _kill_self()

        return save

    monkeypatch.setattr(pareto, "_saver", half_then_signal)
    code, _, err = run(capsys, "pareto", results)
    assert code == 128 + signal.SIGTERM
    assert err.splitlines() == ["error: interrupted"]
    assert png.read_bytes() == before
    assert hidden_siblings(png) == []


# --------------------------------------------------------------------------------------------
# Signals, real processes (slow)
# --------------------------------------------------------------------------------------------


def _staging(out: Path) -> Callable[[], list[str]]:
    return lambda: [p for p in os.listdir(out.parent) if p.startswith(f".{out.name}.tmp-")]


@pytest.mark.slow  # a subprocess per signal, each staging a run with figures (~4 s)
@pytest.mark.parametrize("sig", [signal.SIGTERM, signal.SIGINT], ids=_name)
def test_signal_during_simulate_subprocess(sig: int, run_dir: Path, trace: Path) -> None:
    before = snapshot(run_dir)
    proc = spikesim_process("simulate", "--hw", HW, "--trace", trace, "--out", run_dir,
                            "--quiet", "--set", "if_array.lanes=8")
    assert wait_for(lambda: bool(_staging(run_dir)()), proc), "never staged"
    proc.send_signal(sig)
    code, err = finish(proc)
    assert code == 128 + sig, err
    assert err.splitlines() == ["error: interrupted"]
    assert _staging(run_dir)() == []
    assert snapshot(run_dir) == before


@pytest.mark.slow  # a subprocess per signal writing a 28-layer trace (about 3 s of work)
@pytest.mark.parametrize("sig", [signal.SIGTERM, signal.SIGINT], ids=_name)
def test_signal_during_synth_subprocess(sig: int, tmp_path: Path) -> None:
    out = tmp_path / "t"
    synth_trace(out, gemm=(8, 64, 40))
    before = snapshot(out)
    # the signal is sent as soon as the staging exists; synth generates first and stages only
    # to write, so on a fast machine the write may already be swapping in when the signal is
    # handled. Either outcome is whole: interrupted (exit 128 + sig, the old trace untouched) or
    # finished (exit 0, the new trace complete); never a mix, debris or a traceback. The
    # interruption itself is exercised deterministically in-process above.
    proc = spikesim_process("synth", "--shape", "smollm2-135m", "--layers", 4, "--tokens", 2048,
                            "--out", out)
    assert wait_for(lambda: bool(_staging(out)()), proc), "never staged"
    proc.send_signal(sig)
    code, err = finish(proc)
    assert "Traceback" not in err
    assert _staging(out)() == []
    if snapshot(out) == before:
        assert code == 128 + sig, err
        assert err.splitlines() == ["error: interrupted"]
    else:  # the swap had begun: the new trace is there, whole
        assert code in (0, 128 + sig), err
        trace = load_trace(out)
        assert len(trace.layers) == 28
        for layer in trace.layers:
            layer.verify()


@pytest.mark.slow  # SIGKILL mid-staging, then a second run
def test_sigkilled_simulate_debris_is_removed_by_the_next_run(run_dir: Path, trace: Path
                                                              ) -> None:
    before = snapshot(run_dir)
    proc = spikesim_process("simulate", "--hw", HW, "--trace", trace, "--out", run_dir,
                            "--quiet")
    assert wait_for(lambda: bool(_staging(run_dir)()), proc), "never staged"
    os.killpg(proc.pid, signal.SIGKILL)
    proc.wait()
    left = _staging(run_dir)()
    assert left, "a SIGKILL cannot clean up: the staging stays"
    assert snapshot(run_dir) == before  # ... and the previous run is intact
    again = spikesim_process("simulate", "--hw", HW, "--trace", trace, "--out", run_dir,
                             "--quiet", "--no-figures")
    code, err = finish(again)
    assert code == 0, err
    assert _staging(run_dir)() == []
    assert hidden_siblings(run_dir) == []


def _slow_sweep(tmp_path: Path) -> tuple[Path, Path]:
    trace = tmp_path / "trace"
    synth_trace(trace, gemm=(96, 256, 256))
    spec = tmp_path / "s.yaml"
    spec.write_text(yaml.safe_dump({
        "base": str(HW),
        "axes": {"if_array.lanes": [4, 8, 16, 32, 64], "if_array.columns": [16, 32, 64, 128],
                 "encoder.count": [2, 4]},
        "designs": ["spikequant"],
    }))
    return spec, trace


@pytest.mark.slow  # a 40-task sweep on two workers, interrupted, then resumed
@pytest.mark.parametrize("sig", [signal.SIGTERM, signal.SIGINT], ids=_name)
def test_signal_during_sweep_subprocess(sig: int, tmp_path: Path) -> None:
    spec, trace = _slow_sweep(tmp_path)
    out = tmp_path / "r.parquet"
    proc = spikesim_process("sweep", spec, "--trace", trace, "--out", out, "--workers", 2,
                            "--quiet")
    try:
        assert wait_for(lambda: len(part_files(out)) >= 2, proc), "no part was written"
        workers = children(proc.pid)
        proc.send_signal(sig)
        start = time.monotonic()
        code, err = finish(proc)
        assert time.monotonic() - start < 20, "the interrupted sweep took long to stop"
    finally:
        with contextlib.suppress(ProcessLookupError):
            os.killpg(proc.pid, signal.SIGKILL)
    assert code == 128 + sig, err
    assert err.splitlines() == ["error: interrupted"]
    assert workers, "no worker process was seen"
    assert wait_for(lambda: not any(alive(w) for w in workers), None, timeout=10)
    assert [p.name for p in out.iterdir() if p.name.startswith(".")] == []
    done = len(part_files(out))
    assert 2 <= done < 40
    summary = run_sweep(spec, trace, out, workers=2)
    assert (summary.skipped_done, summary.ran) == (done, 40 - done)


@pytest.mark.slow  # a sweep whose parent alone is SIGKILLed
def test_sweep_workers_die_with_their_parent(tmp_path: Path) -> None:
    spec, trace = _slow_sweep(tmp_path)
    out = tmp_path / "r.parquet"
    proc = spikesim_process("sweep", spec, "--trace", trace, "--out", out, "--workers", 2,
                            "--quiet")
    try:
        assert wait_for(lambda: len(part_files(out)) >= 1, proc), "no part was written"
        workers = children(proc.pid)
        assert workers
        proc.kill()  # the parent only, not its process group
        proc.wait()
        assert wait_for(lambda: not any(alive(w) for w in workers), None, timeout=15), (
            "sweep workers outlived their parent"
        )
    finally:
        with contextlib.suppress(ProcessLookupError):
            os.killpg(proc.pid, signal.SIGKILL)
    summary = run_sweep(spec, trace, out, workers=1)  # and the dataset resumes
    assert summary.skipped_done + summary.ran == 40


def test_the_fixture_run_is_untouched(run_master: Path) -> None:
    """Every test above worked on a copy."""
    assert (run_master / "summary.json").is_file()
    assert hidden_siblings(run_master) == []
