"""Logic of the bit-serial MAC array (SRAMs are added for every design by the area pricer).

rows × cols processing elements, each with (assumptions, stated):

``mac_array.gates``       the operand gate: ``weight_bits`` AND gates (the weight ANDed with the
                          activation's current bit; the sign's XOR is folded in), priced as a
                          1 × ``weight_bits`` multiplier, which is exactly one row of an array
                          multiplier's partial-product AND gates (the table's product scaling)
``mac_array.adders``      an adder of ``mac.acc_bits`` (the shift-add into the accumulator)
``mac_array.registers``   a register of ``mac.acc_bits`` + ``weight_bits`` + ``act_bits``
                          (accumulator, forwarded weight, activation shift register)

With ``mac.zero_skip: activation_bits`` (Bit-Pragmatic) each PE adds the shifter that aligns the
weight to the processed bit's position (its planes no longer arrive in order): ``weight_bits``
× ``act_bits - 1`` 2:1 selects, priced as a (``act_bits - 1``) × ``weight_bits`` multiplier's
partial-product array (an upper bound: the multiplier row includes its adders' area), and each
array row one oneffset generator (next set bit of the activation), priced as a counter of
``act_bits``. Not counted: dequantization/requantization units, as for the other MAC designs.
"""

from __future__ import annotations

from spikesim.config.hardware import HardwareConfig, ZeroSkip
from spikesim.hw.parts import LogicPart


def area_parts(hw: HardwareConfig) -> list[LogicPart]:
    """The bit-serial array's logic parts on ``hw``."""
    m, q = hw.mac, hw.quant
    pes = m.rows * m.cols
    parts = [
        LogicPart("mac_array.gates", pes, "int_mult", 1, q.weight_bits),
        LogicPart("mac_array.adders", pes, "int_add", m.acc_bits),
        LogicPart("mac_array.registers", pes, "register", m.acc_bits + q.weight_bits + q.act_bits),
    ]
    if m.zero_skip is ZeroSkip.ACTIVATION_BITS:
        parts.append(
            LogicPart("mac_array.shifters", pes, "int_mult", q.act_bits - 1, q.weight_bits))
        parts.append(LogicPart("mac_array.oneffset", m.rows, "counter", q.act_bits))
    return parts
