"""Import an Accelergy energy reference table (ERT), with its area reference table (ART), as a
spikesim energy table.

Timeloop/Accelergy users hold their technology numbers in the files Accelergy writes beside each
run (``accelergy`` or ``timeloop-mapper`` with a ``<prefix>`` such as ``timeloop-mapper.``):

``<prefix>ERT.yaml``
    ``ERT: {version, tables: [{name, actions: [{name, arguments, energy}]}]}`` (0.3, 0.4), or
    ``ERT: {tables: {name: {action: [{arguments, energy}]}}}`` (0.2). ``name`` is the
    component *instance* (``system.PE[0..255].mac``); ``energy`` is the energy of one action in
    pJ (Accelergy writes ``estimate × 1e12`` of joules). An action may be listed once per
    argument combination (0.3's ``address_delta``/``data_delta``).
``<prefix>ART.yaml``
    ``ART: {version, tables: [{name, area}]}``: area of the instance in µm² (``estimate ×
    1e12`` of m²; the library plug-in's tables are in um^2), multiplied by the instance's
    ``n_instances`` attribute.
``<prefix>flattened_architecture.yaml``
    ``architecture: {version, local: [{name, class, subclass?, attributes}]}`` (0.3, 0.4) or
    ``flattened_architecture: {version, components: {name: {class, attributes}}}`` (0.2). The
    ERT and ART do not say what a component *is*: its class (``subclass`` when present, as
    Accelergy reads it) and its attributes (``width``, ``depth``, ``datawidth``,
    ``technology``) live here only. :func:`default_arch_path` finds it beside the ERT.

Mapping (class names compared case-insensitively, ``_`` and ``-`` ignored; ``classes`` adds or
overrides entries of :data:`DEFAULT_CLASSES`); each kind, the ERT action used, and the entry:

``intadder`` (also ``aladdin_adder``, ``adder``)
    ``add`` (else ``read``, the library plug-in's "typical action") → an
    ``operations.int_add`` row at ``width`` (= ``datawidth``) bits.
``intmultiplier`` (also ``aladdin_multiplier``, ``multiplier``)
    ``multiply`` (else ``read``) → an ``operations.int_mult`` row at ``width`` bits (or at
    ``width_a`` = ``width_b``; unequal operands are refused).
``fpadder``, ``fpmultiplier``
    ``add``, ``multiply`` → ``operations.fp_add``, ``fp_mult`` rows at ``width``/``datawidth``.
``regfile`` (also ``register``, ``aladdin_register``)
    ``read``, ``write`` → ``operations.register_read``, ``register_write`` rows at ``width``
    (else ``datawidth``: Accelergy 0.3's regfile gives only that) bits.
``SRAM`` (also ``cacti_sram``)
    ``read`` (see ``access``) → one ``sram`` point: capacity ``depth × width / 8`` bytes, a
    ``width``-bit access.
``DRAM`` (also ``cacti_dram``)
    ``read`` (see ``access``) → ``dram.energy_pj_per_bit`` = energy / ``width``.
``intmac`` (also ``aladdin_intmac``), ``fpmac``
    ``mac_random`` (0.2/0.3), ``compute`` (0.4) → refused unless ``mac`` says how (below).
``dummy_storage``
    left out: Timeloop's placeholder level, no hardware.

Rules, each stated in the produced rows' notes:

* A width or capacity the architecture does not give is an error naming the entry; nothing is
  guessed. Two synonyms that disagree (``width: 8``, ``datawidth: 16`` on an adder) are an error.
* An action listed with several argument combinations is priced at its most expensive one (0.3
  SRAMs: ``address_delta: 1, data_delta: 1``, a random access); the note names it.
* spikesim's ``sram`` points and ``dram`` hold one energy per access for reads and writes alike;
  ``access`` chooses: ``read`` (default), ``write``, ``max`` or ``mean`` of the two; the note
  quotes both.
* A MAC's ``compute`` energy is one multiply plus one add, and the files do not say how it
  splits, while spikesim prices ``int_mult`` and ``int_add`` apart. ``mac="refuse"`` (default)
  refuses it; ``multiply`` takes the whole MAC as the multiply row (an upper bound: spikesim's
  accumulate adds are charged again through ``int_add``); ``split`` subtracts the energy of the
  ERT's own adder entry at the MAC's adder width (``adder_width``, else its one width) and keeps
  the rest as the multiply (assumption: the MAC's adder costs what the standalone adder costs).
  The same rule splits a MAC's area in the ART.
* Rows that land on the same entry at the same width (three 16-bit registers) are merged when
  they agree; different energies at one width, or energies that fall as the width (SRAM: the
  energy per bit as the capacity) grows, are errors naming both entries, since a table has one
  monotone row per width.
* ``technology_nm`` is the node shared by the on-chip entries (``45nm`` or ``45``); the DRAM,
  a separate chip, does not count. Disagreeing or absent nodes are an error unless
  ``technology_nm`` is given.
* ``leak``, ``idle`` and ``update`` actions are not imported (no leakage section is written).
* Area (ART, optional): per instance (ART area / ``n_instances``). Adders → ``area.components
  .int_add`` (linear), multipliers → ``int_mult`` (product), registers/regfiles → ``register``
  at ``width × depth`` bits (linear), MACs as above. spikesim's SRAM area is one macro area per
  bit: the largest SRAM of the ART gives it (area / bits, written as ``cell_area_f2`` at
  ``feature_nm`` = the node with ``array_efficiency`` 1: the ART area is the whole macro); the
  other SRAMs' per-bit areas are quoted in the note. An ART without an SRAM entry cannot give
  an area section (it needs one) and is refused. DRAM and floating-point areas (``fpadder``,
  ``fpmultiplier``, ``fpmac``) are left out (spikesim's area model has no such parts).

Everything not mapped is refused with the entry's name (``InputError`` naming the file and the
field path), unless it is left out on purpose (``skip``, or class kind ``skip``). Sections the
files do not provide are left out of the table: a hardware file takes the rest from other tables
(``energy: {operations: imported.yaml, sram: cacti7-45nm-hp, dram: horowitz-45nm}``).

Conversion (:func:`convert`) is pure: parsed mappings in, the table as a plain mapping out.
:func:`import_files` reads the files (:func:`spikesim.config.loader.read_yaml_mapping`, bounded);
:func:`table_yaml` renders the result. Writing the file is the caller's.
"""

from __future__ import annotations

import itertools
import math
import re
from collections.abc import Iterable, Mapping, Sequence
from dataclasses import dataclass, field
from enum import StrEnum
from pathlib import Path
from types import MappingProxyType
from typing import Any

import yaml
from pydantic import BaseModel

from spikesim.config.loader import read_yaml_mapping, validate_mapping
from spikesim.energy.table import AreaModel, DRAMModel, Operation, SRAMModel
from spikesim.errors import InputError, echo, shorten

__all__ = [
    "DEFAULT_CLASSES",
    "Access",
    "Document",
    "ImportOptions",
    "ImportResult",
    "Kind",
    "MacRule",
    "convert",
    "default_arch_path",
    "import_files",
    "normalise_class",
    "read_document",
    "table_yaml",
]


