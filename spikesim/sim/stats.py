"""Spike statistics of a trace under a spiking design: the |q| histogram of each layer."""

from __future__ import annotations

from collections.abc import Sequence

import pandas as pd

from spikesim.config.hardware import HardwareConfig
from spikesim.dataflows import DesignKind, get_design, reference_design
from spikesim.dataflows.base import quantize_trace_layer
from spikesim.errors import InputError
from spikesim.sim.counts import layer_hardware, select_layers, tensor_layers
from spikesim.sim.histogram import histogram_frame, layer_histogram_arrays
from spikesim.trace import Workload


def spike_stats(
    hw: HardwareConfig,
    trace: Workload,
    *,
    layers: Sequence[str] | None = None,
    design: str | None = None,
) -> pd.DataFrame:
    """Histogram of |q| of a spiking design's quantized activations, per layer.

    One row per (layer, |q|) that occurs (ascending |q|): ``normal_count`` and ``salient_count``
    are how many activations (tokens × k) have that magnitude, split by the salient mask. Under
    count coding |q| is the number of spikes a value emits. ``design`` is a spiking design
    (default: the reference design), quantized with ``hw.quant`` as in a simulation;
    ``layers`` selects layers by name; vector operators have no activations and no rows;
    attention matmuls are quantized as in a simulation (K and V at ``kv_cache.bits``).
    Columns :data:`~spikesim.schema.SPIKE_STATS_COLUMNS`.
    """
    spiking = get_design(reference_design() if design is None else design)
    if spiking.kind != DesignKind.SPIKING:
        raise InputError(f"'{spiking.name}' is not a spiking design", field="design")
    return histogram_frame([
        layer_histogram_arrays(
            layer.name, quantize_trace_layer(spiking, layer, layer_hardware(layer, hw).quant)
        )
        for layer in tensor_layers(select_layers(trace, layers))
    ])
