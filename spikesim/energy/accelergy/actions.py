"""Which ERT action, at which argument combination, gives an entry's energy; how a row cites
it.

Of several argument combinations the most expensive is used; SRAM points and the DRAM take the
action ``ImportOptions.access`` chooses (:func:`access_energy`). The rules:
:mod:`spikesim.energy.accelergy`.
"""

from __future__ import annotations

from collections.abc import Iterable, Mapping, Sequence
from dataclasses import dataclass
from typing import Any

from spikesim.energy.accelergy.attributes import described
from spikesim.energy.accelergy.context import Access, Context
from spikesim.energy.accelergy.formats import Component, Entry
from spikesim.energy.accelergy.text import fmt
from spikesim.errors import InputError, shorten


@dataclass(frozen=True)
class Chosen:
    """The energy an entry gives for one action."""

    action: str
    energy_pj: float
    how: str
    """How it was chosen, for the note ('' when the action is listed once)."""
    label: str
    """The action as cited (``read`` or ``read (address_delta 1, data_delta 1)``)."""


def _args_text(args: Mapping[str, Any] | None) -> str:
    if not args:
        return ""
    return ", ".join(f"{k} {shorten(str(v), 40)}" for k, v in args.items())


def pick(ctx: Context, entry: Entry, names: Sequence[str], what: str) -> Chosen:
    """The first of ``names`` the entry lists; of several argument combinations the largest."""
    chosen = maybe_pick(entry, names)
    if chosen is None:
        have = ", ".join(dict.fromkeys(a.name for a in entry.actions)) or "none"
        wanted = " or ".join(f"'{n}'" for n in names)
        raise InputError(
            f"entry '{shorten(entry.name)}' has no {wanted} action for {what} (its actions: "
            f"{shorten(have, 200)})",
            file=ctx.ert_file,
            field=entry.actions_field,
        )
    return chosen


def maybe_pick(entry: Entry, names: Sequence[str]) -> Chosen | None:
    """:func:`pick`, or None when the entry lists none of ``names``."""
    for name in names:
        combos = [a for a in entry.actions if a.name == name]
        if not combos:
            continue
        top = max(combos, key=lambda a: a.energy_pj)
        args = _args_text(top.arguments)
        energies = {a.energy_pj for a in combos}
        label = name
        how = ""
        if len(energies) > 1:
            label = f"{name} ({args})" if args else name
            how = (
                f"'{name}' is listed for {len(combos)} argument combinations "
                f"({fmt(min(energies))}-{fmt(max(energies))} pJ); the most expensive, "
                f"{args or 'no arguments'}, is used"
            )
        return Chosen(name, top.energy_pj, how, label)
    return None


def unused_actions(entry: Entry, used: Iterable[str]) -> str:
    """The note naming the entry's actions other than ``used`` ('' when there are none)."""
    rest = [n for n in dict.fromkeys(a.name for a in entry.actions) if n not in set(used)]
    return f"actions not imported: {', '.join(rest)}" if rest else ""


def read_convention(chosen: Chosen, typical: str) -> str:
    """The note for an entry priced by its ``read`` for want of its ``typical`` action."""
    if chosen.action != "read":
        return ""
    return (
        f"the entry has no '{typical}' action; its 'read' is used (the Accelergy library "
        "plug-in's convention: 'read' is a component's typical action)"
    )


def ert_source(
    ctx: Context,
    entry: Entry,
    label: str,
    energy_pj: float,
    comp: Component,
    attrs: str,
    detail: str = "",
) -> str:
    """A row's source: the ERT entry, the action (``label``) and its energy, then ``detail``
    (how the row's value follows from it) and what the architecture says of the component."""
    return (
        f"Accelergy ERT {ctx.ert_file}, entry {entry.name}, action {label} = "
        f"{fmt(energy_pj)} pJ{detail} {described(comp, attrs)}"
    )


def access_energy(ctx: Context, entry: Entry, what: str) -> tuple[float, str, str, list[str]]:
    """The energy of one access by ``options.access``: (energy, action label, note, used)."""
    access = ctx.options.access
    read = maybe_pick(entry, ("read",))
    write = maybe_pick(entry, ("write",))
    need = {
        Access.READ: [("read", read)],
        Access.WRITE: [("write", write)],
        Access.MAX: [("read", read), ("write", write)],
        Access.MEAN: [("read", read), ("write", write)],
    }[access]
    for name, chosen in need:
        if chosen is None:
            pick(ctx, entry, (name,), f"{what} (access {access.value})")  # raises
    quoted = ", ".join(
        f"{c.label} {fmt(c.energy_pj)} pJ" + (f" ({c.how})" if c.how else "")
        for c in (read, write)
        if c is not None
    )
    if access is Access.READ and read is not None:
        energy, label = read.energy_pj, read.label
    elif access is Access.WRITE and write is not None:
        energy, label = write.energy_pj, write.label
    else:
        if read is None or write is None:  # pragma: no cover - pick raised above
            raise AssertionError(entry.name)
        if access is Access.MAX:
            top = read if read.energy_pj >= write.energy_pj else write
            energy, label = top.energy_pj, f"{top.label} (max of read and write)"
        else:
            energy = (read.energy_pj + write.energy_pj) / 2
            label = f"mean of {read.label} and {write.label}"
    rule = (
        f"the ERT gives {quoted}; spikesim's table holds one energy per access for reads and "
        f"writes alike: access '{access.value}' used"
    )
    used = [c.action for c in (read, write) if c is not None]
    return energy, label, rule, used
