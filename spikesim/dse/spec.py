"""The sweep specification (``SWEEP.yaml``): base hardware, axes, sampling, designs, constraints.

Example::

    base: ../hw_configs/spikequant-45nm.yaml   # relative to this file
    axes:
      if_array.lanes: [8, 16, 32]
      if_array.columns: [32, 64]
      quant.normal_coding: [count, bitserial]
    sampling: grid          # grid: every combination; random: `samples` distinct combinations
    seed: 0
    designs: [spikequant, mac-w4a4]
    constraints:
      max_area_mm2: 8.0
      relations: ["if_array.lanes <= if_array.columns"]

An axis whose values are mappings is a *bundle* axis: each value sets several fields together
(its keys are dotted paths), for knobs that only exist together; the axis name is a label::

    axes:
      array:
        - {if_array.dataflow: token_serial}
        - {if_array.dataflow: token_batched, if_array.batch_tokens: 64}

A file is a sweep spec when its top level has an ``axes`` key. Every axis path is checked
against the base configuration when the spec is loaded: each value is applied alone to the base
and validated, so an unknown path or an out-of-range value is an :class:`InputError` naming
``axes.<path>`` in the sweep file. Combinations that are invalid together (``salient_bits`` below
``act_bits``) are recorded as failed points, not rejected up front.

Workload axes
-------------
An axis (or a bundle key) named ``workload.PARAM`` varies the workload instead of the hardware:
``workload.tokens``, ``workload.batch``, ``workload.context``, ``workload.decode_steps`` (the
parameters of :func:`spikesim.trace.load_workload`, flags ``--tokens`` … ``--decode-steps``;
the other parameters, e.g. ``--phase``, stay fixed for the sweep)::

    axes:
      workload.batch: [1, 8, 64]
      workload.context: [512, 4096]
      dram.bandwidth_bytes_per_cycle: [16, 64]

Every value must be a positive integer (the loader's check and message); an unknown ``PARAM``
is an error naming ``axes.workload.PARAM``. Whether the workload can take them (a trace or a
topology CSV takes no batch, ``context`` contradicts phase ``both`` …) is known only with the
workload: :func:`spikesim.dse.runner.run_sweep` loads each distinct combination of workload
values and names the axis of any value the loader refuses. Relations and ``max_area_mm2``
concern the hardware only.

Limits (each an error naming the field): at most :data:`MAX_POINTS` grid points (``axes``,
sampling ``grid``) or ``samples`` (sampling ``random``, whose grid may be up to
:data:`MAX_RANDOM_GRID` combinations); at most :data:`MAX_AXIS_VALUES` values over all axes;
``seed`` from 0 to 2**64 - 1. A relation must compare numbers with numbers (``<``, ``<=``,
``>``, ``>=``) or values of one kind (``==``, ``!=``) over every value its fields take in the
sweep: comparing a number with a text field is an error naming ``constraints.relations``, not
a constraint that silently drops every point.
"""

from __future__ import annotations

import copy
import itertools
import math
import operator
import re
from collections.abc import Callable, Iterable, Iterator, Mapping
from dataclasses import dataclass
from enum import StrEnum
from pathlib import Path
from typing import Any

import numpy as np
from pydantic import Field, field_validator, model_validator

from spikesim.config._base import FrozenModel
from spikesim.config.hardware import HardwareConfig
from spikesim.config.loader import apply_overrides, read_yaml_mapping, validate_mapping
from spikesim.dataflows import DESIGNS, reference_design
from spikesim.errors import InputError, positive_int, shorten

