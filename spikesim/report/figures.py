"""Figures for papers, each a pure function of a run's tables.

Every figure function takes DataFrames as read back from a run directory (``layers.csv``,
``actions.csv``, ``spike_stats.csv``) and returns a new :class:`matplotlib.figure.Figure`. No
pyplot state is touched and no ``rcParams`` are changed: style is applied per figure inside
:func:`matplotlib.rc_context`, so importing or calling this module leaves matplotlib as it was.
Saving the figures is the job of :mod:`spikesim.report.rundir`.

Colours are fixed per design (each registered design's ``color``), per energy component
(:data:`COMPONENT_COLORS`) and per cycle category (:data:`CYCLE_COLORS`); a stall cause has the
colour of the component causing it (encoder stall = encoder, bank stall = SRAM, DRAM stall = DRAM).
Names not in the tables get a colour from a fallback palette chosen by a stable hash of the name,
so a colour never depends on which other designs a run holds.

Figures (``name``: content):

- ``energy_by_component``: energy per layer stacked by component (compute units, encoders,
  each SRAM, DRAM, leakage), designs side by side, plus the totals.
- ``ratios_vs_spikequant``: energy and cycles of each baseline ÷ SpikeQuant, per layer and total.
- ``cycle_breakdown``: compute and stall cycles by cause per layer and design; utilisation.
- ``spike_statistics``: spikes per activation, salient ratio per layer, histogram of |q|.
- ``compare_totals`` / ``compare_energy`` (several run directories): energy per token,
  latency, ratios against SpikeQuant, and energy by component, per run and design;
  ``compare_decode`` (runs with decode steps): energy per generated token and time per step
  against batch size or context length.

Matplotlib is imported lazily (only when a figure is drawn), so importing the report package
stays cheap.
"""

from __future__ import annotations

import re
import zlib
from collections.abc import Iterator, Mapping, Sequence
from contextlib import contextmanager
from dataclasses import dataclass
from typing import TYPE_CHECKING, Any, Literal

import numpy as np
import pandas as pd

from spikesim.dataflows import design_color as registered_color
from spikesim.dataflows import reference_design
from spikesim.sim.compare import compare_designs

if TYPE_CHECKING:
    from matplotlib.axes import Axes
    from matplotlib.figure import Figure

__all__ = [
    "COMPONENT_COLORS",
    "CYCLE_COLORS",
    "LEAKAGE",
    "MAX_LAYER_GROUPS",
    "RunTables",
    "compare_decode",
    "compare_energy",
    "compare_figures",
    "compare_specs",
    "compare_totals",
    "component_color",
    "cycle_breakdown",
    "design_color",
    "energy_by_component",
    "energy_by_component_table",
    "has_decode_series",
    "ratios_vs_spikequant",
    "run_figure_specs",
    "run_figures",
    "spike_statistics",
]

# --------------------------------------------------------------------------------------------
# Palettes (fixed mappings; Okabe-Ito for designs, hue families for components)
# --------------------------------------------------------------------------------------------

LEAKAGE = "leakage"
"""Pseudo-component of leakage energy (the ``leak`` rows of ``actions.csv``)."""

COMPONENT_COLORS: dict[str, str] = {
    # compute (warm)
    "if_array": "#C0392B",
    "mac_array": "#E67E22",
    "threshold": "#F1C40F",
    "dequant": "#E8A0BF",
    "requant": "#A0522D",
    "vector_unit": "#16A085",
    # encoders (purple)
    "encoder": "#8E44AD",
    # on-chip memory (blues)
    "sram.weights": "#1F4E99",
    "sram.activations": "#5DADE2",
    "sram.salient": "#17A2B8",
    "sram.output": "#AED6F1",
    # off-chip and static
    "dram": "#7F7F7F",
    LEAKAGE: "#2B2B2B",
}
"""Colour of each energy component (``actions.csv`` component names) in every figure."""

COMPONENT_LABELS: dict[str, str] = {
    "if_array": "IF array",
    "mac_array": "MAC array",
    "threshold": "threshold mult.",
    "dequant": "dequantization",
    "requant": "requantization",
    "vector_unit": "FP vector unit",
    "encoder": "spike encoders",
    "dram": "DRAM",
    LEAKAGE: "leakage",
}
"""Legend labels of components (``sram.<bank>`` is shown as ``SRAM <bank>``)."""

CYCLE_COLORS: dict[str, str] = {
    "compute_cycles": "#59A14F",
    "stall_encoder_cycles": COMPONENT_COLORS["encoder"],
    "stall_bank_cycles": COMPONENT_COLORS["sram.weights"],
    "stall_dram_cycles": COMPONENT_COLORS["dram"],
}
"""Colour of compute cycles and of each stall cause."""

CYCLE_LABELS: dict[str, str] = {
    "compute_cycles": "compute",
    "stall_encoder_cycles": "stall: encoder",
    "stall_bank_cycles": "stall: SRAM bank conflict",
    "stall_dram_cycles": "stall: DRAM",
}

