"""Which table prices which part: hardware files' ``energy:`` forms, nodes, and their errors."""

from __future__ import annotations

from pathlib import Path
from typing import Any

import pytest
import yaml

from spikesim.config import HardwareConfig
from spikesim.config.hardware import EnergyRef
from spikesim.energy import (
    NODE_DEFAULTS,
    builtin_tables,
    energy_label,
    energy_model,
    energy_per_action,
    energy_sources,
    load_energy_table,
)
from spikesim.errors import InputError

ROOT = Path(__file__).resolve().parents[2]


def hw_with(**energy: Any) -> HardwareConfig:
    data = yaml.safe_load((ROOT / "hw_configs" / "spikequant-45nm.yaml").read_text())
    data["energy"] = energy
    return HardwareConfig.model_validate(data)


ACTIONS = [
    ("if_array", "acc", 24),
    ("mac_array", "multiply", 4),
    ("sram.weights", "read", 256),
    ("sram.activations", "write", 64),
    ("dram", "read", 8),
]


def test_one_table_form_prices_exactly_as_that_table() -> None:
    """``energy: {table: horowitz-45nm}`` (the old form) gives the table's own numbers."""
    hw = hw_with(table="horowitz-45nm")
    table = load_energy_table("horowitz-45nm")
    model = energy_model(hw)
    assert energy_label(hw.energy) == "horowitz-45nm"
    for component, action, bits in ACTIONS:
        a = energy_per_action(model, component, action, bits, hw)
        b = energy_per_action(table, component, action, bits, hw)
        assert a == b


def test_parts_come_from_their_own_tables() -> None:
    hw = hw_with(table="horowitz-45nm", operations="node-22nm")
    model = energy_model(hw)
    assert energy_sources(hw.energy) == {
        "operations": "node-22nm", "sram": "horowitz-45nm", "dram": "horowitz-45nm"
    }
    acc = energy_per_action(model, "if_array", "acc", 8, hw)
    assert acc.table == "node-22nm"
    assert acc.energy_pj == load_energy_table("node-22nm").operation_energy("int_add", 8).energy_pj
    assert energy_per_action(model, "sram.weights", "read", 256, hw).table == "horowitz-45nm"
    assert energy_label(hw.energy) == (
        "operations: node-22nm, sram: horowitz-45nm, dram: horowitz-45nm"
    )


@pytest.mark.parametrize("node", sorted(NODE_DEFAULTS))
def test_every_node_default_exists_at_its_node(node: float) -> None:
    for part, name in NODE_DEFAULTS[node].items():
        assert name in builtin_tables(), name
        table = load_energy_table(name)
        assert getattr(table, part) is not None, (name, part)
        if part != "dram":
            assert table.technology_nm == node
    energy_model(EnergyRef(node_nm=node))


def test_nothing_named_means_the_default_node() -> None:
    from spikesim.energy import DEFAULT_NODE_NM

    assert energy_sources(EnergyRef()) == dict(NODE_DEFAULTS[DEFAULT_NODE_NM])


def test_a_node_no_table_covers_names_the_node() -> None:
    with pytest.raises(InputError, match="no built-in energy table covers 14 nm") as info:
        energy_model(EnergyRef(node_nm=14))
    assert info.value.field == "energy.node_nm"
    # naming every part's table at that node is allowed only if the tables are at it
    with pytest.raises(InputError, match=r"at 45 nm but energy\.node_nm is 14") as info:
        energy_model(EnergyRef(node_nm=14, table="horowitz-45nm"))
    assert info.value.field == "energy.table"


def test_a_table_at_another_node_names_the_part() -> None:
    with pytest.raises(InputError, match=r"at 22 nm but energy\.node_nm is 45") as info:
        energy_model(EnergyRef(node_nm=45, operations="node-22nm"))
    assert info.value.field == "energy.operations"


def test_unknown_table_names_the_part() -> None:
    with pytest.raises(InputError, match="unknown energy table 'nope'") as info:
        energy_model(EnergyRef(sram="nope"))
    assert info.value.field == "energy.sram"


def test_relative_table_paths_follow_the_hardware_file(tmp_path: Path) -> None:
    from spikesim.config.loader import load_hardware

    data = yaml.safe_load((ROOT / "hw_configs" / "spikequant-45nm.yaml").read_text())
    table = yaml.safe_load(
        (ROOT / "spikesim" / "energy" / "tables" / "horowitz-45nm.yaml").read_text()
    )
    table["name"] = "mine"
    (tmp_path / "tables").mkdir()
    (tmp_path / "tables" / "mine.yaml").write_text(yaml.safe_dump(table))
    data["energy"] = {"table": "horowitz-45nm", "dram": "tables/mine.yaml"}
    (tmp_path / "hw.yaml").write_text(yaml.safe_dump(data))
    hw = load_hardware(tmp_path / "hw.yaml")
    assert hw.energy.dram == str((tmp_path / "tables" / "mine.yaml").resolve())
    assert energy_per_action(energy_model(hw), "dram", "read", 8, hw).table == "mine"


def test_bounds_move_only_ranged_values() -> None:
    model = energy_model(EnergyRef(table="horowitz-45nm"))
    assert model.has_ranges
    hw = hw_with(table="horowitz-45nm")
    low, high = model.bound("low"), model.bound("high")
    assert energy_per_action(low, "dram", "read", 8, hw).energy_pj == 8 * 20.3125
    assert energy_per_action(high, "dram", "read", 8, hw).energy_pj == 8 * 40.625
    for side in (low, high):
        assert (
            energy_per_action(side, "if_array", "acc", 24, hw)
            == energy_per_action(model, "if_array", "acc", 24, hw)
        )


def test_a_table_file_is_parsed_once_per_version(tmp_path: Path) -> None:
    """The same file loads to the same table without a second parse; an edited file (new
    size or modification time) is read again."""
    table = yaml.safe_load(
        (ROOT / "spikesim" / "energy" / "tables" / "horowitz-45nm.yaml").read_text()
    )
    path = tmp_path / "mine.yaml"
    table["name"] = "first"
    path.write_text(yaml.safe_dump(table))
    first = load_energy_table(path)
    assert load_energy_table(path) is first
    table["name"] = "second, edited"
    path.write_text(yaml.safe_dump(table))
    assert load_energy_table(path).name == "second, edited"
    path.unlink()
    with pytest.raises(InputError, match=r"mine\.yaml"):
        load_energy_table(path)
