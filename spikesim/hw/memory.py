"""Memory traffic of a schedule, common to every design: DRAM loads into the SRAMs and the
output write-back (the array-side reads are counted by each design's engine)."""

from __future__ import annotations

from spikesim.actions import ActionCounter
from spikesim.config.hardware import BankRole, HardwareConfig
from spikesim.mapping.schedule import Schedule, ceil_div


def count_load_actions(
    counter: ActionCounter, sched: Schedule, hw: HardwareConfig, weight_bits: int
) -> None:
    """DRAM reads and the SRAM writes they fill, per step; the outputs' DRAM write-back."""
    wname, wbank = hw.sram_for(BankRole.WEIGHTS)
    aname, abank = hw.sram_for(BankRole.ACTIVATIONS)
    sname, sbank = hw.sram_for(BankRole.SALIENT)
    dram_read = 0
    for step in sched.steps:
        dram_read += step.load_bytes
        if step.weight_bytes:
            cols = sched.tile_columns[step.tile]
            words = ceil_div(sched.k * cols * weight_bits, wbank.word_bits)
            counter.add(f"sram.{wname}", "write", words, wbank.word_bits)
        if step.activation_bytes:
            b = step.block
            words = ceil_div(sched.block_normal_bits[b], abank.word_bits)
            counter.add(f"sram.{aname}", "write", words, abank.word_bits)
            if sched.block_salient_bits[b]:
                words = ceil_div(sched.block_salient_bits[b], sbank.word_bits)
                counter.add(f"sram.{sname}", "write", words, sbank.word_bits)
    counter.add("dram", "read", dram_read, 8)
    counter.add("dram", "write", sched.output_bytes, 8)
