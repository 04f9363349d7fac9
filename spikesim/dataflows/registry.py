"""The registries of designs and IF-array dataflows, and the lookups every other package uses.

Nothing outside ``spikesim/dataflows`` matches design names: ``api``, ``dse``, ``eval`` and
``report`` ask here (by name, by kind, for the reference design, for a colour).
"""

from __future__ import annotations

from collections.abc import Iterable

from spikesim.dataflows.base import Design, DesignKind, IFArrayDataflow, Registry
from spikesim.errors import InputError

DESIGNS: Registry[Design] = Registry("design", field="designs")
"""Design name → :class:`~spikesim.dataflows.base.Design`, in registration order."""

IF_DATAFLOWS: Registry[IFArrayDataflow] = Registry("IF-array dataflow", field="if_array.dataflow")
"""``if_array.dataflow`` value → its :class:`~spikesim.dataflows.base.IFArrayDataflow`."""


def register_design(design: Design) -> Design:
    """Add a design (a name registered twice is an error)."""
    return DESIGNS.register(design.name, design)


def register_if_dataflow(dataflow: IFArrayDataflow) -> IFArrayDataflow:
    """Add an IF-array dataflow (a name registered twice is an error)."""
    return IF_DATAFLOWS.register(dataflow.name, dataflow)


def get_design(name: str) -> Design:
    """The registered design ``name`` (InputError naming ``designs`` when unknown)."""
    return DESIGNS.get(name)


def design_names(kind: DesignKind | None = None) -> tuple[str, ...]:
    """Registered design names (of one ``kind``), in registration order."""
    return tuple(d.name for d in DESIGNS if kind is None or d.kind == kind)


def parse_designs(designs: str | Iterable[str] | None) -> tuple[str, ...]:
    """Design names from a comma-separated string or a list: stripped, de-duplicated in order,
    each one registered (InputError naming ``designs`` otherwise); ``None``: the reference
    design."""
    if designs is None:
        return (reference_design(),)
    names = [d.strip() for d in designs.split(",")] if isinstance(designs, str) else list(designs)
    names = [d for d in names if d]
    if not names:
        raise InputError("no design given", field="designs")
    for name in names:
        get_design(name)
    return tuple(dict.fromkeys(names))


def reference_design() -> str:
    """The design every other one is compared against (the one flagged ``is_reference``)."""
    refs = [d.name for d in DESIGNS if d.is_reference]
    if len(refs) != 1:
        raise RuntimeError(f"exactly one reference design must be registered, found {refs}")
    return refs[0]


def design_color(name: str) -> str | None:
    """The figure colour of a registered design, None for a name not registered here."""
    return DESIGNS.get(name).color if name in DESIGNS else None
