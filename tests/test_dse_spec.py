"""The sweep spec: validated against the base hardware, errors name file and field."""

from __future__ import annotations

from pathlib import Path
from typing import Any

import pytest
import yaml

from spikesim.dse.spec import load_sweep
from spikesim.errors import InputError


def write_spec(tmp_path: Path, base_hw: Path, **fields: Any) -> Path:
    data: dict[str, Any] = {"base": str(base_hw), "axes": {"if_array.lanes": [8, 16]}}
    data.update(fields)
    path = tmp_path / "sweep.yaml"
    path.write_text(yaml.safe_dump(data, sort_keys=False), encoding="utf-8")
    return path


def test_grid_points_and_relative_base(tmp_path: Path, default_hw_path: Path) -> None:
    hw = tmp_path / "hw" / "base.yaml"
    hw.parent.mkdir()
    hw.write_text(default_hw_path.read_text(encoding="utf-8"), encoding="utf-8")
    path = tmp_path / "sweep.yaml"
    path.write_text(
        "base: hw/base.yaml\naxes:\n  if_array.lanes: [8, 16]\n"
        "  quant.normal_coding: [count, ttfs]\n  sram.weights.capacity_bytes: [65536]\n"
        "designs: [spikequant, mac-w4a4]\n",
        encoding="utf-8",
    )
    sweep = load_sweep(path)
    assert sweep.base_path == hw.parent / "base.yaml"
    points = list(sweep.spec.points())
    assert len(points) == 4 == sweep.spec.grid_size
    assert points[1] == {"if_array.lanes": 8, "quant.normal_coding": "ttfs",
                         "sram.weights.capacity_bytes": 65536}


def test_random_sampling_is_seeded_and_distinct(tmp_path: Path, default_hw_path: Path) -> None:
    axes = {"if_array.lanes": [4, 8, 16, 32], "if_array.columns": [16, 32, 64],
            "encoder.count": [1, 2, 4, 8]}
    path = write_spec(tmp_path, default_hw_path, axes=axes, sampling="random", samples=10, seed=3)
    a = list(load_sweep(path).spec.points())
    b = list(load_sweep(path).spec.points())
    assert a == b
    assert len(a) == 10
    assert len({tuple(p.values()) for p in a}) == 10


@pytest.mark.parametrize(
    ("fields", "field", "message"),
    [
        ({"axes": {"if_array.lane": [8]}}, "axes.if_array.lane", "unknown field"),
        ({"axes": {"if_array.lanes": [0]}}, "axes.if_array.lanes", "greater than 0"),
        ({"axes": {"mac.dataflow": ["xy"]}}, "axes.mac.dataflow", "xy"),
        ({"axes": {"sram.nosuch.capacity_bytes": [1024]}}, "axes.sram.nosuch.capacity_bytes",
         "missing field"),
        ({"axes": {"if_array.lanes": []}}, "axes", "no values"),
        ({"sampling": "random"}, None, "needs 'samples'"),
        ({"designs": ["nosuch"]}, "designs", "unknown design"),
        ({"extra": 1}, "extra", "unknown field"),
        ({"constraints": {"relations": ["if_array.lanes <<= 3"]}}, "constraints.relations",
         "is not"),
        ({"constraints": {"relations": ["if_array.nope <= 3"]}}, "constraints.relations",
         "not a field"),
        ({"base": "missing.yaml"}, "base", "not found"),
        ({"axes": {"array": [{"if_array.dataflow": "token_batched"}, "token_serial"]}},
         "axes", "mixes mappings"),
        ({"axes": {"array": [{}]}}, "axes", "empty bundle"),
        ({"axes": {"array": [{"if_array..lanes": 8}]}}, "axes", "not a dotted field path"),
        # a bundle is validated as a whole against the base: the knob needs its dataflow
        ({"axes": {"array": [{"if_array.batch_tokens": 8}]}}, "axes.array",
         "token_batched only"),
        ({"axes": {"array": [{"if_array.dataflow": "token_batched",
                              "if_array.batch_tokens": 0}]}}, "axes.array", "greater than"),
    ],
)
def test_bad_spec_names_file_and_field(
    tmp_path: Path, default_hw_path: Path, fields: dict[str, Any], field: str | None, message: str
) -> None:
    path = write_spec(tmp_path, default_hw_path, **fields)
    with pytest.raises(InputError, match=message) as info:
        load_sweep(path)
    assert info.value.file == str(path)
    if field is not None:
        assert info.value.field == field


def test_bundle_axis_sets_its_fields_together(tmp_path: Path, default_hw_path: Path) -> None:
    """A bundle axis (mappings as values) sets knobs that exist only together; its columns are
    the label (the bundle as text) and every path its bundles set."""
    axes = {
        "array": [
            {"if_array.dataflow": "token_serial"},
            {"if_array.dataflow": "token_batched", "if_array.batch_tokens": 16},
        ],
        "if_array.row_latch": [False, True],
    }
    spec = load_sweep(write_spec(tmp_path, default_hw_path, axes=axes)).spec
    points = list(spec.points())
    assert len(points) == 4
    assert spec.overrides(points[3]) == {
        "if_array.dataflow": "token_batched", "if_array.batch_tokens": 16,
        "if_array.row_latch": True,
    }
    assert spec.columns() == [
        "array", "if_array.dataflow", "if_array.batch_tokens", "if_array.row_latch",
    ]
    config = {"if_array": {"dataflow": "token_serial", "batch_tokens": None, "row_latch": False}}
    assert spec.column_values(points[0], config) == {
        "array": "if_array.dataflow=token_serial", "if_array.dataflow": "token_serial",
        "if_array.batch_tokens": None, "if_array.row_latch": False,
    }