class Kind(StrEnum):
    """What an Accelergy class is, for spikesim (named after Accelergy's primitive classes)."""

    INTADDER = "intadder"
    INTMULTIPLIER = "intmultiplier"
    INTMAC = "intmac"
    FPADDER = "fpadder"
    FPMULTIPLIER = "fpmultiplier"
    FPMAC = "fpmac"
    SRAM = "sram"
    REGFILE = "regfile"
    DRAM = "dram"
    SKIP = "skip"
    """Left out on purpose (listed in the notes)."""


class MacRule(StrEnum):
    """How a MAC (``intmac``, ``fpmac``) is imported (see the module docstring)."""

    REFUSE = "refuse"
    MULTIPLY = "multiply"
    SPLIT = "split"


class Access(StrEnum):
    """Which energy an SRAM point or the DRAM takes from the ERT's ``read`` and ``write``."""

    READ = "read"
    WRITE = "write"
    MAX = "max"
    MEAN = "mean"


def normalise_class(name: str) -> str:
    """An Accelergy class name compared as Accelergy's plug-ins do: case, ``_``, ``-`` ignored."""
    return re.sub(r"[\s_\-]", "", name).lower()


_CLASSES: tuple[tuple[Kind, tuple[str, ...]], ...] = (
    (Kind.INTADDER, ("intadder", "aladdin_adder", "adder")),
    (Kind.INTMULTIPLIER, ("intmultiplier", "aladdin_multiplier", "multiplier")),
    (Kind.INTMAC, ("intmac", "aladdin_intmac")),
    (Kind.FPADDER, ("fpadder",)),
    (Kind.FPMULTIPLIER, ("fpmultiplier",)),
    (Kind.FPMAC, ("fpmac",)),
    (Kind.SRAM, ("SRAM", "cacti_sram")),
    (Kind.REGFILE, ("regfile", "register", "aladdin_register")),
    (Kind.DRAM, ("DRAM", "cacti_dram")),
    (Kind.SKIP, ("dummy_storage",)),
)
"""The Accelergy classes mapped by default, by kind: Accelergy's primitives (table-based
plug-ins, the 0.2-0.4 primitive library) and the library plug-in's / hwcomponents' names of the
same circuits."""
_CLASS_NAMES = tuple(name for _, names in _CLASSES for name in names)

DEFAULT_CLASSES: Mapping[str, Kind] = MappingProxyType(
    {normalise_class(name): kind for kind, names in _CLASSES for name in names}
)
"""Accelergy class (normalised, :func:`normalise_class`) → kind, before ``classes``."""

REGISTER_CLASSES = frozenset(normalise_class(n) for n in ("register", "aladdin_register"))
"""Classes that are one register (depth 1), not a register file (``depth`` entries)."""

NOT_IMPORTED_ACTIONS = frozenset({"leak", "idle", "update"})
"""Actions counted in the notes as not imported: leakage is not imported, spikesim counts no
idle cycles, and Timeloop's ``update`` (a read-modify-write) is counted by spikesim as the
reads and writes it is made of."""

_SKIP_WHY = {
    normalise_class("dummy_storage"): "Timeloop's placeholder level, no hardware",
}
"""Why a class of :data:`DEFAULT_CLASSES` is left out by default."""


# --------------------------------------------------------------------------------------------
# Inputs, options, result
# --------------------------------------------------------------------------------------------


@dataclass(frozen=True)
class Document:
    """A parsed input file and the name it is cited by (sources and errors)."""

    data: Mapping[str, Any]
    file: str


@dataclass(frozen=True)
class ImportOptions:
    """The choices a user makes explicitly (every default is documented in the module)."""

    name: str
    """``name`` of the produced table (printed in every provenance string)."""

    technology_nm: float | None = None
    """The table's node (nm); ``None``: the node the on-chip entries share."""

    classes: Mapping[str, Kind] = field(default_factory=dict)
    """Extra or overriding class → kind (keys normalised or not: they are normalised)."""

    skip: frozenset[str] = frozenset()
    """Entry (instance) names left out, exactly or without their ``[..]`` ranges."""

    mac: MacRule = MacRule.REFUSE
    """How a MAC is imported: refused, whole as the multiply, or minus the ERT's adder."""

    access: Access = Access.READ
    """Which ERT energy an SRAM point and the DRAM take (one energy per access in spikesim)."""


@dataclass(frozen=True)
class ImportResult:
    """The produced table (a plain mapping in the format of ``spikesim/energy/tables/``) and
    the notes on what was left out."""

    table: dict[str, Any]
    notes: tuple[str, ...]


# --------------------------------------------------------------------------------------------
# Small readers (every failure an InputError naming file and field)
# --------------------------------------------------------------------------------------------


def _fmt(x: float) -> str:
    return f"{x:.6g}"


_NUMBER = re.compile(r"^[+-]?(\d+(\.\d*)?|\.\d+)([eE][+-]?\d+)?$")


def _number(value: Any) -> float | None:
    """A finite number from a YAML value (numbers, or number text such as ``1e-05``, which
    YAML 1.1 reads as a string); ``None`` when it is not one."""
    if isinstance(value, bool):
        return None
    if isinstance(value, int | float):
        x = float(value)
    elif isinstance(value, str) and _NUMBER.match(value.strip()):
        x = float(value.strip())
    else:
        return None
    return x if math.isfinite(x) else None


def _mapping(value: Any, file: str, where: str, what: str) -> Mapping[str, Any]:
    if not isinstance(value, Mapping):
        raise InputError(f"expected {what} (a mapping), got {echo(value)}", file=file, field=where)
    return value


def _name(value: Any, file: str, where: str) -> str:
    if not isinstance(value, str) or not value.strip():
        raise InputError(f"expected a non-empty name, got {echo(value)}", file=file, field=where)
    return value


def base_name(name: str) -> str:
    """``name`` without its ``[a..b]`` ranges (Accelergy's ``remove_brackets``)."""
    return re.sub(r"\[[^\]]*\]", "", name)


# --------------------------------------------------------------------------------------------
# Parsing the three formats
# --------------------------------------------------------------------------------------------


@dataclass(frozen=True)
class _Action:
    name: str
    arguments: Mapping[str, Any] | None
    energy_pj: float
    field: str


@dataclass(frozen=True)
class _Entry:
    """One ERT table: an instance and its actions."""

    name: str
    field: str
    """Where the entry is in the file (``ERT.tables.3``)."""
    actions: tuple[_Action, ...]
    listed: bool = True
    """0.3/0.4 form (``{name, actions: [...]}``); False for 0.2's ``{name: {action: ...}}``."""

    @property
    def name_field(self) -> str:
        return f"{self.field}.name" if self.listed else self.field

    @property
    def actions_field(self) -> str:
        return f"{self.field}.actions" if self.listed else self.field


@dataclass(frozen=True)
class _Component:
    """One component of the flattened architecture."""

    name: str
    cls: str
    attributes: Mapping[str, Any]
    field: str


@dataclass(frozen=True)
class _AreaEntry:
    name: str
    area_um2: float
    field: str


