"""The Accelergy classes spikesim maps, and which kind of spikesim entry each one is.

Class names are compared as Accelergy's plug-ins compare them (:func:`normalise_class`);
``ImportOptions.classes`` adds to or overrides :data:`DEFAULT_CLASSES`. What each kind becomes is
in the package docstring (:mod:`spikesim.energy.accelergy`).
"""

from __future__ import annotations

import re
from collections.abc import Mapping
from enum import StrEnum
from types import MappingProxyType


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

CLASS_NAMES = tuple(name for _, names in _CLASSES for name in names)
"""The default classes as Accelergy spells them (quoted when a class is not mapped)."""

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


def skip_reason(cls: str) -> str:
    """Why an entry of class ``cls`` (of kind :attr:`Kind.SKIP`) is left out, for the notes."""
    return _SKIP_WHY.get(normalise_class(cls), "declared skip")