_FALLBACK = ("#56B4E9", "#E69F00", "#F0E442", "#000000", "#9B59B6", "#1ABC9C", "#34495E")
_SRAM_FALLBACK = ("#3498DB", "#2E86C1", "#85C1E9", "#21618C")
_COMPONENT_ORDER = (
    "if_array",
    "mac_array",
    "threshold",
    "dequant",
    "requant",
    "vector_unit",
    "encoder",
    "sram.weights",
    "sram.activations",
    "sram.salient",
    "sram.output",
    "dram",
    LEAKAGE,
)

MAX_LAYER_GROUPS = 14
"""Above this many layers, per-layer figures sum layers of the same operator (``op``)."""

_PJ_PER_UJ = 1e6
_PJ_PER_NJ = 1e3
_STYLE: dict[str, Any] = {
    "font.size": 8,
    "axes.titlesize": 8,
    "axes.labelsize": 8,
    "xtick.labelsize": 7,
    "ytick.labelsize": 7,
    "legend.fontsize": 7,
    "legend.frameon": False,
    "axes.spines.top": False,
    "axes.spines.right": False,
    "axes.axisbelow": True,
    "axes.grid": True,
    "axes.grid.axis": "y",
    "grid.linewidth": 0.4,
    "grid.alpha": 0.5,
    "hatch.linewidth": 0.5,
}
_WIDTH_IN = 7.16  # a two-column figure in IEEE/ACM templates


def _stable_pick(name: str, palette: Sequence[str]) -> str:
    return palette[zlib.crc32(name.encode("utf-8")) % len(palette)]


def design_color(design: str) -> str:
    """The colour of ``design``: the registered design's colour, a stable fallback for a name
    the registry does not know (e.g. an older run directory)."""
    return registered_color(design) or _stable_pick(design, _FALLBACK)


def component_color(component: str) -> str:
    """The colour of an energy component (``actions.csv`` name, or :data:`LEAKAGE`)."""
    if component in COMPONENT_COLORS:
        return COMPONENT_COLORS[component]
    if component.startswith("sram."):
        return _stable_pick(component, _SRAM_FALLBACK)
    return _stable_pick(component, _FALLBACK)


def component_label(component: str) -> str:
    if component in COMPONENT_LABELS:
        return COMPONENT_LABELS[component]
    if component.startswith("sram."):
        return f"SRAM {component.removeprefix('sram.')}"
    return component


def _component_sort_key(component: str) -> tuple[int, str]:
    if component in _COMPONENT_ORDER:
        return _COMPONENT_ORDER.index(component), component
    rank = _COMPONENT_ORDER.index("sram.output") if component.startswith("sram.") else 10
    return rank, component


# --------------------------------------------------------------------------------------------
# Table preparation (pure pandas)
# --------------------------------------------------------------------------------------------


@dataclass(frozen=True)
class RunTables:
    """The tables of one run directory that figures read (as read back from its files)."""

    layers: pd.DataFrame
    actions: pd.DataFrame
    spike_stats: pd.DataFrame | None = None
    label: str = ""
    clock_hz: float = 0.0
    tokens: int = 0
    phases: Mapping[str, Any] | None = None
    """A model workload's phase plan (``summary.json`` ``trace.source.phases``), else None."""


def _ordered(values: pd.Series) -> list[str]:
    return [str(v) for v in dict.fromkeys(values)]


def short_layer_names(names: Sequence[str]) -> dict[str, str]:
    """Short, unique labels for layer names (``layers.0.mlp.up_proj`` → ``up_proj``, or
    ``0.up_proj`` when several blocks are present); names that would collide stay whole."""
    last = {n: n.rsplit(".", 1)[-1] for n in names}
    if len(set(last.values())) == len(names):
        return last
    out: dict[str, str] = {}
    for n in names:
        block = re.search(r"(?:^|\.)(\d+)(?:\.|$)", n)
        out[n] = f"{block.group(1)}.{last[n]}" if block else n
    if len(set(out.values())) != len(names):
        return {n: n for n in names}
    return out


def _layer_groups(layers: pd.DataFrame) -> tuple[dict[str, str], list[str], str]:
    """Layer → group label, the group order and the x-axis label of per-layer figures."""
    names = _ordered(layers["layer"])
    if len(names) <= MAX_LAYER_GROUPS or "op" not in layers.columns:
        short = short_layer_names(names)
        return short, [short[n] for n in names], "layer"
    op_of = dict(zip(layers["layer"].astype(str), layers["op"].astype(str), strict=False))
    groups = {n: op_of[n] for n in names}
    return groups, list(dict.fromkeys(groups.values())), f"operator (sum over {len(names)} layers)"


def _per_group(layers: pd.DataFrame, columns: Sequence[str]) -> tuple[pd.DataFrame, list[str], str]:
    """``columns`` of ``layers`` summed per (layer group, design); utilisation cycle-weighted."""
    mapping, order, xlabel = _layer_groups(layers)
    frame = layers.copy()
    frame["group"] = frame["layer"].astype(str).map(mapping)
    sums = [c for c in columns if c != "utilization"]
    if "utilization" in columns:
        frame["_busy"] = frame["utilization"] * frame["total_cycles"]
        sums = [*sums, "_busy", "total_cycles"] if "total_cycles" not in sums else [*sums, "_busy"]
    out = frame.groupby(["group", "design"], sort=False)[list(dict.fromkeys(sums))].sum()
    out = out.reset_index()
    if "utilization" in columns:
        cycles = out["total_cycles"].replace(0, np.nan)
        out["utilization"] = (out["_busy"] / cycles).fillna(0.0)
        out = out.drop(columns="_busy")
    return out, order, xlabel


