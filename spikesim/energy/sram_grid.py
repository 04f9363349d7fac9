"""SRAM priced from a grid of array runs (CACTI 7): width- and capacity-aware, read and write
apart, with leakage and area.

A grid table (``sram: {model: grid, ...}``) holds one row per (capacity, word width) array that a
memory compiler or model was run for. Each row gives the dynamic energy of one read and of one
write of a whole word (pJ), the array's standby leakage power (mW), its area (µm²), and where the
row came from (tool, version, configuration, command).

Lookup of a quantity *v* (read or write energy, leakage, area) for an array of capacity *C* bytes
accessed ``bits`` at a time:

1. **Capacity, at one grid width w.** Among the rows of width w (sorted by capacity), an exact
   capacity is used as is; between two rows the value is interpolated log-log,
   log v = log v0 + (log v1 − log v0)(log C − log C0)/(log C1 − log C0). Outside the rows of
   that width, ``extrapolation`` decides: ``clamp`` holds the end row's value, ``loglog`` extends
   the end segment's slope.
2. **Width.** A width on the grid uses step 1 at that width. Between two grid widths w0 < bits <
   w1 the two step-1 values are interpolated log-log in width (measured energies are strongly
   sub-linear in width: a 256-bit read of a 64 KB array costs 1.5× a 64-bit one, not 4×).
   Outside the grid's widths, energies are scaled linearly in bits from the nearest grid width
   (an upper bound for wider words: the bits moved at most grow linearly), while leakage and
   area are held at the nearest width (the bit cells depend on the capacity, not on the word).

Every step taken is printed in the provenance. ``capacity_basis: bank`` (the usual choice for a
grid of single-bank arrays): an SRAM of C bytes in B banks is B arrays of C/B bytes; an access
activates one of them, leakage and area are B times one array's.
"""

from __future__ import annotations

import itertools
import math
from collections.abc import Sequence
from dataclasses import dataclass
from enum import StrEnum
from typing import Literal

from pydantic import Field, field_validator

from spikesim.config._base import FrozenModel
from spikesim.schema import CITATION_SEPARATOR


class SRAMExtrapolation(StrEnum):
    """What an SRAM capacity outside the table's reference points costs."""

    CLAMP = "clamp"
    LOGLOG = "loglog"


class CapacityBasis(StrEnum):
    """Which capacity the SRAM lookup uses: the whole SRAM, or one of its banks."""

    TOTAL = "total"
    BANK = "bank"


class GridQuantity(StrEnum):
    """A quantity a grid row gives (its field name) and how it scales outside the grid widths."""

    READ = "read_pj"
    WRITE = "write_pj"
    LEAKAGE = "leakage_mw"
    AREA = "area_um2"

    @property
    def per_access(self) -> bool:
        """True for the dynamic energies (scaled in bits outside the grid widths)."""
        return self in (GridQuantity.READ, GridQuantity.WRITE)

    @property
    def unit(self) -> str:
        return {"read_pj": "pJ", "write_pj": "pJ", "leakage_mw": "mW", "area_um2": "µm²"}[self]


class SRAMGridRow(FrozenModel):
    """One array run: an SRAM of ``capacity_bytes`` with ``word_bits`` words."""

    capacity_bytes: int = Field(gt=0)
    word_bits: int = Field(gt=0, le=4096)
    read_pj: float = Field(gt=0, allow_inf_nan=False)
    """Dynamic energy of one read of one word (pJ)."""
    write_pj: float = Field(gt=0, allow_inf_nan=False)
    """Dynamic energy of one write of one word (pJ)."""
    leakage_mw: float = Field(ge=0, allow_inf_nan=False)
    """Standby leakage power of the array (mW)."""
    area_um2: float = Field(gt=0, allow_inf_nan=False)
    """Area of the array (µm²)."""
    access_ns: float | None = Field(None, gt=0, allow_inf_nan=False)
    """Random access time (ns), informative."""
    cycle_ns: float | None = Field(None, gt=0, allow_inf_nan=False)
    """Random cycle time (ns): the array cannot be clocked faster than 1 / cycle_ns."""
    source: str = Field(min_length=1)
    """Tool, version, configuration and command that produced the row."""


