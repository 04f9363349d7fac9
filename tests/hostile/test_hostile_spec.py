"""Hostile sweep specs and flags: seeds, sizes that would never finish, relations that cannot be
evaluated, more workers than tasks. Each is one ``error:`` line naming the file and the field,
found at load time, quickly."""

from __future__ import annotations

import time
from pathlib import Path
from typing import Any

import hostile_support
import pytest
from hostile_support import assert_one_error, inline_sweeps, run, write_spec

from spikesim.dse import run_sweep
from spikesim.dse.spec import (
    MAX_AXIS_VALUES,
    MAX_POINTS,
    MAX_RANDOM_GRID,
    SweepSpec,
    load_sweep,
)
from spikesim.errors import InputError
from spikesim.procpool import MAX_WORKERS

# fixtures shared with the other hostile modules (see hostile_support)
trace_master = hostile_support.trace_master
sweep_master = hostile_support.sweep_master
sweep_spec = hostile_support.sweep_spec

_PORTS = ["sram.weights.ports", "sram.activations.ports", "sram.output.ports",
          "sram.salient.ports"]


def _axes_1e18() -> dict[str, list[Any]]:
    """18 axes of 10 valid values each: a grid of 10^18 points."""
    axes: dict[str, list[Any]] = {
        "if_array.lanes": [2**k for k in range(1, 11)],
        "if_array.columns": [2**k for k in range(1, 11)],
        "if_array.acc_bits": list(range(16, 26)),
        "encoder.count": list(range(1, 11)),
        "sram.weights.banks": [2**k for k in range(10)],
        "sram.activations.banks": [2**k for k in range(10)],
        "sram.output.banks": [2**k for k in range(10)],
        "sram.salient.banks": [2**k for k in range(10)],
        "sram.weights.capacity_bytes": [2**k * 4096 for k in range(1, 11)],
        "sram.activations.capacity_bytes": [2**k * 4096 for k in range(1, 11)],
        "sram.output.capacity_bytes": [2**k * 4096 for k in range(1, 11)],
        "sram.salient.capacity_bytes": [2**k * 4096 for k in range(1, 11)],
        "quant.mad_k": [1.0 + 0.5 * i for i in range(10)],
        "clock_hz": [1e8 * (i + 1) for i in range(10)],
    }
    for path in _PORTS:
        axes[path] = list(range(1, 11))
    assert len(axes) == 18
    return axes


def _load(tmp_path: Path, axes: dict[str, Any] | None = None, **fields: Any) -> Any:
    return load_sweep(write_spec(tmp_path / "sweep.yaml", axes, **fields))


def _assert_field(
    tmp_path: Path, field: str, needle: str, axes: dict[str, Any] | None = None,
    seconds: float = 20.0, **fields: Any,
) -> InputError:
    start = time.monotonic()
    with pytest.raises(InputError) as info:
        _load(tmp_path, axes, **fields)
    assert time.monotonic() - start < seconds
    assert info.value.field == field, info.value
    assert info.value.file == str(tmp_path / "sweep.yaml")
    assert needle in info.value.message, info.value
    return info.value


# --------------------------------------------------------------------------------------------
# Seed
# --------------------------------------------------------------------------------------------


@pytest.mark.parametrize("seed", [-1, -(2**70), 2**64, 10**40, "abc", 1.5])
def test_bad_seed_is_an_error_naming_seed(tmp_path: Path, seed: object) -> None:
    # the same for grid sampling, where the seed is unused: accepted or refused consistently
    for sampling in ({"sampling": "random", "samples": 1}, {}):
        with pytest.raises(InputError) as info:
            _load(tmp_path, seed=seed, **sampling)
        assert info.value.field == "seed"


@pytest.mark.parametrize("seed", [0, 7, 2**64 - 1])
def test_seeds_in_range_sample(tmp_path: Path, seed: int) -> None:
    sweep = _load(tmp_path, {"if_array.lanes": [4, 8, 16]}, sampling="random", samples=2,
                  seed=seed)
    assert len(list(sweep.spec.points())) == 2


# --------------------------------------------------------------------------------------------
# Sizes
# --------------------------------------------------------------------------------------------


