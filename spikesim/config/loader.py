"""Read configuration YAML into validated models; every failure is an :class:`InputError`.

``--set dotted.path=value`` overrides are applied to the raw mapping before validation, so an
override is checked exactly like a value written in the file.
"""

from __future__ import annotations

from collections.abc import Iterable, Mapping
from pathlib import Path
from typing import Any, TypeVar

import yaml
from pydantic import BaseModel, ValidationError

from spikesim.config.hardware import HardwareConfig
from spikesim.errors import InputError

M = TypeVar("M", bound=BaseModel)

_SAFE_LOADER = getattr(yaml, "CSafeLoader", yaml.SafeLoader)
"""libyaml's safe loader when PyYAML was built with it (10x faster), else the pure-Python one."""


def read_yaml_mapping(path: str | Path) -> dict[str, Any]:
    """Parse a YAML file whose top level must be a mapping."""
    path = Path(path)
    try:
        text = path.read_text(encoding="utf-8")
    except FileNotFoundError:
        raise InputError("file not found", file=path) from None
    except (OSError, UnicodeDecodeError) as exc:
        raise InputError(f"cannot read file ({exc.__class__.__name__})", file=path) from None
    try:
        data = yaml.load(text, Loader=_SAFE_LOADER)
    except yaml.YAMLError as exc:
        mark = getattr(exc, "problem_mark", None)
        where = f" at line {mark.line + 1}, column {mark.column + 1}" if mark else ""
        problem = getattr(exc, "problem", None) or "invalid YAML"
        raise InputError(f"malformed YAML{where}: {problem}", file=path) from None
    if data is None:
        data = {}
    if not isinstance(data, dict):
        raise InputError("top level must be a mapping of fields", file=path)
    return data


def field_path(loc: Iterable[Any]) -> str:
    """Dotted field path from a pydantic error location."""
    return ".".join(str(p) for p in loc)


def validate_mapping(model: type[M], data: Mapping[str, Any], *, file: str | Path | None) -> M:
    """Validate ``data`` into ``model``; the first error becomes an InputError naming the field."""
    try:
        return model.model_validate(data)
    except ValidationError as exc:
        err = exc.errors()[0]
        loc = field_path(err["loc"])
        msg = err["msg"]
        if err["type"] == "extra_forbidden":
            msg = "unknown field"
        elif err["type"] == "missing":
            msg = "missing field"
        elif err["type"] == "value_error":
            msg = msg.removeprefix("Value error, ")
        elif "input" in err and not isinstance(err["input"], dict | list):
            msg = f"{msg} (got {err['input']!r})"
        raise InputError(msg, file=file, field=loc or None) from None


def parse_override(text: str) -> tuple[str, Any]:
    """Parse one ``dotted.path=value`` override; the value is read as a YAML scalar."""
    if "=" not in text:
        raise InputError(
            f"override '{text}' is not of the form dotted.path=value", field="overrides"
        )
    key, _, raw = text.partition("=")
    key = key.strip()
    if not key or any(not part for part in key.split(".")):
        raise InputError(f"override '{text}' has an empty field path", field="overrides")
    try:
        value = yaml.safe_load(raw) if raw.strip() else ""
    except yaml.YAMLError:
        value = raw
    return key, value


def apply_overrides(data: dict[str, Any], overrides: Mapping[str, Any]) -> dict[str, Any]:
    """A deep copy of ``data`` with each dotted path set (intermediate mappings created)."""
    import copy

    out = copy.deepcopy(data)
    for key, value in overrides.items():
        node = out
        parts = key.split(".")
        for part in parts[:-1]:
            child = node.get(part)
            if child is None:
                child = {}
                node[part] = child
            if not isinstance(child, dict):
                raise InputError(f"cannot set '{key}': '{part}' is not a section", field=key)
            node = child
        node[parts[-1]] = value
    return out


def load_hardware(
    path: str | Path, overrides: Mapping[str, Any] | None = None
) -> HardwareConfig:
    """Load and validate a hardware YAML, applying dotted-path overrides first."""
    data = read_yaml_mapping(path)
    if overrides:
        data = apply_overrides(data, overrides)
    hw = validate_mapping(HardwareConfig, data, file=path)
    table = Path(hw.energy.table)
    if table.suffix in (".yaml", ".yml") and not table.is_absolute():
        # a user energy table is named relative to the hardware YAML that refers to it
        resolved = (Path(path).parent / table).resolve()
        hw = hw.model_copy(update={"energy": hw.energy.model_copy(update={"table": str(resolved)})})
    return hw


def hardware_to_yaml(hw: HardwareConfig) -> str:
    """The resolved configuration as YAML (every default made explicit)."""
    return yaml.safe_dump(hw.model_dump(mode="json"), sort_keys=False)
