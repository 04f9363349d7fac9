"""The user's options, and what one conversion knows and records along the way."""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass, field
from enum import StrEnum

from spikesim.energy.accelergy.classes import CLASS_NAMES, DEFAULT_CLASSES, Kind, normalise_class
from spikesim.energy.accelergy.formats import Component, base_name
from spikesim.errors import InputError, shorten


class MacRule(StrEnum):
    """How a MAC (``intmac``, ``fpmac``) is imported (see :mod:`spikesim.energy.accelergy`)."""

    REFUSE = "refuse"
    MULTIPLY = "multiply"
    SPLIT = "split"


class Access(StrEnum):
    """Which energy an SRAM point or the DRAM takes from the ERT's ``read`` and ``write``."""

    READ = "read"
    WRITE = "write"
    MAX = "max"
    MEAN = "mean"


@dataclass(frozen=True)
class ImportOptions:
    """The choices a user makes explicitly (every default is documented in
    :mod:`spikesim.energy.accelergy`)."""

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


@dataclass
class Context:
    """What every step needs: the files, the architecture, the options and what was used."""

    ert_file: str
    arch_file: str
    components: dict[str, Component]
    by_base: dict[str, list[Component]]
    kinds: dict[str, Kind]
    options: ImportOptions
    used_skips: set[str] = field(default_factory=set)
    used_classes: set[str] = field(default_factory=set)
    notes: list[str] = field(default_factory=list)
    left_out: list[str] = field(default_factory=list)
    """Names of the entries left out (for the table's description)."""

    @classmethod
    def start(
        cls,
        ert_file: str,
        arch_file: str,
        components: dict[str, Component],
        options: ImportOptions,
    ) -> Context:
        """The context of a conversion of the ERT ``ert_file`` with the architecture's
        ``components``: the default classes with ``options.classes`` over them."""
        by_base: dict[str, list[Component]] = {}
        for comp in components.values():
            by_base.setdefault(base_name(comp.name), []).append(comp)
        kinds = dict(DEFAULT_CLASSES)
        kinds.update({normalise_class(k): Kind(v) for k, v in options.classes.items()})
        return cls(ert_file, arch_file, components, by_base, kinds, options)

    def leave(self, what: str, name: str, why: str) -> None:
        """Record that ``what`` (``ERT entry``, ``area of ART entry``) ``name`` is left out."""
        self.notes.append(f"{what} {name} left out: {why}")
        if name not in self.left_out:
            self.left_out.append(name)

    def skipped(self, name: str) -> bool:
        """Whether ``options.skip`` names the entry ``name`` (recording the skip as used)."""
        for s in self.options.skip:
            if name == s or base_name(name) == base_name(s):
                self.used_skips.add(s)
                return True
        return False

    def component(self, name: str, file: str, where: str) -> Component:
        """The architecture's component of the ERT or ART entry ``name`` (exactly, else the
        one component of its name without ``[..]`` ranges)."""
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

    def kind(self, comp: Component) -> Kind:
        """The kind of the component's class (recording the class as used)."""
        key = normalise_class(comp.cls)
        if key in self.kinds:
            self.used_classes.add(key)
            return self.kinds[key]
        known = ", ".join(CLASS_NAMES)
        raise InputError(
            f"entry '{shorten(comp.name)}' has class '{shorten(comp.cls)}', which spikesim does "
            f"not map (it knows {known}); declare what it is (--class {shorten(comp.cls)}=KIND) "
            f"or leave it out (--skip {shorten(comp.name)})",
            file=self.arch_file,
            field=f"{comp.field}.class",
        )
