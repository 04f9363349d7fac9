"""Valid values that cannot take effect are said: on the result, by simulate, in report.md and
summary.json, and by validate."""

from __future__ import annotations

import json
from pathlib import Path

import pytest

import spikesim
from spikesim.cli import main
from spikesim.sim.notes import configuration_notes

ROOT = Path(__file__).resolve().parents[1]
LAYER = "layers.15.self_attn.k_proj"


def test_lanes_beyond_ports_only_without_a_latch() -> None:
    hw = spikesim.load_hardware("spikequant-45nm", {"if_array.lanes": 32})
    notes = configuration_notes(hw, ["spikequant"])
    assert len(notes) == 1
    assert notes[0].startswith("if_array.lanes (32) exceeds sram.weights.banks x ports (16)")
    latched = spikesim.load_hardware("spikequant-45nm-latch", {"if_array.lanes": 32})
    assert configuration_notes(latched, ["spikequant"]) == []  # latched events need no port
    assert configuration_notes(hw, ["mac-w4a4"]) == []  # no IF array simulated


def test_window_without_ttfs_and_guard_bits_without_operand_width() -> None:
    hw = spikesim.load_hardware(
        "spikequant-45nm", {"encoder.window": 20, "energy.spike_add_guard_bits": 4}
    )
    notes = configuration_notes(hw)
    assert any(n.startswith("encoder.window (20) applies to TTFS coding only") for n in notes)
    assert any(n.startswith("energy.spike_add_guard_bits (4)") for n in notes)
    assert configuration_notes(spikesim.load_hardware("spikequant-45nm")) == []


def test_simulate_says_it_everywhere(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch, capsys: pytest.CaptureFixture[str]
) -> None:
    monkeypatch.chdir(tmp_path)
    code = main([
        "simulate", "--hw", "spikequant-45nm", "--trace", str(ROOT / "traces" / "smollm2-135m"),
        "--out", "run", "--layers", LAYER, "--set", "if_array.lanes=32", "--no-figures",
        "--quiet",
    ])
    assert code == 0
    out = capsys.readouterr().out
    assert "note: if_array.lanes (32) exceeds" in out
    summary = json.loads((tmp_path / "run" / "summary.json").read_text())
    assert summary["notes"][0].startswith("if_array.lanes (32)")
    report = (tmp_path / "run" / "report.md").read_text()
    assert "## Configuration notes" in report
    assert "if_array.lanes (32) exceeds" in report
    quiet = spikesim.simulate(
        spikesim.load_hardware("spikequant-45nm"), spikesim.load_trace("smollm2-135m"),
        layers=[LAYER],
    )
    assert quiet.notes == ()
