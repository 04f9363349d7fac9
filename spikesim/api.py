"""The Python API: load a hardware config and a trace, simulate designs, get priced tables.

``simulate`` is a plain pipeline of typed artifacts per layer::

    TraceLayer --quantize_layer--> QuantizedLayer --simulate_layer--> LayerSim
        --price_actions / component_energy--> rows of SimResult.layers and SimResult.actions
"""

from __future__ import annotations

from collections.abc import Callable, Iterable, Sequence
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import numpy as np
import pandas as pd

from spikesim.config.hardware import HardwareConfig
from spikesim.config.loader import load_hardware as _load_hardware
from spikesim.energy import (
    component_energy,
    load_energy_table,
    price_actions,
    price_leakage,
)
from spikesim.errors import InputError
from spikesim.quant.baselines import MAC_QUANTIZERS
from spikesim.quant.layer import Method, quantize_layer
from spikesim.report.compare import REFERENCE_DESIGN, compare_designs
from spikesim.sim.engine import simulate_layer
from spikesim.sim.mac_engine import simulate_mac_layer
from spikesim.sim.result import LayerSim
from spikesim.trace import Trace, TraceLayer
from spikesim.trace import load_trace as _load_trace

LAYER_COLUMNS = [
    "layer", "op", "tokens", "k", "n", "design",
    "total_cycles", "compute_cycles", "stall_cycles",
    "stall_encoder_cycles", "stall_bank_cycles", "stall_dram_cycles",
    "utilization", "energy_pj",
]
"""Leading columns of layers.csv; ``energy_<component>_pj`` columns follow, then COUNT_COLUMNS."""
COUNT_COLUMNS = ["spikes", "acc_ops", "mac_ops", "salient_ratio", "overflow_events"]
ACTION_COLUMNS = [
    "layer", "design", "component", "action", "count", "bits",
    "energy_per_action_pj", "energy_pj", "source",
]
TRANSACTION_COLUMNS = ["layer", "design", "unit", "kind", "step", "start_cycle", "end_cycle"]
SPIKE_STATS_COLUMNS = ["layer", "abs_q", "normal_count", "salient_count"]
"""Columns of :func:`spike_stats` (``spike_stats.csv`` of a run directory)."""

DesignFn = Callable[[TraceLayer, HardwareConfig], LayerSim]


def _spikequant(layer: TraceLayer, hw: HardwareConfig) -> LayerSim:
    ql = quantize_layer(
        layer.name, layer.op, layer.activations(), layer.weights(), hw.quant, Method.SPIKEQUANT
    )
    return simulate_layer(ql, hw, design="spikequant")


def _mac_design(name: str) -> DesignFn:
    quantizer = MAC_QUANTIZERS[name]

    def run(layer: TraceLayer, hw: HardwareConfig) -> LayerSim:
        q = quantizer(layer.name, layer.op, layer.activations(), layer.weights(), hw.quant)
        return simulate_mac_layer(q, hw)

    return run


DESIGNS: dict[str, DesignFn] = {
    "spikequant": _spikequant,
    **{name: _mac_design(name) for name in MAC_QUANTIZERS},
}
"""Design name → function simulating one trace layer: the spiking design and the MAC-array
baselines (``mac-w4a4``, ``atom``, ``spikellm``, ``fp16``)."""



def register_design(name: str, fn: DesignFn) -> None:
    """Add a design; registering a name twice is an error."""
    if name in DESIGNS:
        raise ValueError(f"design '{name}' is already registered")
    DESIGNS[name] = fn


@dataclass(frozen=True, eq=False)
class SimResult:
    """Tables of one simulation run (tidy, units in column names)."""

    layers: pd.DataFrame
    """One row per (layer, design): cycles, stalls, utilisation, energy per component, counts."""
    actions: pd.DataFrame
    """One row per (layer, design, component, action, bits): count and priced energy."""
    transactions: pd.DataFrame
    """The transaction timeline (DRAM loads, array computes) of every layer and design."""
    hardware: HardwareConfig
    trace: Trace
    designs: tuple[str, ...]
    extras: dict[str, Any] = field(default_factory=dict)

    def totals(self) -> pd.DataFrame:
        """Per design: total cycles and energy over all layers."""
        cols = ["total_cycles", "energy_pj", "spikes", "acc_ops", "mac_ops", "overflow_events"]
        return self.layers.groupby("design", sort=False)[cols].sum().reset_index()

    def comparison(self) -> pd.DataFrame:
        """Ratios of every design against SpikeQuant, per layer and for the whole model.

        One row per (layer, design), plus rows with ``layer == "TOTAL"``; ``energy_ratio`` and
        ``cycles_ratio`` are the design's value divided by SpikeQuant's (> 1: SpikeQuant is
        better). Empty when SpikeQuant was not simulated.
        """
        return compare_designs(self.layers, REFERENCE_DESIGN)


