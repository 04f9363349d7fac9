"""Reports from run directories: numbers equal the tables, every figure is written (PNG and PDF),
regeneration from a copy is identical, comparisons of several runs, timelines, the CLI."""

from __future__ import annotations

import json
import re
import shutil
from pathlib import Path

import numpy as np
import pandas as pd
import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

import spikesim
from spikesim.api import spike_stats
from spikesim.cli import main
from spikesim.errors import InputError
from spikesim.report.figures import compare_specs, run_figure_specs
from spikesim.report.rundir import (
    SPIKE_STATS_NAME,
    write_comparison,
    write_report,
    write_run_dir,
    write_timeline,
)
from spikesim.schema import CITATION_SEPARATOR, PROVENANCE_COLUMNS
from spikesim.trace import synth_trace

ROOT = Path(__file__).resolve().parents[1]
HW = ROOT / "hw_configs" / "spikequant-45nm.yaml"
DESIGNS = ("spikequant", "mac-w4a4", "fp16")
DPI = 40  # low resolution keeps the suite fast; the content is the same


@pytest.fixture(scope="module")
def trace_dir(tmp_path_factory: pytest.TempPathFactory) -> Path:
    out = tmp_path_factory.mktemp("trace") / "two"
    synth_trace(out, shape="smollm2-135m", layers=1, tokens=8, seed=1)
    return out


def _run(
    trace_dir: Path, out: Path, overrides: dict[str, object] | None = None, figures: bool = True
) -> Path:
    hw = spikesim.load_hardware(HW, overrides)
    trace = spikesim.load_trace(trace_dir)
    layers = [layer.name for layer in trace.layers][:2]
    result = spikesim.simulate(hw, trace, DESIGNS, layers=layers)
    return write_run_dir(
        out,
        result,
        hardware_file=HW,
        overrides=overrides,
        spike_stats=spike_stats(hw, trace, layers=layers),
        timeline_layers=layers[:1],
        figure_dpi=DPI,
        figures=figures,
    )


@pytest.fixture(scope="module")
def run_dir(trace_dir: Path, tmp_path_factory: pytest.TempPathFactory) -> Path:
    return _run(trace_dir, tmp_path_factory.mktemp("runs") / "a")


@pytest.fixture(scope="module")
def run_dir_b(trace_dir: Path, tmp_path_factory: pytest.TempPathFactory) -> Path:
    # its tables only: the comparisons draw their own figures (no figures of its own to draw)
    return _run(trace_dir, tmp_path_factory.mktemp("runs") / "b", {"if_array.lanes": 32},
                figures=False)


def _section(text: str, heading: str) -> list[list[str]]:
    """Cells of the first markdown table after ``heading``."""
    part = text.split(heading, 1)[1]
    rows = []
    for line in part.splitlines():
        if line.startswith("| ") and not line.startswith("| ---"):
            rows.append([c.strip() for c in line.strip("|").split(" | ")])
        elif rows and not line.startswith("|"):
            break
    return rows


def _num(cell: str) -> float:
    return float(cell.replace(",", ""))


def test_every_figure_is_written(run_dir: Path) -> None:
    layers = pd.read_csv(run_dir / "layers.csv")
    names = [spec.name for spec in run_figure_specs(layers)]
    assert names == [
        "energy_by_component", "ratios_vs_spikequant", "cycle_breakdown", "spike_statistics"
    ]
    for name in names:
        png = (run_dir / "figures" / f"{name}.png").read_bytes()
        pdf = (run_dir / "figures" / f"{name}.pdf").read_bytes()
        assert png.startswith(b"\x89PNG\r\n\x1a\n"), name
        assert len(png) > 1000, name
        assert pdf.startswith(b"%PDF"), name
        assert len(pdf) > 1000, name
        assert b"CreationDate" not in pdf  # reproducible bytes


