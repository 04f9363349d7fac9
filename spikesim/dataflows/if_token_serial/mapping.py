"""Mapping of the token-serial IF array: a spiking layer onto the shared step planner.

Tiles are ``if_array.columns`` output channels wide (no narrowing: a tile that does not fit twice
in the weight SRAM is split along K into chunks with partial membranes; one that does not fit
twice even with one input per chunk is an error naming its capacity); a token's normal values
are packed at ``act_bits`` in the activation SRAM, its salient values are (index, value)
records of ``index_bits(K) + salient_bits`` in the salient SRAM. Blocks, K chunks, residency
and DRAM loads follow :func:`spikesim.mapping.schedule.plan_steps`.
"""

from __future__ import annotations

import numpy as np

from spikesim.config.hardware import HardwareConfig
from spikesim.hw.memo import row_counts
from spikesim.mapping.schedule import Schedule, index_bits, plan_steps
from spikesim.quant.layer import QuantizedLayer


def map_layer(layer: QuantizedLayer, hw: HardwareConfig) -> Schedule:
    """Schedule of a spiking layer: tiles of ``if_array.columns`` outputs, salient records in the
    salient SRAM, K split when a tile does not fit twice. Raises InputError naming the SRAM whose
    capacity is too small."""
    rec_bits = index_bits(layer.k) + layer.salient_bits
    sal_count = row_counts(np.asarray(layer.salient))
    return plan_steps(
        name=layer.name,
        m=layer.tokens,
        k=layer.k,
        n=layer.n,
        normal_bits_per_token=layer.k * layer.act_bits,
        salient_bits_per_token=sal_count * rec_bits,
        record_bits=rec_bits,
        weight_bits=layer.weight_bits,
        output_bits=layer.output_bits,
        tile_cols=hw.if_array.columns,
        hw=hw,
    )
