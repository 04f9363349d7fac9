"""Sweeps: identical rows with 1 worker, 2 workers and Dask; failures recorded; kill and resume."""

from __future__ import annotations

import os
import signal
import subprocess
import sys
import time
from pathlib import Path

import pandas as pd
import pytest
import yaml

from spikesim.dse import read_results, run_sweep
from spikesim.dse.runner import TaskOutcome
from spikesim.dse.store import META_NAME, done_point_ids, part_files
from spikesim.errors import InputError
from spikesim.trace import synth_trace

ROOT = Path(__file__).resolve().parents[1]
BASE = ROOT / "hw_configs" / "spikequant-45nm.yaml"


def write_spec(path: Path, axes: dict[str, list[object]], **fields: object) -> Path:
    data: dict[str, object] = {"base": str(BASE), "axes": axes}
    data.update(fields)
    path.write_text(yaml.safe_dump(data, sort_keys=False), encoding="utf-8")
    return path


@pytest.fixture(scope="module")
def tiny_trace(tmp_path_factory: pytest.TempPathFactory) -> Path:
    path = tmp_path_factory.mktemp("trace") / "tiny"
    synth_trace(path, gemm=(16, 64, 48))
    return path


@pytest.fixture(scope="module")
def small_spec(tmp_path_factory: pytest.TempPathFactory) -> Path:
    folder = tmp_path_factory.mktemp("spec")
    axes = {"if_array.lanes": [8, 16], "quant.normal_coding": ["count", "bitserial"],
            "sram.salient.word_bits": [64, 8]}
    return write_spec(folder / "sweep.yaml", axes, designs=["spikequant", "mac-w4a4"])


@pytest.fixture(scope="module")
def one_worker(small_spec: Path, tiny_trace: Path, tmp_path_factory: pytest.TempPathFactory
               ) -> pd.DataFrame:
    out = tmp_path_factory.mktemp("w1") / "results.parquet"
    summary = run_sweep(small_spec, tiny_trace, out, workers=1)
    # 8 points x 2 designs; mac-w4a4 ignores if_array.lanes and the coding: 6 of its 8 are
    # shared (it runs once per salient word width)
    assert (summary.tasks, summary.shared) == (10, 6)
    assert summary.ran == 10
    return read_results(out)


@pytest.mark.slow  # a 10-task sweep in a worker process
def test_rows_columns_and_failures(one_worker: pd.DataFrame) -> None:
    df = one_worker
    for col in ["point_id", "layer", "design", "if_array.lanes", "quant.normal_coding",
                "sram.salient.word_bits", "total_cycles", "energy_pj", "area_mm2", "error"]:
        assert col in df.columns
    total = df[df["layer"] == "TOTAL"]
    assert len(total) == 10
    assert total["point_id"].is_unique
    # a MAC row stands for every lane count and coding: the axes it ignores are blank there
    mac = total[total["design"] == "mac-w4a4"]
    assert mac["if_array.lanes"].isna().all()
    assert mac["quant.normal_coding"].isna().all()
    assert total[total["design"] == "spikequant"]["if_array.lanes"].notna().all()
    assert not df.duplicated(["point_id", "layer"]).any()
    # an 8-bit salient word cannot hold a salient (index, value) record: the spiking points
    # fail (the MAC array has no salient SRAM), recorded, and the sweep went on
    failed = total[total["error"] != ""]
    assert len(failed) == 4
    assert set(failed["design"]) == {"spikequant"}
    assert (failed["sram.salient.word_bits"] == 8).all()
    assert failed["error"].str.contains("InputError").all()
    assert failed["total_cycles"].isna().all()
    assert failed["area_mm2"].notna().all()
    ok = total[total["error"] == ""]
    assert (ok["total_cycles"] > 0).all()
    # the TOTAL row sums the layer rows
    layer_rows = df[(df["layer"] != "TOTAL") & (df["error"] == "")]
    sums = layer_rows.groupby("point_id")["energy_pj"].sum()
    assert ok.set_index("point_id")["energy_pj"].to_dict() == pytest.approx(sums.to_dict())
    for col in ("dram_weight_bytes", "dram_activation_bytes", "dram_output_bytes"):
        per_point = layer_rows.groupby("point_id")[col].sum()
        assert ok.set_index("point_id")[col].to_dict() == per_point.to_dict()
        assert (ok[col] > 0).all()


