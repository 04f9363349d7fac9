"""Accounting views beside the full-system energy: what a paper would report, and how sure it is.

The same counts, priced four more ways (the columns of :data:`spikesim.schema.ENERGY_VIEW_COLUMNS`,
per ``layers.csv`` row):

``energy_compute_pj``
    Arithmetic only: the energy of the actions of the compute components
    (:data:`COMPUTE_KINDS`: the IF or MAC array, threshold multiplies, spike encoders,
    dequantization and requantization, the FP vector unit), priced by the run's table. No
    SRAM, DRAM, latches or leakage.
``energy_paper_pj``
    The SNN papers' convention: ``mac_ops × E_MAC + acc_ops × E_AC`` with the constants of
    ``energy.paper`` (default 4.6 and 0.9 pJ, 32-bit float at 45 nm). No memory, no width.
``energy_low_pj`` / ``energy_high_pj``
    The full-system energy with every ranged table value (an operation row's ``range_pj``, the
    DRAM's ``range_pj_per_bit``) at the low end, and at the high end, together. Equal to
    ``energy_pj`` when the tables give no range. Energy is linear in each ranged value and every
    design shares the table, so a comparison between two designs that holds at both ends of a
    single range holds over all of it.
"""

from __future__ import annotations

from collections.abc import Sequence

import pandas as pd

from spikesim.config.hardware import HardwareConfig
from spikesim.energy.price import (
    action_energy_pj,
    component_kind,
    leakage_energy_rows,
)
from spikesim.energy.table import EnergyTable
from spikesim.schema import LAYER_KEYS

COMPUTE_KINDS = (
    "if_array", "mac_array", "threshold", "encoder", "dequant", "requant", "vector_unit",
)
"""Component kinds whose actions are arithmetic (``energy_compute_pj``)."""


def _sum_by(frame: pd.DataFrame, keys: list[str], column: str = "energy_pj") -> pd.Series:
    if not len(frame):
        return pd.Series(dtype="float64")
    return frame.groupby(keys, sort=False)[column].sum()


def _on(layers: pd.DataFrame, keys: list[str], sums: pd.Series) -> pd.Series:
    """``sums`` (indexed by ``keys``) aligned to the rows of ``layers``; 0 where absent."""
    if not len(sums):
        return pd.Series(0.0, index=layers.index)
    index = pd.MultiIndex.from_frame(layers[keys]) if len(keys) > 1 else pd.Index(layers[keys[0]])
    return pd.Series(sums.reindex(index).fillna(0.0).to_numpy(dtype="float64"), index=layers.index)


def compute_energy(priced: pd.DataFrame, layers: pd.DataFrame, keys: list[str]) -> pd.Series:
    """Arithmetic-only energy per row of ``layers`` (pJ), from priced actions."""
    kinds = priced["component"].map(
        {c: component_kind(str(c)) for c in priced["component"].unique()}
    )
    return _on(layers, keys, _sum_by(priced[kinds.isin(COMPUTE_KINDS)], keys))


def paper_energy(layers: pd.DataFrame, hw: HardwareConfig) -> pd.Series:
    """``mac_ops × energy.paper.mac_pj + acc_ops × energy.paper.ac_pj`` per row (pJ)."""
    paper = hw.energy.paper
    return (
        layers["mac_ops"].astype("float64") * paper.mac_pj
        + layers["acc_ops"].astype("float64") * paper.ac_pj
    )


def bound_energy(
    actions: pd.DataFrame,
    layers: pd.DataFrame,
    hw: HardwareConfig,
    table: EnergyTable,
    side: str,
    keys: list[str],
) -> pd.Series:
    """Full-system energy per row of ``layers`` with every ranged value at ``side``."""
    assert side in ("low", "high")
    bound = table.bound("low" if side == "low" else "high")
    priced = actions[keys].copy()
    priced["energy_pj"] = action_energy_pj(actions, hw, bound)
    leak = leakage_energy_rows(layers, hw, bound, keys=keys)
    total = _sum_by(priced, keys)
    if len(leak):
        total = total.add(_sum_by(leak, keys), fill_value=0.0)
    return _on(layers, keys, total)


def accounting_views(
    counted_actions: pd.DataFrame,
    priced: pd.DataFrame,
    layers: pd.DataFrame,
    hw: HardwareConfig,
    table: EnergyTable,
    keys: Sequence[str] = LAYER_KEYS,
) -> dict[str, pd.Series]:
    """The four view columns for ``layers`` (which holds ``energy_pj``, ``mac_ops``,
    ``acc_ops`` and the key columns), in :data:`~spikesim.schema.ENERGY_VIEW_COLUMNS` order."""
    keys = list(keys)
    views = {
        "energy_compute_pj": compute_energy(priced, layers, keys),
        "energy_paper_pj": paper_energy(layers, hw),
    }
    if table.has_ranges:
        views["energy_low_pj"] = bound_energy(counted_actions, layers, hw, table, "low", keys)
        views["energy_high_pj"] = bound_energy(counted_actions, layers, hw, table, "high", keys)
    else:
        views["energy_low_pj"] = layers["energy_pj"].astype("float64")
        views["energy_high_pj"] = layers["energy_pj"].astype("float64")
    return views
