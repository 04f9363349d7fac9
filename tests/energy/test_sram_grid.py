"""The grid SRAM model: every lookup rule of spikesim.energy.sram_grid, checked by hand."""

from __future__ import annotations

import math
from pathlib import Path
from typing import Any

import pytest
import yaml
from hypothesis import given
from hypothesis import strategies as st

from spikesim.config import HardwareConfig
from spikesim.energy import energy_per_action, load_energy_table
from spikesim.energy.sram_grid import GridQuantity, SRAMGrid, grid_lookup
from spikesim.errors import InputError

KIB = 1024


def row(capacity: int, width: int, read: float, write: float, leak: float, area: float) -> dict:
    return {
        "capacity_bytes": capacity,
        "word_bits": width,
        "read_pj": read,
        "write_pj": write,
        "leakage_mw": leak,
        "area_um2": area,
        "source": f"toy run {capacity} B {width} b",
    }


ROWS = [
    row(8 * KIB, 64, 4.0, 6.0, 2.0, 1000.0),
    row(64 * KIB, 64, 16.0, 20.0, 16.0, 8000.0),
    row(8 * KIB, 256, 8.0, 16.0, 2.5, 1200.0),
    row(64 * KIB, 256, 32.0, 64.0, 20.0, 9000.0),
]


def grid(**extra: Any) -> SRAMGrid:
    return SRAMGrid.model_validate({"model": "grid", "source": "toy", "grid": ROWS, **extra})


def table_data(**sram: Any) -> dict[str, Any]:
    return {
        "name": "toy-grid",
        "technology_nm": 45,
        "sram": {"model": "grid", "source": "toy tool 1.0", "grid": ROWS, **sram},
    }


def test_grid_points_are_returned_as_is() -> None:
    g = grid()
    for r in ROWS:
        for qty, key in ((GridQuantity.READ, "read_pj"), (GridQuantity.WRITE, "write_pj"),
                         (GridQuantity.LEAKAGE, "leakage_mw"), (GridQuantity.AREA, "area_um2")):
            found = grid_lookup(g, qty, r["capacity_bytes"], r["word_bits"])
            assert found.value == r[key]
            assert found.scaling == ""


def test_capacity_is_interpolated_log_log() -> None:
    # 8 KiB -> 64 KiB is a factor 8; 16 KiB is one third of the way in log
    found = grid_lookup(grid(), GridQuantity.READ, 16 * KIB, 64)
    assert found.value == pytest.approx(4.0 * (16.0 / 4.0) ** (1 / 3))
    assert "log-log in capacity" in found.scaling


def test_width_is_interpolated_log_log() -> None:
    # 128 bits is halfway between 64 and 256 in log: the geometric mean of the two reads
    found = grid_lookup(grid(), GridQuantity.READ, 8 * KIB, 128)
    assert found.value == pytest.approx(math.sqrt(4.0 * 8.0))
    assert "log-log in width" in found.scaling


def test_both_axes_at_once() -> None:
    found = grid_lookup(grid(), GridQuantity.WRITE, 16 * KIB, 128)
    at64 = 6.0 * (20.0 / 6.0) ** (1 / 3)
    at256 = 16.0 * (64.0 / 16.0) ** (1 / 3)
    assert found.value == pytest.approx(math.sqrt(at64 * at256))
    assert len(found.rows) == 4


def test_outside_capacity_clamps_or_extends() -> None:
    assert grid_lookup(grid(), GridQuantity.READ, 1 * KIB, 64).value == 4.0
    assert grid_lookup(grid(), GridQuantity.READ, 1 << 20, 64).value == 16.0
    extended = grid(extrapolation="loglog")
    # one more factor 8 above 64 KiB continues the 8 KiB -> 64 KiB slope (x4)
    assert grid_lookup(extended, GridQuantity.READ, 512 * KIB, 64).value == pytest.approx(64.0)


