"""Pareto-optimal points of a sweep over energy, cycles and area, and the front figure.

Choice (documented in README): the front is taken over the ``TOTAL`` rows of successful points
**across designs** (column ``pareto``): a SpikeQuant configuration and a MAC baseline compete on
the same axes, which is the question a design-space exploration asks. The front **within each
design** is given too (column ``pareto_design``), so each baseline's best configurations can be
compared with SpikeQuant's. All objectives are minimised. A point is dominated when another is
no worse in every objective and better in at least one; equal points do not dominate each other
(both stay on the front).

A sweep with workload axes (``workload.batch`` …) has a front **per workload**: points compete
only with points of the same workload values (a batch of 64 costs more energy than a batch of
one on any hardware; compare per token with ``decode_energy_per_token_pj``).
"""

from __future__ import annotations

from collections.abc import Callable, Sequence
from pathlib import Path
from typing import IO, Any

import numpy as np
import pandas as pd
from numpy.typing import NDArray

from spikesim.fsutil import atomic_write_file

OBJECTIVES = ("energy_pj", "total_cycles", "area_mm2")
"""Minimised objectives, columns of the TOTAL rows."""


def pareto_mask(values: NDArray[np.floating] | Sequence[Sequence[float]]) -> NDArray[np.bool_]:
    """Boolean mask of the non-dominated rows of ``values`` (n points × k objectives, minimised).

    Row i is dominated iff some row j has ``values[j] <= values[i]`` in every objective and
    ``values[j] < values[i]`` in at least one. Vectorised in blocks (O(n² k) comparisons, bounded
    memory); the rows are first sorted lexicographically so that every dominator of a row comes
    before it, then each block is compared only against the current front candidates.
    """
    v: NDArray[np.float64] = np.asarray(values, dtype=np.float64)
    if v.ndim != 2:
        raise ValueError(f"values must be 2-D (points × objectives), got shape {v.shape}")
    n = v.shape[0]
    if n == 0:
        return np.zeros(0, dtype=bool)
    if np.isnan(v).any():
        raise ValueError("values contain NaN")
    order = np.lexsort(v.T[::-1])  # by first objective, then second, ...
    s: NDArray[np.float64] = v[order]
    keep = np.ones(n, dtype=bool)
    block = 512
    for lo in range(0, n, block):
        hi = min(n, lo + block)
        cand = s[:hi][keep[:hi]]  # a dominator sorts before (or equal to) what it dominates
        chunk = s[lo:hi]
        le = np.all(cand[None, :, :] <= chunk[:, None, :], axis=2)
        lt = np.any(cand[None, :, :] < chunk[:, None, :], axis=2)
        keep[lo:hi] &= ~np.any(le & lt, axis=1)
    mask = np.empty(n, dtype=bool)
    mask[order] = keep
    return mask


def totals(results: pd.DataFrame) -> pd.DataFrame:
    """The successful ``TOTAL`` rows (one per point and design)."""
    ok = (results["layer"] == "TOTAL") & (results["error"].fillna("") == "")
    out = results[ok].copy()
    return out.dropna(subset=list(OBJECTIVES)).reset_index(drop=True)


def workload_columns(results: pd.DataFrame) -> list[str]:
    """The workload axis columns of a results table (``workload.batch`` …), in its order."""
    from spikesim.dse.spec import is_workload_path

    return [c for c in results.columns if isinstance(c, str) and is_workload_path(c)]


def pareto_front(
    results: pd.DataFrame, objectives: Sequence[str] = OBJECTIVES,
    groups: Sequence[str] | None = None,
) -> pd.DataFrame:
    """TOTAL rows with ``pareto`` (front across designs) and ``pareto_design`` (within design),
    each within every combination of the ``groups`` columns (default: the workload axis
    columns, :func:`workload_columns`; none in a sweep without workload axes)."""
    tot = totals(results)
    cols = list(objectives)
    keys = workload_columns(tot) if groups is None else list(groups)
    tot["pareto"] = False
    tot["pareto_design"] = False
    if not len(tot):
        return tot
    groups_of = (tot.groupby(keys, sort=False, dropna=False).ngroup().to_numpy() if keys
                 else np.zeros(len(tot), dtype=np.int64))
    parts = [tot.index[groups_of == g] for g in dict.fromkeys(groups_of.tolist())]
    for part in parts:
        tot.loc[part, "pareto"] = pareto_mask(tot.loc[part, cols].to_numpy(np.float64))
        of_part = tot.loc[part]
        for _, idx in of_part.groupby("design", sort=False).groups.items():
            sub = tot.loc[idx, cols].to_numpy(np.float64)
            tot.loc[idx, "pareto_design"] = pareto_mask(sub)
    return tot


def front_table(front: pd.DataFrame, axes: Sequence[str]) -> str:
    """The across-design front as an aligned text table (one line per point; points of one
    design with the same objectives and the same axis values shown are listed once)."""
    rows = front[front["pareto"]].sort_values([*workload_columns(front), *OBJECTIVES],
                                              kind="stable")
    shown = ["design", *[a for a in axes if a in rows.columns], *OBJECTIVES]
    rows = rows.loc[~rows[shown].astype(str).duplicated()]
    headers = ["design", *axes, "energy_pj", "total_cycles", "area_mm2"]
    body: list[list[str]] = []
    for _, r in rows.iterrows():
        line = [str(r["design"])]
        line += ["" if pd.isna(r.get(a)) else str(r.get(a)) for a in axes]
        line += [f"{r['energy_pj']:.4g}", f"{int(r['total_cycles'])}", f"{r['area_mm2']:.3f}"]
        body.append(line)
    widths = [max(len(h), *(len(b[i]) for b in body)) if body else len(h)
              for i, h in enumerate(headers)]
    lines = ["  ".join(h.ljust(w) for h, w in zip(headers, widths, strict=True))]
    lines += ["  ".join(c.ljust(w) for c, w in zip(b, widths, strict=True)) for b in body]
    return "\n".join(lines) + "\n"