def _parse_action(raw: Any, entry: str, file: str, where: str, name: str | None) -> _Action:
    item = _mapping(raw, file, where, f"an action of entry '{shorten(entry)}'")
    if name is None:
        name = _name(item.get("name"), file, f"{where}.name")
    args = item.get("arguments")
    if args is not None and not isinstance(args, Mapping):
        raise InputError(
            f"arguments of action '{shorten(name)}' of entry '{shorten(entry)}' must be a "
            f"mapping or null, got {echo(args)}",
            file=file,
            field=f"{where}.arguments",
        )
    if "energy" not in item:
        raise InputError(
            f"action '{shorten(name)}' of entry '{shorten(entry)}' gives no energy",
            file=file,
            field=f"{where}.energy",
        )
    energy = _number(item["energy"])
    if energy is None:
        raise InputError(
            f"energy of action '{shorten(name)}' of entry '{shorten(entry)}' is not a finite "
            f"number (pJ): {echo(item['energy'])}",
            file=file,
            field=f"{where}.energy",
        )
    if energy < 0:
        raise InputError(
            f"energy of action '{shorten(name)}' of entry '{shorten(entry)}' is negative "
            f"({_fmt(energy)} pJ)",
            file=file,
            field=f"{where}.energy",
        )
    return _Action(name, args, energy, f"{where}.energy")


def _parse_ert(doc: Document) -> tuple[list[_Entry], str]:
    file = doc.file
    root = doc.data.get("ERT")
    if root is None:
        raise InputError(
            "not an Accelergy energy reference table: no top-level 'ERT' key "
            f"(keys: {', '.join(shorten(str(k), 40) for k in list(doc.data)[:8])})",
            file=file,
            field="ERT",
        )
    root = _mapping(root, file, "ERT", "the ERT")
    version = str(root.get("version", "unversioned"))
    tables = root.get("tables")
    entries: list[_Entry] = []
    if isinstance(tables, list):  # 0.3, 0.4
        for i, raw in enumerate(tables):
            where = f"ERT.tables.{i}"
            item = _mapping(raw, file, where, "an ERT entry {name, actions}")
            name = _name(item.get("name"), file, f"{where}.name")
            actions = item.get("actions")
            if not isinstance(actions, list):
                raise InputError(
                    f"entry '{shorten(name)}' has no list of actions, got {echo(actions)}",
                    file=file,
                    field=f"{where}.actions",
                )
            parsed = tuple(
                _parse_action(a, name, file, f"{where}.actions.{j}", None)
                for j, a in enumerate(actions)
            )
            entries.append(_Entry(name, where, parsed))
    elif isinstance(tables, Mapping):  # 0.2: {name: {action: {..} | [{..}]}}
        for name, raw in tables.items():
            where = f"ERT.tables.{name}"
            name = _name(name, file, where)
            by_action = _mapping(raw, file, where, f"the actions of entry '{shorten(name)}'")
            acts: list[_Action] = []
            for action, combos in by_action.items():
                action = _name(action, file, f"{where}")
                items = combos if isinstance(combos, list) else [combos]
                acts.extend(
                    _parse_action(c, name, file, f"{where}.{action}.{j}", action)
                    for j, c in enumerate(items)
                )
            entries.append(_Entry(name, where, tuple(acts), listed=False))
    else:
        raise InputError(
            f"ERT.tables must be a list of entries (Accelergy 0.3/0.4) or a mapping (0.2), got "
            f"{echo(tables)}",
            file=file,
            field="ERT.tables",
        )
    seen: dict[str, _Entry] = {}
    for entry in entries:
        if entry.name in seen:
            raise InputError(
                f"entry '{shorten(entry.name)}' appears twice (also at {seen[entry.name].field})",
                file=file,
                field=entry.name_field,
            )
        seen[entry.name] = entry
    return entries, version


def _parse_arch(doc: Document) -> dict[str, _Component]:
    file = doc.file
    components: list[_Component] = []

    def component(raw: Any, where: str, name: Any) -> _Component:
        item = _mapping(raw, file, where, "an architecture component")
        name = _name(name if name is not None else item.get("name"), file, f"{where}.name")
        key = "subclass" if "subclass" in item else "class"
        cls = _name(item.get(key), file, f"{where}.{key}")
        attributes = item.get("attributes") or {}
        _mapping(attributes, file, f"{where}.attributes", f"the attributes of '{shorten(name)}'")
        return _Component(name, cls, attributes, where)

    if "architecture" in doc.data:  # 0.3, 0.4
        root = _mapping(doc.data["architecture"], file, "architecture", "the architecture")
        local = root.get("local")
        if not isinstance(local, list):
            raise InputError(
                "expected the flattened architecture's list of components under 'local' "
                f"(the flattened_architecture.yaml Accelergy writes), got {echo(local)}",
                file=file,
                field="architecture.local",
            )
        for i, raw in enumerate(local):
            components.append(component(raw, f"architecture.local.{i}", None))
    elif "flattened_architecture" in doc.data:  # 0.2
        root = _mapping(
            doc.data["flattened_architecture"], file, "flattened_architecture", "the architecture"
        )
        comps = _mapping(
            root.get("components"),
            file,
            "flattened_architecture.components",
            "the components by name",
        )
        for name, raw in comps.items():
            components.append(component(raw, f"flattened_architecture.components.{name}", name))
    else:
        raise InputError(
            "not a flattened Accelergy architecture: expected 'architecture: {local: [...]}' "
            "(Accelergy 0.3/0.4) or 'flattened_architecture: {components: {...}}' (0.2)",
            file=file,
            field="architecture",
        )
    by_name: dict[str, _Component] = {}
    for comp in components:
        if comp.name in by_name:
            raise InputError(
                f"component '{shorten(comp.name)}' appears twice", file=file, field=comp.field
            )
        by_name[comp.name] = comp
    return by_name


def _parse_art(doc: Document) -> list[_AreaEntry]:
    file = doc.file
    root = doc.data.get("ART")
    if root is None:
        raise InputError(
            "not an Accelergy area reference table: no top-level 'ART' key", file=file, field="ART"
        )
    root = _mapping(root, file, "ART", "the ART")
    tables = root.get("tables")
    if not isinstance(tables, list):
        raise InputError(
            f"ART.tables must be a list of {{name, area}} entries, got {echo(tables)}",
            file=file,
            field="ART.tables",
        )
    entries: list[_AreaEntry] = []
    seen: set[str] = set()
    for i, raw in enumerate(tables):
        where = f"ART.tables.{i}"
        item = _mapping(raw, file, where, "an ART entry {name, area}")
        name = _name(item.get("name"), file, f"{where}.name")
        if name in seen:
            raise InputError(f"entry '{shorten(name)}' appears twice", file=file, field=where)
        seen.add(name)
        if "area" not in item:
            raise InputError(
                f"entry '{shorten(name)}' gives no area", file=file, field=f"{where}.area"
            )
        area = _number(item["area"])
        if area is None or area < 0:
            raise InputError(
                f"area of entry '{shorten(name)}' must be a finite number >= 0 (µm²), got "
                f"{echo(item['area'])}",
                file=file,
                field=f"{where}.area",
            )
        entries.append(_AreaEntry(name, area, f"{where}.area"))
    return entries


# --------------------------------------------------------------------------------------------
# One component: class, widths, technology
# --------------------------------------------------------------------------------------------


