"""Per-action energy tables: validated YAML, lookup rules, provenance for every number.

A table prices three kinds of thing, each with its own section:

``operations``
    Logic operations (``int_add``, ``int_mult``, ``fp_add``, ``fp_mult``, ...), each with one or
    more *reference rows* ``{bits, energy_pj, source, note}`` and one ``scaling`` rule that says
    how the energy at another width ``b`` is obtained:

    * ``linear`` — energy is linear in bits. Between two reference widths b0 < b < b1 it is
      interpolated linearly, E = E0 + (E1 - E0)(b - b0)/(b1 - b0); outside the rows it is
      proportional to bits from the nearest row, E = E_ref · b / b_ref.
    * ``quadratic`` — the same in bits²: E = E0 + (E1 - E0)(b² - b0²)/(b1² - b0²) between rows,
      E = E_ref · (b / b_ref)² outside (array multipliers grow with the square of the width).
    * ``none`` — no width scaling: the row with the smallest reference width ≥ b is used as is
      (the widest row above all of them). Used for formats such as FP16/FP32 that are not widths
      of one circuit.

    At a reference width every rule returns the row's value exactly. Rows of one operation must
    have distinct widths and energies that do not decrease with width, so every rule is
    monotone (non-decreasing) in bits.

``sram``
    Reference points ``{capacity_bytes, energy_pj_per_access, access_bits, source}``. The energy of
    one access of a bank of capacity C is interpolated log-log in capacity between the two
    neighbouring points, log E = log E0 + (log E1 - log E0)(log C - log C0)/(log C1 - log C0),
    each point first scaled to the requested width (E · bits / access_bits: access energy is
    linear in the bits moved). Outside the points' range, ``extrapolation`` decides:
    ``clamp`` (default) holds the end point's energy (a 4 MiB bank costs what the largest point
    costs; the provenance says so), ``loglog`` extends the end segment's slope. ``capacity_basis``
    says which capacity is looked up: ``total`` (default; the SRAM's ``capacity_bytes``, as
    Horowitz's points describe whole caches) or ``bank`` (``capacity_bytes / banks``).

``dram``
    One energy per bit moved; an access of ``bits`` costs ``bits · energy_pj_per_bit``.

``area`` (optional)
    Silicon area of the hardware's parts, for design-space exploration (not an energy). Logic
    ``components`` (``int_add``, ``int_mult``, ``register``, ``comparator``, ``counter``) each have
    one reference ``{ref_bits, area_um2, source}`` and a width rule: ``linear`` (area = A · b /
    ref_bits) or ``product`` (a two-operand multiplier: area = A · a · b / ref_bits², each operand
    width linear). Every logic area is multiplied by ``node_scale`` (rows measured at another node,
    scaled to this table's node; stated as an assumption). SRAM area is capacity × 8 bits × one
    bit's macro area, ``cell_area_f2 · feature_nm² / array_efficiency``; it does not depend on the
    bank count, ports or word width (assumption, stated in the note). Composition of a whole
    design from these parts lives in :mod:`spikesim.dse.area`.

``leakage``
    Static power in watts: ``sram_w_per_byte`` (times each SRAM's capacity, component
    ``sram.<name>``) and ``components`` (watts per component name; an ``sram.<name>`` entry
    overrides the per-byte rule for that SRAM). Energy = power × cycles / clock_hz. The built-in
    tables set everything to 0 and say so: leakage is a real mechanism, but we do not invent a
    number for it.

The cross-table mapping from simulator actions to these entries lives in
:mod:`spikesim.energy.price`.
"""

from __future__ import annotations

import functools
import itertools
import math
from collections.abc import Sequence
from dataclasses import dataclass, replace
from enum import StrEnum
from importlib import resources
from pathlib import Path
from typing import TYPE_CHECKING, Annotated, Any, Literal, cast

from pydantic import Discriminator, Field, PrivateAttr, Tag, field_validator, model_validator

from spikesim.config._base import FrozenModel
from spikesim.config.loader import read_yaml_mapping, validate_mapping
from spikesim.energy.sram_grid import (
    CapacityBasis,
    GridQuantity,
    SRAMExtrapolation,
    SRAMGrid,
    grid_bank,
    grid_lookup,
    rows_text,
)
from spikesim.errors import InputError
from spikesim.schema import CITATION_SEPARATOR

if TYPE_CHECKING:
    from spikesim.config.hardware import HardwareConfig, SRAMBankConfig

BUILTIN_PACKAGE = "spikesim.energy"
BUILTIN_DIR = "tables"


class Scaling(StrEnum):
    """How an operation's energy depends on the operand width (see the module docstring)."""

    LINEAR = "linear"
    QUADRATIC = "quadratic"
    NONE = "none"


