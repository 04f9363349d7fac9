"""Pricing: action counts × per-action energy, plus leakage × time.

The simulator counts, the energy model prices::

    energy_pj = Σ count × energy_per_action(component, action, bits, hw)
              + Σ leakage_W × cycles / clock_hz × 1e12

Each (component, action) is priced by one entry of the :class:`~spikesim.energy.table.EnergyTable`,
chosen by the *kind* of the component (the part before the first ``.``: ``sram.weights`` has kind
``sram``) through the registry :data:`ACTION_PRICING`:

=================================  =============================  ==================================
component kind                     actions                        priced as
=================================  =============================  ==================================
``if_array``                       ``acc``                        ``int_add`` at ``bits``, or under
                                                                  ``energy.spike_add:
                                                                  operand_width`` at
                                                                  :func:`spike_add_bits`
``if_array``                       ``shift``, ``compare``,        ``int_add`` at ``bits``
                                   ``fire``
``threshold``                      ``multiply``                   ``int_mult`` at ``bits``
``latch``                          ``read`` / ``write``           ``register_read`` /
                                                                  ``register_write`` at ``bits``
``encoder``                        ``convert``, ``emit``          ``int_add`` at ``bits``
``mac_array``, ``dequant``,        ``multiply`` / ``add``         ``int_mult`` / ``int_add`` at
``requant``                                                       ``bits``
``mac_array``                      ``and`` (bit-serial operand    ``int_add`` at ``bits`` (upper
                                   gate of ``mac-bitserial``)     bound: no gate row)
``mac_array``, ``dequant``,        ``fp_multiply`` / ``fp_add``   ``fp_mult`` / ``fp_add`` at
``requant``                                                       ``bits`` (16: FP16, 32: FP32)
``vector_unit``                    ``fp_mult`` / ``fp_add``       ``fp_mult`` / ``fp_add`` at
                                                                  ``bits`` (16: FP16, 32: FP32)
``sram.<name>``                    ``read``, ``write``            SRAM access of ``bits`` to
                                                                  ``hw.sram[<name>]`` (its
                                                                  capacity; ``bits`` = word width)
``dram``                           ``read``, ``write``            ``bits × energy_pj_per_bit``
                                                                  (count is bytes, ``bits`` = 8)
=================================  =============================  ==================================

The width an action is *priced* at is the width it was *counted* at (its ``bits``), except
for rules with ``width = Width.SPIKE_ADD`` (``if_array.acc``): there the hardware's
``energy.spike_add`` decides (see :class:`spikesim.config.hardware.SpikeAdd`), the counts and
their ``bits`` stay as counted, and ``energy_entry`` / ``energy_scaling`` / ``source`` say which
width was priced. ``if_array.acc`` also holds the TTFS slope adds and bit-serial merges (adds of
a full-width register, :data:`spikesim.hw.stats.EXTRA_ACC`); ``operand_width`` prices those
narrow too (they are not counted apart).

An unknown (component, action), or an ``sram.<name>`` the hardware does not have, is a
programming error of whoever emitted the count and raises :class:`UnpricedActionError`. A table
lacking an operation that an action needs is a user-input problem and raises
:class:`~spikesim.errors.InputError` naming ``operations.<op>`` in the table file. New components
are added with :func:`register_action` (a duplicate registration is an error).

Every priced row carries its provenance twice: ``source``, one printable sentence with the
arithmetic, and the structured columns ``energy_table``, ``energy_entry``, ``energy_scaling``,
``energy_citation`` (:data:`spikesim.schema.PROVENANCE_COLUMNS`), which reports read.
"""

from __future__ import annotations

from collections.abc import Iterable, Mapping, Sequence
from dataclasses import dataclass, replace
from enum import StrEnum
from types import MappingProxyType
from typing import Any, cast

import numpy as np
import pandas as pd
from numpy.typing import NDArray

