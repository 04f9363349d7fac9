"""Silicon area of a design on a hardware configuration, from the technology table's ``area:``.

The simulator counts, the energy model prices — and area is priced the same way: each design
lists its logic parts (:meth:`spikesim.dataflows.base.Design.area_parts`: which parts, how many,
how wide — the composition and its assumptions are documented beside each dataflow), every
design adds its SRAMs, and every µm² comes from the table
(:meth:`~spikesim.energy.table.EnergyTable.logic_area`, :meth:`~...sram_area`) with its citation.

``sram.<name>``: each SRAM by capacity. Not counted (stated so): control, interconnect, DRAM PHY,
dequantization/requantization units.
"""

from __future__ import annotations

from dataclasses import dataclass

from spikesim.config.hardware import HardwareConfig
from spikesim.dataflows import get_design
from spikesim.energy.table import EnergyTable


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
    parts = []
    for logic in get_design(design).area_parts(hw):
        priced = table.logic_area(logic.part, logic.bits, logic.bits_b)
        parts.append(AreaPart(logic.component, logic.count, priced.area_um2, priced.source))
    for name, bank in hw.sram.items():
        priced = table.sram_area(bank.capacity_bytes, banks=bank.banks, word_bits=bank.word_bits)
        parts.append(AreaPart(f"sram.{name}", 1, priced.area_um2, priced.source))
    return parts


def area_mm2(
    hw: HardwareConfig, table: EnergyTable, design: str
) -> tuple[float, dict[str, float]]:
    """Total area of ``design`` on ``hw`` (mm²) and the area per component (mm²)."""
    by_component: dict[str, float] = {}
    for part in area_parts(hw, table, design):
        by_component[part.component] = by_component.get(part.component, 0.0) + part.area_mm2
    return sum(by_component.values()), by_component