def _cells(frame: pd.DataFrame, keys: Sequence[str], columns: Sequence[str]) -> dict[
    tuple[str, ...], dict[str, float]
]:
    """``{(key values as str): {column: float}}`` of ``frame`` (later duplicates win)."""
    out: dict[tuple[str, ...], dict[str, float]] = {}
    for rec in frame.to_dict("records"):
        out[tuple(str(rec[k]) for k in keys)] = {c: float(rec[c]) for c in columns}
    return out


def energy_by_component_table(layers: pd.DataFrame, actions: pd.DataFrame) -> pd.DataFrame:
    """Energy (pJ) per (group, design, component) from ``actions.csv``; leakage separate.

    Rows of ``actions`` with ``action == "leak"`` are summed into the :data:`LEAKAGE`
    pseudo-component; every other row counts for its own component. The ``group`` column is the
    per-layer label of the figures (see :data:`MAX_LAYER_GROUPS`).
    """
    mapping, _, _ = _layer_groups(layers)
    frame = actions[["layer", "design", "component", "action", "energy_pj"]].copy()
    frame["group"] = frame["layer"].astype(str).map(mapping)
    frame["component"] = frame["component"].astype(str).where(frame["action"] != "leak", LEAKAGE)
    out = frame.groupby(["group", "design", "component"], sort=False)["energy_pj"].sum()
    return out.reset_index()


# --------------------------------------------------------------------------------------------
# Drawing helpers
# --------------------------------------------------------------------------------------------


@contextmanager
def _style() -> Iterator[None]:
    import matplotlib

    with matplotlib.rc_context(_STYLE):  # type: ignore[arg-type]
        yield


def _new_figure(width_in: float, height_in: float) -> Figure:
    from matplotlib.figure import Figure

    return Figure(figsize=(width_in, height_in), layout="constrained")


def _bar_positions(n_groups: int, n_bars: int) -> tuple[np.ndarray, float]:
    """x of every bar ([group, bar]) and the bar width; groups are one unit apart."""
    width = 0.8 / max(1, n_bars)
    offsets = (np.arange(n_bars) - (n_bars - 1) / 2.0) * width
    return np.arange(n_groups)[:, None] + offsets[None, :], width


def _label_bars(
    ax: Axes, x: np.ndarray, designs: Sequence[str], groups: Sequence[str], xlabel: str
) -> None:
    """Design names under each bar (rotated), group names centred below them, then ``xlabel``."""
    ax.set_xticks(x.ravel(), [d for _ in groups for d in designs], rotation=90, fontsize=6)
    ax.tick_params(axis="x", length=0, pad=2)
    sec = ax.secondary_xaxis("bottom")
    sec.set_xticks(np.arange(len(groups)), list(groups))
    sec.tick_params(axis="x", length=0, pad=6 + 3.6 * max(len(d) for d in designs))
    sec.spines["bottom"].set_visible(False)
    sec.set_xlabel(xlabel)


def _legend_handles(items: Sequence[tuple[str, str]]) -> list[Any]:
    from matplotlib.patches import Patch

    return [Patch(facecolor=color, edgecolor="none", label=label) for label, color in items]


def _note(ax: Axes, text: str) -> None:
    ax.text(0.5, 0.5, text, ha="center", va="center", transform=ax.transAxes, fontsize=7)
    ax.set_xticks([])
    ax.set_yticks([])
    ax.grid(False)


def _ratio_axis(ax: Axes, values: np.ndarray) -> None:
    """A log y axis for ratios with plain-number tick labels and a line at 1."""
    from matplotlib.ticker import FuncFormatter, LogLocator, NullFormatter

    finite = values[np.isfinite(values) & (values > 0)]
    lo = min(1.0, float(finite.min())) if finite.size else 0.5
    hi = max(1.0, float(finite.max())) if finite.size else 2.0
    ax.set_yscale("log")
    ax.set_ylim(lo / 1.6, hi * 1.6)
    ax.yaxis.set_major_locator(LogLocator(base=10, subs=(1.0, 2.0, 5.0)))
    ax.yaxis.set_major_formatter(FuncFormatter(lambda v, _pos: f"{v:g}"))
    ax.yaxis.set_minor_formatter(NullFormatter())
    ax.axhline(1.0, color=design_color(reference_design()), linewidth=1.0, linestyle="--")


# --------------------------------------------------------------------------------------------
# (a) energy per layer stacked by component
# --------------------------------------------------------------------------------------------


