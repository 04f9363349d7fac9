"""Operation tables at other technology nodes: jouppi-7nm (cited) and node-32/28/22nm (generated
by scripts/node_tables.py by geometric interpolation between horowitz-45nm and jouppi-7nm)."""

from __future__ import annotations

import importlib.util
import math
from pathlib import Path
from types import ModuleType

import pytest

from spikesim.energy.table import (
    EnergyTable,
    SRAMArea,
    SRAMModel,
    builtin_tables,
    load_energy_table,
)

ROOT = Path(__file__).resolve().parents[2]
SCRIPT = ROOT / "scripts" / "node_tables.py"
TABLES = ROOT / "spikesim" / "energy" / "tables"
NODES = (32, 28, 22)

# The numbers as the cited sources print them (pJ per operation, per bit for memories).
HOROWITZ_45NM = {  # Horowitz, ISSCC 2014, 45 nm 0.9 V
    ("int_add", 8): 0.03,
    ("int_add", 32): 0.1,
    ("int_mult", 8): 0.2,
    ("int_mult", 32): 3.1,
    ("fp_add", 16): 0.4,
    ("fp_add", 32): 0.9,
    ("fp_mult", 16): 1.1,
    ("fp_mult", 32): 3.7,
    ("register_read", 1): 0.009,  # Aladdin 40 nm (hwcomponents-library, library/aladdin.py)
    ("register_write", 1): 0.0,  # Aladdin 40 nm
}
JOUPPI_7NM = {  # Jouppi et al., ISCA 2021 (Ten Lessons), Table 2, 7 nm
    # koc-lab/BitTransGNN, bittransgnn_calcs/bittransgnn_energy_calc.py, tot_energy("7nm"):
    ("int_add", 8): 0.007,
    ("int_add", 32): 0.03,
    ("int_mult", 8): 0.07,
    ("int_mult", 32): 1.48,
    ("fp_add", 32): 0.38,
    ("fp_mult", 32): 1.31,  # also Sadi, Sudarshan, Wehn, Des. Autom. Embed. Syst. 2024
    # FP16: the project's reference notes (section 4.1), not verified against a public copy:
    ("fp_add", 16): 0.16,
    ("fp_mult", 16): 0.34,
    # derived, not cited: Aladdin's 0.009 pJ x 0.007 / 0.03 (the 8-bit add's ratio)
    ("register_read", 1): 0.0021,
    ("register_write", 1): 0.0,
}
BITTRANSGNN = [(op, b) for op in ("int_add", "int_mult") for b in (8, 32)] + [
    ("fp_add", 32),
    ("fp_mult", 32),
]
ACCELFORGE_TPUV4I = {  # Accelergy-Project/accelforge, examples/arches/tpu_v4i.yaml (J per bit)
    "MainMemory": 7.03e-12,
    "LocalBuffer read (4 MB)": 0.249e-12,
    "GlobalBuffer read (128 MB)": 1.88e-12,
}
TSMC_7NM_CELL_UM2 = 0.027  # Chang et al., ISSCC 2017, 12.1


def _script() -> ModuleType:
    spec = importlib.util.spec_from_file_location("node_tables_script", SCRIPT)
    assert spec is not None
    assert spec.loader is not None
    module = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(module)
    return module


def _rows(table: EnergyTable) -> dict[tuple[str, int], float]:
    assert table.operations is not None
    return {(op, r.bits): r.energy_pj for op, o in table.operations.items() for r in o.rows}


def _t(node: float) -> float:
    return math.log(45 / node) / math.log(45 / 7)


def _round6(x: float) -> float:
    return float(f"{x:.6g}")


@pytest.fixture(scope="module")
def low() -> EnergyTable:
    return load_energy_table("horowitz-45nm")


@pytest.fixture(scope="module")
def high() -> EnergyTable:
    return load_energy_table("jouppi-7nm")


def test_script_regenerates_the_shipped_files_byte_for_byte(tmp_path: Path) -> None:
    written = _script().generate(tmp_path)
    assert [p.name for p in written] == [f"node-{n}nm.yaml" for n in NODES]
    for path in written:
        assert path.read_bytes() == (TABLES / path.name).read_bytes(), (
            f"{path.name} is stale: rerun python scripts/node_tables.py"
        )


def test_script_check_mode(tmp_path: Path) -> None:
    script = _script()
    assert script.main(["--check"]) == 0
    assert script.main(["--check", "--out", str(tmp_path)]) == 1  # nothing there yet
    assert script.main(["--out", str(tmp_path)]) == 0
    assert script.main(["--check", "--out", str(tmp_path)]) == 0


def test_every_table_is_built_in_and_valid() -> None:
    names = builtin_tables()
    for name in ("jouppi-7nm", *(f"node-{n}nm" for n in NODES)):
        assert name in names
        table = load_energy_table(name)
        assert table.name == name
        assert table.leakage is not None
        assert table.leakage.sram_w_per_byte == 0
        assert table.leakage.components == {}
        assert table.area is not None
    for node in NODES:
        table = load_energy_table(f"node-{node}nm")
        assert table.technology_nm == node
        assert table.sram is None  # CACTI tables per node provide it
    assert load_energy_table("jouppi-7nm").technology_nm == 7


def test_endpoint_tables_hold_the_cited_numbers(low: EnergyTable, high: EnergyTable) -> None:
    assert _rows(low) == HOROWITZ_45NM
    assert _rows(high) == JOUPPI_7NM
    assert _rows(high)[("register_read", 1)] == pytest.approx(0.009 * 0.007 / 0.03)
    assert high.operations is not None
    sources = {(op, r.bits): r.source for op, o in high.operations.items() for r in o.rows}
    for key in BITTRANSGNN:
        assert "Ten Lessons" in sources[key], key
        assert "BitTransGNN" in sources[key], key
    for key in (("fp_add", 16), ("fp_mult", 16)):
        assert "not verified" in sources[key], key