@pytest.mark.slow  # two worker processes, run twice
def test_two_workers_same_rows(
    one_worker: pd.DataFrame, small_spec: Path, tiny_trace: Path, tmp_path: Path
) -> None:
    out = tmp_path / "results.parquet"
    run_sweep(small_spec, tiny_trace, out, workers=2)
    pd.testing.assert_frame_equal(read_results(out), one_worker)
    # a rerun finds everything done and adds nothing
    again = run_sweep(small_spec, tiny_trace, out, workers=2)
    assert again.ran == 0
    assert again.skipped_done == 10
    assert len(part_files(out)) == 10


@pytest.mark.slow  # starts a Dask cluster of two processes
def test_dask_local_cluster_same_rows(
    one_worker: pd.DataFrame, small_spec: Path, tiny_trace: Path, tmp_path: Path
) -> None:
    distributed = pytest.importorskip("distributed")
    with distributed.LocalCluster(
        n_workers=2, threads_per_worker=1, processes=True, dashboard_address=None,
        host="127.0.0.1",
    ) as cluster:
        out = tmp_path / "results.parquet"
        summary = run_sweep(small_spec, tiny_trace, out, scheduler=cluster.scheduler_address)
    assert summary.ran == 10
    pd.testing.assert_frame_equal(read_results(out), one_worker)


@pytest.mark.slow  # another sweep in a worker process
def test_constraints_drop_and_count(tiny_trace: Path, tmp_path: Path) -> None:
    spec = write_spec(
        tmp_path / "s.yaml",
        {"if_array.lanes": [8, 64], "if_array.columns": [32, 64]},
        designs=["spikequant"],
        constraints={"relations": ["if_array.lanes <= if_array.columns"], "max_area_mm2": 6.0},
    )
    summary = run_sweep(spec, tiny_trace, tmp_path / "r.parquet")
    assert summary.points == 4
    assert summary.dropped_relation == 1  # lanes 64 > columns 32
    # 64 × 64 adders of 24 bits push the area above 6.0 mm² (6.33; the others 5.30 and 5.39)
    assert summary.dropped_area == 1
    assert summary.tasks == summary.ran == 2
    totals = read_results(tmp_path / "r.parquet").query("layer == 'TOTAL'")
    assert (totals["area_mm2"] <= 6.0).all()


@pytest.mark.slow  # another sweep in a worker process
def test_other_sweep_into_same_out_is_refused(
    small_spec: Path, tiny_trace: Path, tmp_path: Path
) -> None:
    out = tmp_path / "r.parquet"
    spec = write_spec(tmp_path / "s.yaml", {"if_array.lanes": [8]})
    run_sweep(spec, tiny_trace, out)
    with pytest.raises(InputError, match="different sweep") as info:
        run_sweep(small_spec, tiny_trace, out)
    assert info.value.field == "out"


def test_missing_dask_or_bad_workers(small_spec: Path, tiny_trace: Path, tmp_path: Path) -> None:
    with pytest.raises(InputError) as info:
        run_sweep(small_spec, tiny_trace, tmp_path / "r.parquet", workers=0)
    assert info.value.field == "workers"


@pytest.mark.slow  # a 40-point sweep in a subprocess, killed and resumed
def test_kill_and_resume(tmp_path: Path) -> None:
    trace = tmp_path / "trace"
    synth_trace(trace, gemm=(96, 256, 256))
    spec = write_spec(
        tmp_path / "s.yaml",
        {"if_array.lanes": [4, 8, 16, 32, 64], "if_array.columns": [16, 32, 64, 128],
         "encoder.count": [2, 4]},
        designs=["spikequant"],
    )
    out = tmp_path / "r.parquet"
    cmd = [sys.executable, "-m", "spikesim", "sweep", str(spec), "--trace", str(trace),
           "--out", str(out), "--workers", "1", "--quiet"]
    proc = subprocess.Popen(cmd, start_new_session=True, stdout=subprocess.DEVNULL,
                            stderr=subprocess.PIPE)
    deadline = time.monotonic() + 60
    try:
        while len(part_files(out)) < 3 and proc.poll() is None and time.monotonic() < deadline:
            time.sleep(0.005)
    finally:
        os.killpg(proc.pid, signal.SIGKILL)  # the sweep and its worker, mid-run
        proc.wait()
    before = done_point_ids(out)
    assert 3 <= len(before) < 40, "the sweep finished before it could be killed"
    assert (out / META_NAME).exists()
    summary = run_sweep(spec, trace, out, workers=2)
    assert summary.skipped_done == len(before)
    assert summary.ran == 40 - len(before)
    df = read_results(out)
    totals = df[df["layer"] == "TOTAL"]
    assert len(totals) == 40
    assert totals["point_id"].is_unique
    assert not df.duplicated(["point_id", "layer"]).any()
    assert sorted(totals["point_index"]) == list(range(40))
    assert not [p for p in out.iterdir() if p.name.startswith(".tmp-")]


