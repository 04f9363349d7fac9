"""Logic of the systolic MAC array (SRAMs are added for every design by the area pricer).

rows × cols processing elements, each with:

``mac_array.multipliers``  a multiplier of a × w bits, the design's PE operand widths
                           (``mac-w4a4``, ``spikellm``: act_bits × weight_bits; ``atom``: the PE
                           must take the INT8 keepers; ``fp16``: a 16×16 integer multiplier as a
                           proxy for an FP16 one — an assumption)
``mac_array.adders``       an adder of ``mac.acc_bits``
``mac_array.registers``    a register of ``mac.acc_bits`` + a + w bits (accumulator and the two
                           forwarded operands)

Not counted (stated so): dequantization/requantization units.
"""

from __future__ import annotations

from spikesim.config.hardware import HardwareConfig
from spikesim.hw.parts import LogicPart


def area_parts(hw: HardwareConfig, act_bits: int, weight_bits: int) -> list[LogicPart]:
    """The array's logic parts for PE operands of ``act_bits`` × ``weight_bits``."""
    m = hw.mac
    pes = m.rows * m.cols
    return [
        LogicPart("mac_array.multipliers", pes, "int_mult", act_bits, weight_bits),
        LogicPart("mac_array.adders", pes, "int_add", m.acc_bits),
        LogicPart("mac_array.registers", pes, "register", m.acc_bits + act_bits + weight_bits),
    ]
