"""Reading a component's widths, capacities and node from its architecture attributes.

What the architecture does not give, or gives twice with two values, is an error naming the
entry: nothing is guessed (:func:`bits`).
"""

from __future__ import annotations

import re
from collections.abc import Iterable, Sequence

from spikesim.energy.accelergy.formats import Component, number
from spikesim.errors import InputError, echo, shorten

WIDTHS = ("width", "datawidth")
"""An adder's (or a MAC's one) width and its synonym."""
MULT_WIDTHS = ("width", "datawidth", "width_a", "width_b", "datawidth_a", "datawidth_b")
"""A multiplier's width, its synonym, and its operands' widths."""
WIDTH_WHY = "as the width of the row it gives"
REG_WIDTH = ("width", "datawidth")
"""A register file's access width: ``width``; one that gives only ``datawidth`` (Accelergy 0.3's
regfile) is accessed a word at a time."""
REG_WHY = "as the bits of one access"


def bits(
    comp: Component,
    keys: Sequence[str],
    what: str,
    why: str,
    *,
    required: bool,
    first: bool = False,
) -> int | None:
    """A positive integer attribute under any of ``keys``: synonyms must agree, or with
    ``first`` the first key given wins (a preferred name and its fallback)."""
    found: dict[str, int] = {}
    for key in keys:
        if key not in comp.attributes or (first and found):
            continue
        raw = comp.attributes[key]
        x = number(raw)
        if x is None or x <= 0 or x != int(x):
            raise InputError(
                f"entry '{shorten(comp.name)}': attribute '{key}' ({what}) must be a positive "
                f"integer, got "
                f"{echo(raw)}",
                file=comp.file,
                field=f"{comp.field}.attributes.{key}",
            )
        found[key] = int(x)
    if len(set(found.values())) > 1:
        given = ", ".join(f"{k}: {v}" for k, v in found.items())
        raise InputError(
            f"entry '{shorten(comp.name)}' (class {comp.cls}) gives disagreeing {what}s "
            f"({given}); which one spikesim should use is not guessed",
            file=comp.file,
            field=f"{comp.field}.attributes",
        )
    if found:
        return next(iter(found.values()))
    if required:
        names = " or ".join(f"'{k}'" for k in keys)
        raise InputError(
            f"entry '{shorten(comp.name)}' (class {comp.cls}) gives no {what} ({names}); "
            f"spikesim needs it {why} and does not guess it",
            file=comp.file,
            field=f"{comp.field}.attributes",
        )
    return None


def need_bits(
    comp: Component,
    keys: Sequence[str],
    what: str,
    why: str,
    *,
    first: bool = False,
) -> int:
    """:func:`bits` of an attribute that must be given (an error names the entry if not)."""
    value = bits(comp, keys, what, why, required=True, first=first)
    if value is None:  # pragma: no cover - required=True raises instead
        raise AssertionError(keys)
    return value


def attr_text(comp: Component, keys: Iterable[str]) -> str:
    """The attributes under ``keys`` that the component gives, as quoted in sources."""
    return ", ".join(f"{k} {comp.attributes[k]}" for k in keys if k in comp.attributes)


def described(comp: Component, attrs: str) -> str:
    """``(class C, <attrs> in <architecture file>)``: what a source says of the component."""
    return f"(class {comp.cls}, {attrs} in {comp.file})"


_NM = re.compile(r"^\s*(\d+(?:\.\d+)?)\s*nm\s*$", re.IGNORECASE)


def technology(comp: Component) -> float | None:
    """The component's node in nm (``45nm``, ``"45 nm"``, ``45``); None when not given as
    such (``"SET ME"``, ``-1``, ``must_specify``)."""
    raw = comp.attributes.get("technology")
    if isinstance(raw, str) and (m := _NM.match(raw)):
        return float(m.group(1))
    x = number(raw)
    return x if x is not None and x >= 1 else None


def multiplier_bits(comp: Component) -> int:
    """The width of a multiplier's row: ``width`` (= ``datawidth``), or its operands' width
    when they are given and equal (unequal operands are refused)."""
    width = bits(comp, WIDTHS, "width", WIDTH_WHY, required=False)
    a = bits(comp, ("width_a", "datawidth_a"), "operand width", "", required=False)
    b = bits(comp, ("width_b", "datawidth_b"), "operand width", "", required=False)
    if a is not None or b is not None:
        if a is None or b is None or a != b or (width is not None and width != a):
            raise InputError(
                f"entry '{shorten(comp.name)}' (class {comp.cls}) multiplies operands of "
                f"different or partly given widths ({attr_text(comp, MULT_WIDTHS)}); "
                "spikesim's int_mult rows are b×b multiplies",
                file=comp.file,
                field=f"{comp.field}.attributes",
            )
        return a
    return need_bits(comp, WIDTHS, "width", WIDTH_WHY)


def sram_shape(comp: Component) -> tuple[int, int]:
    """(width, depth) of an SRAM: bits per access, words."""
    width = need_bits(comp, ("width", "memory_width"), "width", "as the bits of one access")
    depth = need_bits(comp, ("depth", "memory_depth"), "depth", "for the SRAM's capacity")
    return width, depth


def mac_widths(comp: Component) -> tuple[int, int | None, str]:
    """(multiplier bits, adder bits, attributes text) of a MAC: ``multiplier_width`` and
    ``adder_width`` (Accelergy's compound intmac), else its one ``width``/``datawidth`` for both
    (the primitive intmac); the adder width is None when only ``multiplier_width`` is given."""
    mult = bits(comp, ("multiplier_width",), "multiplier width", "", required=False)
    why = "as the width of its multiply row"
    one = bits(comp, WIDTHS, "width", why, required=mult is None)
    adder = bits(comp, ("adder_width",), "adder width", "", required=False)
    attrs = attr_text(comp, ("multiplier_width", "adder_width", "width", "datawidth"))
    m = mult if mult is not None else one
    if m is None:  # pragma: no cover - required above
        raise AssertionError(comp.name)
    return m, adder if adder is not None else one, attrs


def adder_bits(comp: Component, adder: int | None) -> int:
    """The MAC's adder width (of :func:`mac_widths`) that ``--mac split`` subtracts."""
    if adder is None:
        raise InputError(
            f"entry '{shorten(comp.name)}' (class {comp.cls}) gives multiplier_width but no "
            "adder_width; --mac split subtracts an adder of the MAC's adder width and does not "
            "guess it",
            file=comp.file,
            field=f"{comp.field}.attributes",
        )
    return adder
