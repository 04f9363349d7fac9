"""``report.md`` and the totals table, computed from a run's tables only.

Everything here is a pure function of ``layers.csv``, ``actions.csv`` (as DataFrames) and
``summary.json`` (as a dict), so ``spikesim report RUN_DIR`` regenerates the very same text from a
run directory (or a copy of it). Numbers are formatted with fixed rules (no locale, no timestamps
of their own) so the text is deterministic. No figures are drawn here: the report links the files
that :mod:`spikesim.report.figures` names for the same tables (``figures/<name>.png`` and
``.pdf``), which :mod:`spikesim.report.rundir` draws from the same tables.

:func:`render_comparison` renders the combined report of several run directories.
"""

from __future__ import annotations

import math
import re
from collections.abc import Mapping, Sequence
from typing import Any

import numpy as np
import pandas as pd
from numpy.typing import NDArray

from spikesim.dataflows import reference_design
from spikesim.report.figures import FigureSpec, compare_specs, run_figure_specs
from spikesim.report.phases import phase_tokens, phase_totals, summary_count
from spikesim.report.pricing import pricing_rows
from spikesim.schema import (
    CITATION_SEPARATOR,
    ENERGY_VIEW_COLUMNS,
    OP_CLASSES,
    PHASES,
    PROVENANCE_COLUMNS,
    OpClass,
    Phase,
    energy_column,
    energy_component_columns,
)
from spikesim.sim.compare import compare_designs

__all__ = [
    "OP_CLASS_COLUMNS",
    "TOTALS_COLUMNS",
    "accounting",
    "attention_groups",
    "collapse_attention",
    "design_totals",
    "fmt_number",
    "markdown_table",
    "op_class_totals",
    "provenance_rows",
    "render_comparison",
    "render_report",
    "run_labels",
    "text_table",
]

FIGURES_DIR = "figures"
"""Folder of the figures, relative to the report."""

TOTALS_COLUMNS = ["design", "total_cycles", "seconds", "energy_pj", "energy_per_token_pj"]
"""Columns of :func:`design_totals`."""

