"""Action counts of a MAC-array baseline layer: multiplies and adds in the systolic array, SRAM
operand traffic as SCALE-Sim's dataflow implies it, dequantization and requantization.

Per GEMM pass p (``spikesim.quant.baselines.GemmPass``) of M × k_p × N:

- ``mac_array.multiply`` / ``mac_array.add``: M·k_p·N each, the multiply at the wider operand
  width (INT4×INT4 → 4 bits, Atom's INT8 keepers → 8), the add at ``mac.acc_bits``; FP16 designs
  count ``fp_multiply`` and ``fp_add`` at 16 bits instead.
- SRAM: the pass's IFMAP and FILTER element reads (SCALE-Sim's counts for the dataflow) packed
  into words of the activation and weight SRAMs at the operand widths; output writes of the
  re-quantized outputs at ``output_bits``, plus any partial sums beyond one write per output
  (written and read back at ``acc_bits``).
- ``dequant.fp_multiply`` (16-bit): two per output per scale group of each dequantized pass
  (s_x,t · s_w,j, then the product with the integer sum); ``dequant.fp_add``: one per output per
  extra dequantized term (Atom's two passes, groups) to combine them.
- ``requant.fp_multiply`` (16-bit): one per output (× 1/s_y before rounding to ``output_bits``);
  none for FP16.
"""

from __future__ import annotations

from collections.abc import Sequence

from spikesim.actions import ActionCounter
from spikesim.config.hardware import BankRole, HardwareConfig
from spikesim.dataflows.systolic.timing import SystolicTiming
from spikesim.quant.baselines import MacQuantized


def _words(elements: int, bits: int, word_bits: int) -> int:
    return -(-elements * bits // word_bits)


def mac_actions(
    q: MacQuantized, timings: Sequence[SystolicTiming], hw: HardwareConfig
) -> ActionCounter:
    """Counts of the array, SRAM-operand, dequant and requant actions of one layer."""
    counter = ActionCounter()
    wname, wbank = hw.sram_for(BankRole.WEIGHTS)
    aname, abank = hw.sram_for(BankRole.ACTIVATIONS)
    oname, obank = hw.sram_for(BankRole.OUTPUT)
    outputs = q.tokens * q.n
    dequant_terms = 0
    for p, t in zip(q.passes, timings, strict=True):
        macs = q.tokens * p.k * q.n
        if q.floating:
            counter.add("mac_array", "fp_multiply", macs, 16)
            counter.add("mac_array", "fp_add", macs, 16)
        else:
            counter.add("mac_array", "multiply", macs, max(p.act_bits, p.weight_bits))
            counter.add("mac_array", "add", macs, hw.mac.acc_bits)
        counter.add(
            f"sram.{aname}", "read", _words(t.ifmap_sram_reads, p.act_bits, abank.word_bits),
            abank.word_bits,
        )
        counter.add(
            f"sram.{wname}", "read", _words(t.filter_sram_reads, p.weight_bits, wbank.word_bits),
            wbank.word_bits,
        )
        partials = max(0, t.ofmap_sram_writes - outputs)
        if partials:
            words = _words(partials, hw.mac.acc_bits, obank.word_bits)
            counter.add(f"sram.{oname}", "write", words, obank.word_bits)
            counter.add(f"sram.{oname}", "read", words, obank.word_bits)
        if p.dequantized and not q.floating:
            counter.add("dequant", "fp_multiply", 2 * outputs * p.groups, 16)
            dequant_terms += p.groups
    if dequant_terms > 1:
        counter.add("dequant", "fp_add", (dequant_terms - 1) * outputs, 16)
    if not q.floating:
        counter.add("requant", "fp_multiply", outputs, 16)
    out_words = _words(outputs, q.output_bits, obank.word_bits)
    counter.add(f"sram.{oname}", "write", out_words, obank.word_bits)
    counter.add(f"sram.{oname}", "read", out_words, obank.word_bits)  # drained to DRAM
    return counter
