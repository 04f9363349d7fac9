"""Figures: pure functions of tables, no global matplotlib state, fixed colours, every axis with
units, and the Chrome/Perfetto timeline export."""

from __future__ import annotations

import itertools
import json
import re
import sys

import matplotlib
import numpy as np
import pandas as pd
import pytest

from spikesim.dataflows import get_design
from spikesim.report import figures as F
from spikesim.report.markdown import provenance_rows, render_report
from spikesim.report.timeline import chrome_trace, timeline_file_name

DESIGNS = ["spikequant", "mac-w4a4", "fp16"]
LAYERS = ["layers.0.self_attn.q_proj", "layers.0.mlp.down_proj"]
UNIT_RE = re.compile(r"\((µJ|nJ|ms|%|×|millions|count)\)|\(= spikes|^layer|^operator|^run$|^all")


def toy_tables(layers: list[str] = LAYERS) -> tuple[pd.DataFrame, pd.DataFrame, pd.DataFrame]:
    """Hand-made layers/actions/spike_stats tables of the run-directory schema."""
    rows, actions, stats = [], [], []
    for li, layer in enumerate(layers):
        for di, design in enumerate(DESIGNS):
            compute = 1000 * (li + 1) * (di + 1)
            stalls = (10 * di, 20 * li, 30)
            energy = {"if_array": 5.0e6 if design == "spikequant" else 0.0,
                      "mac_array": 0.0 if design == "spikequant" else 3.0e6,
                      "sram.weights": 2.0e6 * (li + 1), "dram": 4.0e6}
            leak = 1.0e5 * (di + 1)
            rows.append({
                "layer": layer, "op": layer.rsplit(".", 1)[-1], "tokens": 8, "k": 64, "n": 40,
                "design": design, "total_cycles": compute + sum(stalls),
                "compute_cycles": compute, "stall_cycles": sum(stalls),
                "stall_encoder_cycles": stalls[0], "stall_bank_cycles": stalls[1],
                "stall_dram_cycles": stalls[2], "utilization": 0.2 + 0.3 * di,
                "energy_pj": sum(energy.values()) + leak,
                "spikes": 600 if design == "spikequant" else 0, "acc_ops": 0, "mac_ops": 0,
                "salient_ratio": 0.025 if design == "spikequant" else 0.0,
                "overflow_events": 0,
            })
            for comp, pj in energy.items():
                if pj:
                    actions.append({"layer": layer, "design": design, "component": comp,
                                    "action": "read", "count": 10, "bits": 8,
                                    "energy_per_action_pj": pj / 10, "energy_pj": pj,
                                    "source": f"toy {comp}: as is [Toy, 2024]",
                                    "energy_table": "toy", "energy_entry": comp,
                                    "energy_scaling": "", "energy_citation": "Toy, 2024"})
            actions.append({"layer": layer, "design": design, "component": "sram.weights",
                            "action": "leak", "count": 100, "bits": 0,
                            "energy_per_action_pj": leak / 100, "energy_pj": leak,
                            "source": "toy leakage: 1 W [Toy, 2024]",
                            "energy_table": "toy", "energy_entry": "leakage (1 W)",
                            "energy_scaling": "per cycle: / 1e+09 Hz",
                            "energy_citation": "Toy, 2024"})
        for q in range(10):
            stats.append({"layer": layer, "abs_q": q, "normal_count": 100 // (q + 1) if q < 8
                          else 0, "salient_count": 3 if q >= 6 else 0})
    return pd.DataFrame(rows), pd.DataFrame(actions), pd.DataFrame(stats)


def axis_labels(fig: matplotlib.figure.Figure) -> list[str]:
    labels = []
    for ax in fig.axes:
        if not ax.get_visible() or not ax.has_data():
            continue
        labels += [ax.get_xlabel(), ax.get_ylabel()]
    return labels


