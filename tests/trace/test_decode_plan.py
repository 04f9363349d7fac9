"""A model's phases (spikesim.trace.model_plan): the prefill of a batch, decode steps from a KV
cache, both; the parameters' errors; the values a decode reads (the prefill's keys continued,
its own per sequence, the prefill's weights); the KV cache's bits in the attention rows; the
per-phase tables of a run."""

from __future__ import annotations

import json
from pathlib import Path
from typing import Any

import numpy as np
import pandas as pd
import pytest
from _models import TINY_LLAMA_CONFIG

import spikesim
from spikesim.cli import main
from spikesim.errors import InputError
from spikesim.trace import VectorLayer, load_workload, synth_trace
from spikesim.trace.attention import AttentionLayer
from spikesim.trace.generated import GeneratedLayer
from spikesim.trace.model_plan import phase_plan

ROOT = Path(__file__).resolve().parents[2]
HW = ROOT / "hw_configs" / "spikequant-45nm.yaml"

CONFIG: dict[str, Any] = TINY_LLAMA_CONFIG
"""2 blocks, head_dim 16, 2 KV groups of 2 query heads."""


@pytest.fixture(scope="module")
def config(tmp_path_factory: pytest.TempPathFactory) -> Path:
    path = tmp_path_factory.mktemp("model") / "tiny" / "config.json"
    path.parent.mkdir()
    path.write_text(json.dumps(CONFIG), encoding="utf-8")
    return path


@pytest.mark.parametrize(
    ("kwargs", "field"),
    [
        ({"phase": "generate", "tokens": 8}, "phase"),
        ({"tokens": 8, "batch": 0}, "batch"),
        ({"tokens": 8, "context": 8}, "context"),
        ({"tokens": 8, "decode_steps": 2}, "decode_steps"),
        ({}, "tokens"),
        ({"phase": "decode"}, "context"),
        ({"phase": "decode", "context": 8, "tokens": 8}, "tokens"),
        ({"phase": "decode", "context": 0}, "context"),
        ({"phase": "decode", "context": 8, "decode_steps": 0}, "decode_steps"),
        ({"phase": "both"}, "tokens"),
        ({"phase": "both", "tokens": 8, "context": 9}, "context"),
        ({"phase": "both", "tokens": 8, "batch": True}, "batch"),
    ],
)
def test_bad_phase_parameters_name_their_field(kwargs: dict[str, Any], field: str) -> None:
    with pytest.raises(InputError) as caught:
        phase_plan(**kwargs)
    assert caught.value.field == field


def test_phase_parameters_need_a_model(tmp_path: Path) -> None:
    csv = tmp_path / "t.csv"
    csv.write_text("layer,M,N,K\nq,8,40,64\n", encoding="utf-8")
    for kwargs in ({"phase": "decode"}, {"batch": 2}, {"context": 4}, {"decode_steps": 2}):
        with pytest.raises(InputError) as caught:
            load_workload(csv, **kwargs)
        assert caught.value.field == next(iter(kwargs))
    assert load_workload(csv, phase="prefill").layers  # the default, said aloud


