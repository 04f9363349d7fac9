"""Importing Accelergy ERT/ART files as a spikesim energy table (``spikesim energy import``), and
``spikesim energy list``.

The fixtures (``fixtures/accelergy/``) are small files in the real formats, each citing the
Accelergy-Project/timeloop-accelergy-exercises files it follows: ``ERT.yaml``, ``ART.yaml`` and
``flattened_architecture.yaml`` in Accelergy 0.4's format, ``v03/`` the 0.3 primitive exercise
(intmac, regfile, SRAM with argument combinations). Error cases edit copies of them.
"""

from __future__ import annotations

import copy
from collections.abc import Callable
from pathlib import Path
from typing import Any

import pytest
import yaml
from cli_support import assert_one_error, run

from spikesim.energy.accelergy import (
    Access,
    Document,
    ImportOptions,
    Kind,
    MacRule,
    convert,
    default_arch_path,
)
from spikesim.energy.table import EnergyTable, load_energy_table
from spikesim.errors import InputError

FIXTURES = Path(__file__).parent / "fixtures" / "accelergy"
V03 = FIXTURES / "v03"
FILES = ("ERT.yaml", "ART.yaml", "flattened_architecture.yaml")

GLB = "system_top_level.MainMemory[1..1]"
SPAD = "system_top_level.pe_spad[1..256]"
ADDER = "system_top_level.adder[1..256]"
MULT = "system_top_level.multiplier[1..256]"
DRAM = "system_top_level.DRAM[1..1]"
REG = "system_top_level.weight_reg[1..256]"
MAC03 = "simple_primitive.PE.MAC"


# --------------------------------------------------------------------------------------------
# Helpers
# --------------------------------------------------------------------------------------------






def load(path: Path) -> dict[str, Any]:
    return yaml.safe_load(path.read_text())


Edit = Callable[[dict[str, Any]], None]


def variant(
    folder: Path,
    *,
    ert: Edit | None = None,
    arch: Edit | None = None,
    art: Edit | None = None,
    base: Path = FIXTURES,
) -> Path:
    """Copies of the fixture files of ``base`` in ``folder``, each edited in place; returns
    ``folder``."""
    folder.mkdir(parents=True, exist_ok=True)
    for name, edit in zip(FILES, (ert, art, arch), strict=True):
        data = load(base / name)
        if edit is not None:
            edit(data)
        (folder / name).write_text(yaml.safe_dump(data, sort_keys=False))
    return folder


def ert_entry(data: dict[str, Any], name: str) -> dict[str, Any]:
    return next(t for t in data["ERT"]["tables"] if t["name"] == name)


def arch_entry(data: dict[str, Any], name: str) -> dict[str, Any]:
    return next(c for c in data["architecture"]["local"] if c["name"] == name)


def action(entry: dict[str, Any], name: str) -> dict[str, Any]:
    return next(a for a in entry["actions"] if a["name"] == name)


def import_args(folder: Path, out: Path, *extra: object, art: bool = False) -> list[object]:
    args: list[object] = ["energy", "import", folder / "ERT.yaml", "--out", out]
    if art:
        args += ["--art", folder / "ART.yaml"]
    return [*args, *extra]


def assert_nothing_written(out: Path) -> None:
    assert not out.exists()
    if out.parent.exists():
        assert not [p.name for p in out.parent.iterdir() if p.name.startswith(".")]


def table_of(
    tmp_path: Path,
    capsys: pytest.CaptureFixture[str],
    *extra: object,
    art: bool = False,
    folder: Path = FIXTURES,
) -> EnergyTable:
    out = tmp_path / "out" / "imported.yaml"
    code, stdout, err = run(capsys, *import_args(folder, out, *extra, art=art))
    assert code == 0, err
    assert f"wrote energy table 'imported' to {out}" in stdout
    return load_energy_table(out)


def every_row(table: dict[str, Any]) -> list[tuple[str, dict[str, Any]]]:
    rows = [
        (f"operations.{op}", row)
        for op, entry in table.get("operations", {}).items()
        for row in entry["rows"]
    ]
    rows += [("sram", p) for p in table.get("sram", {}).get("points", [])]
    if "dram" in table:
        rows.append(("dram", table["dram"]))
    return rows


# --------------------------------------------------------------------------------------------
# The import prices what the ERT says
# --------------------------------------------------------------------------------------------


