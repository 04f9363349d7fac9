"""``report.md`` and the totals table, computed from a run's tables only.

Everything here is a pure function of ``layers.csv``, ``actions.csv`` (as DataFrames) and
``summary.json`` (as a dict), so ``spikesim report RUN_DIR`` regenerates the very same text from a
run directory (or a copy of it). Numbers are formatted with fixed rules (no locale, no timestamps
of their own) so the text is deterministic. No figures are drawn here.
"""

from __future__ import annotations

import math
import re
from collections.abc import Mapping, Sequence
from typing import Any

import pandas as pd

from spikesim.report.compare import REFERENCE_DESIGN, compare_designs

__all__ = [
    "TOTALS_COLUMNS",
    "design_totals",
    "fmt_number",
    "markdown_table",
    "render_report",
    "text_table",
]

TOTALS_COLUMNS = ["design", "total_cycles", "seconds", "energy_pj", "energy_per_token_pj"]
"""Columns of :func:`design_totals`."""

_ENERGY_COLUMN_RE = re.compile(r"^energy_(.+)_pj$")
_PJ_PER_UJ = 1e6
_PJ_PER_NJ = 1e3


# --------------------------------------------------------------------------------------------
# Formatting helpers
# --------------------------------------------------------------------------------------------


def fmt_number(value: Any, digits: int = 4) -> str:
    """``value`` with about ``digits`` significant digits, never in scientific notation.

    Integers (and integral floats of integer columns) keep every digit; thousands are separated
    by commas for readability.
    """
    if value is None:
        return ""
    if isinstance(value, bool):
        return str(value)
    if isinstance(value, int):
        return f"{value:,}"
    v = float(value)
    if math.isnan(v):
        return "nan"
    if math.isinf(v):
        return "inf" if v > 0 else "-inf"
    if v == 0:
        return "0"
    magnitude = math.floor(math.log10(abs(v)))
    decimals = max(0, digits - 1 - magnitude)
    text = f"{v:,.{decimals}f}"
    if decimals and "." in text:
        text = text.rstrip("0").rstrip(".")
    return "0" if text in ("-0", "") else text


def fmt_int(value: Any) -> str:
    """An integer count with thousands separators."""
    return f"{int(value):,}"


def fmt_percent(part: float, whole: float) -> str:
    """``part`` as a percentage of ``whole`` with one decimal (``-`` when ``whole`` is 0)."""
    if whole == 0:
        return "-"
    return f"{100.0 * part / whole:.1f} %"


def _cell(value: Any) -> str:
    text = " ".join(str(value).split())  # one line per cell
    return text.replace("|", "\\|")


def markdown_table(
    headers: Sequence[str], rows: Sequence[Sequence[Any]], align: str | None = None
) -> str:
    """A GitHub-flavoured markdown table (cells are ``str()``-ed; ``|`` is escaped).

    ``align`` has one character per column: ``l`` (left) or ``r`` (right); default: all left.
    """
    align = align or "l" * len(headers)
    if len(align) != len(headers):
        raise ValueError("align needs one character per column")
    rule = {"l": "---", "r": "---:"}
    lines = [
        "| " + " | ".join(_cell(h) for h in headers) + " |",
        "| " + " | ".join(rule[a] for a in align) + " |",
    ]
    for row in rows:
        if len(row) != len(headers):
            raise ValueError("every row needs one cell per column")
        lines.append("| " + " | ".join(_cell(c) for c in row) + " |")
    return "\n".join(lines) + "\n"


def text_table(
    headers: Sequence[str], rows: Sequence[Sequence[Any]], align: str | None = None
) -> str:
    """A plain, column-aligned text table for terminals (``align`` as in :func:`markdown_table`)."""
    align = align or "l" * len(headers)
    cells = [[_cell(h) for h in headers], *[[_cell(c) for c in row] for row in rows]]
    widths = [max(len(r[i]) for r in cells) for i in range(len(headers))]

    def line(row: list[str]) -> str:
        parts = [
            c.rjust(w) if a == "r" else c.ljust(w)
            for c, w, a in zip(row, widths, align, strict=True)
        ]
        return "  ".join(parts).rstrip()

    out = [line(cells[0]), "  ".join("-" * w for w in widths)]
    out.extend(line(r) for r in cells[1:])
    return "\n".join(out) + "\n"


# --------------------------------------------------------------------------------------------
# Tables derived from layers.csv / actions.csv
# --------------------------------------------------------------------------------------------


def design_totals(layers: pd.DataFrame, clock_hz: float, tokens: int) -> pd.DataFrame:
    """Per design (in first-appearance order): cycles and energy summed over layers.

    ``seconds = total_cycles / clock_hz`` (layers run one after another);
    ``energy_per_token_pj = energy_pj / tokens`` with ``tokens`` the trace's token count.
    """
    grouped = layers.groupby("design", sort=False)[["total_cycles", "energy_pj"]].sum()
    out = grouped.reset_index()
    out["total_cycles"] = out["total_cycles"].astype("int64")
    out["seconds"] = out["total_cycles"] / float(clock_hz)
    out["energy_per_token_pj"] = out["energy_pj"] / max(1, int(tokens))
    return out[TOTALS_COLUMNS]


