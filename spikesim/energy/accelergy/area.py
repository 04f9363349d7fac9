"""The ``area`` section, from the ART (optional): per-instance areas of the adders,
multipliers, registers and MACs, and the SRAM area per bit of the ART's largest SRAM (the rules:
:mod:`spikesim.energy.accelergy`, "Area").
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any

from spikesim.energy.accelergy.attributes import (
    MULT_WIDTHS,
    REG_WHY,
    REG_WIDTH,
    WIDTH_WHY,
    WIDTHS,
    adder_bits,
    attr_text,
    bits,
    described,
    mac_widths,
    multiplier_bits,
    need_bits,
    sram_shape,
)
from spikesim.energy.accelergy.classes import REGISTER_CLASSES, Kind, normalise_class, skip_reason
from spikesim.energy.accelergy.context import Context, MacRule
from spikesim.energy.accelergy.formats import AreaEntry, Component, Document, parse_art
from spikesim.energy.accelergy.rows import Row, merged
from spikesim.energy.accelergy.text import fmt, join
from spikesim.errors import InputError, shorten


@dataclass(frozen=True)
class _AreaItem:
    """One ART entry to import: its component and the area of one instance."""

    entry: AreaEntry
    comp: Component
    kind: Kind
    area_um2: float
    """Area of one instance (ART area / ``n_instances``)."""
    cited: str


_NO_FP_AREA = "spikesim's area model has no floating-point units"


def _area_items(ctx: Context, art: Document) -> list[_AreaItem]:
    items: list[_AreaItem] = []
    for entry in parse_art(art):
        if ctx.skipped(entry.name):
            ctx.leave("ART entry", entry.name, "--skip")
            continue
        comp = ctx.component(entry.name, art.file, entry.field.removesuffix(".area"))
        kind = ctx.kind(comp)
        left_out = {
            Kind.SKIP: skip_reason(comp.cls),
            Kind.DRAM: "off-chip: spikesim's area model counts no DRAM",
            Kind.FPADDER: _NO_FP_AREA,
            Kind.FPMULTIPLIER: _NO_FP_AREA,
            Kind.FPMAC: _NO_FP_AREA,
        }.get(kind)
        if left_out is not None:
            ctx.leave("area of ART entry", entry.name, f"class {comp.cls}, {left_out}")
            continue
        if kind is Kind.INTMAC and ctx.options.mac is MacRule.REFUSE:
            raise InputError(
                f"entry '{shorten(entry.name)}' is a MAC (class {comp.cls}): its area is a "
                "multiplier plus an adder and the files do not say how it splits; choose --mac "
                f"multiply or --mac split, or leave it out (--skip {shorten(entry.name)})",
                file=ctx.arch_file,
                field=f"{comp.field}.class",
            )
        n = bits(comp, ("n_instances",), "instance count", "", required=False) or 1
        if entry.area_um2 <= 0:
            raise InputError(
                f"entry '{shorten(entry.name)}' (class {comp.cls}) has area 0 µm²; spikesim's "
                f"areas must be > 0: leave it out (--skip {shorten(entry.name)})",
                file=art.file,
                field=entry.field,
            )
        per_instance = f" / n_instances {n}" if n != 1 else ""
        cited = (
            f"Accelergy ART {art.file}, entry {entry.name}, area {fmt(entry.area_um2)} µm²"
            f"{per_instance}"
        )
        items.append(_AreaItem(entry, comp, kind, entry.area_um2 / n, cited))
    return items


def _area_row(
    item: _AreaItem,
    bits: int,
    scaling: str,
    attrs: str,
    note: str,
    *,
    area: float | None = None,
    minus: str = "",
) -> Row:
    value = item.area_um2 if area is None else area
    source = f"{item.cited}{minus} {described(item.comp, attrs)}"
    data: dict[str, Any] = {
        "ref_bits": bits,
        "area_um2": value,
        "scaling": scaling,
        "source": source,
    }
    if note:
        data["note"] = note
    per_bit = value / (bits * bits if scaling == "product" else bits)
    label = f"{bits} bits, {fmt(value)} µm²"
    return Row((), per_bit, data, item.entry.name, "", item.entry.field, label)


def area(ctx: Context, art: Document, tech_nm: float) -> dict[str, Any]:
    """The ``area`` section of the ART ``art``, for a table at ``tech_nm``."""
    logic: dict[str, list[Row]] = {}
    srams: list[tuple[_AreaItem, int]] = []
    macs: list[_AreaItem] = []

    def add(key: str, row: Row) -> None:
        row.file = art.file
        logic.setdefault(key, []).append(row)

    for item in _area_items(ctx, art):
        comp = item.comp
        if item.kind is Kind.INTADDER:
            width = need_bits(comp, WIDTHS, "width", WIDTH_WHY)
            add("int_add", _area_row(item, width, "linear", attr_text(comp, WIDTHS), ""))
        elif item.kind is Kind.INTMULTIPLIER:
            width = multiplier_bits(comp)
            attrs = attr_text(comp, MULT_WIDTHS)
            add("int_mult", _area_row(item, width, "product", attrs, ""))
        elif item.kind is Kind.INTMAC:
            macs.append(item)
        elif item.kind is Kind.REGFILE:
            width = need_bits(comp, REG_WIDTH, "width", REG_WHY, first=True)
            one = normalise_class(comp.cls) in REGISTER_CLASSES
            why = "for the bits its area holds"
            depth = bits(comp, ("depth",), "depth", why, required=not one) or 1
            note = (
                f"{width * depth} bits of storage (width {width} × depth {depth}); spikesim's "
                "register area is linear in its bits"
            )
            attrs = attr_text(comp, ("width", "datawidth", "depth"))
            add("register", _area_row(item, width * depth, "linear", attrs, note))
        elif item.kind is Kind.SRAM:
            width, depth = sram_shape(comp)
            srams.append((item, width * depth))
    for item in macs:
        m_bits, a_width, attrs = mac_widths(item.comp)
        if ctx.options.mac is MacRule.MULTIPLY:
            note = (
                "mac multiply: the whole MAC's area taken as the multiplier's (an upper bound: "
                "it includes the adder)"
            )
            add("int_mult", _area_row(item, m_bits, "product", attrs, note))
            continue
        a_bits = adder_bits(item.comp, a_width)
        adders = [r for r in logic.get("int_add", []) if r.data["ref_bits"] == a_bits]
        if not adders:
            raise InputError(
                f"entry '{shorten(item.entry.name)}': --mac split subtracts the ART's own "
                f"{a_bits}-bit adder area (an entry of class intadder) and the ART has none",
                file=art.file,
                field=item.entry.field,
            )
        adder = adders[0]
        rest = item.area_um2 - adder.data["area_um2"]
        if rest <= 0:
            raise InputError(
                f"entry '{shorten(item.entry.name)}': the MAC's area "
                f"({fmt(item.area_um2)} µm²) is not more than its {a_bits}-bit adder's "
                f"({fmt(adder.data['area_um2'])} µm², entry '{shorten(adder.entry)}')",
                file=art.file,
                field=item.entry.field,
            )
        note = "mac split: assumption: the MAC's adder has the standalone adder's area"
        minus = f" minus ART entry {adder.entry} ({a_bits}-bit adder) = {fmt(rest)} µm²"
        add(
            "int_mult",
            _area_row(item, m_bits, "product", attrs, note, area=rest, minus=minus),
        )
    components = {
        key: merged(rows, f"area.components.{key}", "", "area per bit")[0].data
        for key, rows in logic.items()
    }
    return {
        "node_scale": 1.0,
        "node_scale_note": "The ART's areas are at this table's node: no scaling.",
        "components": components,
        "sram": _sram_area(art, srams, tech_nm),
    }


def _sram_area(art: Document, srams: list[tuple[_AreaItem, int]], tech_nm: float) -> dict[str, Any]:
    if not srams:
        raise InputError(
            "the ART has no SRAM entry, and spikesim's area section needs an SRAM area (it "
            "prices every design's SRAMs); import without --art, or add the SRAM's area",
            file=art.file,
            field="ART.tables",
        )
    item, size = max(srams, key=lambda s: s[1])
    per_bit = item.area_um2 / size
    f_um = tech_nm * 1e-3
    others = [
        f"{o.entry.name}: {fmt(o.area_um2 / b)} µm²/bit ({b // 8} B)"
        for o, b in srams
        if o is not item
    ]
    note = join(
        f"The ART's largest SRAM, {item.entry.name} ({size // 8} B, {fmt(item.area_um2)} µm²), "
        f"gives {fmt(per_bit)} µm² per bit, written as cell_area_f2 = that area in F² at F = "
        f"{fmt(tech_nm)} nm with array_efficiency 1 (the ART area is the whole macro, "
        "periphery included); spikesim's SRAM area is that per-bit area × capacity, so smaller "
        "SRAMs are under-estimated (their periphery is a larger share)",
        ("other SRAMs of the ART: " + ", ".join(others)) if others else "",
    )
    attrs = attr_text(item.comp, ("depth", "memory_depth", "width", "memory_width"))
    return {
        "cell_area_f2": per_bit / (f_um * f_um),
        "feature_nm": tech_nm,
        "array_efficiency": 1.0,
        "source": f"{item.cited} {described(item.comp, attrs)}",
        "note": note,
    }