@pytest.mark.slow  # a fresh interpreter: ~1.3 s
def test_import_touches_no_global_matplotlib_state() -> None:
    before = dict(matplotlib.rcParams)
    layers, actions, stats = toy_tables()
    tables = F.RunTables(layers, actions, stats, "toy", 1e9, 8)
    figs = F.run_figures(tables)
    figs.update(F.compare_figures([tables, F.RunTables(layers, actions, None, "toy2", 5e8, 8)]))
    assert dict(matplotlib.rcParams) == before
    assert "matplotlib.pyplot" not in sys.modules or not matplotlib.pyplot.get_fignums()
    assert all(isinstance(f, matplotlib.figure.Figure) for f in figs.values())


def test_every_axis_has_a_unit_or_category_label() -> None:
    layers, actions, stats = toy_tables()
    tables = F.RunTables(layers, actions, stats, "a", 1e9, 8)
    figs = {**F.run_figures(tables),
            **F.compare_figures([tables, F.RunTables(layers, actions, stats, "b", 1e9, 8)])}
    assert set(figs) == {"energy_by_component", "ratios_vs_spikequant", "cycle_breakdown",
                         "spike_statistics", "compare_totals", "compare_energy"}
    for name, fig in figs.items():
        for ax in fig.axes:
            if not ax.has_data():
                continue
            if ax.get_ylabel():
                assert UNIT_RE.search(ax.get_ylabel()), (name, ax.get_ylabel())


def test_energy_table_sums_to_layer_energy_with_leakage_separate() -> None:
    layers, actions, _ = toy_tables()
    table = F.energy_by_component_table(layers, actions)
    assert set(table["component"]) == {"if_array", "mac_array", "sram.weights", "dram",
                                       F.LEAKAGE}
    assert table["energy_pj"].sum() == pytest.approx(layers["energy_pj"].sum())
    per_design = table.groupby("design")["energy_pj"].sum()
    expected = layers.groupby("design")["energy_pj"].sum()
    assert per_design.to_dict() == pytest.approx(expected.to_dict())


def test_stacked_bars_equal_the_tables() -> None:
    """The drawn bar heights (µJ) per design add up to the table's energy."""
    layers, actions, _ = toy_tables()
    fig = F.energy_by_component(layers, actions)
    ax_total = fig.axes[1]
    heights = sum(p.get_height() for p in ax_total.patches)
    assert heights == pytest.approx(layers["energy_pj"].sum() / 1e6)
    fig = F.cycle_breakdown(layers)
    stacked = sum(p.get_height() for p in fig.axes[0].patches)
    assert stacked == pytest.approx(layers["total_cycles"].sum() / 1e6)


def test_fixed_colours_do_not_depend_on_the_run() -> None:
    assert F.design_color("spikequant") == get_design("spikequant").color
    assert F.design_color("my-design") == F.design_color("my-design")
    assert F.component_color("sram.extra").startswith("#")
    assert F.component_color(F.LEAKAGE) == F.COMPONENT_COLORS[F.LEAKAGE]
    assert F.CYCLE_COLORS["stall_dram_cycles"] == F.COMPONENT_COLORS["dram"]
    layers, _, _ = toy_tables()
    fig = F.ratios_vs_spikequant(layers)
    colors = {matplotlib.colors.to_hex(p.get_facecolor()) for p in fig.axes[0].patches}
    assert colors == {get_design(d).color.lower() for d in ("mac-w4a4", "fp16")}


def test_ratio_bars_equal_compare_table() -> None:
    layers, _, _ = toy_tables()
    fig = F.ratios_vs_spikequant(layers)
    energy_bars = [p.get_height() for p in fig.axes[0].patches]
    sq = layers[layers["design"] == "spikequant"].set_index("layer")["energy_pj"]
    mac = layers[layers["design"] == "mac-w4a4"].set_index("layer")["energy_pj"]
    expected_first = mac[LAYERS[0]] / sq[LAYERS[0]]
    assert energy_bars[0] == pytest.approx(expected_first)
    assert energy_bars[len(LAYERS)] == pytest.approx(mac.sum() / sq.sum())  # TOTAL


def test_many_layers_are_summed_per_operator() -> None:
    names = [f"layers.{b}.mlp.{op}" for b in range(3) for op in ("up_proj", "down_proj",
                                                                  "gate_proj", "x", "y")]
    layers, _, _ = toy_tables(names)
    assert len(names) > F.MAX_LAYER_GROUPS
    fig = F.cycle_breakdown(layers)
    ticks = [t.get_text() for t in fig.axes[1].get_xticklabels()]
    assert ticks == ["up_proj", "down_proj", "gate_proj", "x", "y"]
    assert "sum over 15 layers" in fig.axes[1].get_xlabel()