from spikesim.config.hardware import HardwareConfig, SpikeAdd
from spikesim.energy.sums import group_sums
from spikesim.energy.table import EnergyTable, PricedAction
from spikesim.schema import (
    COUNTED_ACTION_COLUMNS,
    LAYER_KEYS,
    PRICE_COLUMNS,
    PROVENANCE_COLUMNS,
    energy_column,
)

LEAK_ACTION = "leak"
"""Action name of leakage rows (count = cycles, energy per action = energy per cycle)."""


class UnpricedActionError(LookupError):
    """A (component, action) no pricing rule covers: a bug in whoever emitted the count."""


class Entry(StrEnum):
    """Which section of the energy table prices an action."""

    OPERATION = "operation"
    SRAM = "sram"
    DRAM = "dram"


class Width(StrEnum):
    """Which width an operation rule prices: the counted ``bits``, or the spike-add rule."""

    COUNTED = "counted"
    SPIKE_ADD = "spike_add"
    """``energy.spike_add`` decides (:func:`spike_add_bits`)."""


@dataclass(frozen=True, slots=True)
class PriceRule:
    """How one (component kind, action) is priced."""

    entry: Entry
    operation: str | None = None
    """The table operation (``int_add``, ...) when ``entry`` is ``operation``."""
    width: Width = Width.COUNTED
    """Which width the operation is priced at (operation rules only)."""

    def __post_init__(self) -> None:
        if (self.entry is Entry.OPERATION) != (self.operation is not None):
            raise ValueError("an operation rule names exactly one operation; others name none")
        if self.entry is not Entry.OPERATION and self.width is not Width.COUNTED:
            raise ValueError("only an operation rule may price another width than the counted one")


def _op(name: str) -> PriceRule:
    return PriceRule(Entry.OPERATION, name)


_REGISTRY: dict[tuple[str, str], PriceRule] = {
    ("if_array", "acc"): PriceRule(Entry.OPERATION, "int_add", Width.SPIKE_ADD),
    **{("if_array", a): _op("int_add") for a in ("shift", "compare", "fire")},
    ("threshold", "multiply"): _op("int_mult"),
    ("latch", "read"): _op("register_read"),
    ("latch", "write"): _op("register_write"),
    **{("encoder", a): _op("int_add") for a in ("convert", "emit")},
    **{
        (kind, action): _op(op)
        for kind in ("mac_array", "dequant", "requant")
        for action, op in (
            ("multiply", "int_mult"),
            ("add", "int_add"),
            ("fp_multiply", "fp_mult"),
            ("fp_add", "fp_add"),
        )
    },
    # An n-bit operand gate (AND/XOR) priced as an n-bit integer add: an upper bound (a gate per
    # bit against a full adder per bit); the table has no logic-gate row.
    ("mac_array", "and"): _op("int_add"),
    # The FP vector unit (RMSNorm, RoPE, softmax, SiLU·up, residual adds; spikesim.hw.vector).
    ("vector_unit", "fp_add"): _op("fp_add"),
    ("vector_unit", "fp_mult"): _op("fp_mult"),
    ("sram", "read"): PriceRule(Entry.SRAM),
    ("sram", "write"): PriceRule(Entry.SRAM),
    ("dram", "read"): PriceRule(Entry.DRAM),
    ("dram", "write"): PriceRule(Entry.DRAM),
}

ACTION_PRICING: Mapping[tuple[str, str], PriceRule] = MappingProxyType(_REGISTRY)
"""Read-only view of the registry: (component kind, action) → :class:`PriceRule`."""


def register_action(kind: str, action: str, rule: PriceRule) -> None:
    """Add a pricing rule for a new (component kind, action); re-registering is an error."""
    key = (kind, action)
    if key in _REGISTRY:
        raise ValueError(f"pricing rule for {kind}.{action} is already registered")
    _REGISTRY[key] = rule


def component_kind(component: str) -> str:
    """The registry kind of a component name: ``sram.weights`` → ``sram``."""
    return component.split(".", 1)[0]