@pytest.mark.slow  # a sweep in a worker process
def test_bundle_axis_runs_each_dataflow_with_its_knobs(tiny_trace: Path, tmp_path: Path) -> None:
    """Knobs of one dataflow ride in a bundle: no failed point for token_serial × batch."""
    axes: dict[str, list[object]] = {"array": [
        {"if_array.dataflow": "token_serial"},
        {"if_array.dataflow": "token_batched", "if_array.batch_tokens": 4},
    ]}
    spec = write_spec(tmp_path / "sweep.yaml", axes, designs=["spikequant"])
    summary = run_sweep(spec, tiny_trace, tmp_path / "out.parquet", workers=1, progress=False)
    assert (summary.ran, summary.failed) == (2, 0)
    df = read_results(tmp_path / "out.parquet")
    total = df[df["layer"] == "TOTAL"].set_index("if_array.dataflow")
    assert total.loc["token_batched", "if_array.batch_tokens"] == 4
    assert total.loc["token_batched", "array"] == (
        "if_array.dataflow=token_batched, if_array.batch_tokens=4"
    )
    assert total.loc["token_serial", "energy_pj"] != total.loc["token_batched", "energy_pj"]


def test_rows_carry_op_class_and_phase(tmp_path: Path) -> None:
    """A task's rows (in process, an Arrow table): each layer's ``op_class`` and ``phase``
    after ``layer``, empty on ``TOTAL``; a part with them passes the store's checks and reads
    back in that order."""
    from spikesim.config import load_hardware
    from spikesim.dse.runner import PointTask, run_task
    from spikesim.dse.store import LAYER_CLASS_COLUMNS, check_part, order_columns, write_part

    trace = tmp_path / "t"
    synth_trace(trace, gemm=(4, 32, 16))
    task = PointTask(index=0, point_id="p0", design="spikequant", axis_values={},
                     config=load_hardware(BASE).model_dump(mode="json"), area_mm2=1.0)
    outcome = run_task(task, str(trace), "sha")
    rows = outcome.rows.to_pandas()
    assert not outcome.failed, rows["error"].tolist()
    assert list(rows.columns[:6]) == ["point_index", "point_id", "design", "layer",
                                      *LAYER_CLASS_COLUMNS]
    assert rows[["layer", "op_class", "phase"]].values.tolist() == [
        ["gemm", "linear", "prefill"], ["TOTAL", "", ""]
    ]
    part = write_part(tmp_path, "p0", outcome.rows)
    assert check_part(part) == 2
    assert list(order_columns(rows, []).columns) == list(rows.columns)


def test_one_worker_interrupted_keeps_finished_points(
    small_spec: Path, tiny_trace: Path, tmp_path: Path
) -> None:
    """A one-worker sweep runs its points in this process and writes them from a writer
    thread: an interrupt raised while handling a point (here by the outcome callback) stops
    the sweep with that exception, the parts already written stay whole, no temporary file is
    left, and a resumed sweep runs only the rest."""
    out = tmp_path / "results.parquet"
    seen: list[str] = []

    def stop_at_second(outcome: TaskOutcome) -> None:
        seen.append(outcome.point_id)
        if len(seen) == 2:
            raise KeyboardInterrupt

    with pytest.raises(KeyboardInterrupt):
        run_sweep(small_spec, tiny_trace, out, workers=1, progress=False,
                  on_outcome=stop_at_second)
    assert len(seen) == 2  # nothing handled after the interrupt
    assert len(done_point_ids(out)) == 2
    assert not [p.name for p in out.iterdir() if p.name.startswith(".tmp-")]
    resumed = run_sweep(small_spec, tiny_trace, out, workers=1, progress=False)
    assert (resumed.skipped_done, resumed.ran) == (2, 8)
    assert len(done_point_ids(out)) == 10