def test_report_totals_equal_tables(run_dir: Path) -> None:
    text = (run_dir / "report.md").read_text()
    layers = pd.read_csv(run_dir / "layers.csv")
    summary = json.loads((run_dir / "summary.json").read_text())
    tokens = summary["trace"]["tokens"]
    rows = _section(text, "## Totals per design")
    header, body = rows[0], rows[1:]
    assert [r[0] for r in body] == list(DESIGNS)
    tot = layers.groupby("design")[["total_cycles", "energy_pj"]].sum()
    for r in body:
        cells = dict(zip(header, r, strict=True))
        design = cells["design"]
        assert _num(cells["cycles"]) == tot.loc[design, "total_cycles"]
        assert _num(cells["energy (µJ)"]) == pytest.approx(tot.loc[design, "energy_pj"] / 1e6,
                                                           rel=1e-3)
        assert _num(cells["energy per token (nJ)"]) == pytest.approx(
            tot.loc[design, "energy_pj"] / tokens / 1e3, rel=1e-3
        )
        ratio = tot.loc[design, "energy_pj"] / tot.loc["spikequant", "energy_pj"]
        assert _num(cells["energy ÷ spikequant"]) == pytest.approx(ratio, rel=2e-3)


def test_report_per_layer_rows_equal_tables(run_dir: Path) -> None:
    text = (run_dir / "report.md").read_text()
    layers = pd.read_csv(run_dir / "layers.csv")
    rows = _section(text, "## Per layer")
    header, body = rows[0], rows[1:]
    assert len(body) == len(layers)
    for r, (_, row) in zip(body, layers.iterrows(), strict=True):
        cells = dict(zip(header, r, strict=True))
        assert (cells["layer"], cells["design"]) == (row["layer"], row["design"])
        assert _num(cells["total cycles"]) == row["total_cycles"]
        assert _num(cells["stall: bank"]) == row["stall_bank_cycles"]
        assert _num(cells["energy per token (nJ)"]) == pytest.approx(
            row["energy_pj"] / row["tokens"] / 1e3, rel=1e-3
        )


def test_provenance_lists_every_price(run_dir: Path) -> None:
    text = (run_dir / "report.md").read_text()
    actions = pd.read_csv(run_dir / "actions.csv")
    rows = _section(text, "## Energy provenance")
    price = ["component", "action", "bits", "energy_per_action_pj"]
    distinct = actions[[*price, "source"]].drop_duplicates()
    assert len(rows) - 1 == len(distinct)
    assert len(actions[[*price, *PROVENANCE_COLUMNS]].drop_duplicates()) == len(distinct)
    refs = re.findall(r"^(\d+)\. ", text.split("References:", 1)[1], flags=re.M)
    assert refs
    assert refs == [str(i) for i in range(1, len(refs) + 1)]
    energy = sum(_num(r[-1]) for r in rows[1:])
    assert energy == pytest.approx(actions["energy_pj"].sum() / 1e6, rel=1e-2)
    # the cells come from the structured columns: table and entry, scaling, every citation
    header = rows[0]
    key = [header.index(h) for h in ("component", "action", "bits")]
    cells = {tuple(r[i] for i in key): r for r in rows[1:]}
    citations = set()
    for r in actions.fillna("").to_dict("records"):
        row = cells[(r["component"], r["action"], f"{int(r['bits']):,}")]
        assert r["energy_table"] + " " + r["energy_entry"] in [c.replace("\\|", "|") for c in row]
        assert (r["energy_scaling"] or "as is") in row
        citations.update(r["energy_citation"].split(CITATION_SEPARATOR))
    for cite in citations:
        assert re.search(rf"^\d+\. {re.escape(cite)}$", text, flags=re.M), cite


def test_spike_stats_table(run_dir: Path) -> None:
    stats = pd.read_csv(run_dir / SPIKE_STATS_NAME)
    layers = pd.read_csv(run_dir / "layers.csv")
    sq = layers[layers["design"] == "spikequant"].set_index("layer")
    counts = stats.groupby("layer")[["normal_count", "salient_count"]].sum()
    for layer, r in counts.iterrows():
        activations = sq.loc[layer, "tokens"] * sq.loc[layer, "k"]
        assert r["normal_count"] + r["salient_count"] == activations
        assert r["salient_count"] / activations == pytest.approx(sq.loc[layer, "salient_ratio"])
    # count coding: one spike per unit of |q|
    total_q = (stats["abs_q"] * (stats["normal_count"] + stats["salient_count"])).sum()
    assert total_q > 0