def _front_2d(x: NDArray[np.float64], y: NDArray[np.float64]) -> NDArray[np.int64]:
    """Indices of the 2-D non-dominated points, sorted by x (for the staircase line)."""
    mask = pareto_mask(np.column_stack([x, y]))
    idx = np.flatnonzero(mask)
    return idx[np.argsort(x[idx], kind="stable")]


_UNITS = {
    "energy_pj": ("energy", [(1.0, "pJ"), (1e3, "nJ"), (1e6, "µJ"), (1e9, "mJ"), (1e12, "J")]),
    "total_cycles": ("cycles", [(1.0, ""), (1e3, "thousands"), (1e6, "millions"),
                                (1e9, "billions")]),
    "area_mm2": ("area", [(1.0, "mm²")]),
}
"""Per objective: its label and the units it may be shown in (factor, unit name)."""


def display_unit(column: str, values: pd.Series) -> tuple[float, str]:
    """The factor to divide ``values`` by and the axis label: the largest unit in which the
    median is at least 1 (energies in pJ … J, cycles in thousands … billions), so axes carry
    plain numbers and no ``1e9`` offset."""
    name, units = _UNITS[column]
    v = values.to_numpy(np.float64)
    v = v[np.isfinite(v) & (v > 0)]
    median = float(np.median(v)) if len(v) else 1.0
    factor, unit = units[0]
    for f, u in units:
        if median >= f:
            factor, unit = f, u
    return factor, f"{name} ({unit})" if unit else name


def _scale(axis: Any, values: pd.Series, set_scale: Any) -> None:
    """Log scale when the values span more than a factor 8; plain numbers, no offset."""
    from matplotlib.ticker import FuncFormatter, NullFormatter

    v = values.to_numpy(np.float64)
    v = v[v > 0]
    if len(v) and v.max() / v.min() > 8:
        set_scale("log")
        axis.set_major_formatter(FuncFormatter(lambda x, _pos: f"{x:g}"))
        axis.set_minor_formatter(NullFormatter())
    else:
        axis.get_major_formatter().set_useOffset(False)


def figure_stem(results_dir: str | Path) -> Path:
    """``runs/results.parquet`` → ``runs/results-pareto`` (the figure files get .png / .pdf)."""
    p = Path(results_dir)
    return p.parent / f"{p.name.removesuffix('.parquet')}-pareto"


def draw_front(front: pd.DataFrame, stem: str | Path) -> list[Path]:
    """Three 2-D projections (energy–cycles, energy–area, cycles–area) to ``stem``.png/.pdf.

    Every point is drawn, coloured by design (SpikeQuant against the MAC baselines); each design's
    2-D front in that projection is a staircase line; the 3-objective front across designs is
    circled. Uses a standalone :class:`matplotlib.figure.Figure` (no pyplot, no global state).
    """
    from matplotlib.figure import Figure

    from spikesim.report.figures import design_color

    stem = Path(stem)
    pairs = [("total_cycles", "energy_pj"), ("area_mm2", "energy_pj"), ("area_mm2", "total_cycles")]
    fig = Figure(figsize=(13.5, 4.2), layout="constrained")
    axes = fig.subplots(1, 3)
    designs = list(dict.fromkeys(front["design"]))
    markers = ["o", "s", "^", "D", "v", "P", "X"]
    units = {c: display_unit(c, front[c]) for c in OBJECTIVES}
    for ax, (xc, yc) in zip(axes, pairs, strict=True):
        (fx, xlabel), (fy, ylabel) = units[xc], units[yc]
        for i, design in enumerate(designs):
            sub = front[front["design"] == design]
            x = sub[xc].to_numpy(np.float64) / fx
            y = sub[yc].to_numpy(np.float64) / fy
            color = design_color(design)
            ax.scatter(x, y, s=14, alpha=0.55, color=color, marker=markers[i % len(markers)],
                       label=design)
            if len(sub):
                idx = _front_2d(x, y)
                ax.step(x[idx], y[idx], where="post", color=color, linewidth=1.2)
        on = front[front["pareto"]]
        ax.scatter(on[xc] / fx, on[yc] / fy, s=60, facecolors="none", edgecolors="black",
                   linewidths=0.8, label="Pareto (all 3 objectives)")
        _scale(ax.xaxis, front[xc], ax.set_xscale)
        _scale(ax.yaxis, front[yc], ax.set_yscale)
        ax.set_xlabel(xlabel)
        ax.set_ylabel(ylabel)
        ax.grid(True, which="both", alpha=0.25)
    axes[0].legend(fontsize=8, loc="best")
    fig.suptitle("Sweep: every point (TOTAL over layers); lines: each design's 2-D front")
    stem.parent.mkdir(parents=True, exist_ok=True)
    paths = [stem.with_suffix(".png"), stem.with_suffix(".pdf")]
    for path in paths:  # each file whole or not at all, whatever stops the drawing
        atomic_write_file(path, _saver(fig, path.suffix.lstrip(".")))
    return paths


def _saver(fig: Any, fmt: str) -> Callable[[IO[bytes]], None]:
    def save(fh: IO[bytes]) -> None:
        fig.savefig(fh, format=fmt, dpi=150)

    return save