def energy_by_component(layers: pd.DataFrame, actions: pd.DataFrame) -> Figure:
    """Energy per layer stacked by component, designs side by side; totals on the right.

    Parameters
    ----------
    layers, actions:
        ``layers.csv`` and ``actions.csv`` of one run. Energies come from ``actions``
        (``energy_pj``, in pJ; leakage rows form their own stack segment); the layer order and
        grouping from ``layers``.
    """
    table = energy_by_component_table(layers, actions)
    _, groups, xlabel = _layer_groups(layers)
    designs = _ordered(layers["design"])
    totals = table.groupby("component")["energy_pj"].sum()
    components = sorted((c for c in totals.index if totals[c] > 0), key=_component_sort_key)
    cube = (
        table.pivot_table(
            index=["group", "design"], columns="component", values="energy_pj", aggfunc="sum"
        )
        .reindex(columns=components)
        .fillna(0.0)
        .reset_index()
    )
    cells = _cells(cube, ["group", "design"], components)
    with _style():
        fig = _new_figure(_WIDTH_IN, 3.4)
        grid = fig.add_gridspec(1, 2, width_ratios=[max(4, len(groups)), 1.3])
        ax = fig.add_subplot(grid[0, 0])
        ax_tot = fig.add_subplot(grid[0, 1])
        x, width = _bar_positions(len(groups), len(designs))
        for gi, group in enumerate(groups):
            for di, design in enumerate(designs):
                row = cells.get((group, design), {})
                bottom = 0.0
                for comp in components:
                    value = row.get(comp, 0.0) / _PJ_PER_UJ
                    if value > 0:
                        ax.bar(x[gi, di], value, width * 0.92, bottom=bottom,
                               color=component_color(comp), linewidth=0)
                    bottom += value
        ax.set_ylabel("energy (µJ)")
        ax.set_xlim(-0.5, len(groups) - 0.5)
        _label_bars(ax, x, designs, groups, xlabel)
        per_design = _cells(
            table.groupby(["design", "component"])["energy_pj"].sum().reset_index(),
            ["design", "component"],
            ["energy_pj"],
        )
        xt = np.arange(len(designs))
        for di, design in enumerate(designs):
            bottom = 0.0
            for comp in components:
                value = per_design.get((design, comp), {}).get("energy_pj", 0.0) / _PJ_PER_UJ
                if value > 0:
                    ax_tot.bar(xt[di], value, 0.75, bottom=bottom, color=component_color(comp),
                               linewidth=0)
                bottom += value
        ax_tot.set_xticks(xt, designs, rotation=90, fontsize=6)
        ax_tot.tick_params(axis="x", length=0, pad=2)
        ax_tot.set_xlabel("all layers")
        ax_tot.set_ylabel("total energy (µJ)")
        fig.legend(
            handles=_legend_handles([(component_label(c), component_color(c)) for c in components]),
            loc="outside upper center",
            ncol=min(len(components), 6),
        )
    return fig


# --------------------------------------------------------------------------------------------
# (b) ratios against SpikeQuant
# --------------------------------------------------------------------------------------------


def ratios_vs_spikequant(layers: pd.DataFrame) -> Figure:
    """Energy and cycles of each baseline ÷ SpikeQuant per layer and in total (log scale).

    Above 1: SpikeQuant uses less. Needs SpikeQuant and at least one other design in ``layers``.
    """
    mapping, groups, xlabel = _layer_groups(layers)
    grouped = layers.assign(layer=layers["layer"].astype(str).map(mapping))
    cmp = compare_designs(
        grouped.groupby(["layer", "design"], sort=False)[["total_cycles", "energy_pj"]]
        .sum()
        .reset_index()
    )
    others = [d for d in _ordered(layers["design"]) if d != reference_design()]
    if not len(cmp) or not others:
        raise ValueError("ratios need SpikeQuant and at least one other design")
    cols = [*groups, "TOTAL"]
    with _style():
        fig = _new_figure(_WIDTH_IN, 3.9)
        axes = fig.subplots(2, 1, sharex=True)
        x, width = _bar_positions(len(cols), len(others))
        for ax, column, label in (
            (axes[0], "energy_ratio", "energy ÷ SpikeQuant (×)"),
            (axes[1], "cycles_ratio", "cycles ÷ SpikeQuant (×)"),
        ):
            table = cmp.pivot_table(index="layer", columns="design", values=column)
            table = table.reindex(index=cols, columns=others)
            for di, design in enumerate(others):
                values = table[design].to_numpy(dtype=float)
                ax.bar(x[:, di], values, width * 0.92, color=design_color(design), linewidth=0,
                       label=design)
                total = values[-1]
                if np.isfinite(total):
                    ax.annotate(f"{total:.2g}", (x[-1, di], total), xytext=(0, 2),
                                textcoords="offset points", ha="center", va="bottom", fontsize=5.5)
            _ratio_axis(ax, table.to_numpy(dtype=float))
            ax.set_ylabel(label)
            ax.axvline(len(groups) - 0.5, color="0.6", linewidth=0.6)
        axes[1].set_xticks(np.arange(len(cols)), cols)
        axes[1].set_xlabel(f"{xlabel} (TOTAL: all layers)")
        handles = _legend_handles([(d, design_color(d)) for d in others])
        from matplotlib.lines import Line2D

        handles.append(
            Line2D([], [], color=design_color(reference_design()), linestyle="--",
                   label="SpikeQuant (= 1)")
        )
        fig.legend(handles=handles, loc="outside upper center", ncol=len(handles))
    return fig