class SRAMGrid(FrozenModel):
    """SRAM energy, leakage and area from a grid of (capacity, word width) array runs."""

    model: Literal["grid"]
    """Marks the grid form of the ``sram`` section (the other form is reference points)."""

    capacity_basis: CapacityBasis = CapacityBasis.BANK
    """Look up one bank (C / banks; the rows are single-bank arrays) or the whole SRAM."""

    extrapolation: SRAMExtrapolation = SRAMExtrapolation.CLAMP
    """Outside a width's capacity range: hold the end row (clamp) or extend its slope."""

    source: str = Field(min_length=1)
    """The tool and version the rows come from (printed with every priced access)."""

    config: str = ""
    """The tool's configuration (template) the rows were run with."""

    command: str = ""
    """The command that regenerates the rows."""

    note: str = ""

    grid: tuple[SRAMGridRow, ...] = Field(min_length=1)
    """The rows; at most one per (capacity_bytes, word_bits)."""

    @field_validator("grid")
    @classmethod
    def _distinct(cls, grid: tuple[SRAMGridRow, ...]) -> tuple[SRAMGridRow, ...]:
        ordered = tuple(sorted(grid, key=lambda r: (r.word_bits, r.capacity_bytes)))
        for a, b in itertools.pairwise(ordered):
            if (a.word_bits, a.capacity_bytes) == (b.word_bits, b.capacity_bytes):
                raise ValueError(f"two rows for {a.capacity_bytes} B with {a.word_bits}-bit words")
        return ordered

    def widths(self) -> list[int]:
        """The word widths on the grid, ascending."""
        return sorted({r.word_bits for r in self.grid})

    def rows_of_width(self, word_bits: int) -> list[SRAMGridRow]:
        """The rows of one grid width, by ascending capacity."""
        return [r for r in self.grid if r.word_bits == word_bits]


@dataclass(frozen=True, slots=True)
class GridValue:
    """A looked-up quantity and how it was obtained."""

    value: float
    rows: tuple[SRAMGridRow, ...]
    """The grid rows the value was computed from."""
    how: str
    """The steps taken, one printable phrase."""
    scaling: str
    """The scaling rules applied (``; ``-separated), empty when a row is used as is."""

    @property
    def citation(self) -> str:
        return CITATION_SEPARATOR.join(dict.fromkeys(r.source for r in self.rows))


def _fmt(x: float) -> str:
    return f"{x:.6g}"


def _loglog(x: float, x0: float, x1: float, v0: float, v1: float) -> float:
    """Log-log interpolation (or extrapolation) of v at x from (x0, v0), (x1, v1)."""
    if v0 <= 0 or v1 <= 0:  # leakage may be 0: interpolate linearly then (no log of 0)
        return v0 + (v1 - v0) * (x - x0) / (x1 - x0)
    t = math.log(x / x0) / math.log(x1 / x0)
    return math.exp(math.log(v0) + (math.log(v1) - math.log(v0)) * t)


