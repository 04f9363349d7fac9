"""The pricing assumptions of a run, per simulated design: the ``pricing`` object of
``summary.json`` and the "Pricing assumptions" section of ``report.md``.

Everything is read from the run's resolved hardware configuration (``config.yaml``) and its
priced ``actions.csv``; a design's family comes from the design registry
(:func:`spikesim.dataflows.get_design`), never from its name. Widths are the ones the actions
were *counted* at; ``priced_bits`` is the width the energy model priced them at (they differ
only for the spike add under ``energy.spike_add: operand_width``).
"""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from typing import Any

import pandas as pd

from spikesim.config.hardware import HardwareConfig
from spikesim.dataflows import DESIGNS, DesignKind
from spikesim.energy import energy_label, energy_sources, spike_add_bits

__all__ = ["ARRAY_COMPONENTS", "pricing_assumptions", "pricing_rows"]

ARRAY_COMPONENTS = ("if_array", "mac_array")
"""Components whose actions are the arithmetic of a design's array."""

_MULTIPLY = ("multiply", "fp_multiply")
_ADD = ("add", "fp_add")


def _text(value: Any) -> str:
    return "" if pd.isna(value) else " ".join(str(value).split())


def _widths(part: pd.DataFrame, actions: Sequence[str]) -> list[int]:
    rows = part[part["action"].isin(list(actions))]
    return sorted({int(b) for b in rows["bits"]})


def _one_or_list(widths: list[int]) -> int | list[int] | None:
    if not widths:
        return None
    return widths[0] if len(widths) == 1 else widths


def _array_actions(part: pd.DataFrame, hw: HardwareConfig) -> list[dict[str, Any]]:
    """One entry per distinct (component, action, counted bits) of the array: how it was priced."""
    out = []
    keys = ["component", "action", "bits"]
    for _, rows in part.groupby(keys, sort=True):
        first = rows.iloc[0]
        component, action, bits = str(first["component"]), str(first["action"]), int(first["bits"])
        priced = bits
        if (component, action) == ("if_array", "acc"):
            priced = spike_add_bits(hw, bits)[0]
        entry: dict[str, Any] = {
            "component": component,
            "action": action,
            "counted_bits": bits,
            "priced_bits": priced,
            "energy_per_action_pj": float(first["energy_per_action_pj"]),
        }
        for column in ("energy_table", "energy_entry", "energy_scaling"):
            if column in rows.columns:
                entry[column] = _text(first[column])
        out.append(entry)
    return out


def pricing_assumptions(
    hw: HardwareConfig, actions: pd.DataFrame, designs: Sequence[str]
) -> dict[str, Any]:
    """The ``pricing`` object of ``summary.json``.

    ``energy_table`` is the configured table; per design: its ``kind`` (registry), the energy
    tables its rows name, and the counted and priced widths of its array arithmetic. Spiking
    designs give ``accumulator_bits`` (``if_array.acc_bits``), ``compare_bits`` (as counted),
    ``spike_add`` (the pricing rule) and ``spike_add_priced_bits``; MAC designs give
    ``arithmetic``, ``accumulator_bits`` (``mac.acc_bits``; an FP design: its FP add width),
    ``multiplier_bits`` and ``adder_bits`` (as counted: the multiply at its wider operand, the
    add at the accumulator). ``array_actions`` lists every arithmetic action of the array with
    its counted and priced width and its energy-table entry and scaling.
    """
    per_design: dict[str, Any] = {}
    for name in designs:
        part = actions[
            (actions["design"] == name) & actions["component"].isin(list(ARRAY_COMPONENTS))
        ]
        kind = DESIGNS.get(name).kind if name in DESIGNS else None
        tables = (
            sorted({_text(t) for t in actions.loc[actions["design"] == name, "energy_table"]})
            if "energy_table" in actions.columns
            else []
        )
        info: dict[str, Any] = {
            "kind": None if kind is None else kind.value,
            "energy_tables": [t for t in tables if t] or [energy_label(hw.energy)],
        }
        if kind is DesignKind.SPIKING:
            ifa = part[part["component"] == "if_array"]
            info.update(
                accumulator_bits=hw.if_array.acc_bits,
                compare_bits=_one_or_list(_widths(ifa, ["compare"]))
                or hw.if_array.compare_width_bits,
                spike_add=hw.energy.spike_add.value,
                spike_add_priced_bits=spike_add_bits(hw, hw.if_array.acc_bits)[0],
            )
        elif kind is DesignKind.MAC:
            mac = part[part["component"] == "mac_array"]
            floating = not len(mac[mac["action"] == "add"]) and len(mac[mac["action"] == "fp_add"])
            info.update(
                arithmetic="floating point" if floating else "integer",
                accumulator_bits=_one_or_list(_widths(mac, ["fp_add"]))
                if floating
                else hw.mac.acc_bits,
                multiplier_bits=_one_or_list(_widths(mac, _MULTIPLY)),
                adder_bits=_one_or_list(_widths(mac, _ADD)),
            )
        info["array_actions"] = _array_actions(part, hw)
        per_design[name] = info
    return {
        "energy_table": energy_label(hw.energy),
        "energy_sources": energy_sources(hw.energy),
        "spike_add": hw.energy.spike_add.value,
        "spike_add_guard_bits": hw.energy.spike_add_guard_bits,
        "paper_convention": hw.energy.paper.model_dump(mode="json"),
        "weight_bits": hw.quant.weight_bits,
        "designs": per_design,
    }


def _bits(value: Any) -> str:
    if value is None:
        return "-"
    if isinstance(value, list):
        return ", ".join(str(v) for v in value)
    return str(value)


def pricing_rows(pricing: Mapping[str, Any]) -> list[list[str]]:
    """Rows of the report's pricing table, one per design: design, kind, accumulator bits,
    compare bits, spike add, multiplier bits, adder bits, energy table(s)."""
    rows = []
    for name, info in (pricing.get("designs") or {}).items():
        spiking = info.get("kind") == DesignKind.SPIKING.value
        spike_add = (
            f"{info.get('spike_add')} ({info.get('spike_add_priced_bits')} bits)"
            if spiking
            else "-"
        )
        rows.append(
            [
                str(name),
                str(info.get("kind") or "?"),
                _bits(info.get("accumulator_bits")),
                _bits(info.get("compare_bits")) if spiking else "-",
                spike_add,
                _bits(info.get("multiplier_bits")) if not spiking else "-",
                _bits(info.get("adder_bits")) if not spiking else "-",
                ", ".join(f"`{t}`" for t in info.get("energy_tables") or []) or "-",
            ]
        )
    return rows
