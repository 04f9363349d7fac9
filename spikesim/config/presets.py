"""Shipped hardware presets (``hw_configs/*.yaml``) and example sweeps (``sweeps/*.yaml``),
found by name.

The repository's folders are canonical. A source or editable install finds them next to the
package (``<repo>/hw_configs``); a wheel install carries copies in ``share/spikesim/`` of the
environment, of a ``--target`` folder or of the user base (``[tool.setuptools.data-files]`` in
pyproject.toml; :func:`spikesim.fsutil.shared_data_dirs`).
"""

from __future__ import annotations

from pathlib import Path

from spikesim.errors import InputError
from spikesim.fsutil import shared_data_dirs

PRESET_SUFFIX = ".yaml"


def preset_dirs() -> list[Path]:
    """Folders searched for presets, in order (only those that exist)."""
    return shared_data_dirs("hw_configs")


def list_presets() -> list[str]:
    """Names of all shipped presets (file names without ``.yaml``), sorted, without duplicates."""
    names = {
        entry.name.removesuffix(PRESET_SUFFIX)
        for folder in preset_dirs()
        for entry in folder.iterdir()
        if entry.name.endswith(PRESET_SUFFIX) and entry.is_file()
    }
    return sorted(names)


def preset_path(name: str) -> Path:
    """Path of the preset called ``name`` (``"spikequant-45nm"``; a ``.yaml`` suffix is allowed).

    Raises
    ------
    InputError
        ``field="hardware"`` if no preset has that name.
    """
    stem = name.removesuffix(PRESET_SUFFIX)
    if stem and "/" not in stem and "\\" not in stem:
        for folder in preset_dirs():
            path = folder / f"{stem}{PRESET_SUFFIX}"
            if path.is_file():
                return path
    known = ", ".join(list_presets()) or "none installed"
    raise InputError(f"no hardware preset named {name!r} (known: {known})", field="hardware")


def resolve_hardware(text: str) -> Path:
    """A ``--hw`` argument as a path: an existing file or anything path-like is taken as a file
    (a missing one is reported when it is read); a bare name is looked up among the presets."""
    path = Path(text)
    if path.exists() or path.suffix in (".yaml", ".yml") or len(path.parts) > 1:
        return path
    return preset_path(text)


def list_sweeps() -> list[str]:
    """Names of the shipped example sweeps (``sweeps/*.yaml`` without ``.yaml``), sorted."""
    return sorted(
        {
            entry.name.removesuffix(PRESET_SUFFIX)
            for folder in shared_data_dirs("sweeps")
            for entry in folder.iterdir()
            if entry.name.endswith(PRESET_SUFFIX) and entry.is_file()
        }
    )


def resolve_sweep(text: str | Path) -> Path:
    """A sweep spec argument as a path: an existing file, or a shipped sweep by name
    (``dataflows``, ``example``; a ``.yaml`` suffix is allowed). Anything else stays the path it
    names (a missing file is reported when it is read)."""
    path = Path(text)
    if path.exists() or len(path.parts) != 1:
        return path
    stem = path.name.removesuffix(PRESET_SUFFIX)
    for folder in shared_data_dirs("sweeps"):
        shipped = folder / f"{stem}{PRESET_SUFFIX}"
        if shipped.is_file():
            return shipped
    if not path.suffix:
        known = ", ".join(list_sweeps()) or "none installed"
        raise InputError(
            f"no sweep file or shipped sweep named {str(text)!r} (shipped: {known})",
            field="spec",
        )
    return path
