"""Energy model: cited rows reproduce, scaling rules behave as documented, a toy prices by hand."""

from __future__ import annotations

import itertools
import math
from pathlib import Path
from typing import Any

import pandas as pd
import pytest
import yaml

from spikesim.actions import ActionCounter
from spikesim.config import HardwareConfig
from spikesim.energy import (
    ACTION_PRICING,
    EnergyTable,
    PriceRule,
    UnpricedActionError,
    builtin_tables,
    component_energy,
    energy_per_action,
    leakage_energy_pj,
    load_energy_table,
    price_actions,
    price_leakage,
    register_action,
    spike_add_bits,
)
from spikesim.errors import InputError
from spikesim.schema import CITATION_SEPARATOR, PRICE_COLUMNS, PROVENANCE_COLUMNS

MIB = 1 << 20


def make_hw(**overrides: Any) -> HardwareConfig:
    data: dict[str, Any] = {
        "name": "toy",
        "clock_hz": 500e6,
        "sram": {
            "weights": {"role": "weights", "capacity_bytes": MIB, "word_bits": 256, "banks": 4},
            "activations": {"role": "activations", "capacity_bytes": 32768, "word_bits": 64},
            "salient": {"role": "salient", "capacity_bytes": 8192, "word_bits": 64},
            "output": {"role": "output", "capacity_bytes": 65536, "word_bits": 64},
        },
    }
    data.update(overrides)
    return HardwareConfig.model_validate(data)


@pytest.fixture
def hw() -> HardwareConfig:
    return make_hw()


@pytest.fixture
def horowitz() -> EnergyTable:
    return load_energy_table("horowitz-45nm")


def builtin_mapping() -> dict[str, Any]:
    path = Path(load_energy_table("horowitz-45nm").origin or "")
    data = yaml.safe_load(path.read_text(encoding="utf-8"))
    assert isinstance(data, dict)
    return data


def write_table(tmp_path: Path, data: dict[str, Any], name: str = "table.yaml") -> Path:
    path = tmp_path / name
    path.write_text(yaml.safe_dump(data, sort_keys=False), encoding="utf-8")
    return path


# ----------------------------------------------------------------------------- built-in rows


def test_builtin_listed_and_loads(horowitz: EnergyTable) -> None:
    assert "horowitz-45nm" in builtin_tables()
    assert horowitz.technology_nm == 45
    assert horowitz.origin is not None
    assert horowitz.origin.endswith("horowitz-45nm.yaml")
    assert horowitz.leakage.sram_w_per_byte == 0
    assert horowitz.leakage.components == {}
    assert "not modelled" in horowitz.leakage.source.lower()


@pytest.mark.parametrize(
    ("op", "bits", "energy_pj"),
    [
        ("int_add", 8, 0.03),
        ("int_add", 32, 0.1),
        ("int_mult", 8, 0.2),
        ("int_mult", 32, 3.1),
        ("fp_add", 16, 0.4),
        ("fp_add", 32, 0.9),
        ("fp_mult", 16, 1.1),
        ("fp_mult", 32, 3.7),
    ],
)
def test_builtin_rows_reproduce_cited_values(
    horowitz: EnergyTable, op: str, bits: int, energy_pj: float
) -> None:
    priced = horowitz.operation_energy(op, bits)
    assert priced.energy_pj == energy_pj  # exact, not approx
    assert "Horowitz, ISSCC 2014" in priced.source
    assert "as is" in priced.source


@pytest.mark.parametrize(
    ("capacity_bytes", "energy_pj"), [(8192, 10.0), (32768, 20.0), (MIB, 100.0)]
)
def test_builtin_sram_points_exact(
    horowitz: EnergyTable, capacity_bytes: int, energy_pj: float
) -> None:
    assert horowitz.sram_access_energy(capacity_bytes, 64).energy_pj == energy_pj
    assert horowitz.sram_access_energy(capacity_bytes, 256).energy_pj == pytest.approx(
        4 * energy_pj, rel=1e-15
    )


def test_builtin_dram_default_and_range_noted(horowitz: EnergyTable) -> None:
    assert horowitz.dram.energy_pj_per_bit == 1300.0 / 64 == 20.3125
    assert "1.3-2.6" in horowitz.dram.note
    assert horowitz.dram_energy(8).energy_pj == 8 * 20.3125


def test_every_registered_operation_is_in_builtin(horowitz: EnergyTable) -> None:
    ops = {rule.operation for rule in ACTION_PRICING.values() if rule.operation is not None}
    assert ops <= set(horowitz.operations)


# ----------------------------------------------------------------------------- scaling rules