def spike_add_bits(hw: HardwareConfig, bits: int) -> tuple[int, str]:
    """The width a spike's membrane add counted at ``bits`` is priced at, and why (empty when
    priced as counted).

    ``energy.spike_add: full_width``: ``bits``. ``operand_width``: ``quant.weight_bits +
    energy.spike_add_guard_bits``, at most ``bits``.
    """
    energy = hw.energy
    if energy.spike_add is SpikeAdd.FULL_WIDTH:
        return int(bits), ""
    wb, guard = hw.quant.weight_bits, energy.spike_add_guard_bits
    priced = min(int(bits), wb + guard)
    return priced, (
        f"spike_add operand_width: priced at {priced} bits (weight_bits {wb} + "
        f"{guard} guard bits, at most the counted {int(bits)})"
    )


def _priced_width(
    table: EnergyTable, op: str, width: Width, bits: int, hw: HardwareConfig
) -> PricedAction:
    if width is Width.COUNTED:
        return table.operation_energy(op, bits)
    priced_bits, why = spike_add_bits(hw, bits)
    priced = table.operation_energy(op, priced_bits)
    if not why:
        return priced
    return replace(
        priced,
        source=f"{why}; {priced.source}",
        entry=f"{priced.entry} at {priced_bits} bits (operand_width)",
        scaling="; ".join(s for s in (why, priced.scaling) if s),
    )


def energy_per_action(
    table: EnergyTable, component: str, action: str, bits: int, hw: HardwareConfig
) -> PricedAction:
    """Energy (pJ) and provenance of one ``action`` of ``component`` at ``bits``."""
    kind = component_kind(component)
    rule = _REGISTRY.get((kind, action))
    if rule is None:
        known = sorted(f"{k}.{a}" for k, a in _REGISTRY)
        raise UnpricedActionError(
            f"no pricing rule for component '{component}' action '{action}' "
            f"(kind '{kind}'); known: {', '.join(known)}"
        )
    bits = int(bits)
    if rule.entry is Entry.OPERATION:
        assert rule.operation is not None
        return _priced_width(table, rule.operation, rule.width, bits, hw)
    if rule.entry is Entry.DRAM:
        return table.dram_energy(bits)
    name = component[len(kind) + 1 :] if component.startswith(f"{kind}.") else ""
    if name not in hw.sram:
        raise UnpricedActionError(
            f"component '{component}' names no SRAM of hardware '{hw.name}' "
            f"(has: {', '.join(f'sram.{n}' for n in sorted(hw.sram))})"
        )
    return table.sram_bank_energy(name, hw.sram[name], bits, action)


def price_actions(actions: pd.DataFrame, hw: HardwareConfig, table: EnergyTable) -> pd.DataFrame:
    """A copy of ``actions`` with the :data:`~spikesim.schema.PRICE_COLUMNS` added.

    ``actions`` needs columns ``component, action, count, bits``; any other column (``layer``,
    ``design``, ...) is kept. The input frame is not modified. ``energy_pj = count ×
    energy_per_action_pj``; ``source`` is the provenance as one sentence and ``energy_table``,
    ``energy_entry``, ``energy_scaling``, ``energy_citation`` the same as separate columns.
    """
    missing = [c for c in COUNTED_ACTION_COLUMNS if c not in actions.columns]
    if missing:
        raise ValueError(f"action table lacks column(s) {', '.join(missing)}")
    clash = [c for c in PRICE_COLUMNS if c in actions.columns]
    if clash:
        raise ValueError(f"action table is already priced (has {', '.join(clash)})")
    distinct = distinct_actions(actions)
    prices, codes = distinct.prices(hw, table), distinct.codes
    per_action = np.array([p.energy_pj for p in prices], dtype=np.float64)[codes]
    provenance = [(p.source, *p.provenance()) for p in prices]
    added = {  # the new columns at once (a column inserted one by one costs a new index each)
        "energy_per_action_pj": per_action,
        "energy_pj": actions["count"].to_numpy(dtype=np.float64) * per_action,
        **{
            column: pd.Series(_objects([row[i] for row in provenance])[codes],
                              index=actions.index, dtype="object")
            for i, column in enumerate(["source", *PROVENANCE_COLUMNS])
        },
    }
    return pd.concat([actions, pd.DataFrame(added, index=actions.index)], axis=1)


