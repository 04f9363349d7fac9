"""``spikesim simulate --workload`` end to end with no trace on disk (topology CSV, config.json,
named shape), ``--tokens``/``--seed``, ``--layers`` globs, ``synth --gemm`` repeated, and the
one-line errors of bad workloads (exit 2, nothing written)."""

from __future__ import annotations

import hashlib
import json
from pathlib import Path
from typing import Any

import pandas as pd
import pytest
from cli_support import assert_one_error, run

from spikesim import api
from spikesim.cli import main
from spikesim.cli.synth import SHAPE_NAMES
from spikesim.trace import SHAPES, load_trace

ROOT = Path(__file__).resolve().parents[2]
HW = ROOT / "hw_configs" / "spikequant-45nm.yaml"

TINY_CONFIG: dict[str, Any] = {
    "architectures": ["LlamaForCausalLM"],
    "model_type": "llama",
    "hidden_size": 16,
    "intermediate_size": 24,
    "num_hidden_layers": 1,
    "num_attention_heads": 4,
    "num_key_value_heads": 2,
}






def simulate(workload: object, out: Path, *extra: object) -> list[object]:
    return ["simulate", "--hw", HW, "--workload", workload, "--out", out, "--quiet",
            "--no-figures", *extra]


def files_under(folder: Path) -> list[str]:
    return sorted(str(p.relative_to(folder)) for p in folder.rglob("*"))


@pytest.fixture(scope="module")
def csv_run(tmp_path_factory: pytest.TempPathFactory) -> tuple[Path, Path]:
    root = tmp_path_factory.mktemp("csv")
    csv = root / "topo.csv"
    csv.write_text("layer,M,N,K\nq,8,40,64\nup,8,48,64\n", encoding="utf-8")
    out = root / "run"
    assert main([str(a) for a in simulate(csv, out, "--seed", 4)]) == 0
    return csv, out


def test_topology_csv_end_to_end(csv_run: tuple[Path, Path]) -> None:
    csv, out = csv_run
    # nothing but the run directory was written: no trace
    assert files_under(csv.parent) == ["run", *(f"run/{f}" for f in files_under(out)), "topo.csv"]
    layers = pd.read_csv(out / "layers.csv")
    assert list(layers["layer"]) == ["q", "up"]
    assert list(layers[["tokens", "k", "n"]].itertuples(index=False, name=None)) == [
        (8, 64, 40), (8, 64, 48)
    ]
    assert (layers["total_cycles"] > 0).all()
    summary = json.loads((out / "summary.json").read_text())
    trace = summary["trace"]
    assert trace["kind"] == "topology-csv"
    assert trace["path"] == str(csv.resolve())
    assert trace["file_sha256"] == hashlib.sha256(csv.read_bytes()).hexdigest()
    assert (trace["seed"], trace["tokens"], summary["seed"]) == (4, 8, 4)
    assert set(trace["layer_sha256"]) == {"q", "up"}
    assert "topology-csv" in (out / "report.md").read_text()