def load_hardware(path: str | Path, overrides: dict[str, Any] | None = None) -> HardwareConfig:
    """Load and validate a hardware YAML (with optional ``{dotted.path: value}`` overrides)."""
    return _load_hardware(path, overrides)


def load_trace(path: str | Path) -> Trace:
    """Open a trace directory (manifest validated; tensors memory-mapped on access)."""
    return _load_trace(path)


def parse_designs(designs: str | Iterable[str]) -> tuple[str, ...]:
    names = [d.strip() for d in designs.split(",")] if isinstance(designs, str) else list(designs)
    names = [d for d in names if d]
    if not names:
        raise InputError("no design given", field="--designs")
    for d in names:
        if d not in DESIGNS:
            raise InputError(
                f"unknown design '{d}' (known: {', '.join(sorted(DESIGNS))})", field="--designs"
            )
    return tuple(dict.fromkeys(names))


def simulate(
    hw: HardwareConfig,
    trace: Trace,
    designs: str | Sequence[str] = ("spikequant",),
    *,
    layers: Sequence[str] | None = None,
    on_layer: Callable[[str, str], None] | None = None,
) -> SimResult:
    """Simulate every layer of ``trace`` (or the named ``layers``) under each design and price it.

    ``on_layer(layer, design)`` is called after each layer (progress reporting).
    """
    names = parse_designs(designs)
    table = load_energy_table(hw.energy.table)
    chosen = list(trace.layers)
    if layers is not None:
        wanted = set(layers)
        unknown = wanted - {layer.name for layer in chosen}
        if unknown:
            raise InputError(f"no such layer(s): {', '.join(sorted(unknown))}", field="--layers")
        chosen = [layer for layer in chosen if layer.name in wanted]
    rows: list[dict[str, object]] = []
    action_frames: list[pd.DataFrame] = []
    tx_rows: list[tuple[object, ...]] = []
    for layer in chosen:
        for design in names:
            res = DESIGNS[design](layer, hw)
            rows.append(res.row())
            frame = res.actions.to_frame()
            frame.insert(0, "design", design)
            frame.insert(0, "layer", layer.name)
            action_frames.append(frame)
            tx_rows.extend(
                (layer.name, design, t.unit, t.kind, t.step, t.start, t.end)
                for t in res.transactions
            )
            if on_layer is not None:
                on_layer(layer.name, design)
    layer_df = pd.DataFrame(rows)
    keys = ["layer", "design"]
    priced = price_actions(pd.concat(action_frames, ignore_index=True), hw, table)
    leak = price_leakage(layer_df, hw, table, keys=keys)
    if len(leak):
        priced = pd.concat([priced, leak[priced.columns]], ignore_index=True)
    energy = component_energy(priced, keys)
    layer_df = layer_df.merge(energy, on=keys, how="left", sort=False)
    comp_cols = [c for c in energy.columns if c.startswith("energy_") and c != "energy_pj"]
    layer_df = layer_df[[*LAYER_COLUMNS, *comp_cols, *COUNT_COLUMNS]]
    return SimResult(
        layers=layer_df,
        actions=priced[ACTION_COLUMNS],
        transactions=pd.DataFrame(tx_rows, columns=TRANSACTION_COLUMNS),
        hardware=hw,
        trace=trace,
        designs=names,
    )


def spike_stats(
    hw: HardwareConfig, trace: Trace, *, layers: Sequence[str] | None = None
) -> pd.DataFrame:
    """Histogram of |q| of the SpikeQuant-quantized activations, per layer.

    One row per (layer, |q|) that occurs (ascending |q|): ``normal_count`` and ``salient_count``
    are how many activations (tokens × k) have that magnitude, split by the salient mask. Under
    count coding |q| is the number of spikes a value emits. Quantization as in :func:`simulate`
    (``hw.quant``, method ``spikequant``); ``layers`` selects layers by name.
    """
    wanted = None if layers is None else set(layers)
    frames: list[pd.DataFrame] = []
    for layer in trace.layers:
        if wanted is not None and layer.name not in wanted:
            continue
        ql = quantize_layer(
            layer.name, layer.op, layer.activations(), layer.weights(), hw.quant,
            Method.SPIKEQUANT,
        )
        mag = np.abs(ql.x_q.astype(np.int64)).ravel()
        sal = ql.salient.ravel()
        size = int(mag.max(initial=0)) + 1
        salient_count = np.bincount(mag[sal], minlength=size)
        normal_count = np.bincount(mag, minlength=size) - salient_count
        present = np.flatnonzero(normal_count + salient_count)
        frames.append(
            pd.DataFrame(
                {
                    "layer": layer.name,
                    "abs_q": present.astype(np.int64),
                    "normal_count": normal_count[present].astype(np.int64),
                    "salient_count": salient_count[present].astype(np.int64),
                }
            )
        )
    if not frames:
        return pd.DataFrame(columns=SPIKE_STATS_COLUMNS)
    return pd.concat(frames, ignore_index=True)[SPIKE_STATS_COLUMNS]
