"""``spikesim energy``: the energy tables — list the built-in ones, import Accelergy's.

``spikesim energy list`` prints each built-in table's name, technology node, the sections it
provides and the first sentence of its description.

``spikesim energy import ERT.yaml [--arch ARCH.yaml] [--art ART.yaml] --out TABLE.yaml`` turns
an Accelergy energy reference table (and area reference table) into a spikesim energy table, by
the rules of :mod:`spikesim.energy.accelergy`. The class and widths of each ERT entry are read
from the flattened architecture Accelergy writes beside the ERT (``--arch``, default
``<prefix>flattened_architecture.yaml`` next to ``<prefix>ERT.yaml``). The table is written
atomically and only to ``--out``; an existing ``--out`` is refused unless ``--force`` (a table
file cannot be told apart from a hand-written one, so it is never replaced silently), and
nothing is written when the import fails.
"""

from __future__ import annotations

import argparse
import shlex
import textwrap
from pathlib import Path
from typing import TYPE_CHECKING

from spikesim.cli.common import EXIT_OK, check_out, command_line
from spikesim.cli.flags import parser_flags
from spikesim.errors import InputError, shorten

if TYPE_CHECKING:
    from spikesim.energy.accelergy import ImportResult, Kind
    from spikesim.energy.table import EnergyTable

NAME = "energy"
HELP = "list the built-in energy tables, or import an Accelergy ERT/ART as one"
DESCRIPTION = (
    "'energy list' prints the built-in energy tables (name, technology node, sections, "
    "description). 'energy import ERT.yaml --out TABLE.yaml' turns an Accelergy energy "
    "reference table (with --art its area reference table) into a spikesim energy table; each "
    "row's source names the ERT entry and action it came from."
)

MAC_CHOICES = ("refuse", "multiply", "split")
"""``--mac``: :class:`spikesim.energy.accelergy.MacRule` (literal here: no import at startup)."""

ACCESS_CHOICES = ("read", "write", "max", "mean")
"""``--access``: :class:`spikesim.energy.accelergy.Access`."""

KIND_CHOICES = (
    "intadder",
    "intmultiplier",
    "intmac",
    "fpadder",
    "fpmultiplier",
    "fpmac",
    "SRAM",
    "regfile",
    "DRAM",
    "skip",
)
"""The KIND of ``--class CLASS=KIND``: :class:`spikesim.energy.accelergy.Kind`."""

SECTIONS = ("operations", "sram", "dram", "leakage", "area")
"""The sections of an energy table, in the order ``energy list`` names them."""

_LIBRARY_FLAGS = {"arch": "--arch", "skip": "--skip", "classes": "--class"}
"""Parameters of :mod:`spikesim.energy.accelergy` named in its errors → the flags here."""