def totals_rows(totals: pd.DataFrame) -> tuple[list[str], list[list[str]], str]:
    """Headers, formatted rows and alignment of the per-design totals table; with SpikeQuant
    among the designs, each design's energy and cycles relative to it (× SpikeQuant)."""
    headers = ["design", "cycles", "seconds", "energy (µJ)", "energy per token (nJ)"]
    records = totals.to_dict("records")
    ref = next((r for r in records if r["design"] == REFERENCE_DESIGN), None)
    compare = ref is not None and len(records) > 1
    if compare:
        headers += ["energy ÷ spikequant", "cycles ÷ spikequant"]
    rows = []
    for r in records:
        row = [
            str(r["design"]),
            fmt_int(r["total_cycles"]),
            fmt_number(r["seconds"]),
            fmt_number(float(r["energy_pj"]) / _PJ_PER_UJ),
            fmt_number(float(r["energy_per_token_pj"]) / _PJ_PER_NJ),
        ]
        if compare and ref is not None:
            row += [
                fmt_number(_ratio(r["energy_pj"], ref["energy_pj"]), 3),
                fmt_number(_ratio(r["total_cycles"], ref["total_cycles"]), 3),
            ]
        rows.append(row)
    return headers, rows, "lrrrr" + ("rr" if compare else "")


def _ratio(value: Any, reference: Any) -> float:
    return float(value) / float(reference) if float(reference) else float("nan")


def component_columns(layers: pd.DataFrame) -> list[str]:
    """The ``energy_<component>_pj`` columns of a layers table, in table order."""
    return [c for c in layers.columns if c != "energy_pj" and _ENERGY_COLUMN_RE.match(c)]


def _component_names(actions: pd.DataFrame) -> dict[str, str]:
    """``energy_<x>_pj`` column → component name as written in actions.csv (``sram.weights``)."""
    names: dict[str, str] = {}
    for comp in sorted({str(c) for c in actions["component"]}):
        names[f"energy_{comp.replace('.', '_')}_pj"] = comp
    return names


def _source_summary(source: Mapping[str, Any]) -> str:
    keys = ("kind", "shape", "gemm", "layers", "tokens", "seed", "dtype", "model")
    parts = [f"{k}={source[k]}" for k in keys if source.get(k) is not None]
    return ", ".join(parts) if parts else "unknown"


# --------------------------------------------------------------------------------------------
# report.md
# --------------------------------------------------------------------------------------------


