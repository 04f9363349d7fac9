"""Area of a design: each part priced from the table's area section, with provenance."""

from __future__ import annotations

from pathlib import Path

import pytest
import yaml

from spikesim.config.loader import load_hardware
from spikesim.dse.area import area_mm2, area_parts
from spikesim.energy.table import load_energy_table
from spikesim.errors import InputError

SCALE = (45 / 40) ** 2


def test_builtin_area_rows_reproduce_cited_values() -> None:
    t = load_energy_table("horowitz-45nm")
    assert t.logic_area("int_add", 32).area_um2 == pytest.approx(278.0 * SCALE)
    assert t.logic_area("int_mult", 32, 32).area_um2 == pytest.approx(6350.0 * SCALE)
    assert t.logic_area("register", 1).area_um2 == pytest.approx(5.98 * SCALE)
    # a 4x4 multiplier: (4*4)/32^2 of the 32x32 row; the source names the rule and the citation
    p = t.logic_area("int_mult", 4, 4)
    assert p.area_um2 == pytest.approx(6350.0 * 16 / 1024 * SCALE)
    assert "Aladdin" in p.source
    assert "node_scale" in p.source
    # SRAM: 140 F^2 at 45 nm / 0.7 per bit = 0.405 um^2 per bit, 3.40 mm^2 per MiB
    mib = t.sram_area(1 << 20)
    assert mib.area_um2 == pytest.approx((1 << 23) * 140 * 0.045**2 / 0.7)
    assert mib.area_um2 * 1e-6 == pytest.approx(3.397, abs=1e-3)


def test_spiking_area_hand_computed(default_hw_path: Path) -> None:
    hw = load_hardware(default_hw_path)
    t = load_energy_table("horowitz-45nm")
    total, parts = area_mm2(hw, t, "spikequant")
    a = hw.if_array
    add = 278.0 * a.acc_bits / 32 * SCALE
    assert parts["if_array.adders"] == pytest.approx(a.lanes * a.columns * add * 1e-6)
    membranes = a.columns * 5.98 * a.acc_bits * SCALE * 1e-6
    assert parts["if_array.membranes"] == pytest.approx(membranes)
    assert "if_array.partials" in parts  # salient coding is bit-serial in the preset
    assert parts["if_array.partials"] == pytest.approx(membranes)
    assert "if_array.slopes" not in parts
    ttfs = load_hardware(default_hw_path, {"quant.salient_coding": "ttfs",
                                           "quant.salient_bits": 8})
    assert "if_array.slopes" in area_mm2(ttfs, t, "spikequant")[1]
    enc = hw.encoder.count * hw.encoder.values_per_cycle * 495.5 * hw.quant.salient_bits / 32
    assert parts["encoder"] == pytest.approx(enc * SCALE * 1e-6)
    sram = sum(b.capacity_bytes for b in hw.sram.values()) * 8 * 140 * 0.045**2 / 0.7 * 1e-6
    assert sum(v for k, v in parts.items() if k.startswith("sram.")) == pytest.approx(sram)
    assert total == pytest.approx(sum(parts.values()))
    assert all(p.source for p in area_parts(hw, t, "spikequant"))


def test_mac_area_scales_with_array(default_hw_path: Path) -> None:
    t = load_energy_table("horowitz-45nm")
    small = load_hardware(default_hw_path, {"mac.rows": 16, "mac.cols": 16})
    big = load_hardware(default_hw_path, {"mac.rows": 32, "mac.cols": 32})
    _, ps = area_mm2(small, t, "mac-w4a4")
    _, pb = area_mm2(big, t, "mac-w4a4")
    assert pb["mac_array.multipliers"] == pytest.approx(4 * ps["mac_array.multipliers"])
    assert "if_array.adders" not in pb
    # atom PEs take the INT8 keepers: wider multipliers than W4A4
    _, pa = area_mm2(big, t, "atom")
    assert pa["mac_array.multipliers"] == pytest.approx(2 * pb["mac_array.multipliers"])


def test_table_without_area_is_an_input_error(tmp_path: Path, default_hw_path: Path) -> None:
    origin = Path(load_energy_table("horowitz-45nm").origin or "")
    data = yaml.safe_load(origin.read_text(encoding="utf-8"))
    del data["area"]
    path = tmp_path / "noarea.yaml"
    path.write_text(yaml.safe_dump(data), encoding="utf-8")
    table = load_energy_table(path)  # still a valid energy table
    with pytest.raises(InputError, match="no area section") as info:
        area_mm2(load_hardware(default_hw_path), table, "spikequant")
    assert info.value.field == "area"
    assert info.value.file == str(path)