@dataclass
class _Context:
    """What every step needs: the files, the architecture, the options and what was used."""

    ert_file: str
    arch_file: str
    components: dict[str, _Component]
    by_base: dict[str, list[_Component]]
    kinds: dict[str, Kind]
    options: ImportOptions
    used_skips: set[str] = field(default_factory=set)
    used_classes: set[str] = field(default_factory=set)
    notes: list[str] = field(default_factory=list)
    left_out: list[str] = field(default_factory=list)
    """Names of the entries left out (for the table's description)."""

    def leave(self, what: str, name: str, why: str) -> None:
        """Record that ``what`` (``ERT entry``, ``area of ART entry``) ``name`` is left out."""
        self.notes.append(f"{what} {name} left out: {why}")
        if name not in self.left_out:
            self.left_out.append(name)

    def skipped(self, name: str) -> bool:
        for s in self.options.skip:
            if name == s or base_name(name) == base_name(s):
                self.used_skips.add(s)
                return True
        return False

    def component(self, name: str, file: str, where: str) -> _Component:
        comp = self.components.get(name)
        if comp is not None:
            return comp
        same = self.by_base.get(base_name(name), [])
        if len(same) == 1:
            return same[0]
        why = "several" if same else "no"
        raise InputError(
            f"entry '{shorten(name)}': {why} component of that name in the architecture "
            f"{self.arch_file} (its class and widths are read there)",
            file=file,
            field=where,
        )

    def kind(self, comp: _Component) -> Kind:
        key = normalise_class(comp.cls)
        if key in self.kinds:
            self.used_classes.add(key)
            return self.kinds[key]
        known = ", ".join(_CLASS_NAMES)
        raise InputError(
            f"entry '{shorten(comp.name)}' has class '{shorten(comp.cls)}', which spikesim does "
            f"not map (it knows {known}); declare what it is (--class {shorten(comp.cls)}=KIND) "
            f"or leave it out (--skip {shorten(comp.name)})",
            file=self.arch_file,
            field=f"{comp.field}.class",
        )


def _bits(
    ctx: _Context,
    comp: _Component,
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
        x = _number(raw)
        if x is None or x <= 0 or x != int(x):
            raise InputError(
                f"entry '{shorten(comp.name)}': attribute '{key}' ({what}) must be a positive "
                f"integer, got "
                f"{echo(raw)}",
                file=ctx.arch_file,
                field=f"{comp.field}.attributes.{key}",
            )
        found[key] = int(x)
    if len(set(found.values())) > 1:
        given = ", ".join(f"{k}: {v}" for k, v in found.items())
        raise InputError(
            f"entry '{shorten(comp.name)}' (class {comp.cls}) gives disagreeing {what}s "
            f"({given}); which one spikesim should use is not guessed",
            file=ctx.arch_file,
            field=f"{comp.field}.attributes",
        )
    if found:
        return next(iter(found.values()))
    if required:
        names = " or ".join(f"'{k}'" for k in keys)
        raise InputError(
            f"entry '{shorten(comp.name)}' (class {comp.cls}) gives no {what} ({names}); "
            f"spikesim needs it {why} and does not guess it",
            file=ctx.arch_file,
            field=f"{comp.field}.attributes",
        )
    return None


def _need_bits(
    ctx: _Context,
    comp: _Component,
    keys: Sequence[str],
    what: str,
    why: str,
    *,
    first: bool = False,
) -> int:
    """:func:`_bits` of an attribute that must be given (an error names the entry if not)."""
    value = _bits(ctx, comp, keys, what, why, required=True, first=first)
    if value is None:  # pragma: no cover - required=True raises instead
        raise AssertionError(keys)
    return value


_WIDTHS = ("width", "datawidth")
_MULT_WIDTHS = ("width", "datawidth", "width_a", "width_b", "datawidth_a", "datawidth_b")


def _attr_text(comp: _Component, keys: Iterable[str]) -> str:
    return ", ".join(f"{k} {comp.attributes[k]}" for k in keys if k in comp.attributes)


_NM = re.compile(r"^\s*(\d+(?:\.\d+)?)\s*nm\s*$", re.IGNORECASE)


def _technology(comp: _Component) -> float | None:
    """The component's node in nm (``45nm``, ``"45 nm"``, ``45``); None when not given as
    such (``"SET ME"``, ``-1``, ``must_specify``)."""
    raw = comp.attributes.get("technology")
    if isinstance(raw, str):
        m = _NM.match(raw)
        if m:
            return float(m.group(1))
        x = _number(raw)
        return x if x is not None and x >= 1 else None
    x = _number(raw)
    return x if x is not None and x >= 1 else None


# --------------------------------------------------------------------------------------------
# Actions
# --------------------------------------------------------------------------------------------


@dataclass(frozen=True)
class _Chosen:
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


def _pick(ctx: _Context, entry: _Entry, names: Sequence[str], what: str) -> _Chosen:
    """The first of ``names`` the entry lists; of several argument combinations the largest."""
    chosen = _maybe_pick(entry, names)
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


def _maybe_pick(entry: _Entry, names: Sequence[str]) -> _Chosen | None:
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
                f"({_fmt(min(energies))}-{_fmt(max(energies))} pJ); the most expensive, "
                f"{args or 'no arguments'}, is used"
            )
        return _Chosen(name, top.energy_pj, how, label)
    return None


def _unused_actions(entry: _Entry, used: Iterable[str]) -> str:
    rest = [n for n in dict.fromkeys(a.name for a in entry.actions) if n not in set(used)]
    return f"actions not imported: {', '.join(rest)}" if rest else ""


def _join(*parts: str) -> str:
    return "; ".join(p for p in parts if p)


# --------------------------------------------------------------------------------------------
# Contributions of the entries
# --------------------------------------------------------------------------------------------


@dataclass
class _Row:
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
class _Collected:
    ops: dict[str, list[_Row]] = field(default_factory=dict)
    sram: list[_Row] = field(default_factory=list)
    dram: list[_Row] = field(default_factory=list)
    macs: list[tuple[_Entry, _Component, Kind]] = field(default_factory=list)
    tech: list[tuple[float, _Component]] = field(default_factory=list)
    dram_tech: list[tuple[float, _Component]] = field(default_factory=list)

    def op(self, name: str, row: _Row) -> None:
        self.ops.setdefault(name, []).append(row)


def _source(ctx: _Context, entry: _Entry, chosen: _Chosen, comp: _Component, attrs: str) -> str:
    return (
        f"Accelergy ERT {ctx.ert_file}, entry {entry.name}, action {chosen.label} = "
        f"{_fmt(chosen.energy_pj)} pJ (class {comp.cls}, {attrs} in {ctx.arch_file})"
    )


_WIDTH_WHY = "as the width of the row it gives"
_REG_WIDTH = ("width", "datawidth")
"""A register file's access width: ``width``; one that gives only ``datawidth`` (Accelergy 0.3's
regfile) is accessed a word at a time."""
_REG_WHY = "as the bits of one access"


def _op_row(
    ctx: _Context,
    entry: _Entry,
    comp: _Component,
    chosen: _Chosen,
    bits: int,
    attrs: str,
    note: str,
    energy: float | None = None,
    source: str | None = None,
) -> _Row:
    value = chosen.energy_pj if energy is None else energy
    src = source if source is not None else _source(ctx, entry, chosen, comp, attrs)
    row = {"bits": bits, "energy_pj": value, "source": src}
    if note:
        row["note"] = note
    return _Row(
        (bits,),
        value,
        row,
        entry.name,
        ctx.ert_file,
        entry.field,
        f"{bits} bits, {_fmt(value)} pJ",
    )


