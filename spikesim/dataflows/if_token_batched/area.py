"""Logic of the token-batched IF array (SRAMs are added for every design by the area pricer).

``if_array.adders``: lanes × columns adders of ``acc_bits`` — each of the ``lanes`` events of a
cycle adds ±w to ``columns`` membranes of its token. ``if_array.latches`` (``row_latch``): one
latched weight row of ``columns`` × ``weight_bits`` per lane. The neurons: with the
``registers`` membrane store, batch × columns of them (membrane, slope and partial registers
as the codings need, :func:`spikesim.hw.parts.neuron_parts`); with the ``sram`` store their
registers live in the membrane SRAM (priced with the SRAMs) and only the ``columns`` × lanes
fire comparators remain. Then the threshold multiplier and the encoders shared by every IF
dataflow.
"""

from __future__ import annotations

from spikesim.config.hardware import HardwareConfig, MembraneStore
from spikesim.hw.parts import LogicPart, encoder_parts, neuron_parts, threshold_parts


def area_parts(hw: HardwareConfig) -> list[LogicPart]:
    """The token-batched array's logic parts on ``hw``."""
    a = hw.if_array
    if a.store == MembraneStore.REGISTERS:
        neurons = neuron_parts(hw, a.batch * a.columns)
        # the fire phase compares lanes tokens' rows at a time
        neurons = [
            LogicPart(p.component, a.lanes * a.columns, p.part, p.bits)
            if p.component == "if_array.fire" else p
            for p in neurons
        ]
    else:
        neurons = [LogicPart("if_array.fire", a.lanes * a.columns, "comparator", a.acc_bits)]
    return [
        LogicPart("if_array.adders", a.lanes * a.columns, "int_add", a.acc_bits),
        *(
            [LogicPart("if_array.latches", a.lanes * a.columns, "register", hw.quant.weight_bits)]
            if a.row_latch
            else []
        ),
        *neurons,
        *threshold_parts(hw),
        *encoder_parts(hw),
    ]
