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

import numpy as np
import pandas as pd
from numpy.typing import NDArray

from spikesim.config.hardware import HardwareConfig
from spikesim.energy.price import (
    DistinctActions,
    component_kind,
    distinct_actions,
    leakage_energy_values,
)
from spikesim.energy.sums import group_sums
from spikesim.energy.table import EnergyTable
from spikesim.schema import LAYER_KEYS

COMPUTE_KINDS = (
    "if_array", "mac_array", "threshold", "encoder", "dequant", "requant", "vector_unit",
)
"""Component kinds whose actions are arithmetic (``energy_compute_pj``)."""


class LayerRows:
    """Which row of ``layers`` each row of another table (actions, leak rows) belongs to, by
    the key columns: one index of the layers' keys, looked up once per table. Sums then group
    by these integer row codes; pandas adds a group's rows in their order with the same
    compensated summation whatever the group labels are, so the sums are those of grouping by
    the key columns themselves, bit for bit (a grouping by string keys per view cost most of a
    small run's pricing)."""

    def __init__(self, layers: pd.DataFrame, keys: list[str]) -> None:
        self.keys = keys
        self.rows = len(layers)
        self._layers = layers
        self._built: pd.Index | None = None

    @property
    def index(self) -> pd.Index:
        """The layers' keys as an index (built on first use: callers that know the codes
        never need it)."""
        if self._built is None:
            self._built = self._index(self._layers)
        return self._built

    def _index(self, frame: pd.DataFrame) -> pd.Index:
        if len(self.keys) > 1:
            return pd.MultiIndex.from_frame(frame[self.keys])
        return pd.Index(frame[self.keys[0]])

    def codes(self, frame: pd.DataFrame) -> NDArray[np.intp]:
        """The ``layers`` row of each row of ``frame`` (-1: none)."""
        if not len(frame):
            return np.zeros(0, np.intp)
        return np.asarray(self.index.get_indexer(self._index(frame)), np.intp)

    def sums(self, values: NDArray[np.float64], codes: NDArray[np.intp]) -> NDArray[np.float64]:
        """Σ ``values`` per ``layers`` row (0 where a row has none), in row order."""
        keep = codes >= 0
        return group_sums(values[keep], codes[keep], self.rows, sort=False)


def compute_energy(priced: pd.DataFrame, layers: pd.DataFrame, keys: list[str],
                   rows: LayerRows | None = None,
                   codes: NDArray[np.intp] | None = None) -> pd.Series:
    """Arithmetic-only energy per row of ``layers`` (pJ), from priced actions (``rows`` and
    ``codes``: the rows of ``priced`` in ``layers``, when already found)."""
    rows = rows or LayerRows(layers, keys)
    codes = rows.codes(priced) if codes is None else codes
    kinds = priced["component"].map(
        {c: component_kind(str(c)) for c in priced["component"].unique()}
    )
    mask = kinds.isin(COMPUTE_KINDS).to_numpy(dtype=bool)
    values = priced["energy_pj"].to_numpy(dtype=np.float64)
    return pd.Series(rows.sums(values[mask], codes[mask]), index=layers.index)


def paper_energy(layers: pd.DataFrame, hw: HardwareConfig) -> pd.Series:
    """``mac_ops × energy.paper.mac_pj + acc_ops × energy.paper.ac_pj`` per row (pJ)."""
    return pd.Series(
        paper_values(layers["mac_ops"].to_numpy(), layers["acc_ops"].to_numpy(), hw),
        index=layers.index,
    )


def paper_values(mac_ops: NDArray[np.integer], acc_ops: NDArray[np.integer],
                 hw: HardwareConfig) -> NDArray[np.float64]:
    """:func:`paper_energy` of the rows' operation counts, as an array (pJ)."""
    paper = hw.energy.paper
    return (mac_ops.astype(np.float64) * paper.mac_pj
            + acc_ops.astype(np.float64) * paper.ac_pj)


def bound_energy(
    actions: pd.DataFrame,
    layers: pd.DataFrame,
    hw: HardwareConfig,
    table: EnergyTable,
    side: str,
    keys: list[str],
    rows: LayerRows | None = None,
    codes: NDArray[np.intp] | None = None,
) -> pd.Series:
    """Full-system energy per row of ``layers`` with every ranged value at ``side`` (``rows``
    and ``codes``: the rows of ``actions`` in ``layers``, when already found)."""
    rows = rows or LayerRows(layers, keys)
    codes = rows.codes(actions) if codes is None else codes
    cycles = layers["total_cycles"].to_numpy(dtype=np.int64)
    return pd.Series(bound_values(distinct_actions(actions), codes, cycles, hw, table, side),
                     index=layers.index)


def bound_values(
    distinct: DistinctActions,
    action_rows: NDArray[np.intp],
    cycles: NDArray[np.int64],
    hw: HardwareConfig,
    table: EnergyTable,
    side: str,
) -> NDArray[np.float64]:
    """:func:`bound_energy` of counted actions given as :class:`DistinctActions`, with their
    layer rows (``action_rows``; -1: none) and the layer rows' ``cycles``, as an array (pJ)."""
    assert side in ("low", "high")
    bound = table.bound("low" if side == "low" else "high")
    n = len(cycles)
    keep = action_rows >= 0
    total = group_sums(distinct.energy_pj(hw, bound)[keep], action_rows[keep], n, sort=False)
    leak = leakage_energy_values(cycles, hw, bound)
    if len(leak):  # one row per (layers row, leaking component), in layers order
        leak_rows = np.repeat(np.arange(n, dtype=np.intp), len(leak) // n)
        total = total + group_sums(leak, leak_rows, n, sort=False)
    return total


def accounting_views(
    counted_actions: pd.DataFrame,
    priced: pd.DataFrame,
    layers: pd.DataFrame,
    hw: HardwareConfig,
    table: EnergyTable,
    keys: Sequence[str] = LAYER_KEYS,
    *,
    action_rows: NDArray[np.intp] | None = None,
    priced_rows: NDArray[np.intp] | None = None,
) -> dict[str, pd.Series]:
    """The four view columns for ``layers`` (which holds ``energy_pj``, ``mac_ops``,
    ``acc_ops`` and the key columns), in :data:`~spikesim.schema.ENERGY_VIEW_COLUMNS` order.
    ``action_rows`` / ``priced_rows``: the ``layers`` row of each row of ``counted_actions`` /
    ``priced`` when the caller knows them (else looked up by the keys)."""
    keys = list(keys)
    rows = LayerRows(layers, keys)
    views = {
        "energy_compute_pj": compute_energy(priced, layers, keys, rows, priced_rows),
        "energy_paper_pj": paper_energy(layers, hw),
    }
    if table.has_ranges:
        codes = rows.codes(counted_actions) if action_rows is None else action_rows
        for side in ("low", "high"):
            views[f"energy_{side}_pj"] = bound_energy(
                counted_actions, layers, hw, table, side, keys, rows, codes
            )
    else:
        views["energy_low_pj"] = layers["energy_pj"].astype("float64")
        views["energy_high_pj"] = layers["energy_pj"].astype("float64")
    return views