def add_arguments(p: argparse.ArgumentParser) -> None:
    sub = p.add_subparsers(dest="energy_command", required=True, metavar="ACTION")
    listing = sub.add_parser(
        "list",
        help="list the built-in energy tables",
        description="Print each built-in energy table: name, technology node, the sections it "
        "provides (operations, sram, dram, leakage, area) and its description's first sentence.",
    )
    listing.set_defaults(flags=parser_flags(listing))
    imp = sub.add_parser(
        "import",
        help="turn an Accelergy ERT (and ART) into a spikesim energy table",
        description="Turn an Accelergy energy reference table (ERT.yaml; with --art its area "
        "reference table) into a spikesim energy table YAML. Each entry's class and widths come "
        "from the flattened architecture Accelergy writes beside the ERT. Classes mapped: "
        "integer/fp adders and multipliers, registers and register files, SRAM, DRAM (MACs with "
        "--mac); anything else is refused with its name unless --class or --skip says what to "
        "do. Sections the ERT does not give are left out (take them from other tables in the "
        "hardware file's energy: section). Rules: spikesim/energy/accelergy/.",
    )
    imp.add_argument("ert", metavar="ERT.yaml", help="the Accelergy ERT (energies in pJ)")
    imp.add_argument(
        "--arch",
        default=None,
        metavar="ARCH.yaml",
        help="Accelergy's flattened architecture (class and attributes of every entry; default "
        "<prefix>flattened_architecture.yaml beside <prefix>ERT.yaml)",
    )
    imp.add_argument(
        "--art",
        default=None,
        metavar="ART.yaml",
        help="Accelergy's area reference table (µm²): also write an area section",
    )
    imp.add_argument("--out", required=True, metavar="TABLE.yaml", help="energy table to write")
    imp.add_argument(
        "--force", action="store_true", help="replace --out if it exists (default: refuse)"
    )
    imp.add_argument(
        "--name", default=None, metavar="NAME", help="the table's name (default: --out's stem)"
    )
    imp.add_argument(
        "--technology-nm",
        type=float,
        default=None,
        metavar="NM",
        help="the table's node (default: the 'technology' the imported on-chip entries share)",
    )
    imp.add_argument(
        "--class",
        dest="classes",
        action="append",
        default=[],
        metavar="CLASS=KIND",
        help=f"treat Accelergy class CLASS as KIND ({', '.join(KIND_CHOICES)}); e.g. "
        "smartbuffer_SRAM=SRAM, XY_NoC=skip (repeatable)",
    )
    imp.add_argument(
        "--skip",
        action="append",
        default=[],
        metavar="NAME",
        help="leave out the ERT/ART entry NAME (with or without its [..] ranges; repeatable)",
    )
    imp.add_argument(
        "--mac",
        choices=MAC_CHOICES,
        default="refuse",
        help="a MAC's energy is a multiply plus an add: refuse it (default), take it whole as "
        "the multiply (an upper bound), or split off the ERT's own adder entry",
    )
    imp.add_argument(
        "--access",
        choices=ACCESS_CHOICES,
        default="read",
        help="SRAM and DRAM: which ERT energy prices an access, reads and writes alike "
        "(default read)",
    )
    imp.set_defaults(flags=parser_flags(imp))


def run(args: argparse.Namespace) -> int:
    if args.energy_command == "list":
        return list_tables()
    from spikesim.fsutil import interruptible

    with interruptible():  # an interrupted write leaves --out as it was
        return import_table(args)


# --------------------------------------------------------------------------------------------
# energy list
# --------------------------------------------------------------------------------------------


def first_sentence(text: str) -> str:
    """The first sentence of ``text``: up to the first ``.``, ``!`` or ``?`` outside brackets
    that is followed by a space and a capital or digit (``0.9 V``, ``et al., ISCA`` and
    ``(Des. Autom.)`` do not end it)."""
    text = " ".join(text.split())
    depth = 0
    for i, ch in enumerate(text):
        if ch in "([{":
            depth += 1
        elif ch in ")]}":
            depth = max(0, depth - 1)
        elif ch in ".!?" and depth == 0:
            rest = text[i + 1 : i + 3]
            if rest[:1] == " " and rest[1:2] and (rest[1].isupper() or rest[1].isdigit()):
                return text[: i + 1]
    return text


def table_sections(table: EnergyTable) -> list[str]:
    """The sections ``table`` provides, in :data:`SECTIONS` order (``sram (grid)`` for the grid
    form of the SRAM section)."""
    found = []
    for section in SECTIONS:
        value = getattr(table, section, None)
        if value is None or (isinstance(value, dict) and not value):
            continue
        if section == "sram" and getattr(value, "model", "points") == "grid":
            found.append("sram (grid)")
            continue
        found.append(section)
    return found


def list_tables() -> int:
    from spikesim.energy.model import NODE_DEFAULTS
    from spikesim.energy.table import builtin_tables, load_energy_table
    from spikesim.report.markdown import text_table

    rows = []
    for name in builtin_tables():
        table = load_energy_table(name)
        rows.append(
            [
                name,
                f"{table.technology_nm:g} nm",
                ", ".join(table_sections(table)),
                textwrap.shorten(first_sentence(table.description), 96, placeholder=" …"),
            ]
        )
    print(text_table(["name", "node", "sections", "description"], rows, "lrll"), end="")
    print("\nbuilt-in tables of each node (energy.node_nm; parts a hardware file does not name):")
    for node, parts in sorted(NODE_DEFAULTS.items(), reverse=True):
        print(f"  {node:g} nm: " + ", ".join(f"{part} {name}" for part, name in parts.items()))
    return EXIT_OK


