"""Read configuration YAML into validated models; every failure is an :class:`InputError`.

``--set dotted.path=value`` overrides are applied to the raw mapping before validation, so an
override is checked exactly like a value written in the file.

A YAML file is read defensively, since it may be anything a user (or an attacker) names:

* at most :data:`YAML_MAX_BYTES` are read (``/dev/zero`` or a huge file is refused, read with a
  bounded read, never whole), and the bytes must be UTF-8 text without NUL bytes;
* a mapping may not repeat a key (PyYAML would keep the last one silently): the error names the
  key's dotted path and both lines;
* collections may nest at most :data:`YAML_MAX_DEPTH` levels and a document may hold at most
  :data:`YAML_MAX_NODES` nodes, counted after expanding aliases (so an alias "billion laughs"
  bomb is refused while it is composed, before anything is built from it); a recursive alias and
  an integer of more than :data:`YAML_MAX_INT_DIGITS` digits are refused too.
"""

from __future__ import annotations

import importlib
import stat
from collections.abc import Iterable, Mapping
from pathlib import Path
from typing import TYPE_CHECKING, Any, TypeVar

import yaml
from pydantic import BaseModel, ValidationError
from yaml.composer import Composer, ComposerError
from yaml.constructor import ConstructorError, SafeConstructor
from yaml.events import AliasEvent
from yaml.nodes import MappingNode, Node, ScalarNode, SequenceNode

from spikesim.config.hardware import HardwareConfig
from spikesim.errors import InputError, echo, shorten
from spikesim.fsutil import decode_text

M = TypeVar("M", bound=BaseModel)

YAML_MAX_BYTES = 10 * 1024 * 1024
"""Largest YAML file read (bytes). Shipped configs are a few KB and energy tables tens of KB."""

YAML_MAX_DEPTH = 64
"""Deepest nesting of mappings and sequences in a YAML file (a hardware config nests 3)."""

YAML_MAX_NODES = 100_000
"""Most nodes (scalars, mappings, sequences) in a YAML document, aliases expanded (an energy
table holds about a thousand). Bounds the time and memory of everything built from it."""

YAML_MAX_INT_DIGITS = 64
"""Longest integer literal (characters); longer ones are refused rather than converted."""

_MERGE_TAG = "tag:yaml.org,2002:merge"


def _libyaml_parser() -> Any:
    try:
        return importlib.import_module("yaml._yaml").CParser
    except (ImportError, AttributeError):  # pragma: no cover - PyYAML built without libyaml
        return None


_CParser: Any = _libyaml_parser()
"""libyaml's parser when PyYAML was built with it (the events of a document, 10x faster); the
composer on top of it is :class:`_CheckedComposer`, in Python, so that it can check as it goes."""


class _YAMLFieldError(ComposerError):
    """A composer error about one field (dotted path) of the document."""

    def __init__(self, problem: str, mark: Any, field: str | None, note: str = "") -> None:
        super().__init__(None, None, problem, mark)
        self.field = field
        self.note = note