# --------------------------------------------------------------------------------------------
# (c) cycle breakdown and utilisation
# --------------------------------------------------------------------------------------------


def cycle_breakdown(layers: pd.DataFrame) -> Figure:
    """Cycles per layer and design split into compute and each stall cause; utilisation below.

    Utilisation is ``utilization`` of ``layers.csv`` (issued events or MACs over peak); when
    layers are summed per operator it is weighted by each layer's total cycles.
    """
    cats = list(CYCLE_COLORS)
    table, groups, xlabel = _per_group(layers, [*cats, "total_cycles", "utilization"])
    designs = _ordered(layers["design"])
    cells = _cells(table, ["group", "design"], [*cats, "utilization"])
    present = [c for c in cats if float(table[c].sum()) > 0]
    with _style():
        fig = _new_figure(_WIDTH_IN, 4.6)
        axes = fig.subplots(2, 1, height_ratios=[2.2, 1])
        ax, ax_u = axes
        x, width = _bar_positions(len(groups), len(designs))
        for gi, group in enumerate(groups):
            for di, design in enumerate(designs):
                if (group, design) not in cells:
                    continue
                row = cells[(group, design)]
                bottom = 0.0
                for cat in present:
                    value = row[cat] / 1e6
                    if value > 0:
                        ax.bar(x[gi, di], value, width * 0.92, bottom=bottom,
                               color=CYCLE_COLORS[cat], linewidth=0)
                    bottom += value
                ax_u.bar(x[gi, di], 100.0 * row["utilization"], width * 0.92,
                         color=design_color(design), linewidth=0)
        ax.set_ylabel("cycles (millions)")
        ax.set_xlim(-0.5, len(groups) - 0.5)
        _label_bars(ax, x, designs, groups, xlabel)
        ax_u.set_xlim(-0.5, len(groups) - 0.5)
        ax_u.set_ylim(0, 100)
        ax_u.set_ylabel("utilisation (%)")
        ax_u.set_xticks(np.arange(len(groups)), groups)
        ax_u.set_xlabel(xlabel)
        ax_u.legend(
            handles=_legend_handles([(d, design_color(d)) for d in designs]),
            loc="upper left", bbox_to_anchor=(1.0, 1.0), title="utilisation", title_fontsize=7,
        )
        ax.legend(
            handles=_legend_handles([(CYCLE_LABELS[c], CYCLE_COLORS[c]) for c in present]),
            loc="upper left", bbox_to_anchor=(1.0, 1.0), title="cycles", title_fontsize=7,
        )
    return fig


# --------------------------------------------------------------------------------------------
# (d) spike statistics
# --------------------------------------------------------------------------------------------


def spike_statistics(layers: pd.DataFrame, spike_stats: pd.DataFrame | None) -> Figure:
    """Spikes per activation and salient ratio per layer; histogram of |q| over all layers.

    Parameters
    ----------
    layers:
        ``layers.csv``: ``spikes`` / (``tokens`` · ``k``) gives spikes per activation (designs
        that emit spikes only); ``salient_ratio`` per design (SpikeQuant: MAD-salient values;
        Atom, SpikeLLM: the share of wider channels).
    spike_stats:
        ``spike_stats.csv`` (:data:`~spikesim.schema.SPIKE_STATS_COLUMNS`) of the SpikeQuant
        quantization, or
        ``None`` when the run directory has none (the histogram panel then says so).
    """
    table, groups, xlabel = _spike_table(layers)
    designs = _ordered(layers["design"])
    spiking = [d for d in designs if float(layers.loc[layers["design"] == d, "spikes"].sum()) > 0]
    salient = [
        d for d in designs if float(layers.loc[layers["design"] == d, "salient_ratio"].max()) > 0
    ]
    cells = _cells(table, ["group", "design"], ["spikes_per_activation", "salient_ratio"])
    with _style():
        fig = _new_figure(_WIDTH_IN, 2.8)
        grid = fig.add_gridspec(1, 3, width_ratios=[1, 1, 1.15])
        ax_s, ax_r, ax_h = (fig.add_subplot(grid[0, i]) for i in range(3))
        for ax, shown, column, scale, ylabel in (
            (ax_s, spiking, "spikes_per_activation", 1.0, "spikes per activation (count)"),
            (ax_r, salient, "salient_ratio", 100.0, "salient activations (%)"),
        ):
            if not shown:
                _note(ax, f"no design with {ylabel.split(' (')[0]}")
                continue
            x, width = _bar_positions(len(groups), len(shown))
            for di, design in enumerate(shown):
                values = [
                    scale * cells[(g, design)][column] if (g, design) in cells else np.nan
                    for g in groups
                ]
                ax.bar(x[:, di], values, width * 0.92, color=design_color(design), linewidth=0,
                       label=design)
            ax.set_xticks(np.arange(len(groups)), groups, rotation=60, ha="right",
                          rotation_mode="anchor")
            ax.set_xlabel(xlabel)
            ax.set_ylabel(ylabel)
            ax.legend(loc="lower left", bbox_to_anchor=(0.0, 1.0), ncol=2)
        _histogram(ax_h, spike_stats)
    return fig


