"""Counting a run's layers in several processes (spikesim.sim.parallel, ``simulate --workers``):
the same tables as one process, row for row; bad worker counts and a worker's error keep the
one-line contract."""

from __future__ import annotations

import json
import pickle
from pathlib import Path
from typing import Any

import numpy as np
import pandas as pd
import pytest
from _models import TINY_LLAMA_CONFIG
from cli_support import assert_one_error, run
from hypothesis import given
from hypothesis import strategies as st

from spikesim.config import load_hardware
from spikesim.errors import InputError
from spikesim.procpool import MAX_WORKERS
from spikesim.sim.counts import simulate_counts
from spikesim.sim.parallel import chunk_bounds, simulate_counts_in
from spikesim.trace import load_workload

ROOT = Path(__file__).resolve().parents[2]
HW = ROOT / "hw_configs" / "spikequant-45nm.yaml"

CONFIG: dict[str, Any] = TINY_LLAMA_CONFIG


@given(st.integers(0, 5000), st.integers(1, MAX_WORKERS))
def test_chunks_cover_the_layers_in_order(n_layers: int, workers: int) -> None:
    bounds = chunk_bounds(n_layers, workers)
    covered = [i for start, stop in bounds for i in range(start, stop)]
    assert covered == list(range(n_layers))
    assert all(stop > start for start, stop in bounds)
    if n_layers:
        assert len(bounds) <= max(n_layers, 1)
        assert len(bounds) >= min(n_layers, workers * 16) // 2


@pytest.fixture(scope="module")
def config_path(tmp_path_factory: pytest.TempPathFactory) -> Path:
    path = tmp_path_factory.mktemp("model") / "tiny" / "config.json"
    path.parent.mkdir()
    path.write_text(json.dumps(CONFIG), encoding="utf-8")
    return path


def _frames(run: Any) -> dict[str, pd.DataFrame | None]:
    return {"layers": run.layers, "actions": run.actions, "transactions": run.transactions,
            "spike_stats": run.spike_stats}


def test_workers_give_the_tables_of_one_process(config_path: Path) -> None:
    """Both phases of a 2-block model (linear, attention, vector and KV layers), an on-chip
    store holding part of the weights (the residency plan every worker makes again), the
    reference design (its |q| histograms) and a MAC baseline."""
    workload = load_workload(config_path, phase="both", tokens=12, batch=2,
                             decode_steps=2)
    hw = load_hardware(HW, {
        "sram.store": {"role": "store", "capacity_bytes": 20_000, "word_bits": 256,
                       "banks": 8},
    })
    designs = "spikequant,mac-w4a4"
    one = simulate_counts(hw, workload, designs, cache=False)
    seen: list[tuple[str, str]] = []
    two = simulate_counts_in(hw, workload, designs, workers=2, cache=False,
                             on_layer=lambda layer, design: seen.append((layer, design)))
    assert len(workload.layers) > 2 * 16  # more than one chunk per worker
    for name, frame in _frames(one).items():
        other = _frames(two)[name]
        assert frame is not None, name
        assert other is not None, name
        pd.testing.assert_frame_equal(frame, other, check_exact=True, obj=name)
    assert one.designs == two.designs
    assert one.residency is not None
    assert two.residency is not None
    assert one.residency.describe() == two.residency.describe()
    assert sorted(seen) == sorted(zip(one.layers["layer"], one.layers["design"], strict=True))


def test_one_worker_or_one_layer_runs_here(config_path: Path) -> None:
    workload = load_workload(config_path, tokens=8)
    hw = load_hardware(HW)
    first = workload.layers[0].name
    one = simulate_counts_in(hw, workload, "mac-w4a4", workers=4, layers=[first], cache=False)
    assert list(one.layers["layer"]) == [first]


def test_input_error_keeps_file_and_field_across_processes() -> None:
    error = InputError("must be positive", file="hw.yaml", field="sram.store.banks")
    back = pickle.loads(pickle.dumps(error))
    assert type(back) is InputError
    assert (back.message, back.file, back.field) == (error.message, error.file, error.field)
    assert str(back) == str(error)


@pytest.mark.parametrize("workers", ["0", "-1", str(MAX_WORKERS + 1), "two"])
def test_bad_workers_is_one_line(capsys: pytest.CaptureFixture[str], tmp_path: Path,
                                 config_path: Path, workers: str) -> None:
    out = tmp_path / "run"
    code, _, err = run(capsys, "simulate", "--workload", config_path, "--tokens", 8, "--hw", HW,
                       "--out", out,
                       "--workers", workers)
    if workers == "two":  # argparse rejects it before spikesim sees it
        assert code == 2
        assert "--workers" in err
    else:
        assert_one_error(code, err, "workers")
    assert not out.exists()


def test_an_error_in_a_worker_is_one_line_naming_the_field(
        capsys: pytest.CaptureFixture[str], tmp_path: Path, config_path: Path) -> None:
    """A hardware field found wrong only when a worker maps a layer (a spike × spike
    coincidence counter too narrow for the attention matmuls) stops the run with the one
    line a single process gives, and writes nothing."""
    out = tmp_path / "run"
    args = ("simulate", "--workload", config_path, "--tokens", 8, "--hw", HW, "--out", out,
            "--designs", "spikequant", "--set", "if_array.attention_form=spike_spike",
            "--set", "if_array.coincidence_bits=3")
    code, _, one = run(capsys, *args)
    line = assert_one_error(code, one, "if_array.coincidence_bits")
    code, _, two = run(capsys, *args, "--workers", 2)
    assert assert_one_error(code, two, "if_array.coincidence_bits") == line
    assert not out.exists()


