"""Simulate every (layer, design) of a trace: cycles and action counts, no energy.

``WorkloadLayer --design.simulate--> LayerSim`` per (layer, design), collected into tidy tables
(the columns of :mod:`spikesim.schema`). A layer of ``op_class`` ``vector`` goes to the vector
unit instead (:mod:`spikesim.hw.vector`): simulated once and given to every design alike, so
each design's rows add up to the whole model. Pricing is :mod:`spikesim.energy`'s job; the two
meet in :mod:`spikesim.pipeline`.
"""

from __future__ import annotations

import functools
from collections.abc import Callable, Collection, Hashable, Iterable, Iterator, Sequence
from dataclasses import dataclass, field, replace
from fnmatch import fnmatchcase
from typing import Any

import numpy as np
import pandas as pd
from numpy.typing import NDArray

from spikesim.actions import keyed_actions_frame
from spikesim.config.hardware import HardwareConfig
from spikesim.config.mapping import WeightSource
from spikesim.dataflows import DesignKind, get_design, parse_designs, reference_design
from spikesim.dataflows.base import LayerSim
from spikesim.errors import InputError
from spikesim.hw.transfers import KINDS, UNITS, Timeline, Transaction
from spikesim.hw.vector import cache_in_store, vector_counts
from spikesim.schema import LAYER_KEYS, TRANSACTION_COLUMNS, OpClass
from spikesim.sim.histogram import Histogram, histogram_frame, layer_histogram_arrays
from spikesim.sim.quantcache import QuantCache, admitted_layers, open_cache
from spikesim.sim.residency import Residency, plan_residency
from spikesim.trace import VectorLayer, Workload, WorkloadItem, WorkloadLayer


@dataclass(frozen=True, eq=False)
class CountedRun:
    """Unpriced tables of a run: layer rows (cycles, counts), action counts, transactions.

    It holds the rows as counted (:attr:`layer_records`, :attr:`action_records`) and makes
    their frames on first use: a sweep point's pricing reads the rows alone
    (:func:`spikesim.pipeline.price_run` with ``actions=False``) and never builds them."""

    layer_records: list[dict[str, object]]
    """One per (layer, design): :meth:`LayerSim.row`."""
    action_records: list[tuple[object, ...]]
    """One per (layer, design, component, action, bits): ``(layer, design, component, action,
    count, bits)``, as :meth:`ActionCounter.rows <spikesim.actions.ActionCounter.rows>` gives
    them."""
    designs: tuple[str, ...]
    timelines: list[tuple[str, str, Timeline]] = field(default_factory=list)
    """(layer, design, timeline) per (layer, design) with transactions, in row order (empty
    when the run took no transaction table)."""
    spike_stats: pd.DataFrame | None = None
    """The |q| histogram of the reference design's quantization (``spike_stats.csv``), when
    the run quantized the layers that way anyway; None otherwise."""
    residency: Residency | None = None
    """What the on-chip store held (:mod:`spikesim.sim.residency`)."""
    action_layer_rows: NDArray[np.intp] | None = None
    """Per row of ``actions``, the index of its row in ``layers`` (known from counting: the
    pricing sums by it instead of looking the keys up)."""

    @functools.cached_property
    def layers(self) -> pd.DataFrame:
        """One row per (layer, design): :meth:`LayerSim.row` fields."""
        return records_frame(self.layer_records)

    @functools.cached_property
    def actions(self) -> pd.DataFrame:
        """One row per (layer, design, component, action, bits): ``count``."""
        return keyed_actions_frame(self.action_records, LAYER_KEYS)

    @functools.cached_property
    def transactions(self) -> pd.DataFrame:
        """Columns :data:`~spikesim.schema.TRANSACTION_COLUMNS`."""
        return transactions_frame(self.timelines)


def is_vector(layer: WorkloadItem) -> bool:
    """Whether ``layer`` runs on the vector unit: a :class:`~spikesim.trace.VectorLayer`
    (``op_class`` ``vector``, or ``kv`` for the quantize-and-append of new keys and values)."""
    return isinstance(layer, VectorLayer)


def layer_hardware(layer: WorkloadLayer, hw: HardwareConfig) -> HardwareConfig:
    """The hardware a tensor layer is quantized and simulated on: ``hw`` itself, except for an
    attention matmul (``op_class`` ``attention``), whose ``w`` operand is K or V read from the
    KV cache: ``quant.weight_bits`` becomes ``kv_cache.bits`` (:mod:`spikesim.config.kv`)."""
    if str(layer.op_class) != OpClass.ATTENTION or hw.quant.weight_bits == hw.kv_cache.bits:
        return hw
    quant = hw.quant.model_copy(update={"weight_bits": hw.kv_cache.bits})
    return hw.model_copy(update={"quant": quant})


