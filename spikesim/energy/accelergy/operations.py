"""The ``operations`` section: rows of the ERT's adders, multipliers, registers and MACs.

A MAC's ``compute`` energy is one multiply plus one add, and the files do not say how it splits,
while spikesim prices ``int_mult`` and ``int_add`` apart: ``ImportOptions.mac`` says how a MAC
is imported (:class:`~spikesim.energy.accelergy.context.MacRule`, rules in
:mod:`spikesim.energy.accelergy`).
"""

from __future__ import annotations

from collections.abc import Sequence
from typing import Any

from spikesim.energy.accelergy.actions import (
    Chosen,
    ert_source,
    maybe_pick,
    pick,
    read_convention,
    unused_actions,
)
from spikesim.energy.accelergy.attributes import (
    MULT_WIDTHS,
    REG_WHY,
    REG_WIDTH,
    WIDTH_WHY,
    WIDTHS,
    adder_bits,
    attr_text,
    bits,
    mac_widths,
    multiplier_bits,
    need_bits,
)
from spikesim.energy.accelergy.classes import Kind
from spikesim.energy.accelergy.context import Context, MacRule
from spikesim.energy.accelergy.formats import Component, Entry
from spikesim.energy.accelergy.rows import Collected, Row, merged
from spikesim.energy.accelergy.text import fmt, join
from spikesim.errors import InputError, shorten


def _op_row(
    ctx: Context,
    entry: Entry,
    comp: Component,
    chosen: Chosen,
    bits: int,
    attrs: str,
    note: str,
    energy: float | None = None,
    source: str | None = None,
) -> Row:
    value = chosen.energy_pj if energy is None else energy
    src = (
        source
        if source is not None
        else ert_source(ctx, entry, chosen.label, chosen.energy_pj, comp, attrs)
    )
    row = {"bits": bits, "energy_pj": value, "source": src}
    if note:
        row["note"] = note
    return Row(
        (bits,),
        value,
        row,
        entry.name,
        ctx.ert_file,
        entry.field,
        f"{bits} bits, {fmt(value)} pJ",
    )


def _collect_unit(
    ctx: Context,
    out: Collected,
    entry: Entry,
    comp: Component,
    op: str,
    bits: int,
    keys: Sequence[str],
    actions: Sequence[str],
    what: str,
) -> None:
    """The ``op`` row of an adder or a multiplier at ``bits``, from the first of ``actions``
    it lists (the first is its typical action; ``read`` the library plug-in's stand-in)."""
    chosen = pick(ctx, entry, actions, what)
    note = join(
        read_convention(chosen, actions[0]), chosen.how, unused_actions(entry, [chosen.action])
    )
    out.op(op, _op_row(ctx, entry, comp, chosen, bits, attr_text(comp, keys), note))


def collect_adder(ctx: Context, out: Collected, entry: Entry, comp: Component, kind: Kind) -> None:
    """An ``int_add`` (``fp_add``) row at the adder's ``width``."""
    bits = need_bits(comp, WIDTHS, "width", WIDTH_WHY)
    op = "int_add" if kind is Kind.INTADDER else "fp_add"
    _collect_unit(ctx, out, entry, comp, op, bits, WIDTHS, ("add", "read"), "an add")


def collect_multiplier(
    ctx: Context, out: Collected, entry: Entry, comp: Component, kind: Kind
) -> None:
    """An ``int_mult`` (``fp_mult``) row at the multiplier's width."""
    bits = multiplier_bits(comp)
    op = "int_mult" if kind is Kind.INTMULTIPLIER else "fp_mult"
    actions = ("multiply", "mult", "read")
    _collect_unit(ctx, out, entry, comp, op, bits, MULT_WIDTHS, actions, "a multiply")


def collect_regfile(ctx: Context, out: Collected, entry: Entry, comp: Component) -> None:
    """``register_read`` and ``register_write`` rows at the register (file)'s access width."""
    width = need_bits(comp, REG_WIDTH, "width", REG_WHY, first=True)
    depth = bits(comp, ("depth",), "depth", "", required=False)
    attrs = attr_text(comp, ("width", "datawidth", "depth"))
    depth_note = (
        f"a register file of {depth} entries: its access energy includes selecting one of "
        "them, an over-estimate for spikesim's single registers"
        if depth is not None and depth > 1
        else ""
    )
    read = maybe_pick(entry, ("read",))
    write = maybe_pick(entry, ("write",))
    if read is None and write is None:
        pick(ctx, entry, ("read", "write"), "a register access")  # raises
    used = [c.action for c in (read, write) if c is not None]
    unused = unused_actions(entry, used)
    for op, found in (("register_read", read), ("register_write", write)):
        if found is None:
            ctx.notes.append(
                f"ERT entry {entry.name} has no {op.split('_')[1]} action: no {op} row from it"
            )
            continue
        note = join(depth_note, found.how, unused)
        out.op(op, _op_row(ctx, entry, comp, found, width, attrs, note))