def test_short_layer_names() -> None:
    assert F.short_layer_names(["a.0.q", "a.0.k"]) == {"a.0.q": "q", "a.0.k": "k"}
    assert F.short_layer_names(["layers.0.q", "layers.1.q"]) == {"layers.0.q": "0.q",
                                                                "layers.1.q": "1.q"}
    assert F.short_layer_names(["gemm"]) == {"gemm": "gemm"}


def test_spike_statistics_without_histogram_says_so() -> None:
    layers, _, _ = toy_tables()
    fig = F.spike_statistics(layers, None)
    texts = [t.get_text() for ax in fig.axes for t in ax.texts]
    assert any("no spike_stats.csv" in t for t in texts)


def test_histogram_counts_equal_table() -> None:
    layers, _, stats = toy_tables()
    fig = F.spike_statistics(layers, stats)
    salient_stairs, normal_stairs = fig.axes[2].patches  # total (salient on top), then normal
    total = stats["normal_count"].sum() + stats["salient_count"].sum()
    shown = salient_stairs.get_data().values
    assert shown[shown > 0.5].sum() == pytest.approx(total)
    normal = normal_stairs.get_data().values
    assert normal[normal > 0.5].sum() == pytest.approx(stats["normal_count"].sum())


def test_histogram_bins_of_wide_values() -> None:
    assert list(F.histogram_edges(7)) == list(range(9))
    edges = F.histogram_edges(21731)
    assert edges[0] == 0
    assert edges[-1] >= 21732
    assert np.all(np.diff(edges) >= 1)
    assert len(edges) < 250
    layers, _, stats = toy_tables()
    wide = stats.assign(abs_q=stats["abs_q"] * 3000)
    fig = F.spike_statistics(layers, wide)
    assert fig.axes[2].get_xscale() == "symlog"


def test_single_design_run_has_no_ratio_figure() -> None:
    layers, _, _ = toy_tables()
    only = layers[layers["design"] == "spikequant"]
    names = [s.name for s in F.run_figure_specs(only)]
    assert names == ["energy_by_component", "cycle_breakdown", "spike_statistics"]
    with pytest.raises(ValueError, match="SpikeQuant"):
        F.ratios_vs_spikequant(only)


def test_report_lists_figures_and_readable_provenance() -> None:
    layers, actions, stats = toy_tables()
    summary = {"trace": {"name": "t", "tokens": 8}, "hardware": {"name": "h", "clock_hz": 1e9},
               "designs": DESIGNS}
    text = render_report(layers, actions, summary, stats)
    for spec in F.run_figure_specs(layers):
        assert f"(figures/{spec.name}.png)" in text
        assert f"(figures/{spec.name}.pdf)" in text
    assert "## Activation magnitudes |q|" in text
    assert "1. Toy, 2024" in text  # numbered citation list
    assert "| sram.weights | leak | 0 |" in text
    no_figs = render_report(layers, actions, summary, stats, figures=False)
    assert "![" not in no_figs
    assert "--no-figures" in no_figs


def _priced(**provenance: str) -> pd.DataFrame:
    row = {"layer": "L", "design": "spikequant", "component": "if_array", "action": "acc",
           "count": 10, "bits": 4, "energy_per_action_pj": 0.015, "energy_pj": 0.15,
           "source": "free text, never parsed"}
    return pd.DataFrame([{**row, **provenance}])