def action_energy_pj(
    actions: pd.DataFrame, hw: HardwareConfig, table: EnergyTable
) -> NDArray[np.float64]:
    """``count × energy_per_action_pj`` of every row of ``actions`` (the ``energy_pj`` column of
    :func:`price_actions`, bit for bit) without the provenance columns."""
    return distinct_actions(actions).energy_pj(hw, table)


def _objects(values: list[str]) -> NDArray[np.object_]:
    """``values`` as a 1-d object array (to index by row codes; a list of tuples stays 1-d)."""
    out = np.empty(len(values), dtype=object)
    out[:] = values
    return out


@dataclass(frozen=True, eq=False)
class DistinctActions:
    """The distinct (component, action, bits) of an action table, in order of first
    occurrence, each row's index among them, and the rows' counts as float64 (a run of
    thousands of layers repeats the same few dozen actions: each is priced once per table)."""

    keys: list[tuple[str, str, int]]
    codes: NDArray[np.intp]
    counts: NDArray[np.float64]

    def prices(self, hw: HardwareConfig, table: EnergyTable) -> list[PricedAction]:
        """Each distinct action priced by ``table`` (:func:`energy_per_action`, remembered)."""
        return _remembered_prices(table, self.keys, hw)

    def per_action_pj(self, hw: HardwareConfig, table: EnergyTable) -> NDArray[np.float64]:
        """Per row, the energy of one action under ``table`` (pJ)."""
        prices = self.prices(hw, table)
        return np.array([p.energy_pj for p in prices], dtype=np.float64)[self.codes]

    def energy_pj(self, hw: HardwareConfig, table: EnergyTable) -> NDArray[np.float64]:
        """Per row, ``count × energy_per_action_pj`` under ``table`` (pJ)."""
        return self.counts * self.per_action_pj(hw, table)


def distinct_actions(actions: pd.DataFrame) -> DistinctActions:
    """:class:`DistinctActions` of ``actions`` (columns component, action, bits, count)."""
    return _distinct(
        zip(
            actions["component"].to_numpy(dtype=object),
            actions["action"].to_numpy(dtype=object),
            actions["bits"].to_numpy(),
            strict=True,
        ),
        len(actions),
        actions["count"].to_numpy(dtype=np.float64),
    )


def distinct_action_records(records: Sequence[tuple[Any, ...]]) -> DistinctActions:
    """:class:`DistinctActions` of action rows ``(*keys, component, action, count, bits)``
    (:meth:`ActionCounter.rows <spikesim.actions.ActionCounter.rows>`), as of the table
    :func:`spikesim.actions.keyed_actions_frame` makes of them (counts through int64)."""
    counts = np.array([r[-2] for r in records], dtype=np.int64).astype(np.float64)
    return _distinct(((r[-4], r[-3], r[-1]) for r in records), len(records), counts)


def _distinct(
    keys: Iterable[tuple[Any, Any, Any]], n: int, counts: NDArray[np.float64]
) -> DistinctActions:
    index: dict[tuple[Any, Any, Any], int] = {}
    codes = np.empty(n, dtype=np.intp)
    for row, key in enumerate(keys):
        code = index.get(key)
        if code is None:
            code = index[key] = len(index)
        codes[row] = code
    found = [(str(c), str(a), int(b)) for c, a, b in index]
    return DistinctActions(found, codes, counts)


