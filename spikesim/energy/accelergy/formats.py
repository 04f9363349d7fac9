"""Reading the files Accelergy (0.2-0.4) writes beside each run into plain records.

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

Every failure is an :class:`~spikesim.errors.InputError` naming the file and the field path.
"""

from __future__ import annotations

import math
import re
from collections.abc import Callable, Iterable, Mapping
from dataclasses import dataclass
from pathlib import Path
from typing import Any, TypeVar

from spikesim.config.loader import read_yaml_mapping
from spikesim.energy.accelergy.text import fmt
from spikesim.errors import InputError, echo, shorten


@dataclass(frozen=True)
class Document:
    """A parsed input file and the name it is cited by (sources and errors)."""

    data: Mapping[str, Any]
    file: str


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


# --------------------------------------------------------------------------------------------
# Records
# --------------------------------------------------------------------------------------------


@dataclass(frozen=True)
class Action:
    """One action of an ERT entry, at one argument combination."""

    name: str
    arguments: Mapping[str, Any] | None
    energy_pj: float
    field: str


@dataclass(frozen=True)
class Entry:
    """One ERT table: an instance and its actions."""

    name: str
    field: str
    """Where the entry is in the file (``ERT.tables.3``)."""
    actions: tuple[Action, ...]
    listed: bool = True
    """0.3/0.4 form (``{name, actions: [...]}``); False for 0.2's ``{name: {action: ...}}``."""

    @property
    def name_field(self) -> str:
        return f"{self.field}.name" if self.listed else self.field

    @property
    def actions_field(self) -> str:
        return f"{self.field}.actions" if self.listed else self.field


@dataclass(frozen=True)
class Component:
    """One component of the flattened architecture."""

    name: str
    cls: str
    attributes: Mapping[str, Any]
    field: str
    file: str
    """The architecture file it is read from (cited in errors and sources)."""


@dataclass(frozen=True)
class AreaEntry:
    """One ART table: an instance and its area (µm²)."""

    name: str
    area_um2: float
    field: str


# --------------------------------------------------------------------------------------------
# Small readers
# --------------------------------------------------------------------------------------------


_NUMBER = re.compile(r"^[+-]?(\d+(\.\d*)?|\.\d+)([eE][+-]?\d+)?$")


def number(value: Any) -> float | None:
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


_Named = TypeVar("_Named", Entry, Component)


def _by_name(
    records: Iterable[_Named], twice: Callable[[_Named, _Named], InputError]
) -> dict[str, _Named]:
    """The records by name, in order; ``twice(first, again)`` is raised for a repeated name."""
    by_name: dict[str, _Named] = {}
    for record in records:
        first = by_name.setdefault(record.name, record)
        if first is not record:
            raise twice(first, record)
    return by_name


# --------------------------------------------------------------------------------------------
# The three formats
# --------------------------------------------------------------------------------------------


def _parse_action(raw: Any, entry: str, file: str, where: str, name: str | None) -> Action:
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
    energy = number(item["energy"])
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
            f"({fmt(energy)} pJ)",
            file=file,
            field=f"{where}.energy",
        )
    return Action(name, args, energy, f"{where}.energy")


def parse_ert(doc: Document) -> tuple[list[Entry], str]:
    """The entries of an ERT (0.2-0.4), in file order, and its version."""
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
    entries: list[Entry] = []
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
            entries.append(Entry(name, where, parsed))
    elif isinstance(tables, Mapping):  # 0.2: {name: {action: {..} | [{..}]}}
        for name, raw in tables.items():
            where = f"ERT.tables.{name}"
            name = _name(name, file, where)
            by_action = _mapping(raw, file, where, f"the actions of entry '{shorten(name)}'")
            acts: list[Action] = []
            for action, combos in by_action.items():
                action = _name(action, file, f"{where}")
                items = combos if isinstance(combos, list) else [combos]
                acts.extend(
                    _parse_action(c, name, file, f"{where}.{action}.{j}", action)
                    for j, c in enumerate(items)
                )
            entries.append(Entry(name, where, tuple(acts), listed=False))
    else:
        raise InputError(
            f"ERT.tables must be a list of entries (Accelergy 0.3/0.4) or a mapping (0.2), got "
            f"{echo(tables)}",
            file=file,
            field="ERT.tables",
        )
    _by_name(
        entries,
        lambda first, again: InputError(
            f"entry '{shorten(again.name)}' appears twice (also at {first.field})",
            file=file,
            field=again.name_field,
        ),
    )
    return entries, version


def parse_arch(doc: Document) -> dict[str, Component]:
    """The components of a flattened architecture (0.2-0.4) by name, in file order."""
    file = doc.file
    components: list[Component] = []

    def component(raw: Any, where: str, name: Any) -> Component:
        item = _mapping(raw, file, where, "an architecture component")
        name = _name(name if name is not None else item.get("name"), file, f"{where}.name")
        key = "subclass" if "subclass" in item else "class"
        cls = _name(item.get(key), file, f"{where}.{key}")
        attributes = item.get("attributes") or {}
        _mapping(attributes, file, f"{where}.attributes", f"the attributes of '{shorten(name)}'")
        return Component(name, cls, attributes, where, file)

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
    return _by_name(
        components,
        lambda _, again: InputError(
            f"component '{shorten(again.name)}' appears twice", file=file, field=again.field
        ),
    )


def parse_art(doc: Document) -> list[AreaEntry]:
    """The entries of an ART, in file order."""
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
    entries: list[AreaEntry] = []
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
        area = number(item["area"])
        if area is None or area < 0:
            raise InputError(
                f"area of entry '{shorten(name)}' must be a finite number >= 0 (µm²), got "
                f"{echo(item['area'])}",
                file=file,
                field=f"{where}.area",
            )
        entries.append(AreaEntry(name, area, f"{where}.area"))
    return entries