def test_int_add_linear_rule(horowitz: EnergyTable) -> None:
    e = {b: horowitz.operation_energy("int_add", b).energy_pj for b in range(1, 65)}
    assert e[4] == pytest.approx(0.03 * 4 / 8, rel=1e-12)  # proportional below the 8-bit row
    assert e[24] == pytest.approx(0.03 + 0.07 * 16 / 24, rel=1e-12)  # interpolated
    assert e[16] == pytest.approx(0.03 + 0.07 * 8 / 24, rel=1e-12)
    assert e[64] == pytest.approx(0.1 * 2, rel=1e-12)  # proportional above the 32-bit row
    assert all(e[b + 1] > e[b] for b in range(1, 64))  # strictly monotone
    # linear: equal steps of bits give equal steps of energy within each segment
    assert e[20] - e[16] == pytest.approx(e[28] - e[24], rel=1e-9)
    source = horowitz.operation_energy("int_add", 24).source
    assert "interpolated linearly in bits between the 8-bit row (0.03 pJ)" in source
    assert "32-bit row (0.1 pJ) to 24 bits" in source
    assert "scaled linearly from the 8-bit row (0.03 pJ) to 4 bits" in (
        horowitz.operation_energy("int_add", 4).source
    )


def test_int_mult_quadratic_rule(horowitz: EnergyTable) -> None:
    e = {b: horowitz.operation_energy("int_mult", b).energy_pj for b in range(1, 65)}
    assert e[4] == pytest.approx(0.2 / 4, rel=1e-12)
    assert e[4] / e[2] == pytest.approx(4.0, rel=1e-12)  # quadratic below the rows
    assert e[64] / e[32] == pytest.approx(4.0, rel=1e-12)  # and above them
    assert e[16] == pytest.approx(0.2 + 2.9 * (16**2 - 8**2) / (32**2 - 8**2), rel=1e-12)
    # between rows: affine in bits², so equal steps of bits² give equal steps of energy
    slope = (e[20] - e[12]) / (20**2 - 12**2)
    assert (e[28] - e[24]) / (28**2 - 24**2) == pytest.approx(slope, rel=1e-9)
    assert all(e[b + 1] > e[b] for b in range(1, 64))
    assert "quadratically from the 8-bit row (0.2 pJ) to 4 bits" in (
        horowitz.operation_energy("int_mult", 4).source
    )


def test_fp_rule_is_by_format(horowitz: EnergyTable) -> None:
    assert horowitz.operation_energy("fp_mult", 8).energy_pj == 1.1
    assert horowitz.operation_energy("fp_mult", 24).energy_pj == 3.7
    assert horowitz.operation_energy("fp_mult", 64).energy_pj == 3.7
    assert "no width scaling" in horowitz.operation_energy("fp_add", 24).source


def test_sram_loglog_interpolation_and_monotone(horowitz: EnergyTable) -> None:
    # halfway in log capacity between 32 KB and 1 MB: geometric mean of 20 and 100 pJ
    mid = round(math.sqrt(32768 * MIB))  # 2^17.5 rounded
    expected = math.exp(math.log(20) + math.log(5) * math.log(mid / 32768) / math.log(MIB / 32768))
    assert horowitz.sram_access_energy(mid, 64).energy_pj == pytest.approx(expected, rel=1e-12)
    assert horowitz.sram_access_energy(16384, 64).energy_pj == pytest.approx(
        10 * math.sqrt(2), rel=1e-12
    )
    caps = [1 << k for k in range(8, 26)]
    energies = [horowitz.sram_access_energy(c, 64).energy_pj for c in caps]
    assert all(b >= a for a, b in itertools.pairwise(energies))
    # clamped outside 8 KB .. 1 MB, and the provenance says so
    small = horowitz.sram_access_energy(1024, 64)
    assert small.energy_pj == 10.0
    assert "clamped" in small.source
    assert horowitz.sram_access_energy(16 * MIB, 64).energy_pj == 100.0