def _remembered_prices(
    table: EnergyTable, keys: Sequence[tuple[str, str, int]], hw: HardwareConfig
) -> list[PricedAction]:
    """:func:`energy_per_action` of each (component, action, bits) of ``keys``, remembered by
    the table (:meth:`EnergyTable.memo`) under everything of ``hw`` it reads: the spike-add
    rule's fields and the SRAM's own configuration (runs that share a table, as the points of
    a sweep do, price each distinct action once)."""
    memo = table.memo()
    energy = hw.energy
    rule = (energy.spike_add, energy.spike_add_guard_bits, hw.quant.weight_bits)
    banks = hw.sram
    out: list[PricedAction] = []
    for component, action, bits in keys:
        bank = banks.get(component[5:]) if component.startswith("sram.") else None
        key = ("price", component, action, bits, *rule, bank)
        priced = memo.get(key)
        if priced is None:  # an unpriceable action raises every time, and is not remembered
            priced = memo[key] = energy_per_action(table, component, action, bits, hw)
        out.append(cast(PricedAction, priced))
    return out


def leakage_energy_pj(hw: HardwareConfig, table: EnergyTable, cycles: int) -> dict[str, float]:
    """Leakage energy per component over ``cycles`` of ``hw.clock_hz``: W × cycles / Hz × 1e12.

    Every ``sram.<name>`` of ``hw`` appears (0 when the table models no SRAM leakage), plus every
    component the table's ``leakage.components`` lists.
    """
    if int(cycles) != cycles or cycles < 0:
        raise ValueError(f"cycles must be a non-negative integer, got {cycles!r}")
    seconds = int(cycles) / hw.clock_hz
    return {c: watts * seconds * 1e12 for c, watts in table.leakage_power_w(hw).items()}


def price_leakage(
    layers: pd.DataFrame,
    hw: HardwareConfig,
    table: EnergyTable,
    *,
    keys: Sequence[str] = LAYER_KEYS,
    cycles_column: str = "total_cycles",
) -> pd.DataFrame:
    """Leakage as priced rows, one per (key group, leaking component), for :func:`component_energy`.

    ``layers`` has one row per key group (default keys: :data:`~spikesim.schema.LAYER_KEYS`) with
    its cycles in ``cycles_column``. Each row has ``action = "leak"``, ``count`` = the group's
    cycles, ``bits = 0``, ``energy_per_action_pj`` = leakage energy per cycle
    (W / clock_hz × 1e12), and the provenance columns of :func:`price_actions`. Components with
    zero leakage power get no row, so a table without leakage adds nothing.
    """
    keys = list(keys)
    columns = [*keys, *COUNTED_ACTION_COLUMNS, *PRICE_COLUMNS]
    leaking = leaking_components(hw, table)
    n, k = len(layers), len(leaking)
    if not n or not k:
        return pd.DataFrame([], columns=columns).astype(
            {"count": "int64", "bits": "int64", "energy_per_action_pj": "float64",
             "energy_pj": "float64"}
        )
    # one row per (layer row, leaking component), layer rows outer: built as columns
    repeat = np.repeat(np.arange(n), k)
    cycles = np.repeat(layers[cycles_column].to_numpy(dtype=np.int64), k)
    per_cycle = np.tile(np.array([p for _, p, _ in leaking], dtype=np.float64), n)
    frame = layers[keys].iloc[repeat].reset_index(drop=True)
    text = {  # string columns, inferred as a column assigned from an object array is
        "component": np.tile(_objects([c for c, _, _ in leaking]), n),
        "action": np.full(n * k, LEAK_ACTION, dtype=object),
        **{column: np.tile(_objects([prov[i] for _, _, prov in leaking]), n)
           for i, column in enumerate(["source", *PROVENANCE_COLUMNS])},
    }
    added = {
        **{c: pd.Series(v, index=frame.index) for c, v in text.items()},
        "count": cycles,
        "bits": np.zeros(n * k, dtype=np.int64),
        "energy_per_action_pj": per_cycle,
        "energy_pj": cycles.astype(np.float64) * per_cycle,
    }
    return pd.concat([frame, pd.DataFrame(added, index=frame.index)], axis=1)[columns]


