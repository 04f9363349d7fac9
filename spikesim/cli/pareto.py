"""``spikesim pareto``: print the Pareto-optimal points of a sweep and draw the front."""

from __future__ import annotations

import argparse
from pathlib import Path

from spikesim.cli.common import EXIT_OK

NAME = "pareto"
HELP = "print the Pareto-optimal points of a sweep and draw the front"
DESCRIPTION = (
    "Print the Pareto-optimal points (energy_pj, total_cycles, area_mm2 of the TOTAL "
    "rows, across designs; per workload when the sweep has workload axes) of a sweep's "
    "results and draw the front (PNG and PDF next to the results: RESULTS-pareto.png/.pdf)."
)


def add_arguments(p: argparse.ArgumentParser) -> None:
    p.add_argument("results", metavar="RESULTS.parquet", help="results dataset of a sweep")


def run(args: argparse.Namespace) -> int:
    from spikesim.fsutil import interruptible

    with interruptible():  # an interrupted drawing leaves the previous figures whole
        show_front(args.results)
    return EXIT_OK


def show_front(results_dir: str | Path, *, quiet: bool = False) -> list[Path]:
    """Print the Pareto front of a results dataset and draw it next to it (PNG and PDF)."""
    from spikesim.dse.pareto import draw_front, figure_stem, front_table, pareto_front
    from spikesim.dse.store import read_meta, read_results

    meta = read_meta(results_dir)
    results = read_results(results_dir)
    front = pareto_front(results)
    axes = list(meta.get("axes", []))
    if front.empty:
        if not quiet:
            print(f"no successful points in {results_dir}: no Pareto front")
        return []
    paths = draw_front(front, figure_stem(results_dir))
    if not quiet:
        n = int(front["pareto"].sum())
        per = ("across designs, per workload"
               if any(str(c).startswith("workload.") for c in front.columns)
               else "across designs")
        print(
            f"Pareto front over energy_pj, total_cycles, area_mm2 (TOTAL rows, {per}): "
            f"{n} of {len(front)} point(s)"
        )
        print(front_table(front, axes), end="")
        print(f"figure: {paths[0]} and {paths[1].name}")
    return paths