_OPS: dict[str, Callable[[Any, Any], bool]] = {
    "<=": operator.le,
    ">=": operator.ge,
    "==": operator.eq,
    "!=": operator.ne,
    "<": operator.lt,
    ">": operator.gt,
}
MAX_POINTS = 100_000
"""Most hardware points of a sweep: the grid size (sampling ``grid``) or ``samples`` (sampling
``random``). Planning resolves and keeps every point (about 2.5 ms and 5 KB each)."""
MAX_AXIS_VALUES = 10_000
"""Most values over all axes (each is validated against the base when the spec is loaded)."""
MAX_RANDOM_GRID = 2**63 - 1
"""Largest grid random sampling draws from (combination indices are 64-bit integers)."""
MAX_SEED = 2**64 - 1
"""Largest ``seed`` (numpy's generators take any non-negative integer; 64 bits are plenty)."""
WORKLOAD_AXIS_PREFIX = "workload."
"""Start of a workload axis's name (``workload.batch``); every other axis is a hardware field."""
WORKLOAD_AXES = ("tokens", "batch", "context", "decode_steps")
"""The workload parameters an axis may vary (:func:`spikesim.trace.load_workload`'s)."""


def is_workload_path(path: str) -> bool:
    """True when a dotted axis path (or bundle key) names the workload, not the hardware."""
    return path.startswith(WORKLOAD_AXIS_PREFIX)


def workload_parameter(path: str) -> str:
    """``workload.batch`` → ``batch``."""
    return path[len(WORKLOAD_AXIS_PREFIX):]

_RELATION = re.compile(r"^\s*([A-Za-z_][\w.]*)\s*(<=|>=|==|!=|<|>)\s*(\S+)\s*$")
_PATH = re.compile(r"^[A-Za-z_]\w*(\.[A-Za-z_]\w*)*$")


class Sampling(StrEnum):
    """grid: every combination of the axes; random: ``samples`` distinct combinations."""

    GRID = "grid"
    RANDOM = "random"


class Relation(FrozenModel):
    """A parsed field relation: ``left op right`` (right: a field path or a number)."""

    left: str
    op: str
    right: str | float

    def holds(self, config: Mapping[str, Any]) -> bool:
        lhs = lookup(config, self.left)
        rhs = lookup(config, self.right) if isinstance(self.right, str) else self.right
        try:
            return bool(_OPS[self.op](lhs, rhs))
        except TypeError:
            return False

    def text(self) -> str:
        right = self.right if isinstance(self.right, str) else f"{self.right:g}"
        return f"{self.left} {self.op} {right}"


class Constraints(FrozenModel):
    """Points (or point × design) violating a constraint are dropped before simulation, counted."""

    max_area_mm2: float | None = Field(None, gt=0)
    """Largest area of a design on a point (mm², from the energy table's area section)."""

    relations: tuple[str, ...] = ()
    """Field relations every point must satisfy, ``path op path`` or ``path op number``
    (op: <, <=, >, >=, ==, !=), e.g. ``if_array.lanes <= if_array.columns``."""

    @field_validator("relations")
    @classmethod
    def _parse(cls, relations: tuple[str, ...]) -> tuple[str, ...]:
        for text in relations:
            parse_relation(text)
        return relations

    def parsed_relations(self) -> tuple[Relation, ...]:
        return tuple(parse_relation(t) for t in self.relations)


def parse_relation(text: str) -> Relation:
    match = _RELATION.match(text)
    if match is None:
        raise ValueError(f"relation '{text}' is not 'field.path OP field.path|number'")
    left, op, right = match.groups()
    value: str | float
    try:
        value = float(right)
    except ValueError:
        if not _PATH.match(right):
            raise ValueError(
                f"relation '{text}': '{right}' is neither a number nor a path"
            ) from None
        value = right
    if isinstance(value, float) and not math.isfinite(value):
        raise ValueError(f"relation '{text}': '{right}' is not a finite number")
    return Relation(left=left, op=op, right=value)