OP_CLASS_COLUMNS = [
    "design", "phase", "op_class", "layers", "total_cycles", "energy_pj", "cycles_share",
    "energy_share",
]
"""Columns of :func:`op_class_totals` (``summary.json`` ``op_classes``)."""

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
    ``energy_per_token_pj = energy_pj / tokens`` with ``tokens`` the trace's token count. The
    accounting views (:data:`~spikesim.schema.ENERGY_VIEW_COLUMNS`) follow, summed, when
    ``layers`` has them (run directories written before they existed do not).
    """
    views = [c for c in ENERGY_VIEW_COLUMNS if c in layers.columns]
    grouped = layers.groupby("design", sort=False)[["total_cycles", "energy_pj", *views]].sum()
    out = grouped.reset_index()
    out["total_cycles"] = out["total_cycles"].astype("int64")
    out["seconds"] = out["total_cycles"] / float(clock_hz)
    out["energy_per_token_pj"] = out["energy_pj"] / max(1, int(tokens))
    return out[[*TOTALS_COLUMNS, *views]]


def _with_classes(layers: pd.DataFrame) -> pd.DataFrame:
    """``layers`` with ``op_class`` and ``phase`` (a run directory written before they existed
    holds linear prefill layers only)."""
    missing = {
        c: v for c, v in (("op_class", OpClass.LINEAR.value), ("phase", Phase.PREFILL.value))
        if c not in layers.columns
    }
    return layers.assign(**missing) if missing else layers


def _rank(values: pd.Series, order: Sequence[str]) -> pd.Series:
    """Position of each value in ``order`` (unknown values after, in appearance order)."""
    known = {v: i for i, v in enumerate(order)}
    extra = {v: len(order) + i for i, v in enumerate(dict.fromkeys(values)) if v not in known}
    return values.map(lambda v: known.get(v, extra.get(v, len(order))))


def op_class_totals(layers: pd.DataFrame) -> pd.DataFrame:
    """Per design (first-appearance order), phase and operator class (:data:`PHASES`,
    :data:`OP_CLASSES` order; those present only): layer count, cycles, energy and the class's
    share of the design's cycles and energy (fractions of its totals over every class and
    phase). Columns :data:`OP_CLASS_COLUMNS`."""
    frame = _with_classes(layers)
    frame = frame.assign(op_class=frame["op_class"].astype(str), phase=frame["phase"].astype(str))
    grouped = frame.groupby(["design", "phase", "op_class"], sort=False)
    out = grouped[["total_cycles", "energy_pj"]].sum().reset_index()
    out.insert(3, "layers", grouped["layer"].nunique().to_numpy())
    design_rank = _rank(out["design"], list(dict.fromkeys(frame["design"])))
    out = out.assign(
        _d=design_rank, _p=_rank(out["phase"], PHASES), _c=_rank(out["op_class"], OP_CLASSES)
    ).sort_values(["_d", "_p", "_c"], kind="stable").drop(columns=["_d", "_p", "_c"])
    totals = out.groupby("design", sort=False)[["total_cycles", "energy_pj"]].transform("sum")
    out["total_cycles"] = out["total_cycles"].astype("int64")
    out["layers"] = out["layers"].astype("int64")
    out["cycles_share"] = (out["total_cycles"] / totals["total_cycles"].replace(0, math.nan)
                           ).fillna(0.0)
    out["energy_share"] = (out["energy_pj"] / totals["energy_pj"].replace(0, math.nan)
                           ).fillna(0.0)
    return out[OP_CLASS_COLUMNS].reset_index(drop=True)


def _op_class_section(layers: pd.DataFrame) -> str:
    """"Energy and cycles by operator class": :func:`op_class_totals` as a table, with each
    class's energy against SpikeQuant's same class."""
    table = op_class_totals(layers)
    phases = list(dict.fromkeys(table["phase"]))
    ref = reference_design()
    designs = list(dict.fromkeys(table["design"]))
    compare = ref in designs and len(designs) > 1
    ref_energy = {
        (r["phase"], r["op_class"]): float(r["energy_pj"])
        for r in table[table["design"] == ref].to_dict("records")
    }
    headers = ["design", *(["phase"] if len(phases) > 1 else []), "operator class", "layers",
               "cycles", "cycles share", "energy (µJ)", "energy share"]
    if compare:
        headers.append(f"energy ÷ {ref}")
    rows = []
    for r in table.to_dict("records"):
        row = [str(r["design"]), *([str(r["phase"])] if len(phases) > 1 else []),
               str(r["op_class"]), fmt_int(r["layers"]), fmt_int(r["total_cycles"]),
               f"{100.0 * float(r['cycles_share']):.1f} %",
               fmt_number(float(r["energy_pj"]) / _PJ_PER_UJ),
               f"{100.0 * float(r['energy_share']):.1f} %"]
        if compare:
            base = ref_energy.get((r["phase"], r["op_class"]))
            row.append(fmt_number(_ratio(r["energy_pj"], base), 3) if base is not None else "")
        rows.append(row)
    align = "l" + ("l" if len(phases) > 1 else "") + "lrrrrr" + ("r" if compare else "")
    return (
        "\n## Energy and cycles by operator class\n\n"
        + markdown_table(headers, rows, align)
        + "\n*linear*: weight GEMMs (q/k/v/o, gate/up/down, a topology's GEMMs); *attention*: "
        "the score (Q·Kᵀ) and value (P·V) matmuls, on each design's array; *vector*: RMSNorm, "
        "RoPE, softmax, SiLU·up and residual adds on the FP vector unit (`vector:`), the same "
        "for every design; *kv*: KV-cache traffic. Shares are of the design's totals (its "
        "layers one after another); the same numbers are in `summary.json` (`op_classes`).\n"
    )


def phase_rows(table: pd.DataFrame, reference: str) -> tuple[list[str], list[list[str]], str]:
    """Headers, formatted rows and alignment of the per-phase table (µJ, nJ, ms), with each
    design's energy per token ÷ ``reference``'s in the same phase when both are present."""
    refs = {str(r["phase"]): float(r["energy_per_token_pj"])
            for r in table.to_dict("records") if r["design"] == reference}
    compare = len(set(table["design"])) > 1 and bool(refs)
    classes = [c for c in OP_CLASSES if table[f"energy_{c}_per_token_pj"].fillna(0).any()]
    headers = ["design", "phase", "tokens", "steps", "ms", "ms per step", "energy (µJ)",
               "energy per token (nJ)", *(f"{c} (nJ/token)" for c in classes)]
    if compare:
        headers.append(f"per token ÷ {reference}")
    rows = []
    for r in table.to_dict("records"):
        row = [str(r["design"]), str(r["phase"]), fmt_int(r["tokens"]), fmt_int(r["steps"]),
               fmt_number(1e3 * float(r["seconds"])),
               fmt_number(1e3 * float(r["seconds_per_step"])),
               fmt_number(float(r["energy_pj"]) / 1e6),
               fmt_number(float(r["energy_per_token_pj"]) / 1e3),
               *(fmt_number(float(r[f"energy_{c}_per_token_pj"]) / 1e3) for c in classes)]
        if compare:
            base = refs.get(str(r["phase"]))
            row.append(fmt_number(float(r["energy_per_token_pj"]) / base, 3)
                       if base else "")
        rows.append(row)
    return headers, rows, "ll" + "r" * (len(headers) - 2)


def _phase_section(layers: pd.DataFrame, clock_hz: float, source: Mapping[str, Any],
                   tokens: int) -> str:
    """"Per token, by phase": :func:`~spikesim.report.phases.phase_totals` as a table (a model
    workload's run only: its plan says the phases' tokens)."""
    if not isinstance(source.get("phases"), Mapping):
        return ""
    table = phase_totals(layers, clock_hz, phase_tokens(source, tokens))
    headers, rows, align = phase_rows(table, reference_design())
    plan = source["phases"]
    return (
        "\n## Per token, by phase\n\n"
        + markdown_table(headers, rows, align)
        + f"\nPlan: phase {plan.get('phase')}, batch {plan.get('batch')}"
        + (f", prefill {plan.get('tokens')} tokens per sequence" if plan.get("tokens") else "")
        + (f", {plan.get('decode_steps')} decode step(s) from a context of "
           f"{plan.get('context')} tokens" if plan.get("decode_steps") else "")
        + ". Prefill: energy per prompt token, ms = time to the first token; decode: energy "
        "per generated token, ms per step = time per output token (a step generates one token "
        "of every sequence). Layers run one after another; with `--layers` the figures cover "
        "the layers simulated. The same numbers are in `summary.json` (`phases`).\n"
    )


_ATTENTION_TILE = re.compile(r"^(?P<base>.+)\.g\d+(?:\.q\d+(?:\.seq\d+)?|\.seq\d+)$")
"""An attention layer's name: ``layers.{b}.attn.{score|value}.g{g}.q{i}`` (``.seq{s}`` added
for a batch), or ``decode.{t}.layers.{b}.attn.{score|value}.g{g}.seq{s}``; its group is the
name up to ``.g{g}`` followed by ``.*``."""


def collapse_attention(layers: pd.DataFrame, tokens: int) -> pd.DataFrame:
    """The per-layer rows of the report: ``layers`` with the attention layers of each block and
    kind (``layers.{b}.attn.score.g*.q*``, ``...value...``) summed into one row per design,
    named ``layers.{b}.attn.score.* (N layers)`` (:func:`attention_groups`).

    Cycles, energy, spikes and the other counts are sums; ``utilization`` is cycle-weighted and
    ``salient_ratio`` weighted by activations (tokens · k). Every row gets ``activations``
    (tokens · k, summed) and ``per_token_tokens``, the tokens its energy per token divides by
    (the layer's own; ``tokens``, the run's, for a summed group). Other rows are unchanged.
    """
    frame = _with_classes(layers).copy()
    frame["activations"] = frame["tokens"].astype("int64") * frame["k"].astype("int64")
    frame["per_token_tokens"] = frame["tokens"].astype("int64")
    groups = attention_groups(frame)
    if not groups:
        return frame
    names = frame["layer"].astype(str)
    merged = names.isin(list(groups))
    frame["_key"] = names.map(lambda n: groups.get(n, n)).where(merged, names + "\0")
    frame["_busy"] = frame["utilization"].astype(float) * frame["total_cycles"].astype(float)
    frame["_salient"] = frame["salient_ratio"].astype(float) * frame["activations"]
    kept = ("tokens", "k", "n", "utilization", "salient_ratio", "per_token_tokens")
    sums = [
        c for c in frame.columns
        if c not in kept and c not in ("_key", "design")
        and pd.api.types.is_numeric_dtype(frame[c]) and not pd.api.types.is_bool_dtype(frame[c])
    ]
    first = {c: "first" for c in frame.columns if c not in sums and c not in ("_key", "design")}
    out = frame.groupby(["_key", "design"], sort=False).agg({**first, **dict.fromkeys(sums, "sum")})
    out = out.reset_index()
    group = ~out["_key"].str.endswith("\0")
    out.loc[group, "layer"] = out.loc[group, "_key"]
    out.loc[group, "per_token_tokens"] = int(tokens)
    cycles = out["total_cycles"].astype(float).replace(0, math.nan)
    out.loc[group, "utilization"] = (out["_busy"] / cycles).fillna(0.0)[group]
    acts = out["activations"].astype(float).replace(0, math.nan)
    out.loc[group, "salient_ratio"] = (out["_salient"] / acts).fillna(0.0)[group]
    return out.drop(columns=["_key", "_busy", "_salient"])


def attention_groups(layers: pd.DataFrame) -> dict[str, str]:
    """Attention layer name → its per-block group label in the report's tables,
    ``layers.{b}.attn.score.* (N layers)`` (layers of ``op_class`` ``attention`` named
    ``<base>.g<group>.q<block>``; others are not grouped)."""
    frame = _with_classes(layers)
    names = dict.fromkeys(
        frame.loc[frame["op_class"].astype(str) == OpClass.ATTENTION, "layer"].astype(str)
    )
    base = {n: m.group("base") for n in names if (m := _ATTENTION_TILE.match(n))}
    counts: dict[str, int] = {}
    for group in base.values():
        counts[group] = counts.get(group, 0) + 1
    return {n: f"{g}.* ({counts[g]} layers)" for n, g in base.items()}


ACCOUNTING_VIEWS = (
    ("energy_pj", "full system"),
    ("energy_compute_pj", "arithmetic only"),
    ("energy_paper_pj", "SNN-paper convention"),
)
"""The energies compared in the accounting table: column and label."""


def accounting(totals: pd.DataFrame) -> dict[str, Any] | None:
    """The ``accounting`` object of ``summary.json``: per design, each view's energy and its
    ratio to SpikeQuant's, the low–high range, and whether the design's order against SpikeQuant
    differs at the two ends of the range (``None`` without the view columns or SpikeQuant)."""
    if not all(c in totals.columns for c in ENERGY_VIEW_COLUMNS):
        return None
    records = totals.to_dict("records")
    ref = next((r for r in records if r["design"] == reference_design()), None)
    if ref is None:
        return None
    out: dict[str, Any] = {"reference": reference_design(), "designs": {}}
    for r in records:
        entry: dict[str, Any] = {}
        for column, _ in ACCOUNTING_VIEWS:
            entry[column] = float(r[column])
            entry[column.removesuffix("_pj") + "_ratio"] = _ratio(r[column], ref[column])
        low, high = float(r["energy_low_pj"]), float(r["energy_high_pj"])
        entry.update(energy_low_pj=low, energy_high_pj=high)
        below = [low < float(ref["energy_low_pj"]), high < float(ref["energy_high_pj"])]
        entry["order_flips_in_range"] = r["design"] != ref["design"] and below[0] != below[1]
        out["designs"][str(r["design"])] = entry
    ranking = {
        side: [str(r["design"]) for r in sorted(records, key=lambda r: float(r[column]))]
        for side, column in (("low", "energy_low_pj"), ("high", "energy_high_pj"))
    }
    out["ranking"] = {**ranking, "flips_in_range": ranking["low"] != ranking["high"]}
    return out


def _accounting_section(totals: pd.DataFrame, paper: Mapping[str, Any] | None) -> str:
    acc = accounting(totals)
    if acc is None:
        return ""
    ref = acc["reference"]
    headers = ["design"]
    for _, label in ACCOUNTING_VIEWS:
        headers += [f"{label} (µJ)", f"÷ {ref}"]
    headers += ["full system, low–high (µJ)", f"order vs {ref} flips in range"]
    rows = []
    for design, e in acc["designs"].items():
        row = [design]
        for column, _ in ACCOUNTING_VIEWS:
            row += [
                fmt_number(e[column] / _PJ_PER_UJ),
                fmt_number(e[column.removesuffix("_pj") + "_ratio"], 3),
            ]
        row += [
            f"{fmt_number(e['energy_low_pj'] / _PJ_PER_UJ)}–"
            f"{fmt_number(e['energy_high_pj'] / _PJ_PER_UJ)}",
            "-" if design == ref else ("yes" if e["order_flips_in_range"] else "no"),
        ]
        rows.append(row)
    ranking = acc["ranking"]
    order = (
        f"\nDesigns by full-system energy, least first: {' < '.join(ranking['low'])} at the low "
        "end of the ranges"
        + (
            f"; {' < '.join(ranking['high'])} at the high end: **the ranking flips inside the "
            "range**.\n"
            if ranking["flips_in_range"]
            else "; the same at the high end: the ranking holds over the whole range.\n"
        )
    )
    paper = paper or {}
    constants = (
        f"E_MAC = {fmt_number(paper.get('mac_pj', float('nan')))} pJ, "
        f"E_AC = {fmt_number(paper.get('ac_pj', float('nan')))} pJ ({paper.get('source', '?')})"
    )
    return (
        "\n## Energy accounting: full system, arithmetic only, and the SNN papers' convention\n\n"
        + markdown_table(headers, rows, "l" + "rr" * len(ACCOUNTING_VIEWS) + "rl")
        + order
        + "\n*Full system*: every priced action (arrays, SRAM, DRAM, encoders, latches) plus "
        "leakage. *Arithmetic only*: the actions of the arrays, threshold multiplies, encoders, "
        "dequantization and requantization and the FP vector unit, priced by the same table, "
        "with no memory. *SNN-paper "
        f"convention*: `mac_ops` × E_MAC + `acc_ops` × E_AC, {constants}: no memory, no width — "
        "the accounting behind most published spiking-energy headlines. Compare the ratio "
        "columns to see what the memory system does to a paper-style claim. *Low–high*: the full "
        "system with every ranged table value (for example Horowitz's DRAM, 1.3–2.6 nJ per 64-bit "
        "access) at its low and at its high end; *flips* says whether the design's order against "
        f"{ref} differs between the two ends.\n"
    )


def totals_rows(totals: pd.DataFrame) -> tuple[list[str], list[list[str]], str]:
    """Headers, formatted rows and alignment of the per-design totals table; with SpikeQuant
    among the designs, each design's energy and cycles relative to it (× SpikeQuant)."""
    headers = ["design", "cycles", "seconds", "energy (µJ)", "energy per token (nJ)"]
    records = totals.to_dict("records")
    ref = next((r for r in records if r["design"] == reference_design()), None)
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


