"""A model's block plan (linear, attention and vector layers in execution order), ``op_class``
and ``phase`` in every table, the report by operator class, and bad ``vector:`` values."""

from __future__ import annotations

import json
from pathlib import Path
from typing import Any

import pandas as pd
import pytest
import yaml

from spikesim.cli import main
from spikesim.schema import LAYER_COLUMNS
from spikesim.trace import VectorLayer, load_workload, synth_trace

ROOT = Path(__file__).resolve().parents[2]
HW = ROOT / "hw_configs" / "spikequant-45nm.yaml"

SMALL_CONFIG: dict[str, Any] = {
    "architectures": ["LlamaForCausalLM"],
    "model_type": "llama",
    "hidden_size": 64,
    "intermediate_size": 96,
    "num_hidden_layers": 1,
    "num_attention_heads": 2,
    "num_key_value_heads": 2,
}

VECTOR_PLAN = [
    ("layers.0.self_attn.rmsnorm", "rmsnorm"),
    ("layers.0.self_attn.rope", "rope"),
    ("layers.0.self_attn.kv_write", "kv_write"),
    ("layers.0.self_attn.softmax", "softmax"),
    ("layers.0.self_attn.residual", "residual"),
    ("layers.0.mlp.rmsnorm", "rmsnorm"),
    ("layers.0.mlp.silu_mul", "silu_mul"),
    ("layers.0.mlp.residual", "residual"),
]


def run(capsys: pytest.CaptureFixture[str], *args: object) -> tuple[int, str, str]:
    code = main([str(a) for a in args])
    out, err = capsys.readouterr()
    return code, out, err


@pytest.fixture(scope="module")
def config(tmp_path_factory: pytest.TempPathFactory) -> Path:
    path = tmp_path_factory.mktemp("small") / "small" / "config.json"
    path.parent.mkdir()
    path.write_text(json.dumps(SMALL_CONFIG), encoding="utf-8")
    return path


@pytest.fixture(scope="module")
def model_run(config: Path, tmp_path_factory: pytest.TempPathFactory) -> Path:
    out = tmp_path_factory.mktemp("run") / "run"
    assert main(["simulate", "--hw", str(HW), "--workload", str(config), "--tokens", "16",
                 "--designs", "spikequant,mac-w4a4", "--out", str(out), "--quiet",
                 "--no-figures"]) == 0
    return out


def test_block_plan_in_execution_order(config: Path) -> None:
    wl = load_workload(config, tokens=16)
    names = [lay.name for lay in wl.layers]
    classes = {lay.name: lay.op_class for lay in wl.layers}
    assert all(lay.phase == "prefill" for lay in wl.layers)
    vectors = [(lay.name, lay.op) for lay in wl.layers if isinstance(lay, VectorLayer)]
    assert vectors == VECTOR_PLAN
    assert all(classes[n] == ("kv" if op == "kv_write" else "vector") for n, op in VECTOR_PLAN)
    linear = [n for n in names if classes[n] == "linear"]
    attention = [n for n in names if classes[n] == "attention"]
    order = [n for n in names if classes[n] != "attention"]
    assert order == [
        "layers.0.self_attn.rmsnorm", *linear[:3], "layers.0.self_attn.rope",
        "layers.0.self_attn.kv_write", "layers.0.self_attn.softmax", linear[3],
        "layers.0.self_attn.residual",
        "layers.0.mlp.rmsnorm", *linear[4:6], "layers.0.mlp.silu_mul", linear[6],
        "layers.0.mlp.residual",
    ]
    if attention:  # between the KV write (after RoPE) and softmax
        first, last = names.index(attention[0]), names.index(attention[-1])
        assert names.index("layers.0.self_attn.kv_write") < first
        assert last < names.index("layers.0.self_attn.softmax")
    softmax = wl.layer("layers.0.self_attn.softmax")
    assert isinstance(softmax, VectorLayer)
    assert softmax.elements == 2 * 16 * 17 // 2  # 2 heads, causal
    rope = wl.layer("layers.0.self_attn.rope")
    assert isinstance(rope, VectorLayer)
    assert (rope.width, rope.table_values) == (64 + 64, 32)


