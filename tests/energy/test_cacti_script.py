"""scripts/cacti_tables.py: parsing a recorded CACTI 7 output, config and YAML rendering, and the
shipped CACTI tables it wrote. Needs no CACTI binary."""

from __future__ import annotations

import importlib.util
import string
import sys
from pathlib import Path
from types import ModuleType

import pytest
import yaml

ROOT = Path(__file__).resolve().parents[2]
FIXTURE = Path(__file__).parent / "fixtures" / "cacti_output_45nm_64KB_256b.txt"
TABLES = ROOT / "spikesim" / "energy" / "tables"


def _load_script() -> ModuleType:
    name = "spikesim_scripts_cacti_tables"
    if name in sys.modules:
        return sys.modules[name]
    spec = importlib.util.spec_from_file_location(name, ROOT / "scripts" / "cacti_tables.py")
    assert spec is not None
    assert spec.loader is not None
    module = importlib.util.module_from_spec(spec)
    sys.modules[name] = module  # dataclasses look their module up while the class is built
    spec.loader.exec_module(module)
    return module


ct = _load_script()


def test_parse_recorded_output() -> None:
    res = ct.parse_cacti_output(FIXTURE.read_text())
    assert res.version == "7.0.3DD Prerelease of Aug, 2012"
    assert (res.capacity_bytes, res.block_bytes, res.technology_nm) == (65536, 32, 45)
    # values as printed in the fixture's summary block
    assert res.read_pj == pytest.approx(26.6574)
    assert res.write_pj == pytest.approx(76.0067)
    assert res.subthreshold_leakage_mw == pytest.approx(69.0844)
    assert res.gate_leakage_mw == pytest.approx(2.13003)
    assert res.leakage_mw == pytest.approx(71.21443)
    assert res.area_um2 == pytest.approx(226732.0)
    assert res.access_ns == pytest.approx(0.768194)
    assert res.cycle_ns == pytest.approx(0.455952)


def test_parse_takes_summary_not_breakdown() -> None:
    """The breakdown repeats 'Total leakage power of a bank' with other values in some runs;
    the summary (first after the version header) is the one used."""
    text = FIXTURE.read_text().replace(
        "\tTotal leakage power of a bank (mW): 69.0844", "\tTotal leakage power of a bank (mW): 1"
    )
    assert ct.parse_cacti_output(text).subthreshold_leakage_mw == pytest.approx(69.0844)


def test_parse_reports_cacti_error() -> None:
    text = FIXTURE.read_text().split("---------- CACTI")[0]
    text += "ERROR: no valid data array organizations found\n"
    with pytest.raises(ct.CactiError, match="no valid data array organizations found"):
        ct.parse_cacti_output(text)


@pytest.mark.parametrize(
    "text",
    [
        "",
        "Floating point exception",
        "---------- CACTI (version 7.0), Uniform Cache Access SRAM "
        "Model ----------\n    Access time (ns): 0.5\n",
    ],
)
def test_parse_rejects_incomplete_output(text: str) -> None:
    with pytest.raises(ct.CactiError):
        ct.parse_cacti_output(text)


def test_render_config_fills_every_placeholder() -> None:
    fields = {f for _, f, _, _ in string.Formatter().parse(ct.CONFIG_TEMPLATE) if f}
    assert fields == {
        "capacity_bytes",
        "block_bytes",
        "word_bits",
        "technology_um",
        "cell",
        "deviate",
    }
    cfg = ct.render_config(
        capacity_bytes=65536, word_bits=256, node_nm=45, cell="itrs-lop", deviate=ct.DEVIATE_PRIMARY
    )
    assert "{" not in cfg
    lines = set(cfg.splitlines())
    for line in (
        "-size (bytes) 65536",
        "-block size (bytes) 32",
        "-output/input bus width 256",
        "-technology (u) 0.045",
        '-Data array cell type - "itrs-lop"',
        '-Data array peripheral type - "itrs-lop"',
        '-cache type "ram"',
        "-UCA bank count 1",
        "-read-write port 1",
        "-associativity 1",
        "-operating temperature (K) 350",
        '-Wire signaling (fullswing, lowswing, default) - "Global_30"',
        "-design objective (weight delay, dynamic power, leakage power, cycle time, area) "
        "0:100:0:0:0",
        "-deviate (delay, dynamic power, leakage power, cycle time, area) "
        "60:100000:100000:100000:100000",
    ):
        assert line in lines
    with pytest.raises(ValueError, match="multiple of 8"):
        ct.render_config(capacity_bytes=256, word_bits=12, node_nm=45, cell="itrs-hp", deviate="")


@pytest.mark.parametrize(
    ("value", "text"),
    [
        (26.6574, "26.66"),
        (1174.39, "1174.0"),
        (14550000.4, "14550000.0"),
        (0.00012345, "0.0001234"),
        (0.455952, "0.456"),
    ],
)
def test_sig4(value: float, text: str) -> None:
    assert ct.sig4(value) == text
    assert yaml.safe_load(text) == pytest.approx(float(f"{value:.4g}"))


