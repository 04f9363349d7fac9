"""A layer table's energy columns straight from its action counts, as arrays.

What :func:`spikesim.pipeline.price_run` adds to the layer table (``energy_pj``, one
``energy_<component>_pj`` per component, the accounting views of :mod:`.views`) when nobody
reads the priced action table (the points of a sweep): the same numbers, bit for bit, as
pricing the action table (:func:`.price.price_actions`, :func:`.price.price_leakage`) and
summing it per layer row (:func:`.price.component_energy_by_row`,
:func:`.views.accounting_views`), taken from the counted rows without building a frame: each
distinct action is priced once per table (:class:`.price.DistinctActions`), rows become
energies by one multiply, and the sums are pandas' own (:func:`.sums.group_sums`). A sweep
point's pricing of ~130 action rows took ~9 ms through frames, most of it pandas' set-up per
operation.
"""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from typing import Any

import numpy as np
from numpy.typing import NDArray

from spikesim.config.hardware import HardwareConfig
from spikesim.energy.price import (
    component_kind,
    component_sums,
    distinct_action_records,
    leakage_energy_values,
    leaking_components,
)
from spikesim.energy.sums import group_sums
from spikesim.energy.table import EnergyTable
from spikesim.energy.views import COMPUTE_KINDS, bound_values, paper_values
from spikesim.schema import ENERGY_VIEW_COLUMNS, LAYER_KEYS


def layer_energy_columns(
    action_records: Sequence[tuple[Any, ...]],
    layer_records: Sequence[Mapping[str, Any]],
    action_rows: NDArray[np.intp],
    hw: HardwareConfig,
    table: EnergyTable,
) -> dict[str, NDArray[np.float64]]:
    """``energy_pj``, ``energy_<component>_pj`` (components sorted by name) and the
    :data:`~spikesim.schema.ENERGY_VIEW_COLUMNS`, per layer row (pJ).

    ``action_records``: the counted actions ``(layer, design, component, action, count, bits)``
    (:meth:`ActionCounter.rows <spikesim.actions.ActionCounter.rows>`); ``action_rows``: the
    layer row of each; ``layer_records``: the counted layer rows (:meth:`LayerSim.row
    <spikesim.dataflows.base.LayerSim.row>`: the :data:`~spikesim.schema.LAYER_KEYS`,
    ``total_cycles``, ``mac_ops`` and ``acc_ops``). Leakage adds one priced row per (layer
    row, leaking component), as :func:`~spikesim.energy.price.price_leakage` does."""
    n = len(layer_records)
    distinct = distinct_action_records(action_records)

    def column(name: str) -> NDArray[Any]:  # as a frame column of the records infers it
        return np.array([r[name] for r in layer_records])

    cycles = column("total_cycles").astype(np.int64)
    leaking = leaking_components(hw, table) if n else []
    key_names = [c for c, _, _ in distinct.keys]
    components = sorted(set(key_names) | {c for c, _, _ in leaking})
    index = {c: i for i, c in enumerate(components)}
    key_component = np.array([index[c] for c in key_names], dtype=np.intp)
    leak_component = np.array([index[c] for c, _, _ in leaking], dtype=np.intp)
    comp_codes = np.concatenate([key_component[distinct.codes], np.tile(leak_component, n)])
    act_rows = np.asarray(action_rows, dtype=np.intp)
    rows = np.concatenate([act_rows, np.repeat(np.arange(n, dtype=np.intp), len(leaking))])
    energy = np.concatenate([
        distinct.energy_pj(hw, table),
        leakage_energy_values(cycles, hw, table),
    ])
    keys = []
    for key in LAYER_KEYS:
        values = np.empty(n, dtype=object)
        values[:] = [str(r[key]) for r in layer_records]
        keys.append(values)
    out = component_sums(energy, comp_codes, components, rows, keys, n)

    compute = np.array([component_kind(c) in COMPUTE_KINDS for c in components], dtype=bool)
    mask = compute[comp_codes] if len(components) else np.zeros(len(comp_codes), dtype=bool)
    views = {
        "energy_compute_pj": group_sums(energy[mask], rows[mask], n, sort=False),
        "energy_paper_pj": paper_values(column("mac_ops"), column("acc_ops"), hw),
    }
    for side in ("low", "high"):
        views[f"energy_{side}_pj"] = (
            bound_values(distinct, act_rows, cycles, hw, table, side) if table.has_ranges
            else out["energy_pj"].copy()
        )
    out.update({name: views[name] for name in ENERGY_VIEW_COLUMNS})
    return out