def test_decode_steps_plan(config: Path) -> None:
    wl = load_workload(config, phase="decode", context=10, batch=3, decode_steps=2)
    assert wl.tokens == 3 * 2  # tokens generated: what energy per token divides by
    assert wl.source["phases"]["generated_tokens"] == 6
    names = [lay.name for lay in wl.layers]
    assert len(names) == len(set(names))
    assert all(lay.phase == "decode" for lay in wl.layers)
    for step in (0, 1):
        for block in (0, 1):
            prefix = f"decode.{step}.layers.{block}."
            mine = [lay for lay in wl.layers if lay.name.startswith(prefix)]
            linear = [lay for lay in mine if isinstance(lay, GeneratedLayer)]
            attention = [lay for lay in mine if isinstance(lay, AttentionLayer)]
            vector = [lay for lay in mine if isinstance(lay, VectorLayer)]
            assert [lay.op for lay in linear] == [
                "q_proj", "k_proj", "v_proj", "o_proj", "gate_proj", "up_proj", "down_proj"]
            assert {lay.tokens for lay in linear} == {3}  # a GEMV per sequence, batched
            assert len(attention) == 2 * 2 * 3  # (score, value) x KV groups x sequences
            keys = 10 + step + 1
            for lay in attention:
                assert lay.tokens == 2  # the new token's 2 query heads of the group
                assert lay.keys == keys
                assert (lay.k, lay.n) == ((16, keys) if lay.op == "attn_score" else (keys, 16))
            kinds = [lay.op for lay in vector]
            assert kinds == ["rmsnorm", "rope", "kv_write", "softmax", "residual", "rmsnorm",
                             "silu_mul", "residual"]
            softmax = next(lay for lay in vector if lay.op == "softmax")
            assert softmax.rows() == ((keys, 4 * 3),)
            write = next(lay for lay in vector if lay.op == "kv_write")
            assert (write.op_class, write.tokens, write.rows_per_token) == ("kv", 3, 4)


def test_prefill_of_a_batch(config: Path) -> None:
    one = load_workload(config, tokens=8)
    two = load_workload(config, tokens=8, batch=2)
    assert two.tokens == 16
    lin1 = {lay.name: lay for lay in one.layers if isinstance(lay, GeneratedLayer)}
    lin2 = {lay.name: lay for lay in two.layers if isinstance(lay, GeneratedLayer)}
    assert lin1.keys() == lin2.keys()
    assert all(lay.tokens == 16 for lay in lin2.values())
    att1 = [lay.name for lay in one.layers if isinstance(lay, AttentionLayer)]
    att2 = [lay.name for lay in two.layers if isinstance(lay, AttentionLayer)]
    assert len(att2) == 2 * len(att1)
    assert "layers.0.attn.score.g1.q0.seq1" in att2
    softmax = two.layer("layers.0.self_attn.softmax")
    assert isinstance(softmax, VectorLayer)
    assert softmax.elements == 2 * 4 * 8 * 9 // 2  # 2 sequences x 4 heads, causal


def test_decode_continues_the_prefill_and_keeps_the_weights(config: Path) -> None:
    wl = load_workload(config, phase="both", tokens=8, batch=2, decode_steps=2, seed=3)
    layer = {lay.name: lay for lay in wl.layers}
    assert [p for p in ("prefill", "decode") if any(lay.phase == p for lay in wl.layers)] == [
        "prefill", "decode"]
    prefill_k = layer["layers.1.attn.score.g0.q0.seq0"].weights()  # K[0:8] of sequence 0
    decode_k = layer["decode.1.layers.1.attn.score.g0.seq0"].weights()  # K[0:10]
    assert decode_k.shape == (10, 16)
    np.testing.assert_array_equal(decode_k[:8], prefill_k)
    other = layer["decode.1.layers.1.attn.score.g0.seq1"].weights()
    np.testing.assert_array_equal(other[:8], layer["layers.1.attn.score.g0.q0.seq1"].weights())
    assert not np.array_equal(other, decode_k)  # each sequence its own keys
    p = layer["decode.1.layers.1.attn.value.g0.seq0"].activations()
    assert p.shape == (2, 10)
    np.testing.assert_allclose(p.sum(axis=1), 1.0, rtol=1e-5)  # no key is masked
    for op in ("q_proj", "down_proj"):
        pre = layer[f"layers.0.{'mlp' if op == 'down_proj' else 'self_attn'}.{op}"]
        dec = [layer[f"decode.{s}.layers.0.{'mlp' if op == 'down_proj' else 'self_attn'}.{op}"]
               for s in (0, 1)]
        np.testing.assert_array_equal(pre.weights(), dec[0].weights())  # the same model
        x0, x1 = dec[0].activations(), dec[1].activations()
        assert x0.shape == (2, pre.k)
        assert not np.array_equal(x0, x1)  # every step new tokens
        assert not np.array_equal(x0, pre.activations()[:2])
        assert len({pre.sha256, dec[0].sha256, dec[1].sha256}) == 3


