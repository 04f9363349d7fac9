"""The cases of the end-to-end golden (shared by ``tests/test_golden.py`` and
``tests/golden/regenerate.py``): each preset on the shipped trace, the demo's designs."""

from __future__ import annotations

from pathlib import Path

import pandas as pd

ROOT = Path(__file__).resolve().parents[1]
GOLDEN_DIR = ROOT / "tests" / "golden"
GOLDEN_CASES = (
    "spikequant-45nm",
    "spikequant-45nm-count",
    "spikequant-45nm-ttfs",
    "spikequant-45nm-mac-ws",
    "spikequant-45nm-mac-is",
    "spikequant-45nm-latch",
    "spikequant-45nm-batched",
)
"""Presets of ``hw_configs/`` (the first is the demo's)."""
GOLDEN_DESIGNS = ("spikequant", "mac-w4a4", "atom", "spikellm", "fp16")
"""The demo's designs, in the demo's order."""


def golden_tables(case: str) -> tuple[pd.DataFrame, pd.DataFrame]:
    """``layers`` and ``actions`` of preset ``case`` on the shipped trace, as the API gives them."""
    import spikesim

    hw = spikesim.load_hardware(ROOT / "hw_configs" / f"{case}.yaml")
    trace = spikesim.load_trace(ROOT / "traces" / "smollm2-135m")
    result = spikesim.simulate(hw, trace, GOLDEN_DESIGNS)
    return result.layers, result.actions
