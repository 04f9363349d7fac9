"""Simulate every (layer, design) of a trace: cycles and action counts, no energy.

``WorkloadLayer --design.simulate--> LayerSim`` per (layer, design), collected into tidy tables
(the columns of :mod:`spikesim.schema`). Pricing is :mod:`spikesim.energy`'s job; the two meet
in :mod:`spikesim.pipeline`.
"""

from __future__ import annotations

from collections.abc import Callable, Hashable, Sequence
from dataclasses import dataclass
from fnmatch import fnmatchcase
from typing import Any

import pandas as pd

from spikesim.config.hardware import HardwareConfig
from spikesim.dataflows import DesignKind, get_design, parse_designs, reference_design
from spikesim.errors import InputError
from spikesim.schema import LAYER_KEYS, SPIKE_STATS_COLUMNS, TRANSACTION_COLUMNS
from spikesim.sim.histogram import layer_histogram
from spikesim.trace import Workload, WorkloadLayer


@dataclass(frozen=True, eq=False)
class CountedRun:
    """Unpriced tables of a run: layer rows (cycles, counts), action counts, transactions."""

    layers: pd.DataFrame
    """One row per (layer, design): :meth:`LayerSim.row` fields."""
    actions: pd.DataFrame
    """One row per (layer, design, component, action, bits): ``count``."""
    transactions: pd.DataFrame
    """Columns :data:`~spikesim.schema.TRANSACTION_COLUMNS`."""
    designs: tuple[str, ...]
    spike_stats: pd.DataFrame | None = None
    """The |q| histogram of the reference design's quantization (``spike_stats.csv``), when
    the run quantized the layers that way anyway; None otherwise."""


def select_layers(trace: Workload, layers: Sequence[str] | None) -> list[WorkloadLayer]:
    """The workload's layers (in its order), or those ``layers`` names: each entry is a layer
    name or a shell glob (``layers.0.*``, :func:`fnmatch.fnmatchcase`); an entry matching no
    layer is an InputError naming ``layers``."""
    chosen = list(trace.layers)
    if layers is None:
        return chosen
    names = {layer.name for layer in chosen}
    exact = [p for p in layers if p in names]
    globs = [p for p in layers if p not in names]
    unknown = [p for p in globs if not any(fnmatchcase(name, p) for name in names)]
    if unknown:
        raise InputError(f"no such layer(s): {', '.join(sorted(unknown))}", field="layers")
    wanted = set(exact)
    return [
        layer for layer in chosen
        if layer.name in wanted or any(fnmatchcase(layer.name, p) for p in globs)
    ]


def simulate_counts(
    hw: HardwareConfig,
    trace: Workload,
    designs: str | Sequence[str] | None,
    *,
    layers: Sequence[str] | None = None,
    on_layer: Callable[[str, str], None] | None = None,
) -> CountedRun:
    """Simulate each chosen layer under each design (layers outer, designs inner; ``None``:
    the reference design).

    Each layer's activations and weights are read once, and quantized once per distinct
    :attr:`~spikesim.dataflows.base.Design.quantization` among the designs (``mac-w4a4`` and
    ``mac-bitserial`` share one); the quantization is dropped before the next layer. When the
    reference design is among them, its quantization also gives the run's |q| histogram.
    ``on_layer(layer, design)`` is called after each one (progress reporting).
    """
    names = parse_designs(designs)
    chosen = select_layers(trace, layers)
    reference = get_design(reference_design())
    histogram = reference.kind == DesignKind.SPIKING and reference.name in names
    rows: list[dict[str, object]] = []
    action_frames: list[pd.DataFrame] = []
    stats_frames: list[pd.DataFrame] = []
    tx_rows: list[tuple[object, ...]] = []
    for layer in chosen:
        x, w = layer.activations(), layer.weights()
        quantized: dict[Hashable, Any] = {}
        for name in names:
            design = get_design(name)
            key = design.quantization
            if key not in quantized:
                quantized[key] = design.quantize(layer.name, layer.op, x, w, hw.quant)
            if histogram and design is reference:
                stats_frames.append(layer_histogram(layer.name, quantized[key]))
            res = design.simulate_quantized(quantized[key], hw)
            rows.append(res.row())
            frame = res.actions.to_frame()
            for position, (key, value) in enumerate(zip(LAYER_KEYS, (layer.name, name),
                                                         strict=True)):
                frame.insert(position, key, value)
            action_frames.append(frame)
            tx_rows.extend(
                (layer.name, name, t.unit, t.kind, t.step, t.start, t.end)
                for t in res.transactions
            )
            if on_layer is not None:
                on_layer(layer.name, name)
    return CountedRun(
        layers=pd.DataFrame(rows),
        actions=pd.concat(action_frames, ignore_index=True),
        transactions=pd.DataFrame(tx_rows, columns=TRANSACTION_COLUMNS),
        designs=names,
        spike_stats=(
            pd.concat(stats_frames, ignore_index=True) if histogram and stats_frames
            else (pd.DataFrame(columns=SPIKE_STATS_COLUMNS) if histogram else None)
        ),
    )