class _CheckedComposer(Composer):
    """PyYAML's composer, checking duplicate keys, depth, size and aliases while it composes."""

    if TYPE_CHECKING:  # provided by the parser the loader combines this composer with

        def check_event(self, *choices: Any) -> bool: ...

        def peek_event(self) -> Any: ...

    def __init__(self) -> None:
        super().__init__()
        self._path: list[str] = []
        self._depth = 0
        self._nodes = 0
        self._size: dict[int, int] = {}
        self._height: dict[int, int] = {}

    def compose_document(self) -> Any:
        try:
            return super().compose_document()
        finally:
            self._size.clear()
            self._height.clear()

    def _field(self) -> str | None:
        return ".".join(self._path) or None

    def _count(self, nodes: int, mark: Any) -> None:
        self._nodes += nodes
        if self._nodes > YAML_MAX_NODES:
            raise _YAMLFieldError(
                f"document holds more than {YAML_MAX_NODES} nodes (aliases expanded)",
                mark,
                self._field(),
            )

    def _check_depth(self, depth: int, mark: Any) -> None:
        if depth > YAML_MAX_DEPTH:
            raise _YAMLFieldError(
                f"nested more than {YAML_MAX_DEPTH} levels deep", mark, self._field()
            )

    def compose_node(self, parent: Node | None, index: Any) -> Any:
        if self.check_event(AliasEvent):
            event = self.peek_event()
            target = self.anchors.get(event.anchor)
            if target is not None:
                if id(target) not in self._size:  # still being composed: the alias is inside it
                    raise _YAMLFieldError(
                        f"recursive alias *{shorten(event.anchor)} is not allowed",
                        event.start_mark,
                        self._field(),
                    )
                self._count(self._size[id(target)], event.start_mark)
                self._check_depth(self._depth + self._height[id(target)], event.start_mark)
            return super().compose_node(parent, index)
        pushed = isinstance(index, ScalarNode | int)
        if pushed:
            self._path.append(str(index.value if isinstance(index, ScalarNode) else index))
        try:
            node: Any = super().compose_node(parent, index)
        finally:
            if pushed:
                self._path.pop()
        if isinstance(node, ScalarNode):
            size, height = 1, 0
        else:
            children: list[Node] = (
                [n for pair in node.value for n in pair]
                if isinstance(node, MappingNode)
                else list(node.value)
            )
            size = 1 + sum(self._size[id(c)] for c in children)
            height = 1 + max((self._height[id(c)] for c in children), default=0)
        self._size[id(node)] = size
        self._height[id(node)] = height
        self._count(1, node.start_mark)
        return node

    def compose_sequence_node(self, anchor: Any) -> SequenceNode:
        self._enter()
        try:
            node: SequenceNode = super().compose_sequence_node(anchor)
        finally:
            self._depth -= 1
        return node

    def compose_mapping_node(self, anchor: Any) -> MappingNode:
        self._enter()
        try:
            node: MappingNode = super().compose_mapping_node(anchor)
        finally:
            self._depth -= 1
        seen: dict[tuple[str, str], Node] = {}
        for key, _ in node.value:
            if not isinstance(key, ScalarNode) or key.tag == _MERGE_TAG:
                continue
            first = seen.setdefault((key.tag, key.value), key)
            if first is not key:
                self._path.append(str(key.value))
                try:
                    raise _YAMLFieldError(
                        f"duplicate key {echo(key.value)}",
                        key.start_mark,
                        self._field(),
                        f"first given at line {first.start_mark.line + 1}; a key may appear once "
                        "per mapping",
                    )
                finally:
                    self._path.pop()
        return node

    def _enter(self) -> None:
        self._depth += 1
        self._check_depth(self._depth, self.peek_event().start_mark)


def _construct_int(loader: Any, node: Any) -> Any:
    if isinstance(node, ScalarNode) and len(node.value) > YAML_MAX_INT_DIGITS:
        raise ConstructorError(
            None,
            None,
            f"integer of {len(node.value)} characters is too long "
            f"(at most {YAML_MAX_INT_DIGITS})",
            node.start_mark,
        )
    return loader.construct_yaml_int(node)


if _CParser is not None:

    class _CheckedLoader(_CheckedComposer, _CParser, SafeConstructor, yaml.resolver.Resolver):
        """libyaml's parser, the checking composer, the safe constructor."""

        def __init__(self, stream: Any) -> None:
            _CParser.__init__(self, stream)
            _CheckedComposer.__init__(self)
            SafeConstructor.__init__(self)
            yaml.resolver.Resolver.__init__(self)

else:  # pragma: no cover - PyYAML without libyaml

    class _CheckedLoader(  # type: ignore[no-redef]
        yaml.reader.Reader,
        yaml.scanner.Scanner,
        yaml.parser.Parser,
        _CheckedComposer,
        SafeConstructor,
        yaml.resolver.Resolver,
    ):
        """PyYAML's pure-Python safe loader with the checking composer."""

        def __init__(self, stream: Any) -> None:
            yaml.reader.Reader.__init__(self, stream)
            yaml.scanner.Scanner.__init__(self)
            yaml.parser.Parser.__init__(self)
            _CheckedComposer.__init__(self)
            SafeConstructor.__init__(self)
            yaml.resolver.Resolver.__init__(self)


_CheckedLoader.add_constructor("tag:yaml.org,2002:int", _construct_int)


def load_yaml_text(text: str) -> Any:
    """Parse one YAML document with the checks of this module (raises ``yaml.YAMLError``)."""
    loader = _CheckedLoader(text)
    try:
        return loader.get_single_data()
    finally:
        loader.dispose()