def _component_names(actions: pd.DataFrame) -> dict[str, str]:
    """``energy_<x>_pj`` column → component name as written in actions.csv (``sram.weights``)."""
    return {energy_column(c): c for c in sorted({str(c) for c in actions["component"]})}


def _source_summary(source: Mapping[str, Any]) -> str:
    keys = ("kind", "shape", "gemm", "layers", "tokens", "seed", "dtype", "model")
    parts = [f"{k}={source[k]}" for k in keys if source.get(k) is not None]
    return ", ".join(parts) if parts else "unknown"


# --------------------------------------------------------------------------------------------
# report.md
# --------------------------------------------------------------------------------------------


def render_report(
    layers: pd.DataFrame,
    actions: pd.DataFrame,
    summary: Mapping[str, Any],
    spike_stats: pd.DataFrame | None = None,
    *,
    figures: bool = True,
) -> str:
    """The text of ``report.md`` for one run.

    Parameters
    ----------
    layers:
        ``layers.csv`` of the run (one row per layer and design).
    actions:
        ``actions.csv`` of the run (priced action counts with their sources).
    summary:
        ``summary.json`` of the run (trace, hardware, designs, versions).
    spike_stats:
        ``spike_stats.csv`` of the run (histogram of |q| per layer), if it has one.
    figures:
        Whether ``figures/`` is drawn with the report (else the report says how to draw it).
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
        ("trace", f"`{trace.get('name', '?')}` ({trace.get('path') or trace.get('kind', '?')})"),
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
        "`summary.json`"
        + ("; |q| histogram: `spike_stats.csv`" if spike_stats is not None else "")
        + f"; figures (PNG and PDF): `{FIGURES_DIR}/`.\n"
    )

    notes = summary.get("notes") or []
    if notes:
        out.append("\n## Configuration notes\n\n")
        out.append("Valid values that could not take effect in this run:\n\n")
        out.extend(f"- {note}\n" for note in notes)
    out.append(_pricing_section(summary.get("pricing")))

    # ---- totals
    out.append("\n## Totals per design\n\n")
    totals = design_totals(layers, clock_hz if clock_hz > 0 else 1.0, tokens)
    headers, rows, align = totals_rows(totals)
    out.append(markdown_table(headers, rows, align))
    out.append(
        f"\nSeconds = cycles / clock ({fmt_number(clock_hz / 1e6)} MHz), layers one after "
        f"another; energy per token = total energy / {fmt_int(tokens)} tokens.\n"
    )
    pricing = summary.get("pricing") or {}
    out.append(_accounting_section(totals, pricing.get("paper_convention")))

    out.append(_op_class_section(layers))
    out.append(_phase_section(layers, clock_hz, source, tokens))

    # ---- per layer
    out.append("\n## Per layer\n\n")
    per_layer = collapse_attention(layers, tokens)
    layer_rows = []
    for r in per_layer.to_dict("records"):
        activations = int(r["activations"])
        per_act = float(r["spikes"]) / activations if activations else float("nan")
        divide = int(r["per_token_tokens"])
        per_token = float(r["energy_pj"]) / divide if divide else float("nan")
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
                fmt_number(per_token / _PJ_PER_NJ),
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
                "energy per token (nJ)",
                "salient ratio",
                "spikes per activation",
            ],
            layer_rows,
            "llrrrrrrrrrr",
        )
    )
    collapsed = len(per_layer) < len(layers)
    out.append(
        "\nStall columns add up to total − compute cycles; energy per token = energy / the "
        "layer's tokens; spikes per activation = spikes / (tokens · k)."
        + (
            " Attention layers are summed per block and matmul (`….attn.score.*`, "
            "`….attn.value.*`: their energy per token is over the run's tokens, utilization "
            "cycle-weighted); `layers.csv` has each one."
            if collapsed else ""
        )
        + "\n"
    )

    # ---- comparison against SpikeQuant, per layer
    comparison = compare_designs(per_layer)
    others = [d for d in dict.fromkeys(layers["design"]) if d != reference_design()]
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

    # ---- |q| statistics
    if spike_stats is not None and len(spike_stats):
        out.append("\n## Activation magnitudes |q| (SpikeQuant quantization)\n\n")
        out.append(_spike_stats_table(spike_stats, attention_groups(layers)))
        out.append(
            "\nFrom `spike_stats.csv` (per layer, how many activations have each |q|); under "
            "count coding a value emits |q| spikes.\n"
        )

    # ---- figures
    if figures:
        out.append(_figures_section(run_figure_specs(layers)))
    else:
        out.append(
            "\n## Figures\n\nNot drawn (`--no-figures`): `spikesim report RUN_DIR` draws them "
            "from the tables.\n"
        )

    # ---- energy by component
    out.append("\n## Energy by component\n\n")
    names = _component_names(actions)
    comp_rows = []
    for design in designs:
        part = layers[layers["design"] == design]
        total = float(part["energy_pj"].sum())
        for col in energy_component_columns(layers.columns):
            energy = float(part[col].sum())
            label = names.get(col) or col.removeprefix("energy_").removesuffix("_pj")
            comp_rows.append(
                [design, label, fmt_number(energy / _PJ_PER_UJ), fmt_percent(energy, total)]
            )
    out.append(markdown_table(["design", "component", "energy (µJ)", "share"], comp_rows, "llrr"))

    # ---- provenance
    out.append(_provenance_section(actions))
    return "".join(out)


def _pricing_section(pricing: Any) -> str:
    """"Pricing assumptions": per design the widths its arithmetic was counted and priced at
    (``summary.json`` ``pricing``, :func:`spikesim.report.pricing.pricing_assumptions`)."""
    out = ["\n## Pricing assumptions\n\n"]
    if not isinstance(pricing, Mapping) or not pricing.get("designs"):
        out.append(
            "Not recorded: this run's `summary.json` has no `pricing` object (written by an "
            "older spikesim). Simulate again to list them.\n"
        )
        return "".join(out)
    out.append(
        markdown_table(
            [
                "design",
                "kind",
                "accumulator bits",
                "compare bits",
                "spike add priced as",
                "multiplier bits",
                "adder bits",
                "energy table",
            ],
            pricing_rows(pricing),
            "llrrlrrl",
        )
    )
    guard = pricing.get("spike_add_guard_bits")
    out.append(
        f"\n`energy.spike_add: {pricing.get('spike_add')}`: a spike's membrane add "
        "(`if_array.acc`) is priced as an `int_add` at the accumulator width (`full_width`) "
        f"or at `quant.weight_bits` + {guard} guard bits (`operand_width`: the add of a "
        "sign-extended weight only ripples a carry or borrow above the operand; it also prices "
        "the TTFS slope adds and bit-serial merges counted under `if_array.acc` narrow). "
        "Widths are as counted in `actions.csv` (a MAC multiply at its wider operand, its add "
        "at the accumulator); every arithmetic action of each array, as priced:\n\n"
    )
    rows = []
    for name, info in pricing["designs"].items():
        for a in info.get("array_actions") or []:
            rows.append(
                [
                    str(name),
                    f"{a.get('component')}.{a.get('action')}",
                    _text(a.get("counted_bits")),
                    _text(a.get("priced_bits")),
                    fmt_number(float(a.get("energy_per_action_pj") or 0.0), 6),
                    " ".join(
                        t for t in (_text(a.get("energy_table")), _text(a.get("energy_entry"))) if t
                    )
                    or "-",
                    _text(a.get("energy_scaling")) or "as is",
                ]
            )
    out.append(
        markdown_table(
            [
                "design",
                "action",
                "counted bits",
                "priced bits",
                "pJ per action",
                "table row",
                "derivation",
            ],
            rows,
            "llrrrll",
        )
    )
    return "".join(out)


def _figures_section(specs: Sequence[FigureSpec]) -> str:
    out = ["\n## Figures\n\n"]
    for n, spec in enumerate(specs, start=1):
        out.append(
            f"**Figure {n}.** {spec.caption} "
            f"([PDF]({FIGURES_DIR}/{spec.name}.pdf))\n\n"
            f"![Figure {n}: {spec.name}]({FIGURES_DIR}/{spec.name}.png)\n\n"
        )
    return "".join(out)


_KEY_LIMIT = 2**62
"""Bound of the (label, |q|) keys of :func:`_spike_stats_table` (int64); past it |q| is keyed
by its rank among the values present."""


BINCOUNT_BINS = 2**25
"""Largest key range :func:`key_sums` counts in bins instead of sorting (256 MB of float64)."""


def key_sums(
    key: NDArray[np.int64], columns: Sequence[NDArray[np.int64]]
) -> tuple[NDArray[np.int64], list[NDArray[np.int64]]]:
    """The distinct ``key`` values ascending, and each column's int64 sum per key: what
    ``DataFrame(columns).groupby(key, sort=True).sum()`` gives.

    Keys in [0, :data:`BINCOUNT_BINS`), and fewer possible keys than 4 per row (+ 65,536),
    with non-negative columns small enough that every sum is exact in float64 (max · rows <
    2^53) are summed by ``np.bincount`` (no sort; a whole llama2-7b prefill's 30 M histogram
    rows have ~10 M possible keys; a small table with a wide key range sorts its few rows
    instead of filling mostly empty bins); otherwise by a stable
    sort and ``np.add.reduceat`` (2.3 s there against pandas' 5-7 s; no sort when the keys
    already ascend)."""
    if key.size == 0:
        return key.astype(np.int64), [np.zeros(0, np.int64) for _ in columns]
    low, high = int(key.min()), int(key.max())
    exact = (2**53 - 1) // key.size
    if low >= 0 and high < min(BINCOUNT_BINS, 4 * key.size + 65_536) and all(
        c.size == 0 or (int(c.min()) >= 0 and int(c.max()) <= exact) for c in columns
    ):
        present = np.flatnonzero(np.bincount(key, minlength=high + 1))
        return present.astype(np.int64), [
            np.bincount(key, weights=c, minlength=high + 1)[present].astype(np.int64)
            for c in columns
        ]
    order = None if bool(np.all(key[1:] >= key[:-1])) else np.argsort(key, kind="stable")
    ordered = key if order is None else key[order]
    starts = np.flatnonzero(np.concatenate(([True], ordered[1:] != ordered[:-1])))
    sums = [np.add.reduceat(c if order is None else c[order], starts) for c in columns]
    return ordered[starts], [np.asarray(s, np.int64) for s in sums]


def _spike_stats_table(spike_stats: pd.DataFrame, groups: Mapping[str, str]) -> str:
    """One row per layer of ``spike_stats.csv``; the attention layers of ``groups`` summed per
    group (their histograms added)."""
    rows = []
    # labels by integer code, in order of first appearance (a whole-model run has tens of
    # millions of histogram rows and tens of thousands of layers: mapping and grouping the
    # names row by row took 72 s of a llama2-7b prefill's report)
    layer_codes, layer_names = pd.factorize(spike_stats["layer"])
    label_of_layer = [groups.get(str(n), str(n)) for n in layer_names]
    label_codes, labels = pd.factorize(pd.Series(label_of_layer, dtype=object))
    q_rows = spike_stats["abs_q"].to_numpy(np.int64)
    span = int(q_rows.max(initial=0)) + 1
    q_values = None
    if span * max(1, len(labels)) >= _KEY_LIMIT:  # |q| up to 2^53 (a hand-made table): rank
        q_rows, q_values = pd.factorize(q_rows, sort=True)
        span = len(q_values)
    # one int64 key per (label, |q|): sorted, it orders by label, then by |q|
    key = np.asarray(label_codes, np.int64)[layer_codes] * span + q_rows
    keys, (normal_sums, sal_sums) = key_sums(
        key, [spike_stats[c].to_numpy(np.int64) for c in ("normal_count", "salient_count")]
    )
    starts = np.searchsorted(keys // span, np.arange(len(labels) + 1))
    q_of_key = keys % span
    abs_q = (q_of_key if q_values is None else np.asarray(q_values)[q_of_key]).astype(float)
    normal_all = normal_sums.astype(float)
    sal_all = sal_sums.astype(float)
    for code, layer in enumerate(labels):
        cut = slice(starts[code], starts[code + 1])
        q, normal, sal = abs_q[cut], normal_all[cut], sal_all[cut]
        count = normal + sal
        n = float(count.sum())
        nonzero = q[count > 0]
        rows.append(
            [
                str(layer),
                fmt_int(n),
                fmt_number(float((q * count).sum()) / n if n else float("nan"), 3),
                fmt_percent(float(count[q == 0].sum()), n),
                fmt_percent(float(sal.sum()), n),
                fmt_int(nonzero.max() if nonzero.size else 0),
            ]
        )
    return markdown_table(
        ["layer", "activations", "mean |q|", "|q| = 0", "salient", "max |q|"], rows, "lrrrrr"
    )


def _has_provenance_columns(actions: pd.DataFrame) -> bool:
    """Whether ``actions`` has the columns of :data:`~spikesim.schema.PROVENANCE_COLUMNS`.

    Run directories written before they existed have only the one-sentence ``source``.
    """
    return all(c in actions.columns for c in PROVENANCE_COLUMNS)


def _text(value: Any) -> str:
    """A cell as one line of text; an empty CSV cell (read back as NaN) is ``""``."""
    return "" if pd.isna(value) else " ".join(str(value).split())


def _texts(column: pd.Series) -> np.ndarray:
    """:func:`_text` of every cell, computed once per distinct value (an actions table has
    hundreds of thousands of rows and a few hundred distinct sources)."""
    codes, uniques = pd.factorize(column, use_na_sentinel=False)
    return np.array([_text(u) for u in uniques], dtype=object)[codes]


def provenance_rows(actions: pd.DataFrame) -> tuple[list[list[str]], list[str]]:
    """Rows of the provenance table (one per distinct price) and the numbered citation list.

    Every distinct (component, action, bits, energy per action, provenance) of ``actions`` gets
    one row: the table entry it came from (``energy_table`` and ``energy_entry``), the scaling
    applied (``energy_scaling``; ``as is`` when empty), the numbers of its citations
    (``energy_citation``), the designs that used it and the energy it accounts for (µJ, all layers
    and designs).

    An ``actions`` table without the provenance columns (a run directory written by an older
    spikesim) gets one row per distinct ``source`` instead, shown whole as the derivation, with
    no table entry and no citation numbers.
    """
    structured = _has_provenance_columns(actions)
    detail = list(PROVENANCE_COLUMNS) if structured else ["source"]
    keys = ["component", "action", "bits", "energy_per_action_pj", *detail]
    frame = actions.assign(**{c: _texts(actions[c]) for c in detail})
    grouped = frame.groupby(keys, sort=False, dropna=False)
    used = grouped["design"].agg(lambda d: ", ".join(dict.fromkeys(str(x) for x in d)))
    energy = grouped["energy_pj"].sum()
    prov = used.reset_index().rename(columns={"design": "designs"})
    prov["energy_pj"] = energy.to_numpy()
    prov = prov.sort_values(keys[:4], kind="stable")
    citations: list[str] = []
    rows = []
    for r in prov.to_dict("records"):
        if structured:
            row = " ".join(t for t in (r["energy_table"], r["energy_entry"]) if t)
            how = r["energy_scaling"] or "as is"
            cites = [c.strip() for c in r["energy_citation"].split(CITATION_SEPARATOR)]
        else:
            row, how, cites = "", r["source"], []
        refs = []
        for cite in filter(None, cites):
            if cite not in citations:
                citations.append(cite)
            refs.append(f"[{citations.index(cite) + 1}]")
        rows.append(
            [
                str(r["component"]),
                str(r["action"]),
                fmt_int(r["bits"]),
                fmt_number(float(r["energy_per_action_pj"]), 6),
                row or "-",
                how,
                " ".join(refs) or "-",
                str(r["designs"]),
                fmt_number(float(r["energy_pj"]) / _PJ_PER_UJ),
            ]
        )
    return rows, citations


def _provenance_section(actions: pd.DataFrame) -> str:
    rows, citations = provenance_rows(actions)
    out = ["\n## Energy provenance\n\n"]
    out.append(
        "Every distinct price used: energy = count × energy per action (the counts are in "
        "`actions.csv`). *Table row* is the energy-table entry, *derivation* the bit-width or "
        "capacity scaling applied to it (an assumption of the table, stated here), *refs* the "
        "citations below, *energy* what the price accounts for over all layers and designs.\n\n"
    )
    if not _has_provenance_columns(actions):
        out.append(
            "This run's `actions.csv` predates the provenance columns ("
            + ", ".join(f"`{c}`" for c in PROVENANCE_COLUMNS)
            + "): each derivation is its `source` text as written. Simulate again for table "
            "entries and numbered references.\n\n"
        )
    out.append(
        markdown_table(
            [
                "component",
                "action",
                "bits",
                "pJ per action",
                "table row",
                "derivation",
                "refs",
                "designs",
                "energy (µJ)",
            ],
            rows,
            "llrrllllr",
        )
    )
    if citations:
        out.append("\nReferences:\n\n")
        out.extend(f"{n}. {cite}\n" for n, cite in enumerate(citations, start=1))
    return "".join(out)


# --------------------------------------------------------------------------------------------
# Several run directories
# --------------------------------------------------------------------------------------------


def run_labels(names: Sequence[str], dirs: Sequence[str]) -> list[str]:
    """A short unique label per run: its hardware name, else its directory name, else both
    with the run's position (``#2``)."""
    if len(set(names)) == len(names) and all(names):
        return list(names)
    bases = [str(d).rstrip("/").rsplit("/", 1)[-1] or str(d) for d in dirs]
    if len(set(bases)) == len(bases):
        return bases
    return [f"{b} #{i + 1}" for i, b in enumerate(bases)]