class SweepSpec(FrozenModel):
    """A sweep: points (base hardware + axis values, and the workload's ``workload.*`` axis
    values) × designs, simulated on one trace or workload."""

    base: str = Field(min_length=1)
    """The base hardware YAML, relative to the sweep file, or the name of a shipped preset."""

    axes: dict[str, tuple[Any, ...]] = Field(min_length=1)
    """Dotted field path → the values it takes (any HardwareConfig field, or a workload
    parameter ``workload.tokens|batch|context|decode_steps``); or a label → the bundles it
    takes (each a mapping of dotted field path → value, set together)."""

    sampling: Sampling = Sampling.GRID
    samples: int | None = Field(None, gt=0, le=MAX_POINTS)
    """Number of distinct random combinations (``sampling: random`` only; at most
    :data:`MAX_POINTS`)."""

    seed: int = Field(0, ge=0, le=MAX_SEED)
    """Seed of the random sampling (numpy Generator): 0 to 2**64 - 1."""

    designs: tuple[str, ...] = Field(
        default_factory=lambda: (reference_design(),), min_length=1
    )
    """Designs simulated at every point (registered names: ``spikequant``, ``mac-w4a4``, ...;
    default: the reference design)."""

    constraints: Constraints = Constraints()

    @field_validator("axes")
    @classmethod
    def _axes(cls, axes: dict[str, tuple[Any, ...]]) -> dict[str, tuple[Any, ...]]:
        count = sum(len(values) for values in axes.values())
        if count > MAX_AXIS_VALUES:
            raise ValueError(
                f"{count:,} values over {len(axes):,} axes; at most {MAX_AXIS_VALUES:,} in all"
            )
        for path, values in axes.items():
            if not _PATH.match(path):
                raise ValueError(f"axis '{path}' is not a dotted field path")
            if not values:
                raise ValueError(f"axis '{path}' has no values")
            bundles = [isinstance(v, Mapping) for v in values]
            if any(bundles) and not all(bundles):
                raise ValueError(
                    f"axis '{path}' mixes mappings (bundles of fields) and single values"
                )
            for value in values if all(bundles) else ():
                if not value:
                    raise ValueError(f"axis '{path}' has an empty bundle")
                for key in value:
                    if not isinstance(key, str) or not _PATH.match(key):
                        raise ValueError(
                            f"axis '{path}': bundle key '{key}' is not a dotted field path"
                        )
        return axes

    def is_bundle(self, axis: str) -> bool:
        """True when the axis's values are bundles (mappings of field path → value)."""
        return isinstance(self.axes[axis][0], Mapping)

    def _flat(self, point: Mapping[str, Any]) -> dict[str, Any]:
        """Every path a point sets: single-valued axes as they are, bundles flattened."""
        out: dict[str, Any] = {}
        for axis, value in point.items():
            if self.is_bundle(axis):
                out.update(value)
            else:
                out[axis] = value
        return out

    def overrides(self, point: Mapping[str, Any]) -> dict[str, Any]:
        """A point's hardware field overrides: single-valued axes as they are, bundles
        flattened; workload axes left out (:meth:`workload_values`)."""
        return {k: v for k, v in self._flat(point).items() if not is_workload_path(k)}

    def workload_values(self, point: Mapping[str, Any]) -> dict[str, Any]:
        """A point's workload parameters (``{"batch": 8, ...}``), from its ``workload.*`` axes
        and bundle keys; empty when the sweep has none."""
        return {workload_parameter(k): v for k, v in self._flat(point).items()
                if is_workload_path(k)}

    def workload_paths(self) -> list[str]:
        """The ``workload.*`` paths the axes set (single-valued axes and bundle keys), in order."""
        paths: list[str] = []
        for axis, values in self.axes.items():
            keys = [k for v in values for k in v] if self.is_bundle(axis) else [axis]
            paths.extend(k for k in keys if is_workload_path(k))
        return list(dict.fromkeys(paths))

    @property
    def has_workload_axes(self) -> bool:
        """True when some axis varies the workload (:data:`WORKLOAD_AXES`)."""
        return bool(self.workload_paths())

    def columns(self) -> list[str]:
        """The result columns the axes give: a field path per single-valued axis; a bundle
        axis's label (the bundle as ``path=value, ...``) and every path its bundles set."""
        out: list[str] = []
        for axis, values in self.axes.items():
            if self.is_bundle(axis):
                out.append(axis)
                out.extend(dict.fromkeys(k for v in values for k in v if k not in out))
            else:
                out.append(axis)
        return list(dict.fromkeys(out))

    def column_fields(self, column: str) -> set[str]:
        """The config fields (dotted paths) a result column of :meth:`columns` shows."""
        if column in self.axes and self.is_bundle(column):
            return {k for v in self.axes[column] for k in v}
        return {column}

    def column_values(
        self, point: Mapping[str, Any], config: Mapping[str, Any] | None
    ) -> dict[str, Any]:
        """The values of :meth:`columns` at a point: read from the resolved ``config`` (the
        point's overrides when it did not resolve); a bundle's label as ``path=value, ...``."""
        flat = self._flat(point)
        out: dict[str, Any] = {}
        for axis, value in point.items():
            if self.is_bundle(axis):
                out[axis] = ", ".join(f"{k}={v}" for k, v in value.items())
        for column in self.columns():
            if column in out:
                continue
            if config is None or is_workload_path(column):
                out[column] = flat.get(column)
            else:
                out[column] = lookup(config, column)
        return out

    @field_validator("designs")
    @classmethod
    def _designs(cls, designs: tuple[str, ...]) -> tuple[str, ...]:
        for d in designs:
            if d not in DESIGNS:
                raise ValueError(
                    f"unknown design '{d}' (known: {', '.join(sorted(DESIGNS.names()))})"
                )
        if len(set(designs)) != len(designs):
            raise ValueError("a design is listed twice")
        return designs

    @model_validator(mode="after")
    def _samples(self) -> SweepSpec:
        if self.sampling is Sampling.RANDOM and self.samples is None:
            raise ValueError("sampling 'random' needs 'samples'")
        if self.sampling is Sampling.GRID and self.samples is not None:
            raise ValueError("'samples' is only used with sampling 'random'")
        return self

    @property
    def grid_size(self) -> int:
        return math.prod(len(v) for v in self.axes.values())

    def size_problem(self) -> str | None:
        """Why the axes span too many points to sample (see :data:`MAX_POINTS`), or None."""
        size = self.grid_size
        if self.sampling is Sampling.GRID and size > MAX_POINTS:
            return (
                f"the grid has {_count(size)} points; at most {MAX_POINTS:,} (use sampling: "
                "random with samples, or fewer values)"
            )
        if size > MAX_RANDOM_GRID:
            return f"the grid has {_count(size)} points; random sampling draws from at most 2**63"
        return None

    def points(self) -> Iterator[dict[str, Any]]:
        """The sampled points as ``{axis path: value}``, in a deterministic order.

        Raises
        ------
        ValueError
            The axes span more points than the limits allow (:meth:`size_problem`).
        """
        problem = self.size_problem()
        if problem is not None:
            raise ValueError(problem)
        names = list(self.axes)
        sizes = [len(self.axes[n]) for n in names]
        if self.sampling is Sampling.GRID:
            for combo in itertools.product(*(self.axes[n] for n in names)):
                yield dict(zip(names, combo, strict=True))
            return
        assert self.samples is not None
        rng = np.random.default_rng(self.seed)
        total = self.grid_size
        want = min(self.samples, total)
        if total <= 4 * want or total <= 1_000_000:
            flat = rng.choice(total, size=want, replace=False)
        else:  # huge grid: draw with rejection of duplicates
            seen: dict[int, None] = {}
            while len(seen) < want:
                seen.setdefault(int(rng.integers(total)), None)
            flat = np.fromiter(seen, dtype=np.int64)
        for index in flat:
            digits = np.unravel_index(int(index), sizes)
            yield {n: self.axes[n][int(d)] for n, d in zip(names, digits, strict=True)}


