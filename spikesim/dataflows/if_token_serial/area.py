"""Logic of the token-serial IF array (SRAMs are added for every design by the area pricer).

``if_array.adders``: lanes × columns adders of ``acc_bits`` — each of the ``lanes`` events of a
cycle adds ±w to every one of the ``columns`` membranes. ``if_array.latches`` (``row_latch``):
one latched weight row of ``columns`` × ``weight_bits`` per lane (the shifters that bit-serial
latched events need in front of the adders are not counted: no cited area row). Then the
neurons, the threshold multiplier and the encoders shared by every IF dataflow
(:mod:`spikesim.hw.parts`).
"""

from __future__ import annotations

from spikesim.config.hardware import HardwareConfig
from spikesim.hw.parts import LogicPart, encoder_parts, neuron_parts, threshold_parts


def area_parts(hw: HardwareConfig) -> list[LogicPart]:
    """The token-serial array's logic parts on ``hw``."""
    a = hw.if_array
    return [
        LogicPart("if_array.adders", a.lanes * a.columns, "int_add", a.acc_bits),
        *(
            [LogicPart("if_array.latches", a.lanes * a.columns, "register", hw.quant.weight_bits)]
            if a.row_latch
            else []
        ),
        *neuron_parts(hw, a.columns),
        *threshold_parts(hw),
        *encoder_parts(hw),
    ]
