"""The output schema: the columns of every table spikesim writes, and their naming rules.

One place for the contract of ``layers.csv``, ``actions.csv``, ``transactions.csv`` and
``spike_stats.csv`` (DESIGN.md, "Contracts"). Producers select these columns in this order;
readers check for them. Units are in the names (``_cycles``, ``_pj``, ``_mm2``).

``layers.csv`` is::

    LAYER_COLUMNS, then one energy_<component>_pj per component (sorted), then
    ENERGY_VIEW_COLUMNS, then COUNT_COLUMNS
"""

from __future__ import annotations

from collections.abc import Iterable
from enum import StrEnum

LAYER_KEYS = ["layer", "design"]
"""The key of a row of ``layers.csv`` (and of the per-layer groups of ``actions.csv``)."""

STALL_COLUMNS = ["stall_encoder_cycles", "stall_bank_cycles", "stall_dram_cycles"]
"""Stall cycles by cause; ``stall_cycles`` is their sum."""

ENERGY_VIEW_COLUMNS = ["energy_compute_pj", "energy_paper_pj", "energy_low_pj", "energy_high_pj"]
"""The accounting views beside the full-system ``energy_pj`` (:mod:`spikesim.energy.views`):
arithmetic only, the SNN papers' convention (op counts × E_MAC / E_AC), and the full system at the
low and high ends of the tables' ranges."""

class OpClass(StrEnum):
    """The class of a layer's operator (``layers.csv`` column ``op_class``).

    ``linear``: a weight GEMM (q/k/v/o, gate/up/down projections, a topology CSV's rows).
    ``attention``: an attention matmul (scores Q·Kᵀ, values P·V), on the design's array.
    ``vector``: an FP operator of the vector unit (RMSNorm, RoPE, softmax, SiLU·up, residual
    add), the same for every design. ``kv``: KV-cache traffic.
    """

    LINEAR = "linear"
    ATTENTION = "attention"
    VECTOR = "vector"
    KV = "kv"


class Phase(StrEnum):
    """The inference phase a layer belongs to (``layers.csv`` column ``phase``)."""

    PREFILL = "prefill"
    DECODE = "decode"


OP_CLASSES = tuple(c.value for c in OpClass)
"""Every ``op_class`` value, in report order."""

PHASES = tuple(p.value for p in Phase)
"""Every ``phase`` value, in report order."""

LAYER_COLUMNS = [
    "layer", "op", "op_class", "phase", "tokens", "k", "n", "design",
    "total_cycles", "compute_cycles", "stall_cycles", *STALL_COLUMNS,
    "utilization", "energy_pj",
]
"""Leading columns of ``layers.csv``; ``energy_<component>_pj`` columns follow, then
:data:`COUNT_COLUMNS`."""

DRAM_BYTE_COLUMNS = ["dram_weight_bytes", "dram_activation_bytes", "dram_output_bytes"]
"""DRAM traffic of a layer per operand (bytes)."""

COUNT_COLUMNS = [
    "spikes", "acc_ops", "mac_ops", "salient_ratio", "overflow_events", *DRAM_BYTE_COLUMNS,
]
"""Trailing columns of ``layers.csv``: activity counts of the layer, then its DRAM traffic per
operand (bytes read for weights, for activations with their salient records, and written back
for outputs; they depend on ``mapping.loop_order``)."""

COUNTED_ACTION_COLUMNS = ["component", "action", "count", "bits"]
"""An action count as the simulator emits it (no energy: the energy model prices it)."""

PROVENANCE_COLUMNS = ["energy_table", "energy_entry", "energy_scaling", "energy_citation"]
"""Where a per-action energy came from, as structured columns (the ``source`` text says the
same in one sentence, with the arithmetic):

``energy_table``
    Name of the energy table (``horowitz-45nm``).
``energy_entry``
    The table entry or entries used, with their reference values: ``int_add 8-bit row (0.03 pJ)``,
    ``sram 32768 B point (20 pJ/64-bit)``, ``dram (20.3125 pJ/bit)``, ``leakage (0.002 W)``.
``energy_scaling``
    The scaling rule applied to the entry (bit width, capacity, bank basis, per cycle), or empty
    when the entry's value is used as is.
``energy_citation``
    The citation(s) of the entry, several joined by :data:`CITATION_SEPARATOR`.
"""

CITATION_SEPARATOR = "; "
"""Joins the citations of an ``energy_citation`` cell that cites several rows."""

PRICE_COLUMNS = ["energy_per_action_pj", "energy_pj", "source", *PROVENANCE_COLUMNS]
"""What pricing adds to an action count: per-action energy, total, and its provenance (the
``source`` sentence, then :data:`PROVENANCE_COLUMNS`)."""

ACTION_COLUMNS = [*LAYER_KEYS, *COUNTED_ACTION_COLUMNS, *PRICE_COLUMNS]
"""Columns of ``actions.csv``: one row per (layer, design, component, action, bits)."""

TRANSACTION_COLUMNS = ["layer", "design", "unit", "kind", "step", "start_cycle", "end_cycle"]
"""Columns of ``transactions.csv``: the timeline of DRAM loads and array computes."""

SPIKE_STATS_COLUMNS = ["layer", "abs_q", "normal_count", "salient_count"]
"""Columns of ``spike_stats.csv``: the |q| histogram of each layer's activations."""

COMPARISON_COLUMNS = [
    "layer", "design", "total_cycles", "energy_pj", "cycles_ratio", "energy_ratio",
]
"""Columns of a design comparison (each design against the reference design)."""

TOTAL_LAYER = "TOTAL"
"""The ``layer`` value of whole-model rows (sums over layers)."""


def energy_column(component: str) -> str:
    """A component's energy column in wide tables: ``sram.weights`` → ``energy_sram_weights_pj``."""
    return f"energy_{component.replace('.', '_')}_pj"


def area_column(component: str) -> str:
    """Column of a component's area in wide tables: ``sram.weights`` → ``area_sram_weights_mm2``."""
    return f"area_{component.replace('.', '_')}_mm2"


def is_energy_component_column(column: str) -> bool:
    """True for an ``energy_<component>_pj`` column (not the total ``energy_pj`` nor a view)."""
    return (
        column.startswith("energy_")
        and column.endswith("_pj")
        and column != "energy_pj"
        and column not in ENERGY_VIEW_COLUMNS
    )


def energy_component_columns(columns: Iterable[object]) -> list[str]:
    """The ``energy_<component>_pj`` columns among ``columns``, in their order."""
    return [c for c in columns if isinstance(c, str) and is_energy_component_column(c)]