def test_7nm_memory_and_area_hold_the_cited_numbers(high: EnergyTable) -> None:
    assert high.dram is not None
    assert high.dram.energy_pj_per_bit * 1e-12 == pytest.approx(ACCELFORGE_TPUV4I["MainMemory"])
    assert "tpu_v4i.yaml" in high.dram.source
    assert high.sram is not None
    assert isinstance(high.sram, SRAMModel)
    points = {p.capacity_bytes: p.energy_pj_per_access / p.access_bits for p in high.sram.points}
    assert points == pytest.approx(
        {
            4 * 2**20: ACCELFORGE_TPUV4I["LocalBuffer read (4 MB)"] * 1e12,
            128 * 2**20: ACCELFORGE_TPUV4I["GlobalBuffer read (128 MB)"] * 1e12,
        }
    )
    # a small bank is clamped to the 4 MiB point, and the provenance says so
    priced = high.sram_access_energy(2048, 64)
    assert priced.energy_pj == pytest.approx(64 * 0.249)
    assert "clamped" in priced.source
    assert high.area is not None
    cell_um2 = high.area.sram.cell_area_f2 * (high.area.sram.feature_nm * 1e-3) ** 2
    assert cell_um2 == pytest.approx(TSMC_7NM_CELL_UM2)
    assert high.area.node_scale == pytest.approx((45 / 40) ** 2 * 0.059)  # S&B 45 -> 7 nm area


@pytest.mark.parametrize("node", NODES)
def test_interpolated_rows_equal_the_formula_and_lie_between_the_endpoints(
    node: int, low: EnergyTable, high: EnergyTable
) -> None:
    table = load_energy_table(f"node-{node}nm")
    rows, e45, e7 = _rows(table), _rows(low), _rows(high)
    assert set(rows) == set(e45) == set(e7)
    t = _t(node)
    for key, value in rows.items():
        a, b = e45[key], e7[key]
        if key[0].startswith("register"):
            # known at 45 nm only: shrinks like the measured 8-bit add
            ratio = e7[("int_add", 8)] / e45[("int_add", 8)]
            expected = 0.0 if a == 0 else _round6(a * ratio**t)
        else:
            expected = _round6(a * (b / a) ** t)
        assert value == expected, key
        assert min(a, b) <= value <= max(a, b), key
        if a != b:
            assert min(a, b) < value < max(a, b), key
    assert table.operations is not None
    for op, body in table.operations.items():
        assert body.scaling == (low.operations or {})[op].scaling
        for r in body.rows:
            if r.energy_pj > 0:
                assert "horowitz-45nm" in r.source
                assert "jouppi-7nm" in r.source
                assert f"ln(45/{node})/ln(45/7)" in r.note


def test_interpolated_energies_fall_with_the_node(low: EnergyTable, high: EnergyTable) -> None:
    chain = [_rows(low), *(_rows(load_energy_table(f"node-{n}nm")) for n in NODES), _rows(high)]
    for key in HOROWITZ_45NM:
        values = [rows[key] for rows in chain]
        assert values == sorted(values, reverse=True), key


@pytest.mark.parametrize("node", NODES)
def test_dram_area_and_leakage(node: int, low: EnergyTable, high: EnergyTable) -> None:
    table = load_energy_table(f"node-{node}nm")
    assert table.dram is not None
    assert low.dram is not None
    assert table.dram.energy_pj_per_bit == low.dram.energy_pj_per_bit
    assert table.dram.source == " ".join(low.dram.source.split())
    assert "not to the accelerator's logic node" in table.dram.note
    assert table.area is not None
    assert low.area is not None
    assert high.area is not None
    t = _t(node)
    assert table.area.node_scale == _round6(
        low.area.node_scale * (high.area.node_scale / low.area.node_scale) ** t
    )
    assert high.area.node_scale < table.area.node_scale < low.area.node_scale
    for name, part in table.area.components.items():
        ref = low.area.components[name]
        assert (part.ref_bits, part.area_um2, part.scaling) == (
            ref.ref_bits,
            ref.area_um2,
            ref.scaling,
        )

    def cell(area_sram: SRAMArea) -> float:
        return area_sram.cell_area_f2 * (area_sram.feature_nm * 1e-3) ** 2

    c45, c7 = cell(low.area.sram), cell(high.area.sram)
    assert cell(table.area.sram) == pytest.approx(c45 * (c7 / c45) ** t, rel=1e-5)
    assert c7 < cell(table.area.sram) < c45
    assert "Stillmaker & Baas" in table.description


def test_interpolation_hits_the_endpoints() -> None:
    script = _script()
    assert script.exponent(45, 45, 7) == 0
    assert script.exponent(7, 45, 7) == pytest.approx(1)
    assert script.interpolate(0.03, 0.007, script.exponent(45, 45, 7)) == 0.03
    assert script.interpolate(0.03, 0.007, script.exponent(7, 45, 7)) == pytest.approx(0.007)
    assert script.interpolate(0.0, 0.0, 0.5) == 0.0
    # the comparison quoted in the descriptions: Stillmaker & Baas at 0.8 V from 45 nm
    assert script.stillmaker_baas_factor(32) == pytest.approx(0.66, abs=0.005)
    assert script.stillmaker_baas_factor(20) == pytest.approx(0.22, abs=0.005)
    assert script.stillmaker_baas_factor(7) == pytest.approx(0.094, abs=0.001)