def test_counting_order_generates_shared_values_once(
    config_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    """Layers are counted with the layers sharing generated values next to each other (a
    projection at every decode step, a KV group's score and value layers at every step): each
    projection's weights and each KV group's q, k, v are generated once per run, and the
    tables are those of counting in workload order (put back row for row)."""
    import spikesim.trace.attention as attention
    import spikesim.trace.generated as generated
    from spikesim.sim.counts import (
        assemble_counts,
        count_layers,
        counting_order,
        select_layers,
    )
    from spikesim.sim.residency import plan_residency

    workload = load_workload(config_path, phase="both", tokens=12, batch=2, decode_steps=3)
    layers = list(workload.layers)
    order = counting_order(layers)
    assert sorted(order) == list(range(len(layers)))
    assert order != list(range(len(layers)))
    keys = [getattr(layers[i], "reuse_key", None) for i in order]
    for key in {k for k in keys if k is not None}:  # each key's layers are contiguous
        at = [j for j, k in enumerate(keys) if k == key]
        assert at == list(range(at[0], at[0] + len(at))), key
    # vector layers (no key) keep their relative order
    vector = [i for i in order if getattr(layers[i], "reuse_key", None) is None]
    assert vector == sorted(vector)

    calls = {"w": 0, "group": 0}
    real_w, real_group = generated.generate_weights, attention.generate_group

    def counted_w(**kw: Any) -> Any:
        calls["w"] += 1
        return real_w(**kw)

    def counted_group(**kw: Any) -> Any:
        calls["group"] += 1
        return real_group(**kw)

    monkeypatch.setattr(generated, "generate_weights", counted_w)
    monkeypatch.setattr(attention, "generate_group", counted_group)
    hw = load_hardware(HW)
    designs = "spikequant,mac-w4a4"
    ordered = simulate_counts(hw, workload, designs, cache=False)
    linear_keys = {k for k in keys if k is not None and k[0] == "weights"}
    group_keys = {k for k in keys if k is not None and k[0] == "attention"}
    assert calls == {"w": len(linear_keys), "group": len(group_keys)}
    assert len(linear_keys) == 2 * 7  # blocks x projections, whatever the phase and step

    chosen = select_layers(workload, None)
    residency = plan_residency(workload.layers, hw)
    names = ("spikequant", "mac-w4a4")
    plain = assemble_counts([count_layers(hw, chosen, names, residency, cache=False)], names,
                            residency)
    for name, frame in _frames(plain).items():
        other = _frames(ordered)[name]
        assert frame is not None, name
        assert other is not None, name
        pd.testing.assert_frame_equal(frame, other, check_exact=True, obj=name)


def test_action_rows_name_their_layer_rows(config_path: Path) -> None:
    """Each action row's ``action_layer_rows`` entry is the ``layers`` row of the same
    (layer, design): what the pricing sums by instead of looking the keys up."""
    workload = load_workload(config_path, phase="both", tokens=12, batch=2, decode_steps=2)
    hw = load_hardware(HW)
    for run_ in (simulate_counts(hw, workload, "spikequant,mac-w4a4", cache=False),
                 simulate_counts_in(hw, workload, "spikequant,mac-w4a4", workers=2,
                                    cache=False)):
        rows = run_.action_layer_rows
        assert rows is not None
        assert len(rows) == len(run_.actions)
        keys = ["layer", "design"]
        np.testing.assert_array_equal(
            run_.layers[keys].to_numpy()[rows], run_.actions[keys].to_numpy()
        )


def test_energy_by_layer_row_equals_the_grouped_energy(config_path: Path) -> None:
    """The pricing's per-row component energy (``component_energy_by_row``, from the counted
    layer row of each priced row) equals ``component_energy`` grouped by the string keys and
    merged onto the layers, bit for bit, on both phases of a model under four designs."""
    from spikesim.energy import (
        component_energy,
        component_energy_by_row,
        energy_model,
        price_actions,
        price_leakage,
    )

    workload = load_workload(config_path, phase="both", tokens=12, batch=2, decode_steps=2)
    hw = load_hardware(HW)
    run_ = simulate_counts(hw, workload, "spikequant,mac-w4a4,atom,fp16", cache=False)
    table = energy_model(hw)
    priced = price_actions(run_.actions, hw, table)
    leak = price_leakage(run_.layers, hw, table)
    priced = pd.concat([priced, leak[priced.columns]], ignore_index=True)
    assert run_.action_layer_rows is not None
    n = len(run_.layers)
    rows = np.concatenate([run_.action_layer_rows, np.repeat(np.arange(n), len(leak) // n)])
    keys = ["layer", "design"]
    want = run_.layers[keys].merge(component_energy(priced), on=keys, how="left", sort=False)
    got = component_energy_by_row(priced, rows, run_.layers[keys])
    pd.testing.assert_frame_equal(got, want.drop(columns=keys), check_exact=True)
