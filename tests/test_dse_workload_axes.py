"""Workload axes of a sweep (``workload.batch``, ``workload.context`` …): validated like hardware
axes, each point simulated on its own workload (equal to a ``simulate`` run with those values),
rows carrying the values and the energy per token, point ids and resume keyed by them."""

from __future__ import annotations

import json
from pathlib import Path
from typing import Any

import pandas as pd
import pytest
import yaml
from _models import TINY_LLAMA_CONFIG
from cli_support import run

import spikesim.trace
from spikesim.cli import main
from spikesim.dataflows import get_design
from spikesim.dse import read_results, run_sweep
from spikesim.dse.pareto import pareto_front
from spikesim.dse.runner import (
    PER_TOKEN_COLUMNS,
    TOKEN_COLUMNS,
    _trace_cache,
    canonical_json,
    manifest_sha256,
    point_id,
)
from spikesim.dse.spec import load_sweep, without
from spikesim.errors import InputError
from spikesim.trace import synth_trace
from tests.hostile.hostile_support import inline_sweeps

ROOT = Path(__file__).resolve().parents[1]
HW = ROOT / "hw_configs" / "spikequant-45nm.yaml"

CONFIG: dict[str, Any] = TINY_LLAMA_CONFIG
"""2 blocks, head_dim 16, 2 KV groups of 2 query heads (as tests/trace/test_decode_plan.py)."""

BATCHES = (1, 3)
CONTEXTS = (8, 40)
BANDWIDTHS = (16, 64)
STEPS = 2
LAYERS = "decode.*.layers.0.*"
"""Block 0 of every decode step: the sweep and the simulate runs both restricted to it."""


def write_spec(path: Path, axes: dict[str, Any], **fields: Any) -> Path:
    data: dict[str, Any] = {"base": str(HW), "axes": axes}
    data.update(fields)
    path.write_text(yaml.safe_dump(data, sort_keys=False), encoding="utf-8")
    return path


@pytest.fixture(scope="module")
def config(tmp_path_factory: pytest.TempPathFactory) -> Path:
    path = tmp_path_factory.mktemp("model") / "tiny" / "config.json"
    path.parent.mkdir()
    path.write_text(json.dumps(CONFIG), encoding="utf-8")
    return path


# --------------------------------------------------------------------------------------------
# The spec
# --------------------------------------------------------------------------------------------


def test_workload_axes_in_the_spec(tmp_path: Path) -> None:
    """Workload axes (and bundle keys) are points' values and result columns, never hardware
    overrides; ``validate`` accepts them."""
    spec_path = write_spec(tmp_path / "s.yaml", {
        "workload.batch": [1, 8, 64],
        "shape": [{"workload.context": 512, "if_array.lanes": 8},
                  {"workload.context": 4096, "workload.decode_steps": 2}],
        "if_array.columns": [32, 64],
    })
    spec = load_sweep(spec_path).spec
    assert spec.has_workload_axes
    assert spec.workload_paths() == ["workload.batch", "workload.context",
                                     "workload.decode_steps"]
    points = list(spec.points())
    assert len(points) == 12
    assert spec.workload_values(points[-1]) == {"batch": 64, "context": 4096, "decode_steps": 2}
    assert spec.overrides(points[-1]) == {"if_array.columns": 64}
    assert spec.overrides(points[0]) == {"if_array.lanes": 8, "if_array.columns": 32}
    assert spec.columns() == ["workload.batch", "shape", "workload.context", "if_array.lanes",
                              "workload.decode_steps", "if_array.columns"]
    config = {"if_array": {"lanes": 16, "columns": 64}}
    assert spec.column_values(points[-1], config) == {
        "workload.batch": 64, "shape": "workload.context=4096, workload.decode_steps=2",
        "workload.context": 4096, "if_array.lanes": 16, "workload.decode_steps": 2,
        "if_array.columns": 64,
    }
    plain = write_spec(tmp_path / "p.yaml", {"if_array.lanes": [8]})
    assert not load_sweep(plain).spec.has_workload_axes