def _read_yaml_text(path: Path) -> str:
    """The text of a YAML file: a bounded read of at most :data:`YAML_MAX_BYTES` of UTF-8."""
    limit = YAML_MAX_BYTES
    try:
        st = path.stat()
        if stat.S_ISDIR(st.st_mode):
            raise InputError("is a directory, not a YAML file", file=path)
        if stat.S_ISREG(st.st_mode) and st.st_size > limit:
            raise InputError(
                f"file is {st.st_size} bytes, more than the {limit}-byte limit of a YAML file",
                file=path,
            )
        with open(path, "rb") as fh:
            raw = fh.read(limit + 1)  # bounded: a device or a growing file stops here
    except FileNotFoundError:
        raise InputError("file not found", file=path) from None
    except (OSError, ValueError) as exc:
        raise InputError(f"cannot read file ({exc.__class__.__name__})", file=path) from None
    if len(raw) > limit:
        raise InputError(
            f"file is more than the {limit}-byte limit of a YAML file (a device or a pipe?)",
            file=path,
        )
    return decode_text(raw, file=path, binary_note=", not YAML text")


def read_yaml_mapping(path: str | Path) -> dict[str, Any]:
    """Parse a YAML file whose top level must be a mapping (checked as the module says)."""
    path = Path(path)
    text = _read_yaml_text(path)
    try:
        data = load_yaml_text(text)
    except _YAMLFieldError as exc:
        note = f" ({exc.note})" if exc.note else ""
        raise InputError(f"{exc.problem} {_at(exc)}{note}", file=path, field=exc.field) from None
    except yaml.YAMLError as exc:
        where = f" {_at(exc)}" if getattr(exc, "problem_mark", None) else ""
        problem = getattr(exc, "problem", None) or "invalid YAML"
        context = getattr(exc, "context", None)
        if context:
            problem = f"{context}, {problem}"
        raise InputError(f"malformed YAML{where}: {problem}", file=path) from None
    except RecursionError:  # pragma: no cover - the depth limit comes first
        raise InputError(f"nested more than {YAML_MAX_DEPTH} levels deep", file=path) from None
    if data is None:
        raise InputError("file is empty (expected a mapping of fields)", file=path)
    if not isinstance(data, dict):
        raise InputError(
            f"top level must be a mapping of fields, not a {_yaml_kind(data)}", file=path
        )
    return data


def _at(exc: yaml.YAMLError) -> str:
    mark = getattr(exc, "problem_mark", None)
    return f"at line {mark.line + 1}, column {mark.column + 1}" if mark else "at an unknown place"


def _yaml_kind(value: Any) -> str:
    if isinstance(value, list):
        return "list"
    if isinstance(value, str):
        return "string"
    if isinstance(value, bool):
        return "boolean"
    if isinstance(value, int | float):
        return "number"
    return type(value).__name__


def field_path(loc: Iterable[Any]) -> str:
    """Dotted field path from a pydantic error location. Tags of tagged unions, which models
    spell in brackets (``[grid]``), are not fields and are left out."""
    return ".".join(
        str(p) for p in loc if not (isinstance(p, str) and p.startswith("[") and p.endswith("]"))
    )


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
            msg = f"{msg} (got {echo(err['input'])})"
        raise InputError(msg, file=file, field=loc or None) from None


def parse_override(text: str) -> tuple[str, Any]:
    """Parse one ``dotted.path=value`` override; the value is read as a YAML scalar."""
    if "=" not in text:
        raise InputError(
            f"override '{shorten(text)}' is not of the form dotted.path=value", field="overrides"
        )
    key, _, raw = text.partition("=")
    key = key.strip()
    if not key or any(not part for part in key.split(".")):
        raise InputError(f"override '{shorten(text)}' has an empty field path", field="overrides")
    if key.count(".") >= YAML_MAX_DEPTH:
        raise InputError(
            f"override '{shorten(text)}' nests more than {YAML_MAX_DEPTH} levels deep",
            field="overrides",
        )
    try:
        value = load_yaml_text(raw) if raw.strip() else ""
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
    # a user energy table is named relative to the hardware YAML that refers to it
    energy = hw.energy.with_paths_from(Path(path).parent)
    return hw if energy is hw.energy else hw.model_copy(update={"energy": energy})


def hardware_to_yaml(hw: HardwareConfig) -> str:
    """The resolved configuration as YAML (every default made explicit)."""
    return yaml.safe_dump(hw.model_dump(mode="json"), sort_keys=False)