def tensor_layers(layers: Sequence[WorkloadItem]) -> list[WorkloadLayer]:
    """The layers with activations and weights (every one but the vector operators)."""
    return [layer for layer in layers if not isinstance(layer, VectorLayer)]


def simulate_vector_layer(layer: VectorLayer, hw: HardwareConfig, design: str) -> LayerSim:
    """A vector operator on ``hw.vector`` (:func:`spikesim.hw.vector.vector_counts`), as the
    row of ``design``: no spikes, no MACs, one ``vector``/``compute`` transaction; a
    ``kv_write``'s DRAM bytes are its ``dram_output_bytes`` (0 when it appends to the on-chip
    store).
    ``utilization`` is FP operations / (lanes × total cycles)."""
    counts = vector_counts(layer, hw)
    total = counts.total_cycles
    dram_written = 0 if cache_in_store(hw) else counts.dram_write_bytes
    return LayerSim(
        layer=layer.name,
        op=layer.op,
        design=design,
        tokens=layer.tokens,
        k=layer.k,
        n=layer.n,
        total_cycles=total,
        compute_cycles=counts.compute_cycles,
        stall_encoder_cycles=0,
        stall_bank_cycles=counts.stall_bank_cycles,
        stall_dram_cycles=0,
        utilization=counts.operations / (hw.vector.lanes * total) if total else 0.0,
        spikes=0,
        acc_ops=0,
        mac_ops=0,
        salient_ratio=0.0,
        overflow_events=0,
        output_spikes=0,
        actions=counts.actions(hw),
        dram_output_bytes=dram_written,
        transactions=Timeline.of([Transaction("vector", "compute", 0, 0, total)]),
        op_class=str(layer.op_class),
        phase=str(layer.phase),
    )


def select_layers(trace: Workload, layers: Sequence[str] | None) -> list[WorkloadItem]:
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
    cache: bool = True,
    layers_only: bool = False,
) -> CountedRun:
    """Simulate each chosen layer under each design (layers outer, designs inner; ``None``:
    the reference design).

    Each layer's activations and weights are read once, and quantized once per distinct
    :attr:`~spikesim.dataflows.base.Design.quantization` among the designs (``mac-w4a4`` and
    ``mac-bitserial`` share one); the quantization is dropped before the next layer. When the
    reference design is among them, its quantization also gives the run's |q| histogram.
    ``on_layer(layer, design)`` is called after each one (progress reporting). A vector
    layer (``op_class == "vector"``) is counted once on the vector unit and gives every design
    the same row; it has no quantization and no histogram.

    With ``cache`` (and ``SPIKESIM_NO_CACHE`` unset) each quantization is looked up in the
    on-disk cache of quantized layers first (:mod:`spikesim.sim.quantcache`) and stored there
    after a miss; a layer whose quantizations all hit is never read.

    ``layers_only``: take no histogram and leave the transaction table empty (what a caller
    that reads only the layer and action counts needs: a sweep's points).

    The same run in several processes is :func:`spikesim.sim.parallel.simulate_counts_in`.
    """
    names = parse_designs(designs)
    chosen = select_layers(trace, layers)
    residency = plan_residency(trace.layers, hw)
    order = counting_order(chosen)
    ordered = [chosen[i] for i in order]
    part = count_layers(hw, ordered, names, residency, on_layer=on_layer, cache=cache,
                        take_histograms=not layers_only,
                        admitted=run_admission(ordered, names) if cache else None)
    return assemble_counts([part], names, residency, order, transactions=not layers_only)


def run_admission(ordered: Sequence[WorkloadItem], names: Sequence[str]) -> frozenset[str]:
    """The layers of a run (``ordered``: all it counts, in counting order) whose
    quantizations under ``names`` it may write to the cache
    (:func:`~spikesim.sim.quantcache.admitted_layers`); every process of a run computes the
    same set."""
    return admitted_layers(ordered, [get_design(name).quantization for name in names])


