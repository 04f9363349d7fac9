"""``spikesim validate FILE``: check a hardware config, a sweep spec or an energy table.

The file is tried against the three schemas, closest first (most top-level keys in common with
the file; ties in the order hardware, sweep, energy table), and accepted as the first kind whose
schema it satisfies. When it satisfies none, the error printed is the closest schema's.
"""

from __future__ import annotations

import argparse
from collections.abc import Callable, Iterable
from dataclasses import dataclass
from pathlib import Path
from typing import TYPE_CHECKING

from spikesim.cli.common import EXIT_OK
from spikesim.errors import InputError

if TYPE_CHECKING:
    pass

NAME = "validate"
HELP = "check a hardware YAML (or an energy-table YAML) and print one line"
DESCRIPTION = (
    "Validate a hardware configuration YAML, an energy-table YAML or a sweep spec: the file is "
    "accepted as the kind whose schema it satisfies; if it satisfies none, the error comes from "
    "the schema closest to it (most top-level keys in common). A bare name refers to a shipped "
    "preset in hw_configs/."
)


def add_arguments(p: argparse.ArgumentParser) -> None:
    p.add_argument(
        "file",
        metavar="FILE",
        help="hardware, energy-table or sweep YAML (or a preset's or shipped sweep's name)",
    )


@dataclass(frozen=True)
class Schema:
    """One kind of file ``validate`` accepts."""

    kind: str
    fields: Callable[[], Iterable[str]]
    """The schema's top-level keys."""
    check: Callable[[Path, str], list[str]]
    """Validate the file (InputError if invalid); return the lines to print."""


def _hardware_fields() -> Iterable[str]:
    from spikesim.config.hardware import HardwareConfig

    return HardwareConfig.model_fields


def _check_hardware(path: Path, shown: str) -> list[str]:
    from spikesim.api import load_hardware
    from spikesim.energy import energy_model

    hw = load_hardware(path)
    try:
        energy_model(hw)
    except InputError as exc:
        if exc.file is not None:
            raise
        raise InputError(exc.message, file=path, field=exc.field or "energy.table") from None
    from spikesim.sim.notes import configuration_notes

    notes = [f"note: {line}" for line in configuration_notes(hw)]
    return [f"ok: {shown}: valid hardware config '{hw.name}'", *notes]


def _sweep_fields() -> Iterable[str]:
    from spikesim.dse.spec import SweepSpec

    return SweepSpec.model_fields


def _check_sweep(path: Path, shown: str) -> list[str]:
    from spikesim.dse.spec import load_sweep

    sweep = load_sweep(path)
    spec = sweep.spec
    n = spec.grid_size if spec.samples is None else min(spec.samples, spec.grid_size)
    return [
        f"ok: {shown}: valid sweep spec ({n} point(s) × {len(spec.designs)} design(s), "
        f"base {sweep.base_path})"
    ]


def _energy_fields() -> Iterable[str]:
    from spikesim.energy import EnergyTable

    return EnergyTable.model_fields


def _check_energy(path: Path, shown: str) -> list[str]:
    from spikesim.energy import load_energy_table

    table = load_energy_table(path)
    return [f"ok: {shown}: valid energy table '{table.name}'"]


SCHEMAS = (
    Schema("hardware config", _hardware_fields, _check_hardware),
    Schema("sweep spec", _sweep_fields, _check_sweep),
    Schema("energy table", _energy_fields, _check_energy),
)
"""The kinds of file, in the order that breaks ties of closeness."""


def closest_first(keys: Iterable[str]) -> list[Schema]:
    """:data:`SCHEMAS` by how many of ``keys`` (a file's top-level keys) each one knows."""
    have = set(keys)
    return sorted(SCHEMAS, key=lambda s: -len(have & set(s.fields())))


def run(args: argparse.Namespace) -> int:
    from spikesim.cli.common import hardware_file
    from spikesim.config.loader import read_yaml_mapping
    from spikesim.config.presets import list_presets, list_sweeps, resolve_sweep

    stem = str(args.file).removesuffix(".yaml")
    if not Path(args.file).exists() and stem in list_sweeps() and stem not in list_presets():
        path = resolve_sweep(args.file)  # a shipped sweep by name
    else:
        try:
            path = hardware_file(args.file)
        except InputError as exc:  # a missing file or an unknown preset: name what was given
            raise InputError(exc.message, file=exc.file or Path(args.file)) from None
    data = read_yaml_mapping(path)  # unreadable or not YAML: the same error for every kind
    errors: list[InputError] = []
    for schema in closest_first(data):
        try:
            lines = schema.check(path, args.file)
        except InputError as exc:
            errors.append(exc)
            continue
        for line in lines:
            print(line)
        return EXIT_OK
    raise errors[0]  # valid under no schema: the closest one says why
