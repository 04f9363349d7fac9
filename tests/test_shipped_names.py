"""Shipped presets and traces are usable by name, from any directory: in the API, on the command
line and as a sweep's ``base:``."""

from __future__ import annotations

from pathlib import Path

import pytest

import spikesim
from spikesim.cli import main
from spikesim.dse.spec import load_sweep
from spikesim.trace.shipped import resolve_trace


def test_api_takes_names_from_any_directory(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.chdir(tmp_path)
    hw = spikesim.load_hardware("spikequant-45nm-latch")
    assert hw.if_array.row_latch
    trace = spikesim.load_trace("smollm2-135m")
    assert trace.name == "smollm2-135m"
    assert len(trace.layers) == 8


def test_a_local_directory_wins_over_a_shipped_name(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.chdir(tmp_path)
    (tmp_path / "smollm2-135m").mkdir()
    assert resolve_trace("smollm2-135m") == Path("smollm2-135m")
    assert resolve_trace("nosuch") == Path("nosuch")  # reported when it is opened


def test_cli_simulate_by_names(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch, capsys: pytest.CaptureFixture[str]
) -> None:
    monkeypatch.chdir(tmp_path)
    code = main([
        "simulate", "--hw", "spikequant-45nm", "--trace", "smollm2-135m", "--out", "run",
        "--layers", "layers.15.self_attn.k_proj", "--no-figures", "--quiet",
    ])
    assert code == 0
    assert (tmp_path / "run" / "layers.csv").is_file()
    code = main(["simulate", "--hw", "spikequant-45nm", "--trace", "nosuch", "--out", "run2"])
    assert code == 2
    assert "--trace" in capsys.readouterr().err
    assert not (tmp_path / "run2").exists()


def test_sweep_base_by_preset_name(tmp_path: Path) -> None:
    spec = tmp_path / "sweep.yaml"
    spec.write_text("base: spikequant-45nm\naxes:\n  if_array.lanes: [8, 16]\n")
    sweep = load_sweep(spec)
    assert sweep.base.name == "spikequant-45nm"
    assert sweep.base_path.name == "spikequant-45nm.yaml"
