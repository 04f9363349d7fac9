"""The per-layer fixed cost cuts (issue 13) change no table: one action table and one histogram
table built at the end of a run equal the per-layer frames they replace (values, dtypes, row
order), and pricing each distinct (component, action, bits) once, or summing only the energy
for the range bounds, gives the same numbers bit for bit as pricing every row."""

from __future__ import annotations

from pathlib import Path

import numpy as np
import pandas as pd
import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from spikesim.actions import ActionCounter, keyed_actions_frame
from spikesim.config import load_hardware
from spikesim.dataflows import get_design
from spikesim.dataflows.base import quantize_trace_layer
from spikesim.energy import energy_model
from spikesim.energy import price as price_module
from spikesim.energy.price import (
    action_energy_pj,
    leakage_energy_rows,
    price_actions,
    price_leakage,
)
from spikesim.pipeline import simulate
from spikesim.schema import LAYER_KEYS, SPIKE_STATS_COLUMNS
from spikesim.sim.counts import records_frame, simulate_counts
from spikesim.sim.histogram import histogram_frame, layer_histogram, layer_histogram_arrays
from spikesim.trace import load_trace, synth_trace

ROOT = Path(__file__).resolve().parents[2]
HW = ROOT / "hw_configs" / "spikequant-45nm.yaml"


@pytest.fixture(scope="module")
def trace_dir(tmp_path_factory: pytest.TempPathFactory) -> Path:
    path = tmp_path_factory.mktemp("trace") / "three"
    synth_trace(path, gemm=[(24, 64, 48), (24, 48, 32), (24, 32, 40)], seed=3)
    return path


def _same(a: pd.DataFrame, b: pd.DataFrame) -> None:
    assert list(a.columns) == list(b.columns)
    assert [str(t) for t in a.dtypes] == [str(t) for t in b.dtypes]
    pd.testing.assert_frame_equal(a, b, check_exact=True)


def _per_layer_actions(results: list[tuple[str, str, ActionCounter]]) -> pd.DataFrame:
    """The old way: one frame per (layer, design), keys inserted, concatenated."""
    frames = []
    for layer, design, counter in results:
        frame = counter.to_frame()
        frame.insert(0, "layer", layer)
        frame.insert(1, "design", design)
        frames.append(frame)
    return pd.concat(frames, ignore_index=True)


def test_one_action_table_equals_the_per_layer_frames() -> None:
    results = []
    for layer, design, seed in (("a", "x", 1), ("a", "y", 2), ("b", "x", 3)):
        counter = ActionCounter()
        rng = np.random.default_rng(seed)
        for component, action, bits in (("if_array", "acc", 24), ("sram.w", "read", 64),
                                        ("dram", "read", 8), ("if_array", "acc", 16)):
            counter.add(component, action, int(rng.integers(0, 1000)), bits)
        results.append((layer, design, counter))
    rows = [row for layer, design, c in results for row in c.rows(layer, design)]
    _same(keyed_actions_frame(rows, LAYER_KEYS), _per_layer_actions(results))


_CELL = st.one_of(st.none(), st.booleans(), st.integers(-2**40, 2**40),
                  st.floats(allow_nan=True), st.text(max_size=3))


@settings(max_examples=60, deadline=None)
@given(st.integers(0, 4).flatmap(lambda n: st.lists(
    st.tuples(*[st.one_of(st.none(), st.integers(0, 5), st.text(max_size=2))] * 2,
              st.text(max_size=3), st.text(max_size=3),
              st.integers(0, 2**50), st.integers(0, 64)), max_size=n)))
def test_action_frame_by_columns_equals_pandas_rows(rows: list[tuple[object, ...]]) -> None:
    """The action table built by columns is pandas' own frame of the rows (dtypes included)."""
    names = ["layer", "design", "component", "action", "count", "bits"]
    expected = pd.DataFrame(rows, columns=names).astype({"count": "int64", "bits": "int64"})
    pd.testing.assert_frame_equal(keyed_actions_frame(rows, ["layer", "design"]), expected)


@settings(max_examples=80, deadline=None)
@given(st.lists(st.sampled_from("abc"), min_size=1, max_size=3, unique=True).flatmap(
    lambda keys: st.lists(st.fixed_dictionaries(dict.fromkeys(keys, _CELL)), max_size=5)))
def test_layer_rows_by_columns_equal_pandas_records(rows: list[dict[str, object]]) -> None:
    """The layer table built by columns is ``pd.DataFrame(rows)``: same columns, dtypes, values."""
    pd.testing.assert_frame_equal(records_frame(rows), pd.DataFrame(rows))


def test_run_actions_and_histogram_equal_the_per_layer_frames(trace_dir: Path) -> None:
    hw = load_hardware(HW)
    trace = load_trace(trace_dir)
    counted = simulate_counts(hw, trace, ["spikequant", "mac-w4a4"], cache=False)
    spiking = get_design("spikequant")
    frames = [
        layer_histogram(layer.name, quantize_trace_layer(spiking, layer, hw.quant))
        for layer in trace.layers
    ]
    assert counted.spike_stats is not None
    _same(counted.spike_stats, pd.concat(frames, ignore_index=True))
    results = []
    for layer in trace.layers:
        for name in ("spikequant", "mac-w4a4"):
            design = get_design(name)
            quantized = quantize_trace_layer(design, layer, hw.quant)
            results.append((layer.name, name, design.simulate_quantized(quantized, hw).actions))
    _same(counted.actions, _per_layer_actions(results))