@pytest.mark.parametrize(
    ("axes", "field", "needle"),
    [
        ({"workload.batch": [1, 0]}, "axes.workload.batch", "batch must be a positive integer"),
        ({"workload.context": [-4]}, "axes.workload.context", "got -4"),
        ({"workload.tokens": [1.5]}, "axes.workload.tokens", "got 1.5"),
        ({"workload.decode_steps": ["2"]}, "axes.workload.decode_steps", "got '2'"),
        ({"workload.batch": [True]}, "axes.workload.batch", "got True"),
        ({"workload.batch": [None]}, "axes.workload.batch", "got None"),
        ({"workload.phase": ["decode"]}, "axes.workload.phase", "unknown workload parameter"),
        ({"workload.seqs": [2]}, "axes.workload.seqs", "known: workload.tokens"),
        ({"b": [{"workload.batch": 2}, {"workload.batch": 0, "if_array.lanes": 8}]}, "axes.b",
         "(at 'workload.batch')"),
        ({"b": [{"workload.nope": 2}]}, "axes.b", "unknown workload parameter 'nope'"),
    ],
)
def test_bad_workload_axis_names_file_and_field(
    tmp_path: Path, capsys: pytest.CaptureFixture[str], axes: dict[str, Any], field: str,
    needle: str,
) -> None:
    path = write_spec(tmp_path / "s.yaml", axes)
    with pytest.raises(InputError) as info:
        load_sweep(path)
    assert (info.value.file, info.value.field) == (str(path), field)
    assert needle in info.value.message
    code, _, err = run(capsys, "validate", path)
    assert code == 2
    assert err.splitlines() == [f"error: {info.value.one_line()}"]


def test_relations_concern_the_hardware_only(tmp_path: Path) -> None:
    path = write_spec(tmp_path / "s.yaml", {"workload.batch": [1, 8]},
                      constraints={"relations": ["workload.batch <= if_array.lanes"]})
    with pytest.raises(InputError, match="not a field of the hardware") as info:
        load_sweep(path)
    assert info.value.field == "constraints.relations"


# --------------------------------------------------------------------------------------------
# A sweep over batch × context × a hardware axis, against simulate
# --------------------------------------------------------------------------------------------


@pytest.fixture(scope="module")
def batch_context(config: Path, tmp_path_factory: pytest.TempPathFactory
                  ) -> tuple[Path, Path, list[str]]:
    """The sweep (in this process), its spec and the CLI arguments that ran it."""
    folder = tmp_path_factory.mktemp("sweep")
    spec = write_spec(folder / "sweep.yaml", {
        "workload.batch": list(BATCHES), "workload.context": list(CONTEXTS),
        "dram.bandwidth_bytes_per_cycle": list(BANDWIDTHS),
    }, designs=["spikequant", "mac-w4a4"])
    out = folder / "results.parquet"
    args = ["sweep", str(spec), "--workload", str(config), "--phase", "decode",
            "--decode-steps", str(STEPS), "--layers", LAYERS, "--out", str(out), "--quiet"]
    mp = pytest.MonkeyPatch()
    try:
        with inline_sweeps(mp):
            assert main(args) == 0
    finally:
        mp.undo()
    return spec, out, args


def _point(batch: int, context: int, bandwidth: int) -> Any:
    fast = (batch, context, bandwidth) in ((1, 8, 16), (3, 40, 64))
    return pytest.param(batch, context, bandwidth, marks=() if fast else pytest.mark.slow,
                        id=f"b{batch}-c{context}-w{bandwidth}")


@pytest.mark.parametrize(
    ("batch", "context", "bandwidth"),
    [_point(b, c, w) for b in BATCHES for c in CONTEXTS for w in BANDWIDTHS],
)
def test_each_point_equals_a_simulate_run(
    batch_context: tuple[Path, Path, list[str]], config: Path, tmp_path: Path,
    capsys: pytest.CaptureFixture[str], batch: int, context: int, bandwidth: int,
) -> None:
    """A (batch, context, bandwidth) point's rows, each design's TOTAL and layers, equal
    ``spikesim simulate`` with those values; the per-token columns equal its ``summary.json``
    phases (2 points in the fast run, all 8 in the slow one)."""
    _, out, _ = batch_context
    df = read_results(out)
    assert (df["error"] == "").all()
    assert len(df[df["layer"] == "TOTAL"]) == 2 * 2 * 2 * 2
    run_dir = tmp_path / "run"
    assert main(["simulate", "--hw", str(HW), "--workload", str(config), "--phase", "decode",
                 "--batch", str(batch), "--context", str(context), "--decode-steps",
                 str(STEPS), "--layers", LAYERS, "--set",
                 f"dram.bandwidth_bytes_per_cycle={bandwidth}", "--designs",
                 "spikequant,mac-w4a4", "--out", str(run_dir), "--quiet",
                 "--no-figures"]) == 0
    capsys.readouterr()
    layers = pd.read_csv(run_dir / "layers.csv")
    summary = json.loads((run_dir / "summary.json").read_text(encoding="utf-8"))
    phases = pd.DataFrame(summary["phases"]).set_index("design")
    at = df[(df["workload.batch"] == batch) & (df["workload.context"] == context)
            & (df["dram.bandwidth_bytes_per_cycle"] == bandwidth)]
    assert set(at["design"]) == set(layers["design"]) == {"spikequant", "mac-w4a4"}
    for design, ran in layers.groupby("design"):
        rows = at[at["design"] == design]
        total = rows[rows["layer"] == "TOTAL"].iloc[0]
        per_layer = rows[rows["layer"] != "TOTAL"]
        assert list(per_layer["layer"]) == list(ran["layer"])
        assert list(per_layer["total_cycles"]) == list(ran["total_cycles"])
        assert list(per_layer["dram_weight_bytes"]) == list(ran["dram_weight_bytes"])
        assert per_layer["energy_pj"].to_numpy() == pytest.approx(ran["energy_pj"].to_numpy(),
                                                                  rel=1e-12)
        assert total["total_cycles"] == ran["total_cycles"].sum()
        assert total["energy_pj"] == pytest.approx(ran["energy_pj"].sum(), rel=1e-12)
        phase = phases.loc[design]
        assert phase["phase"] == "decode"
        assert total["generated_tokens"] == phase["tokens"] == batch * STEPS
        assert (rows["generated_tokens"] == batch * STEPS).all()
        assert total["prefill_tokens"] == 0
        assert total["decode_energy_per_token_pj"] == pytest.approx(
            phase["energy_per_token_pj"], rel=1e-12)
        assert total["decode_cycles_per_step"] == pytest.approx(phase["total_cycles"] / STEPS)
        assert pd.isna(total["prefill_energy_per_token_pj"])
        assert per_layer["decode_energy_per_token_pj"].isna().all()