def _collect_entry(ctx: _Context, out: _Collected, entry: _Entry, comp: _Component) -> None:
    kind = ctx.kind(comp)
    if kind is Kind.SKIP:
        why = _SKIP_WHY.get(normalise_class(comp.cls), "declared skip")
        ctx.leave("ERT entry", entry.name, f"class {comp.cls}, {why}")
        return
    tech = _technology(comp)
    if tech is not None:
        (out.dram_tech if kind is Kind.DRAM else out.tech).append((tech, comp))
    if kind in (Kind.INTADDER, Kind.FPADDER):
        bits = _need_bits(ctx, comp, _WIDTHS, "width", _WIDTH_WHY)
        chosen = _pick(ctx, entry, ("add", "read"), "an add")
        attrs = _attr_text(comp, _WIDTHS)
        note = _join(
            _read_convention(chosen, "add"), chosen.how, _unused_actions(entry, [chosen.action])
        )
        op = "int_add" if kind is Kind.INTADDER else "fp_add"
        out.op(op, _op_row(ctx, entry, comp, chosen, bits, attrs, note))
    elif kind in (Kind.INTMULTIPLIER, Kind.FPMULTIPLIER):
        bits = _multiplier_bits(ctx, comp)
        chosen = _pick(ctx, entry, ("multiply", "mult", "read"), "a multiply")
        attrs = _attr_text(comp, _MULT_WIDTHS)
        note = _join(
            _read_convention(chosen, "multiply"),
            chosen.how,
            _unused_actions(entry, [chosen.action]),
        )
        op = "int_mult" if kind is Kind.INTMULTIPLIER else "fp_mult"
        out.op(op, _op_row(ctx, entry, comp, chosen, bits, attrs, note))
    elif kind in (Kind.INTMAC, Kind.FPMAC):
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
    elif kind is Kind.REGFILE:
        bits = _need_bits(ctx, comp, _REG_WIDTH, "width", _REG_WHY, first=True)
        depth = _bits(ctx, comp, ("depth",), "depth", "", required=False)
        attrs = _attr_text(comp, ("width", "datawidth", "depth"))
        depth_note = (
            f"a register file of {depth} entries: its access energy includes selecting one of "
            "them, an over-estimate for spikesim's single registers"
            if depth is not None and depth > 1
            else ""
        )
        read = _maybe_pick(entry, ("read",))
        write = _maybe_pick(entry, ("write",))
        if read is None and write is None:
            _pick(ctx, entry, ("read", "write"), "a register access")  # raises
        used = [c.action for c in (read, write) if c is not None]
        unused = _unused_actions(entry, used)
        for op, found in (("register_read", read), ("register_write", write)):
            if found is None:
                ctx.notes.append(
                    f"ERT entry {entry.name} has no {op.split('_')[1]} action: no {op} row from it"
                )
                continue
            note = _join(depth_note, found.how, unused)
            out.op(op, _op_row(ctx, entry, comp, found, bits, attrs, note))
    elif kind is Kind.SRAM:
        _collect_sram(ctx, out, entry, comp)
    elif kind is Kind.DRAM:
        _collect_dram(ctx, out, entry, comp)
    else:  # pragma: no cover - every kind is handled above
        raise AssertionError(kind)


def _read_convention(chosen: _Chosen, typical: str) -> str:
    if chosen.action != "read":
        return ""
    return (
        f"the entry has no '{typical}' action; its 'read' is used (the Accelergy library "
        "plug-in's convention: 'read' is a component's typical action)"
    )


def _multiplier_bits(ctx: _Context, comp: _Component) -> int:
    width = _bits(ctx, comp, _WIDTHS, "width", _WIDTH_WHY, required=False)
    a = _bits(ctx, comp, ("width_a", "datawidth_a"), "operand width", "", required=False)
    b = _bits(ctx, comp, ("width_b", "datawidth_b"), "operand width", "", required=False)
    if a is not None or b is not None:
        if a is None or b is None or a != b or (width is not None and width != a):
            raise InputError(
                f"entry '{shorten(comp.name)}' (class {comp.cls}) multiplies operands of "
                f"different or partly given widths ({_attr_text(comp, _MULT_WIDTHS)}); "
                "spikesim's int_mult rows are b×b multiplies",
                file=ctx.arch_file,
                field=f"{comp.field}.attributes",
            )
        return a
    return _need_bits(ctx, comp, _WIDTHS, "width", _WIDTH_WHY)


def _access_energy(ctx: _Context, entry: _Entry, what: str) -> tuple[float, str, str, list[str]]:
    """The energy of one access by ``options.access``: (energy, action label, note, used)."""
    access = ctx.options.access
    read = _maybe_pick(entry, ("read",))
    write = _maybe_pick(entry, ("write",))
    need = {
        Access.READ: [("read", read)],
        Access.WRITE: [("write", write)],
        Access.MAX: [("read", read), ("write", write)],
        Access.MEAN: [("read", read), ("write", write)],
    }[access]
    for name, chosen in need:
        if chosen is None:
            _pick(ctx, entry, (name,), f"{what} (access {access.value})")  # raises
    quoted = ", ".join(
        f"{c.label} {_fmt(c.energy_pj)} pJ" + (f" ({c.how})" if c.how else "")
        for c in (read, write)
        if c is not None
    )
    if access is Access.READ and read is not None:
        energy, label = read.energy_pj, read.label
    elif access is Access.WRITE and write is not None:
        energy, label = write.energy_pj, write.label
    else:
        if read is None or write is None:  # pragma: no cover - _pick raised above
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


def _sram_shape(ctx: _Context, comp: _Component) -> tuple[int, int]:
    """(width, depth) of an SRAM: bits per access, words."""
    width = _need_bits(ctx, comp, ("width", "memory_width"), "width", "as the bits of one access")
    depth = _need_bits(ctx, comp, ("depth", "memory_depth"), "depth", "for the SRAM's capacity")
    return width, depth


def _collect_sram(ctx: _Context, out: _Collected, entry: _Entry, comp: _Component) -> None:
    width, depth = _sram_shape(ctx, comp)
    if (width * depth) % 8:
        raise InputError(
            f"entry '{shorten(comp.name)}': depth {depth} × width {width} = {width * depth} bits "
            "is not a whole number of bytes (spikesim's SRAM capacities are bytes)",
            file=ctx.arch_file,
            field=f"{comp.field}.attributes",
        )
    capacity = width * depth // 8
    energy, label, rule, used = _access_energy(ctx, entry, "an SRAM access")
    if energy <= 0:
        raise InputError(
            f"entry '{shorten(entry.name)}' ({label}) costs {_fmt(energy)} pJ; spikesim's SRAM "
            "points must cost > 0 pJ (they are interpolated log-log)",
            file=ctx.ert_file,
            field=entry.field,
        )
    attrs = _attr_text(comp, ("depth", "memory_depth", "width", "memory_width", "n_banks"))
    source = (
        f"Accelergy ERT {ctx.ert_file}, entry {entry.name}, action {label} = {_fmt(energy)} pJ "
        f"(class {comp.cls}, {attrs} in {ctx.arch_file})"
    )
    note = _join(
        f"capacity depth {depth} × width {width} bits = {capacity} B; one access moves "
        f"{width} bits",
        rule,
        _unused_actions(entry, used),
    )
    point = {
        "capacity_bytes": capacity,
        "energy_pj_per_access": energy,
        "access_bits": width,
        "source": source,
        "note": note,
    }
    out.sram.append(
        _Row(
            (capacity,),
            energy / width,
            point,
            entry.name,
            ctx.ert_file,
            entry.field,
            f"{capacity} B, {_fmt(energy)} pJ per {width}-bit access",
        )
    )