@pytest.mark.slow  # draws every figure again
def test_regeneration_from_a_copy_is_identical(run_dir: Path, tmp_path: Path) -> None:
    copy = tmp_path / "copy"
    shutil.copytree(run_dir, copy)
    shutil.rmtree(copy / "figures")
    (copy / "report.md").unlink()
    write_report(copy, figure_dpi=DPI)
    assert (copy / "report.md").read_bytes() == (run_dir / "report.md").read_bytes()
    for path in sorted((run_dir / "figures").iterdir()):
        assert (copy / "figures" / path.name).read_bytes() == path.read_bytes(), path.name
    assert sorted(p.name for p in copy.iterdir() if p.name.startswith(".")) == []


@pytest.mark.slow  # draws the figures again at full resolution
def test_report_of_an_older_run_dir(
    run_dir: Path, tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    """``spikesim report`` on a run directory whose actions.csv predates the provenance columns
    renders it, showing each ``source`` whole and saying so."""
    old = tmp_path / "old"
    shutil.copytree(run_dir, old)
    actions = pd.read_csv(old / "actions.csv", keep_default_na=False)
    actions.drop(columns=PROVENANCE_COLUMNS).to_csv(old / "actions.csv", index=False)
    assert main(["report", str(old)]) == 0
    assert capsys.readouterr().err == ""
    text = (old / "report.md").read_text()
    assert "predates the provenance columns" in text
    rows = _section(text, "## Energy provenance")
    derivations = {r[rows[0].index("derivation")] for r in rows[1:]}
    assert derivations == {" ".join(s.split()).replace("|", "\\|") for s in actions["source"]}
    new_text = (run_dir / "report.md").read_text()
    assert text.split("## Energy provenance")[0] == new_text.split("## Energy provenance")[0]


def test_report_of_a_foreign_directory(tmp_path: Path) -> None:
    with pytest.raises(InputError, match=r"summary\.json"):
        write_report(tmp_path)


def test_timeline_in_run_dir(run_dir: Path) -> None:
    files = sorted(run_dir.glob("timeline-*.json"))
    assert len(files) == 1
    trace = json.loads(files[0].read_text())
    assert {e["ph"] for e in trace["traceEvents"]} == {"X", "M"}
    designs = {e["args"]["name"] for e in trace["traceEvents"] if e["name"] == "process_name"}
    assert designs == set(DESIGNS)
    with pytest.raises(InputError, match="no transactions for layer 'nope'"):
        write_timeline(run_dir, "nope")


@pytest.mark.slow  # a second run directory and the comparison figures, twice
def test_comparison_of_two_runs(run_dir: Path, run_dir_b: Path, tmp_path: Path) -> None:
    out = tmp_path / "cmp"
    md = write_comparison([run_dir, run_dir_b], out, figure_dpi=DPI)
    text = md.read_text()
    for spec in compare_specs():
        assert (out / "figures" / f"{spec.name}.png").stat().st_size > 1000
        assert (out / "figures" / f"{spec.name}.pdf").stat().st_size > 1000
        assert f"(figures/{spec.name}.png)" in text
    rows = _section(text, "## Totals per run and design")
    header, body = rows[0], rows[1:]
    assert len(body) == 2 * len(DESIGNS)
    b_layers = pd.read_csv(run_dir_b / "layers.csv")
    cells = dict(zip(header, body[len(DESIGNS)], strict=True))  # run b, spikequant
    assert cells["design"] == "spikequant"
    b_sq = b_layers[b_layers["design"] == "spikequant"]
    assert _num(cells["cycles"]) == b_sq["total_cycles"].sum()
    # both runs use the same hardware name, so the labels are the directory names
    assert [r[0] for r in _section(text, "## Runs")[1:]] == ["a", "b"]
    marker = json.loads((out / "compare.json").read_text())
    assert [r["label"] for r in marker["runs"]] == ["a", "b"]
    # rewriting replaces the comparison; a foreign directory is refused
    write_comparison([run_dir, run_dir_b], out, figure_dpi=DPI)
    foreign = tmp_path / "foreign"
    foreign.mkdir()
    (foreign / "notes.txt").write_text("mine")
    with pytest.raises(InputError, match=r"compare\.json"):
        write_comparison([run_dir, run_dir_b], foreign, figure_dpi=DPI)
    assert (foreign / "notes.txt").read_text() == "mine"
    with pytest.raises(InputError, match="at least two"):
        write_comparison([run_dir], tmp_path / "one")


@pytest.mark.slow  # simulate and compare through the CLI: figures at full resolution
def test_cli_simulate_timeline_and_report_several(
    trace_dir: Path, run_dir_b: Path, tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    out = tmp_path / "cli"
    layer = spikesim.load_trace(trace_dir).layers[0].name
    args = ["simulate", "--hw", str(HW), "--trace", str(trace_dir), "--out", str(out),
            "--designs", "spikequant,mac-w4a4", "--layers", layer, "--quiet"]
    assert main([*args, "--timeline", "nope"]) == 2
    assert "--timeline" in capsys.readouterr().err
    assert not out.exists()
    assert main([*args, "--timeline", layer]) == 0
    assert (out / f"timeline-{layer}.json").is_file()
    assert (out / SPIKE_STATS_NAME).is_file()
    assert (out / "figures" / "ratios_vs_spikequant.pdf").is_file()
    capsys.readouterr()
    assert main(["report", str(out), str(run_dir_b), "--out", str(tmp_path / "c")]) == 0
    assert (tmp_path / "c" / "compare.md").is_file()
    assert main(["report", str(out), "--out", str(tmp_path / "d")]) == 2
    assert "--out" in capsys.readouterr().err


def test_pricing_assumptions_section_and_summary(
    run_dir: Path, trace_dir: Path, tmp_path: Path
) -> None:
    """report.md lists, per simulated design, the accumulator and compare widths, the
    spike-add pricing, the MAC multiplier/adder widths and the energy table, as summary.json's
    ``pricing`` records them from the run's config and actions."""
    summary = json.loads((run_dir / "summary.json").read_text())
    pricing = summary["pricing"]
    assert pricing["energy_table"] == (
        "operations: horowitz-45nm, sram: cacti7-45nm-lop, dram: horowitz-45nm"
    )
    assert pricing["energy_sources"] == {
        "operations": "horowitz-45nm", "sram": "cacti7-45nm-lop", "dram": "horowitz-45nm"
    }
    assert pricing["paper_convention"]["mac_pj"] == 4.6
    assert pricing["spike_add"] == "full_width"
    assert list(pricing["designs"]) == list(DESIGNS)
    sq, w4, fp = (pricing["designs"][d] for d in DESIGNS)
    assert (sq["kind"], sq["accumulator_bits"], sq["compare_bits"]) == ("spiking", 24, 24)
    assert (sq["spike_add"], sq["spike_add_priced_bits"]) == ("full_width", 24)
    assert (w4["kind"], w4["accumulator_bits"], w4["multiplier_bits"], w4["adder_bits"]) == (
        "mac", 32, 4, 32
    )
    assert (fp["arithmetic"], fp["multiplier_bits"], fp["adder_bits"]) == ("floating point", 16, 16)
    text = (run_dir / "report.md").read_text()
    rows = _section(text, "## Pricing assumptions")
    assert rows[0] == [
        "design", "kind", "accumulator bits", "compare bits", "spike add priced as",
        "multiplier bits", "adder bits", "energy table",
    ]
    by = {r[0]: r for r in rows[1:]}
    assert by["spikequant"][1:6] == ["spiking", "24", "24", "full_width (24 bits)", "-"]
    assert by["mac-w4a4"][1:8] == [
        "mac", "32", "-", "-", "4", "32", "`cacti7-45nm-lop`, `horowitz-45nm`"
    ]
    assert "`energy.spike_add: full_width`" in text

    other = _run(
        trace_dir,
        tmp_path / "narrow",
        {"energy.spike_add": "operand_width", "if_array.compare_bits": 12},
        figures=False,  # the section under test is text; figures are tested elsewhere
    )
    text = (other / "report.md").read_text()
    by = {r[0]: r for r in _section(text, "## Pricing assumptions")[1:]}
    assert by["spikequant"][2:5] == ["24", "12", "operand_width (6 bits)"]
    detail = _section(text.split("## Pricing assumptions", 1)[1], "`energy.spike_add:")
    acc = next(r for r in detail[1:] if r[:2] == ["spikequant", "if_array.acc"])
    assert acc[2:4] == ["24", "6"]
    assert "operand_width" in acc[-1]
    assert json.loads((other / "summary.json").read_text())["pricing"]["designs"]["spikequant"][
        "spike_add_priced_bits"
    ] == 6


def _class_rows() -> pd.DataFrame:
    base = {"tokens": 8, "k": 4, "n": 4, "compute_cycles": 0, "stall_encoder_cycles": 0,
            "stall_bank_cycles": 0, "stall_dram_cycles": 0, "spikes": 0, "salient_ratio": 0.0,
            "phase": "prefill"}
    rows = [
        ("layers.0.self_attn.q_proj", "q_proj", "linear", 100, 0.5, 60.0),
        ("layers.0.attn.score.g0.q0", "attn_score", "attention", 30, 1.0, 10.0),
        ("layers.0.attn.score.g1.q0", "attn_score", "attention", 10, 0.0, 10.0),
        ("layers.0.self_attn.softmax", "softmax", "vector", 60, 0.25, 20.0),
    ]
    return pd.DataFrame([
        {**base, "layer": n, "op": op, "op_class": c, "design": "spikequant",
         "total_cycles": cyc, "utilization": u, "energy_pj": e}
        for n, op, c, cyc, u, e in rows
    ])


def test_op_class_totals_and_shares() -> None:
    from spikesim.report.markdown import op_class_totals

    table = op_class_totals(_class_rows())
    assert list(table["op_class"]) == ["linear", "attention", "vector"]
    assert list(table["layers"]) == [1, 2, 1]
    assert list(table["total_cycles"]) == [100, 40, 60]
    assert list(table["energy_share"]) == pytest.approx([0.6, 0.2, 0.2])
    assert list(table["cycles_share"]) == pytest.approx([0.5, 0.2, 0.3])
    old = op_class_totals(_class_rows().drop(columns=["op_class", "phase"]))  # an older run
    assert list(old["op_class"]) == ["linear"]


def test_attention_layers_collapsed_per_block_and_matmul() -> None:
    from spikesim.report.markdown import collapse_attention

    out = collapse_attention(_class_rows(), tokens=8)
    assert list(out["layer"]) == [
        "layers.0.self_attn.q_proj", "layers.0.attn.score.* (2 layers)",
        "layers.0.self_attn.softmax",
    ]
    group = out.iloc[1]
    assert (group["total_cycles"], group["energy_pj"]) == (40, 20.0)
    assert group["utilization"] == pytest.approx((30 * 1.0 + 10 * 0.0) / 40)  # cycle-weighted
    assert (group["activations"], group["per_token_tokens"]) == (64, 8)


def _spike_stats_table_twin(spike_stats: pd.DataFrame, groups: dict[str, str]) -> list[list]:
    """The per-label rows of the report's |q| table, grouped row by row with pandas (what
    markdown._spike_stats_table did before it grouped by integer codes)."""
    rows = []
    labels = spike_stats["layer"].astype(str).map(lambda n: groups.get(n, n))
    for layer, part in spike_stats.groupby(labels, sort=False):
        part = part.groupby("abs_q", sort=True)[["normal_count", "salient_count"]].sum()
        part = part.reset_index()
        q = part["abs_q"].to_numpy(dtype=float)
        normal = part["normal_count"].to_numpy(dtype=float)
        sal = part["salient_count"].to_numpy(dtype=float)
        count = normal + sal
        n = float(count.sum())
        nonzero = q[count > 0]
        rows.append([str(layer), n, float((q * count).sum()) / n if n else float("nan"),
                     float(count[q == 0].sum()), float(sal.sum()),
                     nonzero.max() if nonzero.size else 0])
    return rows


@given(seed=st.integers(0, 2**32 - 1), n_rows=st.integers(0, 60), n_layers=st.integers(1, 6),
       qmax=st.sampled_from([0, 3, 40, 40000, 2**53]), by_rank=st.booleans())
@settings(max_examples=60, deadline=None)
def test_spike_stats_table_equals_grouping_by_name(seed: int, n_rows: int, n_layers: int,
                                                  qmax: int, by_rank: bool) -> None:
    """The |q| table (layers in order of first appearance, grouped attention tiles summed)
    is the one grouping by name gives, cell for cell: unsorted rows, repeated |q|, zero
    counts, |q| up to 2^53."""
    from spikesim.report import markdown

    rng = np.random.default_rng(seed)
    names = [f"layers.0.attn.score.g{i}.q0" if i % 2 else f"layers.{i}.mlp" for i in
             range(n_layers)]
    groups = {n: "layers.0.attn.score.* (3 layers)" for n in names if "attn" in n}
    frame = pd.DataFrame({
        "layer": rng.choice(names, n_rows),
        "abs_q": rng.integers(0, qmax + 1, n_rows),
        "normal_count": rng.integers(0, 5, n_rows) * rng.integers(0, 10**6, n_rows),
        "salient_count": rng.integers(0, 3, n_rows),
    })
    want = _spike_stats_table_twin(frame, groups)
    header = ["layer", "activations", "mean |q|", "|q| = 0", "salient", "max |q|"]
    text = markdown.markdown_table(header, [
        [r[0], markdown.fmt_int(r[1]), markdown.fmt_number(r[2], 3),
         markdown.fmt_percent(r[3], r[1]), markdown.fmt_percent(r[4], r[1]),
         markdown.fmt_int(r[5])] for r in want], "lrrrrr")
    with pytest.MonkeyPatch.context() as m:
        if by_rank:  # |q| keyed by rank (what keys beyond int64's range take)
            m.setattr(markdown, "_KEY_LIMIT", 1)
        assert markdown._spike_stats_table(frame, groups) == text


@given(keys=st.lists(st.integers(-(2**40), 2**40), max_size=80), ascending=st.booleans())
def test_key_sums_equal_pandas_groupby(keys: list[int], ascending: bool) -> None:
    """key_sums == DataFrame.groupby(key, sort=True).sum(): keys and int64 sums, sorted or
    not."""
    from spikesim.report.markdown import key_sums

    key = np.array(sorted(keys) if ascending else keys, np.int64)
    a = np.arange(len(key), dtype=np.int64) * 7 - 3
    b = (np.arange(len(key), dtype=np.int64) % 5) * (2**50)
    got_keys, (got_a, got_b) = key_sums(key, [a, b])
    want = pd.DataFrame({"a": a, "b": b}).groupby(key, sort=True).sum()
    assert np.array_equal(got_keys, want.index.to_numpy(np.int64))
    assert np.array_equal(got_a, want["a"].to_numpy(np.int64))
    assert np.array_equal(got_b, want["b"].to_numpy(np.int64))


@given(keys=st.lists(st.integers(0, 3_000), max_size=120),
       big=st.sampled_from([1, 2**20, 2**46, 2**52]), data=st.data())
def test_key_sums_by_bins_equal_pandas_groupby(keys: list[int], big: int,
                                               data: st.DataObject) -> None:
    """Small non-negative keys take the bincount path; columns whose sums could pass 2^53
    (``big``) take the sort path; both equal groupby(key, sort=True).sum()."""
    from spikesim.report.markdown import key_sums

    key = np.array(keys, np.int64)
    a = np.array(data.draw(st.lists(st.integers(0, big), min_size=len(keys),
                                    max_size=len(keys))), np.int64)
    b = np.arange(len(key), dtype=np.int64) % 3
    got_keys, (got_a, got_b) = key_sums(key, [a, b])
    want = pd.DataFrame({"a": a, "b": b}).groupby(key, sort=True).sum()
    assert np.array_equal(got_keys, want.index.to_numpy(np.int64))
    assert np.array_equal(got_a, want["a"].to_numpy(np.int64))
    assert np.array_equal(got_b, want["b"].to_numpy(np.int64))