def test_workload_values_change_what_they_should(
    batch_context: tuple[Path, Path, list[str]],
) -> None:
    """A longer context reads more KV bytes (attention's weight path) per token; a bigger batch
    generates more tokens per step and amortises the linears' weights, whose DRAM bytes per
    step stay the same."""
    _, out, _ = batch_context
    df = read_results(out)
    layers = df[df["layer"] != "TOTAL"]
    keys = ["design", "workload.batch", "workload.context", "dram.bandwidth_bytes_per_cycle"]
    kv = layers[layers["op_class"] == "attention"].groupby(keys)["dram_weight_bytes"].sum()
    lin = layers[layers["op_class"] == "linear"].groupby(keys)["dram_weight_bytes"].sum()
    per_token = df[df["layer"] == "TOTAL"].set_index(keys)["decode_energy_per_token_pj"]
    for design in ("spikequant", "mac-w4a4"):
        for batch in BATCHES:
            short, long = kv[(design, batch, 8, 64)], kv[(design, batch, 40, 64)]
            # each step s of a sequence reads context + s + 1 keys and values
            assert long / short == pytest.approx((40 * 2 + 3) / (8 * 2 + 3), rel=0.05)
            assert per_token[(design, batch, 40, 64)] > per_token[(design, batch, 8, 64)]
        for context in CONTEXTS:
            assert kv[(design, 3, context, 64)] == 3 * kv[(design, 1, context, 64)]
            assert lin[(design, 3, context, 64)] == lin[(design, 1, context, 64)]
        assert per_token[(design, 3, 8, 64)] < per_token[(design, 1, 8, 64)]


def test_point_ids_resume_and_pareto_per_workload(
    batch_context: tuple[Path, Path, list[str]], config: Path, tmp_path: Path,
    monkeypatch: pytest.MonkeyPatch, capsys: pytest.CaptureFixture[str],
) -> None:
    """Point ids hold the workload values: a rerun has nothing to do; one point's id is the one
    a sweep with the values as flags gives; each workload has its own Pareto front."""
    _, out, args = batch_context
    with inline_sweeps(monkeypatch):
        code, printed, _ = run(capsys, *args)
    assert code == 0
    assert "8 point(s) over 4 workload(s) × designs = 16 task(s); ran 0 (0 failed); 16 " \
        "already done" in printed
    df = read_results(out)
    totals = df[df["layer"] == "TOTAL"]
    assert totals["point_id"].is_unique
    # the same hardware and workload as flags: the same point id
    flags = write_spec(tmp_path / "flags.yaml", {"dram.bandwidth_bytes_per_cycle": [16]},
                       designs=["spikequant"])
    with inline_sweeps(monkeypatch):
        assert main(["sweep", str(flags), "--workload", str(config), "--phase", "decode",
                     "--batch", "3", "--context", "40", "--decode-steps", str(STEPS),
                     "--layers", LAYERS, "--out", str(tmp_path / "flags"), "--quiet"]) == 0
    one = read_results(tmp_path / "flags")
    mine = totals[(totals["design"] == "spikequant") & (totals["workload.batch"] == 3)
                  & (totals["workload.context"] == 40)
                  & (totals["dram.bandwidth_bytes_per_cycle"] == 16)]
    assert set(one["point_id"]) == set(mine["point_id"])
    assert not set(TOKEN_COLUMNS) & set(one.columns)  # no workload axes: no new columns
    front = pareto_front(df)
    groups = front.groupby(["workload.batch", "workload.context"])["pareto"].sum()
    assert len(groups) == 4
    assert (groups >= 1).all()