def _count(n: int) -> str:
    return f"{n:,}" if n < 10**15 else f"about 10^{len(str(n)) - 1}"


@dataclass(frozen=True)
class LoadedSweep:
    """A validated sweep spec with its files resolved."""

    spec: SweepSpec
    path: Path
    """The sweep YAML."""
    base_path: Path
    """The base hardware YAML (resolved against the sweep file's folder)."""
    base: HardwareConfig
    """The base configuration."""


_MISSING = object()


def lookup(config: Mapping[str, Any], path: str, default: Any = None) -> Any:
    """The value at dotted ``path`` in a nested mapping (``default`` if absent)."""
    node: Any = config
    for part in path.split("."):
        if not isinstance(node, Mapping) or part not in node:
            return default
        node = node[part]
    return node


def under(path: str, prefixes: Iterable[str]) -> bool:
    """True when dotted ``path`` is one of ``prefixes`` or lies inside one of them."""
    return any(path == p or path.startswith(p + ".") for p in prefixes)


def without(config: Mapping[str, Any], paths: Iterable[str]) -> dict[str, Any]:
    """A copy of nested ``config`` without the fields at dotted ``paths``."""
    out = copy.deepcopy(dict(config))
    for path in paths:
        *parents, last = path.split(".")
        node: Any = out
        for part in parents:
            node = node.get(part) if isinstance(node, Mapping) else None
        if isinstance(node, dict):
            node.pop(last, None)
    return out


