"""Comparisons of designs against the reference design, computed from a ``layers.csv`` table."""

from __future__ import annotations

import pandas as pd

from spikesim.dataflows import reference_design
from spikesim.schema import COMPARISON_COLUMNS, TOTAL_LAYER


def compare_designs(layers: pd.DataFrame, reference: str | None = None) -> pd.DataFrame:
    """Per-layer and total energy/cycle ratios of each design against ``reference`` (default:
    the registry's reference design, :func:`spikesim.dataflows.reference_design`).

    One row per (layer, design) plus ``layer == "TOTAL"`` rows (sums over layers);
    ``cycles_ratio`` and ``energy_ratio`` are the design's value over the reference's (> 1: the
    reference is better). Empty when the reference design was not simulated.
    """
    cols = COMPARISON_COLUMNS
    reference = reference_design() if reference is None else reference
    if reference not in set(layers["design"]):
        return pd.DataFrame(columns=cols)
    per = layers[["layer", "design", "total_cycles", "energy_pj"]].copy()
    tot = per.groupby("design", sort=False)[["total_cycles", "energy_pj"]].sum().reset_index()
    tot.insert(0, "layer", TOTAL_LAYER)
    both = pd.concat([per, tot], ignore_index=True)
    ref = both[both["design"] == reference].set_index("layer")
    both["cycles_ratio"] = both["total_cycles"] / both["layer"].map(ref["total_cycles"])
    both["energy_ratio"] = both["energy_pj"] / both["layer"].map(ref["energy_pj"])
    return both[cols]

