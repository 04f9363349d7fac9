"""Hardware configs: every preset validates; bad input names the file and the field."""

from __future__ import annotations

from pathlib import Path

import pytest

from spikesim.config import load_hardware, parse_override
from spikesim.errors import InputError

ROOT = Path(__file__).resolve().parents[1]
PRESETS = sorted((ROOT / "hw_configs").glob("*.yaml"))


@pytest.mark.parametrize("path", PRESETS, ids=lambda p: p.name)
def test_every_preset_validates(path: Path) -> None:
    hw = load_hardware(path)
    assert hw.name


def test_presets_exist() -> None:
    names = {p.stem for p in PRESETS}
    assert {"spikequant-45nm", "spikequant-45nm-count", "spikequant-45nm-ttfs"} <= names


def write(tmp_path: Path, text: str) -> Path:
    p = tmp_path / "hw.yaml"
    p.write_text(text)
    return p


def base_text() -> str:
    return (ROOT / "hw_configs" / "spikequant-45nm.yaml").read_text()


@pytest.mark.parametrize(
    ("edit", "field", "words"),
    [
        (lambda t: t.replace("lanes: 16", "lanes: -3"), "if_array.lanes", "greater than 0"),
        (lambda t: t.replace("lanes: 16", "lanez: 16"), "if_array.lanez", "unknown field"),
        (lambda t: t.replace("acc_bits: 24", "acc_bits: many"), "if_array.acc_bits", "integer"),
        (lambda t: t.replace("normal_coding: count", "normal_coding: morse"),
         "quant.normal_coding", "count"),
        (lambda t: t.replace("  output:      {role: output,", "  output:      {role: salient,"),
         "sram", "exactly one SRAM with role 'salient'"),
    ],
)
def test_bad_fields_are_named(tmp_path: Path, edit, field, words) -> None:  # type: ignore[no-untyped-def]
    path = write(tmp_path, edit(base_text()))
    with pytest.raises(InputError) as exc:
        load_hardware(path)
    line = exc.value.one_line()
    assert str(path) in line
    assert words in line
    if field:
        assert f"field '{field}'" in line
    assert "\n" not in line


def test_malformed_yaml(tmp_path: Path) -> None:
    path = write(tmp_path, "if_array: {lanes: 16\nencoder: [")
    with pytest.raises(InputError, match="malformed YAML at line"):
        load_hardware(path)


def test_missing_file(tmp_path: Path) -> None:
    with pytest.raises(InputError, match="file not found"):
        load_hardware(tmp_path / "nope.yaml")


def test_overrides_are_validated_like_the_file() -> None:
    hw = load_hardware(ROOT / "hw_configs" / "spikequant-45nm.yaml", {"if_array.lanes": 32})
    assert hw.if_array.lanes == 32
    with pytest.raises(InputError, match=r"if_array\.lanes"):
        load_hardware(ROOT / "hw_configs" / "spikequant-45nm.yaml", {"if_array.lanes": 0})


def test_pricing_knobs_default_and_validate() -> None:
    """``if_array.compare_bits`` (None: acc_bits) and ``energy.spike_add`` are knobs whose
    defaults keep today's widths; bad values name their field."""
    path = ROOT / "hw_configs" / "spikequant-45nm.yaml"
    hw = load_hardware(path)
    assert hw.if_array.compare_bits is None
    assert hw.if_array.compare_width_bits == hw.if_array.acc_bits == 24
    assert hw.energy.spike_add.value == "full_width"
    assert hw.energy.spike_add_guard_bits == 2
    hw = load_hardware(path, {"if_array.compare_bits": 12, "energy.spike_add": "operand_width"})
    assert hw.if_array.compare_width_bits == 12
    assert hw.energy.spike_add.value == "operand_width"
    for key, value in (
        ("energy.spike_add", "nope"),
        ("if_array.compare_bits", 1),
        ("energy.spike_add_guard_bits", -1),
    ):
        with pytest.raises(InputError) as exc:
            load_hardware(path, {key: value})
        assert f"field '{key}'" in exc.value.one_line()


@pytest.mark.parametrize(
    ("text", "key", "value"),
    [("if_array.lanes=32", "if_array.lanes", 32), ("quant.mad_k=4.5", "quant.mad_k", 4.5),
     ("quant.normal_coding=ttfs", "quant.normal_coding", "ttfs")],
)
def test_parse_override(text: str, key: str, value: object) -> None:
    assert parse_override(text) == (key, value)


def test_parse_override_rejects_garbage() -> None:
    with pytest.raises(InputError, match=r"dotted\.path=value"):
        parse_override("lanes")


def test_config_is_frozen() -> None:
    hw = load_hardware(ROOT / "hw_configs" / "spikequant-45nm.yaml")
    with pytest.raises(Exception, match="frozen"):
        hw.if_array.lanes = 3  # type: ignore[misc]


@pytest.mark.parametrize("path", PRESETS, ids=lambda p: p.name)
def test_presets_are_matched(path: Path) -> None:
    """Matched by construction: one file describes both arrays over the same clock, SRAMs, DRAM
    and energy table, with as many MAC units as IF accumulators (rows·cols = lanes·columns)."""
    hw = load_hardware(path)
    assert hw.mac.rows * hw.mac.cols == hw.if_array.lanes * hw.if_array.columns


@pytest.mark.parametrize("path", sorted((ROOT / "sweeps").glob("*.yaml")), ids=lambda p: p.name)
def test_shipped_sweeps_validate(path: Path) -> None:
    from spikesim.dse.spec import load_sweep

    sweep = load_sweep(path)
    assert sweep.spec.designs