def test_topology_csv_and_trace_stay_gemm_only(tmp_path: Path) -> None:
    csv = tmp_path / "t.csv"
    csv.write_text("layer,M,N,K\nq,8,40,64\n", encoding="utf-8")
    assert [(lay.op, lay.op_class, lay.phase) for lay in load_workload(csv).layers] == [
        ("gemm", "linear", "prefill")
    ]
    trace = synth_trace(tmp_path / "s", gemm=(4, 16, 8))
    assert [(lay.op_class, lay.phase) for lay in trace.layers] == [("linear", "prefill")]


def test_model_end_to_end_with_every_class(model_run: Path) -> None:
    layers = pd.read_csv(model_run / "layers.csv")
    assert list(layers.columns[: len(LAYER_COLUMNS)]) == LAYER_COLUMNS
    assert list(layers.columns[:4]) == ["layer", "op", "op_class", "phase"]
    present = set(layers["op_class"])
    assert {"linear", "vector", "kv"} <= present <= {"linear", "vector", "attention", "kv"}
    assert set(layers["phase"]) == {"prefill"}
    vector = layers[layers["op_class"] == "vector"]
    assert sorted(set(vector["op"])) == ["residual", "rmsnorm", "rope", "silu_mul", "softmax"]
    assert (vector.groupby("layer")["total_cycles"].nunique() == 1).all()  # every design alike
    assert "energy_vector_unit_pj" in layers.columns
    actions = pd.read_csv(model_run / "actions.csv")
    fp = actions[actions["component"] == "vector_unit"]
    assert set(fp["action"]) == {"fp_add", "fp_mult"}
    assert set(fp["bits"]) == {16}
    # summary.json: per design and class, summing to the design's totals
    summary = json.loads((model_run / "summary.json").read_text())
    classes = pd.DataFrame(summary["op_classes"])
    totals = {t["design"]: t for t in summary["totals"]}
    for design, part in classes.groupby("design"):
        assert part["energy_pj"].sum() == pytest.approx(totals[design]["energy_pj"])
        assert part["total_cycles"].sum() == totals[design]["total_cycles"]
        assert part["energy_share"].sum() == pytest.approx(1.0)
        assert set(part["op_class"]) == present
    report = (model_run / "report.md").read_text()
    assert "## Energy and cycles by operator class" in report
    if "attention" in present:  # the per-layer table sums them per block and matmul
        assert "layers.0.attn.score.* (" in report
        assert "| layers.0.attn.score.g0.q0 |" not in report


@pytest.mark.parametrize(
    ("vector", "field", "words"),
    [
        ({"lanes": 0}, "vector.lanes", "greater than 0"),
        ({"format": "bf16"}, "vector.format", "fp16"),
        ({"lanes": 16, "width": 3}, "vector.width", "unknown field"),
        ({"exp_degree": 0}, "vector.exp_degree", "greater than or equal to 1"),
        ({"newton_iterations": True}, "vector.newton_iterations", "boolean"),
    ],
)
def test_bad_vector_values(
    vector: dict[str, Any], field: str, words: str, tmp_path: Path,
    capsys: pytest.CaptureFixture[str],
) -> None:
    hw = tmp_path / "hw.yaml"
    data = yaml.safe_load(HW.read_text(encoding="utf-8"))
    data["vector"] = vector
    hw.write_text(yaml.safe_dump(data, sort_keys=False), encoding="utf-8")
    code, _, err = run(capsys, "validate", hw)
    assert code == 2, err
    lines = err.splitlines()
    assert len(lines) == 1, err
    assert lines[0].startswith("error: ")
    assert field in lines[0]
    assert words in lines[0]
    assert str(hw) in lines[0]


def test_bad_vector_override(tmp_path: Path, capsys: pytest.CaptureFixture[str]) -> None:
    csv = tmp_path / "t.csv"
    csv.write_text("layer,M,N,K\nq,8,40,64\n", encoding="utf-8")
    code, _, err = run(capsys, "simulate", "--hw", HW, "--workload", csv, "--out",
                       tmp_path / "run", "--set", "vector.lanes=-1", "--quiet", "--no-figures")
    assert code == 2, err
    assert len(err.splitlines()) == 1
    assert err.startswith("error: ")
    assert "vector.lanes" in err
    assert not (tmp_path / "run").exists()