# --------------------------------------------------------------------------------------------
# energy import
# --------------------------------------------------------------------------------------------


def parse_classes(texts: list[str]) -> dict[str, Kind]:
    """``--class CLASS=KIND`` flags as ``{class: kind}`` (a class given twice must agree)."""
    from spikesim.energy.accelergy import Kind, normalise_class

    classes: dict[str, Kind] = {}
    kinds = {normalise_class(k): Kind(normalise_class(k)) for k in KIND_CHOICES}
    for text in texts:
        cls, sep, kind_text = (part.strip() for part in text.partition("="))
        if not sep or not cls or not kind_text:
            raise InputError(f"expected CLASS=KIND, got '{shorten(text)}'", field="--class")
        kind = kinds.get(normalise_class(kind_text))
        if kind is None:
            raise InputError(
                f"unknown kind '{shorten(kind_text)}' in '{shorten(text)}' (kinds: "
                f"{', '.join(KIND_CHOICES)})",
                field="--class",
            )
        same = [c for c in classes if normalise_class(c) == normalise_class(cls)]
        if any(classes[c] is not kind for c in same):
            raise InputError(f"class '{shorten(cls)}' is given two kinds", field="--class")
        if not same:
            classes[cls] = kind
    return classes


def _table_name(args: argparse.Namespace, out: Path) -> str:
    if args.name is not None:
        if not args.name.strip():
            raise InputError("the table's name must not be empty", field="--name")
        return str(args.name)
    stem = out.name
    for suffix in (".yaml", ".yml"):
        stem = stem.removesuffix(suffix)
    return stem or out.name


def import_table(args: argparse.Namespace) -> int:
    from spikesim.energy.accelergy import Access, ImportOptions, MacRule, import_files, table_yaml
    from spikesim.fsutil import atomic_write_file
    from spikesim.version import __version__

    out = Path(args.out)
    inputs = [Path(p) for p in (args.ert, args.arch, args.art) if p is not None]
    check_out(out, force=args.force, inputs=inputs)
    tech = args.technology_nm
    if tech is not None and not (tech > 0 and tech < float("inf")):
        raise InputError(f"must be a node in nm > 0, got {tech:g}", field="--technology-nm")
    options = ImportOptions(
        name=_table_name(args, out),
        technology_nm=tech,
        classes=parse_classes(args.classes),
        skip=frozenset(args.skip),
        mac=MacRule(args.mac),
        access=Access(args.access),
    )
    try:
        result = import_files(args.ert, arch_path=args.arch, art_path=args.art, options=options)
    except InputError as exc:
        flag = _LIBRARY_FLAGS.get(exc.field or "")
        if flag is None:
            raise
        raise InputError(exc.message, file=exc.file, field=flag) from None
    header = [
        f"Energy table imported from Accelergy by spikesim {__version__}:",
        f"  {shlex.join(command_line(args))}",
        "Rules (classes mapped, what is refused, every assumption): spikesim/energy/accelergy/.",
        "Each row's source names the ERT (or ART) entry and action it came from.",
    ]
    text = table_yaml(result, header)
    out.parent.mkdir(parents=True, exist_ok=True)
    atomic_write_file(out, lambda fh: fh.write(text.encode("utf-8")))
    print(f"wrote energy table '{options.name}' to {out}: {summary(result)}")
    for note in result.notes:
        print(f"note: {note}")
    return EXIT_OK


def summary(result: ImportResult) -> str:
    """What the imported table holds, in one line."""
    table = result.table
    parts = [f"{table['technology_nm']:g} nm"]
    ops = table.get("operations", {})
    if ops:
        rows = ", ".join(
            f"{op} ({len(v['rows'])} row{'s' * (len(v['rows']) != 1)})" for op, v in ops.items()
        )
        parts.append(f"operations {rows}")
    if "sram" in table:
        n = len(table["sram"]["points"])
        parts.append(f"sram {n} point{'s' * (n != 1)}")
    if "dram" in table:
        parts.append(f"dram {table['dram']['energy_pj_per_bit']:.6g} pJ/bit")
    if "area" in table:
        parts.append(f"area ({', '.join([*table['area']['components'], 'sram'])})")
    return "; ".join(parts)