def resolve_point(
    base_path: Path, base_data: Mapping[str, Any], overrides: Mapping[str, Any]
) -> HardwareConfig:
    """The hardware of one point: the parsed base YAML with ``overrides`` applied, validated.

    Same result as ``load_hardware(base_path, overrides)`` without re-reading the file (the
    energy-table path is resolved against the base file's folder the same way).
    """
    hw = validate_mapping(HardwareConfig, apply_overrides(dict(base_data), overrides),
                          file=base_path)
    energy = hw.energy.with_paths_from(base_path.parent)
    return hw if energy is hw.energy else hw.model_copy(update={"energy": energy})


def load_sweep(path: str | Path) -> LoadedSweep:
    """Read and validate a sweep YAML; check every axis value against the base hardware."""
    from spikesim.config.loader import load_hardware
    from spikesim.config.presets import resolve_sweep

    path = resolve_sweep(path)  # a file, or a shipped sweep by name
    data = read_yaml_mapping(path)
    spec = validate_mapping(SweepSpec, data, file=path)
    base_path = Path(spec.base)
    if not base_path.is_absolute():
        base_path = path.parent / base_path
    if not base_path.is_file() and len(Path(spec.base).parts) == 1:
        from spikesim.config.presets import list_presets, preset_path

        if spec.base.removesuffix(".yaml") in list_presets():  # a shipped preset, by name
            base_path = preset_path(spec.base)
    if not base_path.is_file():
        raise InputError(f"base hardware file '{base_path}' not found", file=path, field="base")
    problem = spec.size_problem()
    if problem is not None:
        raise InputError(problem, file=path, field="axes")
    base = load_hardware(base_path)
    base_data = read_yaml_mapping(base_path)
    dumped = base.model_dump(mode="json")
    relations = spec.constraints.parsed_relations()
    for rel in relations:
        for side in (rel.left, rel.right):
            if isinstance(side, str) and lookup(dumped, side, _MISSING) is _MISSING:
                raise InputError(
                    f"relation '{rel.text()}' names '{side}', not a field of the hardware",
                    file=path,
                    field="constraints.relations",
                )
    fields = {side for rel in relations for side in (rel.left, rel.right) if isinstance(side, str)}
    taken: dict[str, dict[str, list[Any]]] = {f: {} for f in fields}
    """field → axis → the field's value in the config of each of the axis's values"""
    for axis, values in spec.axes.items():
        for value in values:
            _check_workload_values(path, spec, axis, value)
            overrides = spec.overrides({axis: value})
            if not overrides:  # a workload value only: the hardware is the base
                continue
            try:
                data = apply_overrides(base_data, overrides)
                hw = validate_mapping(HardwareConfig, data, file=path)
            except InputError as exc:
                where = f" (at '{exc.field}')" if exc.field and exc.field != axis else ""
                raise InputError(
                    f"value {_short(value)}: {exc.message}{where}", file=path,
                    field=f"axes.{axis}",
                ) from None
            if fields:
                config = hw.model_dump(mode="json")
                for f in fields:
                    taken[f].setdefault(axis, []).append(lookup(config, f))
    for rel in relations:
        problem = _relation_problem(rel, spec, dumped, taken)
        if problem is not None:
            raise InputError(problem, file=path, field="constraints.relations")
    return LoadedSweep(spec=spec, path=path, base_path=base_path, base=base)


