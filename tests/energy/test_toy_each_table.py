"""A toy priced under every built-in table equals the hand computation from the table's own
numbers (read straight from its YAML, not through the lookup code)."""

from __future__ import annotations

from pathlib import Path
from typing import Any

import pandas as pd
import pytest
import yaml

from spikesim.config import HardwareConfig
from spikesim.energy import builtin_tables, energy_model, price_actions, price_leakage

TABLES = Path(__file__).resolve().parents[2] / "spikesim" / "energy" / "tables"


def raw(name: str) -> dict[str, Any]:
    return yaml.safe_load((TABLES / f"{name}.yaml").read_text())


def row_at(data: dict[str, Any], op: str, bits: int) -> float:
    return next(r["energy_pj"] for r in data["operations"][op]["rows"] if r["bits"] == bits)


def toy_hw(weights: dict[str, Any], energy: dict[str, Any]) -> HardwareConfig:
    small = {"capacity_bytes": 8192, "word_bits": 64}
    return HardwareConfig.model_validate(
        {
            "sram": {
                "weights": {"role": "weights", **weights},
                "activations": {"role": "activations", **small},
                "salient": {"role": "salient", **small},
                "output": {"role": "output", **small},
            },
            "energy": energy,
        }
    )


TOY = pd.DataFrame(
    [
        ("L", "d", "if_array", "acc", 100, 8),
        ("L", "d", "mac_array", "multiply", 10, 8),
        ("L", "d", "sram.weights", "read", 7, 0),  # bits filled in with the word width
        ("L", "d", "sram.weights", "write", 3, 0),
        ("L", "d", "dram", "read", 4, 8),
    ],
    columns=["layer", "design", "component", "action", "count", "bits"],
)


@pytest.mark.parametrize("name", builtin_tables())
def test_toy_equals_the_hand_computation(name: str) -> None:
    data = raw(name)
    parts = {p: name if data.get(p) else "horowitz-45nm" for p in ("operations", "sram", "dram")}
    ops = raw(parts["operations"])
    dram = raw(parts["dram"])["dram"]
    sram = raw(parts["sram"])["sram"]
    if sram.get("model") == "grid":
        row = next(
            r for r in sram["grid"] if (r["word_bits"], r["capacity_bytes"]) == (256, 65536)
        )
        weights = {"capacity_bytes": 2 * 65536, "word_bits": 256, "banks": 2}
        read, write, leak_w = row["read_pj"], row["write_pj"], 2 * row["leakage_mw"] * 1e-3
    else:
        point = sram["points"][0]
        banks = 2 if sram.get("capacity_basis") == "bank" else 1
        weights = {"capacity_bytes": banks * point["capacity_bytes"], "word_bits": 256,
                   "banks": banks}
        read = write = point["energy_pj_per_access"] * 256 / point["access_bits"]
        leak_w = raw(parts["sram"]).get("leakage", {}).get("sram_w_per_byte", 0.0) * (
            weights["capacity_bytes"]
        )
    hw = toy_hw(weights, parts)
    model = energy_model(hw)
    toy = TOY.assign(bits=TOY["bits"].where(TOY["bits"] > 0, 256))
    priced = price_actions(toy, hw, model)
    hand = (
        100 * row_at(ops, "int_add", 8)
        + 10 * row_at(ops, "int_mult", 8)
        + 7 * read
        + 3 * write
        + 4 * 8 * dram["energy_pj_per_bit"]
    )
    assert priced["energy_pj"].sum() == pytest.approx(hand, rel=1e-12)
    cycles = 5_000_000
    leak = price_leakage(
        pd.DataFrame({"layer": ["L"], "design": ["d"], "total_cycles": [cycles]}), hw, model
    )
    weights_leak = leak.loc[leak["component"] == "sram.weights", "energy_pj"].sum()
    assert weights_leak == pytest.approx(leak_w * cycles / hw.clock_hz * 1e12, rel=1e-12)