def test_random_1e9_samples_of_a_1e18_grid_is_refused_at_once(tmp_path: Path) -> None:
    _assert_field(tmp_path, "samples", str(MAX_POINTS), _axes_1e18(), seconds=10,
                  sampling="random", samples=10**9)


@pytest.mark.slow  # draws 100,000 distinct points of a 10^18 grid (~3 s)
def test_random_sampling_of_a_1e18_grid_at_the_limit_is_bounded(tmp_path: Path) -> None:
    sweep = _load(tmp_path, _axes_1e18(), sampling="random", samples=MAX_POINTS)
    assert sweep.spec.grid_size == 10**18
    start = time.monotonic()
    points = list(sweep.spec.points())
    assert len(points) == MAX_POINTS
    assert len({tuple(p.values()) for p in points}) == MAX_POINTS
    assert time.monotonic() - start < 30


def test_random_sampling_of_a_1e18_grid_is_fast(tmp_path: Path) -> None:
    sweep = _load(tmp_path, _axes_1e18(), sampling="random", samples=500, seed=3)
    start = time.monotonic()
    assert len(list(sweep.spec.points())) == 500
    assert time.monotonic() - start < 5


def test_grid_of_1e18_points_is_refused_naming_axes(tmp_path: Path) -> None:
    _assert_field(tmp_path, "axes", "10^18", _axes_1e18(), seconds=10)


def test_grid_above_the_limit_is_refused_naming_axes(tmp_path: Path) -> None:
    axes = {"if_array.lanes": list(range(1, 5001)), "if_array.columns": list(range(1, 5001))}
    _assert_field(tmp_path, "axes", "25,000,000", axes, seconds=15)


@pytest.mark.slow  # a spec at the size limit: 0.5 s
def test_too_many_values_over_all_axes(tmp_path: Path) -> None:
    axes = {p: list(range(1, 4001)) for p in ("if_array.lanes", "if_array.columns",
                                               "encoder.count")}
    _assert_field(tmp_path, "axes", str(f"{MAX_AXIS_VALUES:,}"), axes, seconds=15)


@pytest.mark.slow  # parsing a 10,001-key YAML mapping takes ~3 s
def test_thousands_of_single_value_axes(tmp_path: Path) -> None:
    axes = {f"if_array.x{i}": [1] for i in range(MAX_AXIS_VALUES + 1)}
    _assert_field(tmp_path, "axes", "values", axes, seconds=30)


def test_random_grid_above_2_63_is_refused(tmp_path: Path) -> None:
    axes = _axes_1e18()
    axes["dram.latency_cycles"] = list(range(1, 11))
    axes["encoder.fifo_depth"] = list(range(1, 11))
    assert SweepSpec(base="x", axes=axes).grid_size > MAX_RANDOM_GRID
    _assert_field(tmp_path, "axes", "2**63", axes, sampling="random", samples=10)


def test_points_refuses_an_oversized_grid_for_api_users() -> None:
    spec = SweepSpec(base="x", axes={"a.b": list(range(1000)), "a.c": list(range(1000))})
    with pytest.raises(ValueError, match="points"):
        next(spec.points())


