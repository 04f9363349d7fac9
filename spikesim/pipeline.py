"""The priced pipeline: the simulator counts (:mod:`spikesim.sim`), the energy model prices
(:mod:`spikesim.energy`), and this module — the one place above both — joins them::

    Trace × designs --sim.simulate_counts(_in)--> CountedRun (cycles, action counts)
        --energy.price_actions / price_leakage / component_energy--> SimResult

Changing a technology table changes only the second arrow.
"""

from __future__ import annotations

from collections.abc import Callable, Sequence

import numpy as np
import pandas as pd

from spikesim.config.hardware import HardwareConfig
from spikesim.energy import (
    EnergyTable,
    component_energy,
    component_energy_by_row,
    energy_model,
    price_actions,
    price_leakage,
)
from spikesim.energy.layer_prices import layer_energy_columns
from spikesim.energy.views import accounting_views
from spikesim.procpool import check_workers
from spikesim.schema import (
    ACTION_COLUMNS,
    COUNT_COLUMNS,
    ENERGY_VIEW_COLUMNS,
    LAYER_COLUMNS,
    LAYER_KEYS,
    energy_component_columns,
)
from spikesim.sim.counts import CountedRun
from spikesim.sim.notes import configuration_notes
from spikesim.sim.parallel import simulate_counts_in
from spikesim.sim.result import SimResult
from spikesim.trace import Workload


def price_run(
    counted: CountedRun, hw: HardwareConfig, table: EnergyTable, *, actions: bool = True
) -> tuple[pd.DataFrame, pd.DataFrame]:
    """``layers`` (with ``energy_pj`` and ``energy_<component>_pj``) and priced ``actions``
    (leakage rows included) of a counted run; ``actions=False``: the layers only, priced from
    the counts as arrays (:func:`~spikesim.energy.layer_prices.layer_energy_columns`, the same
    sums bit for bit), and an empty action table."""
    action_rows = counted.action_layer_rows
    records = counted.layer_records
    if (not actions and action_rows is not None and records
            and all(r.keys() == records[0].keys() for r in records)):
        energy = layer_energy_columns(counted.action_records, records, action_rows, hw, table)
        columns = [*LAYER_COLUMNS, *energy_component_columns(energy), *ENERGY_VIEW_COLUMNS,
                   *COUNT_COLUMNS]
        layers = pd.DataFrame({  # each counted column inferred from its values, as in records
            c: energy[c] if c in energy else [r[c] for r in records] for c in columns
        })
        return layers, pd.DataFrame({c: [] for c in ACTION_COLUMNS})
    priced = price_actions(counted.actions, hw, table)
    leak = price_leakage(counted.layers, hw, table, keys=LAYER_KEYS)
    if len(leak):
        priced = pd.concat([priced, leak[priced.columns]], ignore_index=True)
    priced_rows = action_rows
    n_leak = len(priced) - len(counted.actions)
    if n_leak and action_rows is not None:  # leak rows: per layers row, its leaking components
        per_row = n_leak // len(counted.layers)
        leak_rows = np.repeat(np.arange(len(counted.layers), dtype=np.intp), per_row)
        priced_rows = np.concatenate([action_rows, leak_rows])
    if priced_rows is not None:
        by_row = component_energy_by_row(priced, priced_rows, counted.layers[LAYER_KEYS])
        layers = pd.concat([counted.layers, by_row], axis=1)
    else:
        by_row = component_energy(priced, LAYER_KEYS)
        layers = counted.layers.merge(by_row, on=LAYER_KEYS, how="left", sort=False)
    for column, values in accounting_views(
        counted.actions, priced, layers, hw, table, LAYER_KEYS,
        action_rows=action_rows, priced_rows=priced_rows,
    ).items():
        layers[column] = values
    comp_cols = energy_component_columns(by_row.columns)
    columns = [*LAYER_COLUMNS, *comp_cols, *ENERGY_VIEW_COLUMNS, *COUNT_COLUMNS]
    return layers[columns], priced[ACTION_COLUMNS]


def residency_notes(counted: CountedRun) -> list[str]:
    """What the on-chip store held, when the run planned it (:mod:`spikesim.sim.residency`)."""
    line = counted.residency.describe() if counted.residency is not None else None
    return [line] if line else []


def simulate(
    hw: HardwareConfig,
    trace: Workload,
    designs: str | Sequence[str] | None = None,
    *,
    layers: Sequence[str] | None = None,
    on_layer: Callable[[str, str], None] | None = None,
    cache: bool = True,
    workers: int = 1,
    layers_only: bool = False,
) -> SimResult:
    """Simulate every layer of ``trace`` (or the named ``layers``) under each design (names or
    a comma-separated string; default: the reference design) and price it.
    ``on_layer(layer, design)`` is called after each layer (progress reporting); ``cache``:
    use the on-disk cache of quantized layers (:mod:`spikesim.sim.quantcache`; off when
    ``SPIKESIM_NO_CACHE=1``); ``workers`` > 1: count the layers in that many processes
    (:mod:`spikesim.sim.parallel`; the same tables, row for row); ``layers_only``: only the
    layer table (the same, bit for bit), with the priced actions (and their provenance
    sentences), the transactions and the |q| histograms left empty, for callers that read
    nothing else (a sweep's points)."""
    check_workers(workers)
    table = energy_model(hw)  # a bad table fails before any simulation
    counted = simulate_counts_in(hw, trace, designs, workers=workers, layers=layers,
                                 on_layer=on_layer, cache=cache, layers_only=layers_only)
    layer_table, action_table = price_run(counted, hw, table, actions=not layers_only)
    return SimResult(
        layers=layer_table,
        actions=action_table,
        transactions=counted.transactions,
        hardware=hw,
        trace=trace,
        designs=counted.designs,
        notes=(*configuration_notes(hw, counted.designs), *residency_notes(counted)),
        spike_stats=counted.spike_stats,
    )