def _collect_dram(ctx: _Context, out: _Collected, entry: _Entry, comp: _Component) -> None:
    why = "as the bits one access moves (energy per bit)"
    width = _need_bits(ctx, comp, ("width",), "width", why)
    energy, label, rule, used = _access_energy(ctx, entry, "a DRAM access")
    per_bit = energy / width
    attrs = _attr_text(comp, ("width", "type"))
    source = (
        f"Accelergy ERT {ctx.ert_file}, entry {entry.name}, action {label} = {_fmt(energy)} pJ "
        f"per {width}-bit access (class {comp.cls}, {attrs} in {ctx.arch_file})"
    )
    note = _join(
        f"{_fmt(energy)} pJ / {width} bits = {_fmt(per_bit)} pJ/bit",
        rule,
        _unused_actions(entry, used),
    )
    out.dram.append(
        _Row(
            (),
            per_bit,
            {"energy_pj_per_bit": per_bit, "source": source, "note": note},
            entry.name,
            ctx.ert_file,
            entry.field,
            f"{_fmt(per_bit)} pJ/bit",
        )
    )


def _mac_widths(ctx: _Context, comp: _Component) -> tuple[int, int | None, str]:
    """(multiplier bits, adder bits, attributes text) of a MAC: ``multiplier_width`` and
    ``adder_width`` (Accelergy's compound intmac), else its one ``width``/``datawidth`` for both
    (the primitive intmac); the adder width is None when only ``multiplier_width`` is given."""
    mult = _bits(ctx, comp, ("multiplier_width",), "multiplier width", "", required=False)
    why = "as the width of its multiply row"
    one = _bits(ctx, comp, _WIDTHS, "width", why, required=mult is None)
    adder = _bits(ctx, comp, ("adder_width",), "adder width", "", required=False)
    attrs = _attr_text(comp, ("multiplier_width", "adder_width", "width", "datawidth"))
    m = mult if mult is not None else one
    if m is None:  # pragma: no cover - required above
        raise AssertionError(comp.name)
    return m, adder if adder is not None else one, attrs


def _adder_bits(ctx: _Context, comp: _Component, bits: int | None) -> int:
    if bits is None:
        raise InputError(
            f"entry '{shorten(comp.name)}' (class {comp.cls}) gives multiplier_width but no "
            "adder_width; --mac split subtracts an adder of the MAC's adder width and does not "
            "guess it",
            file=ctx.arch_file,
            field=f"{comp.field}.attributes",
        )
    return bits


def _collect_macs(ctx: _Context, out: _Collected) -> None:
    for entry, comp, kind in out.macs:
        m_bits, a_width, attrs = _mac_widths(ctx, comp)
        chosen = _pick(
            ctx, entry, ("mac_random", "compute", "mac", "read"), "a multiply-accumulate"
        )
        mult_op, add_op = ("int_mult", "int_add") if kind is Kind.INTMAC else ("fp_mult", "fp_add")
        unused = _unused_actions(entry, [chosen.action])
        if ctx.options.mac is MacRule.MULTIPLY:
            note = _join(
                f"mac multiply: the whole MAC ({chosen.label}) taken as one {m_bits}-bit "
                f"multiply, an upper bound: it includes the MAC's accumulate add, which "
                f"spikesim charges again through {add_op}",
                chosen.how,
                unused,
            )
            out.op(mult_op, _op_row(ctx, entry, comp, chosen, m_bits, attrs, note))
            continue
        a_bits = _adder_bits(ctx, comp, a_width)
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
                f"entry '{shorten(entry.name)}': the MAC ({_fmt(chosen.energy_pj)} pJ) costs "
                f"less than the {a_bits}-bit adder entry '{shorten(adder.entry)}' "
                f"({_fmt(adder.value)} pJ); it cannot be split",
                file=ctx.ert_file,
                field=entry.field,
            )
        source = (
            f"Accelergy ERT {ctx.ert_file}, entry {entry.name}, action {chosen.label} = "
            f"{_fmt(chosen.energy_pj)} pJ minus entry {adder.entry} ({add_op}, {a_bits} bits) "
            f"= {_fmt(rest)} pJ (class {comp.cls}, {attrs} in {ctx.arch_file})"
        )
        note = _join(
            f"mac split: the MAC minus the ERT's own {a_bits}-bit adder; assumption: the MAC's "
            "adder costs what the standalone adder costs",
            chosen.how,
            unused,
        )
        out.op(
            mult_op,
            _op_row(ctx, entry, comp, chosen, m_bits, attrs, note, energy=rest, source=source),
        )


# --------------------------------------------------------------------------------------------
# Merging rows into sections
# --------------------------------------------------------------------------------------------


def _merged(rows: list[_Row], section: str, key: str, value: str) -> list[_Row]:
    """Rows with distinct keys (agreeing duplicates merged into the first, its source naming
    them all), sorted by key, with ``value`` not falling as the ``key`` grows."""
    by_key: dict[tuple[Any, ...], _Row] = {}
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


def _operations(out: _Collected) -> dict[str, Any]:
    ops: dict[str, Any] = {}
    for op in ("int_add", "int_mult", "register_read", "register_write", "fp_add", "fp_mult"):
        if op not in out.ops:
            continue
        rows = _merged(out.ops[op], f"operations.{op}", "width", "energy")
        scaling, why = _SCALING[op]
        ops[op] = {"scaling": scaling, "note": why, "rows": [r.data for r in rows]}
    return ops


def _sram(out: _Collected) -> dict[str, Any] | None:
    if not out.sram:
        return None
    points = _merged(out.sram, "sram", "capacity", "energy per bit")
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


def _dram(out: _Collected) -> dict[str, Any] | None:
    if not out.dram:
        return None
    return _merged(out.dram, "dram", "", "energy per bit")[0].data


def _technology_nm(ctx: _Context, out: _Collected) -> tuple[float, str]:
    given = ctx.options.technology_nm
    if given is not None:
        return given, f"technology {_fmt(given)} nm given by the user (--technology-nm)"
    found = out.tech or out.dram_tech
    nodes = {t for t, _ in found}
    if len(nodes) == 1:
        node = nodes.pop()
        whose = "imported on-chip entries" if out.tech else "DRAM (no on-chip entry gives one)"
        return node, f"technology {_fmt(node)} nm: the 'technology' of the {whose}"
    if not nodes:
        raise InputError(
            "no imported on-chip entry gives its technology node (attribute 'technology', e.g. "
            "45nm); pass --technology-nm",
            file=ctx.arch_file,
            field="technology",
        )
    (t0, c0), (t1, c1) = next(
        (a, b)
        for a in found
        for b in found
        if a[0] != b[0]  # two that disagree
    )
    raise InputError(
        f"imported entries are at different nodes ('{shorten(c0.name)}' {_fmt(t0)} nm, "
        f"'{shorten(c1.name)}' {_fmt(t1)} nm); a table has one node: pass --technology-nm or "
        "leave entries out (--skip NAME)",
        file=ctx.arch_file,
        field=f"{c1.field}.attributes.technology",
    )