def _spike_table(layers: pd.DataFrame) -> tuple[pd.DataFrame, list[str], str]:
    frame = layers.assign(
        activations=layers["tokens"].astype(float) * layers["k"].astype(float),
        salient_values=layers["salient_ratio"].astype(float)
        * layers["tokens"].astype(float)
        * layers["k"].astype(float),
    )
    table, groups, xlabel = _per_group(frame, ["spikes", "activations", "salient_values"])
    acts = table["activations"].replace(0, np.nan)
    table["spikes_per_activation"] = (table["spikes"] / acts).fillna(0.0)
    table["salient_ratio"] = (table["salient_values"] / acts).fillna(0.0)
    return table, groups, xlabel


HISTOGRAM_LINEAR_MAX = 128
"""Up to this |q| the histogram has one bin per integer; above, bins grow geometrically."""


def histogram_edges(max_q: int) -> np.ndarray:
    """Bin edges of the |q| histogram: one bin per integer up to :data:`HISTOGRAM_LINEAR_MAX`,
    then about 16 geometric bins per decade up to ``max_q`` (so 16-bit salient values stay
    readable on a log axis)."""
    top = max(int(max_q), 0) + 1
    if top <= HISTOGRAM_LINEAR_MAX:
        return np.arange(top + 1, dtype=float)
    decades = np.log10(top) - np.log10(HISTOGRAM_LINEAR_MAX)
    geo = np.geomspace(HISTOGRAM_LINEAR_MAX, top, max(2, int(np.ceil(16 * decades)) + 1))
    return np.unique(np.concatenate([np.arange(HISTOGRAM_LINEAR_MAX), np.round(geo)]))


def _histogram(ax: Axes, spike_stats: pd.DataFrame | None) -> None:
    if spike_stats is None or not len(spike_stats):
        _note(ax, "|q| histogram: no spike_stats.csv\nin this run directory")
        return
    hist = spike_stats.groupby("abs_q")[["normal_count", "salient_count"]].sum().sort_index()
    q = hist.index.to_numpy(dtype=float)
    edges = histogram_edges(int(q.max()))
    which = np.searchsorted(edges, q, side="right") - 1
    normal = np.bincount(which, hist["normal_count"].to_numpy(dtype=float), len(edges) - 1)
    total = normal + np.bincount(which, hist["salient_count"].to_numpy(dtype=float),
                                 len(edges) - 1)
    baseline = 0.5
    ax.stairs(np.maximum(total, baseline), edges - 0.5, baseline=baseline, fill=True,
              color=COMPONENT_COLORS["sram.salient"], label="salient")
    ax.stairs(np.maximum(normal, baseline), edges - 0.5, baseline=baseline, fill=True,
              color=design_color(reference_design()), label="normal")
    ax.set_yscale("log")
    ax.set_ylim(bottom=baseline)
    if edges[-1] > HISTOGRAM_LINEAR_MAX:
        ax.set_xscale("symlog", linthresh=16, linscale=0.6)
        ax.set_xlim(-0.5, edges[-1])
        ax.set_ylabel("activations per bin (count)")
    else:
        ax.set_xlim(-0.5, max(float(edges[-1]), 2.0) - 0.5)
        ax.set_ylabel("activations (count)")
    ax.set_xlabel("|q| (= spikes per value, count coding)")
    n_layers = spike_stats["layer"].nunique()
    handles, labels = ax.get_legend_handles_labels()
    ax.legend(handles[::-1], labels[::-1], loc="upper right",
              title=f"SpikeQuant, {n_layers} layer(s)", title_fontsize=7)


# --------------------------------------------------------------------------------------------
# (e) several run directories
# --------------------------------------------------------------------------------------------


def _run_totals(runs: Sequence[RunTables]) -> pd.DataFrame:
    rows = []
    for run in runs:
        sums = run.layers.groupby("design", sort=False)[["total_cycles", "energy_pj"]].sum()
        tot = _cells(sums.reset_index(), ["design"], ["total_cycles", "energy_pj"])
        ref = tot.get((reference_design(),))
        for (design,), r in tot.items():
            rows.append(
                {
                    "run": run.label,
                    "design": design,
                    "total_cycles": r["total_cycles"],
                    "energy_pj": r["energy_pj"],
                    "seconds": r["total_cycles"] / run.clock_hz if run.clock_hz > 0 else np.nan,
                    "energy_per_token_pj": r["energy_pj"] / max(1, run.tokens),
                    "energy_ratio": r["energy_pj"] / ref["energy_pj"] if ref else np.nan,
                    "cycles_ratio": r["total_cycles"] / ref["total_cycles"] if ref else np.nan,
                }
            )
    return pd.DataFrame(rows)


def _run_designs(runs: Sequence[RunTables]) -> list[str]:
    return list(dict.fromkeys(str(d) for run in runs for d in run.layers["design"]))


