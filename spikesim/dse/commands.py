"""The ``sweep`` and ``pareto`` commands (shared by ``spikesim`` and ``python -m spikesim.dse``)."""

from __future__ import annotations

import argparse
import sys
from pathlib import Path

from spikesim.errors import InputError


def add_sweep_arguments(p: argparse.ArgumentParser) -> None:
    p.add_argument("spec", metavar="SWEEP.yaml", help="sweep specification (top-level 'axes')")
    p.add_argument("--trace", required=True, metavar="DIR", help="trace directory")
    p.add_argument(
        "--out",
        required=True,
        metavar="RESULTS.parquet",
        help="results dataset (a directory of Parquet parts); an interrupted sweep resumes",
    )
    p.add_argument(
        "--workers", type=int, default=1, metavar="N", help="local worker processes (default 1)"
    )
    p.add_argument(
        "--scheduler",
        default=None,
        metavar="tcp://HOST:PORT",
        help="run on this Dask distributed scheduler instead (needs spikesim[dist])",
    )
    p.add_argument("--quiet", action="store_true", help="no progress bar and no Pareto table")


def add_pareto_arguments(p: argparse.ArgumentParser) -> None:
    p.add_argument("results", metavar="RESULTS.parquet", help="results dataset of a sweep")


def pareto_report(results_dir: str | Path, *, quiet: bool = False) -> list[Path]:
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
        print(
            f"Pareto front over energy_pj, total_cycles, area_mm2 (TOTAL rows, across designs): "
            f"{n} of {len(front)} point(s)"
        )
        print(front_table(front, axes), end="")
        print(f"figure: {paths[0]} and {paths[1].name}")
    return paths


def sweep_main(args: argparse.Namespace) -> int:
    from spikesim.dse.runner import run_sweep

    summary = run_sweep(
        args.spec,
        args.trace,
        args.out,
        workers=args.workers,
        scheduler=args.scheduler,
        progress=not args.quiet and sys.stderr.isatty(),
    )
    print(summary.text())
    pareto_report(summary.out, quiet=args.quiet)
    return 0


def pareto_main(args: argparse.Namespace) -> int:
    pareto_report(args.results)
    return 0


def main(argv: list[str] | None = None) -> int:
    """``python -m spikesim.dse SWEEP.yaml --trace T --out R`` (same as ``spikesim sweep``)."""
    parser = argparse.ArgumentParser(prog="python -m spikesim.dse", description=__doc__)
    add_sweep_arguments(parser)
    args = parser.parse_args(argv)
    try:
        return sweep_main(args)
    except InputError as exc:
        print(f"error: {exc.one_line()}", file=sys.stderr)
        return 2
    except KeyboardInterrupt:
        print("error: interrupted", file=sys.stderr)
        return 130