# --------------------------------------------------------------------------------------------
# Area
# --------------------------------------------------------------------------------------------


@dataclass(frozen=True)
class _AreaItem:
    """One ART entry to import: its component and the area of one instance."""

    entry: _AreaEntry
    comp: _Component
    kind: Kind
    area_um2: float
    """Area of one instance (ART area / ``n_instances``)."""
    cited: str


def _area_items(ctx: _Context, art: Document) -> list[_AreaItem]:
    items: list[_AreaItem] = []
    for entry in _parse_art(art):
        if ctx.skipped(entry.name):
            ctx.leave("ART entry", entry.name, "--skip")
            continue
        comp = ctx.component(entry.name, art.file, entry.field.removesuffix(".area"))
        kind = ctx.kind(comp)
        left_out = {
            Kind.SKIP: _SKIP_WHY.get(normalise_class(comp.cls), "declared skip"),
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
        n = _bits(ctx, comp, ("n_instances",), "instance count", "", required=False) or 1
        if entry.area_um2 <= 0:
            raise InputError(
                f"entry '{shorten(entry.name)}' (class {comp.cls}) has area 0 µm²; spikesim's "
                f"areas must be > 0: leave it out (--skip {shorten(entry.name)})",
                file=art.file,
                field=entry.field,
            )
        per_instance = f" / n_instances {n}" if n != 1 else ""
        cited = (
            f"Accelergy ART {art.file}, entry {entry.name}, area {_fmt(entry.area_um2)} µm²"
            f"{per_instance}"
        )
        items.append(_AreaItem(entry, comp, kind, entry.area_um2 / n, cited))
    return items


_NO_FP_AREA = "spikesim's area model has no floating-point units"


def _area_row(
    ctx: _Context,
    item: _AreaItem,
    bits: int,
    scaling: str,
    attrs: str,
    note: str,
    *,
    area: float | None = None,
    minus: str = "",
) -> _Row:
    value = item.area_um2 if area is None else area
    source = f"{item.cited}{minus} (class {item.comp.cls}, {attrs} in {ctx.arch_file})"
    data: dict[str, Any] = {
        "ref_bits": bits,
        "area_um2": value,
        "scaling": scaling,
        "source": source,
    }
    if note:
        data["note"] = note
    per_bit = value / (bits * bits if scaling == "product" else bits)
    label = f"{bits} bits, {_fmt(value)} µm²"
    return _Row((), per_bit, data, item.entry.name, "", item.entry.field, label)


def _area(ctx: _Context, art: Document, tech_nm: float) -> dict[str, Any]:
    logic: dict[str, list[_Row]] = {}
    srams: list[tuple[_AreaItem, int]] = []
    macs: list[_AreaItem] = []

    def add(key: str, row: _Row) -> None:
        row.file = art.file
        logic.setdefault(key, []).append(row)

    for item in _area_items(ctx, art):
        comp = item.comp
        if item.kind is Kind.INTADDER:
            bits = _need_bits(ctx, comp, ("width", "datawidth"), "width", _WIDTH_WHY)
            add("int_add", _area_row(ctx, item, bits, "linear", _attr_text(comp, _WIDTHS), ""))
        elif item.kind is Kind.INTMULTIPLIER:
            bits = _multiplier_bits(ctx, comp)
            attrs = _attr_text(comp, _MULT_WIDTHS)
            add("int_mult", _area_row(ctx, item, bits, "product", attrs, ""))
        elif item.kind is Kind.INTMAC:
            macs.append(item)
        elif item.kind is Kind.REGFILE:
            width = _need_bits(ctx, comp, _REG_WIDTH, "width", _REG_WHY, first=True)
            one = normalise_class(comp.cls) in REGISTER_CLASSES
            why = "for the bits its area holds"
            depth = _bits(ctx, comp, ("depth",), "depth", why, required=not one) or 1
            note = (
                f"{width * depth} bits of storage (width {width} × depth {depth}); spikesim's "
                "register area is linear in its bits"
            )
            attrs = _attr_text(comp, ("width", "datawidth", "depth"))
            add("register", _area_row(ctx, item, width * depth, "linear", attrs, note))
        elif item.kind is Kind.SRAM:
            width, depth = _sram_shape(ctx, comp)
            srams.append((item, width * depth))
    for item in macs:
        m_bits, a_width, attrs = _mac_widths(ctx, item.comp)
        if ctx.options.mac is MacRule.MULTIPLY:
            note = (
                "mac multiply: the whole MAC's area taken as the multiplier's (an upper bound: "
                "it includes the adder)"
            )
            add("int_mult", _area_row(ctx, item, m_bits, "product", attrs, note))
            continue
        a_bits = _adder_bits(ctx, item.comp, a_width)
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
                f"({_fmt(item.area_um2)} µm²) is not more than its {a_bits}-bit adder's "
                f"({_fmt(adder.data['area_um2'])} µm², entry '{shorten(adder.entry)}')",
                file=art.file,
                field=item.entry.field,
            )
        note = "mac split: assumption: the MAC's adder has the standalone adder's area"
        minus = f" minus ART entry {adder.entry} ({a_bits}-bit adder) = {_fmt(rest)} µm²"
        add(
            "int_mult",
            _area_row(ctx, item, m_bits, "product", attrs, note, area=rest, minus=minus),
        )
    components = {
        key: _merged(rows, f"area.components.{key}", "", "area per bit")[0].data
        for key, rows in logic.items()
    }
    return {
        "node_scale": 1.0,
        "node_scale_note": "The ART's areas are at this table's node: no scaling.",
        "components": components,
        "sram": _sram_area(ctx, art, srams, tech_nm),
    }


def _sram_area(
    ctx: _Context, art: Document, srams: list[tuple[_AreaItem, int]], tech_nm: float
) -> dict[str, Any]:
    if not srams:
        raise InputError(
            "the ART has no SRAM entry, and spikesim's area section needs an SRAM area (it "
            "prices every design's SRAMs); import without --art, or add the SRAM's area",
            file=art.file,
            field="ART.tables",
        )
    item, bits = max(srams, key=lambda s: s[1])
    per_bit = item.area_um2 / bits
    f_um = tech_nm * 1e-3
    others = [
        f"{o.entry.name}: {_fmt(o.area_um2 / b)} µm²/bit ({b // 8} B)"
        for o, b in srams
        if o is not item
    ]
    note = _join(
        f"The ART's largest SRAM, {item.entry.name} ({bits // 8} B, {_fmt(item.area_um2)} µm²), "
        f"gives {_fmt(per_bit)} µm² per bit, written as cell_area_f2 = that area in F² at F = "
        f"{_fmt(tech_nm)} nm with array_efficiency 1 (the ART area is the whole macro, "
        "periphery included); spikesim's SRAM area is that per-bit area × capacity, so smaller "
        "SRAMs are under-estimated (their periphery is a larger share)",
        ("other SRAMs of the ART: " + ", ".join(others)) if others else "",
    )
    attrs = _attr_text(item.comp, ("depth", "memory_depth", "width", "memory_width"))
    return {
        "cell_area_f2": per_bit / (f_um * f_um),
        "feature_nm": tech_nm,
        "array_efficiency": 1.0,
        "source": f"{item.cited} (class {item.comp.cls}, {attrs} in {ctx.arch_file})",
        "note": note,
    }