def test_names() -> None:
    assert ct.cfg_name(45, "itrs-hp", 256, 32) == "45nm-itrs-hp-256B-32b.cfg"
    assert ct.cfg_name(22, "itrs-lop", 65536, 256) == "22nm-itrs-lop-64KB-256b.cfg"
    assert ct.cfg_name(32, "itrs-hp", 4 << 20, 512) == "32nm-itrs-hp-4MB-512b.cfg"
    assert ct.table_name(45, "itrs-hp") == "cacti7-45nm-hp"
    assert ct.CAPACITIES[0] == 256
    assert ct.CAPACITIES[-1] == 4 << 20
    assert len(ct.CAPACITIES) == 15


def test_render_table_round_trips() -> None:
    res = ct.parse_cacti_output(FIXTURE.read_text())
    ok = ct.Outcome(ct.Point(45, "itrs-hp", 65536, 256), res, "primary", (), 0.5)
    bad = ct.Outcome(
        ct.Point(45, "itrs-hp", 256, 512),
        None,
        None,
        ("primary: " + ct.NO_DATA_ARRAY, "relaxed delay deviation: " + ct.NO_DATA_ARRAY),
        0.1,
    )
    text = ct.render_table(
        node_nm=45, cell="itrs-hp", outcomes=[bad, ok], version=res.version, built_from="test"
    )
    assert text.startswith("#")
    table = yaml.safe_load(text)
    assert table["name"] == "cacti7-45nm-hp"
    assert table["technology_nm"] == 45
    sram = table["sram"]
    assert sram["model"] == "grid"
    assert sram["capacity_basis"] == "bank"
    assert sram["extrapolation"] == "clamp"
    assert sram["config"] == ct.CONFIG_TEMPLATE.rstrip("\n")
    assert "7.0.3DD Prerelease of Aug, 2012" in sram["source"]
    assert "256 B x 512-bit" in " ".join(sram["note"].split())
    assert ct.NO_DATA_ARRAY in sram["note"]
    (row,) = sram["grid"]
    assert row == {
        "capacity_bytes": 65536,
        "word_bits": 256,
        "read_pj": 26.66,
        "write_pj": 76.01,
        "leakage_mw": 71.21,
        "area_um2": 226700.0,
        "access_ns": 0.7682,
        "cycle_ns": 0.456,
        "source": "CACTI 7.0, itrs-hp 45 nm, 64 KB, 256-bit word, ram, 1 bank, 1 rw port, "
        "350 K: cacti -infile 45nm-itrs-hp-64KB-256b.cfg",
    }


ROW_KEYS = {
    "capacity_bytes",
    "word_bits",
    "read_pj",
    "write_pj",
    "leakage_mw",
    "area_um2",
    "access_ns",
    "cycle_ns",
    "source",
}
SHIPPED = sorted(TABLES.glob("cacti7-*.yaml"))


@pytest.mark.parametrize("path", SHIPPED, ids=[p.stem for p in SHIPPED])
def test_shipped_table_is_well_formed(path: Path) -> None:
    table = yaml.safe_load(path.read_text())
    assert table["name"] == path.stem
    sram = table["sram"]
    assert {
        "model",
        "capacity_basis",
        "extrapolation",
        "source",
        "config",
        "command",
        "note",
        "grid",
    } <= set(sram)
    seen = set()
    for row in sram["grid"]:
        assert set(row) == ROW_KEYS
        assert row["read_pj"] > 0
        assert row["write_pj"] > 0
        assert row["leakage_mw"] > 0
        assert row["area_um2"] > 0
        for key in ROW_KEYS - {"source", "capacity_bytes", "word_bits"}:
            assert float(f"{row[key]:.4g}") == row[key]
        assert row["capacity_bytes"] in ct.CAPACITIES
        assert row["word_bits"] in ct.WORD_BITS
        seen.add((row["capacity_bytes"], row["word_bits"]))
    missing = {(c, b) for c in ct.CAPACITIES for b in ct.WORD_BITS} - seen
    note = " ".join(sram["note"].split())
    for capacity, bits in missing:
        assert f"{ct.human_size(capacity)} x {bits}-bit" in note


def test_shipped_45nm_hp_row_matches_fixture() -> None:
    path = TABLES / "cacti7-45nm-hp.yaml"
    res = ct.parse_cacti_output(FIXTURE.read_text())
    rows = yaml.safe_load(path.read_text())["sram"]["grid"]
    (row,) = [r for r in rows if (r["capacity_bytes"], r["word_bits"]) == (65536, 256)]
    assert row["read_pj"] == float(ct.sig4(res.read_pj))
    assert row["leakage_mw"] == float(ct.sig4(res.leakage_mw))
    assert row["cycle_ns"] == float(ct.sig4(res.cycle_ns))