def counting_order(layers: Sequence[WorkloadItem]) -> list[int]:
    """The order in which to count ``layers`` (indices into it): each layer at the first
    place of its :attr:`reuse_key <spikesim.trace.GeneratedLayer.reuse_key>`, followed at
    once by the later layers of the same key, so that a one-entry memo of generated values
    serves them all (a projection's weights at every decode step, a KV group's q, k, v at
    every step and for its score and value layers). A layer without the attribute (or None)
    keeps its place. Counting order changes no number (each layer is counted alone; the
    tables are put back in workload order, :func:`assemble_counts`)."""
    groups: dict[Hashable, list[int]] = {}
    order: list[list[int]] = []
    for i, layer in enumerate(layers):
        key = getattr(layer, "reuse_key", None)
        if key is None:
            order.append([i])
        elif key in groups:
            groups[key].append(i)
        else:
            groups[key] = [i]
            order.append(groups[key])
    return [i for group in order for i in group]


@dataclass
class LayerCounts:
    """One layer's rows under every design of a run (:func:`count_layers`)."""

    rows: list[dict[str, object]]
    action_rows: list[tuple[object, ...]]
    timelines: list[tuple[str, Timeline]]
    """(design, its timeline of the layer) per design."""
    layer: str
    action_counts: list[int] = field(default_factory=list)
    """Action rows per design (per row of ``rows``)."""
    histogram: Histogram | None = None
    """The reference design's |q| histogram of the layer (None: none taken)."""


@dataclass
class CountedPart:
    """The rows of some layers of a run, in the order counted (:func:`count_layers`), before
    they become the tables of a :class:`CountedRun` (:func:`assemble_counts`)."""

    layers: list[LayerCounts]
    histograms: bool
    """Whether the run takes the reference design's |q| histograms."""


def count_layers(
    hw: HardwareConfig,
    chosen: Sequence[WorkloadItem],
    names: Sequence[str],
    residency: Residency,
    *,
    on_layer: Callable[[str, str], None] | None = None,
    cache: bool = True,
    take_histograms: bool = True,
    admitted: Collection[str] | None = None,
) -> CountedPart:
    """The rows of ``chosen`` layers under each of ``names`` (see :func:`simulate_counts`);
    ``residency`` is the run's plan over its whole workload; takes the
    reference design's |q| histograms (``take_histograms``, when it is among ``names``);
    ``admitted``: the layers whose quantizations may be written to the cache
    (:func:`~spikesim.sim.quantcache.admitted_layers` of the whole run; None: every one)."""
    store = open_cache(cache)
    placed = PlacedHardware(hw)
    reference = get_design(reference_design())
    histogram = (take_histograms and reference.kind == DesignKind.SPIKING
                 and reference.name in names)
    part = CountedPart([], histogram)
    try:
        for layer in chosen:
            histograms: list[Histogram] = []
            entry = LayerCounts([], [], [], layer.name)
            layer_hw = placed.get(residency.layer_source(layer))
            if isinstance(layer, VectorLayer):
                vector = simulate_vector_layer(layer, layer_hw, names[0])
                results: Iterable[tuple[str, LayerSim]] = [
                    (name, replace(vector, design=name)) for name in names
                ]
            else:
                results = _simulate_tensor_layer(
                    layer, layer_hw, names, reference, histogram, histograms, store,
                    write=admitted is None or layer.name in admitted,
                )
            for name, res in results:
                entry.rows.append(res.row())
                action_rows = res.actions.rows(layer.name, name)
                entry.action_rows.extend(action_rows)
                entry.action_counts.append(len(action_rows))
                entry.timelines.append((name, res.transactions))
                if on_layer is not None:
                    on_layer(layer.name, name)
            entry.histogram = histograms[0] if histograms else None
            part.layers.append(entry)
    finally:
        if store is not None:
            store.flush()  # the entries this run wrote are whole on disk when it returns
    return part


def assemble_counts(
    parts: Sequence[CountedPart],
    names: tuple[str, ...],
    residency: Residency | None,
    order: Sequence[int] | None = None,
    *,
    transactions: bool = True,
) -> CountedRun:
    """One :class:`CountedRun` of ``parts`` in order; ``order``: the layers were counted in
    that order (:func:`counting_order`, indices into the chosen layers), and are put back in
    the chosen order; ``transactions``: build the transaction table (else empty)."""
    counted = [entry for p in parts for entry in p.layers]
    if order is not None:
        assert sorted(order) == list(range(len(counted))), "one entry per chosen layer"
        restored: list[LayerCounts | None] = [None] * len(counted)
        for entry, i in zip(counted, order, strict=True):
            restored[i] = entry
        counted = [entry for entry in restored if entry is not None]
    histograms = [e.histogram for e in counted if e.histogram is not None]
    taken = any(p.histograms for p in parts)
    per_row = [n for e in counted for n in e.action_counts]
    return CountedRun(
        layer_records=[row for e in counted for row in e.rows],
        action_records=[a for e in counted for a in e.action_rows],
        timelines=[(e.layer, design, t) for e in counted for design, t in e.timelines
                   if len(t)] if transactions else [],
        designs=names,
        spike_stats=histogram_frame(histograms) if taken else None,
        residency=residency,
        action_layer_rows=np.repeat(np.arange(len(per_row), dtype=np.intp), per_row),
    )