def compare_totals(runs: Sequence[RunTables]) -> Figure:
    """Across runs (e.g. two hardware configs): energy per token, latency, and energy and cycle
    ratios against SpikeQuant of the same run, per design (colour) and run (x group)."""
    totals = _run_totals(runs)
    labels = [run.label for run in runs]
    designs = _run_designs(runs)
    columns = ["energy_per_token_pj", "seconds", "energy_ratio", "cycles_ratio"]
    cells = _cells(totals, ["run", "design"], columns)
    with _style():
        fig = _new_figure(_WIDTH_IN, 4.4)
        axes = fig.subplots(2, 2)
        x, width = _bar_positions(len(labels), len(designs))
        panels = (
            (axes[0, 0], "energy_per_token_pj", 1 / _PJ_PER_NJ, "energy per token (nJ)", False),
            (axes[0, 1], "seconds", 1e3, "latency, all layers (ms)", False),
            (axes[1, 0], "energy_ratio", 1.0, "energy ÷ SpikeQuant (×)", True),
            (axes[1, 1], "cycles_ratio", 1.0, "cycles ÷ SpikeQuant (×)", True),
        )
        for ax, column, scale, ylabel, ratio in panels:
            values = np.full((len(labels), len(designs)), np.nan)
            for ri, run in enumerate(labels):
                for di, design in enumerate(designs):
                    if (run, design) in cells:
                        values[ri, di] = scale * cells[(run, design)][column]
            for di, design in enumerate(designs):
                ax.bar(x[:, di], values[:, di], width * 0.92, color=design_color(design),
                       linewidth=0)
            if ratio:
                if np.isfinite(values).any():
                    _ratio_axis(ax, values)
                else:
                    _note(ax, "no SpikeQuant in these runs")
            ax.set_xticks(np.arange(len(labels)), labels)
            ax.set_ylabel(ylabel)
        fig.legend(
            handles=_legend_handles([(d, design_color(d)) for d in designs]),
            loc="outside upper center",
            ncol=len(designs),
        )
    return fig


def compare_energy(runs: Sequence[RunTables]) -> Figure:
    """Across runs: total energy of each design stacked by component, runs side by side."""
    labels = [run.label for run in runs]
    designs = _run_designs(runs)
    tables = {
        run.label: _cells(
            energy_by_component_table(run.layers, run.actions)
            .groupby(["design", "component"])["energy_pj"]
            .sum()
            .reset_index(),
            ["design", "component"],
            ["energy_pj"],
        )
        for run in runs
    }
    comps: set[str] = set()
    for t in tables.values():
        comps.update(c for (_, c), v in t.items() if v["energy_pj"] > 0)
    components = sorted(comps, key=_component_sort_key)
    with _style():
        fig = _new_figure(_WIDTH_IN, 3.4)
        ax = fig.add_subplot()
        x, width = _bar_positions(len(labels), len(designs))
        for ri, label in enumerate(labels):
            for di, design in enumerate(designs):
                bottom = 0.0
                for comp in components:
                    cell = tables[label].get((design, comp), {})
                    value = cell.get("energy_pj", 0.0) / _PJ_PER_UJ
                    if value > 0:
                        ax.bar(x[ri, di], value, width * 0.92, bottom=bottom,
                               color=component_color(comp), linewidth=0)
                    bottom += value
        ax.set_ylabel("total energy (µJ)")
        ax.set_xlim(-0.5, len(labels) - 0.5)
        _label_bars(ax, x, designs, labels, "run")
        fig.legend(
            handles=_legend_handles([(component_label(c), component_color(c)) for c in components]),
            loc="outside upper center",
            ncol=min(len(components), 6),
        )
    return fig


def _decode_points(runs: Sequence[RunTables]) -> pd.DataFrame:
    """Per run with decode steps and design: batch, context, decode energy per generated token
    and seconds per step (:func:`spikesim.report.phases.phase_totals`)."""
    from spikesim.report.phases import phase_tokens, phase_totals, summary_count

    rows = []
    for run in runs:
        plan = run.phases
        if not isinstance(plan, Mapping):
            continue
        tokens = phase_tokens({"phases": plan}, run.tokens)
        if "decode" not in tokens:
            continue
        table = phase_totals(run.layers, run.clock_hz, tokens)
        for r in table[table["phase"] == "decode"].to_dict("records"):
            rows.append({"run": run.label, "design": r["design"],
                         "batch": summary_count(plan.get("batch"), 1),
                         "context": summary_count(plan.get("context")),
                         "energy_per_token_pj": r["energy_per_token_pj"],
                         "seconds_per_step": r["seconds_per_step"]})
    return pd.DataFrame(rows, columns=["run", "design", "batch", "context",
                                       "energy_per_token_pj", "seconds_per_step"])


def has_decode_series(runs: Sequence[RunTables]) -> bool:
    """Whether at least two of ``runs`` ran decode steps (the decode figure has a line)."""
    return _decode_points(runs)["run"].nunique() >= 2


_CONTEXT_STYLES: tuple[Literal["-", "--", ":", "-."], ...] = ("-", "--", ":", "-.")