def _at_width(
    grid: SRAMGrid, qty: GridQuantity, word_bits: int, capacity: int
) -> GridValue:
    rows = grid.rows_of_width(word_bits)

    def val(r: SRAMGridRow) -> float:
        return float(getattr(r, qty.value))

    def label(r: SRAMGridRow) -> str:
        return f"{r.capacity_bytes} B × {r.word_bits}-bit row ({_fmt(val(r))} {qty.unit})"

    exact = next((r for r in rows if r.capacity_bytes == capacity), None)
    if exact is not None:
        return GridValue(val(exact), (exact,), label(exact), "")
    first, last = rows[0], rows[-1]
    span = f"{first.capacity_bytes}–{last.capacity_bytes} B"
    outside = capacity < first.capacity_bytes or capacity > last.capacity_bytes
    if outside and (len(rows) == 1 or grid.extrapolation is SRAMExtrapolation.CLAMP):
        end = first if capacity < first.capacity_bytes else last
        return GridValue(
            val(end),
            (end,),
            f"{capacity} B is outside the {word_bits}-bit rows' {span}, "
            f"clamped to the {label(end)}",
            f"clamp: {capacity} B outside the {word_bits}-bit rows' {span}",
        )
    if capacity < first.capacity_bytes:
        lo, hi, verb = rows[0], rows[1], "extrapolated"
    elif capacity > last.capacity_bytes:
        lo, hi, verb = rows[-2], rows[-1], "extrapolated"
    else:
        i = next(i for i, r in enumerate(rows) if r.capacity_bytes > capacity)
        lo, hi, verb = rows[i - 1], rows[i], "interpolated"
    value = _loglog(capacity, lo.capacity_bytes, hi.capacity_bytes, val(lo), val(hi))
    return GridValue(
        value,
        (lo, hi),
        f"{capacity} B {verb} log-log between the {label(lo)} and the {label(hi)} "
        f"= {_fmt(value)} {qty.unit}",
        f"log-log in capacity: {verb} to {capacity} B",
    )


def grid_lookup(grid: SRAMGrid, qty: GridQuantity, capacity: int, bits: int) -> GridValue:
    """``qty`` of an array of ``capacity`` bytes accessed ``bits`` at a time (module docstring)."""
    if capacity <= 0:
        raise ValueError(f"SRAM capacity must be > 0 bytes, got {capacity}")
    if int(bits) != bits or bits <= 0:
        raise ValueError(f"bit width must be a positive integer, got {bits!r}")
    widths = grid.widths()
    if bits in widths:
        return _at_width(grid, qty, bits, capacity)
    if bits < widths[0] or bits > widths[-1]:
        ref = widths[0] if bits < widths[0] else widths[-1]
        base = _at_width(grid, qty, ref, capacity)
        span = f"{widths[0]}–{widths[-1]}-bit"
        if not qty.per_access:
            return GridValue(
                base.value,
                base.rows,
                f"{base.how}; {bits} bits is outside the grid's {span} words, held at {ref} bits",
                "; ".join(s for s in (base.scaling, f"held at the {ref}-bit words") if s),
            )
        value = base.value * bits / ref
        return GridValue(
            value,
            base.rows,
            f"{base.how}; scaled linearly in bits to {bits} bits (outside the grid's {span} "
            f"words) = {_fmt(value)} {qty.unit}",
            "; ".join(s for s in (base.scaling, f"linear in bits: × {bits}/{ref}") if s),
        )
    w1 = next(w for w in widths if w > bits)
    w0 = widths[widths.index(w1) - 1]
    lo, hi = _at_width(grid, qty, w0, capacity), _at_width(grid, qty, w1, capacity)
    value = _loglog(bits, w0, w1, lo.value, hi.value)
    return GridValue(
        value,
        lo.rows + hi.rows,
        f"{bits}-bit words interpolated log-log between [{lo.how}] at {w0} bits and [{hi.how}] "
        f"at {w1} bits = {_fmt(value)} {qty.unit}",
        "; ".join(
            s for s in (lo.scaling, hi.scaling, f"log-log in width: {w0}–{w1} to {bits} bits") if s
        ),
    )


def grid_bank(grid: SRAMGrid, capacity_bytes: int, banks: int) -> tuple[int, int, str]:
    """(capacity looked up, number of arrays it stands for, basis text) for an SRAM."""
    if grid.capacity_basis is CapacityBasis.BANK:
        per_bank = max(1, capacity_bytes // banks)
        return per_bank, banks, f"{banks} bank(s) of {per_bank} B (capacity_basis bank)"
    return capacity_bytes, 1, f"{capacity_bytes} B total (capacity_basis total)"


def rows_text(rows: Sequence[SRAMGridRow]) -> str:
    """The grid rows used, for the ``energy_entry`` column."""
    seen = dict.fromkeys((r.capacity_bytes, r.word_bits) for r in rows)
    return "sram grid " + " and ".join(f"{c} B × {w}-bit row" for c, w in seen)
