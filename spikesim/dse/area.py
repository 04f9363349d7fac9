"""Silicon area of a design on a hardware configuration, from the technology table's ``area:``.

The simulator counts, the energy model prices — and area is priced the same way: this module
only decides *which parts, how many and how wide*; every µm² comes from the table
(:meth:`~spikesim.energy.table.EnergyTable.logic_area`, :meth:`~...sram_area`) with its citation.

Composition (each line is one ``area_<component>_mm2`` entry; all of them are assumptions about
the datapath, stated here so a reader can check them):

spikequant (integrate-and-fire array)
    ``if_array.adders``     lanes × columns adders of ``acc_bits`` (each of the ``lanes`` events
                            of a cycle adds ±w to every one of the ``columns`` membranes)
    ``if_array.membranes``  columns registers of ``acc_bits``
    ``if_array.slopes``     columns registers of ``acc_bits`` when either coding is TTFS (ramp
                            neuron slope register)
    ``if_array.partials``   columns registers of ``acc_bits`` when either coding is bit-serial
                            (the shifted partial sum P)
    ``if_array.fire``       columns comparators of ``acc_bits`` (membrane against θ)
    ``threshold``           one ``threshold_bits`` × ``threshold_bits`` multiplier (θ = c_j · r_t)
    ``encoder``             count × values_per_cycle down-counters of ``salient_bits`` (the widest
                            stored integer)
MAC baselines (systolic array)
    ``mac_array.multipliers``  rows × cols multipliers of a × ``weight_bits``, a = ``act_bits``
                               (``mac-w4a4``, ``spikellm``), ``atom.keeper_bits`` (``atom``: the
                               PE must take the INT8 keepers), 16 (``fp16``: a 16×16 integer
                               multiplier as a proxy for an FP16 one — an assumption)
    ``mac_array.adders``       rows × cols adders of ``mac.acc_bits``
    ``mac_array.registers``    rows × cols registers of ``mac.acc_bits`` + a + ``weight_bits``
                               (accumulator and the two forwarded operands)
every design
    ``sram.<name>``         each SRAM by capacity

Not counted (stated so): control, interconnect, DRAM PHY, dequantization/requantization units.
"""

from __future__ import annotations

from dataclasses import dataclass

from spikesim.config.hardware import HardwareConfig
from spikesim.config.quant import Coding
from spikesim.energy.table import EnergyTable

SPIKING_DESIGNS = frozenset({"spikequant"})
"""Designs that run on the integrate-and-fire array; every other design is a MAC baseline."""


@dataclass(frozen=True, slots=True)
class AreaPart:
    """One line of an area breakdown: ``count`` instances of one part."""

    component: str
    count: int
    area_um2_each: float
    source: str

    @property
    def area_mm2(self) -> float:
        return self.count * self.area_um2_each * 1e-6


def area_parts(hw: HardwareConfig, table: EnergyTable, design: str) -> list[AreaPart]:
    """The parts of ``design`` on ``hw`` with their areas and provenance (see the module doc)."""
    parts: list[AreaPart] = []

    def add(component: str, count: int, priced: tuple[float, str]) -> None:
        parts.append(AreaPart(component, count, priced[0], priced[1]))

    def logic(name: str, bits: int, bits_b: int | None = None) -> tuple[float, str]:
        p = table.logic_area(name, bits, bits_b)
        return p.area_um2, p.source

    q = hw.quant
    if design in SPIKING_DESIGNS:
        a = hw.if_array
        add("if_array.adders", a.lanes * a.columns, logic("int_add", a.acc_bits))
        add("if_array.membranes", a.columns, logic("register", a.acc_bits))
        if Coding.TTFS in (q.normal_coding, q.salient_coding):
            add("if_array.slopes", a.columns, logic("register", a.acc_bits))
        if Coding.BITSERIAL in (q.normal_coding, q.salient_coding):
            add("if_array.partials", a.columns, logic("register", a.acc_bits))
        add("if_array.fire", a.columns, logic("comparator", a.acc_bits))
        add("threshold", 1, logic("int_mult", a.threshold_bits, a.threshold_bits))
        e = hw.encoder
        add("encoder", e.count * e.values_per_cycle, logic("counter", q.salient_bits))
    else:
        m = hw.mac
        act = {"atom": q.atom.keeper_bits, "fp16": 16}.get(design, q.act_bits)
        weight = 16 if design == "fp16" else q.weight_bits
        pes = m.rows * m.cols
        add("mac_array.multipliers", pes, logic("int_mult", act, weight))
        add("mac_array.adders", pes, logic("int_add", m.acc_bits))
        add("mac_array.registers", pes, logic("register", m.acc_bits + act + weight))
    for name, bank in hw.sram.items():
        p = table.sram_area(bank.capacity_bytes)
        add(f"sram.{name}", 1, (p.area_um2, p.source))
    return parts


def area_mm2(
    hw: HardwareConfig, table: EnergyTable, design: str
) -> tuple[float, dict[str, float]]:
    """Total area of ``design`` on ``hw`` (mm²) and the area per component (mm²)."""
    by_component: dict[str, float] = {}
    for part in area_parts(hw, table, design):
        by_component[part.component] = by_component.get(part.component, 0.0) + part.area_mm2
    return sum(by_component.values()), by_component