@pytest.mark.slow  # a whole run or two: kept out of the one-minute default run
def test_same_seed_same_tables(
    csv_run: tuple[Path, Path], tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    csv, first = csv_run
    assert run(capsys, *simulate(csv, tmp_path / "again", "--seed", 4))[0] == 0
    for name in ("layers.csv", "actions.csv"):
        assert (tmp_path / "again" / name).read_bytes() == (first / name).read_bytes()
    assert run(capsys, *simulate(csv, tmp_path / "other", "--seed", 5))[0] == 0
    assert (tmp_path / "other" / "actions.csv").read_bytes() != (
        first / "actions.csv"
    ).read_bytes()


def test_hf_config_end_to_end(tmp_path: Path, capsys: pytest.CaptureFixture[str]) -> None:
    config = tmp_path / "tiny" / "config.json"
    config.parent.mkdir()
    config.write_text(json.dumps(TINY_CONFIG), encoding="utf-8")
    out = tmp_path / "run"
    code, stdout, err = run(capsys, *simulate(config, out, "--tokens", 4,
                                              "--designs", "spikequant,mac-w4a4"))
    assert code == 0, err
    layers = pd.read_csv(out / "layers.csv")
    n_layers = layers["layer"].nunique()
    assert f"trace 'tiny' ({n_layers} layer(s), 4 tokens)" in stdout
    kv = layers[layers["layer"] == "layers.0.self_attn.k_proj"]
    assert set(kv["n"]) == {8}  # 2 KV heads of 4
    assert set(layers["design"]) == {"spikequant", "mac-w4a4"}
    assert (layers["op_class"] == "linear").sum() == 14  # 7 linears x 2 designs
    assert (layers["op_class"] == "vector").sum() == 14  # 7 vector operators x 2 designs
    summary = json.loads((out / "summary.json").read_text())
    assert summary["trace"]["kind"] == "hf-config"
    assert summary["trace"]["source"]["config"]["num_key_value_heads"] == 2
    written = [f for f in files_under(tmp_path) if f != "run" and not f.startswith("run/")]
    assert written == ["tiny", "tiny/config.json"]  # no trace anywhere


def test_named_shape_with_layer_glob(tmp_path: Path, capsys: pytest.CaptureFixture[str]) -> None:
    out = tmp_path / "run"
    code, _, err = run(capsys, *simulate("shape:smollm2-135m", out, "--tokens", 2,
                                         "--layers", "layers.29.self_attn.[kv]_proj"))
    assert code == 0, err
    layers = pd.read_csv(out / "layers.csv")
    assert list(layers["layer"]) == ["layers.29.self_attn.k_proj", "layers.29.self_attn.v_proj"]
    assert set(layers["n"]) == {192}
    summary = json.loads((out / "summary.json").read_text())
    assert summary["trace"]["kind"] == "named-shape"
    assert summary["trace"]["path"] is None
    assert summary["layers"] == list(layers["layer"])


@pytest.fixture(scope="module")
def gemm_trace_run(tmp_path_factory: pytest.TempPathFactory) -> Path:
    """``synth --gemm 8,64,40`` simulated with ``--trace``: the run directory."""
    root = tmp_path_factory.mktemp("gemm")
    assert main(["synth", "--gemm", "8,64,40", "--out", str(root / "t")]) == 0
    assert main(["simulate", "--hw", str(HW), "--trace", str(root / "t"), "--out",
                 str(root / "run"), "--quiet", "--no-figures"]) == 0
    return root / "run"


def same_tables(a: Path, b: Path) -> bool:
    return all((a / f).read_bytes() == (b / f).read_bytes() for f in ("layers.csv", "actions.csv"))


@pytest.mark.slow  # a whole run or two: kept out of the one-minute default run
def test_workload_trace_equals_trace_flag(
    gemm_trace_run: Path, tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    code, _, err = run(capsys, *simulate(gemm_trace_run.parent / "t", tmp_path / "run"))
    assert code == 0, err
    assert same_tables(tmp_path / "run", gemm_trace_run)


def test_one_row_csv_equals_the_gemm_trace(
    gemm_trace_run: Path, tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    """The same GEMM from a one-row CSV: the same values, so the same tables."""
    csv = tmp_path / "g.csv"
    csv.write_text("layer,M,N,K\ngemm,8,40,64\n")
    code, _, err = run(capsys, *simulate(csv, tmp_path / "run"))
    assert code == 0, err
    assert same_tables(tmp_path / "run", gemm_trace_run)


def test_api_run_takes_a_workload(tmp_path: Path) -> None:
    workload = api.load_workload("shape:smollm2-135m", tokens=2, seed=2)
    result = api.run(HW, workload, tmp_path / "run", layers=["layers.0.self_attn.k_proj"],
                     figures=False)
    assert list(result.layers["layer"]) == ["layers.0.self_attn.k_proj"]
    assert result.trace is workload
    assert (tmp_path / "run" / "summary.json").is_file()


def test_synth_gemm_repeated(tmp_path: Path, capsys: pytest.CaptureFixture[str]) -> None:
    code, out, err = run(capsys, "synth", "--gemm", "8,64,40", "--gemm", "8,32,16",
                         "--out", tmp_path / "t")
    assert code == 0, err
    trace = load_trace(tmp_path / "t")
    assert [(lay.name, lay.k, lay.n) for lay in trace.layers] == [
        ("gemm.0", 64, 40), ("gemm.1", 32, 16)
    ]
    assert trace.source["gemm"] == [[8, 64, 40], [8, 32, 16]]
    assert "2 layer(s)" in out
    code, _, err = run(capsys, "synth", "--gemm", "8,64,40", "--gemm", "4,32,16",
                       "--out", tmp_path / "u")
    assert_one_error(code, err, "--gemm", "same M")
    assert not (tmp_path / "u").exists()


def test_help_lists_every_named_shape(capsys: pytest.CaptureFixture[str]) -> None:
    assert set(SHAPE_NAMES.split(", ")) == set(SHAPES)
    assert main(["simulate", "--help"]) == 0
    text = " ".join(capsys.readouterr().out.split())
    for name in SHAPES:
        assert name in text
    assert "--workload" in text


# --------------------------------------------------------------------------------------------
# Bad input: exit 2, one error line naming the file, row and field; nothing written
# --------------------------------------------------------------------------------------------

BAD_FILES = {
    "missing-column": ("topo.csv", "layer,M,N\nq,1,2\n", ["topo.csv", "field 'K'", "missing"]),
    "zero-dimension": ("topo.csv", "layer,M,N,K\nq,4,8,8\nr,0,8,8\n",
                       ["topo.csv", "field 'M'", "line 3", "'r'", "positive"]),
    "negative": ("topo.csv", "layer,M,N,K\nq,4,-8,8\n", ["field 'N'", "line 2", "'-8'"]),
    "non-integer": ("topo.csv", "layer,M,N,K\nq,4,8,8.0\n", ["field 'K'", "line 2", "'8.0'"]),
    "empty-csv": ("topo.csv", "", ["topo.csv", "empty"]),
    "config-without-heads": (
        "config.json", json.dumps({k: v for k, v in TINY_CONFIG.items()
                                   if k != "num_attention_heads"}),
        ["config.json", "field 'num_attention_heads'", "missing"],
    ),
    "too-big-row": ("topo.csv", "layer,M,N,K\nbig,70000,8,2048\n",
                    ["topo.csv", "field 'M'", "line 2", "'big'", "2^27"]),
    "too-big-weights": ("topo.csv", "layer,M,N,K\nwide,4,300000,1000\n",
                        ["topo.csv", "field 'N'", "line 2", "'wide'", "2^28"]),
}


@pytest.mark.parametrize("case", list(BAD_FILES))
def test_bad_workload_file(case: str, tmp_path: Path, capsys: pytest.CaptureFixture[str]) -> None:
    name, text, needles = BAD_FILES[case]
    path = tmp_path / name
    path.write_text(text, encoding="utf-8")
    before = files_under(tmp_path)
    code, out, err = run(capsys, *simulate(path, tmp_path / "run", "--tokens", 4)
                         if name == "config.json" else simulate(path, tmp_path / "run"))
    assert_one_error(code, err, *needles)
    assert out == ""
    assert files_under(tmp_path) == before


@pytest.mark.parametrize(
    ("args", "needles"),
    [
        pytest.param(["--workload", "llama2-7b", "--tokens", 0], ["--tokens", "positive"],
                     id="tokens-zero"),
        pytest.param(["--workload", "llama2-7b", "--tokens", -5], ["--tokens", "positive"],
                     id="tokens-negative"),
        pytest.param(["--workload", "llama2-7b"], ["--tokens", "token count"],
                     id="tokens-missing"),
        pytest.param(["--workload", "llama2-7b", "--tokens", "1.5"], ["--tokens"],
                     id="tokens-not-int"),
        pytest.param(["--workload", "gpt-9", "--tokens", 4],
                     ["--workload", "'gpt-9'", "llama2-13b, llama2-70b, llama2-7b, mistral-7b"],
                     id="unknown-shape"),
        pytest.param(["--workload", "NOPE/topo.csv"], ["NOPE/topo.csv", "--workload",
                                                       "does not exist"], id="missing-path"),

        pytest.param(["--workload", "llama2-7b", "--tokens", 12193],
                     ["--tokens", "layers.0.mlp.down_proj"], id="tokens-too-big",
                     marks=pytest.mark.slow),  # builds a 196,608-layer plan: ~3 s
        pytest.param(["--trace", "smollm2-135m", "--tokens", 4], ["--tokens", "--workload"],
                     id="tokens-with-trace"),
        pytest.param(["--workload", "smollm2-135m", "--seed", 1], ["--seed", "on disk"],
                     id="seed-with-trace"),
        pytest.param(["--workload", "llama2-7b", "--trace", "smollm2-135m"],
                     ["not allowed with"], id="both"),
    ],
)
def test_bad_workload_arguments(
    args: list[object], needles: list[str], tmp_path: Path, capsys: pytest.CaptureFixture[str],
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    monkeypatch.chdir(tmp_path)
    code, out, err = run(capsys, "simulate", "--hw", HW, *args, "--out", tmp_path / "run",
                         "--quiet", "--no-figures")
    assert_one_error(code, err, *needles)
    assert out == ""
    assert list(tmp_path.iterdir()) == []
