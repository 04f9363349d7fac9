"""Mapping: the step planner every design shares (token blocks × weight tiles, DRAM loads)."""

from spikesim.mapping.schedule import Schedule, Step, dram_cycles, index_bits

__all__ = ["Schedule", "Step", "dram_cycles", "index_bits"]