class OperationRow(FrozenModel):
    """One reference point of an operation: energy of one operation at ``bits`` operand width."""

    bits: int = Field(gt=0, le=4096)
    """Reference operand width of this row (bits)."""

    energy_pj: float = Field(ge=0, allow_inf_nan=False)
    """Energy of one operation at ``bits`` (pJ)."""

    source: str = Field(min_length=1)
    """Citation for the number."""

    note: str = ""
    """Assumptions, caveats, how the number was read off the source."""

    range_pj: tuple[float, float] | None = None
    """``[low, high]`` (pJ) when the source gives a range; ``energy_pj`` is the nominal value
    inside it. Reports price the run at both ends too (``energy_low_pj``, ``energy_high_pj``)."""

    @model_validator(mode="after")
    def _range_brackets(self) -> OperationRow:
        _check_range(self.range_pj, self.energy_pj, "energy_pj")
        return self


def _check_range(bounds: tuple[float, float] | None, nominal: float, name: str) -> None:
    if bounds is None:
        return
    low, high = bounds
    if not (math.isfinite(low) and math.isfinite(high)) or low < 0:
        raise ValueError("a range is two finite numbers >= 0")
    if not low <= nominal <= high:
        raise ValueError(f"range [{low}, {high}] does not contain {name} {nominal}")


class Operation(FrozenModel):
    """An operation: reference rows plus one bit-width scaling rule."""

    scaling: Scaling
    """How the energy at other widths follows from the rows (stated as an assumption)."""

    rows: tuple[OperationRow, ...] = Field(min_length=1)
    """Reference rows, at distinct widths; energies must not decrease with width."""

    note: str = ""
    """Why this scaling rule; any caveat a report should print."""

    @field_validator("rows")
    @classmethod
    def _sorted_monotone(cls, rows: tuple[OperationRow, ...]) -> tuple[OperationRow, ...]:
        ordered = tuple(sorted(rows, key=lambda r: r.bits))
        for lo, hi in itertools.pairwise(ordered):
            if lo.bits == hi.bits:
                raise ValueError(f"two rows at {lo.bits} bits")
            if hi.energy_pj < lo.energy_pj:
                raise ValueError(
                    f"energy decreases with width ({lo.bits} bits: {lo.energy_pj} pJ, "
                    f"{hi.bits} bits: {hi.energy_pj} pJ)"
                )
        return ordered


class SRAMPoint(FrozenModel):
    """One SRAM reference point: energy of one access of ``access_bits`` to ``capacity_bytes``."""

    capacity_bytes: int = Field(gt=0)
    """Capacity of the reference SRAM/cache (bytes)."""

    energy_pj_per_access: float = Field(gt=0, allow_inf_nan=False)
    """Energy of one access moving ``access_bits`` (pJ); > 0 for log-log interpolation."""

    access_bits: int = Field(gt=0, le=4096)
    """Bits moved by the reference access."""

    source: str = Field(min_length=1)
    """Citation for the number."""

    note: str = ""


class SRAMModel(FrozenModel):
    """SRAM access energy as a function of capacity and access width, from reference points
    (reads and writes cost the same; no leakage or area of its own)."""

    model: Literal["points"] = "points"
    """The reference-point form of the ``sram`` section (the default; the other is ``grid``)."""

    points: tuple[SRAMPoint, ...] = Field(min_length=1)
    """Reference points at distinct capacities; per-bit energy must not decrease with capacity."""

    extrapolation: SRAMExtrapolation = SRAMExtrapolation.CLAMP
    """Outside the points' capacity range: hold the end point (clamp) or extend its slope."""

    capacity_basis: CapacityBasis = CapacityBasis.TOTAL
    """Look up the SRAM's total capacity or the capacity of one bank."""

    note: str = ""

    @field_validator("points")
    @classmethod
    def _sorted_monotone(cls, points: tuple[SRAMPoint, ...]) -> tuple[SRAMPoint, ...]:
        ordered = tuple(sorted(points, key=lambda p: p.capacity_bytes))
        for lo, hi in itertools.pairwise(ordered):
            if lo.capacity_bytes == hi.capacity_bytes:
                raise ValueError(f"two points at {lo.capacity_bytes} bytes")
            lo_bit = lo.energy_pj_per_access / lo.access_bits
            hi_bit = hi.energy_pj_per_access / hi.access_bits
            if hi_bit < lo_bit:
                raise ValueError(
                    f"energy per bit decreases with capacity ({lo.capacity_bytes} B: "
                    f"{lo_bit} pJ/bit, {hi.capacity_bytes} B: {hi_bit} pJ/bit)"
                )
        return ordered


class DRAMModel(FrozenModel):
    """Off-chip access energy per bit moved."""

    energy_pj_per_bit: float = Field(ge=0, allow_inf_nan=False)
    """Energy per bit transferred (pJ/bit), interface and array together."""

    source: str = Field(min_length=1)
    note: str = ""

    range_pj_per_bit: tuple[float, float] | None = None
    """``[low, high]`` (pJ/bit) when the source gives a range (Horowitz: 1.3–2.6 nJ per 64-bit
    access); ``energy_pj_per_bit`` is the nominal value inside it."""

    @model_validator(mode="after")
    def _range_brackets(self) -> DRAMModel:
        _check_range(self.range_pj_per_bit, self.energy_pj_per_bit, "energy_pj_per_bit")
        return self


