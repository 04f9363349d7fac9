"""Candidate rows, and how the rows of one section merge into a table's rows (agreeing rows at
one width merged, disagreeing or falling ones refused: :func:`merged`).
"""

from __future__ import annotations

import itertools
import math
from dataclasses import dataclass, field
from typing import Any

from spikesim.energy.accelergy.classes import Kind
from spikesim.energy.accelergy.formats import Component, Entry
from spikesim.errors import InputError, shorten


@dataclass
class Row:
    """A candidate row: one entry's value at one width (or capacity)."""

    key: tuple[Any, ...]
    """What must be unique (bits; capacity) within its section."""
    value: float
    """What must agree when merging, and be monotone (energy; energy per bit)."""
    data: dict[str, Any]
    entry: str
    file: str
    field: str
    label: str
    """How the row is described in errors (``16 bits, 0.105 pJ``)."""


@dataclass
class Collected:
    """What the ERT's entries give, before merging: rows by section, the MACs to import once
    every adder is known, and the nodes of the on-chip entries and of the DRAM."""

    ops: dict[str, list[Row]] = field(default_factory=dict)
    sram: list[Row] = field(default_factory=list)
    dram: list[Row] = field(default_factory=list)
    macs: list[tuple[Entry, Component, Kind]] = field(default_factory=list)
    tech: list[tuple[float, Component]] = field(default_factory=list)
    dram_tech: list[tuple[float, Component]] = field(default_factory=list)

    def op(self, name: str, row: Row) -> None:
        self.ops.setdefault(name, []).append(row)


def merged(rows: list[Row], section: str, key: str, value: str) -> list[Row]:
    """Rows with distinct keys (agreeing duplicates merged into the first, its source naming
    them all), sorted by key, with ``value`` not falling as the ``key`` grows."""
    by_key: dict[tuple[Any, ...], Row] = {}
    for row in rows:
        first = by_key.get(row.key)
        if first is None:
            by_key[row.key] = row
            continue
        if not math.isclose(first.value, row.value, rel_tol=1e-9, abs_tol=0.0):
            at = f" at one {key}" if key else ""
            raise InputError(
                f"entries '{shorten(first.entry)}' ({first.label}) and '{shorten(row.entry)}' "
                f"({row.label}) both give {section}{at}, with a different {value}; a table holds "
                f"one: leave one out (--skip NAME)",
                file=row.file,
                field=row.field,
            )
        first.data["source"] = f"{first.data['source']}; the same value from entry {row.entry}"
    ordered = [by_key[k] for k in sorted(by_key)]
    for lo, hi in itertools.pairwise(ordered):
        if hi.value < lo.value:
            raise InputError(
                f"{section}: entry '{shorten(hi.entry)}' ({hi.label}) has a lower {value} than "
                f"entry '{shorten(lo.entry)}' ({lo.label}) although its {key} is larger; "
                f"spikesim's rows must not fall as the {key} grows: leave one out (--skip NAME)",
                file=hi.file,
                field=hi.field,
            )
    return ordered
