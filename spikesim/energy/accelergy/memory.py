"""The ``sram`` and ``dram`` sections: one SRAM point per ERT SRAM, the DRAM's energy per bit.

spikesim's SRAM points and DRAM hold one energy per access for reads and writes alike;
``ImportOptions.access`` chooses it (:func:`~spikesim.energy.accelergy.actions.access_energy`).
"""

from __future__ import annotations

from typing import Any

from spikesim.energy.accelergy.actions import access_energy, ert_source, unused_actions
from spikesim.energy.accelergy.attributes import attr_text, need_bits, sram_shape
from spikesim.energy.accelergy.context import Context
from spikesim.energy.accelergy.formats import Component, Entry
from spikesim.energy.accelergy.rows import Collected, Row, merged
from spikesim.energy.accelergy.text import fmt, join
from spikesim.errors import InputError, shorten


def collect_sram(ctx: Context, out: Collected, entry: Entry, comp: Component) -> None:
    """One ``sram`` point: capacity ``depth × width / 8`` bytes, a ``width``-bit access."""
    width, depth = sram_shape(comp)
    if (width * depth) % 8:
        raise InputError(
            f"entry '{shorten(comp.name)}': depth {depth} × width {width} = {width * depth} bits "
            "is not a whole number of bytes (spikesim's SRAM capacities are bytes)",
            file=ctx.arch_file,
            field=f"{comp.field}.attributes",
        )
    capacity = width * depth // 8
    energy, label, rule, used = access_energy(ctx, entry, "an SRAM access")
    if energy <= 0:
        raise InputError(
            f"entry '{shorten(entry.name)}' ({label}) costs {fmt(energy)} pJ; spikesim's SRAM "
            "points must cost > 0 pJ (they are interpolated log-log)",
            file=ctx.ert_file,
            field=entry.field,
        )
    attrs = attr_text(comp, ("depth", "memory_depth", "width", "memory_width", "n_banks"))
    note = join(
        f"capacity depth {depth} × width {width} bits = {capacity} B; one access moves "
        f"{width} bits",
        rule,
        unused_actions(entry, used),
    )
    point = {
        "capacity_bytes": capacity,
        "energy_pj_per_access": energy,
        "access_bits": width,
        "source": ert_source(ctx, entry, label, energy, comp, attrs),
        "note": note,
    }
    out.sram.append(
        Row(
            (capacity,),
            energy / width,
            point,
            entry.name,
            ctx.ert_file,
            entry.field,
            f"{capacity} B, {fmt(energy)} pJ per {width}-bit access",
        )
    )


def collect_dram(ctx: Context, out: Collected, entry: Entry, comp: Component) -> None:
    """The DRAM's energy per bit: the energy of one access / ``width``."""
    why = "as the bits one access moves (energy per bit)"
    width = need_bits(comp, ("width",), "width", why)
    energy, label, rule, used = access_energy(ctx, entry, "a DRAM access")
    per_bit = energy / width
    attrs = attr_text(comp, ("width", "type"))
    source = ert_source(ctx, entry, label, energy, comp, attrs, f" per {width}-bit access")
    note = join(
        f"{fmt(energy)} pJ / {width} bits = {fmt(per_bit)} pJ/bit",
        rule,
        unused_actions(entry, used),
    )
    out.dram.append(
        Row(
            (),
            per_bit,
            {"energy_pj_per_bit": per_bit, "source": source, "note": note},
            entry.name,
            ctx.ert_file,
            entry.field,
            f"{fmt(per_bit)} pJ/bit",
        )
    )


def sram(out: Collected) -> dict[str, Any] | None:
    """The ``sram`` section (None when no entry is an SRAM)."""
    if not out.sram:
        return None
    points = merged(out.sram, "sram", "capacity", "energy per bit")
    return {
        "extrapolation": "clamp",
        "capacity_basis": "total",
        "note": (
            "One point per imported SRAM, at its whole capacity (depth × width) with its own "
            "access width; other capacities are interpolated log-log between the points and "
            "clamped outside them (spikesim's rules), other access widths scale linearly in bits."
        ),
        "points": [p.data for p in points],
    }


def dram(out: Collected) -> dict[str, Any] | None:
    """The ``dram`` section (None when no entry is a DRAM)."""
    if not out.dram:
        return None
    return merged(out.dram, "dram", "", "energy per bit")[0].data
