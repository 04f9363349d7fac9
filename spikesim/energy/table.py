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

import itertools
import math
from collections.abc import Sequence
from dataclasses import dataclass, replace
from enum import StrEnum
from importlib import resources
from pathlib import Path
from typing import TYPE_CHECKING

from pydantic import Field, PrivateAttr, field_validator, model_validator

from spikesim.config._base import FrozenModel
from spikesim.config.loader import read_yaml_mapping, validate_mapping
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


class SRAMExtrapolation(StrEnum):
    """What an SRAM capacity outside the table's reference points costs."""

    CLAMP = "clamp"
    LOGLOG = "loglog"


class CapacityBasis(StrEnum):
    """Which capacity the SRAM lookup uses: the whole SRAM, or one of its banks."""

    TOTAL = "total"
    BANK = "bank"


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
    """SRAM access energy as a function of capacity and access width."""

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


class EnergyTable(FrozenModel):
    """A technology's per-action energies, each with its citation and scaling rule."""

    name: str = Field(min_length=1)
    """Short name printed in provenance strings."""

    description: str = ""
    technology_nm: float = Field(gt=0)
    """Technology node of the numbers (nm)."""

    operations: dict[str, Operation]
    """Logic operations by name (``int_add``, ``int_mult``, ``fp_add``, ``fp_mult``, ...)."""

    sram: SRAMModel
    dram: DRAMModel
    leakage: LeakageModel
    area: AreaModel | None = None
    """Silicon area of parts (optional; needed for ``area_mm2`` in sweeps)."""

    _origin: str | None = PrivateAttr(default=None)

    @model_validator(mode="after")
    def _names(self) -> EnergyTable:
        for op in self.operations:
            if not op:
                raise ValueError("empty operation name")
        return self

    @property
    def origin(self) -> str | None:
        """The file the table was loaded from (None if built in memory)."""
        return self._origin

    # ----------------------------------------------------------------- lookups

    def operation_energy(self, op: str, bits: int) -> PricedAction:
        """Energy of one ``op`` at ``bits`` operand width, by the operation's scaling rule."""
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

    def sram_access_energy(self, capacity_bytes: int, bits: int) -> PricedAction:
        """Energy of one access of ``bits`` to an SRAM of ``capacity_bytes`` (log-log rule)."""
        if capacity_bytes <= 0:
            raise ValueError(f"SRAM capacity must be > 0 bytes, got {capacity_bytes}")
        _check_bits(bits)
        points = self.sram.points
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
        if outside and (len(points) == 1 or self.sram.extrapolation is SRAMExtrapolation.CLAMP):
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

    def sram_bank_energy(self, name: str, bank: SRAMBankConfig, bits: int) -> PricedAction:
        """Energy of one ``bits``-wide access to the configured SRAM ``name``."""
        if self.sram.capacity_basis is CapacityBasis.BANK:
            capacity = max(1, bank.capacity_bytes // bank.banks)
            basis = f"sram.{name}, one bank of {capacity} B (capacity_basis bank)"
        else:
            capacity = bank.capacity_bytes
            basis = f"sram.{name}, {capacity} B total (capacity_basis total)"
        priced = self.sram_access_energy(capacity, bits)
        width_note = "" if bits == bank.word_bits else f"; bank word_bits={bank.word_bits}"
        head = f"{self.name} sram: "
        detail = priced.source.removeprefix(head)
        per_bank = (
            f"capacity_basis bank: one of {bank.banks} banks, {capacity} B"
            if self.sram.capacity_basis is CapacityBasis.BANK and bank.banks > 1
            else ""
        )
        return replace(
            priced,
            source=f"{head}{basis}{width_note}; {detail}",
            scaling=_steps(per_bank, priced.scaling),
        )

    def dram_energy(self, bits: int) -> PricedAction:
        """Energy of moving ``bits`` to or from DRAM (linear in bits)."""
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
        if self.area is None:
            raise InputError(
                f"energy table '{self.name}' has no area section", file=self._origin, field="area"
            )
        return self.area

    def logic_area(self, component: str, bits: int, bits_b: int | None = None) -> PricedArea:
        """Area of one ``component`` of width ``bits`` (``bits × bits_b`` for a multiplier)."""
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

    def sram_area(self, capacity_bytes: int) -> PricedArea:
        """Macro area of an SRAM of ``capacity_bytes`` (µm²): bits × one bit's macro area."""
        if capacity_bytes <= 0:
            raise ValueError(f"SRAM capacity must be > 0 bytes, got {capacity_bytes}")
        cell = self._area_model().sram
        per_bit = cell.bit_area_um2
        area = capacity_bytes * 8 * per_bit
        return PricedArea(
            area,
            f"{self.name} area sram: {capacity_bytes} B × 8 bits × {_fmt(cell.cell_area_f2)} F² "
            f"at F={_fmt(cell.feature_nm)} nm / efficiency {_fmt(cell.array_efficiency)} "
            f"(= {_fmt(per_bit)} µm²/bit) = {_fmt(area)} µm² [{cell.source}]",
        )

    def leakage_power_w(self, hw: HardwareConfig) -> dict[str, float]:
        """Static power per component (W): every ``sram.<name>`` plus the listed components."""
        powers: dict[str, float] = {}
        for name, bank in hw.sram.items():
            powers[f"sram.{name}"] = self.leakage.sram_w_per_byte * bank.capacity_bytes
        for component, watts in self.leakage.components.items():
            if component.startswith("sram.") and component not in powers:
                raise InputError(
                    f"leakage names '{component}' but the hardware has no SRAM "
                    f"'{component.removeprefix('sram.')}' (has: {', '.join(sorted(hw.sram))})",
                    file=self._origin,
                    field=f"leakage.components.{component}",
                )
            powers[component] = watts
        return powers


def _check_bits(bits: int) -> None:
    if int(bits) != bits or bits <= 0:
        raise ValueError(f"bit width must be a positive integer, got {bits!r}")


def builtin_tables() -> list[str]:
    """Names of the tables shipped with spikesim (``spikesim/energy/tables/*.yaml``)."""
    folder = resources.files(BUILTIN_PACKAGE) / BUILTIN_DIR
    return sorted(
        entry.name.removesuffix(".yaml")
        for entry in folder.iterdir()
        if entry.name.endswith(".yaml")
    )


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
    builtins = builtin_tables()
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
    data = read_yaml_mapping(path)
    table = validate_mapping(EnergyTable, data, file=path)
    table._origin = str(path)
    return table