def records_frame(rows: Sequence[dict[str, object]]) -> pd.DataFrame:
    """``pd.DataFrame(rows)`` (the same columns, dtypes and values), built by column when
    every row has the same fields, as the layer rows do (pandas infers each column from its
    list alone, instead of first turning the dicts into one object matrix)."""
    if not rows or any(row.keys() != rows[0].keys() for row in rows):
        return pd.DataFrame(list(rows))
    return pd.DataFrame({name: [row[name] for row in rows] for name in rows[0]})


def transactions_frame(timelines: Sequence[tuple[str, str, Timeline]]) -> pd.DataFrame:
    """The ``transactions`` table (:data:`~spikesim.schema.TRANSACTION_COLUMNS`) of
    (layer, design, timeline) triples, in their order, built from the timelines' columns."""
    if not timelines:
        return _NO_TRANSACTIONS.copy()
    sizes = [len(t) for _, _, t in timelines]
    units = np.array(UNITS, dtype=object)
    kinds = np.array(KINDS, dtype=object)
    frame = pd.DataFrame({
        "layer": np.repeat(np.array([p[0] for p in timelines], dtype=object), sizes),
        "design": np.repeat(np.array([p[1] for p in timelines], dtype=object), sizes),
        "unit": units[np.concatenate([t.unit for _, _, t in timelines])],
        "kind": kinds[np.concatenate([t.kind for _, _, t in timelines])],
        "step": np.concatenate([t.step for _, _, t in timelines]),
        "start_cycle": np.concatenate([t.start for _, _, t in timelines]),
        "end_cycle": np.concatenate([t.end for _, _, t in timelines]),
    })
    return frame[TRANSACTION_COLUMNS]


_NO_TRANSACTIONS = pd.DataFrame([], columns=TRANSACTION_COLUMNS)
"""The empty transaction table (copied: made once, not at every sweep point)."""


class PlacedHardware:
    """``hw`` with ``mapping.weight_source`` set to each layer's resolved source (``dram`` or
    ``store``, :mod:`spikesim.sim.residency`), each variant made once."""

    def __init__(self, hw: HardwareConfig) -> None:
        self.hw = hw
        self._variants: dict[WeightSource, HardwareConfig] = {}

    def get(self, source: WeightSource) -> HardwareConfig:
        if source == self.hw.mapping.weight_source:
            return self.hw
        if source not in self._variants:
            mapping = self.hw.mapping.model_copy(update={"weight_source": source})
            self._variants[source] = self.hw.model_copy(update={"mapping": mapping})
        return self._variants[source]


def _simulate_tensor_layer(
    layer: WorkloadItem,
    hw: HardwareConfig,
    names: Sequence[str],
    reference: Any,
    histogram: bool,
    histograms: list[Histogram],
    store: QuantCache | None = None,
    *,
    write: bool = True,
) -> Iterator[tuple[str, LayerSim]]:
    """A layer with activations and weights under each design, one after another: read once
    (when a quantization is not in ``store``), quantized once per distinct quantization (or
    loaded from ``store``, and stored there after a miss with ``write``); the reference
    design's quantization adds its histogram."""
    if isinstance(layer, VectorLayer):
        raise TypeError(f"vector layer {layer.name} has op_class {layer.op_class!r}")
    hw = layer_hardware(layer, hw)
    floats: list[tuple[Any, Any]] = []

    def inputs() -> tuple[Any, Any]:
        if not floats:
            floats.append((layer.activations(), layer.weights()))
        return floats[0]

    quantized: dict[Hashable, Any] = {}
    for name in names:
        design = get_design(name)
        key = design.quantization
        if key not in quantized:
            if store is None:
                x, w = inputs()
                quantized[key] = design.quantize(layer.name, layer.op, x, w, hw.quant)
            else:
                quantized[key] = store.quantize(design, layer, hw.quant, inputs, write=write)
        if histogram and design is reference:
            histograms.append(layer_histogram_arrays(layer.name, quantized[key]))
        res = design.simulate_quantized(quantized[key], hw)
        yield name, replace(res, op_class=str(layer.op_class), phase=str(layer.phase))