def test_kv_bits_set_the_attention_operands_width(config: Path) -> None:
    wl = load_workload(config, phase="decode", context=40, decode_steps=1)
    chosen = [lay for lay in wl.layers if lay.name.startswith("decode.0.layers.0.")]
    picked = type(wl)(**{**wl.__dict__, "layers": tuple(chosen)})
    runs = {bits: spikesim.simulate(spikesim.load_hardware(HW, {"kv_cache.bits": bits}),
                                    picked, ["spikequant"]).layers for bits in (4, 8)}
    att = {b: t[t["op_class"] == "attention"]["dram_weight_bytes"].sum() for b, t in runs.items()}
    lin = {b: t[t["op_class"] == "linear"]["dram_weight_bytes"].sum() for b, t in runs.items()}
    assert att[8] == 2 * att[4] > 0  # K and V stream at the cache's width
    assert lin[8] == lin[4]  # weights stay at quant.weight_bits
    kv = {b: t[t["op_class"] == "kv"]["dram_output_bytes"].sum() for b, t in runs.items()}
    assert kv[4] == 4 * (16 * 4 + 16) // 8
    assert kv[8] == 4 * (16 * 8 + 16) // 8


@pytest.mark.slow  # two CLI runs of a model's prefill and decode: 1 s
def test_both_phases_from_the_cli(config: Path, tmp_path: Path,
                                  capsys: pytest.CaptureFixture[str]) -> None:
    out = tmp_path / "run"
    code = main(["simulate", "--hw", str(HW), "--workload", str(config), "--phase", "both",
                 "--tokens", "8", "--batch", "2", "--decode-steps", "2",
                 "--designs", "spikequant,mac-w4a4", "--out", str(out), "--quiet",
                 "--no-figures"])
    printed = capsys.readouterr().out
    assert code == 0
    assert "per token, by phase:" in printed
    layers = pd.read_csv(out / "layers.csv")
    assert set(layers["phase"]) == {"prefill", "decode"}
    assert set(layers["op_class"]) == {"linear", "attention", "vector", "kv"}
    summary = json.loads((out / "summary.json").read_text())
    phases = pd.DataFrame(summary["phases"])
    assert list(phases["phase"]) == ["prefill", "decode"] * 2
    assert dict(zip(phases["phase"], phases["tokens"], strict=False)) == {
        "prefill": 16, "decode": 4}
    for (design, phase), part in layers.groupby(["design", "phase"]):
        row = phases[(phases["design"] == design) & (phases["phase"] == phase)].iloc[0]
        assert row["energy_pj"] == pytest.approx(part["energy_pj"].sum())
        assert row["total_cycles"] == part["total_cycles"].sum()
        tokens = 16 if phase == "prefill" else 4
        assert row["energy_per_token_pj"] == pytest.approx(part["energy_pj"].sum() / tokens)
        by_class = sum(row[f"energy_{c}_per_token_pj"] for c in ("linear", "attention",
                                                                  "vector", "kv"))
        assert by_class == pytest.approx(row["energy_per_token_pj"])
    assert summary["trace"]["source"]["phases"]["decode_steps"] == 2
    report = (out / "report.md").read_text()
    assert "## Per token, by phase" in report
    assert "decode.1.layers.1.attn.score.* (4 layers)" in report


@pytest.mark.parametrize("flag", [["--batch", "2"], ["--context", "8"], ["--decode-steps", "2"],
                                  ["--tokens", "8"], ["--seed", "1"]])
def test_model_flags_refused_with_a_trace(tmp_path: Path, capsys: pytest.CaptureFixture[str],
                                          flag: list[str]) -> None:
    """A trace's batch, context, steps, tokens and values are those it was extracted with;
    ``--phase`` only chooses among its recorded layers."""
    out = tmp_path / "run"
    code = main(["simulate", "--hw", str(HW), "--trace", "smollm2-135m", *flag,
                 "--out", str(out)])
    err = capsys.readouterr().err
    assert code == 2
    assert err.count("error:") == 1
    assert flag[0] in err
    assert not out.exists()


