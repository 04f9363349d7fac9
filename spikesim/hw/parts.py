"""Logic parts of the hardware units, before pricing (area is priced like energy: the hardware
says which parts, how many and how wide; the technology table says how many µm² each).

The units shared by every dataflow of the integrate-and-fire array are listed here; a dataflow
adds its own array parts. Each part is an assumption about the datapath, stated in its docstring.
"""

from __future__ import annotations

from dataclasses import dataclass

from spikesim.config.hardware import HardwareConfig
from spikesim.config.quant import Coding


@dataclass(frozen=True, slots=True)
class LogicPart:
    """One line of an area breakdown before pricing: ``count`` instances of a logic ``part``.

    ``part`` names a row of the technology table's ``area:`` section (``int_add``,
    ``int_mult``, ``register``, ``comparator``, ``counter``); ``bits`` is its width
    (``bits_b`` the second operand's, for multipliers). SRAMs are added from the hardware
    config for every design, so designs list only their logic.
    """

    component: str
    count: int
    part: str
    bits: int
    bits_b: int | None = None


def neuron_parts(hw: HardwareConfig, columns: int) -> list[LogicPart]:
    """Per output neuron of the IF array (``columns`` of them), all ``acc_bits`` wide:

    ``if_array.membranes`` one membrane register each; ``if_array.slopes`` one slope register
    each when either coding is TTFS (ramp neuron); ``if_array.partials`` one shifted partial-sum
    register each when either coding is bit-serial; ``if_array.fire`` one comparator each
    (membrane against θ).
    """
    q = hw.quant
    bits = hw.if_array.acc_bits
    parts = [LogicPart("if_array.membranes", columns, "register", bits)]
    if Coding.TTFS in (q.normal_coding, q.salient_coding):
        parts.append(LogicPart("if_array.slopes", columns, "register", bits))
    if Coding.BITSERIAL in (q.normal_coding, q.salient_coding):
        parts.append(LogicPart("if_array.partials", columns, "register", bits))
    parts.append(LogicPart("if_array.fire", columns, "comparator", bits))
    return parts


def threshold_parts(hw: HardwareConfig) -> list[LogicPart]:
    """``threshold``: one ``threshold_bits`` × ``threshold_bits`` multiplier (θ = c_j · r_t)."""
    bits = hw.if_array.threshold_bits
    return [LogicPart("threshold", 1, "int_mult", bits, bits)]


def encoder_parts(hw: HardwareConfig) -> list[LogicPart]:
    """``encoder``: count × values_per_cycle down-counters of ``salient_bits`` (the widest
    stored integer)."""
    e = hw.encoder
    return [LogicPart("encoder", e.count * e.values_per_cycle, "counter", hw.quant.salient_bits)]