def test_sram_loglog_extrapolation_and_bank_basis(tmp_path: Path, hw: HardwareConfig) -> None:
    data = builtin_mapping()
    data["sram"]["extrapolation"] = "loglog"
    data["sram"]["capacity_basis"] = "bank"
    table = load_energy_table(write_table(tmp_path, data))
    # beyond 1 MB the 32 KB–1 MB segment continues: 100 × 5^(log 4 / log 32)
    expected = 100 * 5 ** (math.log(4) / math.log(32))
    assert table.sram_access_energy(4 * MIB, 64).energy_pj == pytest.approx(expected, rel=1e-12)
    assert "extrapolated" in table.sram_access_energy(4 * MIB, 64).source
    # bank basis: 1 MiB over 4 banks is looked up at 256 KiB
    priced = energy_per_action(table, "sram.weights", "read", 256, hw)
    assert priced.energy_pj == pytest.approx(
        4 * table.sram_access_energy(MIB // 4, 64).energy_pj, rel=1e-12
    )
    assert "one bank of 262144 B" in priced.source


# ----------------------------------------------------------------------------- mapping


def test_mapping_of_components(horowitz: EnergyTable, hw: HardwareConfig) -> None:
    def e(component: str, action: str, bits: int) -> float:
        return energy_per_action(horowitz, component, action, bits, hw).energy_pj

    for action in ("acc", "shift", "compare", "fire"):
        assert e("if_array", action, 24) == horowitz.operation_energy("int_add", 24).energy_pj
    for action in ("convert", "emit"):
        assert e("encoder", action, 8) == 0.03
    assert e("threshold", "multiply", 32) == 3.1
    assert e("mac_array", "multiply", 8) == 0.2
    assert e("mac_array", "add", 32) == 0.1
    assert e("mac_array", "fp_multiply", 16) == 1.1
    assert e("mac_array", "fp_add", 16) == 0.4
    assert e("dequant", "fp_multiply", 16) == 1.1
    assert e("requant", "multiply", 8) == 0.2
    # the built-in table prices a bank access: 1 MiB / 4 banks = 256 KiB, 4 x 64-bit words
    assert e("sram.weights", "read", 256) == pytest.approx(
        4 * horowitz.sram_access_energy(MIB // 4, 64).energy_pj, rel=1e-12
    )
    assert e("sram.salient", "write", 64) == 10.0
    assert e("dram", "read", 8) == 162.5


def test_unknown_action_is_a_programming_error(horowitz: EnergyTable, hw: HardwareConfig) -> None:
    with pytest.raises(UnpricedActionError, match="'if_array' action 'teleport'"):
        energy_per_action(horowitz, "if_array", "teleport", 8, hw)
    with pytest.raises(UnpricedActionError, match="'warp_core'"):
        energy_per_action(horowitz, "warp_core", "acc", 8, hw)
    with pytest.raises(UnpricedActionError, match=r"sram\.nowhere"):
        energy_per_action(horowitz, "sram.nowhere", "read", 64, hw)
    assert not issubclass(UnpricedActionError, InputError)


def test_duplicate_registration_rejected() -> None:
    with pytest.raises(ValueError, match="already registered"):
        register_action("if_array", "acc", ACTION_PRICING[("if_array", "acc")])
    with pytest.raises(ValueError, match="exactly one operation"):
        PriceRule(ACTION_PRICING[("dram", "read")].entry, "int_add")


def test_table_missing_operation_is_input_error(tmp_path: Path, hw: HardwareConfig) -> None:
    data = builtin_mapping()
    del data["operations"]["int_mult"]
    path = write_table(tmp_path, data)
    table = load_energy_table(path)
    assert energy_per_action(table, "if_array", "acc", 8, hw).energy_pj == 0.03
    with pytest.raises(InputError) as info:
        energy_per_action(table, "threshold", "multiply", 16, hw)
    assert info.value.field == "operations.int_mult"
    assert info.value.file == str(path)


# ----------------------------------------------------------------------------- the toy


def toy_user_table() -> dict[str, Any]:
    """A user table with round numbers and leakage, so the toy is computable by hand."""
    return {
        "name": "toy-table",
        "description": "hand-computable",
        "technology_nm": 28,
        "operations": {
            "int_add": {
                "scaling": "linear",
                "rows": [{"bits": 8, "energy_pj": 0.04, "source": "made up for a test"}],
            },
            "int_mult": {
                "scaling": "quadratic",
                "rows": [{"bits": 8, "energy_pj": 0.5, "source": "made up for a test"}],
            },
        },
        "sram": {
            "points": [
                {
                    "capacity_bytes": 65536,
                    "energy_pj_per_access": 8.0,
                    "access_bits": 64,
                    "source": "made up",
                },
                {
                    "capacity_bytes": 4 * MIB,
                    "energy_pj_per_access": 64.0,
                    "access_bits": 64,
                    "source": "made up",
                },
            ]
        },
        "dram": {"energy_pj_per_bit": 10.0, "source": "made up"},
        "leakage": {
            "sram_w_per_byte": 1e-9,
            "components": {"if_array": 0.002},
            "source": "made up",
        },
    }


def toy_counts() -> pd.DataFrame:
    counter = ActionCounter()
    counter.add("if_array", "acc", 1000, 24)
    counter.add("sram.weights", "read", 10, 256)
    counter.add("dram", "read", 100, 8)
    frame = counter.to_frame()
    frame.insert(0, "layer", "L0")
    frame.insert(1, "design", "spikequant")
    return frame


def test_hand_computed_toy(tmp_path: Path, hw: HardwareConfig) -> None:
    table = load_energy_table(write_table(tmp_path, toy_user_table()))
    priced = price_actions(toy_counts(), hw, table)

    # if_array.acc at 24 bits: one 8-bit row, linear → 0.04 × 24/8 = 0.12 pJ; × 1000 = 120 pJ
    acc = 1000 * (0.04 * 24 / 8)
    # sram.weights: 1 MiB lies between 64 KiB (8 pJ) and 4 MiB (64 pJ) at log-position
    # log(16)/log(64) = 2/3 → 8 × 8^(2/3) = 32 pJ per 64 bits; 256-bit word → 128 pJ; × 10
    sram = 10 * (8 * 8 ** (2 / 3) * 256 / 64)
    assert sram == pytest.approx(1280.0, rel=1e-12)
    # dram: 100 bytes × 8 bits × 10 pJ/bit
    dram = 100 * 8 * 10.0
    dynamic = acc + sram + dram  # 120 + 1280 + 8000 = 9400 pJ

    by_component = priced.set_index("component")["energy_pj"]
    assert by_component["if_array"] == pytest.approx(120.0, rel=1e-12)
    assert by_component["sram.weights"] == pytest.approx(1280.0, rel=1e-12)
    assert by_component["dram"] == pytest.approx(8000.0, rel=1e-12)
    assert priced["energy_pj"].sum() == pytest.approx(dynamic, rel=1e-12)
    assert list(priced["layer"]) == ["L0"] * 3  # key columns kept

    # leakage over 5000 cycles at 500 MHz = 10 µs:
    #   if_array 2 mW → 2e-3 × 1e-5 s = 2e-8 J = 20000 pJ
    #   sram.weights 1 MiB × 1e-9 W/B = 1.048576 mW → 10485.76 pJ; activations 32 KiB → 327.68 pJ;
    #   salient 8 KiB → 81.92 pJ; output 64 KiB → 655.36 pJ
    leak = leakage_energy_pj(hw, table, 5000)
    assert leak == pytest.approx(
        {
            "sram.weights": 10485.76,
            "sram.activations": 327.68,
            "sram.salient": 81.92,
            "sram.output": 655.36,
            "if_array": 20000.0,
        },
        rel=1e-12,
    )
    total = dynamic + 20000.0 + 10485.76 + 327.68 + 81.92 + 655.36  # 40950.72 pJ
    assert total == pytest.approx(40950.72, rel=1e-12)

    layers = pd.DataFrame({"layer": ["L0"], "design": ["spikequant"], "total_cycles": [5000]})
    leak_rows = price_leakage(layers, hw, table, keys=["layer", "design"])
    assert set(leak_rows["action"]) == {"leak"}
    assert leak_rows["energy_pj"].sum() == pytest.approx(sum(leak.values()), rel=1e-12)
    wide = component_energy(pd.concat([priced, leak_rows]), keys=["layer", "design"])
    assert len(wide) == 1
    row = wide.iloc[0]
    assert row["energy_pj"] == pytest.approx(total, rel=1e-12)
    assert row["energy_if_array_pj"] == pytest.approx(120.0 + 20000.0, rel=1e-12)
    assert row["energy_sram_weights_pj"] == pytest.approx(1280.0 + 10485.76, rel=1e-12)
    assert row["energy_dram_pj"] == pytest.approx(8000.0, rel=1e-12)
    assert row["energy_sram_salient_pj"] == pytest.approx(81.92, rel=1e-12)


def test_leak_rows_are_one_per_layer_row_and_component(hw: HardwareConfig) -> None:
    """price_leakage's columns equal the rows written out one by one (layer rows outer,
    leaking components in name order): keys, component, leak, cycles, 0 bits, per-cycle
    energy, cycles × per cycle, and the provenance; dtypes included."""
    from spikesim.energy import energy_model
    from spikesim.energy.price import LEAK_ACTION, leaking_components
    from spikesim.schema import COUNTED_ACTION_COLUMNS

    table = energy_model(hw)
    leaking = leaking_components(hw, table)
    assert len(leaking) > 1
    layers = pd.DataFrame({"layer": ["a", "b", "c"], "design": ["x", "y", "x"],
                           "total_cycles": [0, 7, 123_456_789_012]})
    rows = [
        (layer, design, component, LEAK_ACTION, cycles, 0, per_cycle, cycles * per_cycle,
         *provenance)
        for layer, design, cycles in layers.itertuples(index=False, name=None)
        for component, per_cycle, provenance in leaking
    ]
    columns = ["layer", "design", *COUNTED_ACTION_COLUMNS, *PRICE_COLUMNS]
    want = pd.DataFrame(rows, columns=columns).astype(
        {"count": "int64", "bits": "int64", "energy_per_action_pj": "float64",
         "energy_pj": "float64"}
    )
    got = price_leakage(layers, hw, table, keys=["layer", "design"])
    pd.testing.assert_frame_equal(got, want, check_exact=True)
    assert price_leakage(layers.iloc[:0], hw, table, keys=["layer", "design"]).empty


def test_builtin_leakage_is_zero_and_adds_no_rows(
    horowitz: EnergyTable, hw: HardwareConfig
) -> None:
    leak = leakage_energy_pj(hw, horowitz, 10**6)
    assert set(leak) == {f"sram.{n}" for n in hw.sram}
    assert all(v == 0.0 for v in leak.values())
    layers = pd.DataFrame({"layer": ["L0"], "total_cycles": [10**6]})
    assert price_leakage(layers, hw, horowitz, keys=["layer"]).empty


def test_leakage_names_unknown_sram(tmp_path: Path, hw: HardwareConfig) -> None:
    data = toy_user_table()
    data["leakage"]["components"] = {"sram.scratch": 0.001}
    path = write_table(tmp_path, data)
    table = load_energy_table(path)
    with pytest.raises(InputError) as info:
        leakage_energy_pj(hw, table, 10)
    assert info.value.field == "leakage.components.sram.scratch"
    assert info.value.file == str(path)


def test_component_energy_wide_groups(horowitz: EnergyTable, hw: HardwareConfig) -> None:
    counts = pd.concat(
        [toy_counts(), toy_counts().query("component == 'if_array'").assign(layer="L1")],
        ignore_index=True,
    )
    priced = price_actions(counts, hw, horowitz)
    wide = component_energy(priced, keys=["layer", "design"])
    assert list(wide.columns) == [
        "layer",
        "design",
        "energy_pj",
        "energy_dram_pj",
        "energy_if_array_pj",
        "energy_sram_weights_pj",
    ]
    assert list(wide["layer"]) == ["L0", "L1"]
    l1 = wide.set_index("layer").loc["L1"]
    assert l1["energy_dram_pj"] == 0.0
    assert l1["energy_pj"] == pytest.approx(l1["energy_if_array_pj"], rel=1e-12)
    overall = component_energy(priced, keys=[])
    assert len(overall) == 1
    assert overall["energy_pj"].iloc[0] == pytest.approx(priced["energy_pj"].sum(), rel=1e-12)


# ----------------------------------------------------------------------------- provenance


@pytest.mark.parametrize(
    ("component", "action", "bits", "entry", "scaling", "cites"),
    [
        ("if_array", "acc", 8, "int_add 8-bit row (0.03 pJ)", "", 1),
        ("if_array", "acc", 4, "int_add 8-bit row (0.03 pJ)", "linear: × (4/8)^1 to 4 bits", 1),
        (
            "threshold",
            "multiply",
            16,
            "int_mult 8-bit row (0.2 pJ) and 32-bit row (3.1 pJ)",
            "quadratic: interpolated in bits² to 16 bits",
            2,
        ),
        (
            "mac_array",
            "fp_add",
            24,
            "fp_add 32-bit row (0.9 pJ)",
            "none: the 32-bit row used for 24 bits",
            1,
        ),
        ("sram.salient", "read", 64, "sram 8192 B point (10 pJ/64-bit)", "", 1),
        (
            "sram.activations",
            "write",
            128,
            "sram 32768 B point (20 pJ/64-bit)",
            "linear in bits: 128-bit access",
            1,
        ),
        (
            "sram.weights",
            "read",
            256,
            "sram 32768 B point (20 pJ/64-bit) and 1048576 B point (100 pJ/64-bit)",
            "capacity_basis bank: one of 4 banks, 262144 B; "
            "log-log in capacity: interpolated to 262144 B; linear in bits: 256-bit access",
            2,
        ),
        ("dram", "read", 8, "dram (20.3125 pJ/bit)", "linear in bits: × 8 bits", 1),
    ],
)
def test_structured_provenance(
    horowitz: EnergyTable,
    hw: HardwareConfig,
    component: str,
    action: str,
    bits: int,
    entry: str,
    scaling: str,
    cites: int,
) -> None:
    priced = energy_per_action(horowitz, component, action, bits, hw)
    table, got_entry, got_scaling, citation = priced.provenance()
    assert (table, got_entry, got_scaling) == ("horowitz-45nm", entry, scaling)
    assert len(citation.split(CITATION_SEPARATOR)) == cites
    assert all(c.startswith("Horowitz, ISSCC 2014") for c in citation.split(CITATION_SEPARATOR))
    # the one-sentence source says the same: table first, citations last
    assert priced.source.startswith("horowitz-45nm ")
    assert priced.source.endswith(f"[{citation}]")


def test_sram_clamp_and_extrapolation_provenance(tmp_path: Path, horowitz: EnergyTable) -> None:
    clamped = horowitz.sram_access_energy(1024, 64)
    assert clamped.entry == "sram 8192 B point (10 pJ/64-bit)"
    assert clamped.scaling == "clamp: 1024 B is outside the 8192–1048576 B range"
    data = builtin_mapping()
    data["sram"]["extrapolation"] = "loglog"
    table = load_energy_table(write_table(tmp_path, data))
    far = table.sram_access_energy(4 * MIB, 64)
    assert far.entry == "sram 32768 B point (20 pJ/64-bit) and 1048576 B point (100 pJ/64-bit)"
    assert far.scaling == "log-log in capacity: extrapolated to 4194304 B"


def test_priced_tables_carry_provenance_columns(tmp_path: Path, hw: HardwareConfig) -> None:
    table = load_energy_table(write_table(tmp_path, toy_user_table()))
    priced = price_actions(toy_counts(), hw, table)
    prov = priced.set_index("component")[PROVENANCE_COLUMNS]
    assert set(prov["energy_table"]) == {"toy-table"}
    assert prov.loc["if_array", "energy_entry"] == "int_add 8-bit row (0.04 pJ)"
    assert prov.loc["if_array", "energy_scaling"] == "linear: × (24/8)^1 to 24 bits"
    assert prov.loc["dram", "energy_entry"] == "dram (10 pJ/bit)"
    assert set(prov["energy_citation"]) == {"made up for a test", "made up"}
    layers = pd.DataFrame({"layer": ["L0"], "design": ["spikequant"], "total_cycles": [5000]})
    leak = price_leakage(layers, hw, table)  # keys default to layer, design
    assert list(leak.columns) == list(priced.columns)
    row = leak.set_index("component").loc["if_array"]
    assert (row["energy_table"], row["energy_entry"]) == ("toy-table", "leakage (0.002 W)")
    assert row["energy_scaling"] == "per cycle: / 5e+08 Hz"
    assert row["energy_citation"] == "made up"


def test_table_does_not_import_pricing() -> None:
    """table.py is below pricing: it imports only the SRAM grid model, never pricing."""
    import ast

    import spikesim.energy.table as table_module

    tree = ast.parse(Path(table_module.__file__).read_text(encoding="utf-8"))
    nodes = list(ast.walk(tree))
    modules = [n.module or "" for n in nodes if isinstance(n, ast.ImportFrom)]
    modules += [a.name for n in nodes if isinstance(n, ast.Import) for a in n.names]
    allowed = {"spikesim.energy.sram_grid"}
    assert not [m for m in modules if m.startswith("spikesim.energy") and m not in allowed]


# ----------------------------------------------------------------------------- swapping tables


def test_changing_table_changes_energy_not_counts(
    tmp_path: Path, hw: HardwareConfig, horowitz: EnergyTable
) -> None:
    counts = toy_counts()
    before = counts.copy(deep=True)
    a = price_actions(counts, hw, horowitz)
    b = price_actions(counts, hw, load_energy_table(write_table(tmp_path, toy_user_table())))
    pd.testing.assert_frame_equal(counts, before)  # input untouched
    for priced in (a, b):
        pd.testing.assert_frame_equal(priced[list(before.columns)], before)
    assert a["energy_pj"].sum() != b["energy_pj"].sum()
    assert all(s.startswith("horowitz-45nm") for s in a["source"])
    assert all(s.startswith("toy-table") for s in b["source"])
    assert list(a.columns) == [*before.columns, *PRICE_COLUMNS]


def test_price_empty_frame(horowitz: EnergyTable, hw: HardwareConfig) -> None:
    priced = price_actions(ActionCounter().to_frame(), hw, horowitz)
    assert priced.empty
    assert list(priced.columns) == [*ActionCounter().to_frame().columns, *PRICE_COLUMNS]


# ----------------------------------------------------------------------------- loading errors


def test_user_table_relative_to_hardware_dir(tmp_path: Path) -> None:
    write_table(tmp_path, toy_user_table(), name="mine.yaml")
    hw_file = tmp_path / "hw.yaml"
    hw_file.write_text("{}", encoding="utf-8")
    assert load_energy_table("mine.yaml", relative_to=tmp_path).name == "toy-table"
    assert load_energy_table("mine.yaml", relative_to=hw_file).name == "toy-table"


def test_unknown_builtin_name() -> None:
    with pytest.raises(InputError, match="horowitz-45nm") as info:
        load_energy_table("tsmc-3nm")
    assert info.value.field == "energy.table"


def test_missing_file(tmp_path: Path) -> None:
    with pytest.raises(InputError, match="file not found") as info:
        load_energy_table(tmp_path / "nope.yaml")
    assert info.value.file == str(tmp_path / "nope.yaml")


def mutate(data: dict[str, Any], dotted: str, value: Any) -> dict[str, Any]:
    node: Any = data
    parts = dotted.split(".")
    for part in parts[:-1]:
        node = node[int(part)] if isinstance(node, list) else node[part]
    last = parts[-1]
    if isinstance(node, list):
        node[int(last)] = value
    else:
        node[last] = value
    return data


@pytest.mark.parametrize(
    ("dotted", "value", "field", "message"),
    [
        (
            "operations.int_add.rows.0.energy_pj",
            -0.03,
            "operations.int_add.rows.0.energy_pj",
            "greater than or equal to 0",
        ),
        (
            "operations.int_add.rows.0.colour",
            "red",
            "operations.int_add.rows.0.colour",
            "unknown field",
        ),
        ("operations.int_add.scaling", "cubic", "operations.int_add.scaling", "cubic"),
        (
            "operations.int_add.rows.1.energy_pj",
            0.01,
            "operations.int_add.rows",
            "decreases with width",
        ),
        (
            "sram.points.0.energy_pj_per_access",
            0,
            "sram.points.0.energy_pj_per_access",
            "greater than 0",
        ),
        ("sram.extrapolation", "wild", "sram.extrapolation", "wild"),
        ("dram.energy_pj_per_bit", -1, "dram.energy_pj_per_bit", "greater than or equal"),
        ("leakage.sram_w_per_byte", -1e-9, "leakage.sram_w_per_byte", "greater than or equal"),
        ("leakage.components", {"if_array": -1.0}, "leakage.components", ">= 0"),
        ("technology_nm", "small", "technology_nm", "number"),
        ("vendor", "acme", "vendor", "unknown field"),
    ],
)
def test_bad_table_names_field(
    tmp_path: Path, dotted: str, value: Any, field: str, message: str
) -> None:
    path = write_table(tmp_path, mutate(builtin_mapping(), dotted, value))
    with pytest.raises(InputError, match=message) as info:
        load_energy_table(path)
    assert info.value.field == field
    assert info.value.file == str(path)


def test_missing_section_and_malformed_yaml(tmp_path: Path) -> None:
    """A table may hold only some sections; pricing a part it lacks names the part's field."""
    from spikesim.config.hardware import EnergyRef
    from spikesim.energy import energy_model

    data = builtin_mapping()
    del data["dram"]
    path = write_table(tmp_path, data)
    assert load_energy_table(path).dram is None
    with pytest.raises(InputError, match="has no dram section") as info:
        energy_model(EnergyRef(table=str(path)))
    assert info.value.field == "energy.table"
    with pytest.raises(InputError, match="has no dram section") as info:
        energy_model(EnergyRef(table="horowitz-45nm", dram=str(path)))
    assert info.value.field == "energy.dram"
    with pytest.raises(InputError, match="at least one of"):
        load_energy_table(write_table(tmp_path, {"name": "empty", "technology_nm": 45}))
    bad = tmp_path / "bad.yaml"
    bad.write_text("name: [unclosed\n", encoding="utf-8")
    with pytest.raises(InputError, match="malformed YAML") as info:
        load_energy_table(bad)
    assert info.value.file == str(bad)


def test_tables_are_frozen(horowitz: EnergyTable) -> None:
    with pytest.raises(ValueError, match="frozen"):
        horowitz.technology_nm = 7  # type: ignore[misc]


# --------------------------------------------------------------------------------------------
# Pricing knobs: energy.spike_add, if_array.compare_bits
# --------------------------------------------------------------------------------------------


def _array_counts() -> pd.DataFrame:
    rows = [
        ("if_array", "acc", 1000, 24),
        ("if_array", "shift", 50, 24),
        ("if_array", "compare", 70, 24),
        ("if_array", "fire", 30, 24),
        ("mac_array", "add", 400, 32),
        ("mac_array", "multiply", 400, 4),
        ("encoder", "emit", 90, 4),
    ]
    frame = pd.DataFrame(rows, columns=["component", "action", "count", "bits"])
    return frame.assign(layer="L", design="d")


def test_operand_width_lowers_exactly_the_spike_add(horowitz: EnergyTable) -> None:
    """Under ``energy.spike_add: operand_width`` only ``if_array.acc`` changes, by the ratio of
    the two int_add prices; counts and bits stay; provenance names the priced width."""
    full = price_actions(_array_counts(), make_hw(), horowitz)
    narrow_hw = make_hw(energy={"spike_add": "operand_width"})
    narrow = price_actions(_array_counts(), narrow_hw, horowitz)
    # hand computation (Horowitz int_add rows 8 bits 0.03 pJ, 32 bits 0.1 pJ, linear):
    # 24 bits: 0.03 + 0.07 * 16/24; weight_bits 4 + 2 guard = 6 bits: 0.03 * 6/8
    e24, e6 = 0.03 + 0.07 * 16 / 24, 0.03 * 6 / 8
    acc = (full["component"] == "if_array") & (full["action"] == "acc")
    assert full.loc[acc, "energy_per_action_pj"].item() == pytest.approx(e24, rel=1e-12)
    assert narrow.loc[acc, "energy_per_action_pj"].item() == pytest.approx(e6, rel=1e-12)
    assert narrow.loc[acc, "energy_pj"].item() == pytest.approx(
        full.loc[acc, "energy_pj"].item() * e6 / e24, rel=1e-12
    )
    pd.testing.assert_frame_equal(full.loc[~acc], narrow.loc[~acc])
    pd.testing.assert_frame_equal(
        full[["component", "action", "count", "bits"]], narrow[["component", "action", "count",
                                                              "bits"]]
    )
    row = narrow.loc[acc].iloc[0]
    assert row["bits"] == 24  # as counted
    assert "at 6 bits (operand_width)" in row["energy_entry"]
    assert "operand_width: priced at 6 bits (weight_bits 4 + 2 guard bits" in row["energy_scaling"]
    assert "priced at 6 bits" in row["source"]
    assert "operand_width" not in full.loc[acc].iloc[0]["energy_scaling"]


def test_operand_width_guard_bits_and_cap(horowitz: EnergyTable) -> None:
    """The priced width is weight_bits + guard bits, never wider than the counted width."""
    hw = make_hw(energy={"spike_add": "operand_width", "spike_add_guard_bits": 0})
    assert spike_add_bits(hw, 24) == (4, spike_add_bits(hw, 24)[1])
    assert energy_per_action(horowitz, "if_array", "acc", 24, hw).energy_pj == pytest.approx(
        0.015, rel=1e-12
    )
    wide = make_hw(energy={"spike_add": "operand_width", "spike_add_guard_bits": 30})
    assert spike_add_bits(wide, 24)[0] == 24
    assert energy_per_action(horowitz, "if_array", "acc", 24, wide).energy_pj == pytest.approx(
        horowitz.operation_energy("int_add", 24).energy_pj, rel=1e-12
    )
    assert spike_add_bits(make_hw(), 24) == (24, "")


def test_compare_bits_changes_only_the_compare_width(tmp_path: Path) -> None:
    """``if_array.compare_bits`` moves the bits of ``if_array.compare`` and nothing else: same
    counts, cycles and every other action."""
    import spikesim
    from spikesim.trace import synth_trace

    out = tmp_path / "t"
    synth_trace(out, gemm=(8, 96, 64), seed=3)
    trace = spikesim.load_trace(out)
    hw_path = Path(__file__).resolve().parents[1] / "hw_configs" / "spikequant-45nm.yaml"
    base = spikesim.simulate(spikesim.load_hardware(hw_path), trace, "spikequant")
    hw12 = spikesim.load_hardware(hw_path, {"if_array.compare_bits": 12})
    narrow = spikesim.simulate(hw12, trace, "spikequant")
    cmp_b = (base.actions["component"] == "if_array") & (base.actions["action"] == "compare")
    cmp_n = (narrow.actions["component"] == "if_array") & (narrow.actions["action"] == "compare")
    assert cmp_b.sum() == cmp_n.sum() > 0
    assert set(base.actions.loc[cmp_b, "bits"]) == {24}
    assert set(narrow.actions.loc[cmp_n, "bits"]) == {12}
    keys = ["layer", "design", "component", "action", "count"]
    pd.testing.assert_frame_equal(
        base.actions.loc[cmp_b, keys].reset_index(drop=True),
        narrow.actions.loc[cmp_n, keys].reset_index(drop=True),
    )
    pd.testing.assert_frame_equal(
        base.actions.loc[~cmp_b].reset_index(drop=True),
        narrow.actions.loc[~cmp_n].reset_index(drop=True),
    )
    energy_cols = [c for c in base.layers.columns if c.startswith("energy_")]
    pd.testing.assert_frame_equal(
        base.layers.drop(columns=energy_cols), narrow.layers.drop(columns=energy_cols)
    )