def test_a_trace_without_a_decode_part_refuses_phase_decode(
    tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    trace = tmp_path / "t"
    synth_trace(trace, gemm=(4, 16, 8))
    out = tmp_path / "run"
    code = main(["simulate", "--hw", str(HW), "--trace", str(trace), "--phase", "decode",
                 "--out", str(out)])
    err = capsys.readouterr().err.strip().splitlines()
    assert code == 2
    assert len(err) == 1
    assert "manifest.json: field 'phase'" in err[0]
    assert "no decode layers" in err[0]
    assert not out.exists()
    with pytest.raises(InputError, match="phase must be one of"):
        spikesim.load_trace(trace, phase="generate")


@pytest.mark.slow
def test_decode_runs_compared_against_batch(config: Path, tmp_path: Path,
                                            capsys: pytest.CaptureFixture[str]) -> None:
    """Two decode runs at batch 1 and 4: the comparison draws energy per generated token and
    time per step against the batch; the points are each run's decode totals."""
    runs = []
    for batch in (1, 4):
        out = tmp_path / f"b{batch}"
        assert main(["simulate", "--hw", str(HW), "--workload", str(config), "--phase",
                     "decode", "--context", "12", "--batch", str(batch), "--designs",
                     "spikequant,mac-w4a4", "--layers", "decode.0.layers.0.*", "--out",
                     str(out), "--quiet", "--no-figures"]) == 0
        runs.append(out)
    capsys.readouterr()
    from spikesim.report.figures import _decode_points, has_decode_series
    from spikesim.report.rundir import read_figure_tables

    tables = [read_figure_tables(run, f"b{i}") for i, run in enumerate(runs)]
    assert has_decode_series(tables)
    points = _decode_points(tables)
    assert sorted(set(points["batch"])) == [1, 4]
    for run, batch in zip(runs, (1, 4), strict=True):
        layers = pd.read_csv(run / "layers.csv")
        for design, part in layers.groupby("design"):
            row = points[(points["batch"] == batch) & (points["design"] == design)].iloc[0]
            assert row["energy_per_token_pj"] == pytest.approx(part["energy_pj"].sum() / batch)
    cmp = tmp_path / "cmp"
    assert main(["report", str(runs[0]), str(runs[1]), "--out", str(cmp)]) == 0
    assert (cmp / "figures" / "compare_decode.png").is_file()
    assert "compare_decode" in (cmp / "compare.md").read_text()


def test_decode_points_and_figure_from_tables() -> None:
    """The comparison's decode points from hand-made tables: per run and design, decode energy
    over the run's generated tokens, seconds per step; a prefill-only run has none."""
    from spikesim.report.figures import (
        RunTables,
        _decode_points,
        compare_decode,
        has_decode_series,
    )

    def run(label: str, batch: int, context: int, energy: float) -> RunTables:
        layers = pd.DataFrame({
            "layer": ["a", "b", "a", "b"], "design": ["spikequant"] * 2 + ["mac-w4a4"] * 2,
            "phase": ["decode"] * 4, "op_class": ["linear", "kv"] * 2,
            "total_cycles": [1000, 10, 2000, 10], "energy_pj": [energy, 1.0, 2 * energy, 1.0],
        })
        plan = {"phase": "decode", "batch": batch, "context": context, "decode_steps": 2,
                "prefill_tokens": 0, "generated_tokens": 2 * batch}
        return RunTables(layers=layers, actions=pd.DataFrame(), label=label, clock_hz=1e6,
                         tokens=2 * batch, phases=plan)

    runs = [run("b1", 1, 64, 100.0), run("b8", 8, 64, 400.0)]
    points = _decode_points(runs)
    got = points.set_index(["run", "design"])
    assert got.loc[("b8", "spikequant"), "energy_per_token_pj"] == pytest.approx(401.0 / 16)
    assert got.loc[("b1", "mac-w4a4"), "seconds_per_step"] == pytest.approx(2010 / 1e6 / 2)
    assert has_decode_series(runs)
    prefill_only = RunTables(layers=runs[0].layers.assign(phase="prefill"),
                             actions=pd.DataFrame(), label="p", phases={"prefill_tokens": 5})
    assert not has_decode_series([runs[0], prefill_only])
    fig = compare_decode(runs)
    assert fig.axes[0].get_xscale() == "log"
    assert len(fig.axes[0].lines) == 2  # one line per design (one context)


@pytest.mark.slow
def test_sweep_over_a_decode_workload(config: Path, tmp_path: Path,
                                      monkeypatch: pytest.MonkeyPatch,
                                      capsys: pytest.CaptureFixture[str]) -> None:
    """``sweep --workload`` runs a model's decode steps at every point, regenerated from its
    description in the worker; its point ids are the same whatever folder the config lies in,
    and a rerun resumes (nothing to do)."""
    import shutil

    import yaml

    from tests.hostile.hostile_support import inline_sweeps

    spec = tmp_path / "sweep.yaml"
    spec.write_text(yaml.safe_dump({
        "base": str(HW), "axes": {"dram.bandwidth_bytes_per_cycle": [16, 64]},
        "designs": ["spikequant"],
    }), encoding="utf-8")
    moved = tmp_path / "elsewhere" / "tiny" / "config.json"
    moved.parent.mkdir(parents=True)
    shutil.copy(config, moved)
    frames = []
    with inline_sweeps(monkeypatch):
        for n, model in enumerate((config, moved)):
            out = tmp_path / f"results{n}"
            args = ["sweep", str(spec), "--workload", str(model), "--phase", "decode",
                    "--context", "6", "--batch", "2", "--out", str(out), "--quiet"]
            assert main(args) == 0
            assert main(args) == 0  # resumed: every point done
            frames.append(pd.read_parquet(out))
    assert "ran 0 (0 failed); 2 already done" in capsys.readouterr().out
    first, second = frames
    assert sorted(set(first["point_id"])) == sorted(set(second["point_id"]))
    assert (first["error"] == "").all()
    layers = first[first["layer"] != "TOTAL"]
    assert set(layers["phase"]) == {"decode"}
    assert {"linear", "attention", "vector", "kv"} == set(layers["op_class"])
    assert layers["layer"].str.startswith("decode.0.").all()
    totals = first[first["layer"] == "TOTAL"].set_index(["design",
                                                        "dram.bandwidth_bytes_per_cycle"])
    assert totals.loc[("spikequant", 16), "total_cycles"] > totals.loc[("spikequant", 64),
                                                                       "total_cycles"]
    code = main(["sweep", str(spec), "--trace", "smollm2-135m", "--batch", "2", "--out",
                 str(tmp_path / "r"), "--quiet"])
    assert code == 2
    assert "--batch" in capsys.readouterr().err


def test_sweep_workload_reference_and_identity(config: Path, tmp_path: Path) -> None:
    """What a sweep hands its workers: a trace by directory and manifest hash, a model by a
    reference the worker reopens to the same layers, identified by content (not by folder)."""
    import shutil

    from spikesim.dse.runner import WORKLOAD_PREFIX, _open_trace, sweep_workload

    params = {"phase": "decode", "context": 6, "batch": 2, "tokens": None}
    ref, sha = sweep_workload(config, params)
    assert ref.startswith(WORKLOAD_PREFIX)
    opened = _open_trace(ref, sha)
    assert [lay.sha256 for lay in opened.layers] == [
        lay.sha256 for lay in load_workload(config, phase="decode", context=6, batch=2).layers]
    moved = tmp_path / "m" / "config.json"
    moved.parent.mkdir()
    shutil.copy(config, moved)
    assert sweep_workload(moved, params)[1] == sha
    assert sweep_workload(config, {**params, "batch": 3})[1] != sha
    trace_ref, trace_sha = sweep_workload("smollm2-135m", {})
    assert Path(trace_ref).is_dir()
    assert len(trace_sha) == 64
