"""Configuration values that cannot take effect, said where the user looks.

A value can be valid and still change nothing: more lanes than the weight SRAM's ports can feed,
a TTFS window with no TTFS coding, a guard-bit count for a pricing rule that is not selected.
Each simulated design says what it cannot use (:meth:`spikesim.dataflows.base.Design.notes`);
this module adds the design-independent ones and removes duplicates. ``validate`` prints them
for every registered design, ``simulate`` for the simulated ones (also in ``summary.json`` and
``report.md``, and on :attr:`spikesim.sim.result.SimResult.notes`).
"""

from __future__ import annotations

from collections.abc import Iterable

from spikesim.config.hardware import HardwareConfig, SpikeAdd
from spikesim.dataflows import design_names, get_design


def configuration_notes(hw: HardwareConfig, designs: Iterable[str] | None = None) -> list[str]:
    """One line per value of ``hw`` that cannot take effect for ``designs`` (default: every
    registered design), each naming its field path; in a stable order, without duplicates."""
    names = design_names() if designs is None else tuple(designs)
    notes: list[str] = []
    for name in names:
        notes.extend(get_design(name).notes(hw))
    energy = hw.energy
    guard_set = "spike_add_guard_bits" in energy.model_fields_set
    if energy.spike_add == SpikeAdd.FULL_WIDTH and guard_set:
        notes.append(
            f"energy.spike_add_guard_bits ({energy.spike_add_guard_bits}) applies to "
            "energy.spike_add: operand_width only"
        )
    return list(dict.fromkeys(notes))
