"""The conversion: an ERT, its architecture and optionally its ART → a spikesim energy table.

:func:`convert` is pure: parsed mappings in, the table as a plain mapping out.
:func:`import_files` reads the files (:func:`spikesim.config.loader.read_yaml_mapping`, bounded);
:func:`table_yaml` renders the result. Writing the file is the caller's.
"""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import yaml
from pydantic import BaseModel

from spikesim.config.loader import validate_mapping
from spikesim.energy.accelergy.area import area as area_section
from spikesim.energy.accelergy.attributes import technology
from spikesim.energy.accelergy.classes import (
    NOT_IMPORTED_ACTIONS,
    Kind,
    normalise_class,
    skip_reason,
)
from spikesim.energy.accelergy.context import Context, ImportOptions
from spikesim.energy.accelergy.formats import (
    Component,
    Document,
    Entry,
    default_arch_path,
    parse_arch,
    parse_ert,
    read_document,
)
from spikesim.energy.accelergy.memory import collect_dram, collect_sram, dram, sram
from spikesim.energy.accelergy.operations import (
    collect_adder,
    collect_macs,
    collect_multiplier,
    collect_regfile,
    operations,
    queue_mac,
)
from spikesim.energy.accelergy.rows import Collected
from spikesim.energy.accelergy.text import fmt
from spikesim.energy.table import AreaModel, DRAMModel, Operation, SRAMModel
from spikesim.errors import InputError, shorten


@dataclass(frozen=True)
class ImportResult:
    """The produced table (a plain mapping in the format of ``spikesim/energy/tables/``) and
    the notes on what was left out."""

    table: dict[str, Any]
    notes: tuple[str, ...]


def _collect_entry(ctx: Context, out: Collected, entry: Entry, comp: Component) -> None:
    """What one ERT entry gives, by the kind of its component's class."""
    kind = ctx.kind(comp)
    if kind is Kind.SKIP:
        ctx.leave("ERT entry", entry.name, f"class {comp.cls}, {skip_reason(comp.cls)}")
        return
    tech = technology(comp)
    if tech is not None:
        (out.dram_tech if kind is Kind.DRAM else out.tech).append((tech, comp))
    if kind in (Kind.INTADDER, Kind.FPADDER):
        collect_adder(ctx, out, entry, comp, kind)
    elif kind in (Kind.INTMULTIPLIER, Kind.FPMULTIPLIER):
        collect_multiplier(ctx, out, entry, comp, kind)
    elif kind in (Kind.INTMAC, Kind.FPMAC):
        queue_mac(ctx, out, entry, comp, kind)
    elif kind is Kind.REGFILE:
        collect_regfile(ctx, out, entry, comp)
    elif kind is Kind.SRAM:
        collect_sram(ctx, out, entry, comp)
    elif kind is Kind.DRAM:
        collect_dram(ctx, out, entry, comp)
    else:  # pragma: no cover - every kind is handled above
        raise AssertionError(kind)


def _technology_nm(ctx: Context, out: Collected) -> tuple[float, str]:
    """The table's node and the phrase of the description that says where it comes from."""
    given = ctx.options.technology_nm
    if given is not None:
        return given, f"technology {fmt(given)} nm given by the user (--technology-nm)"
    found = out.tech or out.dram_tech
    nodes = {t for t, _ in found}
    if len(nodes) == 1:
        node = nodes.pop()
        whose = "imported on-chip entries" if out.tech else "DRAM (no on-chip entry gives one)"
        return node, f"technology {fmt(node)} nm: the 'technology' of the {whose}"
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
        f"imported entries are at different nodes ('{shorten(c0.name)}' {fmt(t0)} nm, "
        f"'{shorten(c1.name)}' {fmt(t1)} nm); a table has one node: pass --technology-nm or "
        "leave entries out (--skip NAME)",
        file=ctx.arch_file,
        field=f"{c1.field}.attributes.technology",
    )


def convert(
    ert: Document, arch: Document, *, art: Document | None = None, options: ImportOptions
) -> ImportResult:
    """The spikesim energy table (a plain mapping) of an Accelergy ERT, its flattened
    architecture and optionally its ART, by the rules of :mod:`spikesim.energy.accelergy`.

    Raises
    ------
    InputError
        Naming the file and field (and in the message the entry) of anything that cannot be
        mapped: an unknown class, a missing or negative energy, a width or capacity the
        architecture does not give, disagreeing rows, a malformed file.
    """
    entries, version = parse_ert(ert)
    ctx = Context.start(ert.file, arch.file, parse_arch(arch), options)
    out = Collected()
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
    collect_macs(ctx, out)
    ops = operations(out)
    sram_section = sram(out)
    dram_section = dram(out)
    if not ops and sram_section is None and dram_section is None:
        raise InputError(
            "no entry of the ERT maps to a spikesim table entry (all left out)",
            file=ert.file,
            field="ERT.tables",
        )
    tech, tech_note = _technology_nm(ctx, out)
    area = area_section(ctx, art, tech) if art is not None else None
    _check_options_used(ctx)
    if not_imported:
        ctx.notes.append(
            "not imported (spikesim prices no such action from this table): "
            + "; ".join(
                f"{a} of {len(names)} entr{'y' if len(names) == 1 else 'ies'}"
                for a, names in sorted(not_imported.items())
            )
        )
    sections = {"operations": ops, "sram": sram_section, "dram": dram_section, "area": area}
    files = f"Accelergy ERT {ert.file} (version {version}) with architecture {arch.file}"
    if art is not None:
        files += f" and ART {art.file}"
    description = (
        f"Imported from {files} by 'spikesim energy import'. Energies (pJ) and areas (µm²) are "
        "the files' own; each row's source names the entry and action it came from, its note "
        f"the widths and capacities read from the architecture. Sections: "
        f"{', '.join(s for s, v in sections.items() if v)} "
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
    table.update((s, v) for s, v in sections.items() if v)
    _validate_sections(table, ert.file)
    return ImportResult(table, tuple(ctx.notes))


def _check_options_used(ctx: Context) -> None:
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
    a bug of this package, still reported as one line."""
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
