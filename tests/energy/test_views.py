"""Accounting views: arithmetic only, the SNN-paper convention, and the range ends, by hand."""

from __future__ import annotations

from pathlib import Path

import pandas as pd
import pytest
import yaml

from spikesim.config import HardwareConfig
from spikesim.energy import energy_model, price_actions
from spikesim.energy.views import COMPUTE_KINDS, accounting_views
from spikesim.schema import ENERGY_VIEW_COLUMNS

ROOT = Path(__file__).resolve().parents[2]


def hw() -> HardwareConfig:
    data = yaml.safe_load((ROOT / "hw_configs" / "spikequant-45nm.yaml").read_text())
    data["energy"] = {"table": "horowitz-45nm", "paper": {"mac_pj": 2.0, "ac_pj": 0.5}}
    return HardwareConfig.model_validate(data)


def test_views_by_hand() -> None:
    h = hw()
    table = energy_model(h)
    counted = pd.DataFrame(
        [
            # layer, design, component, action, count, bits
            ("L", "spikequant", "if_array", "acc", 100, 8),  # 100 × 0.03 pJ
            ("L", "spikequant", "sram.weights", "read", 10, 256),
            ("L", "spikequant", "dram", "read", 4, 8),  # 4 bytes × 8 bits × 20.3125 / 40.625
            ("L", "mac-w4a4", "mac_array", "multiply", 50, 8),  # 50 × 0.2 pJ
            ("L", "mac-w4a4", "latch", "read", 7, 4),  # storage: not arithmetic
        ],
        columns=["layer", "design", "component", "action", "count", "bits"],
    )
    priced = price_actions(counted, h, table)
    totals = priced.groupby(["layer", "design"], sort=False)["energy_pj"].sum().reset_index()
    layers = totals.assign(mac_ops=[0, 50], acc_ops=[100, 0], total_cycles=[1000, 1000])
    views = accounting_views(counted, priced, layers, h, table)
    assert list(views) == ENERGY_VIEW_COLUMNS
    assert views["energy_compute_pj"].tolist() == pytest.approx([100 * 0.03, 50 * 0.2])
    assert views["energy_paper_pj"].tolist() == pytest.approx([100 * 0.5, 50 * 2.0])
    sram = priced.loc[priced["component"] == "sram.weights", "energy_pj"].sum()
    assert views["energy_low_pj"].tolist() == pytest.approx(
        [3.0 + sram + 4 * 8 * 20.3125, 10.0 + 7 * 4 * 0.009]
    )
    assert views["energy_high_pj"].tolist() == pytest.approx(
        [3.0 + sram + 4 * 8 * 40.625, 10.0 + 7 * 4 * 0.009]
    )


def test_compute_kinds_are_priced_components() -> None:
    from spikesim.energy import ACTION_PRICING

    kinds = {k for k, _ in ACTION_PRICING}
    assert set(COMPUTE_KINDS) <= kinds
    assert not {"sram", "dram", "latch"} & set(COMPUTE_KINDS)


def test_accounting_ratios_and_ranking_flip() -> None:
    from spikesim.report.markdown import accounting

    totals = pd.DataFrame(
        {
            "design": ["spikequant", "mac-w4a4", "mac-bitserial"],
            "energy_pj": [100.0, 110.0, 101.0],
            "energy_compute_pj": [10.0, 20.0, 5.0],
            "energy_paper_pj": [50.0, 300.0, 300.0],
            "energy_low_pj": [100.0, 110.0, 101.0],
            "energy_high_pj": [170.0, 175.0, 160.0],
        }
    )
    acc = accounting(totals)
    assert acc is not None
    w4 = acc["designs"]["mac-w4a4"]
    assert (w4["energy_ratio"], w4["energy_compute_ratio"], w4["energy_paper_ratio"]) == (
        pytest.approx(1.1), 2.0, 6.0
    )
    assert not w4["order_flips_in_range"]
    assert acc["designs"]["mac-bitserial"]["order_flips_in_range"]
    assert acc["ranking"] == {
        "low": ["spikequant", "mac-bitserial", "mac-w4a4"],
        "high": ["mac-bitserial", "spikequant", "mac-w4a4"],
        "flips_in_range": True,
    }
    assert accounting(totals.drop(columns="energy_paper_pj")) is None