def queue_mac(ctx: Context, out: Collected, entry: Entry, comp: Component, kind: Kind) -> None:
    """Keep a MAC for :func:`collect_macs` (once every adder is known), or refuse it."""
    if ctx.options.mac is MacRule.REFUSE:
        raise InputError(
            f"entry '{shorten(entry.name)}' is a MAC (class {comp.cls}): its energy is one "
            "multiply plus one add and the files do not say how it splits, while spikesim "
            "prices the two apart. Choose --mac multiply (the whole MAC as the multiply, an "
            "upper bound) or --mac split (minus the ERT's own adder entry), or leave it out "
            f"(--skip {shorten(entry.name)})",
            file=ctx.arch_file,
            field=f"{comp.field}.class",
        )
    out.macs.append((entry, comp, kind))


def collect_macs(ctx: Context, out: Collected) -> None:
    """The multiply rows of the queued MACs, by ``options.mac``: the whole MAC, or the MAC
    minus the ERT's own adder at its adder width."""
    for entry, comp, kind in out.macs:
        m_bits, a_width, attrs = mac_widths(comp)
        chosen = pick(ctx, entry, ("mac_random", "compute", "mac", "read"), "a multiply-accumulate")
        mult_op, add_op = ("int_mult", "int_add") if kind is Kind.INTMAC else ("fp_mult", "fp_add")
        unused = unused_actions(entry, [chosen.action])
        if ctx.options.mac is MacRule.MULTIPLY:
            note = join(
                f"mac multiply: the whole MAC ({chosen.label}) taken as one {m_bits}-bit "
                f"multiply, an upper bound: it includes the MAC's accumulate add, which "
                f"spikesim charges again through {add_op}",
                chosen.how,
                unused,
            )
            out.op(mult_op, _op_row(ctx, entry, comp, chosen, m_bits, attrs, note))
            continue
        a_bits = adder_bits(comp, a_width)
        adders = [
            r for r in out.ops.get(add_op, []) if r.key == (a_bits,) and r.file == ctx.ert_file
        ]
        if not adders:
            raise InputError(
                f"entry '{shorten(entry.name)}': --mac split subtracts the ERT's own {a_bits}-bit "
                f"adder (an entry of class intadder at the MAC's adder width) and the ERT has "
                f"none; use --mac multiply or leave the MAC out (--skip {shorten(entry.name)})",
                file=ctx.ert_file,
                field=entry.field,
            )
        adder = adders[0]
        rest = chosen.energy_pj - adder.value
        if rest < 0:
            raise InputError(
                f"entry '{shorten(entry.name)}': the MAC ({fmt(chosen.energy_pj)} pJ) costs "
                f"less than the {a_bits}-bit adder entry '{shorten(adder.entry)}' "
                f"({fmt(adder.value)} pJ); it cannot be split",
                file=ctx.ert_file,
                field=entry.field,
            )
        minus = f" minus entry {adder.entry} ({add_op}, {a_bits} bits) = {fmt(rest)} pJ"
        source = ert_source(ctx, entry, chosen.label, chosen.energy_pj, comp, attrs, minus)
        note = join(
            f"mac split: the MAC minus the ERT's own {a_bits}-bit adder; assumption: the MAC's "
            "adder costs what the standalone adder costs",
            chosen.how,
            unused,
        )
        out.op(
            mult_op,
            _op_row(ctx, entry, comp, chosen, m_bits, attrs, note, energy=rest, source=source),
        )


_SCALING = {
    "int_add": (
        "linear",
        "spikesim's rule for integer adders (energy linear in the width), applied to the "
        "imported rows; between rows interpolated, outside them proportional to bits",
    ),
    "int_mult": (
        "quadratic",
        "spikesim's rule for array multipliers (energy grows with the square of the width), "
        "applied to the imported rows",
    ),
    "register_read": ("linear", "linear in the register width from the imported rows"),
    "register_write": ("linear", "linear in the register width from the imported rows"),
    "fp_add": ("none", "floating-point formats, not widths of one circuit: no width scaling"),
    "fp_mult": ("none", "floating-point formats, not widths of one circuit: no width scaling"),
}
"""Each operation's scaling rule, in section order, and the note that explains it."""


def operations(out: Collected) -> dict[str, Any]:
    """The ``operations`` section ({} when no entry gives a row)."""
    ops: dict[str, Any] = {}
    for op, (scaling, why) in _SCALING.items():
        if op not in out.ops:
            continue
        rows = merged(out.ops[op], f"operations.{op}", "width", "energy")
        ops[op] = {"scaling": scaling, "note": why, "rows": [r.data for r in rows]}
    return ops
