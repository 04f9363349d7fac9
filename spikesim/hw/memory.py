"""Memory traffic of a schedule, common to every design: DRAM loads into the SRAMs and the
output write-back (the array-side reads are counted by each design's engine); the membrane
store of K-split spiking layers and the cost of moving a token's partial membranes."""

from __future__ import annotations

from spikesim.actions import ActionCounter
from spikesim.config.hardware import BankRole, HardwareConfig, SRAMBankConfig
from spikesim.mapping.schedule import Schedule, ceil_div


def membrane_sram(hw: HardwareConfig) -> tuple[str, SRAMBankConfig]:
    """The membrane store of K-split layers: the SRAM with role ``membrane``, else the output
    SRAM."""
    if any(b.role == BankRole.MEMBRANE for b in hw.sram.values()):
        return hw.sram_for(BankRole.MEMBRANE)
    return hw.sram_for(BankRole.OUTPUT)


def membrane_words(hw: HardwareConfig, cols: int) -> int:
    """Words moved to write back (or re-read) one token's ``cols`` partial membranes:
    ceil(cols · acc_bits / word_bits) of the membrane store."""
    _, bank = membrane_sram(hw)
    return ceil_div(cols * hw.if_array.acc_bits, bank.word_bits)


def membrane_cycles(hw: HardwareConfig, cols: int) -> int:
    """Array cycles of one write-back (or re-read) of a token's ``cols`` partial membranes:
    ceil(cols · acc_bits / (word_bits · banks · ports)) of the membrane store."""
    _, bank = membrane_sram(hw)
    return ceil_div(cols * hw.if_array.acc_bits, bank.word_bits * bank.banks * bank.ports)


def count_load_actions(
    counter: ActionCounter, sched: Schedule, hw: HardwareConfig, weight_bits: int
) -> None:
    """DRAM reads (and on-chip store reads of weights kept there) and the SRAM writes they
    fill, per step; the outputs' DRAM write-back."""
    wname, wbank = hw.sram_for(BankRole.WEIGHTS)
    aname, abank = hw.sram_for(BankRole.ACTIVATIONS)
    sname, sbank = hw.sram_for(BankRole.SALIENT)
    dram_read = 0
    store_words = 0
    for step in sched.steps:
        dram_read += sched.dram_step_bytes(step)
        store_words += sched.store_read_words(step)
        if step.weight_bytes:
            cols = sched.tile_columns[step.tile]
            inputs = sched.chunk_inputs(step.chunk)
            words = ceil_div(inputs * cols * weight_bits, wbank.word_bits)
            counter.add(f"sram.{wname}", "write", words, wbank.word_bits)
        if step.activation_bytes:
            b = step.block
            words = ceil_div(sched.block_normal_bits[b], abank.word_bits)
            counter.add(f"sram.{aname}", "write", words, abank.word_bits)
            if sched.block_salient_bits[b]:
                words = ceil_div(sched.block_salient_bits[b], sbank.word_bits)
                counter.add(f"sram.{sname}", "write", words, sbank.word_bits)
    counter.add("dram", "read", dram_read, 8)
    if sched.weights_from_store:
        counter.add(sched.weight_component, "read", store_words, sched.store_word_bits)
    counter.add("dram", "write", sched.output_bytes, 8)