class LeakageModel(FrozenModel):
    """Static power, charged per cycle of simulated time (watts)."""

    sram_w_per_byte: float = Field(0.0, ge=0, allow_inf_nan=False)
    """Leakage power per byte of SRAM capacity (W/byte), applied to every ``sram.<name>``."""

    components: dict[str, float] = Field(default_factory=dict)
    """Leakage power per component name (W); ``sram.<name>`` overrides the per-byte rule."""

    source: str = Field(min_length=1)
    """Where the numbers come from (or why they are zero)."""

    note: str = ""

    @field_validator("components")
    @classmethod
    def _non_negative(cls, components: dict[str, float]) -> dict[str, float]:
        for name, watts in components.items():
            if not name:
                raise ValueError("empty component name")
            if not math.isfinite(watts) or watts < 0:
                raise ValueError(f"leakage of '{name}' must be a finite number >= 0 W")
        return components


class AreaScaling(StrEnum):
    """How a logic component's area depends on its width (see the module docstring)."""

    LINEAR = "linear"
    PRODUCT = "product"


class AreaComponent(FrozenModel):
    """Area of one logic component at a reference width, with its width rule and citation."""

    ref_bits: int = Field(gt=0, le=4096)
    """Reference width of ``area_um2`` (bits; both operands for ``product``)."""

    area_um2: float = Field(gt=0, allow_inf_nan=False)
    """Area at ``ref_bits`` at the source's node (µm², before ``node_scale``)."""

    scaling: AreaScaling
    """``linear`` in the width, or ``product`` of the two operand widths (multipliers)."""

    source: str = Field(min_length=1)
    """Citation for the number."""

    note: str = ""


class SRAMArea(FrozenModel):
    """SRAM macro area per bit: bit-cell area in F² at ``feature_nm``, over the array efficiency."""

    cell_area_f2: float = Field(gt=0, allow_inf_nan=False)
    """6T bit-cell area in units of F² (F = ``feature_nm``)."""

    feature_nm: float = Field(gt=0, allow_inf_nan=False)
    """Feature size F (nm)."""

    array_efficiency: float = Field(gt=0, le=1, allow_inf_nan=False)
    """Fraction of the macro area that is bit cells (the rest: decoders, sense amplifiers, I/O)."""

    source: str = Field(min_length=1)
    note: str = ""

    @property
    def bit_area_um2(self) -> float:
        """Macro area of one bit (µm²)."""
        return self.cell_area_f2 * (self.feature_nm * 1e-3) ** 2 / self.array_efficiency


class AreaModel(FrozenModel):
    """Silicon area of logic components and SRAM (the ``area:`` section of a table)."""

    node_scale: float = Field(1.0, gt=0, allow_inf_nan=False)
    """Factor applied to every logic component's area (rows from another technology node)."""

    node_scale_note: str = ""
    """Why ``node_scale`` has its value (an assumption printed with every logic area)."""

    components: dict[str, AreaComponent]
    """Logic components by name (``int_add``, ``int_mult``, ``register``, ``comparator``, ...)."""

    sram: SRAMArea


@dataclass(frozen=True, slots=True)
class PricedArea:
    """The area of one instance of a part and where it came from."""

    area_um2: float
    """Area of one instance (µm²)."""

    source: str
    """Table, entry, width rule applied and citation, printable as is."""


@dataclass(frozen=True, slots=True)
class PricedAction:
    """The energy of one action and where it came from.

    ``source`` is one printable sentence; ``table``, ``entry``, ``scaling`` and ``citation`` say
    the same as separate fields (the ``energy_*`` provenance columns of ``actions.csv``, see
    :data:`spikesim.schema.PROVENANCE_COLUMNS`).
    """

    energy_pj: float
    """Energy of one action (pJ)."""

    source: str
    """Table, entry, scaling rule applied and citation, printable as is."""

    table: str
    """Name of the energy table."""

    entry: str
    """The table entry or entries used, with their reference values."""

    scaling: str
    """The scaling rule(s) applied to the entry, ``; ``-separated; empty when used as is."""

    citation: str
    """The citation(s) of the entry, joined by :data:`~spikesim.schema.CITATION_SEPARATOR`."""

    def provenance(self) -> tuple[str, str, str, str]:
        """``(table, entry, scaling, citation)``, in the order of ``PROVENANCE_COLUMNS``."""
        return self.table, self.entry, self.scaling, self.citation


def _fmt(x: float) -> str:
    return f"{x:.6g}"


def _sources(*texts: str) -> str:
    return CITATION_SEPARATOR.join(dict.fromkeys(texts))


def _steps(*steps: str) -> str:
    """Scaling steps applied one after another, the empty ones left out."""
    return "; ".join(s for s in steps if s)