def test_histogram_frame_edges(trace_dir: Path) -> None:
    empty = histogram_frame([])
    assert list(empty.columns) == SPIKE_STATS_COLUMNS
    assert len(empty) == 0
    hw = load_hardware(HW)
    layer = load_trace(trace_dir).layers[0]
    q = quantize_trace_layer(get_design("spikequant"), layer, hw.quant)
    one = layer_histogram_arrays("l0", q)
    _same(histogram_frame([one]), layer_histogram("l0", q))
    assert int(one.normal_count.sum() + one.salient_count.sum()) == q.x_q.size


def _counted(trace_dir: Path) -> tuple[pd.DataFrame, pd.DataFrame]:
    hw = load_hardware(HW)
    counted = simulate_counts(hw, load_trace(trace_dir), ["spikequant", "mac-w4a4"],
                              cache=False)
    return counted.actions, counted.layers


def test_each_distinct_action_is_priced_once(
    trace_dir: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    hw = load_hardware(HW)
    table = energy_model(hw).model_copy()  # a copy remembers no prices yet
    actions, _ = _counted(trace_dir)
    calls: list[tuple[str, str, int]] = []
    original = price_module.energy_per_action

    def counting(table_: object, component: str, action: str, bits: int, hw_: object) -> object:
        calls.append((component, action, bits))
        return original(table_, component, action, bits, hw_)  # type: ignore[arg-type]

    monkeypatch.setattr(price_module, "energy_per_action", counting)
    priced = price_actions(actions, hw, table)
    distinct = {(str(c), str(a), int(b))
                for c, a, b in zip(actions["component"], actions["action"], actions["bits"],
                                   strict=True)}
    assert len(calls) == len(set(calls)) == len(distinct)
    calls.clear()  # the table remembers them: a second pricing (a sweep's next point) prices none
    again = price_actions(actions, hw, table)
    assert not calls
    pd.testing.assert_frame_equal(again, priced, check_exact=True)
    # ... unless what the price reads changed: a larger weight SRAM re-prices its accesses only
    bigger = hw.sram["weights"].model_copy(
        update={"capacity_bytes": 2 * hw.sram["weights"].capacity_bytes})
    other = hw.model_copy(update={"sram": {**hw.sram, "weights": bigger}})
    price_actions(actions, other, table)
    assert calls
    assert {c for c, _, _ in calls} == {"sram.weights"}
    monkeypatch.undo()
    for row in priced.head(40).itertuples(index=False):
        expected = price_module.energy_per_action(table, row.component, row.action, row.bits, hw)
        assert row.energy_per_action_pj == expected.energy_pj
        assert row.source == expected.source


def test_energy_only_pricing_equals_full_pricing(trace_dir: Path) -> None:
    hw = load_hardware(HW)
    actions, layers = _counted(trace_dir)
    table = energy_model(hw)
    for bound in (table, table.bound("low"), table.bound("high")):
        full = price_actions(actions, hw, bound)
        assert np.array_equal(action_energy_pj(actions, hw, bound),
                              full["energy_pj"].to_numpy(), equal_nan=True)
        leak = price_leakage(layers, hw, bound)
        rows = leakage_energy_rows(layers, hw, bound)
        assert list(rows.columns) == [*LAYER_KEYS, "component", "energy_pj"]
        for column in [*LAYER_KEYS, "component"]:
            assert list(rows[column]) == list(leak[column])
        assert np.array_equal(rows["energy_pj"].to_numpy(), leak["energy_pj"].to_numpy())


JOUPPI = {"energy.operations": "jouppi-7nm", "energy.sram": "jouppi-7nm",
          "energy.dram": "jouppi-7nm", "energy.node_nm": 7}
"""Tables without ranges and without leakage (the views' bounds are the energy itself)."""


@pytest.mark.parametrize(("preset", "workers", "point"), [
    ("spikequant-45nm", 1, {}),
    ("spikequant-45nm-batched", 1, {}),
    ("spikequant-45nm", 1, JOUPPI),
    ("spikequant-45nm", 1, {"energy.sram": "horowitz-45nm"}),  # ranges, no SRAM leakage
    pytest.param("spikequant-45nm", 2, {}, marks=pytest.mark.slow),  # spawns two processes
])
def test_layers_without_the_action_table_are_the_same(
    trace_dir: Path, preset: str, workers: int, point: dict[str, object]
) -> None:
    """``simulate(layers_only=True)`` (a sweep's points) prices the layer table from the
    counts as arrays (:func:`spikesim.energy.layer_prices.layer_energy_columns`), without
    histograms or transactions: the same table, bit for bit, and empty tables of the same
    columns, with and without ranged values and leakage in the energy tables."""
    hw = load_hardware(ROOT / "hw_configs" / f"{preset}.yaml", point)
    trace = load_trace(trace_dir)
    designs = ["spikequant", "mac-w4a4", "atom"]
    full = simulate(hw, trace, designs, cache=False)
    lean = simulate(hw, trace, designs, cache=False, layers_only=True, workers=workers)
    pd.testing.assert_frame_equal(lean.layers, full.layers, check_exact=True)
    for table in ("actions", "transactions"):
        assert list(getattr(lean, table).columns) == list(getattr(full, table).columns)
        assert getattr(lean, table).empty
    assert full.spike_stats is not None
    assert lean.spike_stats is None