def test_hardware_only_variations_do_not_reload(
    config: Path, tmp_path: Path, monkeypatch: pytest.MonkeyPatch,
) -> None:
    """A worker loads each workload once: tasks go out grouped by workload, whatever the order
    of the axes."""
    spec = write_spec(tmp_path / "s.yaml", {
        "dram.bandwidth_bytes_per_cycle": [16, 32, 64],
        "workload.context": [4, 6],
    }, designs=["mac-w4a4"])
    loads: list[dict[str, Any]] = []
    real = spikesim.trace.load_workload

    def counting(workload: Any, **kwargs: Any) -> Any:
        loads.append(kwargs)
        return real(workload, **kwargs)

    _trace_cache.clear()
    with inline_sweeps(monkeypatch):
        monkeypatch.setattr(spikesim.trace, "load_workload", counting)
        summary = run_sweep(spec, config, tmp_path / "r", workload={"phase": "decode"},
                            layers=["decode.0.layers.0.self_attn.*"])
    assert (summary.ran, summary.workloads) == (6, 2)
    # planning loads each of the 2 workloads once; the (inline) worker once more each
    assert sorted(k["context"] for k in loads) == [4, 4, 6, 6]
    _trace_cache.clear()


def test_a_sweep_without_workload_axes_keeps_its_ids_and_columns(tmp_path: Path) -> None:
    """No workload axis: the point id is sha256(config, manifest, design) as ever, and the rows
    have no token columns (the results of existing sweeps stay byte for byte the same)."""
    trace = tmp_path / "t"
    synth_trace(trace, gemm=(4, 32, 16))
    spec = write_spec(tmp_path / "s.yaml", {"if_array.lanes": [8]}, designs=["spikequant"])
    from spikesim.dse.runner import plan_sweep

    sweep = load_sweep(spec)
    plan = plan_sweep(sweep, trace)
    (task,) = plan.tasks
    ignores = get_design("spikequant").ignores
    assert task.point_id == point_id(canonical_json(without(task.config or {}, ignores)),
                                     manifest_sha256(trace), "spikequant")
    assert (task.workload, task.workload_sha256, task.layers, task.token_columns) == (
        "", "", None, None)
    from spikesim.dse.runner import run_task

    rows = run_task(task, str(trace), plan.trace_sha256).rows
    assert not (set(TOKEN_COLUMNS) | set(PER_TOKEN_COLUMNS)) & set(rows.column_names)


def test_tokens_axis_on_a_topology_csv(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    """A topology CSV takes ``workload.tokens`` (its rows' M) as ``--tokens``: a prefill whose
    energy per prompt token is the TOTAL over the tokens."""
    csv = tmp_path / "g.csv"
    csv.write_text("layer,M,N,K\nq,8,32,32\n", encoding="utf-8")
    spec = write_spec(tmp_path / "s.yaml", {"workload.tokens": [2, 6]}, designs=["mac-w4a4"])
    with inline_sweeps(monkeypatch):
        run_sweep(spec, csv, tmp_path / "r", workload={})
    totals = read_results(tmp_path / "r").query("layer == 'TOTAL'").set_index("workload.tokens")
    assert list(totals["prefill_tokens"]) == [2, 6]
    assert list(totals["generated_tokens"]) == [0, 0]
    assert totals["prefill_energy_per_token_pj"].to_list() == pytest.approx(
        (totals["energy_pj"] / totals.index).to_list())
    assert totals["decode_energy_per_token_pj"].isna().all()


@pytest.mark.slow  # two spawned workers
def test_two_workers_give_the_same_rows(
    batch_context: tuple[Path, Path, list[str]], config: Path, tmp_path: Path,
) -> None:
    spec, out, _ = batch_context
    again = tmp_path / "w2"
    summary = run_sweep(spec, config, again, workers=2,
                        workload={"phase": "decode", "decode_steps": STEPS}, layers=[LAYERS])
    assert summary.ran == 16
    pd.testing.assert_frame_equal(read_results(again), read_results(out))