def _sram_form(value: Any) -> str:
    """The tag of an ``sram`` section: ``grid`` when it says ``model: grid``, else ``points``."""
    model = value.get("model") if isinstance(value, dict) else getattr(value, "model", None)
    return "[grid]" if model == "grid" else "[points]"


SRAMSection = Annotated[
    Annotated[SRAMModel, Tag("[points]")] | Annotated[SRAMGrid, Tag("[grid]")],
    Discriminator(_sram_form),
]
"""The ``sram`` section: reference points (:class:`SRAMModel`) or an array grid
(:class:`~spikesim.energy.sram_grid.SRAMGrid`). The bracketed tags never reach an error's field
path (:func:`spikesim.config.loader.field_path` drops them)."""

PARTS = ("operations", "sram", "dram")
"""The parts of an energy model a hardware file may take from different tables
(``energy: {operations: …, sram: …, dram: …}``). Leakage and area follow their part: SRAM
leakage and area come with the ``sram`` part's table, logic leakage and area with the
``operations`` part's."""


class EnergyTable(FrozenModel):
    """A technology's per-action energies, each with its citation and scaling rule.

    A table file may hold only some sections (a CACTI table has only ``sram``); a table used to
    price a run has them all, possibly from several files (:meth:`compose`).
    """

    name: str = Field(min_length=1)
    """Short name printed in provenance strings."""

    description: str = ""
    technology_nm: float = Field(gt=0)
    """Technology node of the numbers (nm)."""

    operations: dict[str, Operation] | None = None
    """Logic operations by name (``int_add``, ``int_mult``, ``fp_add``, ``fp_mult``, ...)."""

    sram: SRAMSection | None = None
    dram: DRAMModel | None = None
    leakage: LeakageModel | None = None
    """Static power; absent: 0 W (a grid ``sram`` section carries its own SRAM leakage)."""
    area: AreaModel | None = None
    """Silicon area of parts (optional; needed for ``area_mm2`` in sweeps)."""

    _origin: str | None = PrivateAttr(default=None)
    _parts: dict[str, EnergyTable] | None = PrivateAttr(default=None)
    _memo_dict: dict[Any, Any] | None = PrivateAttr(default=None)
    _memo_owner: int = PrivateAttr(default=0)

    @model_validator(mode="after")
    def _names(self) -> EnergyTable:
        for op in self.operations or {}:
            if not op:
                raise ValueError("empty operation name")
        if self.operations is None and self.sram is None and self.dram is None:
            raise ValueError("a table needs at least one of operations, sram, dram")
        return self

    def memo(self) -> dict[Any, Any]:
        """This table's own memory of what was priced with it (the table is frozen, so a price
        looked up once holds for as long as the table lives; :mod:`spikesim.energy.price` keys
        it). A copy of the table (``model_copy``) starts with an empty one."""
        if self._memo_dict is None or self._memo_owner != id(self):
            self._memo_dict, self._memo_owner = {}, id(self)
        return self._memo_dict

    @property
    def origin(self) -> str | None:
        """The file the table was loaded from (None if built in memory or composed)."""
        return self._origin

    # ------------------------------------------------------------- composition

    @classmethod
    def compose(cls, parts: dict[str, EnergyTable]) -> EnergyTable:
        """One table pricing every part, each part's sections taken from ``parts[part]``.

        ``parts`` maps each of :data:`PARTS` to a table that has that section (the caller checks,
        see :func:`spikesim.energy.model.energy_model`). Provenance names each part's own table.
        """
        ops, sram, dram = (parts[p] for p in PARTS)
        names = list(dict.fromkeys(t.name for t in (ops, sram, dram)))
        composed = cls.model_construct(
            name=names[0] if len(names) == 1 else " + ".join(names),
            description="; ".join(dict.fromkeys(t.description for t in (ops, sram, dram))),
            technology_nm=ops.technology_nm,
            operations=ops.operations,
            sram=sram.sram,
            dram=dram.dram,
            leakage=ops.leakage,
            area=ops.area,
        )
        composed._parts = {"operations": ops, "sram": sram, "dram": dram}
        composed._origin = ops._origin if len(names) == 1 else None
        return composed

    def part(self, name: str) -> EnergyTable:
        """The table that provides part ``name`` (``operations``, ``sram``, ``dram``)."""
        return self if self._parts is None else self._parts[name]

    def _missing(self, section: str) -> InputError:
        return InputError(
            f"energy table '{self.name}' has no {section} section", file=self._origin, field=section
        )

    def bound(self, side: Literal["low", "high"]) -> EnergyTable:
        """This table with every ranged value (``range_pj``, ``range_pj_per_bit``) at its
        ``side`` end; values without a range stay as they are (made once per table and side)."""
        memo = self.memo()
        made = memo.get(("bound", side))
        if made is None:
            made = memo[("bound", side)] = self._bound(side)
        return cast(EnergyTable, made)

    def _bound(self, side: Literal["low", "high"]) -> EnergyTable:
        pick = 0 if side == "low" else 1

        def ops(table: EnergyTable) -> dict[str, Operation] | None:
            if table.operations is None:
                return None
            return {
                name: op.model_copy(
                    update={
                        "rows": tuple(
                            r if r.range_pj is None
                            else r.model_copy(update={"energy_pj": r.range_pj[pick]})
                            for r in op.rows
                        )
                    }
                )
                for name, op in table.operations.items()
            }

        def dram(table: EnergyTable) -> DRAMModel | None:
            d = table.dram
            if d is None or d.range_pj_per_bit is None:
                return d
            return d.model_copy(update={"energy_pj_per_bit": d.range_pj_per_bit[pick]})

        def one(table: EnergyTable) -> EnergyTable:
            out = table.model_copy(update={"operations": ops(table), "dram": dram(table)})
            out._origin = table._origin
            return out

        if self._parts is None:
            return one(self)
        return EnergyTable.compose({p: one(t) for p, t in self._parts.items()})

    @property
    def has_ranges(self) -> bool:
        """True if some value this table prices with has a ``[low, high]`` range."""
        ops = self.part("operations").operations or {}
        dram = self.part("dram").dram
        return any(r.range_pj is not None for op in ops.values() for r in op.rows) or (
            dram is not None and dram.range_pj_per_bit is not None
        )

    # ----------------------------------------------------------------- lookups

    def operation_energy(self, op: str, bits: int) -> PricedAction:
        """Energy of one ``op`` at ``bits`` operand width, by the operation's scaling rule."""
        if self._parts is not None:
            return self._parts["operations"].operation_energy(op, bits)
        if self.operations is None:
            raise self._missing("operations")
        if op not in self.operations:
            raise InputError(
                f"energy table '{self.name}' has no operation '{op}'",
                file=self._origin,
                field=f"operations.{op}",
            )
        _check_bits(bits)
        entry = self.operations[op]
        rows = entry.rows
        rule = entry.scaling
        head = f"{self.name} {op}"

        def row_text(r: OperationRow) -> str:
            return f"{r.bits}-bit row ({_fmt(r.energy_pj)} pJ)"

        def priced(
            energy: float, how: str, used: Sequence[OperationRow], scaling: str
        ) -> PricedAction:
            citation = _sources(*(r.source for r in used))
            return PricedAction(
                energy,
                f"{head}: {how} [{citation}]",
                table=self.name,
                entry=f"{op} " + " and ".join(row_text(r) for r in used),
                scaling=scaling,
                citation=citation,
            )

        exact = next((r for r in rows if r.bits == bits), None)
        if exact is not None:
            return priced(exact.energy_pj, f"{row_text(exact)} as is", [exact], "")
        if rule is Scaling.NONE:
            above = [r for r in rows if r.bits > bits]
            row = above[0] if above else rows[-1]
            return priced(
                row.energy_pj,
                f"{row_text(row)} used for {bits} bits, no width scaling",
                [row],
                f"none: the {row.bits}-bit row used for {bits} bits",
            )
        power = 1 if rule is Scaling.LINEAR else 2
        word = "linearly" if rule is Scaling.LINEAR else "quadratically"
        if bits < rows[0].bits or bits > rows[-1].bits:
            row = rows[0] if bits < rows[0].bits else rows[-1]
            energy = row.energy_pj * (bits / row.bits) ** power
            return priced(
                energy,
                f"scaled {word} from the {row_text(row)} to {bits} bits "
                f"(× ({bits}/{row.bits})^{power}) = {_fmt(energy)} pJ",
                [row],
                f"{rule.value}: × ({bits}/{row.bits})^{power} to {bits} bits",
            )
        hi_index = next(i for i, r in enumerate(rows) if r.bits > bits)
        lo, hi = rows[hi_index - 1], rows[hi_index]
        frac = (bits**power - lo.bits**power) / (hi.bits**power - lo.bits**power)
        energy = lo.energy_pj + (hi.energy_pj - lo.energy_pj) * frac
        unit = "bits" if power == 1 else "bits²"
        return priced(
            energy,
            f"interpolated linearly in {unit} between the {row_text(lo)} and the {row_text(hi)} "
            f"to {bits} bits = {_fmt(energy)} pJ",
            [lo, hi],
            f"{rule.value}: interpolated in {unit} to {bits} bits",
        )

    def _sram_section(self) -> SRAMModel | SRAMGrid:
        if self.sram is None:
            raise self._missing("sram")
        return self.sram

    def sram_access_energy(
        self, capacity_bytes: int, bits: int, action: str = "read"
    ) -> PricedAction:
        """Energy of one ``action`` (``read`` or ``write``) of ``bits`` to one SRAM array of
        ``capacity_bytes`` (points: log-log rule, reads and writes alike; grid: the grid rule)."""
        if self._parts is not None:
            return self._parts["sram"].sram_access_energy(capacity_bytes, bits, action)
        if capacity_bytes <= 0:
            raise ValueError(f"SRAM capacity must be > 0 bytes, got {capacity_bytes}")
        _check_bits(bits)
        section = self._sram_section()
        if isinstance(section, SRAMGrid):
            qty = GridQuantity.WRITE if action == "write" else GridQuantity.READ
            found = grid_lookup(section, qty, capacity_bytes, bits)
            citation = found.citation
            return PricedAction(
                found.value,
                f"{self.name} sram: grid of {section.source}: {action} of {bits} bits: "
                f"{found.how} [{citation}]",
                table=self.name,
                entry=f"{rows_text(found.rows)} ({qty.value})",
                scaling=found.scaling,
                citation=citation,
            )
        points = section.points
        head = f"{self.name} sram"
        width = f"{bits}-bit access"

        def at_width(p: SRAMPoint) -> float:
            if bits == p.access_bits:
                return p.energy_pj_per_access
            return p.energy_pj_per_access * bits / p.access_bits

        def point_text(p: SRAMPoint) -> str:
            energy = _fmt(p.energy_pj_per_access)
            return f"{p.capacity_bytes} B point ({energy} pJ/{p.access_bits}-bit)"

        def priced(
            energy: float, how: str, used: Sequence[SRAMPoint], capacity_rule: str
        ) -> PricedAction:
            citation = _sources(*(p.source for p in used))
            widened = any(p.access_bits != bits for p in used)
            return PricedAction(
                energy,
                f"{head}: {how}, {width} (linear in bits) = {_fmt(energy)} pJ [{citation}]",
                table=self.name,
                entry="sram " + " and ".join(point_text(p) for p in used),
                scaling=_steps(capacity_rule, f"linear in bits: {width}" if widened else ""),
                citation=citation,
            )

        exact = next((p for p in points if p.capacity_bytes == capacity_bytes), None)
        if exact is not None:
            return priced(at_width(exact), point_text(exact), [exact], "")
        first, last = points[0], points[-1]
        outside = capacity_bytes < first.capacity_bytes or capacity_bytes > last.capacity_bytes
        if outside and (len(points) == 1 or section.extrapolation is SRAMExtrapolation.CLAMP):
            end = first if capacity_bytes < first.capacity_bytes else last
            span = f"{first.capacity_bytes}–{last.capacity_bytes} B"
            return priced(
                at_width(end),
                f"{capacity_bytes} B is outside the table's {span} range, clamped to the "
                f"{point_text(end)}",
                [end],
                f"clamp: {capacity_bytes} B is outside the {span} range",
            )
        if capacity_bytes < first.capacity_bytes:
            lo, hi = points[0], points[1]
            how = "extrapolated log-log from the segment"
        elif capacity_bytes > last.capacity_bytes:
            lo, hi = points[-2], points[-1]
            how = "extrapolated log-log from the segment"
        else:
            hi_index = next(i for i, p in enumerate(points) if p.capacity_bytes > capacity_bytes)
            lo, hi = points[hi_index - 1], points[hi_index]
            how = "interpolated log-log between"
        e_lo, e_hi = at_width(lo), at_width(hi)
        t = math.log(capacity_bytes / lo.capacity_bytes) / math.log(
            hi.capacity_bytes / lo.capacity_bytes
        )
        energy = math.exp(math.log(e_lo) + (math.log(e_hi) - math.log(e_lo)) * t)
        verb = how.split(" ", 1)[0]
        return priced(
            energy,
            f"{capacity_bytes} B {how} the {point_text(lo)} and the {point_text(hi)}",
            [lo, hi],
            f"log-log in capacity: {verb} to {capacity_bytes} B",
        )

    def sram_bank_energy(
        self, name: str, bank: SRAMBankConfig, bits: int, action: str = "read"
    ) -> PricedAction:
        """Energy of one ``bits``-wide ``action`` (read or write) of the SRAM ``name``."""
        if self._parts is not None:
            return self._parts["sram"].sram_bank_energy(name, bank, bits, action)
        section = self._sram_section()
        if section.capacity_basis is CapacityBasis.BANK:
            capacity = max(1, bank.capacity_bytes // bank.banks)
            basis = f"sram.{name}, one bank of {capacity} B (capacity_basis bank)"
        else:
            capacity = bank.capacity_bytes
            basis = f"sram.{name}, {capacity} B total (capacity_basis total)"
        priced = self.sram_access_energy(capacity, bits, action)
        width_note = "" if bits == bank.word_bits else f"; bank word_bits={bank.word_bits}"
        head = f"{self.name} sram: "
        detail = priced.source.removeprefix(head)
        per_bank = (
            f"capacity_basis bank: one of {bank.banks} banks, {capacity} B"
            if section.capacity_basis is CapacityBasis.BANK and bank.banks > 1
            else ""
        )
        return replace(
            priced,
            source=f"{head}{basis}{width_note}; {detail}",
            scaling=_steps(per_bank, priced.scaling),
        )

    def dram_energy(self, bits: int) -> PricedAction:
        """Energy of moving ``bits`` to or from DRAM (linear in bits)."""
        if self._parts is not None:
            return self._parts["dram"].dram_energy(bits)
        if self.dram is None:
            raise self._missing("dram")
        _check_bits(bits)
        per_bit = self.dram.energy_pj_per_bit
        energy = bits * per_bit
        return PricedAction(
            energy,
            f"{self.name} dram: {bits} bits × {_fmt(per_bit)} pJ/bit = {_fmt(energy)} pJ "
            f"[{self.dram.source}]",
            table=self.name,
            entry=f"dram ({_fmt(per_bit)} pJ/bit)",
            scaling=f"linear in bits: × {bits} bits",
            citation=self.dram.source,
        )

    def _area_model(self) -> AreaModel:
        if self._parts is not None:
            return self._parts["operations"]._area_model()
        if self.area is None:
            raise InputError(
                f"energy table '{self.name}' has no area section", file=self._origin, field="area"
            )
        return self.area

    def logic_area(self, component: str, bits: int, bits_b: int | None = None) -> PricedArea:
        """Area of one ``component`` of width ``bits`` (``bits × bits_b`` for a multiplier)."""
        if self._parts is not None:
            return self._parts["operations"].logic_area(component, bits, bits_b)
        model = self._area_model()
        if component not in model.components:
            raise InputError(
                f"energy table '{self.name}' has no area for '{component}'",
                file=self._origin,
                field=f"area.components.{component}",
            )
        _check_bits(bits)
        entry = model.components[component]
        ref = entry.ref_bits
        if entry.scaling is AreaScaling.PRODUCT:
            other = bits if bits_b is None else bits_b
            _check_bits(other)
            factor = bits * other / ref**2
            rule = f"× ({bits}·{other})/{ref}² (each operand width linear)"
        else:
            factor = bits / ref
            rule = f"× {bits}/{ref} (linear in width)"
        area = entry.area_um2 * factor * model.node_scale
        scale = "" if model.node_scale == 1 else f" × node_scale {_fmt(model.node_scale)}"
        return PricedArea(
            area,
            f"{self.name} area {component}: {ref}-bit row ({_fmt(entry.area_um2)} µm²) {rule}"
            f"{scale} = {_fmt(area)} µm² [{entry.source}]",
        )

    def sram_area(
        self, capacity_bytes: int, *, banks: int = 1, word_bits: int | None = None
    ) -> PricedArea:
        """Macro area of an SRAM of ``capacity_bytes`` in ``banks`` banks of ``word_bits`` words
        (µm²). Points tables: bits × one bit's macro area (banks and width do not matter);
        grid tables: the grid's area of one bank's array × banks."""
        if self._parts is not None:
            return self._parts["sram"].sram_area(capacity_bytes, banks=banks, word_bits=word_bits)
        if capacity_bytes <= 0:
            raise ValueError(f"SRAM capacity must be > 0 bytes, got {capacity_bytes}")
        if isinstance(self.sram, SRAMGrid):
            grid = self.sram
            width = word_bits if word_bits is not None else grid.widths()[0]
            capacity, arrays, basis = grid_bank(grid, capacity_bytes, banks)
            found = grid_lookup(grid, GridQuantity.AREA, capacity, width)
            area = found.value * arrays
            return PricedArea(
                area,
                f"{self.name} area sram grid: {basis}, {width}-bit words: {found.how} × {arrays} "
                f"= {_fmt(area)} µm² [{found.citation}]",
            )
        cell = self._area_model().sram
        per_bit = cell.bit_area_um2
        area = capacity_bytes * 8 * per_bit
        return PricedArea(
            area,
            f"{self.name} area sram: {capacity_bytes} B × 8 bits × {_fmt(cell.cell_area_f2)} F² "
            f"at F={_fmt(cell.feature_nm)} nm / efficiency {_fmt(cell.array_efficiency)} "
            f"(= {_fmt(per_bit)} µm²/bit) = {_fmt(area)} µm² [{cell.source}]",
        )

    def leakage_power(self, hw: HardwareConfig) -> dict[str, PricedLeakage]:
        """Static power per component, with its provenance: every ``sram.<name>`` (from the
        ``sram`` part: a grid's per-array leakage × arrays, or the ``sram`` part table's
        ``leakage.sram_w_per_byte`` × capacity) plus the ``operations`` part table's
        ``leakage.components`` (an ``sram.<name>`` entry there overrides the SRAM rule)."""
        sram_table = self.part("sram")
        logic_table = self.part("operations")
        powers: dict[str, PricedLeakage] = {}
        grid = sram_table.sram if isinstance(sram_table.sram, SRAMGrid) else None
        for name, bank in hw.sram.items():
            component = f"sram.{name}"
            if grid is not None:
                capacity, arrays, basis = grid_bank(grid, bank.capacity_bytes, bank.banks)
                found = grid_lookup(grid, GridQuantity.LEAKAGE, capacity, bank.word_bits)
                watts = found.value * 1e-3 * arrays
                powers[component] = PricedLeakage(
                    watts,
                    sram_table.name,
                    f"{rows_text(found.rows)} (leakage_mw) × {arrays} array(s) = {_fmt(watts)} W",
                    "; ".join(s for s in (basis, found.scaling) if s),
                    found.citation,
                )
                continue
            leak = sram_table.leakage
            per_byte = 0.0 if leak is None else leak.sram_w_per_byte
            watts = per_byte * bank.capacity_bytes
            powers[component] = PricedLeakage(
                watts,
                sram_table.name,
                f"leakage ({_fmt(watts)} W)",
                f"sram_w_per_byte {_fmt(per_byte)} W/B × {bank.capacity_bytes} B",
                _leak_source(leak),
            )
        leak = logic_table.leakage
        for component, watts in ({} if leak is None else leak.components).items():
            if component.startswith("sram.") and component not in powers:
                raise InputError(
                    f"leakage names '{component}' but the hardware has no SRAM "
                    f"'{component.removeprefix('sram.')}' (has: {', '.join(sorted(hw.sram))})",
                    file=logic_table._origin,
                    field=f"leakage.components.{component}",
                )
            powers[component] = PricedLeakage(
                watts, logic_table.name, f"leakage ({_fmt(watts)} W)", "", _leak_source(leak)
            )
        return powers

    def leakage_power_w(self, hw: HardwareConfig) -> dict[str, float]:
        """Static power per component (W): :meth:`leakage_power` without the provenance."""
        return {c: p.watts for c, p in self.leakage_power(hw).items()}


@dataclass(frozen=True, slots=True)
class PricedLeakage:
    """The static power of one component and where it came from."""

    watts: float
    table: str
    entry: str
    scaling: str
    citation: str


def _leak_source(leak: LeakageModel | None) -> str:
    if leak is None:
        return "no leakage section in the table: 0 W"
    return " ".join(leak.source.split())


def _check_bits(bits: int) -> None:
    if int(bits) != bits or bits <= 0:
        raise ValueError(f"bit width must be a positive integer, got {bits!r}")


def builtin_tables() -> list[str]:
    """Names of the tables shipped with spikesim (``spikesim/energy/tables/*.yaml``)."""
    return list(_builtin_names())


@functools.cache
def _builtin_names() -> tuple[str, ...]:
    """The shipped tables' names, listed once per process (the installed package's folder does
    not change under a running process; a priced run listed it twice, about 1 ms each on a
    loaded machine)."""
    folder = resources.files(BUILTIN_PACKAGE) / BUILTIN_DIR
    return tuple(sorted(
        entry.name.removesuffix(".yaml")
        for entry in folder.iterdir()
        if entry.name.endswith(".yaml")
    ))


def load_energy_table(name_or_path: str | Path, *, relative_to: Path | None = None) -> EnergyTable:
    """Load a built-in table by name (``horowitz-45nm``) or a YAML table by path.

    Parameters
    ----------
    name_or_path:
        A built-in name, or a path to a YAML file.
    relative_to:
        Directory a relative path is resolved against (typically the hardware YAML's folder;
        if a file is given, its parent folder is used). ``None``: the current directory.

    Raises
    ------
    InputError
        The file is missing or malformed, or a field is invalid (the error names the file and
        the dotted field path, e.g. ``operations.int_add.rows.0.energy_pj``).
    """
    text = str(name_or_path)
    builtins = _builtin_names()
    if isinstance(name_or_path, str) and text in builtins:
        resource = resources.files(BUILTIN_PACKAGE) / BUILTIN_DIR / f"{text}.yaml"
        with resources.as_file(resource) as path:
            return _load_file(path)
    path = Path(name_or_path)
    if not path.is_absolute() and relative_to is not None:
        base = Path(relative_to)
        if base.is_file():
            base = base.parent
        path = base / path
    looks_like_path = path.suffix in (".yaml", ".yml") or len(path.parts) > 1
    if not path.exists() and not looks_like_path:
        raise InputError(
            f"unknown energy table '{text}': not a built-in table "
            f"({', '.join(builtins)}) and no such file",
            field="energy.table",
        )
    return _load_file(path)


def _load_file(path: Path) -> EnergyTable:
    """The table in ``path``, parsed once per version of the file: remembered by path and
    (inode, size, modification time), so a sweep or a test that prices many runs does not
    re-read and re-validate the same YAML every time (tables are never modified once loaded;
    a changed file is a new key)."""
    try:
        st = path.stat()
    except OSError:
        return _parse_file(path)  # the error names the file
    return _parsed_file(str(path), st.st_ino, st.st_size, st.st_mtime_ns)


@functools.lru_cache(maxsize=64)
def _parsed_file(path: str, inode: int, size: int, mtime_ns: int) -> EnergyTable:
    return _parse_file(Path(path))


def _parse_file(path: Path) -> EnergyTable:
    data = read_yaml_mapping(path)
    table = validate_mapping(EnergyTable, data, file=path)
    table._origin = str(path)
    return table