def test_outside_width_energy_linear_leakage_held() -> None:
    assert grid_lookup(grid(), GridQuantity.READ, 8 * KIB, 512).value == pytest.approx(16.0)
    assert grid_lookup(grid(), GridQuantity.READ, 8 * KIB, 32).value == pytest.approx(2.0)
    assert grid_lookup(grid(), GridQuantity.LEAKAGE, 8 * KIB, 512).value == 2.5
    assert grid_lookup(grid(), GridQuantity.AREA, 8 * KIB, 32).value == 1000.0


@given(
    capacity=st.integers(1, 1 << 24),
    bits=st.integers(1, 2048),
)
def test_lookup_is_positive_and_bounded_by_its_rows(capacity: int, bits: int) -> None:
    found = grid_lookup(grid(), GridQuantity.READ, capacity, bits)
    assert found.value > 0
    if 64 <= bits <= 256 and 8 * KIB <= capacity <= 64 * KIB:
        values = [r.read_pj for r in found.rows]
        assert min(values) * (1 - 1e-12) <= found.value <= max(values) * (1 + 1e-12)


def make_hw(**energy: Any) -> HardwareConfig:
    return HardwareConfig.model_validate(
        {
            "sram": {
                "weights": {"role": "weights", "capacity_bytes": 128 * KIB, "word_bits": 256,
                            "banks": 2},
                "activations": {"role": "activations", "capacity_bytes": 8 * KIB,
                                "word_bits": 64},
                "salient": {"role": "salient", "capacity_bytes": 8 * KIB, "word_bits": 64},
                "output": {"role": "output", "capacity_bytes": 64 * KIB, "word_bits": 64},
            },
            "energy": energy,
        }
    )


def test_a_table_prices_reads_writes_leakage_and_area_per_bank(tmp_path: Path) -> None:
    path = tmp_path / "toy-grid.yaml"
    path.write_text(yaml.safe_dump(table_data()))
    hw = make_hw(table="horowitz-45nm", sram=str(path))
    from spikesim.energy import energy_model

    model = energy_model(hw)
    # weights: 128 KiB in 2 banks = two 64 KiB arrays, 256-bit words
    read = energy_per_action(model, "sram.weights", "read", 256, hw)
    write = energy_per_action(model, "sram.weights", "write", 256, hw)
    assert (read.energy_pj, write.energy_pj) == (32.0, 64.0)
    assert read.table == "toy-grid"
    assert "toy run 65536 B 256 b" in read.citation
    leak = model.leakage_power(hw)
    assert leak["sram.weights"].watts == pytest.approx(2 * 20.0e-3)
    assert leak["sram.activations"].watts == pytest.approx(2.0e-3)
    assert model.sram_area(128 * KIB, banks=2, word_bits=256).area_um2 == pytest.approx(18000.0)
    # the operations and DRAM still come from Horowitz, unchanged
    add = energy_per_action(model, "if_array", "acc", 8, hw)
    assert (add.energy_pj, add.table) == (0.03, "horowitz-45nm")
    assert energy_per_action(model, "dram", "read", 8, hw).energy_pj == 8 * 20.3125


@pytest.mark.parametrize(
    ("mutate", "field"),
    [
        (lambda d: d["sram"]["grid"][0].update(read_pj=-1.0), "sram.grid.0.read_pj"),
        (lambda d: d["sram"]["grid"][1].pop("write_pj"), "sram.grid.1.write_pj"),
        (lambda d: d["sram"]["grid"][2].update(leakage_mw="2 mW"), "sram.grid.2.leakage_mw"),
        (lambda d: d["sram"].pop("source"), "sram.source"),
        (lambda d: d["sram"]["grid"].append(dict(d["sram"]["grid"][0])), "sram.grid"),
    ],
)
def test_bad_grid_rows_name_the_entry(tmp_path: Path, mutate: Any, field: str) -> None:
    data = table_data()
    data["sram"]["grid"] = [dict(r) for r in ROWS]
    mutate(data)
    path = tmp_path / "bad.yaml"
    path.write_text(yaml.safe_dump(data))
    with pytest.raises(InputError) as info:
        load_energy_table(path)
    assert info.value.field == field
    assert info.value.file == str(path)