def test_validate_command_reports_the_size_limit(
    tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    path = write_spec(tmp_path / "sweep.yaml", _axes_1e18())
    code, _, err = run(capsys, "validate", path)
    assert_one_error(code, err, path, "field 'axes'", "10^18")


# --------------------------------------------------------------------------------------------
# Relations
# --------------------------------------------------------------------------------------------

BAD_RELATIONS = {
    "text-field-vs-number": "quant.normal_coding <= 3",
    "number-vs-text-field": "if_array.lanes > quant.normal_coding",
    "text-eq-number-field": "quant.normal_coding == if_array.lanes",
    "boolean-eq-number": "if_array.row_latch == 1",
    "boolean-ordered": "if_array.row_latch < 1",
    "null-field-ordered": "if_array.compare_bits <= 16",
    "section-not-a-value": "if_array <= 3",
    "nan": "if_array.lanes <= nan",
    "inf": "if_array.lanes <= inf",
    "overflowing-number": "if_array.lanes <= 1e999",
}


@pytest.mark.parametrize("name", list(BAD_RELATIONS))
def test_relation_that_cannot_hold_as_meant_is_refused(tmp_path: Path, name: str) -> None:
    error = _assert_field(tmp_path, "constraints.relations", BAD_RELATIONS[name],
                          constraints={"relations": [BAD_RELATIONS[name]]})
    assert len(error.one_line().splitlines()) == 1


def test_relation_on_text_values_of_an_axis(tmp_path: Path) -> None:
    axes = {"quant.normal_coding": ["count", "bitserial"], "if_array.lanes": [8, 16]}
    _assert_field(tmp_path, "constraints.relations", "quant.normal_coding", axes,
                  constraints={"relations": ["quant.normal_coding >= if_array.lanes"]})


def test_partial_bundle_leaves_the_base_null_in_play(tmp_path: Path) -> None:
    axes = {"array": [{"if_array.dataflow": "token_serial"},
                      {"if_array.dataflow": "token_batched", "if_array.batch_tokens": 64}]}
    _assert_field(tmp_path, "constraints.relations", "null", axes,
                  constraints={"relations": ["if_array.batch_tokens <= 64"]})


@pytest.mark.parametrize(
    ("axes", "relation"),
    [
        ({"if_array.lanes": [8, 16]}, "if_array.lanes <= if_array.columns"),
        ({"if_array.lanes": [8, 16]}, "quant.mad_k >= if_array.lanes"),
        ({"quant.normal_coding": ["count", "bitserial"]},
         "quant.normal_coding != quant.salient_coding"),
        ({"if_array.compare_bits": [8, 16]}, "if_array.compare_bits <= 16"),  # axis covers null
        ({"if_array.lanes": [8]}, "quant.weight_group_size == 4"),  # null is never equal: fine
        ({"if_array.row_latch": [True, False]}, "if_array.row_latch != if_array.row_latch"),
    ],
)
def test_relations_of_one_kind_are_accepted(
    tmp_path: Path, axes: dict[str, Any], relation: str
) -> None:
    sweep = _load(tmp_path, axes, constraints={"relations": [relation]})
    assert sweep.spec.constraints.relations == (relation,)


# --------------------------------------------------------------------------------------------
# Workers
# --------------------------------------------------------------------------------------------


@pytest.mark.parametrize("workers", [0, -3, MAX_WORKERS + 1, 1000, 10**9])
def test_workers_out_of_range(
    workers: int, tmp_path: Path, trace_master: Path, sweep_spec: Path,
    capsys: pytest.CaptureFixture[str],
) -> None:
    out = tmp_path / "r.parquet"
    code, _, err = run(capsys, "sweep", sweep_spec, "--trace", trace_master, "--out", out,
                       "--workers", workers, "--quiet")
    assert_one_error(code, err, "--workers", workers)
    assert not out.exists()  # refused before anything was written


@pytest.mark.parametrize("workers", [MAX_WORKERS, 5])
def test_workers_capped_at_the_tasks_to_run(
    workers: int, tmp_path: Path, trace_master: Path, sweep_spec: Path,
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    import spikesim.dse.runner as runner

    started: list[int] = []

    def spy(tasks: list[Any], trace_path: str, trace_sha: str, n: int, on_outcome: Any,
            cache: bool = True) -> None:
        started.append(n)
        for task in tasks:
            on_outcome(runner.run_task(task, trace_path, trace_sha))

    monkeypatch.setattr(runner, "_run_local", spy)
    summary = run_sweep(sweep_spec, trace_master, tmp_path / "r.parquet", workers=workers)
    assert started == [3]  # 3 tasks: no more processes than that
    assert summary.workers == 3
    again = run_sweep(sweep_spec, trace_master, tmp_path / "r.parquet", workers=workers)
    assert again.ran == 0
    assert started == [3]  # nothing left to run: no pool started at all


def test_workers_limit_is_checked_before_the_spec_is_read(
    tmp_path: Path, trace_master: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    with inline_sweeps(monkeypatch), pytest.raises(InputError) as info:
        run_sweep(tmp_path / "missing.yaml", trace_master, tmp_path / "r", workers=65)
    assert info.value.field == "workers"