def leakage_energy_rows(
    layers: pd.DataFrame,
    hw: HardwareConfig,
    table: EnergyTable,
    *,
    keys: Sequence[str] = LAYER_KEYS,
    cycles_column: str = "total_cycles",
) -> pd.DataFrame:
    """The rows of :func:`price_leakage` (same order, same ``energy_pj``, bit for bit) with only
    the ``keys``, ``component`` and ``energy_pj`` columns: what a sum of leakage energy needs,
    without a provenance sentence per row."""
    keys = list(keys)
    leaking = leaking_components(hw, table)
    repeat = np.repeat(np.arange(len(layers)), len(leaking))
    frame = layers[keys].iloc[repeat].reset_index(drop=True)
    frame["component"] = pd.Series(
        np.tile(_objects([c for c, _, _ in leaking]), len(layers)), dtype="object"
    )
    frame["energy_pj"] = leakage_energy_values(
        layers[cycles_column].to_numpy(dtype=np.int64), hw, table
    )
    return frame


def leakage_energy_values(
    cycles: NDArray[np.int64], hw: HardwareConfig, table: EnergyTable
) -> NDArray[np.float64]:
    """The ``energy_pj`` of :func:`price_leakage`'s rows for layer rows of ``cycles`` (one per
    (row, leaking component), rows outer), bit for bit: cycles (exact in float64 below
    2^53) × energy per cycle."""
    per_cycle = np.array([p for _, p, _ in leaking_components(hw, table)], dtype=np.float64)
    return np.repeat(cycles.astype(np.float64), len(per_cycle)) * np.tile(per_cycle, len(cycles))


def leaking_components(
    hw: HardwareConfig, table: EnergyTable
) -> list[tuple[str, float, tuple[str, str, str, str, str]]]:
    """Per component with leakage (sorted): its energy per cycle (pJ) and the provenance
    columns of its leak rows (``source`` and :data:`~spikesim.schema.PROVENANCE_COLUMNS`).
    Remembered by the table under what of ``hw`` it reads (the clock and the SRAMs)."""
    key = ("leaking", hw.clock_hz, tuple(hw.sram.items()))
    memo = table.memo()
    found = memo.get(key)
    if found is None:
        found = memo[key] = _find_leaking_components(hw, table)
    return cast(list[tuple[str, float, tuple[str, str, str, str, str]]], found)


def _find_leaking_components(
    hw: HardwareConfig, table: EnergyTable
) -> list[tuple[str, float, tuple[str, str, str, str, str]]]:
    out = []
    powers = {c: p for c, p in table.leakage_power(hw).items() if p.watts > 0}
    for component, power in sorted(powers.items()):
        per_cycle = power.watts / hw.clock_hz * 1e12
        source = (
            f"{power.table} leakage: {power.watts:.6g} W"
            + (f" ({power.scaling})" if power.scaling else "")
            + f" / {hw.clock_hz:.6g} Hz = {per_cycle:.6g} pJ per cycle [{power.citation}]"
        )
        scaling = "; ".join(
            s for s in (power.scaling, f"per cycle: / {hw.clock_hz:.6g} Hz") if s
        )
        out.append(
            (component, per_cycle, (source, power.table, power.entry, scaling, power.citation))
        )
    return out


def component_energy(priced: pd.DataFrame, keys: Sequence[str] = LAYER_KEYS) -> pd.DataFrame:
    """Energy per component, wide: one row per key group (default keys:
    :data:`~spikesim.schema.LAYER_KEYS`), ``energy_pj`` total first, then one
    ``energy_<component>_pj`` column per component (:func:`spikesim.schema.energy_column`;
    sorted by component name; 0 where a group has none).

    With ``keys=[]`` the result is one row over the whole table.
    """
    keys = list(keys)
    components = sorted(str(c) for c in priced["component"].unique())
    columns = [energy_column(c) for c in components]
    if len(set(columns)) != len(columns) or "energy_pj" in columns:
        raise ValueError(f"component names collide as column names: {components}")
    if keys:
        sums = priced.groupby([*keys, "component"], sort=True)["energy_pj"].sum()
        wide = sums.unstack("component", fill_value=0)
    else:
        sums = priced.groupby("component", sort=True)["energy_pj"].sum()
        wide = pd.DataFrame([sums.to_numpy()], columns=sums.index)
    wide = wide.reindex(columns=components, fill_value=0.0).astype("float64")
    wide.columns = pd.Index(columns)
    wide.insert(0, "energy_pj", wide[columns].sum(axis=1) if columns else 0.0)
    wide = wide.reset_index() if keys else wide.reset_index(drop=True)
    wide.columns.name = None
    return wide


