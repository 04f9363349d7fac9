"""The energy model of a hardware configuration: which table prices which part, at which node.

A hardware file's ``energy:`` section names its sources in one of three ways (the first that
applies, per part):

1. a table per part: ``energy: {operations: node-22nm, sram: cacti7-22nm-lop, dram: …}``;
2. one table for every part: ``energy: {table: horowitz-45nm}`` (the first form spikesim had; it
   still gives exactly the numbers it always gave);
3. a technology node: ``energy: {node_nm: 22}`` takes the built-in defaults of that node
   (:data:`NODE_DEFAULTS`); with nothing named at all, the node is :data:`DEFAULT_NODE_NM`.

With ``node_nm`` set, every named ``operations`` and ``sram`` table must be at that node (the
DRAM is off-chip: its energy does not follow the logic node, and any DRAM table is accepted).
A table that lacks the section its part needs, or a node no built-in table covers, is an
:class:`~spikesim.errors.InputError` naming ``energy.<part>`` (or ``energy.node_nm``).
"""

from __future__ import annotations

from collections.abc import Mapping
from pathlib import Path
from types import MappingProxyType

from spikesim.config.hardware import EnergyRef, HardwareConfig
from spikesim.energy.table import PARTS, EnergyTable, load_energy_table
from spikesim.errors import InputError

DEFAULT_NODE_NM = 45.0
"""The node of a hardware file that names no energy source at all."""

NODE_DEFAULTS: Mapping[float, Mapping[str, str]] = MappingProxyType(
    {
        45.0: {"operations": "horowitz-45nm", "sram": "cacti7-45nm-lop", "dram": "horowitz-45nm"},
        32.0: {"operations": "node-32nm", "sram": "cacti7-32nm-lop", "dram": "horowitz-45nm"},
        22.0: {"operations": "node-22nm", "sram": "cacti7-22nm-lop", "dram": "horowitz-45nm"},
        7.0: {"operations": "jouppi-7nm", "sram": "jouppi-7nm", "dram": "jouppi-7nm"},
    }
)
"""Built-in tables per technology node (nm) and part. Operations: Horowitz (45 nm), Jouppi et
al. (7 nm) and the stated geometric interpolation between them (32, 22 nm); SRAM: CACTI 7
low-operating-power arrays (45, 32, 22 nm) — see README, "Energy tables"."""


def energy_sources(ref: EnergyRef) -> dict[str, str]:
    """The table (built-in name or path) of each part, by the rules of the module docstring."""
    named = {"operations": ref.operations, "sram": ref.sram, "dram": ref.dram}
    sources: dict[str, str] = {}
    node = DEFAULT_NODE_NM if ref.node_nm is None else float(ref.node_nm)
    defaults = NODE_DEFAULTS.get(node)
    for part in PARTS:
        explicit = named[part] or ref.table
        if explicit is not None:
            sources[part] = explicit
            continue
        if defaults is None:
            covered = ", ".join(f"{n:g}" for n in sorted(NODE_DEFAULTS))
            raise InputError(
                f"no built-in energy table covers {node:g} nm (built-in nodes: {covered} nm); "
                f"name the tables of every part (energy.operations, energy.sram, energy.dram)",
                field="energy.node_nm",
            )
        sources[part] = defaults[part]
    return sources


def energy_model(hw: HardwareConfig | EnergyRef) -> EnergyTable:
    """The table pricing a run: every part from its source, checked against the node."""
    ref = hw.energy if isinstance(hw, HardwareConfig) else hw
    sources = energy_sources(ref)
    loaded: dict[str, EnergyTable] = {}
    parts: dict[str, EnergyTable] = {}
    for part in PARTS:
        name = sources[part]
        field = f"energy.{part}" if getattr(ref, part) is not None or ref.table is None else (
            "energy.table"
        )
        if name not in loaded:
            try:
                loaded[name] = load_energy_table(name)
            except InputError as exc:
                if exc.file is None:  # an unknown name: the hardware field is at fault
                    raise InputError(exc.message, field=field) from None
                raise
        table = loaded[name]
        if getattr(table, part) is None:
            raise InputError(
                f"energy table '{table.name}' ({name}) has no {part} section, so it cannot price "
                f"the {part} part",
                field=field,
            )
        if (
            ref.node_nm is not None
            and part != "dram"
            and float(table.technology_nm) != float(ref.node_nm)
        ):
            raise InputError(
                f"energy table '{table.name}' is at {table.technology_nm:g} nm but "
                f"energy.node_nm is {ref.node_nm:g}",
                field=field,
            )
        parts[part] = table
    return _composed(parts)


_COMPOSED: dict[tuple[int, ...], tuple[tuple[EnergyTable, ...], EnergyTable]] = {}
_COMPOSED_MAX = 64


def _composed(parts: dict[str, EnergyTable]) -> EnergyTable:
    """:meth:`EnergyTable.compose` of ``parts``, one table per distinct set of loaded part
    tables (each a file version's parse, remembered by the loader): the tables are frozen, so
    runs priced by the same files share one table and the prices it remembers
    (:meth:`EnergyTable.memo`; a sweep prices the same actions at every point)."""
    tables = tuple(parts[p] for p in PARTS)
    key = tuple(id(t) for t in tables)
    found = _COMPOSED.get(key)
    if found is not None and all(a is b for a, b in zip(found[0], tables, strict=True)):
        return found[1]
    composed = EnergyTable.compose(parts)
    if len(_COMPOSED) >= _COMPOSED_MAX:
        del _COMPOSED[next(iter(_COMPOSED))]
    _COMPOSED[key] = (tables, composed)  # holding the parts keeps their ids theirs
    return composed


def energy_key(ref: EnergyRef) -> tuple[str, ...]:
    """A hashable key of the tables a reference resolves to (for caching loaded models)."""
    sources = energy_sources(ref)
    return (*(sources[p] for p in PARTS), repr(ref.node_nm))


def energy_label(ref: EnergyRef) -> str:
    """The tables a reference resolves to, in one short text: the table's name when one table
    prices every part, else ``operations: A, sram: B, dram: C``."""
    sources = energy_sources(ref)
    names = [Path(sources[p]).stem if sources[p].endswith((".yaml", ".yml")) else sources[p]
             for p in PARTS]
    if len(set(names)) == 1:
        return names[0]
    return ", ".join(f"{p}: {n}" for p, n in zip(PARTS, names, strict=True))