def compare_decode(runs: Sequence[RunTables]) -> Figure:
    """Decode steps across runs: energy per generated token (left, log scale) and time per
    step (right) of each design (colour) against the runs' batch size, one line per context
    length (line style); against the context length when every run has the same batch."""
    points = _decode_points(runs)
    by_batch = points["batch"].nunique() > 1 or points["context"].nunique() == 1
    x_col, series_col = ("batch", "context") if by_batch else ("context", "batch")
    designs = list(dict.fromkeys(points["design"]))
    series = sorted(set(points[series_col]))
    with _style():
        fig = _new_figure(_WIDTH_IN, 3.0)
        axes = fig.subplots(1, 2)
        panels = ((axes[0], "energy_per_token_pj", 1 / _PJ_PER_NJ,
                   "energy per generated token (nJ)"),
                  (axes[1], "seconds_per_step", 1e3, "time per decode step (ms)"))
        for ax, column, scale, ylabel in panels:
            for design in designs:
                for si, value in enumerate(series):
                    part = points[(points["design"] == design) & (points[series_col] == value)]
                    part = part.sort_values(x_col)
                    ax.plot(part[x_col], scale * part[column].astype(float),
                            _CONTEXT_STYLES[si % len(_CONTEXT_STYLES)], marker="o",
                            markersize=3, color=design_color(design), linewidth=1.0)
            ax.set_xscale("log", base=2)
            ax.set_yscale("log")
            ax.set_xlabel("batch (sequences)" if x_col == "batch" else "context (tokens)")
            ax.set_ylabel(ylabel)
            ax.grid(True, which="major", axis="both")
        handles = _legend_handles([(d, design_color(d)) for d in designs])
        if len(series) > 1:
            from matplotlib.lines import Line2D

            handles += [Line2D([], [], color="#555555", linestyle=_CONTEXT_STYLES[i % 4],
                               label=f"{series_col} {v}") for i, v in enumerate(series)]
        fig.legend(handles=handles, loc="outside upper center", ncol=min(len(handles), 6))
    return fig


# --------------------------------------------------------------------------------------------
# Which figures a run (or a comparison) has
# --------------------------------------------------------------------------------------------


@dataclass(frozen=True)
class FigureSpec:
    """A figure's file stem and its caption in the report."""

    name: str
    caption: str


def run_figure_specs(layers: pd.DataFrame) -> list[FigureSpec]:
    """The figures of one run, in report order (a pure function of ``layers.csv``)."""
    designs = set(layers["design"])
    specs = [
        FigureSpec(
            "energy_by_component",
            "Energy per layer by component (µJ), designs side by side; right: all layers.",
        )
    ]
    if reference_design() in designs and len(designs) > 1:
        specs.append(
            FigureSpec(
                "ratios_vs_spikequant",
                "Energy and cycles of each baseline ÷ SpikeQuant, per layer and in total "
                "(log scale; above 1: SpikeQuant uses less).",
            )
        )
    specs += [
        FigureSpec(
            "cycle_breakdown",
            "Cycles per layer: compute and each stall cause (top); utilisation (bottom).",
        ),
        FigureSpec(
            "spike_statistics",
            "Spikes per activation and salient ratio per layer; histogram of |q| over all "
            "layers (SpikeQuant quantization, normal and salient values).",
        ),
    ]
    return specs


def run_figures(tables: RunTables) -> dict[str, Figure]:
    """Every figure of one run (:func:`run_figure_specs` order), by file stem."""
    drawers = {
        "energy_by_component": lambda: energy_by_component(tables.layers, tables.actions),
        "ratios_vs_spikequant": lambda: ratios_vs_spikequant(tables.layers),
        "cycle_breakdown": lambda: cycle_breakdown(tables.layers),
        "spike_statistics": lambda: spike_statistics(tables.layers, tables.spike_stats),
    }
    return {spec.name: drawers[spec.name]() for spec in run_figure_specs(tables.layers)}


def compare_specs(decode: bool = False) -> list[FigureSpec]:
    """The figures of a comparison of several runs (``decode``: at least two of them ran
    decode steps, :func:`has_decode_series`)."""
    specs = [
        FigureSpec(
            "compare_totals",
            "Per run and design: energy per token, latency, and energy and cycles ÷ SpikeQuant "
            "of the same run.",
        ),
        FigureSpec("compare_energy", "Per run and design: total energy by component (µJ)."),
    ]
    if decode:
        specs.append(FigureSpec(
            "compare_decode",
            "Decode: energy per generated token (nJ) and time per step (ms) of each design "
            "against the runs' batch size (or their context length when the batch is the same), "
            "one line per design and context.",
        ))
    return specs


def compare_figures(runs: Sequence[RunTables]) -> dict[str, Figure]:
    """Every figure of a comparison of ``runs`` (labels must be unique), by file stem."""
    labels = [run.label for run in runs]
    if len(set(labels)) != len(labels):
        raise ValueError(f"run labels must be unique, got {labels}")
    figures = {"compare_totals": compare_totals(runs), "compare_energy": compare_energy(runs)}
    if has_decode_series(runs):
        figures["compare_decode"] = compare_decode(runs)
    return figures

