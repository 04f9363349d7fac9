"""Mapping knobs (the ``mapping:`` section of a hardware YAML): how every design's layer is
walked against DRAM. The rules themselves live in :mod:`spikesim.mapping.schedule`."""

from __future__ import annotations

from enum import StrEnum

from spikesim.config._base import FrozenModel


class LoopOrder(StrEnum):
    """The DRAM loop order of token blocks × weight tiles.

    ``tokens_outer``: for each token block, for each weight tile (a block's activations are
    loaded once; the tiles are reloaded for every block unless the whole weight matrix fits
    the weight SRAM). ``weights_outer``: for each weight tile, for each token block (a tile is
    loaded once; the blocks' activations are reloaded for every tile unless all of them fit
    their SRAMs). ``auto``: whichever of the two reads fewer DRAM bytes for the layer
    (ties: ``tokens_outer``); the schedule records the order chosen.
    """

    TOKENS_OUTER = "tokens_outer"
    WEIGHTS_OUTER = "weights_outer"
    AUTO = "auto"


class WeightSource(StrEnum):
    """Where a layer's ``w`` operand (weights, or K and V of an attention matmul) is read from
    when its tiles are loaded into the weight SRAM.

    ``dram``: off chip, every time (a decode step streams every weight again). ``store``: the
    on-chip store (the SRAM with role ``store``), for every layer, without a capacity check: a
    chip that holds the whole model and its KV cache on chip. ``auto`` (default): with no
    store, ``dram``; with one, the residency plan of the run (:mod:`spikesim.sim.residency`)
    puts each linear's weights, then each decoder block's KV cache, in the store while they
    fit, and the rest stays in DRAM. A ``kv_write`` appends to the store when its block's cache
    lives there.
    """

    AUTO = "auto"
    DRAM = "dram"
    STORE = "store"


class MappingConfig(FrozenModel):
    """How a layer is cut into steps and ordered against DRAM (every design)."""

    loop_order: LoopOrder = LoopOrder.TOKENS_OUTER
    """DRAM loop order of token blocks and weight tiles (see :class:`LoopOrder`); the block and
    tile sizes do not depend on it."""

    weight_source: WeightSource = WeightSource.AUTO
    """Where weight tiles (and K, V) are read from: DRAM, the on-chip store, or the run's
    residency plan (see :class:`WeightSource`)."""
