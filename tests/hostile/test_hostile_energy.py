"""Hostile energy input: a bad table entry, or an energy section no table can serve, is one
error naming the file and the entry, through `validate` and through `simulate` (which keeps the
existing run directory as it was)."""

from __future__ import annotations

import shutil
from collections.abc import Callable
from pathlib import Path
from typing import Any

import pytest
import yaml
from hostile_support import refused_by_validate_and_simulate

from spikesim.cli import main

ROOT = Path(__file__).resolve().parents[2]
HW = ROOT / "hw_configs" / "spikequant-45nm.yaml"
HOROWITZ = ROOT / "spikesim" / "energy" / "tables" / "horowitz-45nm.yaml"
GEMM = "4,32,40"


def _table(change: Callable[[dict[str, Any]], None]) -> dict[str, Any]:
    data = yaml.safe_load(HOROWITZ.read_text())
    data["name"] = "user"
    change(data)
    return data


def _set(path: str, value: Any) -> Callable[[dict[str, Any]], None]:
    def change(data: dict[str, Any]) -> None:
        node: Any = data
        parts = path.split(".")
        for part in parts[:-1]:
            node = node[int(part)] if isinstance(node, list) else node[part]
        last = parts[-1]
        if value is _DELETE:
            del node[last]
        elif isinstance(node, list):
            node[int(last)] = value
        else:
            node[last] = value

    return change


_DELETE = object()

# table entry → (mutation, field the error names, what it says)
TABLE_CASES: dict[str, tuple[Callable[[dict[str, Any]], None], str, str]] = {
    "negative-op": (
        _set("operations.int_add.rows.0.energy_pj", -0.03),
        "operations.int_add.rows.0.energy_pj", "greater than or equal",
    ),
    "missing-op-energy": (
        _set("operations.int_mult.rows.1.energy_pj", _DELETE),
        "operations.int_mult.rows.1.energy_pj", "missing field",
    ),
    "unitless-op": (
        _set("operations.int_add.rows.1.energy_pj", "0.1 pJ"),
        "operations.int_add.rows.1.energy_pj", "valid number",
    ),
    "negative-sram": (
        _set("sram.points.0.energy_pj_per_access", -10.0),
        "sram.points.0.energy_pj_per_access", "greater than",
    ),
    "missing-dram-energy": (
        _set("dram.energy_pj_per_bit", _DELETE), "dram.energy_pj_per_bit", "missing field",
    ),
    "range-outside": (
        _set("dram.range_pj_per_bit", [30.0, 40.0]), "dram", "does not contain",
    ),
    "unitless-dram": (
        _set("dram.energy_pj_per_bit", "20 pJ/bit"), "dram.energy_pj_per_bit", "valid number",
    ),
    "grid-negative": (
        _set(
            "sram",
            {"model": "grid", "source": "x", "grid": [{
                "capacity_bytes": 1024, "word_bits": 64, "read_pj": -1, "write_pj": 1,
                "leakage_mw": 0, "area_um2": 1, "source": "x"}]},
        ),
        "sram.grid.0.read_pj", "greater than",
    ),
}


@pytest.fixture(scope="module")
def tiny_trace(tmp_path_factory: pytest.TempPathFactory) -> Path:
    out = tmp_path_factory.mktemp("hostile-energy-trace") / "gemm"
    assert main(["synth", "--gemm", GEMM, "--out", str(out)]) == 0
    return out


@pytest.fixture(scope="module")
def master_run(tmp_path_factory: pytest.TempPathFactory, tiny_trace: Path) -> Path:
    out = tmp_path_factory.mktemp("hostile-energy-run") / "run"
    args = ["simulate", "--hw", "spikequant-45nm", "--trace", str(tiny_trace), "--out", str(out)]
    assert main([*args, "--quiet", "--no-figures"]) == 0
    return out


@pytest.fixture
def existing_run(master_run: Path, tmp_path: Path) -> Path:
    out = tmp_path / "runs" / "run"
    shutil.copytree(master_run, out)
    return out


@pytest.mark.parametrize("name", list(TABLE_CASES))
def test_bad_table_is_one_error(
    name: str,
    tmp_path: Path,
    tiny_trace: Path,
    existing_run: Path,
    capsys: pytest.CaptureFixture[str],
) -> None:
    change, field, says = TABLE_CASES[name]
    table = tmp_path / "user-table.yaml"
    table.write_text(yaml.safe_dump(_table(change)))
    hw = yaml.safe_load(HW.read_text())
    hw["energy"] = {"dram": "user-table.yaml", "sram": "user-table.yaml",
                    "operations": "user-table.yaml"}
    hw_file = tmp_path / "hw.yaml"
    hw_file.write_text(yaml.safe_dump(hw))
    refused_by_validate_and_simulate(
        capsys, table, hw_file, tiny_trace, existing_run, table, f"field '{field}", says
    )


# hardware energy section → (field the error names, what it says)
HW_CASES: dict[str, tuple[dict[str, Any], str, str]] = {
    "node-uncovered": ({"node_nm": 14}, "energy.node_nm", "no built-in energy table covers 14 nm"),
    "node-mismatch": (
        {"node_nm": 22, "operations": "horowitz-45nm"}, "energy.operations", "is at 45 nm",
    ),
    "part-lacks-section": (
        {"table": "horowitz-45nm", "sram": "node-22nm"}, "energy.sram", "has no sram section",
    ),
    "unknown-table": ({"dram": "no-such-table"}, "energy.dram", "unknown energy table"),
    "paper-negative": ({"paper": {"mac_pj": -4.6}}, "energy.paper.mac_pj", "greater than"),
    "node-zero": ({"node_nm": 0}, "energy.node_nm", "greater than"),
    "table-prices-nothing": (
        {"table": "horowitz-45nm", "operations": "horowitz-45nm", "sram": "cacti7-45nm-lop",
         "dram": "horowitz-45nm"},
        "energy", "would price no part",
    ),
}


@pytest.mark.parametrize("name", list(HW_CASES))
def test_bad_energy_section_is_one_error(
    name: str,
    tmp_path: Path,
    tiny_trace: Path,
    existing_run: Path,
    capsys: pytest.CaptureFixture[str],
) -> None:
    energy, field, says = HW_CASES[name]
    hw = yaml.safe_load(HW.read_text())
    hw["energy"] = energy
    hw_file = tmp_path / "hw.yaml"
    hw_file.write_text(yaml.safe_dump(hw))
    refused_by_validate_and_simulate(
        capsys, hw_file, hw_file, tiny_trace, existing_run, hw_file, f"field '{field}", says
    )