# --------------------------------------------------------------------------------------------
# The conversion
# --------------------------------------------------------------------------------------------


def convert(
    ert: Document, arch: Document, *, art: Document | None = None, options: ImportOptions
) -> ImportResult:
    """The spikesim energy table (a plain mapping) of an Accelergy ERT, its flattened
    architecture and optionally its ART, by the rules of the module docstring.

    Raises
    ------
    InputError
        Naming the file and field (and in the message the entry) of anything that cannot be
        mapped: an unknown class, a missing or negative energy, a width or capacity the
        architecture does not give, disagreeing rows, a malformed file.
    """
    entries, version = _parse_ert(ert)
    components = _parse_arch(arch)
    by_base: dict[str, list[_Component]] = {}
    for comp in components.values():
        by_base.setdefault(base_name(comp.name), []).append(comp)
    kinds = dict(DEFAULT_CLASSES)
    kinds.update({normalise_class(k): Kind(v) for k, v in options.classes.items()})
    ctx = _Context(ert.file, arch.file, components, by_base, kinds, options)
    out = _Collected()
    not_imported: dict[str, list[str]] = {}
    for entry in entries:
        if ctx.skipped(entry.name):
            ctx.leave("ERT entry", entry.name, "--skip")
            continue
        comp = ctx.component(entry.name, ert.file, entry.name_field)
        _collect_entry(ctx, out, entry, comp)
        for action in dict.fromkeys(a.name for a in entry.actions):
            if action in NOT_IMPORTED_ACTIONS:
                not_imported.setdefault(action, []).append(entry.name)
    _collect_macs(ctx, out)
    operations = _operations(out)
    sram = _sram(out)
    dram = _dram(out)
    if not operations and sram is None and dram is None:
        raise InputError(
            "no entry of the ERT maps to a spikesim table entry (all left out)",
            file=ert.file,
            field="ERT.tables",
        )
    tech, tech_note = _technology_nm(ctx, out)
    area = _area(ctx, art, tech) if art is not None else None
    _check_options_used(ctx)
    if not_imported:
        ctx.notes.append(
            "not imported (spikesim prices no such action from this table): "
            + "; ".join(
                f"{a} of {len(names)} entr{'y' if len(names) == 1 else 'ies'}"
                for a, names in sorted(not_imported.items())
            )
        )
    sections = [
        s
        for s, v in (("operations", operations), ("sram", sram), ("dram", dram), ("area", area))
        if v
    ]
    files = f"Accelergy ERT {ert.file} (version {version}) with architecture {arch.file}"
    if art is not None:
        files += f" and ART {art.file}"
    description = (
        f"Imported from {files} by 'spikesim energy import'. Energies (pJ) and areas (µm²) are "
        "the files' own; each row's source names the entry and action it came from, its note "
        f"the widths and capacities read from the architecture. Sections: {', '.join(sections)} "
        f"(a hardware file takes the others from other tables); {tech_note}. Leakage (leak "
        "actions) is not imported."
    )
    if ctx.left_out:
        description += f" Left out: {shorten(', '.join(ctx.left_out), 600)}."
    table: dict[str, Any] = {
        "name": options.name,
        "description": description,
        "technology_nm": tech,
    }
    if operations:
        table["operations"] = operations
    if sram is not None:
        table["sram"] = sram
    if dram is not None:
        table["dram"] = dram
    if area is not None:
        table["area"] = area
    _validate_sections(table, ert.file)
    return ImportResult(table, tuple(ctx.notes))


def _check_options_used(ctx: _Context) -> None:
    for name in sorted(ctx.options.skip - ctx.used_skips):
        raise InputError(f"'{shorten(name)}' names no entry of the ERT or ART", field="skip")
    for cls in ctx.options.classes:
        if normalise_class(cls) not in ctx.used_classes:
            raise InputError(
                f"class '{shorten(cls)}' is not the class of any imported entry", field="classes"
            )


def _validate_sections(table: Mapping[str, Any], file: str) -> None:
    """Each produced section validates with its model (the whole table validates with
    :class:`~spikesim.energy.table.EnergyTable` whose sections are optional). A failure here is
    a bug of this module, still reported as one line."""
    checks: list[tuple[str, type[BaseModel], Any]] = [
        (f"operations.{op}", Operation, data) for op, data in table.get("operations", {}).items()
    ]
    if "sram" in table:
        checks.append(("sram", SRAMModel, table["sram"]))
    if "dram" in table:
        checks.append(("dram", DRAMModel, table["dram"]))
    if "area" in table:
        checks.append(("area", AreaModel, table["area"]))
    for where, model, data in checks:
        try:
            validate_mapping(model, data, file=None)
        except InputError as exc:
            raise InputError(
                f"the imported {where} does not validate: {exc.message}",
                file=file,
                field=f"{where}.{exc.field}" if exc.field else where,
            ) from None


# --------------------------------------------------------------------------------------------
# Files
# --------------------------------------------------------------------------------------------


def read_document(path: str | Path) -> Document:
    """A YAML file (read with the bounded reader) cited by its path as given."""
    return Document(read_yaml_mapping(path), str(path))


def default_arch_path(ert_path: str | Path) -> Path:
    """The flattened architecture Accelergy writes beside an ERT: ``<prefix>ERT.yaml`` →
    ``<prefix>flattened_architecture.yaml`` (``timeloop-mapper.ERT.yaml`` →
    ``timeloop-mapper.flattened_architecture.yaml``)."""
    ert_path = Path(ert_path)
    name = ert_path.name
    for suffix in ("ERT.yaml", "ERT.yml"):
        if name.endswith(suffix):
            return ert_path.with_name(name[: -len(suffix)] + "flattened_architecture.yaml")
    return ert_path.with_name("flattened_architecture.yaml")


def import_files(
    ert_path: str | Path,
    *,
    arch_path: str | Path | None = None,
    art_path: str | Path | None = None,
    options: ImportOptions,
) -> ImportResult:
    """Read the ERT, the architecture (``arch_path``, default :func:`default_arch_path`) and
    the ART (optional) and :func:`convert` them."""
    ert = read_document(ert_path)
    if arch_path is None:
        guess = default_arch_path(ert_path)
        if not guess.is_file():
            raise InputError(
                "the ERT gives energies per instance name only; the class and widths of each "
                f"instance are in the flattened architecture Accelergy writes beside it, and "
                f"{guess} does not exist: pass it (--arch)",
                file=ert_path,
                field="arch",
            )
        arch_path = guess
    arch = read_document(arch_path)
    art = read_document(art_path) if art_path is not None else None
    return convert(ert, arch, art=art, options=options)


def table_yaml(result: ImportResult, header: Sequence[str] = ()) -> str:
    """The table as YAML text (``header`` lines become ``#`` comments on top; a line break inside
    one starts another comment line, so no header text can become YAML)."""
    lines = [f"# {part}".rstrip() for line in header for part in (line.splitlines() or [""])]
    body = yaml.safe_dump(
        result.table, sort_keys=False, allow_unicode=True, width=100, default_flow_style=False
    )
    return "\n".join([*lines, body]) if lines else body
