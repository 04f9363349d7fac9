"""Energy: prices the simulator's action counts with a swappable, cited per-action table.

``energy_pj = Σ count × energy_per_action(component, action, bits, hw) + leakage_W × time``.
Tables: :mod:`spikesim.energy.table` (format, scaling and interpolation rules); the action →
table-entry mapping: :mod:`spikesim.energy.price`. ``hw/`` and ``sim/`` never import this package.
"""

from spikesim.energy.model import (
    DEFAULT_NODE_NM,
    NODE_DEFAULTS,
    energy_label,
    energy_model,
    energy_sources,
)
from spikesim.energy.price import (
    ACTION_PRICING,
    LEAK_ACTION,
    Entry,
    PriceRule,
    UnpricedActionError,
    Width,
    component_energy,
    component_energy_by_row,
    energy_per_action,
    leakage_energy_pj,
    price_actions,
    price_leakage,
    register_action,
    spike_add_bits,
)
from spikesim.energy.table import (
    EnergyTable,
    PricedAction,
    Scaling,
    builtin_tables,
    load_energy_table,
)

__all__ = [
    "ACTION_PRICING",
    "DEFAULT_NODE_NM",
    "LEAK_ACTION",
    "NODE_DEFAULTS",
    "EnergyTable",
    "Entry",
    "PriceRule",
    "PricedAction",
    "Scaling",
    "UnpricedActionError",
    "Width",
    "builtin_tables",
    "component_energy",
    "component_energy_by_row",
    "energy_label",
    "energy_model",
    "energy_per_action",
    "energy_sources",
    "leakage_energy_pj",
    "load_energy_table",
    "price_actions",
    "price_leakage",
    "register_action",
    "spike_add_bits",
]
