"""Mapping: from a QuantizedLayer and a HardwareConfig to a Schedule of steps."""

from spikesim.mapping.schedule import Schedule, Step, dram_cycles, index_bits, map_layer

__all__ = ["Schedule", "Step", "dram_cycles", "index_bits", "map_layer"]
