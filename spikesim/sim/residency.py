"""What the on-chip store holds for a run: the residency plan behind ``mapping.weight_source``.

A hardware with an SRAM of role ``store`` (a global buffer of ``capacity_bytes``) can keep
operands on chip across layers and decode steps, so that they are not streamed from DRAM again
every time they are used. With ``mapping.weight_source: auto`` the plan is made once per run,
over the workload's layers (all of them, not only those selected for simulation):

1. **Weights first**, linear by linear in the order they first appear: a linear's weights,
   ceil(K · N · ``quant.weight_bits`` / 8) bytes, go in the store if they fit in what is left
   of it (first fit: a later, smaller linear may still fit after a larger one did not). A
   decode step's linear (``decode.{s}.<name>``) uses the weights of ``<name>``: every step and
   the prefill share one copy. Weights are the first claim because every sequence of a batch
   reads them at every step.
2. **Then KV caches, decoder block by decoder block**: block b's cache at its final length
   (for every KV group and sequence, the most keys any of its score layers reads; K and V,
   each row ceil((head_dim · ``kv_cache.bits`` + ``kv_cache.scale_bits``) / 8) bytes, as a
   ``kv_write`` appends them) goes in the store if it fits in what is left (first fit). A
   resident block's attention layers read K and V from the store and its ``kv_write``
   layers append to it; the other blocks' caches stay in DRAM (the spill).

A layer whose operand lives in the store reads its weight tiles from it
(:mod:`spikesim.mapping.schedule`): no DRAM bytes for them, store reads instead. Everything
else (activations, outputs, the weights and caches that do not fit) moves through DRAM as
before. The store is assumed filled before the run (weights loaded once per model, the cache
of a decode-only run's context left by its prefill): that one-time fill is not counted.

``dram`` ignores the store; ``store`` puts every layer's operands in it without a capacity
check (a chip that holds the whole model). With no store, ``auto`` is ``dram``.
"""

from __future__ import annotations

import re
from collections.abc import Iterable
from dataclasses import dataclass, field
from functools import cached_property

from spikesim.config.hardware import HardwareConfig
from spikesim.config.mapping import WeightSource
from spikesim.schema import OpClass
from spikesim.trace import VectorLayer, WorkloadItem

__all__ = ["Residency", "kv_cache_bytes", "plan_residency", "weight_key"]

_DECODE_PREFIX = re.compile(r"^decode\.\d+\.")


def weight_key(name: str) -> str:
    """The linear whose weights layer ``name`` uses: ``name`` without a decode step's
    ``decode.{s}.`` prefix."""
    return _DECODE_PREFIX.sub("", name)


def linear_weight_bytes(layer: WorkloadItem, hw: HardwareConfig) -> int:
    """Bytes a linear's weights occupy: ceil(K · N · ``quant.weight_bits`` / 8)."""
    return -(-layer.k * layer.n * hw.quant.weight_bits // 8)


def _is_linear(layer: WorkloadItem) -> bool:
    return not isinstance(layer, VectorLayer) and str(layer.op_class) == OpClass.LINEAR


def _is_attention(layer: WorkloadItem) -> bool:
    return not isinstance(layer, VectorLayer) and str(layer.op_class) == OpClass.ATTENTION


def kv_cache_bytes(layers: Iterable[WorkloadItem], hw: HardwareConfig) -> dict[int, int]:
    """Decoder block → bytes of its KV cache at its final length (see the module docstring),
    for the blocks that have score layers (``op == 'attn_score'``: K = head_dim, N = keys)."""
    longest: dict[tuple[int, int, int], tuple[int, int]] = {}
    for layer in layers:
        if not _is_attention(layer) or layer.op != "attn_score":
            continue
        key = (int(getattr(layer, "block", 0)), int(getattr(layer, "group", 0)),
               int(getattr(layer, "sequence", 0)))
        keys, head_dim = longest.get(key, (0, layer.k))
        longest[key] = (max(keys, layer.n), head_dim)
    kv = hw.kv_cache
    out: dict[int, int] = {}
    for (block, _, _), (keys, head_dim) in longest.items():
        row = -(-(head_dim * kv.bits + kv.scale_bits) // 8)
        out[block] = out.get(block, 0) + 2 * keys * row
    return out


@dataclass(frozen=True)
class Residency:
    """Which linears' weights and which decoder blocks' KV caches a run keeps in the store."""

    source: WeightSource
    """``dram`` (nothing in the store), ``store`` (everything, unchecked) or ``auto`` (the
    plan below)."""
    capacity_bytes: int = 0
    """The store's capacity (0: no store)."""
    weights: dict[str, int] = field(default_factory=dict)
    """Resident linears (:func:`weight_key`) → their bytes."""
    kv_blocks: dict[int, int] = field(default_factory=dict)
    """Resident decoder blocks' caches → their bytes."""
    weights_total_bytes: int = 0
    """Bytes of every distinct linear's weights in the workload."""
    kv_total_bytes: int = 0
    """Bytes of every block's KV cache at its final length."""

    def layer_source(self, layer: WorkloadItem) -> WeightSource:
        """``store`` or ``dram`` for ``layer``'s weights (or its cache, for attention layers
        and ``kv_write``)."""
        if self.source != WeightSource.AUTO:
            return self.source
        if isinstance(layer, VectorLayer):
            resident = layer.op == "kv_write" and layer.block in self.kv_blocks
        elif _is_attention(layer):
            resident = int(getattr(layer, "block", 0)) in self.kv_blocks
        else:
            resident = weight_key(layer.name) in self.weights
        return WeightSource.STORE if resident else WeightSource.DRAM

    @cached_property
    def used_bytes(self) -> int:
        return sum(self.weights.values()) + sum(self.kv_blocks.values())

    def describe(self) -> str | None:
        """One line on what the store holds (None when there is no plan to state)."""
        if self.source != WeightSource.AUTO or not self.capacity_bytes:
            return None
        return (
            f"on-chip store ({self.capacity_bytes:,} bytes): weights "
            f"{sum(self.weights.values()):,} of {self.weights_total_bytes:,} bytes "
            f"({len(self.weights)} linears), KV cache {sum(self.kv_blocks.values()):,} of "
            f"{self.kv_total_bytes:,} bytes ({len(self.kv_blocks)} blocks); the rest streams "
            "from DRAM"
        )


def plan_residency(layers: Iterable[WorkloadItem], hw: HardwareConfig) -> Residency:
    """The residency plan of ``layers`` on ``hw`` (see the module docstring)."""
    source = hw.mapping.weight_source
    stored = hw.store()
    if source == WeightSource.AUTO and stored is None:
        return Residency(WeightSource.DRAM)
    if source != WeightSource.AUTO:
        return Residency(source)
    assert stored is not None
    layers = list(layers)
    capacity = stored[1].capacity_bytes
    left = capacity
    distinct: dict[str, int] = {}
    for layer in layers:
        if _is_linear(layer):
            distinct.setdefault(weight_key(layer.name), linear_weight_bytes(layer, hw))
    weights: dict[str, int] = {}
    for key, size in distinct.items():
        if size <= left:
            weights[key] = size
            left -= size
    caches = kv_cache_bytes(layers, hw)
    kv_blocks: dict[int, int] = {}
    for block in sorted(caches):
        if caches[block] <= left:
            kv_blocks[block] = caches[block]
            left -= caches[block]
    return Residency(
        WeightSource.AUTO, capacity, weights, kv_blocks,
        weights_total_bytes=sum(distinct.values()), kv_total_bytes=sum(caches.values()),
    )
