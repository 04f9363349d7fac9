"""``spikesim report``: redraw report.md and figures of run directories; compare several."""

from __future__ import annotations

import argparse
from pathlib import Path

from spikesim.cli.common import EXIT_OK
from spikesim.errors import InputError

NAME = "report"
HELP = "redraw report.md and figures of run directories; compare several"
DESCRIPTION = (
    "Regenerate RUN_DIR/report.md and RUN_DIR/figures/ (PNG and PDF) from RUN_DIR's "
    "tables only (layers.csv, actions.csv, spike_stats.csv, summary.json). With several "
    "run directories (e.g. two hardware configs), also write a combined comparison "
    "(compare.md, compare.json, figures/) into --out."
)


def add_arguments(p: argparse.ArgumentParser) -> None:
    p.add_argument(
        "run_dir",
        metavar="RUN_DIR",
        nargs="+",
        help="run directories written by simulate/demo",
    )
    p.add_argument(
        "--out",
        default=None,
        metavar="DIR",
        help="where the comparison of several run directories goes (default FIRST_RUN_DIR/compare;"
        " replaced atomically if it is a comparison already)",
    )


def run(args: argparse.Namespace) -> int:
    from spikesim.fsutil import interruptible
    from spikesim.report.rundir import check_compare_target, write_comparison, write_report

    run_dirs = [Path(d) for d in dict.fromkeys(args.run_dir)]
    if args.out is not None and len(run_dirs) < 2:
        raise InputError("--out is for comparing several run directories", field="--out")
    out = None
    if len(run_dirs) > 1:
        out = check_compare_target(args.out if args.out is not None else run_dirs[0] / "compare")
    with interruptible():  # SIGTERM too: staging removed, reports left as they were
        for run_dir in run_dirs:
            path = write_report(run_dir)
            print(f"wrote {path} and {run_dir / 'figures'}/")
        if out is not None:
            print(f"wrote {write_comparison(run_dirs, out)} and {out / 'figures'}/")
    return EXIT_OK