def test_imported_table_prices_as_the_ert_says(
    tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    table = table_of(tmp_path, capsys)
    assert table.name == "imported"
    assert table.technology_nm == 45  # the on-chip entries' "45nm"; the DRAM says "SET ME"
    assert table.operation_energy("int_add", 16).energy_pj == 0.105
    assert table.operation_energy("int_mult", 8).energy_pj == 0.2
    assert table.operation_energy("register_read", 16).energy_pj == 0.144
    assert table.operation_energy("register_write", 16).energy_pj == 0.0
    # SRAM: depth × width / 8 bytes, one access of `width` bits at the ERT's read energy
    assert table.sram_access_energy(32768 * 64 // 8, 64).energy_pj == 43.353054
    assert table.sram_access_energy(192 * 16 // 8, 16).energy_pj == 0.680237
    # DRAM: 512 pJ per 64-bit access = 8 pJ/bit
    assert table.dram_energy(64).energy_pj == pytest.approx(512.0)
    assert table.dram_energy(8).energy_pj == pytest.approx(64.0)
    # spikesim's scaling rules apply to the imported rows
    assert table.operation_energy("int_add", 8).energy_pj == pytest.approx(0.0525)
    assert table.operation_energy("int_mult", 4).energy_pj == pytest.approx(0.05)
    assert table.leakage is None  # leak actions are not imported
    assert table.area is None  # no --art
    priced = table.operation_energy("int_add", 16)
    assert str(FIXTURES / "ERT.yaml") in priced.source
    assert ADDER in priced.source
    assert "action add" in priced.source


def test_a_hardware_file_prices_its_actions_with_the_imported_parts(
    tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    """``energy: {operations: imported, sram: imported, dram: imported}`` on a preset: the
    simulator's actions (a MAC multiply and add, an SRAM read, a DRAM read) cost what the ERT
    says; the preset's ``activations`` SRAM is 256 KiB of 64-bit words, like MainMemory."""
    from spikesim.config.loader import load_hardware
    from spikesim.config.presets import preset_path
    from spikesim.energy import energy_model, energy_per_action

    out = tmp_path / "imported.yaml"
    assert run(capsys, *import_args(FIXTURES, out))[0] == 0
    parts = {f"energy.{part}": str(out) for part in ("operations", "sram", "dram")}
    hw = load_hardware(preset_path("spikequant-45nm"), parts)
    table = energy_model(hw)
    assert energy_per_action(table, "mac_array", "multiply", 8, hw).energy_pj == 0.2
    assert energy_per_action(table, "mac_array", "add", 16, hw).energy_pj == 0.105
    assert energy_per_action(table, "latch", "read", 16, hw).energy_pj == 0.144
    sram = energy_per_action(table, "sram.activations", "read", 64, hw)
    assert hw.sram["activations"].capacity_bytes == 262144
    assert sram.energy_pj == 43.353054
    assert GLB in sram.source
    assert energy_per_action(table, "dram", "read", 8, hw).energy_pj == pytest.approx(64.0)


def test_every_row_names_the_ert_file_entry_and_action(
    tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    out = tmp_path / "t.yaml"
    code, _, err = run(capsys, *import_args(FIXTURES, out))
    assert code == 0, err
    table = load(out)
    ert = load(FIXTURES / "ERT.yaml")
    names = [t["name"] for t in ert["ERT"]["tables"]]
    rows = every_row(table)
    assert len(rows) == 7  # 4 operations (the two registers merged), 2 SRAM points, DRAM
    for where, row in rows:
        source = row["source"]
        assert f"Accelergy ERT {FIXTURES / 'ERT.yaml'}" in source, where
        assert any(f"entry {n}" in source for n in names), (where, source)
        assert "action " in source, (where, source)
    merged = table["operations"]["register_read"]["rows"][0]["source"]
    assert REG in merged
    assert "input_activation_reg" in merged
    assert "leakage" not in table  # sections the ERT does not give are left out
    assert out.read_text().startswith("# Energy table imported from Accelergy")


def test_output_validates_as_an_energy_table(
    tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    """The file validates with EnergyTable (optional sections) and with ``spikesim validate``."""
    out = tmp_path / "t.yaml"
    assert run(capsys, *import_args(FIXTURES, out, art=True))[0] == 0
    EnergyTable.model_validate(load(out))
    code, stdout, err = run(capsys, "validate", out)
    assert code == 0, err
    assert "valid energy table 't'" in stdout


def test_art_gives_the_area_section(tmp_path: Path, capsys: pytest.CaptureFixture[str]) -> None:
    table = table_of(tmp_path, capsys, art=True)
    assert table.logic_area("int_add", 16).area_um2 == pytest.approx(139.0)
    assert table.logic_area("int_mult", 8, 8).area_um2 == pytest.approx(396.875)
    assert table.logic_area("register", 16).area_um2 == pytest.approx(95.68)
    # the largest SRAM sets the per-bit macro area: 707084 µm² for 256 KiB
    glb = table.sram_area(32768 * 64 // 8)
    assert glb.area_um2 == pytest.approx(707084.0)
    assert "Accelergy ART" in glb.source
    assert GLB in glb.source
    assert table.area is not None
    assert SPAD in table.area.sram.note  # the other SRAM's per-bit area is quoted


def test_notes_say_what_was_left_out(tmp_path: Path, capsys: pytest.CaptureFixture[str]) -> None:
    out = tmp_path / "t.yaml"
    code, stdout, err = run(capsys, *import_args(FIXTURES, out, art=True))
    assert code == 0, err
    notes = [line for line in stdout.splitlines() if line.startswith("note: ")]
    assert any("inter_PE_spatial" in n and "dummy_storage" in n for n in notes)
    assert any(DRAM in n and "area" in n for n in notes)
    assert any("leak of 6 entries" in n for n in notes)
    assert "inter_PE_spatial" in load(out)["description"]


def test_v03_argument_combinations_and_regfile_datawidth(
    tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    """0.3: an action per (address_delta, data_delta); the most expensive is used, and said."""
    table = table_of(tmp_path, capsys, "--mac", "multiply", folder=V03)
    assert table.dram is None  # no DRAM in this ERT: the section is left out
    read = table.operation_energy("register_read", 16)  # regfile datawidth 16 (no width)
    assert read.energy_pj == 0.253
    assert "address_delta 1, data_delta 1" in read.source
    assert table.sram_access_energy(1024 * 32 // 8, 32).energy_pj == 4.82
    mac = table.operation_energy("int_mult", 16)
    assert mac.energy_pj == 2.2  # mac_random, the whole MAC
    assert "action mac_random" in mac.source
    assert table.operations is not None
    assert "upper bound" in table.operations["int_mult"].rows[0].note


def test_mac_is_refused_by_default(tmp_path: Path, capsys: pytest.CaptureFixture[str]) -> None:
    out = tmp_path / "t.yaml"
    code, _, err = run(capsys, *import_args(V03, out))
    assert_one_error(code, err, V03 / "flattened_architecture.yaml", MAC03, "--mac")
    assert_nothing_written(out)


def test_mac_split_subtracts_the_erts_adder(
    tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    def add_adder(data: dict[str, Any]) -> None:
        data["ERT"]["tables"].append(
            {"name": "simple_primitive.PE.adder", "actions": [{"name": "add", "energy": 0.4}]}
        )

    def add_adder_arch(data: dict[str, Any]) -> None:
        data["architecture"]["local"].append(
            {
                "name": "simple_primitive.PE.adder",
                "class": "intadder",
                "attributes": {"datawidth": 16, "technology": "45nm"},
            }
        )

    folder = variant(tmp_path / "in", ert=add_adder, arch=add_adder_arch, base=V03)
    table = table_of(tmp_path, capsys, "--mac", "split", folder=folder)
    mult = table.operation_energy("int_mult", 16)
    assert mult.energy_pj == pytest.approx(2.2 - 0.4)
    assert "minus entry simple_primitive.PE.adder" in mult.source
    assert table.operation_energy("int_add", 16).energy_pj == 0.4


def test_mac_split_without_an_adder_is_refused(
    tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    out = tmp_path / "t.yaml"
    code, _, err = run(capsys, *import_args(V03, out, "--mac", "split"))
    assert_one_error(code, err, V03 / "ERT.yaml", MAC03, "adder")
    assert_nothing_written(out)


@pytest.mark.parametrize(
    ("access", "glb_pj"),
    [
        ("read", 43.353054),
        ("write", 30.878292),
        ("max", 43.353054),
        ("mean", (43.353054 + 30.878292) / 2),
    ],
)
def test_access_chooses_the_sram_energy(
    access: str, glb_pj: float, tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    table = table_of(tmp_path, capsys, "--access", access)
    assert table.sram_access_energy(32768 * 8, 64).energy_pj == pytest.approx(glb_pj)
    assert table.dram_energy(64).energy_pj == pytest.approx(512.0)


def test_class_declares_a_compound_class(
    tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    def compound(data: dict[str, Any]) -> None:
        arch_entry(data, SPAD)["class"] = "smartbuffer_SRAM"

    folder = variant(tmp_path / "in", arch=compound)
    out = tmp_path / "refused.yaml"
    code, _, err = run(capsys, *import_args(folder, out))
    assert_one_error(
        code, err, folder / "flattened_architecture.yaml", SPAD, "smartbuffer_SRAM", "--class"
    )
    assert_nothing_written(out)
    table = table_of(tmp_path, capsys, "--class", "smartbuffer_SRAM=SRAM", folder=folder)
    assert table.sram_access_energy(384, 16).energy_pj == 0.680237


def test_skip_leaves_an_entry_out(tmp_path: Path, capsys: pytest.CaptureFixture[str]) -> None:
    table = table_of(tmp_path, capsys, "--skip", "system_top_level.pe_spad")  # without [..]
    assert table.sram is not None
    assert [p.capacity_bytes for p in table.sram.points] == [262144]
    assert "pe_spad" in table.description


def test_unused_skip_and_class_are_errors(
    tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    out = tmp_path / "t.yaml"
    code, _, err = run(capsys, *import_args(FIXTURES, out, "--skip", "nowhere"))
    assert_one_error(code, err, "--skip", "nowhere")
    code, _, err = run(capsys, *import_args(FIXTURES, out, "--class", "XY_NoC=skip"))
    assert_one_error(code, err, "--class", "XY_NoC")
    code, _, err = run(capsys, *import_args(FIXTURES, out, "--class", "XY_NoC=router"))
    assert_one_error(code, err, "--class", "router")
    assert_nothing_written(out)


def test_technology_nm_and_name(tmp_path: Path, capsys: pytest.CaptureFixture[str]) -> None:
    def mixed(data: dict[str, Any]) -> None:
        arch_entry(data, ADDER)["attributes"]["technology"] = "40nm"

    folder = variant(tmp_path / "in", arch=mixed)
    out = tmp_path / "t.yaml"
    code, _, err = run(capsys, *import_args(folder, out))
    assert_one_error(code, err, folder / "flattened_architecture.yaml", ADDER, "--technology-nm")
    assert_nothing_written(out)
    code, _, err = run(
        capsys, *import_args(folder, out, "--technology-nm", "40", "--name", "my-node")
    )
    assert code == 0, err
    table = load_energy_table(out)
    assert table.technology_nm == 40
    assert table.name == "my-node"
    assert "--technology-nm" in table.description


def test_arch_beside_the_ert_and_by_flag(
    tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    folder = tmp_path / "timeloop"
    folder.mkdir()
    for name in FILES:
        (folder / f"timeloop-mapper.{name}").write_bytes((FIXTURES / name).read_bytes())
    ert = folder / "timeloop-mapper.ERT.yaml"
    assert default_arch_path(ert) == folder / "timeloop-mapper.flattened_architecture.yaml"
    out = tmp_path / "t.yaml"
    code, _, err = run(capsys, "energy", "import", ert, "--out", out)
    assert code == 0, err
    assert "timeloop-mapper.flattened_architecture.yaml" in load(out)["description"]
    # elsewhere, under another name: --arch
    lone = tmp_path / "lone"
    lone.mkdir()
    (lone / "ERT.yaml").write_bytes((FIXTURES / "ERT.yaml").read_bytes())
    out2 = tmp_path / "t2.yaml"
    code, _, err = run(capsys, "energy", "import", lone / "ERT.yaml", "--out", out2)
    assert_one_error(code, err, lone / "ERT.yaml", "--arch", "flattened_architecture.yaml")
    assert_nothing_written(out2)
    arch = folder / "timeloop-mapper.flattened_architecture.yaml"
    code, _, err = run(capsys, "energy", "import", lone / "ERT.yaml", "--arch", arch, "--out", out2)
    assert code == 0, err


# --------------------------------------------------------------------------------------------
# --out
# --------------------------------------------------------------------------------------------


def test_existing_out_is_refused_unless_force(
    tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    out = tmp_path / "t.yaml"
    out.write_text("mine\n")
    code, _, err = run(capsys, *import_args(FIXTURES, out))
    assert_one_error(code, err, out, "--out", "--force")
    assert out.read_text() == "mine\n"
    code, _, err = run(capsys, *import_args(FIXTURES, out, "--force"))
    assert code == 0, err
    assert load(out)["name"] == "t"
    assert not [p.name for p in tmp_path.iterdir() if p.name.startswith(".")]


def test_out_may_not_be_a_directory_or_an_input(
    tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    code, _, err = run(capsys, *import_args(FIXTURES, tmp_path))
    assert_one_error(code, err, "--out", "directory")
    folder = variant(tmp_path / "in")
    code, _, err = run(capsys, *import_args(folder, folder / "ERT.yaml", "--force"))
    assert_one_error(code, err, "--out", "input")
    assert load(folder / "ERT.yaml") == load(FIXTURES / "ERT.yaml")


# --------------------------------------------------------------------------------------------
# Refusals: exit 2, one line naming the file and the entry, nothing written
# --------------------------------------------------------------------------------------------


def _set(path: list[Any], value: Any) -> Edit:
    def edit(data: dict[str, Any]) -> None:
        node: Any = data
        for key in path[:-1]:
            node = node[key]
        if value is _DELETE:
            del node[path[-1]]
        else:
            node[path[-1]] = value

    return edit


_DELETE = object()


def _ert_action(entry: str, act: str, key: str, value: Any) -> Edit:
    def edit(data: dict[str, Any]) -> None:
        a = action(ert_entry(data, entry), act)
        if value is _DELETE:
            del a[key]
        else:
            a[key] = value

    return edit


def _arch_attr(entry: str, key: str, value: Any) -> Edit:
    def edit(data: dict[str, Any]) -> None:
        attrs = arch_entry(data, entry)["attributes"]
        if value is _DELETE:
            del attrs[key]
        else:
            attrs[key] = value

    return edit


def _arch_class(entry: str, cls: str) -> Edit:
    def edit(data: dict[str, Any]) -> None:
        arch_entry(data, entry)["class"] = cls

    return edit


def _second_adder(bits: int, energy: float) -> tuple[Edit, Edit]:
    def ert(data: dict[str, Any]) -> None:
        data["ERT"]["tables"].append(
            {"name": "system_top_level.adder2", "actions": [{"name": "add", "energy": energy}]}
        )

    def arch(data: dict[str, Any]) -> None:
        data["architecture"]["local"].append(
            {
                "name": "system_top_level.adder2",
                "class": "intadder",
                "attributes": {"width": bits, "technology": "45nm"},
            }
        )

    return ert, arch


ERT_FILE, ARCH_FILE, ART_FILE = "ERT.yaml", "flattened_architecture.yaml", "ART.yaml"

REFUSALS: dict[str, tuple[dict[str, Edit], str, tuple[str, ...]]] = {
    # case: ({file kind: edit}, file named, needles)
    "unmappable class": (
        {"arch": _arch_class(MULT, "XY_NoC")},
        ARCH_FILE,
        (MULT, "XY_NoC", "architecture.local.6.class"),
    ),
    "negative energy": (
        {"ert": _ert_action(ADDER, "add", "energy", -0.5)},
        ERT_FILE,
        (ADDER, "negative", "ERT.tables.5.actions.0.energy"),
    ),
    "missing energy": (
        {"ert": _ert_action(MULT, "multiply", "energy", _DELETE)},
        ERT_FILE,
        (MULT, "no energy"),
    ),
    "energy not a number": (
        {"ert": _ert_action(MULT, "multiply", "energy", "much")},
        ERT_FILE,
        (MULT, "not a finite number"),
    ),
    "energy not finite": (
        {"ert": _ert_action(MULT, "multiply", "energy", float("inf"))},
        ERT_FILE,
        (MULT, "not a finite number"),
    ),
    "missing width": (
        {"arch": _arch_attr(ADDER, "width", _DELETE)},
        ARCH_FILE,
        (ADDER, "gives no width"),
    ),
    "missing capacity": (
        {"arch": _arch_attr(GLB, "depth", _DELETE)},
        ARCH_FILE,
        (GLB, "gives no depth"),
    ),
    "width not a number": (
        {"arch": _arch_attr(ADDER, "width", "must_specify")},
        ARCH_FILE,
        (ADDER, "must_specify", "attributes.width"),
    ),
    "disagreeing synonyms": (
        {"arch": _arch_attr(ADDER, "datawidth", 8)},
        ARCH_FILE,
        (ADDER, "disagreeing"),
    ),
    "zero-energy SRAM": (
        {"ert": _ert_action(GLB, "read", "energy", 0.0)},
        ERT_FILE,
        (GLB, "> 0 pJ"),
    ),
    "no read action": (
        {"ert": _ert_action(DRAM, "read", "name", "fetch")},
        ERT_FILE,
        (DRAM, "'read'"),
    ),
    "entry not in the architecture": (
        {"ert": lambda d: ert_entry(d, ADDER).update(name="system_top_level.ghost")},
        ERT_FILE,
        ("system_top_level.ghost", "architecture"),
    ),
    "two rows at one width": (
        dict(zip(("ert", "arch"), _second_adder(16, 0.2), strict=True)),
        ERT_FILE,
        (ADDER, "system_top_level.adder2", "operations.int_add"),
    ),
    "rows falling with width": (
        dict(zip(("ert", "arch"), _second_adder(8, 0.5), strict=True)),
        ERT_FILE,
        (ADDER, "system_top_level.adder2", "must not fall"),
    ),
    "not an ERT": (
        {"ert": lambda d: d.update(ERT_table=d.pop("ERT"))},
        ERT_FILE,
        ("no top-level 'ERT' key",),
    ),
    "tables not a list": (
        {"ert": _set(["ERT", "tables"], 5)},
        ERT_FILE,
        ("ERT.tables",),
    ),
    "not an architecture": (
        {"arch": lambda d: d.update(arch=d.pop("architecture"))},
        ARCH_FILE,
        ("flattened Accelergy architecture",),
    ),
    "duplicate entry": (
        {"ert": lambda d: d["ERT"]["tables"].append(copy.deepcopy(ert_entry(d, ADDER)))},
        ERT_FILE,
        (ADDER, "twice"),
    ),
}


@pytest.mark.parametrize("case", sorted(REFUSALS))
def test_refusals_are_one_line(
    case: str, tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    edits, named, needles = REFUSALS[case]
    folder = variant(tmp_path / "in", ert=edits.get("ert"), arch=edits.get("arch"))
    out = tmp_path / "out" / "t.yaml"
    code, stdout, err = run(capsys, *import_args(folder, out))
    assert_one_error(code, err, folder / named, *needles)
    assert stdout == ""
    assert_nothing_written(out)


def test_malformed_yaml_is_one_line(tmp_path: Path, capsys: pytest.CaptureFixture[str]) -> None:
    folder = variant(tmp_path / "in")
    (folder / "ERT.yaml").write_text("ERT:\n  tables: [\n    - name: x\n")
    out = tmp_path / "t.yaml"
    code, _, err = run(capsys, *import_args(folder, out))
    assert_one_error(code, err, folder / "ERT.yaml", "malformed YAML")
    assert_nothing_written(out)
    code, _, err = run(capsys, *import_args(tmp_path / "missing", out))
    assert_one_error(code, err, tmp_path / "missing" / "ERT.yaml")
    assert_nothing_written(out)


ART_REFUSALS: dict[str, tuple[Edit, tuple[str, ...]]] = {
    "negative area": (
        lambda d: d["ART"]["tables"][2].update(area=-1.0),
        (GLB, "area"),
    ),
    "zero area of a part": (
        lambda d: d["ART"]["tables"][6].update(area=0.0),
        (ADDER, "area 0"),
    ),
    "no SRAM area": (
        lambda d: d["ART"].update(
            tables=[t for t in d["ART"]["tables"] if t["name"] not in (GLB, SPAD)]
        ),
        ("no SRAM entry",),
    ),
    "missing area": (
        lambda d: d["ART"]["tables"][4].pop("area"),
        (REG, "no area"),
    ),
}


@pytest.mark.parametrize("case", sorted(ART_REFUSALS))
def test_art_refusals_are_one_line(
    case: str, tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    edit, needles = ART_REFUSALS[case]
    folder = variant(tmp_path / "in", art=edit)
    out = tmp_path / "t.yaml"
    code, _, err = run(capsys, *import_args(folder, out, art=True))
    assert_one_error(code, err, folder / "ART.yaml", *needles)
    assert_nothing_written(out)


def test_art_mac_follows_the_mac_rule(tmp_path: Path, capsys: pytest.CaptureFixture[str]) -> None:
    table = table_of(tmp_path, capsys, "--mac", "multiply", art=True, folder=V03)
    assert table.logic_area("int_mult", 16, 16).area_um2 == pytest.approx(1239.5)
    assert table.logic_area("register", 16 * 24).area_um2 == pytest.approx(358.18)
    out = tmp_path / "t.yaml"
    code, _, err = run(
        capsys, *import_args(V03, out, "--mac", "multiply", "--skip", MAC03, art=True)
    )
    assert code == 0, err
    assert "int_mult" not in load(out)["area"]["components"]


# --------------------------------------------------------------------------------------------
# The conversion on its own (pure: mappings in, a mapping out)
# --------------------------------------------------------------------------------------------


ERT_02 = {  # Accelergy 0.2: tables keyed by name, actions by name (timeloop-accelergy-exercises
    # commit ee4f782, exercises/accelergy/01_primitive_architecture_ERT/ERT.yaml)
    "ERT": {
        "tables": {
            "simple_primitive.GLB": {
                "idle": {"arguments": None, "energy": 0.429},
                "read": [
                    {"arguments": {"address_delta": 0, "data_delta": 0}, "energy": 0.429},
                    {"arguments": {"address_delta": 1, "data_delta": 1}, "energy": 2.846},
                ],
                "write": [{"arguments": {"address_delta": 1, "data_delta": 1}, "energy": 2.6}],
            }
        }
    }
}
ARCH_02 = {  # 0.2 flattened architecture: components keyed by name
    "flattened_architecture": {
        "version": 0.2,
        "components": {
            "simple_primitive.GLB": {
                "class": "SRAM",
                "name": "simple_primitive.GLB",
                "attributes": {"depth": 1024, "width": 32, "technology": "40nm"},
            }
        },
    }
}


def test_convert_reads_the_02_formats() -> None:
    result = convert(
        Document(ERT_02, "ERT.yaml"),
        Document(ARCH_02, "arch.yaml"),
        options=ImportOptions(name="old"),
    )
    table = EnergyTable.model_validate(result.table)
    assert table.technology_nm == 40
    assert set(result.table) == {"name", "description", "technology_nm", "sram"}
    priced = table.sram_access_energy(4096, 32)
    assert priced.energy_pj == 2.846
    assert "simple_primitive.GLB" in priced.source


def test_convert_is_pure_and_deterministic() -> None:
    ert, arch = copy.deepcopy(ERT_02), copy.deepcopy(ARCH_02)
    options = ImportOptions(name="old", access=Access.MAX, mac=MacRule.MULTIPLY)
    first = convert(Document(ert, "e"), Document(arch, "a"), options=options)
    second = convert(Document(ert, "e"), Document(arch, "a"), options=options)
    assert first == second
    assert ert == ERT_02
    assert arch == ARCH_02


def test_convert_classes_option_and_errors_name_the_field() -> None:
    arch = copy.deepcopy(ARCH_02)
    arch["flattened_architecture"]["components"]["simple_primitive.GLB"]["class"] = "my_sram"
    with pytest.raises(InputError) as info:
        convert(Document(ERT_02, "e"), Document(arch, "a"), options=ImportOptions(name="x"))
    assert info.value.file == "a"
    assert info.value.field == "flattened_architecture.components.simple_primitive.GLB.class"
    result = convert(
        Document(ERT_02, "e"),
        Document(arch, "a"),
        options=ImportOptions(name="x", classes={"My-SRAM": Kind.SRAM}),
    )
    assert result.table["sram"]["points"][0]["energy_pj_per_access"] == 2.846


def _entry(name: str, *actions: tuple[str, float]) -> dict[str, Any]:
    return {
        "name": name,
        "actions": [{"name": a, "arguments": {}, "energy": e} for a, e in actions],
    }


def _component(name: str, cls: str, **attributes: Any) -> dict[str, Any]:
    return {"name": name, "class": cls, "attributes": attributes}


def test_convert_floating_point_units_and_fpmac() -> None:
    ert = {
        "ERT": {
            "version": "0.4",
            "tables": [
                _entry("s.fadd", ("add", 0.4), ("leak", 0.01)),
                _entry("s.fmul", ("multiply", 3.7)),
                _entry("s.fmac", ("compute", 1.5)),
            ],
        }
    }
    arch = {
        "architecture": {
            "local": [
                _component("s.fadd", "fpadder", datawidth=16, technology="45nm"),
                _component("s.fmul", "fpmultiplier", datawidth=32, technology="45 nm"),
                _component("s.fmac", "fpmac", datawidth=16, technology=45),
            ]
        }
    }
    result = convert(
        Document(ert, "e"),
        Document(arch, "a"),
        options=ImportOptions(name="fp", mac=MacRule.MULTIPLY),
    )
    table = EnergyTable.model_validate(result.table)
    assert table.operations is not None
    assert table.operations["fp_add"].scaling.value == "none"
    assert table.operation_energy("fp_add", 16).energy_pj == 0.4
    assert table.operation_energy("fp_mult", 32).energy_pj == 3.7
    assert table.operation_energy("fp_mult", 16).energy_pj == 1.5  # the fpmac, whole
    assert table.technology_nm == 45


def test_convert_dram_only_takes_the_drams_node_or_refuses() -> None:
    ert = {"ERT": {"tables": [_entry("s.DRAM", ("read", 640.0), ("write", 640.0))]}}
    arch = {
        "architecture": {"local": [_component("s.DRAM", "DRAM", width=64, technology="SET ME")]}
    }
    with pytest.raises(InputError) as info:
        convert(Document(ert, "e"), Document(arch, "a"), options=ImportOptions(name="d"))
    assert "--technology-nm" in info.value.message
    result = convert(
        Document(ert, "e"), Document(arch, "a"), options=ImportOptions(name="d", technology_nm=22)
    )
    assert set(result.table) == {"name", "description", "technology_nm", "dram"}
    assert result.table["dram"]["energy_pj_per_bit"] == 10.0
    assert EnergyTable.model_validate(result.table).dram_energy(8).energy_pj == 80.0


def test_header_lines_cannot_become_yaml() -> None:
    from spikesim.energy.accelergy import table_yaml

    result = convert(Document(ERT_02, "e"), Document(ARCH_02, "a"), options=ImportOptions(name="x"))
    text = table_yaml(result, ["ok", "a\nname: evil", "b\u2028sram: 1"])
    assert yaml.safe_load(text) == result.table
    assert text.splitlines()[:5] == ["# ok", "# a", "# name: evil", "# b", "# sram: 1"]


def test_cli_choices_match_the_library() -> None:
    from spikesim.cli import energy as cli_energy

    assert tuple(m.value for m in MacRule) == cli_energy.MAC_CHOICES
    assert tuple(a.value for a in Access) == cli_energy.ACCESS_CHOICES
    assert [k.lower() for k in cli_energy.KIND_CHOICES] == [k.value for k in Kind]


# --------------------------------------------------------------------------------------------
# energy list
# --------------------------------------------------------------------------------------------


def test_energy_list(capsys: pytest.CaptureFixture[str]) -> None:
    code, out, err = run(capsys, "energy", "list")
    assert code == 0, err
    lines = out.splitlines()
    assert lines[0].split() == ["name", "node", "sections", "description"]
    horowitz = next(line for line in lines if line.startswith("horowitz-45nm "))
    assert "45 nm" in horowitz
    assert "operations, sram, dram, leakage, area" in horowitz
    assert "Horowitz ISSCC 2014 (45 nm, 0.9 V)" in horowitz  # the first sentence, shortened
    assert "Widths other" not in horowitz
    assert "  45 nm: operations horowitz-45nm, sram cacti7-45nm-lop, dram horowitz-45nm" in lines


def test_an_imported_table_drives_a_run(
    tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    """The whole path a user takes: import an ERT, name it in a hardware file, simulate. (The
    MAC baselines dequantize in FP16: with this ERT, which has no FP multiplier, they are
    refused by name, ``operations.fp_mult``.)"""
    import pandas as pd
    import yaml

    from spikesim.config.presets import preset_path

    table = tmp_path / "tables" / "imported.yaml"
    assert run(capsys, *import_args(FIXTURES, table))[0] == 0
    hw = yaml.safe_load(preset_path("spikequant-45nm").read_text())
    hw["energy"] = {"operations": "tables/imported.yaml", "sram": "cacti7-45nm-lop",
                    "dram": "tables/imported.yaml"}
    hw_file = tmp_path / "hw.yaml"
    hw_file.write_text(yaml.safe_dump(hw))
    trace = tmp_path / "trace"
    assert run(capsys, "synth", "--gemm", "4,32,40", "--out", trace)[0] == 0
    out = tmp_path / "run"
    code, _, err = run(
        capsys, "simulate", "--hw", hw_file, "--trace", trace, "--out", out,
        "--designs", "spikequant", "--no-figures", "--quiet",
    )  # fmt: skip
    assert code == 0, err
    actions = pd.read_csv(out / "actions.csv")
    tables = dict(zip(actions["component"], actions["energy_table"], strict=False))
    assert tables["dram"] == "imported"
    assert tables["if_array"] == "imported"
    assert tables["sram.weights"] == "cacti7-45nm-lop"


def test_first_sentence() -> None:
    from spikesim.cli.energy import first_sentence

    assert first_sentence("A 0.9 V table (e.g. Des. Autom. 2024). Then more.") == (
        "A 0.9 V table (e.g. Des. Autom. 2024)."
    )
    assert first_sentence("No full stop") == "No full stop"
    assert first_sentence("Wrapped\n  text. 7 nm next.") == "Wrapped text."


def test_energy_needs_an_action(capsys: pytest.CaptureFixture[str]) -> None:
    code, _, err = run(capsys, "energy")
    assert_one_error(code, err, "ACTION")