def component_energy_by_row(
    priced: pd.DataFrame, rows: NDArray[np.intp], layer_keys: pd.DataFrame
) -> pd.DataFrame:
    """:func:`component_energy`'s columns (``energy_pj``, then ``energy_<component>_pj``) for
    each row of ``layer_keys`` (the key columns of a layer table, one row per key group),
    given the row of each priced row (``rows``): the same sums, bit for bit, without grouping
    the priced rows by their string keys (:func:`component_sums`)."""
    comp_codes, uniques = pd.factorize(priced["component"], sort=True)
    sums = component_sums(priced["energy_pj"].to_numpy(dtype=np.float64),
                          np.asarray(comp_codes, dtype=np.intp), [str(c) for c in uniques],
                          rows, [layer_keys[k].to_numpy(dtype=object) for k in layer_keys],
                          len(layer_keys))
    return pd.DataFrame(sums)


def component_sums(
    energy: NDArray[np.float64],
    comp_codes: NDArray[np.intp],
    components: Sequence[str],
    rows: NDArray[np.intp],
    layer_keys: Sequence[NDArray[np.object_]],
    n_rows: int,
) -> dict[str, NDArray[np.float64]]:
    """:func:`component_energy_by_row`'s columns, as arrays by name, of priced rows given as
    arrays: their ``energy`` (pJ), their component as an index into ``components`` (sorted
    names) and their layer row (``rows``; ``layer_keys``: the key columns of the ``n_rows``
    layer rows, as object arrays).

    pandas sums a group with ``np.add.reduceat`` when the group ids are sorted along the rows,
    else with a compensated loop, so the bits depend on the ids: they are made here exactly as
    :func:`component_energy`'s sorted grouping makes them (the rank of (layer keys,
    component) among the groups present), from the ranks of the (few) layer rows and of the
    components, and summed as pandas sums them (:func:`spikesim.energy.sums.group_sums`). A
    row without any priced row is NaN, as a left merge of :func:`component_energy` leaves
    it."""
    columns = [energy_column(c) for c in components]
    if len(set(columns)) != len(columns) or "energy_pj" in columns:
        raise ValueError(f"component names collide as column names: {list(components)}")
    width = max(1, len(components))
    keys = [np.unique(column, return_inverse=True)[1].reshape(-1) for column in layer_keys]
    order = np.lexsort(keys[::-1]) if keys else np.arange(n_rows)
    rank = np.empty(n_rows, dtype=np.int64)
    rank[order] = np.arange(n_rows)
    labels = rank[rows] * width + comp_codes
    present_groups, ids = np.unique(labels, return_inverse=True)
    sums = group_sums(energy, ids.reshape(-1), len(present_groups), sort=True)
    wide = np.zeros((n_rows, len(components)), dtype=np.float64)
    wide[order[present_groups // width], present_groups % width] = sums
    # a row's total as component_energy's row sum adds it: along the row of a C-ordered array
    total = wide.sum(axis=1) if columns else np.zeros(n_rows, dtype=np.float64)
    present = np.zeros(n_rows, dtype=bool)
    present[rows] = True
    if not present.all():
        wide[~present] = np.nan
        total[~present] = np.nan
    return {"energy_pj": total, **{c: wide[:, j] for j, c in enumerate(columns)}}