def render_report(layers: pd.DataFrame, actions: pd.DataFrame, summary: Mapping[str, Any]) -> str:
    """The text of ``report.md`` for one run.

    Parameters
    ----------
    layers:
        ``layers.csv`` of the run (one row per layer and design).
    actions:
        ``actions.csv`` of the run (priced action counts with their sources).
    summary:
        ``summary.json`` of the run (trace, hardware, designs, versions).
    """
    trace = summary.get("trace", {})
    hardware = summary.get("hardware", {})
    source = trace.get("source") or {}
    clock_hz = float(hardware.get("clock_hz") or 0.0)
    tokens = int(trace.get("tokens") or 0)
    designs = list(summary.get("designs") or list(dict.fromkeys(layers["design"])))

    out: list[str] = []
    out.append(f"# spikesim run: {trace.get('name', '?')} on {hardware.get('name', '?')}\n\n")

    # ---- what was simulated
    out.append("## What was simulated\n\n")
    overrides = summary.get("overrides") or {}
    override_text = ", ".join(f"`{k}={v}`" for k, v in overrides.items()) or "none"
    n_layers = len(dict.fromkeys(layers["layer"]))
    facts = [
        ("trace", f"`{trace.get('name', '?')}` ({trace.get('path', '?')})"),
        ("trace source", _source_summary(source)),
        ("tokens", fmt_int(tokens)),
        ("layers simulated", str(n_layers)),
        ("hardware", f"`{hardware.get('name', '?')}` ({hardware.get('file', '?')})"),
        ("overrides (--set)", override_text),
        ("clock", f"{fmt_number(clock_hz / 1e6)} MHz"),
        ("energy table", f"`{hardware.get('energy_table', '?')}`"),
        ("designs", ", ".join(designs)),
        (
            "spikesim",
            f"{summary.get('spikesim_version', '?')} (git "
            f"{summary.get('git_revision') or 'unknown'})",
        ),
        ("created (UTC)", str(summary.get("created_utc", "?"))),
    ]
    out.append(markdown_table(["item", "value"], facts))
    if source.get("kind") == "synthetic":
        out.append(
            "\nThe trace is **synthetic**: activations and weights drawn with LLM-like statistics "
            "by `spikesim.trace.synth` (seeded, reproducible). Traces extracted from a real model "
            "come in a later release.\n"
        )
    out.append(
        "\nConfiguration as simulated: `config.yaml`; per-layer numbers: `layers.csv`; priced "
        "action counts: `actions.csv`; timeline: `transactions.csv`; versions and input hashes: "
        "`summary.json`.\n"
    )

    # ---- totals
    out.append("\n## Totals per design\n\n")
    totals = design_totals(layers, clock_hz if clock_hz > 0 else 1.0, tokens)
    headers, rows, align = totals_rows(totals)
    out.append(markdown_table(headers, rows, align))
    out.append(
        f"\nSeconds = cycles / clock ({fmt_number(clock_hz / 1e6)} MHz), layers one after "
        f"another; energy per token = total energy / {fmt_int(tokens)} tokens.\n"
    )

    # ---- per layer
    out.append("\n## Per layer\n\n")
    layer_rows = []
    for r in layers.to_dict("records"):
        activations = int(r["tokens"]) * int(r["k"])
        per_act = float(r["spikes"]) / activations if activations else float("nan")
        layer_rows.append(
            [
                r["layer"],
                r["design"],
                fmt_int(r["total_cycles"]),
                fmt_int(r["compute_cycles"]),
                fmt_int(r["stall_encoder_cycles"]),
                fmt_int(r["stall_bank_cycles"]),
                fmt_int(r["stall_dram_cycles"]),
                fmt_number(r["utilization"], 3),
                fmt_number(float(r["energy_pj"]) / _PJ_PER_UJ),
                fmt_number(r["salient_ratio"], 3),
                fmt_number(per_act, 3),
            ]
        )
    out.append(
        markdown_table(
            [
                "layer",
                "design",
                "total cycles",
                "compute cycles",
                "stall: encoder",
                "stall: bank",
                "stall: DRAM",
                "utilization",
                "energy (µJ)",
                "salient ratio",
                "spikes per activation",
            ],
            layer_rows,
            "llrrrrrrrrr",
        )
    )
    out.append(
        "\nStall columns add up to total − compute cycles; spikes per activation = "
        "spikes / (tokens · k).\n"
    )

    # ---- comparison against SpikeQuant, per layer
    comparison = compare_designs(layers)
    others = [d for d in dict.fromkeys(layers["design"]) if d != REFERENCE_DESIGN]
    if len(comparison) and others:
        out.append("\n## Against SpikeQuant, per layer\n\n")
        out.append(
            "Each cell is the design's value divided by SpikeQuant's for the same layer "
            "(above 1: SpikeQuant uses less).\n\n"
        )
        headers = ["layer"] + [f"{d} energy" for d in others] + [f"{d} cycles" for d in others]
        cmp_rows = []
        for layer_name, group in comparison.groupby("layer", sort=False):
            by = group.set_index("design")

            def cell(design: str, column: str, by: pd.DataFrame = by) -> str:
                return fmt_number(by.loc[design, column], 3) if design in by.index else ""

            cmp_rows.append(
                [str(layer_name)]
                + [cell(d, "energy_ratio") for d in others]
                + [cell(d, "cycles_ratio") for d in others]
            )
        out.append(markdown_table(headers, cmp_rows, "l" + "r" * (2 * len(others))))

    # ---- energy by component
    out.append("\n## Energy by component\n\n")
    names = _component_names(actions)
    comp_rows = []
    for design in designs:
        part = layers[layers["design"] == design]
        total = float(part["energy_pj"].sum())
        for col in component_columns(layers):
            energy = float(part[col].sum())
            label = names.get(col) or col.removeprefix("energy_").removesuffix("_pj")
            comp_rows.append(
                [design, label, fmt_number(energy / _PJ_PER_UJ), fmt_percent(energy, total)]
            )
    out.append(markdown_table(["design", "component", "energy (µJ)", "share"], comp_rows, "llrr"))

    # ---- provenance
    out.append("\n## Energy provenance\n\n")
    out.append(
        "Every distinct price used: energy = count × energy per action (see `actions.csv` "
        "for the counts).\n\n"
    )
    keys = ["component", "action", "bits", "energy_per_action_pj", "source"]
    prov = actions[keys].drop_duplicates().sort_values(keys[:4], kind="stable")
    prov_rows = [
        [
            r["component"],
            r["action"],
            fmt_int(r["bits"]),
            fmt_number(float(r["energy_per_action_pj"]), 6),
            r["source"],
        ]
        for r in prov.to_dict("records")
    ]
    out.append(
        markdown_table(
            ["component", "action", "bits", "energy per action (pJ)", "source"], prov_rows, "llrrl"
        )
    )
    return "".join(out)