def _generated_tokens(summary: Mapping[str, Any]) -> int:
    """Tokens a run's decode steps generated (``trace.source.phases``), 0 if none or unknown."""
    node: Any = summary
    for key in ("trace", "source", "phases", "generated_tokens"):
        node = node.get(key) if isinstance(node, Mapping) else None
    return summary_count(node)


def render_comparison(
    runs: Sequence[tuple[str, str, pd.DataFrame, Mapping[str, Any]]],
) -> str:
    """The text of the combined report of several runs.

    ``runs`` holds, per run, ``(label, run directory as given, layers.csv, summary.json)``.
    Totals are per run and design; ratios against SpikeQuant are within the same run, and
    ``÷ first run`` compares each design with the same design of the first run.
    """
    out = ["# spikesim comparison of runs\n\n", "## Runs\n\n"]
    facts = []
    for label, where, layers, summary in runs:
        trace = summary.get("trace", {})
        hardware = summary.get("hardware", {})
        overrides = summary.get("overrides") or {}
        facts.append(
            [
                label,
                f"`{where}`",
                f"`{hardware.get('name', '?')}`",
                ", ".join(f"`{k}={v}`" for k, v in overrides.items()) or "none",
                f"`{trace.get('name', '?')}`",
                fmt_int(int(trace.get("tokens") or 0)),
                str(len(dict.fromkeys(layers["layer"]))),
                f"{fmt_number(float(hardware.get('clock_hz') or 0) / 1e6)} MHz",
                f"`{hardware.get('energy_table', '?')}`",
            ]
        )
    out.append(
        markdown_table(
            ["run", "directory", "hardware", "overrides", "trace", "tokens", "layers", "clock",
             "energy table"],
            facts,
            "lllllrrrl",
        )
    )
    traces = {str(s.get("trace", {}).get("manifest_sha256")) for _, _, _, s in runs}
    if len(traces) > 1:
        out.append(
            "\n**Note:** the runs simulated different traces; compare energy per token and "
            "ratios rather than totals.\n"
        )

    out.append("\n## Totals per run and design\n\n")
    first: dict[str, tuple[float, float]] = {}
    rows = []
    for index, (label, _, layers, summary) in enumerate(runs):
        clock_hz = float(summary.get("hardware", {}).get("clock_hz") or 0.0)
        tokens = int(summary.get("trace", {}).get("tokens") or 0)
        totals = design_totals(layers, clock_hz if clock_hz > 0 else 1.0, tokens)
        records = totals.to_dict("records")
        ref = next((r for r in records if r["design"] == reference_design()), None)
        for r in records:
            design = str(r["design"])
            seconds = float(r["seconds"])
            energy = float(r["energy_pj"])
            if index == 0:
                first[design] = (energy, seconds)
            base = first.get(design)
            rows.append(
                [
                    label,
                    design,
                    fmt_int(r["total_cycles"]),
                    fmt_number(seconds * 1e3),
                    fmt_number(energy / _PJ_PER_UJ),
                    fmt_number(float(r["energy_per_token_pj"]) / _PJ_PER_NJ),
                    fmt_number(_ratio(energy, ref["energy_pj"]), 3) if ref else "",
                    fmt_number(_ratio(r["total_cycles"], ref["total_cycles"]), 3) if ref else "",
                    fmt_number(_ratio(energy, base[0]), 3) if base else "",
                    fmt_number(_ratio(seconds, base[1]), 3) if base else "",
                ]
            )
    out.append(
        markdown_table(
            [
                "run",
                "design",
                "cycles",
                "latency (ms)",
                "energy (µJ)",
                "energy per token (nJ)",
                "energy ÷ spikequant",
                "cycles ÷ spikequant",
                "energy ÷ first run",
                "latency ÷ first run",
            ],
            rows,
            "llrrrrrrrr",
        )
    )
    out.append(
        f"\nLatency = cycles / the run's clock; ÷ spikequant: within the same run; ÷ first run: "
        f"the same design in run `{runs[0][0]}`.\n"
    )
    decode_runs = sum(1 for _, _, _, summary in runs if _generated_tokens(summary))
    out.append(_figures_section(compare_specs(decode=decode_runs >= 2)))
    out.append(
        "Each run's own report (per layer, energy by component, provenance) is its "
        "`report.md`.\n"
    )
    return "".join(out)