def test_provenance_rows_read_the_structured_columns() -> None:
    rows, cites = provenance_rows(_priced(
        energy_table="horowitz-45nm", energy_entry="int_add 8-bit row (0.03 pJ)",
        energy_scaling="linear: × (4/8)^1 to 4 bits",
        energy_citation="Horowitz, ISSCC 2014, 8-bit add; Horowitz, ISSCC 2014, 32-bit add",
    ))
    assert rows == [["if_array", "acc", "4", "0.015", "horowitz-45nm int_add 8-bit row (0.03 pJ)",
                     "linear: × (4/8)^1 to 4 bits", "[1] [2]", "spikequant", "0.00000015"]]
    assert cites == ["Horowitz, ISSCC 2014, 8-bit add", "Horowitz, ISSCC 2014, 32-bit add"]
    # an empty scaling (read back from CSV as NaN) is a row used as is
    rows, _ = provenance_rows(_priced(energy_table="t", energy_entry="e",
                                      energy_scaling=np.nan, energy_citation="c"))
    assert rows[0][4:7] == ["t e", "as is", "[1]"]


def test_provenance_of_an_older_run_shows_source_whole() -> None:
    """actions.csv written before the provenance columns: the report still renders."""
    layers, actions, stats = toy_tables()
    old = actions.drop(columns=["energy_table", "energy_entry", "energy_scaling",
                                "energy_citation"])
    rows, cites = provenance_rows(old)
    assert cites == []
    assert {tuple(r[4:7]) for r in rows} == {
        ("-", s, "-") for s in old["source"].unique()
    }
    summary = {"trace": {"name": "t", "tokens": 8}, "hardware": {"name": "h", "clock_hz": 1e9},
               "designs": DESIGNS}
    text = render_report(layers, old, summary, stats)
    assert "predates the provenance columns" in text
    assert "References:" not in text


# --------------------------------------------------------------------------------------------
# Timeline
# --------------------------------------------------------------------------------------------


def toy_transactions() -> pd.DataFrame:
    return pd.DataFrame(
        [
            ("L", "spikequant", "dram", "load", 0, 0, 100),
            ("L", "spikequant", "array", "compute", 0, 100, 600),
            ("L", "spikequant", "dram", "load", 1, 100, 180),
            ("L", "mac-w4a4", "dram", "load", 0, 0, 50),
            ("L", "mac-w4a4", "array", "compute", 0, 50, 70),
            ("M", "spikequant", "array", "compute", 0, 0, 9),
        ],
        columns=["layer", "design", "unit", "kind", "step", "start_cycle", "end_cycle"],
    )


def test_chrome_trace_structure() -> None:
    trace = chrome_trace(toy_transactions(), "L", clock_hz=500e6)
    json.dumps(trace, allow_nan=False)  # serialisable as strict JSON
    assert trace["displayTimeUnit"] in ("ms", "ns")
    events = trace["traceEvents"]
    complete = [e for e in events if e["ph"] == "X"]
    meta = [e for e in events if e["ph"] == "M"]
    assert len(complete) == 5
    for e in complete:
        assert set(e) >= {"name", "ph", "ts", "dur", "pid", "tid", "args"}
        assert isinstance(e["ts"], float)
        assert e["dur"] >= 0
    names = {(e["pid"], e["args"]["name"]) for e in meta if e["name"] == "process_name"}
    assert names == {(1, "spikequant"), (2, "mac-w4a4")}
    threads = {(e["pid"], e["tid"], e["args"]["name"]) for e in meta if e["name"] == "thread_name"}
    assert (1, 1, "dram") in threads
    assert (1, 2, "array") in threads
    compute = next(e for e in complete if e["pid"] == 1 and e["name"] == "compute")
    assert compute["ts"] == pytest.approx(100 / 500e6 * 1e6)  # 0.2 µs
    assert compute["dur"] == pytest.approx(500 / 500e6 * 1e6)
    assert compute["args"]["cycles"] == 500
    assert compute["tid"] == 2
    # one unit never has overlapping events
    for pid in (1, 2):
        for tid in (1, 2):
            spans = sorted((e["ts"], e["ts"] + e["dur"]) for e in complete
                           if e["pid"] == pid and e["tid"] == tid)
            assert all(a[1] <= b[0] + 1e-12 for a, b in itertools.pairwise(spans))


def test_chrome_trace_unknown_layer() -> None:
    from spikesim.errors import InputError

    with pytest.raises(InputError, match="layers: L, M"):
        chrome_trace(toy_transactions(), "nope", 1e9)


def test_timeline_file_name_is_safe() -> None:
    assert timeline_file_name("layers.0.mlp/up proj") == "timeline-layers.0.mlp_up_proj.json"