def _check_workload_values(path: Path, spec: SweepSpec, axis: str, value: Any) -> None:
    """A workload axis value (or a bundle's workload keys): a known parameter
    (:data:`WORKLOAD_AXES`) and a positive integer, checked and worded by the workload
    loader's own check; else an :class:`InputError` naming ``axes.<axis>`` in ``path``."""
    for param, given in spec.workload_values({axis: value}).items():
        where = f" (at '{WORKLOAD_AXIS_PREFIX}{param}')" if spec.is_bundle(axis) else ""
        if param not in WORKLOAD_AXES:
            known = ", ".join(WORKLOAD_AXIS_PREFIX + p for p in WORKLOAD_AXES)
            raise InputError(
                f"unknown workload parameter '{shorten(param)}'{where} (known: {known})",
                file=path, field=f"axes.{axis}",
            )
        try:
            positive_int(given, param)
        except InputError as exc:
            raise InputError(f"{exc.message}{where}", file=path, field=f"axes.{axis}") from None


def _short(value: Any, limit: int = 80) -> str:
    text = repr(value)
    return text if len(text) <= limit else text[: limit - 1] + "…"


def _kind(value: Any) -> str:
    if value is None:
        return "null"
    if isinstance(value, bool):
        return "boolean"
    if isinstance(value, int | float):
        return "number"
    if isinstance(value, str):
        return "text"
    return "section" if isinstance(value, Mapping) else "list"


def _values_taken(
    field: str,
    spec: SweepSpec,
    base: Mapping[str, Any],
    taken: Mapping[str, Mapping[str, list[Any]]],
) -> list[Any]:
    """Every value ``field`` takes over the sweep: those set by the axes, and the base value
    unless one axis sets the field at every one of its values."""
    values: list[Any] = []
    covered = False
    for axis, axis_values in spec.axes.items():
        sets = [under(field, spec.overrides({axis: v})) for v in axis_values]
        if any(sets):
            values += [v for v, s in zip(taken[field][axis], sets, strict=True) if s]
        covered = covered or all(sets)
    if not covered:
        values.append(lookup(base, field))
    return values


def _relation_problem(
    rel: Relation, spec: SweepSpec, base: Mapping[str, Any],
    taken: Mapping[str, Mapping[str, list[Any]]],
) -> str | None:
    """Why ``rel`` cannot be evaluated as meant on every point of the sweep, or None."""
    sides = [
        (side, _values_taken(side, spec, base, taken) if isinstance(side, str) else [side])
        for side in (rel.left, rel.right)
    ]

    def shown(side: str | float) -> str:
        return side if isinstance(side, str) else f"{side:g}"

    for side, values in sides:
        for value in values:
            if _kind(value) in ("section", "list"):
                return f"relation '{rel.text()}': '{shown(side)}' is a {_kind(value)}, not a value"
    if rel.op in ("<", "<=", ">", ">="):
        for side, values in sides:
            for value in values:
                if _kind(value) != "number":
                    return (
                        f"relation '{rel.text()}': '{shown(side)}' takes the {_kind(value)} "
                        f"value {_short(value)}; {rel.op} compares numbers only"
                    )
        return None
    left, right = ({_kind(v) for v in values} - {"null"} for _, values in sides)
    if left and right and len(left | right) > 1:
        return (
            f"relation '{rel.text()}' compares a {' or '.join(sorted(left))} with a "
            f"{' or '.join(sorted(right))}; {rel.op} needs values of one kind"
        )
    return None
