"""The tables of one simulation run, priced (what ``spikesim.simulate`` returns)."""

from __future__ import annotations

from dataclasses import dataclass, field
from typing import Any

import pandas as pd

from spikesim.config.hardware import HardwareConfig
from spikesim.sim.compare import compare_designs
from spikesim.trace import Workload


@dataclass(frozen=True, eq=False)
class SimResult:
    """Tables of one simulation run (tidy, units in column names; see :mod:`spikesim.schema`)."""

    layers: pd.DataFrame
    """One row per (layer, design): cycles, stalls, utilisation, energy per component, counts."""
    actions: pd.DataFrame
    """One row per (layer, design, component, action, bits): count and priced energy."""
    transactions: pd.DataFrame
    """The transaction timeline (DRAM loads, array computes) of every layer and design."""
    hardware: HardwareConfig
    trace: Workload
    """What was simulated: a :class:`~spikesim.trace.Trace` or a shape-only workload."""
    designs: tuple[str, ...]
    notes: tuple[str, ...] = ()
    """Configuration values that could not take effect for these designs (see
    :mod:`spikesim.sim.notes`)."""
    spike_stats: pd.DataFrame | None = None
    """The |q| histogram of the reference design's quantization, per layer
    (:func:`spikesim.sim.stats.spike_stats`), when the run simulated the reference design."""
    extras: dict[str, Any] = field(default_factory=dict)

    def totals(self) -> pd.DataFrame:
        """Per design: total cycles and energy over all layers."""
        cols = ["total_cycles", "energy_pj", "spikes", "acc_ops", "mac_ops", "overflow_events"]
        return self.layers.groupby("design", sort=False)[cols].sum().reset_index()

    def comparison(self) -> pd.DataFrame:
        """Ratios of every design against the reference design, per layer and in total.

        One row per (layer, design), plus rows with ``layer == "TOTAL"``; ``energy_ratio`` and
        ``cycles_ratio`` are the design's value divided by the reference's (> 1: the reference
        is better). Empty when the reference design was not simulated.
        """
        return compare_designs(self.layers)
